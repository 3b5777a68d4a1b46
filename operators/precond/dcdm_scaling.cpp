// DCDM's map on the Jacobi-scaled problem (operators/precond/dcdm_scaling.hpp).
#include "operators/precond/dcdm_scaling.hpp"

#include <cmath>

#include "operators/precond/dcdm_parallel.hpp"
#include "petsc/check.hpp"

namespace karman::precond {

ObstacleGrid jacobi_scaled(const ObstacleGrid& grid) {
  ObstacleGrid scaled = grid;
  CsrMatrix& a = scaled.a;
  std::vector<double> inv_sqrt_d(a.rows, 0.0);  // [rows] 1/sqrt(a_ii)
  for (std::int64_t i = 0; i < a.rows; ++i)
    for (std::int64_t k = a.row_ptr[i]; k < a.row_ptr[i + 1]; ++k)
      if (a.col[k] == i) inv_sqrt_d[i] = 1.0 / std::sqrt(a.values[k]);
  for (std::int64_t i = 0; i < a.rows; ++i)
    for (std::int64_t k = a.row_ptr[i]; k < a.row_ptr[i + 1]; ++k)
      a.values[k] *= inv_sqrt_d[i] * inv_sqrt_d[a.col[k]];
  return scaled;
}

namespace {

struct JacobiNetworkPc {
  PC map = nullptr;          // the gathered network on the scaled grid
  Vec inv_sqrt_d = nullptr;  // D^(−1/2), laid out as the KSP's vectors (made at the first apply)
  Vec work = nullptr;
};

// D^(−1/2) from the PC's operator, and the map's operators (PCApply sets a PC up first).
PetscErrorCode set_up_scaling(PC pc, JacobiNetworkPc& ctx) {
  Mat a = nullptr;
  PetscCall(PCGetOperators(pc, &a, nullptr));
  PetscCall(MatCreateVecs(a, &ctx.inv_sqrt_d, nullptr));
  PetscCall(MatGetDiagonal(a, ctx.inv_sqrt_d));
  PetscCall(VecSqrtAbs(ctx.inv_sqrt_d));
  PetscCall(VecReciprocal(ctx.inv_sqrt_d));
  PetscCall(VecDuplicate(ctx.inv_sqrt_d, &ctx.work));
  PetscCall(PCSetOperators(ctx.map, a, a));
  return 0;
}

PetscErrorCode apply_jacobi_network(PC pc, Vec in, Vec out) {
  JacobiNetworkPc* ctx = nullptr;
  PetscCall(PCShellGetContext(pc, &ctx));
  if (!ctx->inv_sqrt_d) PetscCall(set_up_scaling(pc, *ctx));
  PetscCall(VecPointwiseMult(ctx->work, ctx->inv_sqrt_d, in));
  PetscCall(PCApply(ctx->map, ctx->work, out));
  PetscCall(VecPointwiseMult(out, ctx->inv_sqrt_d, out));
  return 0;
}

PetscErrorCode destroy_jacobi_network_pc(PC pc) {
  JacobiNetworkPc* ctx = nullptr;
  PetscCall(PCShellGetContext(pc, &ctx));
  PetscCall(PCDestroy(&ctx->map));
  PetscCall(VecDestroy(&ctx->inv_sqrt_d));
  PetscCall(VecDestroy(&ctx->work));
  delete ctx;
  return 0;
}

}  // namespace

void set_jacobi_network_pc(PC pc, DcdmNetwork* network, const ObstacleGrid& scaled) {
  auto* ctx = new JacobiNetworkPc;
  KARMAN_PETSC(PCCreate(PetscObjectComm(reinterpret_cast<PetscObject>(pc)), &ctx->map));
  set_gathered_network_pc(ctx->map, network, scaled);
  KARMAN_PETSC(PCSetType(pc, PCSHELL));
  KARMAN_PETSC(PCShellSetContext(pc, ctx));
  KARMAN_PETSC(PCShellSetApply(pc, apply_jacobi_network));
  KARMAN_PETSC(PCShellSetDestroy(pc, destroy_jacobi_network_pc));
  KARMAN_PETSC(PCShellSetName(pc, "dcdm network direction map, Jacobi-scaled"));
}

}  // namespace karman::precond
