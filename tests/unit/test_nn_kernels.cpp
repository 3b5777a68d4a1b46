// Optimised kernels against their plain reference twins: gemm (libxsmm row blocks, libxsmm batch
// sums Xᵀ·Y, BLAS; every transpose, float and double, with the scalars the layers use (α = 1,
// β = 0 or 1) and general ones) against gemm_reference; seeded initialisation. Run with
// OMP_NUM_THREADS=2 on an OpenMP build, the row blocks and partial sums run on two threads.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "karman/core/random.hpp"
#include "karman/nn/gemm.hpp"
#include "karman/nn/init.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::nn;
using karman::testing::random_matrix;

namespace {

template <class T>
double max_difference(const Matrix<T>& a, const Matrix<T>& b) {
  auto ha = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), a);
  auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b);
  double d = 0;
  for (std::size_t i = 0; i < ha.size(); ++i)
    d = std::max(d, std::abs(double(ha.data()[i]) - double(hb.data()[i])));
  return d;
}

struct GemmCase {
  std::size_t m, n, k;
  Transpose ta, tb;
  const char* backend;
};

template <class T>
Matrix<double> in_double(const Matrix<T>& m) {
  Matrix<double> d("double", m.extent(0), m.extent(1));
  const Matrix<T> source = m;
  Kokkos::parallel_for(
      "karman::test::in_double",
      Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>({0, 0}, {m.extent(0), m.extent(1)}),
      KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) { d(i, j) = source(i, j); });
  return d;
}

// The optimised product against gemm_reference evaluated in double on the same inputs (a float
// reference's own round-off over a 20k-row sum is larger than the optimised kernels' error).
template <class T>
void check_gemm(const GemmCase& c, double tolerance, T alpha = T(0.5), T beta = T(2)) {
  const bool ta = c.ta == Transpose::yes, tb = c.tb == Transpose::yes;
  auto A = random_matrix<T>(ta ? c.k : c.m, ta ? c.m : c.k, 1);
  auto B = random_matrix<T>(tb ? c.n : c.k, tb ? c.k : c.n, 2);
  auto C = random_matrix<T>(c.m, c.n, 3);
  Matrix<double> R = in_double(C);
  EXPECT_STREQ(gemm_backend(c.ta, c.tb, c.m, c.n, c.k), c.backend);
  gemm(c.ta, c.tb, alpha, A, B, beta, C);
  gemm_reference<double>(c.ta, c.tb, alpha, in_double(A), in_double(B), beta, R);
  EXPECT_LT(max_difference(in_double(C), R), tolerance * std::sqrt(double(c.k)))
      << c.m << "x" << c.n << "x" << c.k << " alpha " << alpha << " beta " << beta;
}

const GemmCase kCases[] = {
    {4096, 64, 64, Transpose::no, Transpose::no, "libxsmm"},       // MLP hidden layer
    {200, 33, 17, Transpose::no, Transpose::no, "libxsmm"},        // full blocks and a tail
    {64, 1, 64, Transpose::no, Transpose::no, "libxsmm"},          // output layer
    {30, 8, 8, Transpose::no, Transpose::no, "blas"},              // fewer rows than a block
    {64, 64, 4096, Transpose::yes, Transpose::no, "libxsmm_sum"},  // weight gradient Xᵀ dZ
    // Several partial sums (kSumRows = 1024 rows) with a short last one and a tail block.
    {64, 64, 4 * 1024 + 37, Transpose::yes, Transpose::no, "libxsmm_sum"},
    {2, 64, 1000, Transpose::yes, Transpose::no, "libxsmm_sum"},   // first layer's dW, one chunk
    {1, 64, 2111, Transpose::yes, Transpose::no, "libxsmm_sum"},   // bias gradient 1ᵀ dZ
    {64, 1, 333, Transpose::yes, Transpose::no, "libxsmm_sum"},    // output layer's dW
    {17, 5, 64, Transpose::yes, Transpose::no, "libxsmm_sum"},     // exactly one row block
    {64, 64, 63, Transpose::yes, Transpose::no, "blas"},           // fewer rows than a block
    {4096 + 17, 64, 64, Transpose::no, Transpose::no, "libxsmm"},  // many blocks and a tail
    {4096, 64, 64, Transpose::no, Transpose::yes, "libxsmm"},      // input gradient dZ Wᵀ
    {130, 3, 64, Transpose::no, Transpose::yes, "libxsmm"},        // first layer's dX, with a tail
    {9, 7, 5, Transpose::yes, Transpose::yes, "blas"},
    {300, 200, 150, Transpose::no, Transpose::no, "blas"},  // large: BLAS
};

}  // namespace

TEST(Gemm, DoubleMatchesReference) {
  for (const auto& c : kCases) check_gemm<double>(c, 1e-13);
}

TEST(Gemm, FloatMatchesReference) {
  for (const auto& c : kCases) check_gemm<float>(c, 1e-5);
}

// The scalars of the layers' products (libxsmm kernels exist for α = 1, β ∈ {0, 1}; other
// scalars fall back to BLAS in the row-block path, so these are the cases that run libxsmm there).
TEST(Gemm, LayerScalarsMatchReference) {
  for (const auto& c : kCases) {
    check_gemm<double>(c, 1e-13, 1.0, 0.0);
    check_gemm<double>(c, 1e-13, 1.0, 1.0);
    check_gemm<float>(c, 1e-5, 1.0f, 0.0f);
    check_gemm<float>(c, 1e-5, 1.0f, 1.0f);
  }
}

// The batch sum adds its partial sums in a fixed order: the same inputs give bitwise the same
// weight gradient on every call (and for every thread count: the chunks do not depend on it).
TEST(Gemm, BatchSumIsBitwiseRepeatable) {
  auto X = random_matrix<float>(20480, 64, 4);
  auto Y = random_matrix<float>(20480, 64, 5);
  Matrix<float> first("first", 64, 64), again("again", 64, 64);
  gemm(Transpose::yes, Transpose::no, 1.0f, X, Y, 0.0f, first);
  for (int repeat = 0; repeat < 3; ++repeat) {
    gemm(Transpose::yes, Transpose::no, 1.0f, X, Y, 0.0f, again);
    EXPECT_EQ(max_difference(first, again), 0.0);
  }
}

TEST(Init, SameSeedSameWeightsAndBoundsHold) {
  Parameters<double> p;
  const auto w = p.declare("w", 64, 32);
  p.allocate();
  // Copies, not mirror views: on a host build a mirror view aliases the parameters.
  auto snapshot = [&] {
    auto h = Kokkos::create_mirror(Kokkos::HostSpace(), p.value(w));
    Kokkos::deep_copy(h, p.value(w));
    return std::vector<double>(h.data(), h.data() + h.size());
  };
  initialize_parameter(p, w, Init::xavier_uniform, 64, 32, 1.0, 42);
  const auto first = snapshot();
  initialize_parameter(p, w, Init::xavier_uniform, 64, 32, 1.0, 42);
  const auto second = snapshot();
  const double bound = std::sqrt(6.0 / 96.0);
  double sum_sq = 0;
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i], second[i]);
    EXPECT_LE(std::abs(first[i]), bound);
    sum_sq += first[i] * first[i];
  }
  // Variance of U(-a, a) is a²/3; 2048 samples give it to a few percent.
  EXPECT_NEAR(sum_sq / first.size(), bound * bound / 3.0, 0.1 * bound * bound / 3.0);
  initialize_parameter(p, w, Init::xavier_uniform, 64, 32, 1.0, 43);
  EXPECT_NE(snapshot()[0], first[0]);
}

TEST(Init, KaimingNormalVariance) {
  Parameters<double> p;
  const auto w = p.declare("w", 128, 64);
  p.allocate();
  initialize_parameter(p, w, Init::kaiming_normal, 128, 64, std::sqrt(2.0), 1);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), p.value(w));
  double sum_sq = 0;
  for (std::size_t i = 0; i < h.size(); ++i) sum_sq += h.data()[i] * h.data()[i];
  EXPECT_NEAR(sum_sq / h.size(), 2.0 / 128.0, 0.1 * 2.0 / 128.0);
}
