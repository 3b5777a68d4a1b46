// Causal training (pinn/causal.hpp): the weights against their closed form, the tolerance
// schedule's advance when min w > δ (and only then), and the weighted residual loss of
// ResidualLoss: its value is (1/N) Σ_b w_b S_b from the recorded bin sums S_b, and its gradient
// is Σ_b w_b ∇L_b with the weights held fixed (stop-gradient) — central differences of the loss
// with the same weights, float64.
#include <gtest/gtest.h>

#include <cmath>

#include "karman/core/random.hpp"
#include "karman/nn/sequential.hpp"
#include "pinn/causal.hpp"
#include "pinn/residual_loss.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;

namespace {

// n points (x, t) of [−1, 1) × [0, 1], counter-based.
std::vector<double> space_time_points(long n, std::uint64_t seed) {
  std::vector<double> p;
  for (long i = 0; i < n; ++i) {
    p.push_back(2 * uniform01(seed, 2 * i) - 1);
    p.push_back(uniform01(seed, 2 * i + 1));
  }
  return p;
}

}  // namespace

TEST(PinnCausal, WeightsFollowTheClosedForm) {
  const std::vector<double> losses{0.5, 1.0, 0.25, 2.0};
  const std::vector<double> w = pinn::causal_weights(losses, 0.3);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0], 1.0);  // nothing before the first bin
  EXPECT_NEAR(w[1], std::exp(-0.3 * 0.5), 1e-15);
  EXPECT_NEAR(w[2], std::exp(-0.3 * 1.5), 1e-15);
  EXPECT_NEAR(w[3], std::exp(-0.3 * 1.75), 1e-15);  // the last bin's own loss does not count
}

TEST(PinnCausal, ScheduleAdvancesOnlyWhenEveryWeightExceedsDelta) {
  pinn::CausalSchedule schedule({3, {1.0, 10.0, 100.0}, 0.9});
  EXPECT_EQ(schedule.min_weight(), 1.0);  // before any losses: all bins count
  // Σ_{k<2} L_k = 1: min w = e^−1 < 0.9 under ε = 1; it stays.
  schedule.update({0.5, 0.5, 7.0});
  EXPECT_EQ(schedule.level(), 0u);
  EXPECT_NEAR(schedule.min_weight(), std::exp(-1.0), 1e-15);
  // Σ_{k<2} L_k = 0.01: min w = e^−0.01 > 0.9; ε moves to 10 and the weights follow it.
  schedule.update({0.004, 0.006, 7.0});
  EXPECT_EQ(schedule.level(), 1u);
  EXPECT_EQ(schedule.epsilon(), 10.0);
  EXPECT_NEAR(schedule.min_weight(), std::exp(-0.1), 1e-15);
  // One step at a time: e^−0.1 > 0.9 moves it to 100, not beyond; the last ε stays for good.
  schedule.update({0.004, 0.006, 7.0});
  EXPECT_EQ(schedule.level(), 2u);
  schedule.update({0.0, 0.0, 0.0});
  EXPECT_EQ(schedule.level(), 2u);
  EXPECT_EQ(schedule.epsilon(), 100.0);
}

// Allen–Cahn on [−1, 1) × [0, 1] with 4 time bins and fixed weights.
TEST(PinnCausal, GradientIsTheWeightedSumOfBinGradientsWithFixedWeights) {
  config::PdeSpec pde;
  pde.type = config::PdeType::allen_cahn;
  pde.epsilon = 1e-2;
  pde.reaction = 5.0;
  pde.initial = config::FieldSpec{config::FieldSpec::Source::expression,
                                  Expression("x^2*cos(pi*x)", Place{}),
                                  "",
                                  "",
                                  {},
                                  Place{}};
  mesh::GridShape box;
  box.dim = 2;
  box.lower = {-1.0, 0.0};
  box.upper = {1.0, 1.0};
  nn::Network<double> net(nn::make_mlp<double>({2, 8, 8, 1}, nn::Activation::tanh), 3);
  const long n = 40;
  pinn::ResidualLoss<double> loss(net, pde, box, {space_time_points(n, 1), n},
                                  {space_time_points(6, 2), 6}, {space_time_points(6, 3), 6},
                                  pinn::LossWeights{});
  const std::vector<double> weights{1.0, 0.5, 0.2, 0.05};
  loss.set_time_bins(4);
  loss.set_time_weights(weights);
  // The total loss (residual, periodic, initial; the gradient is the total's), and its
  // residual term.
  double residual = 0;
  auto total = [&] {
    net.parameters().zero_gradients();
    const auto terms = loss();
    EXPECT_EQ(terms.front().name, "residual");
    residual = terms.front().value;  // weight 1
    return nn::total_loss(terms);
  };
  total();
  const double value = residual;
  const std::vector<double> gradient = karman::testing::parameter_gradient(net);
  // The value: (1/N) Σ_b w_b S_b; every bin holds points.
  const std::vector<double> sums = loss.bin_sums();
  double weighted = 0;
  for (std::size_t b = 0; b < 4; ++b) {
    EXPECT_GT(sums[b], 0.0) << "bin " << b;
    weighted += weights[b] * sums[b];
  }
  EXPECT_NEAR(value, weighted / n, 1e-14 * value);
  // The gradient: central differences of the same loss, the weights unchanged between them.
  const std::vector<double> numeric =
      karman::testing::numeric_gradient(net.parameters().values(), total);
  EXPECT_LT(karman::testing::relative_error(gradient, numeric),
            karman::testing::kGradientTolerance);
  // And not the unweighted gradient (the weights do act).
  loss.set_time_weights({1.0, 1.0, 1.0, 1.0});
  total();
  EXPECT_GT(karman::testing::relative_error(karman::testing::parameter_gradient(net), gradient),
            1e-2);
}
