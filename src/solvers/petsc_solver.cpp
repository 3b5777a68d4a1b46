#include "petsc_solver.hpp"

#include <algorithm>
#include <cmath>

#include "../petsc/check.hpp"
#include "../petsc/ksp.hpp"
#include "karman/pde/equations.hpp"

namespace karman::solvers::detail {

void prefer_mumps(KSP ksp) {
#if defined(PETSC_HAVE_MUMPS)
  PC pc;
  PetscBool direct, chosen;
  KARMAN_PETSC(KSPGetPC(ksp, &pc));
  KARMAN_PETSC(
      PetscObjectTypeCompareAny(reinterpret_cast<PetscObject>(pc), &direct, PCLU, PCCHOLESKY, ""));
  KARMAN_PETSC(PetscOptionsHasName(nullptr, nullptr, "-pc_factor_mat_solver_type", &chosen));
  if (direct && !chosen) KARMAN_PETSC(PCFactorSetMatSolverType(pc, MATSOLVERMUMPS));
#else
  (void)ksp;
#endif
}

void record_ksp(KSP ksp, SolveStats& stats) {
  PC pc;
  KSPType ksp_type;
  PCType pc_type;
  KSPConvergedReason reason;
  PetscReal residual;
  KARMAN_PETSC(KSPGetPC(ksp, &pc));
  KARMAN_PETSC(KSPGetType(ksp, &ksp_type));
  KARMAN_PETSC(PCGetType(pc, &pc_type));
  KARMAN_PETSC(KSPGetConvergedReason(ksp, &reason));
  KARMAN_PETSC(KSPGetResidualNorm(ksp, &residual));
  stats.ksp = ksp_type;
  stats.pc = pc_type;
  stats.residual_norm = residual;
  stats.converged = reason > 0;
  stats.reason = KSPConvergedReasons[reason];
}

void set_ts_scheme(TS ts, const std::string& scheme) {
  if (scheme == "cn") {
    KARMAN_PETSC(TSSetType(ts, TSCN));
  } else if (scheme == "bdf2") {
    KARMAN_PETSC(TSSetType(ts, TSBDF));
    KARMAN_PETSC(TSBDFSetOrder(ts, 2));
    // TSBDF adapts its step by default; the snapshot loops need the fixed steps they set
    // (with adaptation the run stops at the step limit short of the snapshot time).
    TSAdapt adapt;
    KARMAN_PETSC(TSGetAdapt(ts, &adapt));
    KARMAN_PETSC(TSAdaptSetType(adapt, TSADAPTNONE));
  } else if (scheme == "rosw") {
    // Rosenbrock-W RA34PW2: third order, L-stable, linearly implicit (one linear solve per stage,
    // no Newton). Unlike Crank–Nicolson it damps the stiff diffusive modes, so a smooth decaying
    // solution is accurate at a large step. Fixed steps, as for BDF2.
    KARMAN_PETSC(TSSetType(ts, TSROSW));
    KARMAN_PETSC(TSRosWSetType(ts, TSROSWRA34PW2));
    TSAdapt adapt;
    KARMAN_PETSC(TSGetAdapt(ts, &adapt));
    KARMAN_PETSC(TSAdaptSetType(adapt, TSADAPTNONE));
  } else {
    KARMAN_PETSC(TSSetType(ts, TSBEULER));
  }
}

bool advance_ts(TS ts, Vec u, double t_from, double t_to, double dt, PetscInt& steps_done,
                SolveStats& stats) {
  const double interval = t_to - t_from;
  const long steps = std::max<long>(1, std::lround(interval / dt));
  steps_done += static_cast<PetscInt>(steps);
  KARMAN_PETSC(TSSetTimeStep(ts, interval / static_cast<double>(steps)));
  KARMAN_PETSC(TSSetMaxSteps(ts, steps_done));
  KARMAN_PETSC(TSSetMaxTime(ts, t_to + 0.5 * interval / static_cast<double>(steps)));
  KARMAN_PETSC(TSSolve(ts, u));
  TSConvergedReason reason;
  KARMAN_PETSC(TSGetConvergedReason(ts, &reason));
  if (reason < 0) {
    stats.converged = false;
    stats.reason = TSConvergedReasons[reason];
    return false;
  }
  KARMAN_PETSC(TSSetTime(ts, t_to));
  return true;
}

double record_ts(TS ts, KSP ksp, const config::SolverSpec& solver, SolveStats& stats) {
  PetscInt steps, linear_its, nonlinear;
  PetscReal t;
  TSType type;
  KARMAN_PETSC(TSGetStepNumber(ts, &steps));
  KARMAN_PETSC(TSGetKSPIterations(ts, &linear_its));
  KARMAN_PETSC(TSGetSNESIterations(ts, &nonlinear));
  KARMAN_PETSC(TSGetTime(ts, &t));
  KARMAN_PETSC(TSGetType(ts, &type));
  const bool ts_ok = stats.converged;
  const std::string ts_reason = stats.reason;
  record_ksp(ksp, stats);
  if (!ts_ok) stats.converged = false, stats.reason = ts_reason;
  stats.ts = type;
  stats.steps = steps;
  stats.iterations = linear_its;
  stats.nonlinear_iterations = nonlinear;
  stats.options = solver.options;
  return t;
}

namespace {

// Owned box plus one ghost layer of `a`, through a DMDA local vector (values on other ranks).
struct GhostedCoefficient {
  petsc::Vec local;
  const PetscScalar* values = nullptr;
  PetscInt gxs = 0, gys = 0, gzs = 0, gxm = 1, gym = 1, gzm = 1;

  GhostedCoefficient(DM dm, const std::vector<double>& owned) {
    if (owned.empty()) return;
    Vec global;
    KARMAN_PETSC(DMGetGlobalVector(dm, &global));
    to_petsc(owned, global);
    KARMAN_PETSC(DMCreateLocalVector(dm, local.out()));
    KARMAN_PETSC(DMGlobalToLocalBegin(dm, global, INSERT_VALUES, local));
    KARMAN_PETSC(DMGlobalToLocalEnd(dm, global, INSERT_VALUES, local));
    KARMAN_PETSC(DMRestoreGlobalVector(dm, &global));
    KARMAN_PETSC(DMDAGetGhostCorners(dm, &gxs, &gys, &gzs, &gxm, &gym, &gzm));
    gym = std::max<PetscInt>(gym, 1);
    gzm = std::max<PetscInt>(gzm, 1);
    KARMAN_PETSC(VecGetArrayRead(local, &values));
  }
  ~GhostedCoefficient() {
    if (local) VecRestoreArrayRead(local, &values);
  }
  double operator()(PetscInt i, PetscInt j, PetscInt k) const {
    if (!values) return 1.0;
    return values[((k - gzs) * gym + (j - gys)) * gxm + (i - gxs)];
  }
};

}  // namespace

double dirichlet_diagonal(const mesh::StructuredGrid& grid) {
  double diagonal = 0.0;
  for (int d = 0; d < grid.shape().dim; ++d)
    diagonal += 2.0 / (grid.shape().spacing(d) * grid.shape().spacing(d));
  return diagonal;
}

void assemble_diffusion(const mesh::StructuredGrid& grid, const std::vector<double>& coefficient,
                        double boundary_diagonal, petsc::Mat& A) {
  DM dm = dm_of(grid);
  const mesh::GridShape& shape = grid.shape();
  KARMAN_PETSC(DMCreateMatrix(dm, A.out()));
  KARMAN_PETSC(MatSetOption(A, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE));
  GhostedCoefficient a(dm, coefficient);
  const auto& s = grid.start();
  const auto& c = grid.count();
  for (PetscInt k = s[2]; k < s[2] + c[2]; ++k)
    for (PetscInt j = s[1]; j < s[1] + c[1]; ++j)
      for (PetscInt i = s[0]; i < s[0] + c[0]; ++i) {
        MatStencil row{};
        row.i = i, row.j = j, row.k = k;
        if (shape.on_boundary(i, j, k)) {
          KARMAN_PETSC(MatSetValuesStencil(A, 1, &row, 1, &row, &boundary_diagonal, INSERT_VALUES));
          continue;
        }
        // Up to 7 entries: the centre, then two neighbours per dimension.
        MatStencil cols[7];
        PetscScalar vals[7];
        int n = 1;
        cols[0] = row;
        vals[0] = 0.0;
        const PetscInt idx[3] = {i, j, k};
        for (int d = 0; d < shape.dim; ++d) {
          const double inv_h2 = 1.0 / (shape.spacing(d) * shape.spacing(d));
          for (int side : {-1, 1}) {
            PetscInt nb[3] = {idx[0], idx[1], idx[2]};
            nb[d] += side;
            // Periodic wrap-around is resolved by the DMDA's ghosted stencil indices.
            const double face = pde::face_coefficient(a(i, j, k), a(nb[0], nb[1], nb[2])) * inv_h2;
            cols[n] = row;
            cols[n].i = nb[0], cols[n].j = nb[1], cols[n].k = nb[2];
            vals[n++] = -face;
            vals[0] += face;
          }
        }
        KARMAN_PETSC(MatSetValuesStencil(A, 1, &row, n, cols, vals, INSERT_VALUES));
      }
  KARMAN_PETSC(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  KARMAN_PETSC(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
}

std::vector<MatStencil> boundary_rows(const mesh::StructuredGrid& grid) {
  std::vector<MatStencil> rows;
  const auto& s = grid.start();
  const auto& c = grid.count();
  for (PetscInt k = s[2]; k < s[2] + c[2]; ++k)
    for (PetscInt j = s[1]; j < s[1] + c[1]; ++j)
      for (PetscInt i = s[0]; i < s[0] + c[0]; ++i)
        if (grid.shape().on_boundary(i, j, k)) {
          MatStencil row{};
          row.i = i, row.j = j, row.k = k;
          rows.push_back(row);
        }
  return rows;
}

void to_petsc(const std::vector<double>& owned, Vec v) {
  PetscInt n;
  KARMAN_PETSC(VecGetLocalSize(v, &n));
  KARMAN_VERIFY(n == static_cast<PetscInt>(owned.size()), "to_petsc: size mismatch");
  PetscScalar* x;
  KARMAN_PETSC(VecGetArrayWrite(v, &x));
  std::copy(owned.begin(), owned.end(), x);
  KARMAN_PETSC(VecRestoreArrayWrite(v, &x));
}

std::vector<double> from_petsc(Vec v) {
  PetscInt n;
  const PetscScalar* x;
  KARMAN_PETSC(VecGetLocalSize(v, &n));
  KARMAN_PETSC(VecGetArrayRead(v, &x));
  std::vector<double> out(x, x + n);
  KARMAN_PETSC(VecRestoreArrayRead(v, &x));
  return out;
}

std::vector<double> solve_assembled(MPI_Comm comm, Mat A, Vec b, Vec u,
                                    const config::SolverSpec& solver, const Timer& setup,
                                    SolveStats& stats) {
  petsc::KSP ksp = petsc::make_ksp(comm, A, solver);
  KARMAN_PETSC(KSPSetInitialGuessNonzero(ksp, PETSC_TRUE));
  prefer_mumps(ksp);
  KARMAN_PETSC(KSPSetUp(ksp));
  // PETSc keeps the norms in its own array (PETSC_DECIDE: up to 10000 iterations): one store
  // per iteration, nothing allocated inside the solve.
  KARMAN_PETSC(KSPSetResidualHistory(ksp, nullptr, PETSC_DECIDE, PETSC_TRUE));
  stats.setup_s = setup.seconds();
  Timer solve_timer;
  KARMAN_PETSC(KSPSolve(ksp, b, u));
  stats.solve_s = solve_timer.seconds();
  PetscInt iterations;
  KARMAN_PETSC(KSPGetIterationNumber(ksp, &iterations));
  stats.iterations = iterations;
  const PetscReal* norms = nullptr;
  PetscInt recorded = 0;
  KARMAN_PETSC(KSPGetResidualHistory(ksp, &norms, &recorded));
  stats.residual_history.assign(norms, norms + recorded);
  record_ksp(ksp, stats);
  stats.options = solver.options;
  return from_petsc(u);
}

}  // namespace karman::solvers::detail
