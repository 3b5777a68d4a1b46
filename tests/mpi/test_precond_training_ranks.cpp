// The trained factor on a communicator (1 and 2 ranks): cg_iterations is collective and the
// karman PC factors each rank's diagonal block. Every rank trains the same model on its own
// (single-rank training, same seeds), so the parameters agree bit for bit across ranks; the
// untrained GNN reproduces IC(0) iteration for iteration, and the trained one beats block IC(0).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "operators/precond/training.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"
#include "support/kokkos_env.hpp"
#include "support/mpi_world.hpp"

namespace {

using namespace karman::precond;
namespace petsc = karman::petsc;

FactorProvider ic0_provider() {
  return [](const CsrMatrix& a, const LowerPattern& lower) { return ic0_values(a, lower); };
}

TrainingPairs poisson_pairs(PetscInt n, std::uint64_t seed) {
  petsc::Mat a;
  create_poisson_2d(PETSC_COMM_SELF, n, a.out());
  return make_training_pairs(a, 8, seed);
}

}  // namespace

TEST(PrecondTrainingRanks, TrainedFactorBeatsBlockIcZero) {
  FactorGnn gnn;
  karman::nn::Parameters<double> parameters;
  gnn.declare(parameters);
  parameters.allocate();
  gnn.initialize(7);

  petsc::Mat a;
  create_poisson_2d(karman::test::world(), 32, a.out());
  const long ic0 = cg_iterations(a, ic0_provider());
  EXPECT_EQ(cg_iterations(a, gnn_factor_provider(gnn)), ic0) << "the untrained GNN is IC(0)";

  std::vector<TrainingPairs> train, validation;
  train.push_back(poisson_pairs(12, 1));
  train.push_back(poisson_pairs(16, 2));
  validation.push_back(poisson_pairs(20, 3));
  TrainingOptions options;
  options.steps = 50;
  options.select_every = 25;
  train_factor_gnn(gnn, parameters, train, validation, options);

  // Same parameters on every rank: rank 0's copy, broadcast, compared entry by entry.
  auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.values());
  std::vector<double> root(values.data(), values.data() + values.extent(0));
  MPI_Bcast(root.data(), static_cast<int>(root.size()), MPI_DOUBLE, 0, karman::test::world());
  long differing = 0;
  for (std::size_t i = 0; i < root.size(); ++i) differing += root[i] != values(i);
  EXPECT_EQ(differing, 0) << "the ranks trained different models";

  const long learned = cg_iterations(a, gnn_factor_provider(gnn));
  if (karman::test::world_rank() == 0)
    std::printf(
        "[ precond ] Poisson 32^2 at %d rank(s): CG iterations block IC(0) %ld, learned %ld\n",
        karman::test::world_size(), ic0, learned);
  EXPECT_GT(learned, 0);
  EXPECT_LT(learned, ic0);
}
