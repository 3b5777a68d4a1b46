// Derivative propagation through an MLP (forward_taylor / backward_taylor), float64:
// - the propagated u, ∂u/∂x_k and ∂²u/∂x_k² agree with central differences of forward();
// - the weight gradient of a loss built from all of them (as a PINN residual is) agrees with
//   central differences over the parameters;
// for every activation with a second derivative, in 2 and 3 input dimensions.
#include <gtest/gtest.h>

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

INSTANTIATE_TEST_SUITE_P(SmoothActivations, TaylorMlp,
                         ::testing::Combine(::testing::Values("tanh", "sin", "gelu", "silu",
                                                              "softplus", "identity"),
                                            ::testing::Values(2, 3)));

TEST(TaylorMlp, ModulesWithoutPropagationSayWhich) {
  Network<double> net(std::make_unique<Pointwise<double>>(2, Activation::tanh), 1);
  Matrix<double> stacked("s", 5, 2);
  EXPECT_THROW(net.forward_taylor(stacked, 2), InternalError);
  EXPECT_FALSE(has_second_derivative(Activation::relu));
  EXPECT_TRUE(has_second_derivative(Activation::tanh));
}
