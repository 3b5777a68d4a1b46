// Derivative propagation through an MLP (forward_taylor / backward_taylor), float64:
// - the propagated u, ∂u/∂x_k and ∂²u/∂x_k² agree with central differences of forward();
// - the weight gradient of a loss built from all of them (as a PINN residual is) agrees with
//   central differences over the parameters;
// for every activation with a second derivative, in 2 and 3 input dimensions.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "karman/core/random.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/sequential.hpp"
#include "support/kokkos_env.hpp"

using namespace karman;
using namespace karman::nn;

namespace {

Matrix<double> random_points(std::size_t n, std::size_t dims, std::uint64_t seed) {
  Matrix<double> x("x", n, dims);
  auto h = Kokkos::create_mirror_view(x);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < dims; ++k) h(i, k) = 2 * uniform01(seed, i * dims + k) - 1;
  Kokkos::deep_copy(x, h);
  return x;
}

std::vector<double> host_copy(const Matrix<double>& m) {
  auto h = Kokkos::create_mirror(Kokkos::HostSpace(), m);
  Kokkos::deep_copy(h, m);
  return std::vector<double>(h.data(), h.data() + h.size());
}

// u at every point, with coordinate k of every point shifted by delta.
std::vector<double> shifted_values(Network<double>& net, const Matrix<double>& x, std::size_t k,
                                   double delta) {
  Matrix<double> moved("moved", x.extent(0), x.extent(1));
  Kokkos::deep_copy(moved, x);
  auto h = Kokkos::create_mirror_view(moved);
  Kokkos::deep_copy(h, moved);
  for (std::size_t i = 0; i < h.extent(0); ++i) h(i, k) += delta;
  Kokkos::deep_copy(moved, h);
  return host_copy(net.forward(moved));
}

class TaylorMlp : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

}  // namespace

TEST_P(TaylorMlp, InputDerivativesMatchFiniteDifferences) {
  const auto [name, dims] = GetParam();
  const Activation act = activation_from_name(name);
  const std::size_t n = 9, d = static_cast<std::size_t>(dims);
  Network<double> net(make_mlp<double>({d, 12, 12, 1}, act), 5);
  const Matrix<double> x = random_points(n, d, 3);
  Matrix<double> stacked;
  taylor_input(x, stacked);
  const std::vector<double> channels = host_copy(net.forward_taylor(stacked, d));
  const std::vector<double> u = host_copy(net.forward(x));
  const double h1 = 1e-5, h2 = 1e-4;
  for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(channels[i], u[i], 1e-14);
  for (std::size_t k = 0; k < d; ++k) {
    const auto plus1 = shifted_values(net, x, k, h1), minus1 = shifted_values(net, x, k, -h1);
    const auto plus2 = shifted_values(net, x, k, h2), minus2 = shifted_values(net, x, k, -h2);
    for (std::size_t i = 0; i < n; ++i) {
      const double first = (plus1[i] - minus1[i]) / (2 * h1);
      const double second = (plus2[i] - 2 * u[i] + minus2[i]) / (h2 * h2);
      EXPECT_NEAR(channels[(1 + k) * n + i], first, 1e-8 * std::max(1.0, std::abs(first)))
          << name << " du/dx" << k << " at point " << i;
      EXPECT_NEAR(channels[(1 + d + k) * n + i], second, 2e-6 * std::max(1.0, std::abs(second)))
          << name << " d2u/dx" << k << "2 at point " << i;
    }
  }
}

TEST_P(TaylorMlp, WeightGradientOfAResidualLossMatchesFiniteDifferences) {
  const auto [name, dims] = GetParam();
  const Activation act = activation_from_name(name);
  const std::size_t n = 7, d = static_cast<std::size_t>(dims), channels = 1 + 2 * d;
  Network<double> net(make_mlp<double>({d, 8, 8, 1}, act), 9);
  const Matrix<double> x = random_points(n, d, 4);
  Matrix<double> stacked;
  taylor_input(x, stacked);
  // L = Σ_i ½ r_i², r = a·u + Σ_k b_k u_k + Σ_k c_k u_kk - f: every channel enters.
  std::vector<double> a(n), f(n), b(n * d), c(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = standard_normal(11, i), f[i] = standard_normal(12, i);
    for (std::size_t k = 0; k < d; ++k)
      b[i * d + k] = standard_normal(13, i * d + k), c[i * d + k] = standard_normal(14, i * d + k);
  }
  Matrix<double> dy("dy", channels * n, 1);
  auto residuals = [&](const std::vector<double>& y) {
    std::vector<double> r(n);
    for (std::size_t i = 0; i < n; ++i) {
      r[i] = a[i] * y[i] - f[i];
      for (std::size_t k = 0; k < d; ++k)
        r[i] += b[i * d + k] * y[(1 + k) * n + i] + c[i * d + k] * y[(1 + d + k) * n + i];
    }
    return r;
  };
  auto loss = [&] {
    const auto r = residuals(host_copy(net.forward_taylor(stacked, d)));
    double sum = 0;
    for (double ri : r) sum += 0.5 * ri * ri;
    return sum;
  };
  net.parameters().zero_gradients();
  const auto r = residuals(host_copy(net.forward_taylor(stacked, d)));
  auto hdy = Kokkos::create_mirror_view(dy);
  for (std::size_t i = 0; i < n; ++i) {
    hdy(i, 0) = r[i] * a[i];
    for (std::size_t k = 0; k < d; ++k) {
      hdy((1 + k) * n + i, 0) = r[i] * b[i * d + k];
      hdy((1 + d + k) * n + i, 0) = r[i] * c[i * d + k];
    }
  }
  Kokkos::deep_copy(dy, hdy);
  net.backward_taylor(dy);
  const auto analytic =
      host_copy(Matrix<double>(net.parameters().gradients().data(), 1, net.parameters().size()));

  auto values = Kokkos::create_mirror_view(net.parameters().values());
  Kokkos::deep_copy(values, net.parameters().values());
  double diff = 0, norm = 0;
  for (std::size_t p = 0; p < values.size(); ++p) {
    const double saved = values(p), eps = 1e-6;
    values(p) = saved + eps;
    Kokkos::deep_copy(net.parameters().values(), values);
    const double plus = loss();
    values(p) = saved - eps;
    Kokkos::deep_copy(net.parameters().values(), values);
    const double minus = loss();
    values(p) = saved;
    Kokkos::deep_copy(net.parameters().values(), values);
    const double numeric = (plus - minus) / (2 * eps);
    diff += (numeric - analytic[p]) * (numeric - analytic[p]);
    norm += numeric * numeric;
  }
  EXPECT_LT(std::sqrt(diff / norm), 1e-6) << name;
}

// Per-point parameter gradients (the Jacobian rows Gauss–Newton needs): with dy the residuals'
// linearisation, row i of backward_taylor_points is ∂r_i/∂θ of r = a·u + Σ b_k u_k + Σ c_k u_kk,
// checked against central differences of r_i; the plain backward_points likewise for r = u.
TEST_P(TaylorMlp, PerPointJacobianRowsMatchFiniteDifferences) {
  const auto [name, dims] = GetParam();
  const Activation act = activation_from_name(name);
  const std::size_t n = 5, d = static_cast<std::size_t>(dims), channels = 1 + 2 * d;
  Network<double> net(make_mlp<double>({d, 6, 7, 1}, act), 21);
  const std::size_t params = net.parameters().size();
  const Matrix<double> x = random_points(n, d, 8);
  Matrix<double> stacked;
  taylor_input(x, stacked);
  Matrix<double> dy("dy", channels * n, 1);
  auto hdy = Kokkos::create_mirror_view(dy);
  for (std::size_t row = 0; row < channels * n; ++row) hdy(row, 0) = standard_normal(31, row);
  Kokkos::deep_copy(dy, hdy);
  auto taylor_residuals = [&] {
    const auto y = host_copy(net.forward_taylor(stacked, d));
    std::vector<double> r(n, 0.0);
    for (std::size_t row = 0; row < channels * n; ++row) r[row % n] += hdy(row, 0) * y[row];
    return r;
  };
  auto plain_residuals = [&] { return host_copy(net.forward(x)); };
  Matrix<double> jacobian("jacobian", n, params), plain("plain", n, params);
  net.forward_taylor(stacked, d);
  net.backward_taylor_points(dy, jacobian);
  Matrix<double> ones("ones", n, 1);
  Kokkos::deep_copy(ones, 1.0);
  net.forward(x);
  net.backward_points(ones, plain);
  const auto analytic = host_copy(jacobian), analytic_plain = host_copy(plain);

  auto values = Kokkos::create_mirror_view(net.parameters().values());
  Kokkos::deep_copy(values, net.parameters().values());
  double diff = 0, norm = 0, diff_plain = 0, norm_plain = 0;
  for (std::size_t p = 0; p < params; ++p) {
    const double saved = values(p), eps = 1e-6;
    auto at = [&](double v, auto&& residuals) {
      values(p) = v;
      Kokkos::deep_copy(net.parameters().values(), values);
      return residuals();
    };
    const auto plus = at(saved + eps, taylor_residuals), minus = at(saved - eps, taylor_residuals);
    const auto plus_u = at(saved + eps, plain_residuals),
               minus_u = at(saved - eps, plain_residuals);
    at(saved, plain_residuals);
    for (std::size_t i = 0; i < n; ++i) {
      const double numeric = (plus[i] - minus[i]) / (2 * eps);
      const double numeric_u = (plus_u[i] - minus_u[i]) / (2 * eps);
      diff += std::pow(numeric - analytic[i * params + p], 2), norm += numeric * numeric;
      diff_plain += std::pow(numeric_u - analytic_plain[i * params + p], 2);
      norm_plain += numeric_u * numeric_u;
    }
  }
  EXPECT_LT(std::sqrt(diff / norm), 1e-6) << name;
  EXPECT_LT(std::sqrt(diff_plain / norm_plain), 1e-6) << name;
}

INSTANTIATE_TEST_SUITE_P(SmoothActivations, TaylorMlp,
                         ::testing::Combine(::testing::Values("tanh", "sin", "gelu", "silu",
                                                              "softplus", "identity"),
                                            ::testing::Values(2, 3)));

TEST(TaylorMlp, ModulesWithoutPropagationSayWhich) {
  Network<double> net(
      std::make_unique<Residual<double>>(make_mlp<double>({2, 2}, Activation::tanh)), 1);
  Matrix<double> stacked("s", 5, 2);
  EXPECT_THROW(net.forward_taylor(stacked, 2), InternalError);
  EXPECT_FALSE(has_second_derivative(Activation::relu));
  EXPECT_TRUE(has_second_derivative(Activation::tanh));
}
