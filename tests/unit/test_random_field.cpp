// Gaussian random fields: reproducibility, the dropped mean mode, the FFT synthesis against a
// plain sum over modes (the kernel's reference twin), the pointwise variance, thresholding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "karman/core/random.hpp"
#include "karman/pde/random_field.hpp"

using namespace karman;
using karman::config::RandomFieldSpec;
using karman::mesh::GridShape;

namespace {

GridShape make_shape(int dim, std::array<long, 3> n, bool periodic,
                     std::array<double, 3> lower = {0, 0, 0},
                     std::array<double, 3> upper = {1, 1, 1}) {
  GridShape s;
  s.dim = dim;
  s.n = n;
  s.periodic = periodic;
  s.lower = lower;
  s.upper = upper;
  return s;
}

RandomFieldSpec make_spec(bool periodic, unsigned long seed, double alpha = 2.0, double tau = 3.0,
                          double sigma = 3.0) {
  RandomFieldSpec s;
  s.alpha = alpha;
  s.tau = tau;
  s.sigma = sigma;
  s.seed = seed;
  s.periodic = periodic;
  return s;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// Number of modes per dimension: the grid's node count, adjusted when the basis and the grid
// disagree on periodicity (a periodic basis on n end-inclusive nodes has n - 1 distinct nodes; a
// Neumann basis behind n periodic nodes is the cosine basis on n + 1 end-inclusive nodes).
long mode_count(const GridShape& g, const RandomFieldSpec& s, int d) {
  if (d >= g.dim) return 1;
  if (s.periodic == g.periodic) return g.n[d];
  return s.periodic ? g.n[d] - 1 : g.n[d] + 1;
}

// One factor of the L2-orthonormal eigenbasis: phi_k(x) and its |omega_k|^2, straight from the
// definitions (no FFT conventions).
double basis(const GridShape& g, const RandomFieldSpec& s, int d, long k, double x,
             double* omega2) {
  if (d >= g.dim) {
    *omega2 = 0.0;
    return 1.0;
  }
  const double length = g.upper[d] - g.lower[d], xi = (x - g.lower[d]) / length;
  const long m = mode_count(g, s, d);
  if (s.periodic) {
    const long kk = k <= m / 2 ? k : k - m;
    const double omega = 2 * M_PI * kk / length, arg = 2 * M_PI * kk * xi;
    *omega2 = omega * omega;
    return (std::cos(arg) + std::sin(arg)) / std::sqrt(length);
  }
  const double omega = M_PI * k / length;
  *omega2 = omega * omega;
  return (k == 0 ? 1.0 : std::sqrt(2.0)) * std::cos(M_PI * k * xi) / std::sqrt(length);
}

// u(x) = sum_{k != 0} sqrt(lambda_k) xi_k phi_k(x) at every node by an O(N^2) loop.
std::vector<double> reference_field(const GridShape& g, const RandomFieldSpec& s) {
  const long m0 = mode_count(g, s, 0), m1 = mode_count(g, s, 1), m2 = mode_count(g, s, 2);
  std::vector<double> u;
  for (long k = 0; k < g.n[2]; ++k)
    for (long j = 0; j < g.n[1]; ++j)
      for (long i = 0; i < g.n[0]; ++i) {
        const double x = g.coordinate(0, i), y = g.coordinate(1, j), z = g.coordinate(2, k);
        double sum = 0.0;
        for (long c = 0; c < m2; ++c)
          for (long b = 0; b < m1; ++b)
            for (long a = 0; a < m0; ++a) {
              const long idx = (c * m1 + b) * m0 + a;
              if (idx == 0) continue;
              double w0, w1, w2;
              const double phi =
                  basis(g, s, 0, a, x, &w0) * basis(g, s, 1, b, y, &w1) * basis(g, s, 2, c, z, &w2);
              const double lambda =
                  s.sigma * s.sigma * std::pow(w0 + w1 + w2 + s.tau * s.tau, -s.alpha);
              sum += std::sqrt(lambda) * standard_normal(s.seed, idx) * phi;
            }
        u.push_back(sum);
      }
  return u;
}

}  // namespace

TEST(RandomField, ReproducibleForASeedAndDifferentAcrossSeeds) {
  const GridShape g = make_shape(2, {17, 9, 1}, false);
  auto a = pde::random_field_global(g, make_spec(false, 42));
  auto b = pde::random_field_global(g, make_spec(false, 42));
  auto c = pde::random_field_global(g, make_spec(false, 43));
  ASSERT_EQ(a.size(), 17u * 9u);
  EXPECT_EQ(a, b);
  EXPECT_GT(max_abs_diff(a, c), 0.1);
}

TEST(RandomField, PeriodicGridMeanIsZero) {
  // The k = 0 mode is dropped and every other cas product sums to zero over the periodic grid.
  for (const GridShape& g : {make_shape(1, {64, 1, 1}, true), make_shape(2, {16, 12, 1}, true),
                             make_shape(3, {8, 6, 5}, true)}) {
    auto u = pde::random_field_global(g, make_spec(true, 5));
    double mean = 0.0, scale = 0.0;
    for (double v : u) mean += v / u.size(), scale = std::max(scale, std::abs(v));
    EXPECT_GT(scale, 0.01);  // a non-trivial field
    EXPECT_LT(std::abs(mean), 1e-14 * scale) << "dim " << g.dim;
  }
}

TEST(RandomField, NeumannTrapezoidalMeanIsZero) {
  // On end-inclusive nodes the trapezoidal rule integrates every cos(pi k x), 0 < k <= n-1,
  // exactly to zero, so the trapezoidal mean of a field without the k = 0 mode vanishes.
  const GridShape g = make_shape(2, {33, 17, 1}, false, {-1, 0, 0}, {1, 3, 1});
  auto u = pde::random_field_global(g, make_spec(false, 8));
  auto w = [](long i, long n) { return (i == 0 || i == n - 1) ? 0.5 : 1.0; };
  double mean = 0.0, weight = 0.0, scale = 0.0;
  for (long j = 0; j < 17; ++j)
    for (long i = 0; i < 33; ++i) {
      mean += w(i, 33) * w(j, 17) * u[j * 33 + i];
      weight += w(i, 33) * w(j, 17);
      scale = std::max(scale, std::abs(u[j * 33 + i]));
    }
  EXPECT_GT(scale, 0.1);
  EXPECT_LT(std::abs(mean / weight), 1e-14 * scale);
}

TEST(RandomField, PeriodicFftMatchesReferenceSum) {
  // Even and odd n (with and without a Nyquist mode), a shifted box of length 3, and 2D/3D.
  for (const GridShape& g :
       {make_shape(1, {64, 1, 1}, true, {-1, 0, 0}, {2, 1, 1}), make_shape(1, {45, 1, 1}, true),
        make_shape(2, {12, 9, 1}, true, {0, -2, 0}, {0.5, 2, 1}),
        make_shape(3, {6, 5, 4}, true, {0, 0, 1}, {1, 2, 2})}) {
    const RandomFieldSpec s = make_spec(true, 7, 1.5, 2.0, 1.7);
    auto u = pde::random_field_global(g, s);
    EXPECT_LT(max_abs_diff(u, reference_field(g, s)), 1e-12) << "dim " << g.dim << " n " << g.n[0];
  }
}

TEST(RandomField, NeumannFftMatchesReferenceSum) {
  for (const GridShape& g : {make_shape(2, {9, 6, 1}, false, {0, -0.5, 0}, {1, 1.5, 1}),
                             make_shape(1, {2, 1, 1}, false), make_shape(1, {31, 1, 1}, false),
                             make_shape(3, {5, 4, 3}, false, {0, 0, 0}, {2, 1, 0.5})}) {
    const RandomFieldSpec s = make_spec(false, 11, 2.0, 3.0, 3.0);
    auto u = pde::random_field_global(g, s);
    EXPECT_LT(max_abs_diff(u, reference_field(g, s)), 1e-12) << "dim " << g.dim << " n " << g.n[0];
  }
}

TEST(RandomField, BasisAndGridPeriodicityMayDiffer) {
  // A periodic field on an end-inclusive grid repeats node 0 at x = upper; a Neumann field on a
  // periodic grid is the cosine field on the box, sampled at the periodic nodes.
  const GridShape closed = make_shape(2, {13, 8, 1}, false, {0, 0, 0}, {1, 2, 1});
  const RandomFieldSpec periodic = make_spec(true, 3);
  auto u = pde::random_field_global(closed, periodic);
  EXPECT_LT(max_abs_diff(u, reference_field(closed, periodic)), 1e-12);
  for (long j = 0; j < 8; ++j) EXPECT_EQ(u[j * 13 + 12], u[j * 13]);
  for (long i = 0; i < 13; ++i) EXPECT_EQ(u[7 * 13 + i], u[i]);

  const GridShape open = make_shape(2, {12, 7, 1}, true, {0, 0, 0}, {1, 2, 1});
  const RandomFieldSpec neumann = make_spec(false, 3);
  EXPECT_LT(max_abs_diff(pde::random_field_global(open, neumann), reference_field(open, neumann)),
            1e-12);
}

TEST(RandomField, PeriodicPointwiseVarianceMatchesTheSpectrum) {
  // Var u(x) = sum_{k != 0} lambda_k phi_k(x)^2. With 1000 seeds the sample variance has a
  // relative standard error of sqrt(2/999) ~ 4.5%, so 20% is a > 4-sigma tolerance.
  const long n = 32, j = 5, samples = 1000;
  const GridShape g = make_shape(1, {n, 1, 1}, true, {0, 0, 0}, {2, 1, 1});
  RandomFieldSpec s = make_spec(true, 0, 2.0, 3.0, std::pow(3.0, 1.5));
  double expected = 0.0;
  for (long k = 1; k < n; ++k) {
    double w2;
    const double phi = basis(g, s, 0, k, g.coordinate(0, j), &w2);
    expected += s.sigma * s.sigma * std::pow(w2 + s.tau * s.tau, -s.alpha) * phi * phi;
  }
  double sum = 0.0, sum2 = 0.0;
  for (long seed = 1; seed <= samples; ++seed) {
    s.seed = seed;
    const double v = pde::random_field_global(g, s)[j];
    sum += v;
    sum2 += v * v;
  }
  const double mean = sum / samples, var = (sum2 - samples * mean * mean) / (samples - 1);
  EXPECT_NEAR(var / expected, 1.0, 0.2) << "sample " << var << " analytic " << expected;
}

TEST(RandomField, ThresholdedFieldTakesTwoValues) {
  const GridShape g = make_shape(2, {33, 33, 1}, false);
  RandomFieldSpec s = make_spec(false, 9);
  s.thresholded = true;
  long above = 0, below = 0;
  for (double v : pde::random_field_global(g, s)) {
    ASSERT_TRUE(v == 12.0 || v == 3.0) << v;
    (v == 12.0 ? above : below)++;
  }
  EXPECT_GT(above, 33 * 33 / 10);  // a zero-mean field at threshold 0 has both phases
  EXPECT_GT(below, 33 * 33 / 10);
}

TEST(RandomField, DarcyCoefficientFieldHasTheSpectrumsVariance) {
  // The Darcy benchmark's field: Neumann, alpha = 2, tau = 3, sigma = tau^(alpha - dim/2) = 3.
  // Its grid-averaged variance (1/N) sum_x sum_k lambda_k phi_k(x)^2 is ~0.09 (rms ~0.3): sigma
  // makes it roughly independent of tau, not 1. 100 seeds of a field with correlation length ~1/tau
  // give the sample mean square to a few percent, and values stay far inside +-5.
  const long n = 33, samples = 100;
  const GridShape g = make_shape(2, {n, n, 1}, false);
  RandomFieldSpec s = make_spec(false, 0, 2.0, 3.0, 3.0);
  double expected = 0.0;
  for (long j = 0; j < n; ++j)
    for (long i = 0; i < n; ++i)
      for (long b = 0; b < n; ++b)
        for (long a = 0; a < n; ++a) {
          if (a == 0 && b == 0) continue;
          double w0, w1;
          const double phi = basis(g, s, 0, a, g.coordinate(0, i), &w0) *
                             basis(g, s, 1, b, g.coordinate(1, j), &w1);
          expected += s.sigma * s.sigma * std::pow(w0 + w1 + s.tau * s.tau, -s.alpha) * phi * phi;
        }
  expected /= n * n;
  double sum2 = 0.0, largest = 0.0;
  for (long seed = 0; seed < samples; ++seed) {
    s.seed = seed;
    for (double v : pde::random_field_global(g, s)) {
      sum2 += v * v;
      largest = std::max(largest, std::abs(v));
    }
  }
  const double mean_square = sum2 / (samples * n * n);
  EXPECT_NEAR(mean_square / expected, 1.0, 0.2) << mean_square << " vs " << expected;
  EXPECT_GT(expected, 0.02);
  EXPECT_LT(expected, 0.2);
  EXPECT_LT(largest, 5.0);
}
