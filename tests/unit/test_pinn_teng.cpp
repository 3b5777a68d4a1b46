// TENG's target and step (pinn/teng.hpp):
// - heat with u = sin(πx) exactly representable (one sine unit): the Euler target is
//   (1 − dt κ π²) sin(πx) at every point to round-off, one Euler step's fit reaches it to
//   round-off (the output weight becomes 1 − dt κ π²), and a Heun step gives the second-order
//   factor 1 − a + a²/2 (a = dt κ π²);
// - F[u] through the derivative pass (and through u = φN for the Dirichlet ansatz) agrees with
//   central differences of the network's values for heat 2D, Burgers and Allen–Cahn;
// - the initial fit reaches a smooth state to a small error in Gauss–Newton iterations.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>

#include "karman/nn/architecture.hpp"
#include "karman/pde/equations.hpp"
#include "pinn/teng.hpp"
#include "support/kokkos_env.hpp"

using namespace karman;
using namespace karman::pinn;

namespace {

const double kPi = std::acos(-1.0);

mesh::GridShape box(int dim, double lower, double upper) {
  mesh::GridShape b;
  b.dim = dim;
  for (int d = 0; d < dim; ++d) b.lower[d] = lower, b.upper[d] = upper;
  return b;
}

PointPdeParameters pde_1d(PointPde type) {
  PointPdeParameters p;
  p.pde = type;
  p.space = 1;
  p.dims = 2;
  p.kappa = 0.3;
  p.nu = 0.05;
  p.epsilon = 0.01;
  p.reaction = 2.0;
  return p;
}

// u(x) = w2 sin(w1 x̂ + b1) + b2 on [−1, 1] (x̂ = x): parameters [w1, b1, w2, b2].
nn::Network<double> one_sine(double w1, double b1, double w2, double b2) {
  nn::MlpSpec spec;
  spec.hidden = {1};
  spec.activation = nn::Activation::sin;
  nn::Network<double> net(nn::make_network<double>(spec, 1, 1), 0);
  auto v = Kokkos::create_mirror_view(net.parameters().values());
  v(0) = w1, v(1) = b1, v(2) = w2, v(3) = b2;
  Kokkos::deep_copy(net.parameters().values(), v);
  return net;
}

double parameter(nn::Network<double>& net, std::size_t i) {
  auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), net.parameters().values());
  return v(i);
}

}  // namespace

TEST(Teng, EulerTargetOfASineIsTheDecayedSine) {
  nn::Network<double> net = one_sine(kPi, 0, 1, 0);
  const PointPdeParameters p = pde_1d(PointPde::heat);
  TengStepper<double> stepper(MPI_COMM_WORLD, net, p, box(1, -1, 1), false, nullptr, 64, 4, 3);
  const double dt = 0.01, factor = 1 - dt * p.kappa * kPi * kPi;
  for (std::size_t k = 0; k < stepper.blocks(); ++k) {
    const std::vector<double> target = stepper.euler_target(k, 0.0, dt);
    const std::vector<double>& x = stepper.points(k);
    ASSERT_EQ(target.size(), x.size());
    for (std::size_t i = 0; i < x.size(); ++i)
      EXPECT_NEAR(target[i], factor * std::sin(kPi * x[i]), 1e-13) << "x = " << x[i];
  }
}

TEST(Teng, OneStepFitsTheTargetToRoundOff) {
  const PointPdeParameters p = pde_1d(PointPde::heat);
  const double dt = 0.01, a = dt * p.kappa * kPi * kPi;
  nn::GaussNewtonOptions options;
  options.max_iterations = 3;
  for (const std::string stage : {"euler", "heun"}) {
    nn::Network<double> net = one_sine(kPi, 0, 1, 0);
    TengStepper<double> stepper(MPI_COMM_WORLD, net, p, box(1, -1, 1), false, nullptr, 64, 4, 3);
    const TengStepResult r = stepper.step(0.0, dt, stage, options);
    // The target lies in the span of the tangent (∂u/∂w2 = sin): one full step reaches it.
    EXPECT_LT(r.loss, 1e-26) << stage;
    const double expected = stage == "euler" ? 1 - a : 1 - a + a * a / 2;
    EXPECT_NEAR(parameter(net, 2), expected, 1e-13) << stage;
    EXPECT_NEAR(parameter(net, 0), kPi, 1e-12) << stage;
  }
}

// F[u](x) against −r(u, u_t = 0) with u's derivatives by central differences of its values.
void expect_rhs_matches_differences(const PointPdeParameters& p, const mesh::GridShape& space,
                                    bool vanishing, const Expression* source) {
  nn::MlpSpec spec;
  spec.hidden = {8, 8};
  nn::Network<double> net(nn::make_network<double>(spec, space.dim, 1), 5);
  TengStepper<double> stepper(MPI_COMM_WORLD, net, p, space, vanishing, source, 24, 2, 9);
  const double t = 0.2, h = 1e-4;
  for (std::size_t k = 0; k < stepper.blocks(); ++k) {
    const std::vector<double>& x = stepper.points(k);
    const std::vector<double> f = stepper.rhs(k, t);
    const std::size_t n = f.size(), dim = static_cast<std::size_t>(space.dim);
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<double> stencil;  // x, then x ± h e_d
      for (std::size_t s = 0; s < 1 + 2 * dim; ++s)
        for (std::size_t d = 0; d < dim; ++d)
          stencil.push_back(x[i * dim + d] + (s > 0 && (s - 1) / 2 == d ? (s % 2 ? h : -h) : 0));
      const std::vector<double> u = stepper.evaluate(stencil);
      double laplacian = 0;
      for (std::size_t d = 0; d < dim; ++d)
        laplacian += (u[1 + 2 * d] - 2 * u[0] + u[2 + 2 * d]) / (h * h);
      const double u_x = (u[1] - u[2]) / (2 * h), u_xx = (u[1] - 2 * u[0] + u[2]) / (h * h);
      const double source_value =
          source ? (*source)(x[i * dim], dim > 1 ? x[i * dim + 1] : 0, 0, t) : 0.0;
      double expected = 0;
      if (p.pde == PointPde::heat)
        expected = -pde::heat_residual(0.0, p.kappa, laplacian, source_value);
      else if (p.pde == PointPde::burgers)
        expected = -pde::burgers_residual(0.0, u[0], u_x, p.nu, u_xx, source_value);
      else
        expected = -pde::allen_cahn_residual(0.0, u[0], p.epsilon, u_xx, p.reaction, source_value);
      EXPECT_NEAR(f[i], expected, 2e-6 * (1 + std::abs(expected)))
          << "point " << i << " of block " << k;
    }
  }
}

TEST(Teng, RightHandSideMatchesFiniteDifferences) {
  PointPdeParameters heat = pde_1d(PointPde::heat);
  heat.space = 2, heat.dims = 3;
  const Expression source("x*y + t", Place{});
  expect_rhs_matches_differences(heat, box(2, 0, 1), /*vanishing=*/true, &source);
  expect_rhs_matches_differences(pde_1d(PointPde::burgers), box(1, -1, 1), false, nullptr);
  expect_rhs_matches_differences(pde_1d(PointPde::allen_cahn), box(1, -1, 1), false, nullptr);
}

// u = φN with φ = 16 x(1−x) y(1−y): the fit of sin(πx) sin(πy) is close after the initial fit,
// and u vanishes on the boundary exactly.
TEST(Teng, InitialFitReachesASmoothState) {
  nn::MlpSpec spec;
  spec.hidden = {12, 12};
  nn::Network<double> net(nn::make_network<double>(spec, 2, 1), 1);
  PointPdeParameters heat = pde_1d(PointPde::heat);
  heat.space = 2, heat.dims = 3;
  TengStepper<double> stepper(MPI_COMM_WORLD, net, heat, box(2, 0, 1), true, nullptr, 256, 4, 1);
  const Expression u0("sin(pi*x)*sin(pi*y)", Place{});
  nn::GaussNewtonOptions options;
  options.max_iterations = 100;
  const nn::GaussNewtonResult r = stepper.fit_initial(u0, options);
  // Mean square of u0 is 1/4: a relative error of 1e-4 is a loss of 2.5e-9.
  EXPECT_LT(r.loss, 2.5e-9) << r.stop_reason << " after " << r.iterations;
  const std::vector<double> edge = stepper.evaluate({0.0, 0.3, 1.0, 0.7, 0.4, 0.0, 0.6, 1.0});
  for (double u : edge) EXPECT_EQ(u, 0.0);
}
