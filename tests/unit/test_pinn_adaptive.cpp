// Adaptive collocation points (pinn/adaptive.hpp): RAR picks exactly the candidates of largest
// residual (ties by index); RAD's density is the closed form |r|^k / mean |r|^k + c normalised,
// and its draws follow it (every candidate's frequency within 5 standard deviations of its
// probability over 200 000 draws); ResidualLoss::residual_squares are the residual term's
// summands.
#include <gtest/gtest.h>

#include <cmath>

#include "karman/core/random.hpp"
#include "karman/nn/sequential.hpp"
#include "pinn/adaptive.hpp"
#include "pinn/residual_loss.hpp"
#include "support/kokkos_env.hpp"

using namespace karman;

TEST(PinnAdaptive, RarPicksTheLargestResidualsTiesByIndex) {
  EXPECT_EQ(pinn::largest_residuals({3, 1, 5, 5, 0, 2}, 3), (std::vector<long>{0, 2, 3}));
  EXPECT_EQ(pinn::largest_residuals({3, 1, 5, 5, 0, 2}, 1), (std::vector<long>{2}));
  EXPECT_EQ(pinn::largest_residuals({1, 1, 1, 1}, 2), (std::vector<long>{0, 1}));
  EXPECT_EQ(pinn::largest_residuals({0, 7, 1, 7}, 4), (std::vector<long>{0, 1, 2, 3}));
}

TEST(PinnAdaptive, RadDrawsFollowTheResidualDensity) {
  // |r_i| = i/n on n candidates, k = 2, c = 0.5: p_i ∝ r_i² / mean r² + 0.5.
  const long n = 50, draws = 200000;
  const double k = 2.0, c = 0.5;
  std::vector<double> squares(n);
  double mean = 0;
  for (long i = 0; i < n; ++i) mean += (squares[i] = std::pow(double(i) / n, 2)) / n;
  std::vector<double> expected(n);
  double total = 0;
  for (long i = 0; i < n; ++i) total += (expected[i] = squares[i] / mean + c);
  const std::vector<double> p = pinn::residual_density(squares, k, c);
  for (long i = 0; i < n; ++i) EXPECT_NEAR(p[i], expected[i] / total, 1e-15) << i;
  EXPECT_GT(p[0], 0.0);  // a zero residual keeps the uniform share c

  std::vector<long> hits(n, 0);
  for (long i : pinn::residual_density_draws(squares, k, c, draws, 11)) ++hits.at(i);
  for (long i = 0; i < n; ++i) {
    const double frequency = double(hits[i]) / draws;
    EXPECT_NEAR(frequency, p[i], 5 * std::sqrt(p[i] * (1 - p[i]) / draws)) << "candidate " << i;
  }
  // k = 1 on the same residuals puts less weight on the largest than k = 2.
  EXPECT_LT(pinn::residual_density(squares, 1.0, c).back(), p.back());
}

TEST(PinnAdaptive, ResidualSquaresAreTheResidualTermsSummands) {
  config::PdeSpec pde;
  pde.type = config::PdeType::poisson;
  pde.source = Expression("2*pi^2*sin(pi*x)*sin(pi*y)", Place{});
  pde.boundary = Expression("0", Place{});
  mesh::GridShape box;
  box.dim = 2;
  nn::Network<double> net(nn::make_mlp<double>({2, 8, 8, 1}, nn::Activation::tanh), 3);
  std::vector<double> points;
  for (int i = 0; i < 2 * 24; ++i) points.push_back(uniform01(5, i));
  const pinn::PointSet interior{points, 24};
  pinn::ResidualLoss<double> with_boundary(net, pde, box, interior, {{0.0, 0.5, 1.0, 0.5}, 2}, {},
                                           pinn::LossWeights{});
  const double residual = with_boundary().front().value;
  // Candidates alone (no boundary points), as adaptive sampling evaluates them.
  pinn::ResidualLoss<double> candidates(net, pde, box, interior, {}, {}, pinn::LossWeights{});
  const std::vector<double> squares = candidates.residual_squares();
  ASSERT_EQ(squares.size(), 24u);
  double sum = 0;
  for (double s : squares) sum += s;
  EXPECT_GT(sum, 0.0);
  EXPECT_NEAR(sum / 24, residual, 1e-14 * residual);
}
