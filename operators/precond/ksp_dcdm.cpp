// The PETSc Krylov type "dcdm": the Deep Conjugate Direction Method's iteration (Kaneda et al.,
// ICML 2023; the reference code's lib/conjugate_gradient.py, dcdm), with the KSP's PC as the
// direction map q = f(r/‖r‖). A full KSP type (PETSc's private kspimpl.h, as PETSc's own
// solvers do) so -ksp_type dcdm drives it from options with any -pc_type, monitors, tolerances
// and convergence tests.
//
// One iteration, x the iterate, r = b − A x, p₁ and p₀ the last two directions:
//   q  = f(r / ‖r‖)                                  (one PC application)
//   q ← q − p₁ (qᵀAp₁)/(p₁ᵀAp₁) − p₀ (qᵀAp₀)/(p₀ᵀAp₀)  (A-orthogonal to the last two only)
//   x ← x + q (qᵀr)/(qᵀAq)                           (exact line search in the A-norm)
//   r  = b − A x                                     (recomputed, not updated: f is nonlinear)
// Two products with A per iteration (A q and A x), as in the paper. With f the identity this is
// CG in exact arithmetic (r is then A-orthogonal to every direction but the last, so the second
// projection removes nothing); with f = c A⁻¹ the first direction is c A⁻¹ r₀ and one step solves.
// Safeguard (-ksp_dcdm_restart_tol t, default 0: off): when the orthogonalised q has lost its
// correlation with r, |qᵀr| < t ‖q‖ ‖r‖ (a nonlinear map's direction can be nearly orthogonal to r,
// and the line search then stalls), the iteration restarts: the history is dropped and q = r, a
// steepest-descent step. A symmetric positive definite linear map never triggers it in exact
// arithmetic (qᵀr = rᵀ M r > 0 after the projections).
#include <petsc/private/kspimpl.h>

#include <cmath>
#include <utility>

#include "operators/precond/dcdm.hpp"
#include "petsc/check.hpp"

namespace karman::precond {
namespace {

// Work vectors, in ksp->work order (the direction slots trade places every iteration).
enum Work { kResidual, kNormalised, kDirection, kAq, kLast, kLastAp, kBeforeLast, kBeforeLastAp };
constexpr PetscInt kWorkCount = 8;

struct DcdmData {
  PetscReal restart_tol = 0.0;  // -ksp_dcdm_restart_tol
  PetscInt restarts = 0;        // of the last solve
};

// A (the operator, not the PC's matrix) must be symmetric for A-orthogonality to mean anything.
// Checked for assembled AIJ matrices only (a shell cannot be inspected cheaply); the tolerance is
// relative to ‖A‖∞.
PetscErrorCode require_symmetric_operator(KSP ksp) {
  Mat a = nullptr;
  PetscCall(PCGetOperators(ksp->pc, &a, nullptr));
  PetscBool aij = PETSC_FALSE;
  PetscCall(PetscObjectBaseTypeCompareAny(reinterpret_cast<PetscObject>(a), &aij, MATSEQAIJ,
                                          MATMPIAIJ, ""));
  if (!aij) return 0;
  PetscReal scale = 0.0;
  PetscCall(MatNorm(a, NORM_INFINITY, &scale));
  PetscBool symmetric = PETSC_FALSE;
  PetscCall(MatIsSymmetric(a, 1e-12 * scale, &symmetric));
  PetscCheck(symmetric, PetscObjectComm(reinterpret_cast<PetscObject>(ksp)), PETSC_ERR_ARG_WRONG,
             "KSP dcdm: the matrix is not symmetric (A-orthogonal directions need A = A^T)");
  return 0;
}

PetscErrorCode setup(KSP ksp) {
  PetscCall(KSPSetWorkVecs(ksp, kWorkCount));
  PetscCall(require_symmetric_operator(ksp));
  // Read here rather than in KSPSetFromOptions so PETSC_OPTIONS reaches solvers that never call
  // it (timed_solve).
  auto* data = static_cast<DcdmData*>(ksp->data);
  const char* prefix = nullptr;
  PetscCall(KSPGetOptionsPrefix(ksp, &prefix));
  PetscCall(
      PetscOptionsGetReal(nullptr, prefix, "-ksp_dcdm_restart_tol", &data->restart_tol, nullptr));
  return 0;
}

// The safeguard: q ← r and no history when |qᵀr| < tol ‖q‖ ‖r‖ (tol 0: never).
PetscErrorCode restart_if_uncorrelated(KSP ksp, Vec q, Vec r, PetscReal r_norm, PetscReal& p1_ap1,
                                       PetscReal& p0_ap0) {
  auto* data = static_cast<DcdmData*>(ksp->data);
  if (data->restart_tol <= 0.0) return 0;
  PetscScalar q_r = 0.0;
  PetscReal q_norm = 0.0;
  PetscCall(VecDot(q, r, &q_r));
  PetscCall(VecNorm(q, NORM_2, &q_norm));
  // |qᵀr|: the map's sign is free (the loss is invariant under q → c q, c < 0 included).
  if (std::abs(PetscRealPart(q_r)) >= data->restart_tol * q_norm * r_norm) return 0;
  PetscCall(VecCopy(r, q));
  p1_ap1 = p0_ap0 = 0.0;
  ++data->restarts;
  PetscCall(PetscInfo(ksp, "restart %" PetscInt_FMT ": |q^T r| below %g |q| |r|\n", data->restarts,
                      static_cast<double>(data->restart_tol)));
  return 0;
}

// Records ‖r‖ after `its` iterations, monitors, and asks the convergence test.
PetscErrorCode report_residual(KSP ksp, PetscInt its, PetscReal norm) {
  PetscCall(PetscObjectSAWsTakeAccess(reinterpret_cast<PetscObject>(ksp)));
  ksp->its = its;
  ksp->rnorm = norm;
  PetscCall(PetscObjectSAWsGrantAccess(reinterpret_cast<PetscObject>(ksp)));
  PetscCall(KSPLogResidualHistory(ksp, norm));
  PetscCall(KSPMonitor(ksp, its, norm));
  PetscCall((*ksp->converged)(ksp, its, norm, &ksp->reason, ksp->cnvP));
  return 0;
}

// r = b − A x.
PetscErrorCode residual(Mat a, Vec b, Vec x, Vec r) {
  PetscCall(MatMult(a, x, r));
  PetscCall(VecAYPX(r, -1.0, b));
  return 0;
}

// q ← q − p (qᵀAp)/(pᵀAp); nothing for p = 0 (the first iterations).
PetscErrorCode a_orthogonalise(Vec q, Vec p, Vec ap, PetscReal p_ap) {
  if (p_ap <= 0.0) return 0;
  PetscScalar q_ap = 0.0;
  PetscCall(VecDot(q, ap, &q_ap));
  PetscCall(VecAXPY(q, -q_ap / p_ap, p));
  return 0;
}

PetscErrorCode solve(KSP ksp) {
  Mat a = nullptr;
  PetscCall(PCGetOperators(ksp->pc, &a, nullptr));
  MatNullSpace null_space = nullptr;
  PetscCall(MatGetNullSpace(a, &null_space));
  Vec x = ksp->vec_sol, b = ksp->vec_rhs;
  Vec r = ksp->work[kResidual], normalised = ksp->work[kNormalised];
  Vec q = ksp->work[kDirection], aq = ksp->work[kAq];
  // The last two directions and their products with A; pᵀAp = 0 marks "none yet".
  Vec p1 = ksp->work[kLast], ap1 = ksp->work[kLastAp];
  Vec p0 = ksp->work[kBeforeLast], ap0 = ksp->work[kBeforeLastAp];
  PetscReal p1_ap1 = 0.0, p0_ap0 = 0.0;
  static_cast<DcdmData*>(ksp->data)->restarts = 0;

  if (ksp->guess_zero) {
    PetscCall(VecSet(x, 0.0));
    PetscCall(VecCopy(b, r));
  } else {
    PetscCall(residual(a, b, x, r));
  }
  PetscReal norm = 0.0;
  PetscCall(VecNorm(r, NORM_2, &norm));
  KSPCheckNorm(ksp, norm);
  ksp->reason = KSP_CONVERGED_ITERATING;
  PetscCall(report_residual(ksp, 0, norm));
  for (PetscInt its = 1; !ksp->reason && its <= ksp->max_it; ++its) {
    PetscCall(VecAXPBY(normalised, 1.0 / norm, 0.0, r));
    PetscCall(PCApply(ksp->pc, normalised, q));
    if (null_space) PetscCall(MatNullSpaceRemove(null_space, q));
    PetscCall(a_orthogonalise(q, p1, ap1, p1_ap1));
    PetscCall(a_orthogonalise(q, p0, ap0, p0_ap0));
    PetscCall(restart_if_uncorrelated(ksp, q, r, norm, p1_ap1, p0_ap0));
    PetscCall(MatMult(a, q, aq));
    PetscScalar q_aq = 0.0, q_r = 0.0;
    PetscCall(VecDotBegin(q, aq, &q_aq));
    PetscCall(VecDotBegin(q, r, &q_r));
    PetscCall(VecDotEnd(q, aq, &q_aq));
    PetscCall(VecDotEnd(q, r, &q_r));
    if (!(PetscRealPart(q_aq) > 0.0)) {
      // q = 0 (the map returned nothing new) or A is not positive definite along q.
      ksp->reason =
          PetscRealPart(q_aq) == 0.0 ? KSP_DIVERGED_BREAKDOWN : KSP_DIVERGED_INDEFINITE_MAT;
      break;
    }
    PetscCall(VecAXPY(x, q_r / q_aq, q));
    // Shift the history: p₀ ← p₁, p₁ ← q (by swapping the vectors, no copies).
    std::swap(p0, p1);
    std::swap(ap0, ap1);
    std::swap(p1, q);
    std::swap(ap1, aq);
    p0_ap0 = p1_ap1;
    p1_ap1 = PetscRealPart(q_aq);
    PetscCall(residual(a, b, x, r));
    PetscCall(VecNorm(r, NORM_2, &norm));
    KSPCheckNorm(ksp, norm);
    PetscCall(report_residual(ksp, its, norm));
  }
  if (!ksp->reason) ksp->reason = KSP_DIVERGED_ITS;
  const PetscInt restarts = static_cast<DcdmData*>(ksp->data)->restarts;
  if (restarts) PetscCall(PetscInfo(ksp, "%" PetscInt_FMT " restarts\n", restarts));
  return 0;
}

PetscErrorCode destroy(KSP ksp) {
  delete static_cast<DcdmData*>(ksp->data);
  ksp->data = nullptr;
  PetscCall(KSPDestroyDefault(ksp));
  return 0;
}

PetscErrorCode view(KSP, PetscViewer viewer) {
  PetscBool ascii = PETSC_FALSE;
  PetscCall(
      PetscObjectTypeCompare(reinterpret_cast<PetscObject>(viewer), PETSCVIEWERASCII, &ascii));
  if (ascii)
    PetscCall(PetscViewerASCIIPrintf(
        viewer, "  directions q = PC(r/|r|), A-orthogonal to the last two; r = b - A x\n"));
  return 0;
}

PetscErrorCode create(KSP ksp) {
  // Only the true residual exists here (the PC output has no norm of meaning: it is a direction).
  PetscCall(KSPSetSupportedNorm(ksp, KSP_NORM_UNPRECONDITIONED, PC_LEFT, 3));
  ksp->data = new DcdmData;
  ksp->ops->setup = setup;
  ksp->ops->solve = solve;
  ksp->ops->destroy = destroy;
  ksp->ops->view = view;
  ksp->ops->buildsolution = KSPBuildSolutionDefault;
  ksp->ops->buildresidual = KSPBuildResidualDefault;
  return 0;
}

}  // namespace

void register_dcdm_ksp() {
  static bool registered = false;
  if (registered) return;
  KARMAN_PETSC(KSPRegister("dcdm", create));
  registered = true;
}

}  // namespace karman::precond
