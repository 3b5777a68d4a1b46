// The karman factor as block Jacobi or as ASM's sub-PC, with the cut coupling of the overlapped
// blocks (see schwarz.hpp).
#include "operators/precond/schwarz.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <vector>

#include "operators/precond/coarse_space.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"
#include "petsc/ksp.hpp"

namespace karman::precond {
namespace {

// What the ASM hook gives every sub-PC; owned by the outer PC (composed on it in a container).
struct SubdomainFactor {
  FactorProvider provider;
  FactorKind kind = FactorKind::cholesky;
};

PetscErrorCode destroy_subdomain_factor(void* ctx) {
  delete static_cast<SubdomainFactor*>(ctx);
  return 0;
}

// r_i = Σ_j |a_ij| over the whole row i: [N], distributed like a's rows.
void absolute_row_sums(Mat a, Vec* out) {
  Vec sums = nullptr;
  KARMAN_PETSC(MatCreateVecs(a, nullptr, &sums));
  PetscInt first = 0, last = 0;
  KARMAN_PETSC(MatGetOwnershipRange(a, &first, &last));
  PetscScalar* r = nullptr;
  KARMAN_PETSC(VecGetArrayWrite(sums, &r));
  for (PetscInt row = first; row < last; ++row) {
    PetscInt count = 0;
    const PetscScalar* values = nullptr;
    KARMAN_PETSC(MatGetRow(a, row, &count, nullptr, &values));
    r[row - first] = 0.0;
    for (PetscInt k = 0; k < count; ++k) r[row - first] += std::abs(values[k]);
    KARMAN_PETSC(MatRestoreRow(a, row, &count, nullptr, &values));
  }
  KARMAN_PETSC(VecRestoreArrayWrite(sums, &r));
  *out = sums;
}

// The coupling the subdomain `rows` (global indices, the block's row order) cuts from its block
// `sub`: dropped_i = r_{rows_i} − Σ_j |sub_ij|, r the global rows' sums [N]. A row whose whole
// stencil is inside gives exactly 0 (the same values summed in the same, increasing column, order).
// Collective on r's communicator (the scatter of r to the subdomain's rows).
std::vector<double> cut_coupling(Vec r, IS rows, Mat sub) {
  PetscInt n = 0;
  KARMAN_PETSC(ISGetLocalSize(rows, &n));
  petsc::Vec r_sub;
  KARMAN_PETSC(VecCreateSeq(PETSC_COMM_SELF, n, r_sub.out()));
  VecScatter gather = nullptr;
  KARMAN_PETSC(VecScatterCreate(r, rows, r_sub, nullptr, &gather));
  KARMAN_PETSC(VecScatterBegin(gather, r, r_sub, INSERT_VALUES, SCATTER_FORWARD));
  KARMAN_PETSC(VecScatterEnd(gather, r, r_sub, INSERT_VALUES, SCATTER_FORWARD));
  KARMAN_PETSC(VecScatterDestroy(&gather));
  const PetscScalar* whole = nullptr;
  KARMAN_PETSC(VecGetArrayRead(r_sub, &whole));
  std::vector<double> dropped(whole, whole + n);
  KARMAN_PETSC(VecRestoreArrayRead(r_sub, &whole));
  for (PetscInt row = 0; row < n; ++row) {
    PetscInt count = 0;
    const PetscScalar* values = nullptr;
    KARMAN_PETSC(MatGetRow(sub, row, &count, nullptr, &values));
    double inside = 0.0;
    for (PetscInt k = 0; k < count; ++k) inside += std::abs(values[k]);
    KARMAN_PETSC(MatRestoreRow(sub, row, &count, nullptr, &values));
    dropped[row] = std::max(0.0, dropped[row] - inside);
  }
  return dropped;
}

// PCASM's modify-submatrices hook (called in its PCSetUp, after the overlapped blocks are
// extracted, before the sub-KSPs get them): attach each block's cut coupling, and make each
// sub-PC the karman factor of `ctx` (the first time: later set-ups keep what was configured).
PetscErrorCode configure_subdomains(PC pc, PetscInt blocks, const IS rows[], const IS[], Mat sub[],
                                    void* ctx) {
  try {
    const SubdomainFactor& factor = *static_cast<const SubdomainFactor*>(ctx);
    Mat pmat = nullptr;
    KARMAN_PETSC(PCGetOperators(pc, nullptr, &pmat));
    petsc::Vec r;
    absolute_row_sums(pmat, r.out());
    PetscInt global_rows = 0;
    KARMAN_PETSC(MatGetSize(pmat, &global_rows, nullptr));
    for (PetscInt i = 0; i < blocks; ++i)
      attach_cut_coupling(sub[i], cut_coupling(r, rows[i], sub[i]), global_rows);
    PetscInt local = 0;
    KSP* sub_ksp = nullptr;
    KARMAN_PETSC(PCASMGetSubKSP(pc, &local, nullptr, &sub_ksp));
    for (PetscInt i = 0; i < local; ++i) {
      PC sub_pc = nullptr;
      KARMAN_PETSC(KSPGetPC(sub_ksp[i], &sub_pc));
      PetscBool is_karman = PETSC_FALSE;
      KARMAN_PETSC(
          PetscObjectTypeCompare(reinterpret_cast<PetscObject>(sub_pc), "karman", &is_karman));
      if (is_karman) continue;
      KARMAN_PETSC(PCSetType(sub_pc, "karman"));
      pc_karman_set_type(sub_pc, factor.kind);
      pc_karman_set_factor_provider(sub_pc, factor.provider);
    }
  } catch (const std::exception& e) {
    // C++ exceptions must not cross PETSc's C frames.
    SETERRQ(PetscObjectComm(reinterpret_cast<PetscObject>(pc)), PETSC_ERR_ARG_WRONG,
            "PC asm with karman blocks: %s", e.what());
  }
  return 0;
}

// The rank's rows as `pieces` contiguous ASM subdomains (row_layout of its rows; before overlap).
void set_local_subdomains(PC pc, long pieces) {
  Mat pmat = nullptr;
  KARMAN_PETSC(PCGetOperators(pc, nullptr, &pmat));
  PetscInt first = 0, last = 0;
  KARMAN_PETSC(MatGetOwnershipRange(pmat, &first, &last));
  const std::vector<std::int64_t> bounds = row_layout(last - first, pieces);
  std::vector<IS> rows(pieces);
  for (long q = 0; q < pieces; ++q)
    KARMAN_PETSC(ISCreateStride(PETSC_COMM_SELF, static_cast<PetscInt>(bounds[q + 1] - bounds[q]),
                                first + static_cast<PetscInt>(bounds[q]), 1, &rows[q]));
  KARMAN_PETSC(PCASMSetLocalSubdomains(pc, static_cast<PetscInt>(pieces), rows.data(), nullptr));
  for (IS& is : rows) KARMAN_PETSC(ISDestroy(&is));  // PCASM keeps its own references
}

void set_asm_factor_pc(PC pc, const ParallelPc& parallel, FactorProvider provider,
                       FactorKind kind) {
  KARMAN_PETSC(PCSetType(pc, PCASM));
  if (parallel.subdomains > 1) set_local_subdomains(pc, parallel.subdomains);
  KARMAN_PETSC(PCASMSetOverlap(pc, static_cast<PetscInt>(parallel.overlap)));
  KARMAN_PETSC(PCASMSetType(pc, parallel.restricted ? PC_ASM_RESTRICT : PC_ASM_BASIC));
  auto* factor = new SubdomainFactor{std::move(provider), kind};
  PetscContainer owner = nullptr;  // frees `factor` with the PC
  KARMAN_PETSC(PetscContainerCreate(PetscObjectComm(reinterpret_cast<PetscObject>(pc)), &owner));
  KARMAN_PETSC(PetscContainerSetPointer(owner, factor));
  KARMAN_PETSC(PetscContainerSetUserDestroy(owner, destroy_subdomain_factor));
  KARMAN_PETSC(PetscObjectCompose(reinterpret_cast<PetscObject>(pc), "karman_subdomain_factor",
                                  reinterpret_cast<PetscObject>(owner)));
  KARMAN_PETSC(PetscContainerDestroy(&owner));
  KARMAN_PETSC(PCSetModifySubMatrices(pc, configure_subdomains, factor));
}

}  // namespace

std::string parallel_pc_name(const ParallelPc& parallel) {
  std::string name;
  if (parallel.form == ParallelPc::Form::bjacobi)
    name = parallel.lump_cut ? "bjacobi" : "bjacobi dirichlet";
  else if (parallel.lump_cut)
    name = parallel.restricted ? "asm restrict lumped" : "asm basic lumped";
  else
    name = parallel.restricted ? "asm restrict" : "asm basic";
  return parallel.coarse == ParallelPc::Coarse::nicolaides ? name + " + nicolaides" : name;
}

void set_factor_pc(PC pc, const ParallelPc& parallel, FactorProvider provider, FactorKind kind) {
  if (parallel.coarse == ParallelPc::Coarse::nicolaides) {
    PC fine = nullptr;  // the one-level form, taken over by the two-level shell
    KARMAN_PETSC(PCCreate(PetscObjectComm(reinterpret_cast<PetscObject>(pc)), &fine));
    ParallelPc one_level = parallel;
    one_level.coarse = ParallelPc::Coarse::none;
    set_factor_pc(fine, one_level, std::move(provider), kind);
    return set_nicolaides_coarse_pc(pc, fine, static_cast<int>(parallel.coarse_vectors));
  }
  if (provider && !parallel.lump_cut)
    provider = [uncut = std::move(provider)](const LocalBlock& block, const LowerPattern& lower) {
      LocalBlock whole = block;  // the block as it is: nothing cut, Dirichlet at the cut
      whole.dropped.assign(whole.rows, 0.0);
      return uncut(whole, lower);
    };
  if (parallel.form == ParallelPc::Form::asm_)
    return set_asm_factor_pc(pc, parallel, std::move(provider), kind);
  KARMAN_PETSC(PCSetType(pc, "karman"));  // on the MPI matrix: block Jacobi, cut coupling seen
  pc_karman_set_type(pc, kind);
  pc_karman_set_factor_provider(pc, std::move(provider));
}

CgRun timed_cg(Mat a, const ParallelPc& parallel, const FactorProvider& provider, FactorKind kind) {
  return run_cg(a, PCNONE, [&](PC pc) { set_factor_pc(pc, parallel, provider, kind); });
}

}  // namespace karman::precond
