// The inverse-problem coefficient of a PINN loss (heat with a learned κ): its gradient from
// ResidualLoss::operator() and its column of the Gauss–Newton Jacobian from residuals() agree with
// central differences in κ, float64.
#include <gtest/gtest.h>

#include <cmath>

#include "karman/core/random.hpp"
#include "karman/nn/sequential.hpp"
#include "pinn/residual_loss.hpp"
#include "support/kokkos_env.hpp"

using namespace karman;

namespace {

std::vector<double> random_points(long n, int dims, std::uint64_t seed) {
  std::vector<double> p(static_cast<std::size_t>(n * dims));
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = uniform01(seed, i);
  return p;
}

}  // namespace

TEST(PinnInverse, KappaGradientAndJacobianColumnMatchFiniteDifferences) {
  config::PdeSpec pde;
  pde.type = config::PdeType::heat;
  pde.kappa = 0.1;
  pde.source = Expression("x*y", Place{});
  pde.boundary = Expression("0", Place{});
  pde.initial = config::FieldSpec{config::FieldSpec::Source::expression,
                                  Expression("sin(pi*x)*sin(pi*y)", Place{}),
                                  "",
                                  "",
                                  {},
                                  Place{}};
  mesh::GridShape box;
  box.dim = 3;
  box.upper = {1.0, 1.0, 0.5};
  nn::Network<double> net(nn::make_mlp<double>({3, 8, 8, 1}, nn::Activation::tanh), 3,
                          {{"inverse.kappa", 0.3}});
  const std::size_t kappa = net.coefficient(0);
  pinn::InverseProblem inverse{kappa, {random_points(16, 3, 5), 16}, {}, 10.0};
  for (int i = 0; i < 16; ++i) inverse.values.push_back(0.1 * i);
  pinn::ResidualLoss<double> loss(net, pde, box, {random_points(32, 3, 1), 32},
                                  {random_points(8, 3, 2), 8}, {random_points(8, 3, 3), 8},
                                  pinn::LossWeights{}, nullptr, &inverse);
  auto total = [&] {
    net.parameters().zero_gradients();
    double sum = 0;
    for (const auto& t : loss()) sum += t.weight * t.value;
    return sum;
  };
  auto set_kappa = [&](double k) { Kokkos::deep_copy(net.parameters().value(kappa), k); };
  total();
  // A copy (a host mirror of a host view would alias the buffer the next evaluation rewrites).
  double gradient = 0;
  Kokkos::deep_copy(
      gradient, Kokkos::subview(net.parameters().gradients(), net.parameters().info(kappa).offset));
  // r is linear in κ, so the loss is quadratic in it: a central difference is exact up to
  // round-off, which a larger step keeps small.
  const double h = 1e-3;
  set_kappa(0.3 + h);
  const double plus = total();
  set_kappa(0.3 - h);
  const double minus = total();
  set_kappa(0.3);
  const double numeric = (plus - minus) / (2 * h);
  EXPECT_NEAR(gradient, numeric, 1e-8 * std::abs(numeric)) << numeric;

  // Jacobian column of κ against central differences of the scaled residuals.
  const std::size_t rows = loss.rows(), params = net.parameters().size();
  nn::Vector<double> r("r", rows), r_plus("r+", rows), r_minus("r-", rows);
  nn::Matrix<double> jacobian("J", rows, params);
  loss.residuals(r, jacobian);
  set_kappa(0.3 + h);
  loss.residuals(r_plus, nn::Matrix<double>());
  set_kappa(0.3 - h);
  loss.residuals(r_minus, nn::Matrix<double>());
  const auto j = Kokkos::create_mirror(Kokkos::HostSpace(), jacobian);
  const auto rp = Kokkos::create_mirror(Kokkos::HostSpace(), r_plus);
  const auto rm = Kokkos::create_mirror(Kokkos::HostSpace(), r_minus);
  Kokkos::deep_copy(j, jacobian), Kokkos::deep_copy(rp, r_plus), Kokkos::deep_copy(rm, r_minus);
  const std::size_t column = net.parameters().info(kappa).offset;
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    const double fd = (rp(i) - rm(i)) / (2 * h);
    diff += (fd - j(i, column)) * (fd - j(i, column));
    norm += fd * fd;
  }
  EXPECT_GT(norm, 0.0);
  EXPECT_LT(std::sqrt(diff / norm), 1e-7);
}
