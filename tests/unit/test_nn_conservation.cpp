// ProbConserv's update (nn/conservation.hpp): after the batched integral correction the
// constraint dx Σ u = b holds to round-off (float64 and float32); the kernel equals the dense
// host reference with G = dx·1ᵀ (mean and the diagonal of Σ̃); equal (or all zero) variances give
// the orthogonal projection; a point of zero variance does not move; the dense update with two
// constraints equals the KKT solve of min (u − μ)ᵀ Σ⁻¹ (u − μ) s.t. G u = b, and G Σ̃ = 0; the
// ensemble statistics equal host loops.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "karman/core/random.hpp"
#include "karman/nn/conservation.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::nn;
using namespace karman::testing;

namespace {

constexpr std::size_t kRows = 6, kPoints = 40;
constexpr double kDx = 16.0 / kPoints;

// Variances in (0.01, 1.01), some rows with a sharp peak (a shock's uncertainty).
template <class T>
Matrix<T> random_variances(std::size_t rows, std::size_t n, std::uint64_t seed) {
  Matrix<T> m("variance", rows, n);
  auto h = Kokkos::create_mirror_view(m);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t i = 0; i < n; ++i)
      h(r, i) = static_cast<T>(0.01 + uniform01(seed, r * n + i) + (i == 3 * r ? 5.0 : 0.0));
  Kokkos::deep_copy(m, h);
  return m;
}

Vector<double> targets(std::size_t rows) {
  Vector<double> b("b", rows);
  auto h = Kokkos::create_mirror_view(b);
  for (std::size_t r = 0; r < rows; ++r) h(r) = 0.5 * static_cast<double>(r) - 1.0;
  Kokkos::deep_copy(b, h);
  return b;
}

template <class T>
Matrix<T> copy(const Matrix<T>& m) {
  Matrix<T> out("copy", m.extent(0), m.extent(1));
  Kokkos::deep_copy(out, m);
  return out;
}

// The dense square system A x = r by Gaussian elimination with partial pivoting (test-local).
std::vector<double> solve(std::vector<double> a, std::vector<double> r) {
  const std::size_t n = r.size();
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t p = k;
    for (std::size_t i = k + 1; i < n; ++i)
      if (std::abs(a[i * n + k]) > std::abs(a[p * n + k])) p = i;
    for (std::size_t j = 0; j < n; ++j) std::swap(a[k * n + j], a[p * n + j]);
    std::swap(r[k], r[p]);
    for (std::size_t i = k + 1; i < n; ++i) {
      const double f = a[i * n + k] / a[k * n + k];
      for (std::size_t j = k; j < n; ++j) a[i * n + j] -= f * a[k * n + j];
      r[i] -= f * r[k];
    }
  }
  for (std::size_t k = n; k-- > 0;) {
    for (std::size_t j = k + 1; j < n; ++j) r[k] -= a[k * n + j] * r[j];
    r[k] /= a[k * n + k];
  }
  return r;
}

}  // namespace

TEST(ConserveIntegral, ConstraintHoldsToRoundOff) {
  const Matrix<double> mean = random_matrix(kRows, kPoints, 1, 2.0);
  const Matrix<double> variance = random_variances<double>(kRows, kPoints, 2);
  const Vector<double> b = targets(kRows);
  const std::vector<double> before = to_vector(row_integrals(mean, kDx));
  conserve_integral(mean, variance, b, kDx);
  const std::vector<double> after = to_vector(row_integrals(mean, kDx)), want = to_vector(b);
  for (std::size_t r = 0; r < kRows; ++r) {
    EXPECT_GT(std::abs(before[r] - want[r]), 0.1);  // there was a defect to remove
    EXPECT_NEAR(after[r], want[r], 1e-13);
  }
  // float32: sums in double, the stored values rounded to float (n·ε·|u|·dx).
  const Matrix<float> mean32 = random_matrix<float>(kRows, kPoints, 1, 2.0);
  conserve_integral(mean32, random_variances<float>(kRows, kPoints, 2), b, kDx);
  const std::vector<double> after32 = to_vector(row_integrals(mean32, kDx));
  for (std::size_t r = 0; r < kRows; ++r) EXPECT_NEAR(after32[r], want[r], 2e-5);
}

TEST(ConserveIntegral, EqualsTheDenseReference) {
  const Matrix<double> mean = random_matrix(kRows, kPoints, 3, 2.0);
  const Matrix<double> variance = random_variances<double>(kRows, kPoints, 4);
  const std::vector<double> mu = to_vector(mean), s2 = to_vector(variance);
  const std::vector<double> b = to_vector(targets(kRows));
  const Matrix<double> corrected("corrected", kRows, kPoints);
  conserve_integral(mean, variance, targets(kRows), kDx, corrected);
  const std::vector<double> got = to_vector(mean), got_variance = to_vector(corrected);
  const std::vector<double> g(kPoints, kDx);  // one constraint: dx Σ u = b
  for (std::size_t r = 0; r < kRows; ++r) {
    const auto row = [&](const std::vector<double>& v) {
      return std::vector<double>(v.begin() + r * kPoints, v.begin() + (r + 1) * kPoints);
    };
    const ProbConservResult want = probconserv_dense(row(mu), row(s2), g, {b[r]});
    for (std::size_t i = 0; i < kPoints; ++i) {
      EXPECT_NEAR(got[r * kPoints + i], want.mean[i], 1e-12);
      EXPECT_NEAR(got_variance[r * kPoints + i], want.covariance[i * kPoints + i], 1e-12);
    }
  }
}

TEST(ConserveIntegral, EqualVariancesSubtractTheMeanDefect) {
  for (const double level : {0.3, 0.0}) {  // equal, and all zero (an ensemble of one)
    const Matrix<double> mean = random_matrix(kRows, kPoints, 5);
    const Matrix<double> variance("variance", kRows, kPoints);
    Kokkos::deep_copy(variance, level);
    const std::vector<double> mu = to_vector(mean), before = to_vector(row_integrals(mean, kDx));
    const std::vector<double> b = to_vector(targets(kRows));
    conserve_integral(mean, variance, targets(kRows), kDx);
    const std::vector<double> got = to_vector(mean);
    for (std::size_t r = 0; r < kRows; ++r) {
      const double shift = (before[r] - b[r]) / (kDx * kPoints);
      for (std::size_t i = 0; i < kPoints; ++i)
        EXPECT_NEAR(got[r * kPoints + i], mu[r * kPoints + i] - shift, 1e-14);
    }
  }
}

TEST(ConserveIntegral, ZeroVarianceLeavesAPointUnchanged) {
  const Matrix<double> mean = random_matrix(kRows, kPoints, 6);
  const Matrix<double> variance = random_variances<double>(kRows, kPoints, 7);
  const auto frozen = std::make_pair(std::size_t{10}, std::size_t{17});
  Kokkos::deep_copy(Kokkos::subview(variance, Kokkos::ALL, frozen), 0.0);
  const std::vector<double> mu = to_vector(mean);
  const Matrix<double> corrected("corrected", kRows, kPoints);
  conserve_integral(mean, variance, targets(kRows), kDx, corrected);
  const std::vector<double> got = to_vector(mean), s2 = to_vector(corrected);
  const std::vector<double> after = to_vector(row_integrals(mean, kDx)),
                            b = to_vector(targets(kRows));
  for (std::size_t r = 0; r < kRows; ++r) {
    EXPECT_NEAR(after[r], b[r], 1e-13);
    for (std::size_t i = 0; i < kPoints; ++i) {
      const bool still = i >= frozen.first && i < frozen.second;
      if (still) {
        EXPECT_EQ(got[r * kPoints + i], mu[r * kPoints + i]);
        EXPECT_EQ(s2[r * kPoints + i], 0.0);
      } else {
        EXPECT_NE(got[r * kPoints + i], mu[r * kPoints + i]);
      }
    }
  }
}

TEST(ProbConservDense, TwoConstraintsEqualTheKktSolve) {
  // n = 12 points; G: the integral and the first moment Σ x_i u_i dx.
  const std::size_t n = 12, m = 2;
  std::vector<double> mu(n), s2(n), g(m * n), b = {0.7, -0.2};
  for (std::size_t i = 0; i < n; ++i) {
    mu[i] = standard_normal(8, i);
    s2[i] = 0.05 + uniform01(9, i);
    g[i] = 0.25;
    g[n + i] = 0.25 * (0.25 * (static_cast<double>(i) + 0.5));
  }
  const ProbConservResult got = probconserv_dense(mu, s2, g, b);
  // KKT of the variance-weighted least squares: [Σ⁻¹ Gᵀ; G 0] [u; λ] = [Σ⁻¹ μ; b].
  const std::size_t k = n + m;
  std::vector<double> a(k * k, 0.0), r(k, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    a[i * k + i] = 1.0 / s2[i];
    r[i] = mu[i] / s2[i];
    for (std::size_t c = 0; c < m; ++c) a[i * k + n + c] = a[(n + c) * k + i] = g[c * n + i];
  }
  for (std::size_t c = 0; c < m; ++c) r[n + c] = b[c];
  const std::vector<double> want = solve(a, r);
  for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(got.mean[i], want[i], 1e-12);
  for (std::size_t c = 0; c < m; ++c) {
    double gu = 0.0;
    for (std::size_t i = 0; i < n; ++i) gu += g[c * n + i] * got.mean[i];
    EXPECT_NEAR(gu, b[c], 1e-13);
    // The corrected covariance has no spread along the constraints: G Σ̃ = 0.
    for (std::size_t j = 0; j < n; ++j) {
      double gs = 0.0;
      for (std::size_t i = 0; i < n; ++i) gs += g[c * n + i] * got.covariance[i * n + j];
      EXPECT_NEAR(gs, 0.0, 1e-14);
    }
  }
}

TEST(EnsembleStatistics, MeanAndBiasedVarianceMatchHostLoops) {
  const std::size_t members = 3, rows = 7, cols = 5;
  std::vector<Matrix<double>> predictions;
  for (std::size_t k = 0; k < members; ++k)
    predictions.push_back(random_matrix(rows, cols, 20 + k));
  Matrix<double> mean, variance;
  ensemble_statistics(predictions, mean, variance);
  const std::vector<double> got_mean = to_vector(mean), got_variance = to_vector(variance);
  for (std::size_t e = 0; e < rows * cols; ++e) {
    double mu = 0.0, s2 = 0.0;
    for (std::size_t k = 0; k < members; ++k) mu += to_vector(predictions[k])[e] / members;
    for (std::size_t k = 0; k < members; ++k) {
      const double d = to_vector(predictions[k])[e] - mu;
      s2 += d * d / members;
    }
    EXPECT_NEAR(got_mean[e], mu, 1e-14);
    EXPECT_NEAR(got_variance[e], s2, 1e-14);
  }
}
