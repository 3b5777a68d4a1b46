// Partition-aware training validates ASM on one rank (TrainingOptions::partition_form asm): basic
// ASM with p subdomains on a sequential matrix (ParallelPc::subdomains) must be the ASM that p
// ranks run. At 1 and 2 ranks: the same CG iterations and residual history with MIC(0) blocks and
// with a δ-perturbed MIC(0) that reads the global size (δ_i = 8 h², h² = 1 / N).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "operators/precond/relaxed_ic.hpp"
#include "operators/precond/schwarz.hpp"
#include "operators/precond/training.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"
#include "support/kokkos_env.hpp"
#include "support/mpi_world.hpp"

namespace {

using namespace karman::precond;
namespace petsc = karman::petsc;

FactorProvider mic0() {
  return [](const LocalBlock& block, const LowerPattern& lower) {
    return reference_values(block, lower, ReferenceFactor::mic0);
  };
}

FactorProvider shifted_mic0() {
  return [](const LocalBlock& block, const LowerPattern&) {
    RowRelaxation relaxation = RowRelaxation::mic0(block.rows);
    std::fill(relaxation.shift.begin(), relaxation.shift.end(),
              8.0 / static_cast<double>(block.problem_rows()));
    return RelaxedIc(block, block.dropped).factor(relaxation);
  };
}

ParallelPc asm_pc(long overlap, long subdomains) {
  ParallelPc schwarz;
  schwarz.form = ParallelPc::Form::asm_;
  schwarz.overlap = overlap;
  schwarz.lump_cut = false;  // the dirichlet cut
  schwarz.subdomains = subdomains;
  return schwarz;
}

}  // namespace

TEST(PrecondPartitionAsmMpi, OneRankSubdomainsAreTheRanksAsm) {
  const PetscInt n = 32;
  const int ranks = karman::test::world_size();
  petsc::Mat distributed, whole;
  create_poisson_2d(karman::test::world(), n, distributed.out());
  create_poisson_2d(PETSC_COMM_SELF, n, whole.out());
  for (const long overlap : {2L, 4L})
    for (const bool shifted : {false, true}) {
      SCOPED_TRACE(testing::Message() << "overlap " << overlap << (shifted ? " δ = 8 h²" : ""));
      const FactorProvider provider = shifted ? shifted_mic0() : mic0();
      const CgRun on_ranks = timed_cg(distributed, asm_pc(overlap, 1), provider);
      const CgRun emulated = timed_cg(whole, asm_pc(overlap, ranks), provider);
      if (karman::test::world_rank() == 0)
        std::printf(
            "[ info ] 32^2, ASM %ld%s: %d ranks %ld iterations, one rank %d subdomains %ld\n",
            overlap, shifted ? ", delta 8 h^2" : "", ranks, on_ranks.iterations, ranks,
            emulated.iterations);
      ASSERT_GT(on_ranks.iterations, 0);
      EXPECT_EQ(emulated.iterations, on_ranks.iterations);
      ASSERT_EQ(emulated.residual_history.size(), on_ranks.residual_history.size());
      for (std::size_t k = 0; k < on_ranks.residual_history.size(); ++k)
        EXPECT_NEAR(emulated.residual_history[k], on_ranks.residual_history[k],
                    1e-8 * on_ranks.residual_history[0]);
    }
}
