// The 1D convolution (nn/conv1d.hpp): a hand-computed case fixes PyTorch's layout (channel c of a
// row at [c·L_in, (c+1)·L_in), weight [C_out, C_in, K]); the GEMM path against the direct-loop
// reference on MP-PDE's three decoders (K = 20, 25, 50) in float64 and float32; input and
// parameter gradients against central differences (strides that do and do not cover the input,
// several channels, the decoder's shapes), with the gradient modes; PyTorch's init range; a kernel
// that does not fit is an error.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/nn/conv1d.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/sequential.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::nn;
using namespace karman::testing;

namespace {

template <class T>
Matrix<T> matrix_from(std::size_t rows, std::size_t cols, const std::vector<double>& values) {
  Matrix<T> m("m", rows, cols);
  auto host = Kokkos::create_mirror_view(m);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) host(i, j) = static_cast<T>(values[i * cols + j]);
  Kokkos::deep_copy(m, host);
  return m;
}

// The layer's forward and conv1d_reference on the same random x and parameters.
template <class T>
std::pair<std::vector<double>, std::vector<double>> gemm_and_reference(const Conv1dOptions& o,
                                                                       std::size_t rows) {
  Network<T> net(std::make_unique<Conv1d<T>>(o), 3);
  auto& conv = dynamic_cast<Conv1d<T>&>(net.module());
  const Matrix<T> x = random_matrix<T>(rows, conv.in_features(), 4);
  const std::vector<double> fast = to_vector(net.forward(x).y);
  Matrix<T> y("y", rows, conv.out_features());
  conv1d_reference<T>(o, x, conv.weight(), conv.bias(), y);
  return {fast, to_vector(y)};
}

// MP-PDE's decoders (models_gnn.py): L_in = 128 → (C=8, L_mid) → (C=1, K_out).
struct Decoder {
  std::size_t kernel1, stride1, kernel2, time_window;
};
const Decoder kDecoders[] = {{15, 4, 10, 20}, {16, 3, 14, 25}, {12, 2, 10, 50}};

}  // namespace

TEST(Conv1dForward, HandComputedCase) {
  // C_in = 2, L_in = 5, C_out = 2, K = 3, s = 2: L_out = 2.
  const Conv1dOptions o{2, 2, 5, 3, 2};
  Network<double> net(std::make_unique<Conv1d<double>>(o), 1);
  auto& conv = dynamic_cast<Conv1d<double>&>(net.module());
  // weight(o, c, k): o = 0 picks x_c0[t·2] − x_c1[t·2 + 2]; o = 1 sums channel 0's window.
  Kokkos::deep_copy(conv.weight(),
                    matrix_from<double>(2, 6, {1, 0, 0, 0, 0, -1, 1, 1, 1, 0, 0, 0}));
  Kokkos::deep_copy(conv.bias(), matrix_from<double>(1, 2, {0.5, -1}));
  const Matrix<double> x = matrix_from<double>(1, 10, {1, 2, 3, 4, 5, 10, 20, 30, 40, 50});
  const std::vector<double> y = to_vector(net.forward(x).y);
  // o = 0: t = 0: 1 − 30 + 0.5, t = 1: 3 − 50 + 0.5;  o = 1: t = 0: 1+2+3 − 1, t = 1: 3+4+5 − 1.
  EXPECT_EQ(y, (std::vector<double>{-28.5, -46.5, 5, 11}));
  Matrix<double> reference("reference", 1, 4);
  conv1d_reference<double>(o, x, conv.weight(), conv.bias(), reference);
  EXPECT_EQ(to_vector(reference), y);
}

TEST(Conv1dForward, MpPdeDecodersMatchTheDirectLoops) {
  for (const Decoder& d : kDecoders) {
    const Conv1dOptions first{1, 8, 128, d.kernel1, d.stride1};
    const Conv1dOptions second{8, 1, first.output_length(), d.kernel2, 1};
    EXPECT_EQ(second.output_length(), d.time_window);
    for (const Conv1dOptions& o : {first, second}) {
      const auto [fast64, reference64] = gemm_and_reference<double>(o, 37);
      EXPECT_LT(relative_error(fast64, reference64), 1e-14) << "K_out = " << d.time_window;
      const auto [fast32, reference32] = gemm_and_reference<float>(o, 37);
      EXPECT_LT(relative_error(fast32, reference32), 1e-6) << "K_out = " << d.time_window;
    }
  }
}

TEST(Conv1dGradient, AgainstCentralDifferences) {
  // Strides 1, 2 and 4 (the last leaves the input's final values unread), several channels.
  for (const Conv1dOptions& o :
       {Conv1dOptions{1, 1, 7, 3, 1}, Conv1dOptions{2, 3, 11, 4, 2}, Conv1dOptions{3, 2, 10, 3, 4}})
    check_module(std::make_unique<Conv1d<double>>(o), 5);
  // MP-PDE's decoder shapes (K = 25): 1 → 8 channels on 128 values, 8 → 1 on 38.
  check_module(std::make_unique<Conv1d<double>>(Conv1dOptions{1, 8, 128, 16, 3}), 2);
  check_module(std::make_unique<Conv1d<double>>(Conv1dOptions{8, 1, 38, 14, 1}), 2);
}

TEST(Conv1dGradient, ThroughTwoLayersWithAnActivation) {
  // The decoder's chain Conv1d → SiLU → Conv1d, small.
  auto chain = std::make_unique<Sequential<double>>();
  chain->add(std::make_unique<Conv1d<double>>(Conv1dOptions{1, 4, 20, 5, 3}));
  chain->add(std::make_unique<Pointwise<double>>(4 * 6, Activation::silu));
  chain->add(std::make_unique<Conv1d<double>>(Conv1dOptions{4, 1, 6, 3, 1}));
  check_module(std::move(chain), 4);
}

TEST(Conv1dInit, PyTorchRange) {
  const Conv1dOptions o{8, 1, 38, 14, 1};
  Network<double> net(std::make_unique<Conv1d<double>>(o), 7);
  const double bound = 1.0 / std::sqrt(8.0 * 14.0);
  const std::vector<double> values = to_vector(net.parameters().values());
  ASSERT_EQ(values.size(), 8u * 14u + 1u);
  double largest = 0;
  for (double v : values) largest = std::max(largest, std::abs(v));
  EXPECT_LE(largest, bound);
  EXPECT_GT(largest, 0.9 * bound);  // the whole range is used, not a narrower one
  EXPECT_EQ(net.parameters().info(0).name, "weight");
  EXPECT_EQ(net.parameters().info(0).rows, 1u);
  EXPECT_EQ(net.parameters().info(0).cols, 8u * 14u);
  EXPECT_EQ(net.parameters().info(1).name, "bias");
}

TEST(Conv1dOptions, KernelThatDoesNotFitIsAnError) {
  EXPECT_EQ((Conv1dOptions{1, 1, 10, 11, 1}.output_length()), 0u);
  EXPECT_EQ((Conv1dOptions{1, 1, 10, 10, 3}.output_length()), 1u);
  EXPECT_EQ((Conv1dOptions{1, 1, 10, 3, 0}.output_length()), 0u);
  EXPECT_THROW(Conv1d<double>(Conv1dOptions{1, 1, 10, 11, 1}), InternalError);
  EXPECT_THROW(Conv1d<double>(Conv1dOptions{0, 1, 10, 3, 1}), InternalError);
  Conv1d<double> conv(Conv1dOptions{2, 3, 10, 4, 3});
  EXPECT_EQ(conv.output_length(), 3u);
  EXPECT_EQ(conv.in_features(), 20u);
  EXPECT_EQ(conv.out_features(), 9u);
}
