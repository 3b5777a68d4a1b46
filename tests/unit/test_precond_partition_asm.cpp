// Partition-aware training on ASM's blocks (issue 19, item 3; TrainingOptions::partition_form
// asm): each rank's rows grown by the overlap, factored as they are (the dirichlet cut), with the
// global pairs restricted to the block's rows, and validation by one-rank ASM with p subdomains
// (ParallelPc::subdomains), the blocks p ranks would factor.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "operators/precond/schwarz.hpp"
#include "operators/precond/training.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"
#include "support/kokkos_env.hpp"

namespace {

using namespace karman::precond;
namespace petsc = karman::petsc;

TrainingPairs poisson_pairs(PetscInt n, long rhs, std::uint64_t seed) {
  petsc::Mat a;
  create_poisson_2d(PETSC_COMM_SELF, n, a.out());
  return make_training_pairs(a, rhs, seed);
}

PartitionForm asm_form(long overlap) {
  PartitionForm form;
  form.kind = PartitionForm::Kind::asm_;
  form.overlap = overlap;
  return form;
}

// The relaxation model of cases/precond/poisson2d.yaml (δ only), smaller.
FactorGnnOptions relaxation_model() {
  FactorGnnOptions model;
  model.reference = ReferenceFactor::mic0;
  model.correction = Correction::relaxation;
  model.relaxation_bound = 0.0;
  model.width = 8;
  model.layers = 2;
  return model;
}

}  // namespace

TEST(PrecondPartitionAsm, BlocksAreTheRowBlocksGrownByTheOverlap) {
  // 10 × 10 grid lines of 10 rows, 2 ranks: rows [0, 50) and [50, 100). Overlap 2 (5-point
  // stencil: one grid line per layer) gives lines 0–6 and 3–9: 70 rows each, the 5-point matrix
  // of a 7 × 10 grid (5·70 − 2·(7 + 10) = 316 entries), nothing dropped, h from the 100 rows.
  const TrainingPairs pairs = poisson_pairs(10, 3, 1);
  const std::vector<TrainingPairs> blocks = partition_training_pairs(pairs, 2, asm_form(2));
  ASSERT_EQ(blocks.size(), 2u);
  const long first_row[] = {0, 30};
  auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pairs.x);
  for (long q = 0; q < 2; ++q) {
    SCOPED_TRACE(q);
    const TrainingPairs& block = blocks[q];
    EXPECT_EQ(block.a.rows, 70);
    EXPECT_EQ(block.a.nnz(), 316);
    EXPECT_EQ(block.a.problem_rows(), 100);
    for (long i = 0; i < block.a.rows; ++i) EXPECT_EQ(block.a.dropped_at(i), 0.0);
    EXPECT_EQ(static_cast<long>(block.ic0.size()), lower_pattern(block.a).nnz());
    // The global pairs restricted: the block's row i is global row first_row + i.
    auto bx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), block.x);
    ASSERT_EQ(bx.extent(0), 70u);
    ASSERT_EQ(bx.extent(1), 3u);
    for (long i = 0; i < 70; ++i)
      for (long s = 0; s < 3; ++s) ASSERT_EQ(bx(i, s), hx(first_row[q] + i, s));
  }
  // Overlap 0: block Jacobi's blocks, without their dropped coupling.
  const std::vector<TrainingPairs> cut = partition_training_pairs(pairs, 2);
  const std::vector<TrainingPairs> bare = partition_training_pairs(pairs, 2, asm_form(0));
  ASSERT_EQ(bare.size(), 2u);
  EXPECT_EQ(bare[1].a.rows, cut[1].a.rows);
  EXPECT_EQ(bare[1].a.nnz(), cut[1].a.nnz());
  EXPECT_EQ(cut[1].a.dropped_at(0), 1.0);  // the line below the cut
  EXPECT_EQ(bare[1].a.dropped_at(0), 0.0);
  EXPECT_THROW(partition_training_pairs(pairs, 2, asm_form(-1)), karman::ConfigError);
}

TEST(PrecondPartitionAsm, OneRankSubdomainsWithoutOverlapAreBlockJacobi) {
  // IC(0) does not read the cut, so ASM with 3 subdomains and overlap 0 applies the block-Jacobi
  // factor of partitioned_provider: the same CG, iteration for iteration.
  petsc::Mat a;
  create_poisson_2d(PETSC_COMM_SELF, 24, a.out());
  const FactorProvider ic0 = [](const LocalBlock& block, const LowerPattern& lower) {
    return ic0_values(block, lower);
  };
  ParallelPc schwarz;
  schwarz.form = ParallelPc::Form::asm_;
  schwarz.overlap = 0;
  schwarz.lump_cut = false;
  schwarz.subdomains = 3;
  const long blocks = cg_iterations(a, partitioned_provider(ic0, 3));
  const long whole = cg_iterations(a, ic0);
  EXPECT_EQ(timed_cg(a, schwarz, ic0).iterations, blocks);
  EXPECT_GT(blocks, whole);  // the cut costs iterations: the subdomains are in effect
  schwarz.overlap = 24;  // every subdomain the whole grid: M⁻¹ = 3 (L Lᵀ)⁻¹, CG as one rank
  EXPECT_EQ(timed_cg(a, schwarz, ic0).iterations, whole);
}

TEST(PrecondPartitionAsm, OverlapCoveringTheGridTrainsAsOneRank) {
  // With an overlap covering the grid every ASM block is the whole matrix: the mean loss over
  // (matrix, p) and the validation counts per p equal one-rank training's, step for step.
  std::vector<TrainingPairs> train;
  train.push_back(poisson_pairs(6, 4, 1));
  train.push_back(poisson_pairs(8, 4, 2));
  std::vector<TrainingPairs> validation;
  validation.push_back(poisson_pairs(10, 1, 3));
  TrainingOptions options;
  options.loss = TrainingLoss::condition;
  options.steps = 4;
  options.select_every = 2;

  FactorGnn one_rank(relaxation_model(), 7);
  const TrainingReport whole = train_factor_gnn(one_rank, train, validation, options);
  options.partitions = {1, 3};
  options.partition_form = asm_form(100);
  FactorGnn covered(relaxation_model(), 7);
  const TrainingReport blocks = train_factor_gnn(covered, train, validation, options);
  std::printf("[ precond ] selected loss one rank %.10e, 3 covering ASM blocks %.10e\n",
              whole.selected_loss, blocks.selected_loss);
  EXPECT_NEAR(blocks.selected_loss, whole.selected_loss, 1e-9 * whole.selected_loss);
  ASSERT_EQ(blocks.best_by_partition.size(), 2u);
  EXPECT_EQ(blocks.best_by_partition[0], whole.best_iterations);
  EXPECT_EQ(blocks.best_by_partition[1], whole.best_iterations);
  // Block Jacobi's blocks at p = 3 are not the whole matrix: the loss differs.
  options.partition_form = PartitionForm{};
  FactorGnn bjacobi(relaxation_model(), 7);
  const TrainingReport cut = train_factor_gnn(bjacobi, train, validation, options);
  EXPECT_GT(std::abs(cut.selected_loss - whole.selected_loss), 1e-6 * whole.selected_loss);
}
