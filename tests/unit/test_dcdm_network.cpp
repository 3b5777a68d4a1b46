// DCDM's FNO direction map (operators/precond/dcdm_network.hpp) on a small obstacle problem:
// trained 400 Adam steps on Ritz training vectors at 16², it lowers the scale-free loss on
// held-out vectors, and inside -ksp_type dcdm it needs fewer iterations than the untrained
// network and than the identity map (= CG) at the training size; at a held-out size (24², the
// same obstacles finer resolved) it converges.
// The multilevel CNN (plain and symmetric) trained at 16² beats CG at 16², 32² (and, symmetric,
// 64²). The loss's gradient is checked in test_dcdm; the FNO's layers in test_fno_layers, the
// CNN's in test_cnn_layers.
#include <gtest/gtest.h>

#include <cstdio>
#include <stdexcept>
#include <vector>

#include "karman/nn/optimizer.hpp"
#include "operators/precond/dcdm_network.hpp"
#include "operators/precond/petsc_factor.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"
#include "support/kokkos_env.hpp"

namespace {

using namespace karman::precond;
namespace petsc = karman::petsc;

constexpr int kCnnSteps = 200;  // Adam steps of the CNN transfer test

// DCDM on grid's matrix, b = 1 on every fluid cell, x0 = 0, rtol `rtol`; the direction map is
// the network, or the identity when `network` is null. Returns the iterations (-1: failed).
PetscInt dcdm_iterations(const ObstacleGrid& grid, DcdmNetwork* network, double rtol) {
  petsc::Mat a;
  create_seq_aij(grid.a, a.out());
  petsc::KSP ksp;
  petsc::Vec b, x;
  KARMAN_PETSC(KSPCreate(PETSC_COMM_SELF, ksp.out()));
  KARMAN_PETSC(KSPSetOperators(ksp, a, a));
  KARMAN_PETSC(KSPSetType(ksp, "dcdm"));
  KARMAN_PETSC(KSPSetTolerances(ksp, rtol, 1e-50, PETSC_DEFAULT, 1000));
  PC pc;
  KARMAN_PETSC(KSPGetPC(ksp, &pc));
  if (network)
    set_network_pc(pc, *network, grid);
  else
    KARMAN_PETSC(PCSetType(pc, PCNONE));
  KARMAN_PETSC(MatCreateVecs(a, x.out(), b.out()));
  KARMAN_PETSC(VecSet(b, 1.0));
  KARMAN_PETSC(KSPSolve(ksp, b, x));
  KSPConvergedReason reason;
  PetscInt its = 0;
  KARMAN_PETSC(KSPGetConvergedReason(ksp, &reason));
  KARMAN_PETSC(KSPGetIterationNumber(ksp, &its));
  return reason > 0 ? its : -1;
}

TEST(DcdmNetwork, TrainingLowersTheLossAndTheIterations) {
  const ObstacleGrid train_grid = obstacle_poisson_2d(16, obstacles_2d(16, 4, 3));
  const ObstacleGrid held_out_grid = obstacle_poisson_2d(24, obstacles_2d(24, 4, 3));
  const RitzPairs ritz = lanczos_ritz_pairs(train_grid.a, 80, 1);
  const auto train = ritz_training_vectors(ritz, 64, 0, 9.0, 2);
  const auto held_out = ritz_training_vectors(ritz, 16, 0, 9.0, 3);
  karman::fno::FnoSpec spec;
  spec.modes = {8, 8};
  spec.width = 16;
  spec.layers = 3;
  spec.projection = 24;
  spec.padding = {0, 0};
  spec.seed = 5;
  DcdmNetwork network(spec);
  karman::nn::OptimizerOptions adam;
  auto optimizer = karman::nn::make_optimizer<double>(adam, network.parameters());
  const double before = network.mean_loss(train_grid, held_out);
  const PetscInt untrained = dcdm_iterations(train_grid, &network, 1e-4);
  const std::size_t batch = 8;
  for (int step = 0; step < 400; ++step) {
    const std::size_t first = (step * batch) % train.size();
    const std::vector<std::vector<double>> chunk(train.begin() + first,
                                                 train.begin() + first + batch);
    network.train_step(train_grid, chunk, *optimizer, 3e-3);
  }
  const double after = network.mean_loss(train_grid, held_out);
  const PetscInt cg = dcdm_iterations(train_grid, nullptr, 1e-4);
  const PetscInt trained = dcdm_iterations(train_grid, &network, 1e-4);
  const PetscInt cg_held_out = dcdm_iterations(held_out_grid, nullptr, 1e-4);
  const PetscInt trained_held_out = dcdm_iterations(held_out_grid, &network, 1e-4);
  std::printf("loss %.4g -> %.4g; 16^2: CG %d, untrained %d, trained %d; 24^2: CG %d, trained %d\n",
              before, after, static_cast<int>(cg), static_cast<int>(untrained),
              static_cast<int>(trained), static_cast<int>(cg_held_out),
              static_cast<int>(trained_held_out));
  // Measured (this machine, Serial Kokkos): loss 1.06 -> 0.10; 16²: CG 41, untrained no
  // convergence in 1000, trained 16; 24²: CG 60, trained 63.
  EXPECT_LT(after, 0.5 * before);
  ASSERT_GT(trained, 0);
  EXPECT_TRUE(untrained < 0 || trained < untrained) << "training did not help DCDM";
  EXPECT_LT(trained, cg);  // at the training size the learned directions beat CG's
  // At the held-out size it converges but is no better than CG yet (a 16² FNO with 8 modes
  // sees none of 24²'s highest frequencies): the target of the next slice, not asserted here.
  EXPECT_GT(trained_held_out, 0);
}

// `steps` Adam steps of `network` on batches of 8 of `train` at `grid`, in turn.
void train_cnn(DcdmNetwork& network, const ObstacleGrid& grid,
               const std::vector<std::vector<double>>& train, int steps) {
  karman::nn::OptimizerOptions adam;
  auto optimizer = karman::nn::make_optimizer<double>(adam, network.parameters());
  const std::size_t batch = 8;
  for (int step = 0; step < steps; ++step) {
    const std::size_t first = (step * batch) % train.size();
    const std::vector<std::vector<double>> chunk(train.begin() + first,
                                                 train.begin() + first + batch);
    network.train_step(grid, chunk, *optimizer, 3e-3);
  }
}

// The multilevel CNN direction map trained briefly at 16² beats CG at 16² and, with the same
// weights, at 32² (the same obstacles finer resolved): the size transfer the FNO lacks. The
// symmetric map (model.symmetric) too, and it carries on to 64².
class CnnTransfer : public ::testing::TestWithParam<bool> {};

TEST_P(CnnTransfer, CnnTrainedAt16TransfersTo32) {
  const bool symmetric = GetParam();
  const ObstacleGrid train_grid = obstacle_poisson_2d(16, obstacles_2d(16, 4, 3));
  const ObstacleGrid held_out_grid = obstacle_poisson_2d(32, obstacles_2d(32, 4, 3));
  const RitzPairs ritz = lanczos_ritz_pairs(train_grid.a, 80, 1);
  const auto train = ritz_training_vectors(ritz, 64, 0, 9.0, 2);
  CnnSpec spec;
  spec.width = 8;
  spec.levels = 2;  // 16² has depth 3 (16, 8, 4): the shared level is trained at 8² and 4²
  spec.blocks = 1;
  spec.symmetric = symmetric;
  DcdmNetwork network(spec);
  train_cnn(network, train_grid, train, kCnnSteps);
  const PetscInt cg = dcdm_iterations(train_grid, nullptr, 1e-4);
  const PetscInt trained = dcdm_iterations(train_grid, &network, 1e-4);
  const PetscInt cg_held_out = dcdm_iterations(held_out_grid, nullptr, 1e-4);
  const PetscInt trained_held_out = dcdm_iterations(held_out_grid, &network, 1e-4);
  std::printf("CNN%s: 16^2: CG %d, trained %d; 32^2: CG %d, trained %d\n",
              symmetric ? " (symmetric)" : "", static_cast<int>(cg), static_cast<int>(trained),
              static_cast<int>(cg_held_out), static_cast<int>(trained_held_out));
  // Measured (this machine, Serial Kokkos): 16²: CG 41, trained 12; 32²: CG 80, trained 17.
  ASSERT_GT(trained, 0);
  ASSERT_GT(trained_held_out, 0);
  EXPECT_LT(trained, cg);
  EXPECT_LT(trained_held_out, cg_held_out);
  if (!symmetric) return;
  const ObstacleGrid larger = obstacle_poisson_2d(64, obstacles_2d(64, 4, 3));
  const PetscInt cg_larger = dcdm_iterations(larger, nullptr, 1e-4);
  const PetscInt trained_larger = dcdm_iterations(larger, &network, 1e-4);
  std::printf("CNN (symmetric): 64^2: CG %d, trained %d\n", static_cast<int>(cg_larger),
              static_cast<int>(trained_larger));
  ASSERT_GT(trained_larger, 0);
  EXPECT_LT(trained_larger, cg_larger / 2);
}

INSTANTIATE_TEST_SUITE_P(Maps, CnnTransfer, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Symmetric" : "Plain"; });

TEST(DcdmNetwork, VectorOfTheWrongSizeIsAnError) {
  const ObstacleGrid grid = obstacle_poisson_2d(8, obstacles_2d(8, 2, 1));
  karman::fno::FnoSpec spec;
  spec.modes = {4, 4};
  spec.width = 4;
  spec.layers = 1;
  spec.projection = 4;
  spec.padding = {0, 0};
  DcdmNetwork network(spec);
  EXPECT_THROW(network.apply(grid, std::vector<double>(grid.a.rows + 1, 1.0)),
               std::invalid_argument);
  EXPECT_EQ(network.apply(grid, std::vector<double>(grid.a.rows, 1.0)).size(),
            static_cast<std::size_t>(grid.a.rows));
}

}  // namespace
