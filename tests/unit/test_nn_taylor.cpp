// Derivative propagation through an MLP (a derivative pass and its backward), float64:
// - the propagated u, ∂u/∂x_k and ∂²u/∂x_k² agree with central differences of forward();
// - the weight gradient of a loss built from all of them (as a PINN residual is) agrees with
//   central differences over the parameters;
// - per-point Jacobian rows (Gauss–Newton) agree with central differences, also through the
//   parameter-free embeddings in front of an MLP;
// for every activation with a second derivative, in 2 and 3 input dimensions.
#include <gtest/gtest.h>

#include <cmath>

#include "karman/nn/fourier_features.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/sequential.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::nn;
using namespace karman::testing;

namespace {

class TaylorMlp : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

}  // namespace

TEST_P(TaylorMlp, InputDerivativesMatchFiniteDifferences) {
  const auto [name, dims] = GetParam();
  const std::size_t d = static_cast<std::size_t>(dims);
  Network<double> net(make_mlp<double>({d, 12, 12, 1}, activation_from_name(name)), 5);
  check_input_derivatives(net, d, 9, 3, name);
}

TEST_P(TaylorMlp, WeightGradientOfAResidualLossMatchesFiniteDifferences) {
  const auto [name, dims] = GetParam();
  const std::size_t d = static_cast<std::size_t>(dims);
  Network<double> net(make_mlp<double>({d, 8, 8, 1}, activation_from_name(name)), 9);
  check_residual_loss_gradient(net, d, 7, 4, name);
}

// Per-point parameter gradients (the Jacobian rows Gauss–Newton needs): with dy the residuals'
// linearisation, row i of the per-point backward of a derivative pass is ∂r_i/∂θ of r = a·u + Σ b_k
// u_k + Σ c_k u_kk, checked against central differences of r_i; the per-point backward of values
// likewise for r = u.
namespace {

void check_per_point_rows(Network<double>& net, std::size_t d, const std::string& name) {
  const std::size_t n = 5, channels = 1 + 2 * d;
  const std::size_t params = net.parameters().size();
  const Matrix<double> x = random_points(n, d, 8);
  Matrix<double> stacked;
  taylor_input(x, stacked);
  Matrix<double> dy("dy", channels * n, 1);
  auto hdy = Kokkos::create_mirror_view(dy);
  for (std::size_t row = 0; row < channels * n; ++row) hdy(row, 0) = standard_normal(31, row);
  Kokkos::deep_copy(dy, hdy);
  auto taylor_residuals = [&] {
    const auto y = to_vector(net.forward(stacked, Pass::derivatives(d)).y);
    std::vector<double> r(n, 0.0);
    for (std::size_t row = 0; row < channels * n; ++row) r[row % n] += hdy(row, 0) * y[row];
    return r;
  };
  auto plain_residuals = [&] { return to_vector(net.forward(x).y); };
  Matrix<double> jacobian("jacobian", n, params), plain("plain", n, params);
  net.backward(net.forward(stacked, Pass::derivatives(d)), dy,
               Gradient<double>::per_point(jacobian));
  Matrix<double> ones("ones", n, 1);
  Kokkos::deep_copy(ones, 1.0);
  net.backward(net.forward(x), ones, Gradient<double>::per_point(plain));
  const auto analytic = to_vector(jacobian), analytic_plain = to_vector(plain);

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

}  // namespace

TEST_P(TaylorMlp, PerPointJacobianRowsMatchFiniteDifferences) {
  const auto [name, dims] = GetParam();
  const std::size_t d = static_cast<std::size_t>(dims);
  Network<double> net(make_mlp<double>({d, 6, 7, 1}, activation_from_name(name)), 21);
  check_per_point_rows(net, d, name);
}

// The embeddings have no parameters: their backward passes the rows on to the MLP behind them.
TEST_P(TaylorMlp, PerPointJacobianRowsThroughEmbeddings) {
  const auto [name, dims] = GetParam();
  const std::size_t d = static_cast<std::size_t>(dims);
  std::vector<double> periods(d, 0.0);
  periods[0] = 2.0;
  auto periodic = make_periodic_embedding<double>(periods, 2);
  const std::size_t width = periodic->out_features();
  auto net = std::make_unique<Sequential<double>>();
  net->add(std::move(periodic));
  net->add(make_mlp<double>({width, 6, 7, 1}, activation_from_name(name)));
  Network<double> embedded(std::move(net), 21);
  check_per_point_rows(embedded, d, name + " periodic");
}

INSTANTIATE_TEST_SUITE_P(SmoothActivations, TaylorMlp,
                         ::testing::Combine(::testing::Values("tanh", "sin", "gelu", "silu",
                                                              "softplus", "identity"),
                                            ::testing::Values(2, 3)));

TEST(TaylorMlp, ModulesWithoutPropagationSayWhich) {
  Network<double> net(std::make_unique<Pointwise<double>>(2, Activation::tanh), 1);
  Matrix<double> stacked("s", 5, 2);
  EXPECT_THROW(net.forward(stacked, Pass::derivatives(2)), InternalError);
  EXPECT_FALSE(net.module().supports(Pass::derivatives(2), GradientMode::accumulate));
  EXPECT_FALSE(has_second_derivative(Activation::relu));
  EXPECT_TRUE(has_second_derivative(Activation::tanh));
}
