// The karman factor as ASM's sub-PC (1 and 2 ranks; schwarz.hpp): each overlapped block carries
// the coupling the overlap cut and the global size (the relaxation model's h is the whole
// grid's on every block), ASM with karman IC(0) blocks is PETSc's ASM with ICC blocks, ASM
// beats block Jacobi at 2 ranks, and an overlap covering the whole grid reproduces the one-rank
// solve of the same factor (learned or MIC(0)).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "karman/core/random.hpp"
#include "operators/precond/gnn.hpp"
#include "operators/precond/petsc_factor.hpp"
#include "operators/precond/schwarz.hpp"
#include "operators/precond/training.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"
#include "support/kokkos_env.hpp"
#include "support/mpi_world.hpp"
#include "support/nn_checks.hpp"

namespace {

using namespace karman::precond;
namespace petsc = karman::petsc;

FactorProvider mic0() {
  return [](const LocalBlock& block, const LowerPattern& lower) {
    return reference_values(block, lower, ReferenceFactor::mic0);
  };
}

// ASM with the cut coupling hidden from the factor (the case key's default) or lumped.
ParallelPc asm_pc(long overlap, bool restricted = false, bool lump_cut = false) {
  return {ParallelPc::Form::asm_, overlap, restricted, lump_cut};
}

const ParallelPc kBjacobi{};

void print(const std::string& what, long iterations) {
  if (karman::test::world_rank() == 0)
    std::printf("[ info ] %s at %d ranks: %ld iterations\n", what.c_str(),
                karman::test::world_size(), iterations);
}

// A GNN correcting MIC(0) with every parameter drawn from 0.05·N(0, 1): a "learned" factor that
// is neither MIC(0) nor constant over the block.
struct RandomGnn {
  FactorGnn gnn{[] {
                  FactorGnnOptions options;
                  options.reference = ReferenceFactor::mic0;
                  options.width = 8;
                  options.layers = 2;
                  return options;
                }(),
                5};
  RandomGnn() { karman::testing::randomise_parameters(gnn.parameters(), 17, 0.05); }
};

// The relaxation model (a row head predicting ω_i = 1 − h c_ω, δ_i = h² c_δ) with every parameter
// drawn from 0.2·N(0, 1): ω and δ away from MIC(0)'s (1, 0) on many rows, so h matters.
struct RandomRelaxationGnn {
  static constexpr std::size_t kLayers = 2;
  FactorGnn gnn{[] {
                  FactorGnnOptions options;
                  options.reference = ReferenceFactor::mic0;
                  options.correction = Correction::relaxation;
                  options.width = 8;
                  options.layers = kLayers;
                  return options;
                }(),
                5};
  RandomRelaxationGnn() { karman::testing::randomise_parameters(gnn.parameters(), 29, 0.2); }
};

// max |l_p − reference_p| over the first `count` values.
double worst_difference(const std::vector<double>& l, const std::vector<double>& reference,
                        std::int64_t count) {
  double worst = 0.0;
  for (std::int64_t p = 0; p < count; ++p) worst = std::max(worst, std::abs(l[p] - reference[p]));
  return worst;
}

}  // namespace

TEST(PrecondAsm, RelaxationBlocksTakeTheGlobalGridSpacing) {
  // Poisson 2D 24², the relaxation model under block Jacobi, ASM(2) with the cut hidden, and
  // ASM(2) with it lumped. Every block must report the global row count (its h is the whole
  // grid's). Rank 0 holds the first grid lines in natural order: a row more than K + 1 lines
  // before the first cut-affected line (the last of rank 0's own lines) has the features it has
  // in the whole matrix (node features see 1 hop, K layers K more, edge features MIC(0) values of
  // earlier rows), and so has every row before it: its row of L must equal the one-rank factor's.
  // With h from the block's own rows the same rows must differ (the test can fail).
  const PetscInt n = 24;
  petsc::Mat a, whole;
  create_poisson_2d(karman::test::world(), n, a.out());
  create_poisson_2d(PETSC_COMM_SELF, n, whole.out());
  RandomRelaxationGnn learned;
  const FactorProvider gnn = gnn_factor_provider(learned.gnn);
  const LocalBlock whole_block = local_block(whole);
  const std::vector<double> one_rank = gnn(whole_block, lower_pattern(whole_block));

  LocalBlock seen;
  std::vector<double> seen_l;
  const FactorProvider recording = [&](const LocalBlock& block, const LowerPattern& lower) {
    seen = block;
    seen_l = gnn(block, lower);
    return seen_l;
  };
  const int rank = karman::test::world_rank(), size = karman::test::world_size();
  const long untouched_lines =
      size == 1 ? n : n / size - static_cast<long>(RandomRelaxationGnn::kLayers) - 2;
  for (const ParallelPc& parallel : {kBjacobi, asm_pc(2), asm_pc(2, false, true)}) {
    const std::string name = parallel_pc_name(parallel);
    ASSERT_GT(timed_cg(a, parallel, recording).iterations, 0) << name;
    EXPECT_EQ(seen.problem_rows(), n * n) << name;
    if (rank != 0) continue;
    const LowerPattern lower = lower_pattern(seen);
    const std::int64_t compared = lower.row_ptr[untouched_lines * n];  // those rows' entries
    EXPECT_LT(worst_difference(seen_l, one_rank, compared), 1e-12) << name;
    if (size == 1) continue;
    LocalBlock own_spacing = seen;  // h from the block's own rows: the error this test guards
    own_spacing.global_rows = 0;
    EXPECT_GT(worst_difference(gnn(own_spacing, lower), one_rank, compared), 1e-6) << name;
  }
}

TEST(PrecondAsm, OverlappedBlockCarriesItsCutCoupling) {
  // Poisson 2D on 16×16 (16 grid lines, 16 / p per rank), overlap 1: a rank's block gains the
  // grid line beyond each cut side, and the coupling cut from it is exactly that line's 16 links
  // to the next line (one |−1| per row); every other row is whole. On one rank nothing is cut.
  // With cut: dirichlet the factor is given the same block with nothing cut.
  const PetscInt n = 16;
  petsc::Mat a;
  create_poisson_2d(karman::test::world(), n, a.out());
  std::vector<double> seen;  // this rank's block's dropped coupling
  const FactorProvider recording = [&seen](const LocalBlock& block, const LowerPattern& lower) {
    seen = block.dropped;
    return reference_values(block, lower, ReferenceFactor::mic0);
  };
  EXPECT_GT(timed_cg(a, asm_pc(1, false, false), recording).iterations, 0);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 0.0), static_cast<long>(seen.size()));
  EXPECT_GT(timed_cg(a, asm_pc(1, false, true), recording).iterations, 0);
  const int rank = karman::test::world_rank(), size = karman::test::world_size();
  const long cut_sides = (rank > 0) + (rank < size - 1);
  const long lines = n / size + cut_sides;  // the rank's lines plus one beyond each cut
  ASSERT_EQ(static_cast<long>(seen.size()), lines * n);
  const long ones = std::count(seen.begin(), seen.end(), 1.0);
  const long zeros = std::count(seen.begin(), seen.end(), 0.0);
  EXPECT_EQ(ones, cut_sides * n);
  EXPECT_EQ(ones + zeros, static_cast<long>(seen.size()));  // nothing but 0 and 1
}

TEST(PrecondAsm, KarmanIc0BlocksArePetscIccBlocks) {
  // The default karman factor is IC(0) of its block, which ignores the cut coupling: ASM with
  // karman blocks must be PETSc's ASM with ICC blocks (same overlap, same type), iteration for
  // iteration, at any rank count.
  petsc::Mat a;
  create_poisson_2d(karman::test::world(), 32, a.out());
  const ParallelPc parallel = asm_pc(2);
  const long karman = timed_cg(a, parallel, {}).iterations;

  petsc::KSP ksp;
  petsc::Vec b, x;
  KARMAN_PETSC(KSPCreate(karman::test::world(), ksp.out()));
  KARMAN_PETSC(KSPSetOperators(ksp, a, a));
  KARMAN_PETSC(KSPSetType(ksp, KSPCG));
  KARMAN_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
  KARMAN_PETSC(KSPSetTolerances(ksp, 1e-8, 0.0, PETSC_DEFAULT, 10 * 32 * 32));
  PC pc;
  KARMAN_PETSC(KSPGetPC(ksp, &pc));
  KARMAN_PETSC(PCSetType(pc, PCASM));
  KARMAN_PETSC(PCASMSetOverlap(pc, 2));
  KARMAN_PETSC(PCASMSetType(pc, PC_ASM_BASIC));
  KARMAN_PETSC(KSPSetUp(ksp));
  KSP* sub = nullptr;
  PetscInt blocks = 0;
  KARMAN_PETSC(PCASMGetSubKSP(pc, &blocks, nullptr, &sub));
  for (PetscInt i = 0; i < blocks; ++i) {
    PC sub_pc;
    KARMAN_PETSC(KSPGetPC(sub[i], &sub_pc));
    KARMAN_PETSC(PCSetType(sub_pc, PCICC));
  }
  KARMAN_PETSC(MatCreateVecs(a, x.out(), b.out()));
  PetscInt first = 0, last = 0;
  KARMAN_PETSC(VecGetOwnershipRange(b, &first, &last));
  for (PetscInt i = first; i < last; ++i)  // timed_cg's b
    KARMAN_PETSC(VecSetValue(b, i, karman::standard_normal(2023, i), INSERT_VALUES));
  KARMAN_PETSC(VecAssemblyBegin(b));
  KARMAN_PETSC(VecAssemblyEnd(b));
  KARMAN_PETSC(KSPSolve(ksp, b, x));
  PetscInt icc = 0;
  KARMAN_PETSC(KSPGetIterationNumber(ksp, &icc));
  print("asm(2) + karman ic0", karman);
  print("asm(2) + icc", icc);
  EXPECT_EQ(karman, static_cast<long>(icc));
}

TEST(PrecondAsm, OverlapBeatsBlockJacobiAcrossRanks) {
  // MIC(0) and a learned (random GNN) factor on Poisson 2D 32²: on one rank every form is the same
  // factor of the whole matrix; on two, ASM with overlap 2 needs fewer iterations than block
  // Jacobi.
  petsc::Mat a;
  create_poisson_2d(karman::test::world(), 32, a.out());
  RandomGnn learned;
  const std::vector<std::pair<const char*, FactorProvider>> factors = {
      {"mic0", mic0()}, {"gnn", gnn_factor_provider(learned.gnn)}};
  for (const auto& [name, provider] : factors) {
    const long bjacobi = timed_cg(a, kBjacobi, provider).iterations;
    const long overlapped = timed_cg(a, asm_pc(2), provider).iterations;
    print(std::string("bjacobi + ") + name, bjacobi);
    print(std::string("asm(2) + ") + name, overlapped);
    ASSERT_GT(bjacobi, 0) << name;
    ASSERT_GT(overlapped, 0) << name;
    if (karman::test::world_size() == 1)
      EXPECT_EQ(overlapped, bjacobi) << name;
    else
      EXPECT_LT(overlapped, bjacobi) << name;
  }
}

TEST(PrecondAsm, WholeGridOverlapReproducesOneRank) {
  // Overlap n on an n×n grid covers every row from any rank: each rank's block is the whole
  // matrix (nothing cut), so M⁻¹ is the one-rank factor's (restricted) or p times it (basic; CG is
  // invariant to the scale). Same iteration count and residual history as the sequential solve.
  const PetscInt n = 24;
  petsc::Mat a, whole;
  create_poisson_2d(karman::test::world(), n, a.out());
  create_poisson_2d(PETSC_COMM_SELF, n, whole.out());
  RandomGnn learned;
  const std::vector<std::pair<const char*, FactorProvider>> factors = {
      {"mic0", mic0()}, {"gnn", gnn_factor_provider(learned.gnn)}};
  for (const auto& [name, provider] : factors) {
    const CgRun one_rank = timed_cg(whole, provider);
    for (bool restricted : {false, true}) {
      const CgRun overlapped = timed_cg(a, asm_pc(n, restricted), provider);
      print(std::string(restricted ? "asm(n, restrict) + " : "asm(n, basic) + ") + name,
            overlapped.iterations);
      ASSERT_GT(one_rank.iterations, 0) << name;
      ASSERT_EQ(overlapped.iterations, one_rank.iterations) << name << " restricted " << restricted;
      double worst = 0.0;
      for (std::size_t k = 0; k < one_rank.residual_history.size(); ++k)
        worst = std::max(
            worst, std::abs(overlapped.residual_history[k] / one_rank.residual_history[k] - 1.0));
      EXPECT_LT(worst, 1e-6) << name << " restricted " << restricted;
    }
  }
}
