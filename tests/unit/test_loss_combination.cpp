// Loss-combination rules (nn/loss_combination.hpp): the ConFIG direction has the same positive
// inner product with every unit term gradient, its two-term closed form equals the general
// Gram-system one, and it removes the conflict of a pair whose plain sum raises one term;
// M-ConFIG back-propagates one term per step round-robin and gives, once every term was seen,
// the reference's Adam-scaled ConFIG of the momenta; annealing's weights follow
// λ ← αλ + (1 − α) max|g_0| / mean|g_i|; a restored rule continues bitwise; and the PINN's
// per-term gradients (TermHooks) match central differences of each term and add up to the
// gradient of the weighted sum.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "karman/core/random.hpp"
#include "karman/nn/loss_combination.hpp"
#include "karman/nn/sequential.hpp"
#include "pinn/residual_loss.hpp"
#include "support/kokkos_env.hpp"

using namespace karman;
using Rows = std::vector<std::vector<double>>;

namespace {

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

Rows random_rows(std::size_t m, std::size_t p, std::uint64_t seed) {
  Rows rows(m, std::vector<double>(p));
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t k = 0; k < p; ++k) rows[i][k] = 2 * uniform01(seed, i * p + k) - 1;
  return rows;
}

// g_iᵀ g / |g_i| for every i.
std::vector<double> unit_projections(const Rows& g, const std::vector<double>& direction) {
  std::vector<double> out;
  for (const auto& gi : g) out.push_back(dot(gi, direction) / std::sqrt(dot(gi, gi)));
  return out;
}

}  // namespace

TEST(LossCombination, ConfigIsEquallyAndPositivelyInclinedToEveryTerm) {
  for (std::size_t m : {2, 3, 5}) {
    Rows g = random_rows(m, 40, 11 + m);
    g[0][0] += 30;  // one term much larger than the others, as a PINN's residual often is
    const std::vector<double> d = nn::config_direction(g);
    const std::vector<double> p = unit_projections(g, d);
    for (std::size_t i = 0; i < m; ++i) {
      EXPECT_GT(p[i], 0) << "m " << m << " term " << i;
      EXPECT_NEAR(p[i], p[0], 1e-12 * std::abs(p[0])) << "m " << m << " term " << i;
    }
    // Length: the sum of the gradients' projections on the unit direction.
    const double length = std::sqrt(dot(d, d));
    double projections = 0;
    for (const auto& gi : g) projections += dot(gi, d) / length;
    EXPECT_NEAR(length, projections, 1e-12 * length);
  }
}

TEST(LossCombination, TwoTermClosedFormEqualsTheGeneralSolve) {
  for (std::uint64_t seed : {1, 2, 3}) {
    const Rows g = random_rows(2, 25, seed);
    const std::vector<double> general = nn::config_direction(g);
    const std::vector<double> closed = nn::config_direction_two(g[0], g[1]);
    for (std::size_t k = 0; k < general.size(); ++k)
      EXPECT_NEAR(closed[k], general[k], 1e-13 * std::sqrt(dot(general, general))) << k;
  }
}

TEST(LossCombination, ConfigRemovesTheConflictOfAPair) {
  // The plain sum (9, 1, 0) has a negative inner product with g_2: a sum step raises term 2.
  const Rows g{{10, 0, 0}, {-1, 1, 0}};
  std::vector<double> sum{9, 1, 0};
  EXPECT_LT(dot(sum, g[1]), 0);
  for (const auto& d : {nn::config_direction(g), nn::config_direction_two(g[0], g[1])}) {
    const std::vector<double> p = unit_projections(g, d);
    EXPECT_GT(p[0], 0);
    EXPECT_GT(p[1], 0);
    EXPECT_NEAR(p[0], p[1], 1e-13);
  }
}

TEST(LossCombination, MconfigBackPropagatesOneTermPerStepRoundRobin) {
  const std::size_t m = 3, size = 20;
  nn::CombineOptions options;
  options.rule = "mconfig";
  nn::LossCombination rule(options, m, size);
  const Rows g = random_rows(m, size, 5);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (long step = 0; step < 3; ++step) {
    for (std::size_t k = 0; k < m; ++k)
      EXPECT_EQ(rule.wanted(step, k), k == static_cast<std::size_t>(step)) << step << " " << k;
    // Only the wanted row may be read: the others are NaN.
    Rows given(m, std::vector<double>(size, nan));
    given[static_cast<std::size_t>(step)] = g[static_cast<std::size_t>(step)];
    const std::vector<double> d = rule.combine(step, step, given);
    if (step < 2) {  // not every term seen yet: no step
      for (double x : d) EXPECT_EQ(x, 0.0);
      continue;
    }
    // Each momentum saw its gradient once: bias-corrected, it is that gradient, so the ConFIG of
    // the momenta is ConFIG(g); the first pseudo-gradient is that direction itself, and the
    // reference divides by √ŝ + 1e-8 = |c_k| + 1e-8 entrywise.
    const std::vector<double> c = nn::config_direction(g);
    for (std::size_t k = 0; k < size; ++k)
      EXPECT_NEAR(d[k], c[k] / (std::abs(c[k]) + 1e-8), 1e-12) << k;
  }
  EXPECT_TRUE(rule.wanted(3, 0));
  EXPECT_FALSE(rule.wanted(3, 1));
}

TEST(LossCombination, AnnealingWeightsFollowTheFormula) {
  nn::CombineOptions options;
  options.rule = "annealing";
  options.alpha = 0.9;
  options.every = 2;
  nn::LossCombination rule(options, 2, 2);
  // max|g_0| = 3, mean|g_1| = 0.5: λ̂ = 6, λ = 0.9·1 + 0.1·6 = 1.5; g = g_0 + 1.5 g_1.
  const Rows g{{1, -3}, {0.5, -0.5}};
  std::vector<double> d = rule.combine(0, 0, g);
  EXPECT_NEAR(rule.weights()[1], 1.5, 1e-15);
  EXPECT_NEAR(d[0], 1.75, 1e-15);
  EXPECT_NEAR(d[1], -3.75, 1e-15);
  // Stage step 1 is not a multiple of every = 2: λ stays.
  d = rule.combine(1, 1, {{1, -3}, {2, 2}});
  EXPECT_NEAR(rule.weights()[1], 1.5, 1e-15);
  // Stage step 2 updates again: λ̂ = 3/2, λ = 0.9·1.5 + 0.1·1.5 = 1.5; then λ̂ = 3/0.25 = 12.
  rule.combine(2, 2, {{1, -3}, {2, 2}});
  EXPECT_NEAR(rule.weights()[1], 1.5, 1e-15);
  rule.combine(4, 4, {{1, -3}, {0.25, 0.25}});
  EXPECT_NEAR(rule.weights()[1], 0.9 * 1.5 + 0.1 * 12, 1e-14);
}

TEST(LossCombination, RestoredStateContinuesBitwise) {
  for (const char* name : {"mconfig", "annealing"}) {
    nn::CombineOptions options;
    options.rule = name;
    options.every = 1;
    const std::size_t m = 2, size = 16;
    nn::LossCombination first(options, m, size), second(options, m, size);
    for (long step = 0; step < 5; ++step) first.combine(step, step, random_rows(m, size, step));
    nn::Checkpoint c;
    first.save(c);
    second.restore(c, "checkpoint.h5");
    const Rows g = random_rows(m, size, 99);
    EXPECT_EQ(first.combine(5, 5, g), second.combine(5, 5, g)) << name;
  }
}

// A small heat PINN (space-time, three terms): each term's gradient from the hooks against
// central differences of that term's weighted value along a random direction, and their sum
// against the gradient of the plain call.
TEST(LossCombination, PinnTermGradientsMatchFiniteDifferences) {
  config::PdeSpec pde;
  pde.type = config::PdeType::heat;
  pde.kappa = 0.1;
  pde.source = Expression("x*y", Place{});
  pde.boundary = Expression("x + t", Place{});
  pde.initial = config::FieldSpec{config::FieldSpec::Source::expression,
                                  Expression("sin(pi*x)*sin(pi*y)", Place{}),
                                  "",
                                  "",
                                  {},
                                  Place{}};
  mesh::GridShape box;
  box.dim = 3;
  box.upper = {1.0, 1.0, 0.5};
  auto points = [](long n, std::uint64_t seed) {
    std::vector<double> p(static_cast<std::size_t>(3 * n));
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = uniform01(seed, i);
    return pinn::PointSet{p, n};
  };
  nn::Network<double> net(nn::make_mlp<double>({3, 8, 8, 1}, nn::Activation::tanh), 3);
  pinn::ResidualLoss<double> loss(net, pde, box, points(32, 1), points(12, 2), points(12, 3),
                                  pinn::LossWeights{1.0, 4.0, 10.0});
  auto& parameters = net.parameters();
  const std::size_t size = parameters.size();
  auto host_gradient = [&] {
    std::vector<double> out(size);
    const auto g = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.gradients());
    for (std::size_t i = 0; i < size; ++i) out[i] = g(i);
    return out;
  };
  Rows per_term;
  parameters.zero_gradients();
  const nn::TermHooks hooks{[](std::size_t) { return true; },
                            [&](std::size_t) {
                              per_term.push_back(host_gradient());
                              parameters.zero_gradients();
                            }};
  const auto terms = loss(&hooks);
  ASSERT_EQ(terms.size(), 3u);
  ASSERT_EQ(per_term.size(), 3u);
  parameters.zero_gradients();
  loss();
  const std::vector<double> whole = host_gradient();
  for (std::size_t i = 0; i < size; ++i)
    EXPECT_NEAR(per_term[0][i] + per_term[1][i] + per_term[2][i], whole[i],
                1e-13 * (1 + std::abs(whole[i])));

  const std::vector<double> v = random_rows(1, size, 42)[0];
  const auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.values());
  const std::vector<double> theta(values.data(), values.data() + size);
  auto weighted_terms_at = [&](double h) {
    for (std::size_t i = 0; i < size; ++i) values(i) = theta[i] + h * v[i];
    Kokkos::deep_copy(parameters.values(), values);
    std::vector<double> out;
    for (const auto& t : loss()) out.push_back(t.weight * t.value);
    return out;
  };
  const double h = 1e-5;
  const auto plus = weighted_terms_at(h), minus = weighted_terms_at(-h);
  weighted_terms_at(0.0);
  for (std::size_t k = 0; k < 3; ++k) {
    const double numeric = (plus[k] - minus[k]) / (2 * h);
    EXPECT_NEAR(dot(per_term[k], v), numeric, 1e-6 * std::abs(numeric) + 1e-10) << terms[k].name;
  }
  // Only the wanted term is back-propagated.
  per_term.clear();
  const nn::TermHooks only_boundary{[](std::size_t k) { return k == 1; },
                                    [&](std::size_t) {
                                      per_term.push_back(host_gradient());
                                      parameters.zero_gradients();
                                    }};
  parameters.zero_gradients();
  loss(&only_boundary);
  ASSERT_EQ(per_term.size(), 3u);
  for (std::size_t i = 0; i < size; ++i) {
    EXPECT_EQ(per_term[0][i], 0.0);
    EXPECT_EQ(per_term[2][i], 0.0);
  }
  EXPECT_GT(dot(per_term[1], per_term[1]), 0.0);
}
