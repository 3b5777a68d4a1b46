// Every backward of the NN core against central finite differences in float64: input gradients
// and parameter gradients of L = Σ dy ∘ f(x) for a fixed random dy, and of the losses.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "karman/core/random.hpp"
#include "karman/nn/linear.hpp"
#include "karman/nn/loss.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/sequential.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::nn;
using namespace karman::testing;

namespace {

class LinearGradient : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(LinearGradient, WithBias) {
  check_module(std::make_unique<Linear<double>>(5, 4, true, activation_from_name(GetParam())), 7);
}

TEST_P(LinearGradient, WithoutBias) {
  check_module(std::make_unique<Linear<double>>(3, 6, false, activation_from_name(GetParam())), 9);
}

TEST_P(LinearGradient, PointwiseActivation) {
  check_module(std::make_unique<Pointwise<double>>(6, activation_from_name(GetParam())), 8);
}

INSTANTIATE_TEST_SUITE_P(EveryActivation, LinearGradient, ::testing::ValuesIn(activation_names()));

TEST(NnGradients, TallBatchUsesTheBlockedKernelsToo) {
  // 200 rows: three full 64-row libxsmm blocks and a tail.
  check_module(std::make_unique<Linear<double>>(8, 8, true, Activation::tanh), 200);
}

TEST(NnGradients, Mlp) { check_module(make_mlp<double>({2, 16, 16, 16, 1}, Activation::tanh), 10); }

TEST(NnGradients, ResidualMlp) {
  check_module(std::make_unique<Residual<double>>(make_mlp<double>({6, 12, 6}, Activation::gelu)),
               5);
}

// The same weights applied four times in sequence (an autoregressive rollout): one context per
// step, back-propagation through all four.
TEST(NnGradients, MlpRolledOutFourTimes) {
  Network<double> net(make_mlp<double>({3, 8, 8, 3}, Activation::tanh), 13);
  check_rollout(net, 6, 4);
}

TEST(NnGradients, ResidualMlpRolledOutFourTimes) {
  Network<double> net(
      std::make_unique<Residual<double>>(make_mlp<double>({4, 6, 4}, Activation::gelu)), 17);
  check_rollout(net, 5, 4);
}

TEST(NnGradients, MseLoss) {
  const Matrix<double> y = random_matrix(7, 3, 3), t = random_matrix(7, 3, 4);
  Matrix<double> dy("dy", 7, 3), scratch("s", 7, 3);
  const double value = mse_loss(y, t, dy, 7.0);
  EXPECT_GT(value, 0.0);
  auto numeric = numeric_gradient(flat(y), [&] { return mse_loss(y, t, scratch, 7.0); });
  EXPECT_LT(relative_error(to_vector(dy), numeric), kGradientTolerance);
}

TEST(NnGradients, RelativeL2Loss) {
  const Matrix<double> y = random_matrix(6, 5, 5), t = random_matrix(6, 5, 6);
  Matrix<double> dy("dy", 6, 5), scratch("s", 6, 5);
  relative_l2_loss(y, t, dy, 6.0);
  auto numeric = numeric_gradient(flat(y), [&] { return relative_l2_loss(y, t, scratch, 6.0); });
  EXPECT_LT(relative_error(to_vector(dy), numeric), kGradientTolerance);
}

TEST(NnGradients, MlpThroughMseLoss) {
  Network<double> net(make_mlp<double>({2, 8, 8, 1}, Activation::silu), 3);
  const Matrix<double> x = random_matrix(12, 2, 7), t = random_matrix(12, 1, 8);
  Matrix<double> dy("dy", 12, 1);
  Context<double>* forward = nullptr;
  auto loss = [&] {
    forward = &net.forward(x);
    return mse_loss(forward->y, t, dy, 12.0);
  };
  net.parameters().zero_gradients();
  loss();
  net.backward(*forward, dy);
  auto analytic =
      to_vector(Matrix<double>(net.parameters().gradients().data(), 1, net.parameters().size()));
  EXPECT_LT(relative_error(analytic, numeric_gradient(net.parameters().values(), loss)),
            kGradientTolerance);
}

TEST(NnGradients, BackwardAccumulates) {
  Network<double> net(make_mlp<double>({3, 4, 2}, Activation::tanh), 5);
  const Matrix<double> x = random_matrix(4, 3, 9), dy = random_matrix(4, 2, 10);
  net.parameters().zero_gradients();
  net.backward(net.forward(x), dy);
  auto once =
      to_vector(Matrix<double>(net.parameters().gradients().data(), 1, net.parameters().size()));
  net.backward(net.forward(x), dy);
  auto twice =
      to_vector(Matrix<double>(net.parameters().gradients().data(), 1, net.parameters().size()));
  for (std::size_t i = 0; i < once.size(); ++i) EXPECT_NEAR(twice[i], 2 * once[i], 1e-12);
}
