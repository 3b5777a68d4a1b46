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

using namespace karman;
using namespace karman::nn;

namespace {

constexpr double kEps = 1e-6;
constexpr double kTolerance = 1e-6;

Matrix<double> random_matrix(std::size_t rows, std::size_t cols, std::uint64_t seed,
                             double scale = 1.0) {
  Matrix<double> m("m", rows, cols);
  auto h = Kokkos::create_mirror_view(m);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) h(i, j) = scale * standard_normal(seed, i * cols + j);
  Kokkos::deep_copy(m, h);
  return m;
}

double dot(const Matrix<double>& a, const Matrix<double>& b) {
  auto ha = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), a);
  auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b);
  double s = 0;
  for (std::size_t i = 0; i < ha.extent(0); ++i)
    for (std::size_t j = 0; j < ha.extent(1); ++j) s += ha(i, j) * hb(i, j);
  return s;
}

// ||a - b|| / max(||a||, ||b||, tiny): the relative error of a whole gradient.
double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return std::sqrt(diff) / std::max({std::sqrt(na), std::sqrt(nb), 1e-300});
}

std::vector<double> to_vector(const Matrix<double>& m) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
  return std::vector<double>(h.data(), h.data() + h.size());
}

// Central differences of `loss` with respect to every entry of the flat view `v`.
std::vector<double> numeric_gradient(const Vector<double>& v, const std::function<double()>& loss) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  std::vector<double> g(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) {
    const double saved = h(i);
    h(i) = saved + kEps;
    Kokkos::deep_copy(v, h);
    const double plus = loss();
    h(i) = saved - kEps;
    Kokkos::deep_copy(v, h);
    const double minus = loss();
    h(i) = saved;
    g[i] = (plus - minus) / (2 * kEps);
  }
  Kokkos::deep_copy(v, h);
  return g;
}

Vector<double> flat(const Matrix<double>& m) { return Vector<double>(m.data(), m.size()); }

// Checks dx and every parameter gradient of `root` for L = Σ dy ∘ f(x).
void check_module(std::unique_ptr<Module<double>> root, std::size_t batch,
                  double input_scale = 1.0) {
  const std::size_t in = root->in_features(), out = root->out_features();
  Network<double> net(std::move(root), 11);
  Matrix<double> x = random_matrix(batch, in, 1, input_scale);
  const Matrix<double> dy = random_matrix(batch, out, 2);
  auto loss = [&] { return dot(net.forward(x), dy); };

  net.parameters().zero_gradients();
  net.forward(x);
  const std::vector<double> dx = to_vector(net.backward(dy));
  const std::vector<double> dtheta =
      to_vector(Matrix<double>(net.parameters().gradients().data(), 1, net.parameters().size()));

  const double dx_error = relative_error(dx, numeric_gradient(flat(x), loss));
  EXPECT_LT(dx_error, kTolerance) << "input gradient";
  if (net.parameters().size() > 0) {
    const double dtheta_error =
        relative_error(dtheta, numeric_gradient(net.parameters().values(), loss));
    EXPECT_LT(dtheta_error, kTolerance) << "parameter gradient";
  }
}

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

TEST(NnGradients, MseLoss) {
  const Matrix<double> y = random_matrix(7, 3, 3), t = random_matrix(7, 3, 4);
  Matrix<double> dy("dy", 7, 3), scratch("s", 7, 3);
  const double value = mse_loss(y, t, dy, 7.0);
  EXPECT_GT(value, 0.0);
  auto numeric = numeric_gradient(flat(y), [&] { return mse_loss(y, t, scratch, 7.0); });
  EXPECT_LT(relative_error(to_vector(dy), numeric), kTolerance);
}

TEST(NnGradients, RelativeL2Loss) {
  const Matrix<double> y = random_matrix(6, 5, 5), t = random_matrix(6, 5, 6);
  Matrix<double> dy("dy", 6, 5), scratch("s", 6, 5);
  relative_l2_loss(y, t, dy, 6.0);
  auto numeric = numeric_gradient(flat(y), [&] { return relative_l2_loss(y, t, scratch, 6.0); });
  EXPECT_LT(relative_error(to_vector(dy), numeric), kTolerance);
}

TEST(NnGradients, MlpThroughMseLoss) {
  Network<double> net(make_mlp<double>({2, 8, 8, 1}, Activation::silu), 3);
  const Matrix<double> x = random_matrix(12, 2, 7), t = random_matrix(12, 1, 8);
  Matrix<double> dy("dy", 12, 1);
  auto loss = [&] { return mse_loss(net.forward(x), t, dy, 12.0); };
  net.parameters().zero_gradients();
  loss();
  net.backward(dy);
  auto analytic =
      to_vector(Matrix<double>(net.parameters().gradients().data(), 1, net.parameters().size()));
  EXPECT_LT(relative_error(analytic, numeric_gradient(net.parameters().values(), loss)),
            kTolerance);
}

TEST(NnGradients, BackwardAccumulates) {
  Network<double> net(make_mlp<double>({3, 4, 2}, Activation::tanh), 5);
  const Matrix<double> x = random_matrix(4, 3, 9), dy = random_matrix(4, 2, 10);
  net.parameters().zero_gradients();
  net.forward(x);
  net.backward(dy);
  auto once =
      to_vector(Matrix<double>(net.parameters().gradients().data(), 1, net.parameters().size()));
  net.forward(x);
  net.backward(dy);
  auto twice =
      to_vector(Matrix<double>(net.parameters().gradients().data(), 1, net.parameters().size()));
  for (std::size_t i = 0; i < once.size(); ++i) EXPECT_NEAR(twice[i], 2 * once[i], 1e-12);
}
