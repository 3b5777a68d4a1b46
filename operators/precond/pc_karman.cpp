// The PETSc preconditioner type "karman": M⁻¹ = (L Lᵀ)⁻¹ with L on tril(P), P the local diagonal
// block of the preconditioning matrix, or (-pc_karman_type fsai) M⁻¹ = Gᵀ G with G on tril(P).
// A full PC type (PETSc's private pcimpl.h, as PETSc's own PCs do) rather than a PCSHELL, so
// -pc_type karman and -sub_pc_type karman work from options.
#include <petsc/private/pcimpl.h>

#include <new>

#include "operators/precond/fsai.hpp"
#include "operators/precond/petsc_factor.hpp"
#include "petsc/check.hpp"

namespace karman::precond {
namespace {

struct KarmanPc {
  FactorKind kind = FactorKind::cholesky;
  FactorProvider provider;  // empty: the kind's reference factor (IC(0) or the classical FSAI)
  LowerPattern lower;
  std::vector<double> l;  // [nnz_L]: L (cholesky) or G (fsai)
  FsaiOperator fsai;      // Gᵀ G, built at set-up in fsai mode
  FactorSolver solver;    // (L Lᵀ)⁻¹, built at set-up in cholesky mode
};

const char* const kKindNames[] = {"cholesky", "fsai"};  // FactorKind order

KarmanPc& context(PC pc) { return *static_cast<KarmanPc*>(pc->data); }

// C++ exceptions must not cross PETSc's C frames: turn them into a PETSc error with the message.
template <class Body>
PetscErrorCode guarded(PC pc, Body body) {
  try {
    body();
  } catch (const std::exception& e) {
    SETERRQ(PetscObjectComm(reinterpret_cast<PetscObject>(pc)), PETSC_ERR_ARG_WRONG,
            "PC karman: %s", e.what());
  }
  return 0;
}

PetscErrorCode setup(PC pc) {
  return guarded(pc, [pc] {
    KarmanPc& ctx = context(pc);
    const LocalBlock a = local_block(pc->pmat);  // with the coupling the partition cut
    ctx.lower = lower_pattern(a);
    ctx.l = ctx.provider ? ctx.provider(a, ctx.lower) : reference_factor(ctx.kind, a, ctx.lower);
    require_positive_diagonal(ctx.lower, ctx.l);
    ctx.fsai = ctx.kind == FactorKind::fsai ? FsaiOperator(ctx.lower, ctx.l) : FsaiOperator();
    ctx.solver = ctx.kind == FactorKind::cholesky ? FactorSolver(ctx.lower, ctx.l) : FactorSolver();
  });
}

// y = (L Lᵀ)⁻¹ x or y = Gᵀ G x on the rank's rows. x, y: local size n.
PetscErrorCode apply(PC pc, Vec x, Vec y) {
  const KarmanPc& ctx = context(pc);
  PetscInt n = 0;
  PetscCall(VecGetLocalSize(x, &n));
  PetscCheck(n == ctx.lower.rows, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "PC karman: vector has %" PetscInt_FMT " local rows, the factor %" PetscInt_FMT, n,
             static_cast<PetscInt>(ctx.lower.rows));
  const PetscScalar* in = nullptr;
  PetscScalar* out = nullptr;
  PetscCall(VecGetArrayRead(x, &in));
  PetscCall(VecGetArrayWrite(y, &out));
  if (ctx.kind == FactorKind::fsai)
    ctx.fsai.apply(in, out);
  else
    ctx.solver.apply(in, out);
  PetscCall(VecRestoreArrayWrite(y, &out));
  PetscCall(VecRestoreArrayRead(x, &in));
  return 0;
}

PetscErrorCode view(PC pc, PetscViewer viewer) {
  PetscBool ascii = PETSC_FALSE;
  PetscCall(
      PetscObjectTypeCompare(reinterpret_cast<PetscObject>(viewer), PETSCVIEWERASCII, &ascii));
  const bool fsai = context(pc).kind == FactorKind::fsai;
  if (ascii)
    PetscCall(PetscViewerASCIIPrintf(
        viewer, "  %s on tril(P): %" PetscInt_FMT " rows, %" PetscInt_FMT " entries\n",
        fsai ? "G^T G with G" : "(L L^T)^-1 with L", static_cast<PetscInt>(context(pc).lower.rows),
        static_cast<PetscInt>(context(pc).lower.nnz())));
  return 0;
}

// -pc_karman_type cholesky|fsai. A change after set-up takes effect at the next PCSetUp (PETSc
// calls setfromoptions before it, as for every PC).
PetscErrorCode set_from_options(PC pc, PetscOptionItems* PetscOptionsObject) {
  KarmanPc& ctx = context(pc);
  PetscInt index = static_cast<PetscInt>(ctx.kind);
  PetscBool set = PETSC_FALSE;
  PetscOptionsHeadBegin(PetscOptionsObject, "Karman learned preconditioner options");
  PetscCall(PetscOptionsEList(
      "-pc_karman_type", "cholesky: (L L^T)^-1 by triangular solves; fsai: G^T G by SpMVs",
      "pc_karman_set_type", kKindNames, 2, kKindNames[index], &index, &set));
  PetscOptionsHeadEnd();
  if (set && static_cast<FactorKind>(index) != ctx.kind) {
    ctx.kind = static_cast<FactorKind>(index);
    pc->setupcalled = 0;  // the factor's meaning changed: set up again
  }
  return 0;
}

PetscErrorCode destroy(PC pc) {
  delete static_cast<KarmanPc*>(pc->data);
  pc->data = nullptr;
  return 0;
}

PetscErrorCode create(PC pc) {
  pc->data = new (std::nothrow) KarmanPc;
  PetscCheck(pc->data, PETSC_COMM_SELF, PETSC_ERR_MEM, "PC karman: out of memory");
  pc->ops->setup = setup;
  pc->ops->apply = apply;
  pc->ops->applytranspose = apply;  // M is symmetric
  pc->ops->view = view;
  pc->ops->setfromoptions = set_from_options;
  pc->ops->destroy = destroy;
  return 0;
}

}  // namespace

void register_karman_pc() {
  static bool registered = false;
  if (registered) return;
  KARMAN_PETSC(PCRegister("karman", create));
  registered = true;
}

namespace {

KarmanPc& karman_context(PC pc, const char* caller) {
  PetscBool is_karman = PETSC_FALSE;
  KARMAN_PETSC(PetscObjectTypeCompare(reinterpret_cast<PetscObject>(pc), "karman", &is_karman));
  if (!is_karman) throw NotSpdError(std::string(caller) + ": the PC is not of type karman");
  return context(pc);
}

}  // namespace

void pc_karman_set_factor_provider(PC pc, FactorProvider provider) {
  karman_context(pc, "pc_karman_set_factor_provider").provider = std::move(provider);
  if (pc->setupcalled) KARMAN_PETSC(setup(pc));  // refactor with the new provider
}

void pc_karman_set_type(PC pc, FactorKind kind) {
  KarmanPc& ctx = karman_context(pc, "pc_karman_set_type");
  if (ctx.kind == kind) return;
  ctx.kind = kind;
  if (pc->setupcalled) KARMAN_PETSC(setup(pc));  // the factor's meaning changed
}

FactorKind pc_karman_get_type(PC pc) { return karman_context(pc, "pc_karman_get_type").kind; }

}  // namespace karman::precond
