// The Lagrangian PINN (pinn/lagrangian.hpp) and the convection PDE's Eulerian residual:
// - the convection point residual's linearisation matches central differences;
// - the Lagrangian point residual's linearisation matches central differences, and its
//   chain-rule u_xx is exact on u = sin(x(ξ)) along the map x = ξ + 0.3 sin ξ (u_xx = −sin x);
// - the gradient of the whole Lagrangian loss (two branches, characteristic, state, initial and
//   periodic terms) matches central differences of the loss in the parameters;
// - the ξ inversion recovers ξ of a known map x = ξ + ct + ε sin ξ (mod 2π) to round-off.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "karman/config/case.hpp"
#include "karman/core/random.hpp"
#include "pinn/lagrangian.hpp"
#include "pinn/point_residual.hpp"
#include "pinn/sampling.hpp"
#include "support/kokkos_env.hpp"

using namespace karman;
using namespace karman::pinn;

namespace {

constexpr double two_pi = 6.283185307179586;

struct HostJet {
  double v[max_channels][max_outputs] = {};
  double operator()(int c, int o) const { return v[c][o]; }
};

HostJet random_jet(std::uint64_t seed) {
  HostJet jet;
  for (int c = 0; c < max_channels; ++c)
    for (int o = 0; o < max_outputs; ++o) jet.v[c][o] = standard_normal(seed, c * max_outputs + o);
  return jet;
}

}  // namespace

TEST(ConvectionResidual, LinearisationMatchesFiniteDifferences) {
  PointPdeParameters p;
  p.pde = PointPde::convection, p.dims = 2, p.space = 1, p.speed = 30, p.nu = 0.01;
  HostJet jet = random_jet(5);
  PointLinearisation<double> lin;
  point_residual(p, jet, 0.0, lin);
  // u_t + c u_x − ν u_xx with channels 1 ∂x, 2 ∂t, 3 ∂xx.
  EXPECT_NEAR(lin.r[0], jet.v[2][0] + 30 * jet.v[1][0] - 0.01 * jet.v[3][0], 1e-12);
  for (int c = 0; c < 5; ++c) {
    const double h = 1e-6, saved = jet.v[c][0];
    PointLinearisation<double> plus, minus;
    jet.v[c][0] = saved + h;
    point_residual(p, jet, 0.0, plus);
    jet.v[c][0] = saved - h;
    point_residual(p, jet, 0.0, minus);
    jet.v[c][0] = saved;
    EXPECT_NEAR(lin.dr[0][c][0], (plus.r[0] - minus.r[0]) / (2 * h), 1e-6) << "channel " << c;
  }
}

TEST(LagrangianResidual, LinearisationMatchesFiniteDifferences) {
  LagrangianPointParameters p;
  p.speed = 50, p.nu = 0.3, p.scale = 50;
  HostJet jet = random_jet(9);
  jet.v[1][0] = 0.01;  // x_ξ = 1 + s ∂ξN_x = 1.5, away from a fold
  LagrangianLinearisation<double> lin;
  lagrangian_residual(p, jet, lin);
  for (int c = 0; c < lagrangian_channels; ++c)
    for (int o = 0; o < 2; ++o) {
      const double h = 1e-7, saved = jet.v[c][o];
      LagrangianLinearisation<double> plus, minus;
      jet.v[c][o] = saved + h;
      lagrangian_residual(p, jet, plus);
      jet.v[c][o] = saved - h;
      lagrangian_residual(p, jet, minus);
      jet.v[c][o] = saved;
      for (int q = 0; q < 2; ++q)
        EXPECT_NEAR(lin.dr[q][c][o], (plus.r[q] - minus.r[q]) / (2 * h),
                    1e-6 * std::max(1.0, std::abs(lin.dr[q][c][o])))
            << "dr" << q << "/d(channel " << c << ", output " << o << ")";
    }
}

TEST(LagrangianResidual, ChainRuleGivesTheEulerianSecondDerivative) {
  // x(ξ) = ξ + 0.3 sin ξ = ξ + s N_x with s = 2, u(ξ) = sin(x(ξ)): u_xx = −sin x exactly, so
  // the state residual with u_t = 0, ν = 1 is sin x; x_t = c makes the characteristic one zero.
  LagrangianPointParameters p;
  p.speed = 4, p.nu = 1, p.scale = 2;
  for (double xi : {0.1, 1.0, 2.5, 4.0, 6.0}) {
    const double x = xi + 0.3 * std::sin(xi), x1 = 1 + 0.3 * std::cos(xi), x2 = -0.3 * std::sin(xi);
    HostJet jet;
    jet.v[0][0] = (x - xi) / p.scale, jet.v[1][0] = (x1 - 1) / p.scale, jet.v[3][0] = x2 / p.scale;
    jet.v[2][0] = p.speed / p.scale;  // x_t = c
    jet.v[0][1] = std::sin(x);
    jet.v[1][1] = std::cos(x) * x1;
    jet.v[3][1] = -std::sin(x) * x1 * x1 + std::cos(x) * x2;
    LagrangianLinearisation<double> lin;
    lagrangian_residual(p, jet, lin);
    EXPECT_NEAR(lin.r[0], 0.0, 1e-14) << xi;
    EXPECT_NEAR(lin.r[1], std::sin(x), 1e-13) << xi;
  }
}

namespace {

config::PdeSpec convection_pde(double speed, double nu) {
  config::PdeSpec pde;
  pde.type = config::PdeType::convection;
  pde.speed = speed, pde.nu = nu;
  pde.initial = config::FieldSpec{};
  pde.initial->source = config::FieldSpec::Source::expression;
  pde.initial->expression = Expression("sin(x)", Place{});
  return pde;
}

mesh::GridShape space_time_box(double t_end) {
  mesh::GridShape box;
  box.dim = 2;
  box.lower[0] = 0, box.upper[0] = two_pi, box.n[0] = 2;
  box.lower[1] = 0, box.upper[1] = t_end, box.n[1] = 2;
  return box;
}

double weighted(const std::vector<nn::LossTerm>& terms) { return nn::total_loss(terms); }

}  // namespace

TEST(LagrangianLoss, GradientMatchesFiniteDifferences) {
  nn::MlpSpec spec;
  spec.hidden = {6, 6};
  spec.activation = nn::Activation::tanh;
  nn::Network<double> net(make_lagrangian_network<double>(spec), 3);
  const config::PdeSpec pde = convection_pde(3.0, 0.2);
  const mesh::GridShape box = space_time_box(0.5);
  mesh::GridShape space = box;
  space.dim = 1;
  const PointSet interior{interior_points(box, 0, 12, 1), 12};
  const PointSet periodic{boundary_points(box, 0, 5, 2, 1), 5};
  std::vector<double> initial_points;
  for (double xi : interior_points(space, 0, 7, 3))
    initial_points.insert(initial_points.end(), {xi, 0.0});
  const PointSet initial{initial_points, 7};
  const LagrangianWeights weights{1.3, 0.7, 2.0, 0.5};
  LagrangianLoss<double> loss(net, pde, box, interior, periodic, initial, weights);

  auto& params = net.parameters();
  {  // away from the start (the characteristic's output layer is zero there): every weight counts
    auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), params.values());
    for (std::size_t k = 0; k < params.size(); ++k) v(k) += 0.2 * standard_normal(11, k);
    Kokkos::deep_copy(params.values(), v);
  }
  params.zero_gradients();
  const auto terms = loss();
  ASSERT_EQ(terms.size(), 4u);
  for (const auto& t : terms) EXPECT_GT(t.value, 0.0) << t.name;
  const auto gradient =
      Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), params.gradients());
  auto values = params.values();
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
  const std::size_t size = params.size();
  int checked = 0;
  for (std::size_t k = 0; k < size; k += 5, ++checked) {
    const double h = 1e-6, saved = host(k);
    auto at = [&](double v) {
      host(k) = v;
      Kokkos::deep_copy(values, host);
      params.zero_gradients();
      return weighted(loss());
    };
    const double fd = (at(saved + h) - at(saved - h)) / (2 * h);
    at(saved);
    EXPECT_NEAR(gradient(k), fd, 1e-6 * std::max(1.0, std::abs(fd))) << "parameter " << k;
  }
  EXPECT_GT(checked, 25);  // both branches: 134 parameters, the second branch from 67 on
}

TEST(LagrangianInversion, RecoversXiOfAKnownPeriodicMap) {
  // x = ξ + c t + ε sin ξ: the displacement c t wraps several periods, x_ξ = 1 + ε cos ξ > 0.
  const double ct = 50 * 0.7, eps = 0.3;
  std::vector<double> xi_true, targets;
  for (int i = 0; i < 64; ++i) {
    const double xi = two_pi * (i + 0.37) / 64;
    xi_true.push_back(xi);
    targets.push_back(std::fmod(xi + ct + eps * std::sin(xi), two_pi));
  }
  auto map = [&](const std::vector<double>& xi, std::vector<double>& x, std::vector<double>& dx) {
    x.resize(xi.size()), dx.resize(xi.size());
    for (std::size_t i = 0; i < xi.size(); ++i) {
      x[i] = xi[i] + ct + eps * std::sin(xi[i]);
      dx[i] = 1 + eps * std::cos(xi[i]);
    }
  };
  const auto xi = invert_characteristics(targets, 0.0, two_pi, 8, map);
  for (std::size_t i = 0; i < xi.size(); ++i) {
    EXPECT_GE(xi[i], 0.0);
    EXPECT_LT(xi[i], two_pi);
    EXPECT_NEAR(xi[i], xi_true[i], 1e-12) << i;
  }
}
