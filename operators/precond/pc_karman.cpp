// The PETSc preconditioner type "karman": M⁻¹ = (L Lᵀ)⁻¹ with L on tril(P), P the local diagonal
// block of the preconditioning matrix. A full PC type (PETSc's private pcimpl.h, as PETSc's own
// PCs do) rather than a PCSHELL, so -pc_type karman and -sub_pc_type karman work from options.
#include <petsc/private/pcimpl.h>

#include <new>

#include "operators/precond/petsc_factor.hpp"
#include "petsc/check.hpp"

namespace karman::precond {
namespace {

struct KarmanPc {
  FactorProvider provider = [](const CsrMatrix& a, const LowerPattern& lower) {
    return ic0_values(a, lower);
  };
  LowerPattern lower;
  std::vector<double> l;  // [nnz_L]
};

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
    ctx.l = ctx.provider(a, ctx.lower);
    require_positive_diagonal(ctx.lower, ctx.l);
  });
}

// y = (L Lᵀ)⁻¹ x on the rank's rows. x, y: local size n.
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
  apply_factor_inverse(ctx.lower, ctx.l, in, out);
  PetscCall(VecRestoreArrayWrite(y, &out));
  PetscCall(VecRestoreArrayRead(x, &in));
  return 0;
}

PetscErrorCode view(PC pc, PetscViewer viewer) {
  PetscBool ascii = PETSC_FALSE;
  PetscCall(
      PetscObjectTypeCompare(reinterpret_cast<PetscObject>(viewer), PETSCVIEWERASCII, &ascii));
  if (ascii)
    PetscCall(PetscViewerASCIIPrintf(viewer,
                                     "  (L L^T)^-1 with L on tril(P): %" PetscInt_FMT
                                     " rows, %" PetscInt_FMT " entries\n",
                                     static_cast<PetscInt>(context(pc).lower.rows),
                                     static_cast<PetscInt>(context(pc).lower.nnz())));
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

void pc_karman_set_factor_provider(PC pc, FactorProvider provider) {
  PetscBool is_karman = PETSC_FALSE;
  KARMAN_PETSC(PetscObjectTypeCompare(reinterpret_cast<PetscObject>(pc), "karman", &is_karman));
  if (!is_karman) throw NotSpdError("pc_karman_set_factor_provider: the PC is not of type karman");
  context(pc).provider = std::move(provider);
  if (pc->setupcalled) KARMAN_PETSC(setup(pc));  // refactor with the new provider
}

}  // namespace karman::precond
