// Instance normalisation (nn/instance_norm.hpp) in one process: the forward against plain host
// loops (per instance and column: mean 0, biased variance σ²/(σ² + ε)), with halo rows that are
// normalised but not counted; the input gradient against central differences (one instance,
// several, with halo rows, in a chain with a Linear); float against double; shapes that do not
// fit are errors.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/nn/instance_norm.hpp"
#include "karman/nn/linear.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/sequential.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::nn;
using namespace karman::testing;

namespace {

template <class T>
std::unique_ptr<InstanceNorm<T>> make_norm(std::size_t width, std::size_t instance_rows,
                                           std::size_t owned = 0) {
  auto norm = std::make_unique<InstanceNorm<T>>(InstanceNormOptions{width});
  norm->set_instance_rows(instance_rows);
  if (owned > 0) norm->set_owned_rows(owned);
  return norm;
}

// y of instances of `rows` rows, the first `owned` counted, in host loops: [B·R·W] row-major.
std::vector<double> host_instance_norm(const std::vector<double>& x, std::size_t width,
                                       std::size_t rows, std::size_t owned, double eps) {
  std::vector<double> y(x.size());
  const std::size_t instances = x.size() / (rows * width);
  for (std::size_t b = 0; b < instances; ++b)
    for (std::size_t j = 0; j < width; ++j) {
      auto at = [&](std::size_t r) { return (b * rows + r) * width + j; };
      double mean = 0, variance = 0;
      for (std::size_t r = 0; r < owned; ++r) mean += x[at(r)] / owned;
      for (std::size_t r = 0; r < owned; ++r)
        variance += (x[at(r)] - mean) * (x[at(r)] - mean) / owned;
      for (std::size_t r = 0; r < rows; ++r)
        y[at(r)] = (x[at(r)] - mean) / std::sqrt(variance + eps);
    }
  return y;
}

}  // namespace

TEST(InstanceNormForward, MatchesHostLoops) {
  // 3 instances of 70 rows (more than one 64-row chunk), the whole rows counted, then 50 of them.
  for (const std::size_t owned : {70, 50}) {
    Network<double> net(make_norm<double>(5, 70, owned), 1);
    const Matrix<double> x = random_matrix(210, 5, 2, 3.0);
    const std::vector<double> y = to_vector(net.forward(x).y);
    const std::vector<double> expected = host_instance_norm(to_vector(x), 5, 70, owned, 1e-5);
    EXPECT_LT(relative_error(y, expected), 1e-14) << owned << " counted rows";
  }
}

TEST(InstanceNormForward, EachInstanceHasMeanZeroAndUnitVariance) {
  Network<double> net(make_norm<double>(3, 8), 1);
  const Matrix<double> x = random_matrix(16, 3, 3, 5.0);
  const std::vector<double> xs = to_vector(x), y = to_vector(net.forward(x).y);
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t j = 0; j < 3; ++j) {
      double mean_x = 0, var_x = 0, mean_y = 0, square_y = 0;
      for (std::size_t r = 0; r < 8; ++r) mean_x += xs[(b * 8 + r) * 3 + j] / 8;
      for (std::size_t r = 0; r < 8; ++r) {
        const double d = xs[(b * 8 + r) * 3 + j] - mean_x;
        var_x += d * d / 8;
        mean_y += y[(b * 8 + r) * 3 + j] / 8;
        square_y += y[(b * 8 + r) * 3 + j] * y[(b * 8 + r) * 3 + j] / 8;
      }
      EXPECT_NEAR(mean_y, 0.0, 1e-14) << "instance " << b << ", column " << j;
      EXPECT_NEAR(square_y, var_x / (var_x + 1e-5), 1e-14) << "instance " << b << ", column " << j;
    }
}

TEST(InstanceNormForward, HaloRowsAreNormalisedButNotCounted) {
  // Changing a halo row changes only that row's output.
  Network<double> net(make_norm<double>(2, 6, 4), 1);
  Matrix<double> x = random_matrix(12, 2, 4);
  const std::vector<double> before = to_vector(net.forward(x).y);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  host(5, 1) += 10.0;  // instance 0's second halo row
  Kokkos::deep_copy(x, host);
  const std::vector<double> after = to_vector(net.forward(x).y);
  for (std::size_t e = 0; e < before.size(); ++e) {
    if (e == 5 * 2 + 1) continue;
    EXPECT_EQ(after[e], before[e]) << "entry " << e;
  }
  EXPECT_NE(after[5 * 2 + 1], before[5 * 2 + 1]);
}

TEST(InstanceNormGradient, AgainstCentralDifferences) {
  check_module(make_norm<double>(4, 0), 9, 2.0);      // one instance: all rows
  check_module(make_norm<double>(4, 5), 15, 2.0);     // three instances
  check_module(make_norm<double>(3, 70), 140, 1.0);   // instances over two chunks
  check_module(make_norm<double>(4, 6, 4), 18, 2.0);  // two halo rows per instance
  check_module(make_norm<double>(2, 3, 1), 6, 1.0);   // one counted row: y = 0 there
}

TEST(InstanceNormGradient, InAChainWithLinearLayers) {
  // Linear → InstanceNorm → Linear: the norm's dx feeds the parameter gradient of the first.
  auto chain = std::make_unique<Sequential<double>>();
  chain->add(std::make_unique<Linear<double>>(3, 4, true, Activation::tanh));
  chain->add(make_norm<double>(4, 5, 4));
  chain->add(std::make_unique<Linear<double>>(4, 2));
  check_module(std::move(chain), 10);
}

TEST(InstanceNormForward, FloatAgreesWithDouble) {
  Network<double> reference(make_norm<double>(16, 100, 90), 1);
  Network<float> single(make_norm<float>(16, 100, 90), 1);
  const Matrix<double> x = random_matrix(400, 16, 5, 2.0);
  const Matrix<float> xf = random_matrix<float>(400, 16, 5, 2.0);
  EXPECT_LT(relative_error(to_vector(single.forward(xf).y), to_vector(reference.forward(x).y)),
            1e-6);
}

TEST(InstanceNormShapes, RowsThatDoNotFitAreErrors) {
  Network<double> net(make_norm<double>(2, 4), 1);
  EXPECT_THROW(net.forward(random_matrix(10, 2, 6)), InternalError);  // 4 ∤ 10
  Network<double> halo(make_norm<double>(2, 4, 5), 1);
  EXPECT_THROW(halo.forward(random_matrix(8, 2, 7)), InternalError);  // 5 owned of 4
  EXPECT_THROW(InstanceNorm<double>(InstanceNormOptions{0}), InternalError);
  EXPECT_THROW(net.forward(random_matrix(8, 2, 8), Pass::derivatives(1)), InternalError);
}
