// DCDM on several ranks (operators/precond/dcdm_parallel.hpp).
#include "operators/precond/dcdm_parallel.hpp"

#include <algorithm>
#include <exception>
#include <string>
#include <vector>

#include "operators/precond/gnn.hpp"
#include "operators/precond/petsc_factor.hpp"
#include "petsc/check.hpp"

namespace karman::precond {
namespace {

struct GatheredNetworkPc {
  DcdmNetwork* network = nullptr;  // used on rank 0 only
  const ObstacleGrid* grid = nullptr;
  VecScatter to_zero = nullptr;  // the KSP's layout -> all N values on rank 0
  Vec whole = nullptr;           // [N] on rank 0, [0] elsewhere
};

// The network on rank 0's gathered vector, in place. Returns the error text ("" on success).
std::string apply_on_rank_zero(GatheredNetworkPc& ctx) {
  PetscScalar* values = nullptr;
  if (VecGetArray(ctx.whole, &values) != 0) return "cannot access the gathered vector";
  const std::int64_t n = ctx.grid->a.rows;
  std::string error;
  try {
    const std::vector<double> q =
        ctx.network->apply(*ctx.grid, std::vector<double>(values, values + n));
    std::copy(q.begin(), q.end(), values);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (VecRestoreArray(ctx.whole, &values) != 0 && error.empty())
    error = "cannot restore the gathered vector";
  return error;
}

PetscErrorCode apply_gathered_network(PC pc, Vec in, Vec out) {
  GatheredNetworkPc* ctx = nullptr;
  PetscCall(PCShellGetContext(pc, &ctx));
  MPI_Comm comm = PetscObjectComm(reinterpret_cast<PetscObject>(pc));
  PetscInt n = 0;
  PetscCall(VecGetSize(in, &n));
  PetscCheck(n == ctx->grid->a.rows, comm, PETSC_ERR_ARG_SIZ,
             "DCDM network: vector of %" PetscInt_FMT " rows, the grid has %" PetscInt_FMT
             " fluid cells",
             n, static_cast<PetscInt>(ctx->grid->a.rows));
  if (!ctx->to_zero) PetscCall(VecScatterCreateToZero(in, &ctx->to_zero, &ctx->whole));
  PetscCall(VecScatterBegin(ctx->to_zero, in, ctx->whole, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(ctx->to_zero, in, ctx->whole, INSERT_VALUES, SCATTER_FORWARD));
  PetscMPIInt rank = 0;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  // Rank 0's outcome is broadcast so that a network error stops every rank, not rank 0 alone.
  std::string error = rank == 0 ? apply_on_rank_zero(*ctx) : std::string();
  int failed = error.empty() ? 0 : 1;
  PetscCallMPI(MPI_Bcast(&failed, 1, MPI_INT, 0, comm));
  PetscCheck(!failed, comm, PETSC_ERR_LIB, "DCDM network on rank 0: %s",
             rank == 0 ? error.c_str() : "(see rank 0)");
  PetscCall(VecScatterBegin(ctx->to_zero, ctx->whole, out, INSERT_VALUES, SCATTER_REVERSE));
  PetscCall(VecScatterEnd(ctx->to_zero, ctx->whole, out, INSERT_VALUES, SCATTER_REVERSE));
  return 0;
}

PetscErrorCode destroy_gathered_network_pc(PC pc) {
  GatheredNetworkPc* ctx = nullptr;
  PetscCall(PCShellGetContext(pc, &ctx));
  PetscCall(VecScatterDestroy(&ctx->to_zero));
  PetscCall(VecDestroy(&ctx->whole));
  delete ctx;
  return 0;
}

}  // namespace

void set_gathered_network_pc(PC pc, DcdmNetwork* network, const ObstacleGrid& grid) {
  KARMAN_PETSC(PCSetType(pc, PCSHELL));
  KARMAN_PETSC(PCShellSetContext(pc, new GatheredNetworkPc{network, &grid}));
  KARMAN_PETSC(PCShellSetApply(pc, apply_gathered_network));
  KARMAN_PETSC(PCShellSetDestroy(pc, destroy_gathered_network_pc));
  KARMAN_PETSC(PCShellSetName(pc, "dcdm network direction map (gathered to rank 0)"));
}

void block_icc_pc(PC pc) {
  KARMAN_PETSC(PCSetType(pc, PCBJACOBI));
  // The sub-KSPs exist only after PCSetUp, which reads their options (prefix "sub_") then, and
  // only if PCSetFromOptions was called: one option under a prefix of this PC's own.
  KARMAN_PETSC(PCSetOptionsPrefix(pc, "dcdm_baseline_"));
  KARMAN_PETSC(PetscOptionsSetValue(nullptr, "-dcdm_baseline_sub_pc_type", "icc"));
  KARMAN_PETSC(PCSetFromOptions(pc));
}

void block_mic0_pc(PC pc) {
  KARMAN_PETSC(PCSetType(pc, "karman"));
  pc_karman_set_factor_provider(pc, [](const LocalBlock& block, const LowerPattern& lower) {
    const LocalBlock own{static_cast<const CsrMatrix&>(block), {}};  // no cut coupling: unlumped
    return reference_values(own, lower, ReferenceFactor::mic0);
  });
}

}  // namespace karman::precond
