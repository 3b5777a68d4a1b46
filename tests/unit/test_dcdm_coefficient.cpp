// DCDM's variable-coefficient problem (operators/precond/coefficient.hpp): the random κ both kinds
// draw, and the obstacle diffusion matrix built from it. Asserted: with no obstacle the DCDM
// matrix is, entry for entry, the matrix kind precond builds for the same coefficient
// (create_diffusion_2d of random_kappa_nodes: the same seed gives the same field in both kinds);
// with obstacles it is symmetric positive definite (every eigenvalue of a full Lanczos run > 0),
// couples fluid cells by −(κ_i + κ_j)/2 and keeps no entry across a wall; the log-normal map is
// exp of the GRF draw seed·10007 + draw, the thresholded one takes only its two values; a κ of
// the wrong size is refused. model.scaling jacobi's matrix is D^(−1/2) A D^(−1/2).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "karman/mesh/grid.hpp"
#include "karman/pde/random_field.hpp"
#include "operators/precond/coefficient.hpp"
#include "operators/precond/dcdm.hpp"
#include "operators/precond/dcdm_scaling.hpp"
#include "operators/precond/petsc_factor.hpp"
#include "petsc/handle.hpp"
#include "support/kokkos_env.hpp"

namespace {

using namespace karman;
using namespace karman::precond;

// The case keys' defaults with a high-contrast log-normal field (σ = 10, as
// cases/precond/diffusion2d_grf.yaml).
CoefficientSpec lognormal(unsigned long seed) {
  CoefficientSpec spec;
  spec.random = true;
  spec.field.seed = seed;
  spec.field.sigma = 10.0;
  return spec;
}

// A dense copy of a CSR matrix. [rows][rows]
std::vector<std::vector<double>> dense(const CsrMatrix& a) {
  std::vector<std::vector<double>> out(a.rows, std::vector<double>(a.rows, 0.0));
  for (std::int64_t i = 0; i < a.rows; ++i)
    for (std::int64_t k = a.row_ptr[i]; k < a.row_ptr[i + 1]; ++k) out[i][a.col[k]] = a.values[k];
  return out;
}

TEST(DcdmCoefficient, AllFluidGridIsThePrecondKindsDiffusionMatrix) {
  const long n = 12;
  for (const char* map : {"lognormal", "threshold"}) {
    SCOPED_TRACE(map);
    CoefficientSpec spec = lognormal(3);
    spec.map = map;
    const std::vector<double> kappa = random_kappa_nodes(spec, n, 7);
    const ObstacleGrid grid =
        obstacle_diffusion_2d(n, std::vector<char>(n * n, 0), kappa);  // no obstacle
    petsc::Mat reference;
    create_diffusion_2d(PETSC_COMM_SELF, n, kappa, reference.out());
    const CsrMatrix expected = local_diagonal_block(reference);
    ASSERT_EQ(grid.a.rows, expected.rows);
    EXPECT_EQ(grid.a.row_ptr, expected.row_ptr);
    EXPECT_EQ(grid.a.col, expected.col);
    for (std::size_t k = 0; k < expected.values.size(); ++k)
      EXPECT_NEAR(grid.a.values[k], expected.values[k], 1e-13 * std::abs(expected.values[k])) << k;
  }
}

TEST(DcdmCoefficient, ObstacleDiffusionMatrixIsSpdWithFaceMeans) {
  const long n = 14;
  const std::vector<char> solid = obstacles_2d(n, 4, 3);
  ASSERT_GT(std::count(solid.begin(), solid.end(), 1), 0);
  const std::vector<double> kappa = random_kappa_nodes(lognormal(1), n, 0);
  const ObstacleGrid grid = obstacle_diffusion_2d(n, solid, kappa);
  const auto a = dense(grid.a);
  auto node = [&](long i, long j) { return kappa[(j + 1) * (n + 2) + i + 1]; };
  for (long c = 0; c < n * n; ++c) {
    if (grid.row[c] < 0) continue;
    const long i = c % n, j = c / n;
    double neighbours = 0.0;  // Σ of the fluid neighbours' couplings
    for (const auto& [di, dj] :
         {std::pair{1, 0}, std::pair{-1, 0}, std::pair{0, 1}, std::pair{0, -1}}) {
      const long fi = i + di, fj = j + dj;
      if (fi < 0 || fi >= n || fj < 0 || fj >= n) continue;
      const long d = fj * n + fi;
      if (grid.row[d] < 0) continue;  // a wall: no entry (checked by the row's entry count below)
      const double face = 0.5 * (node(i, j) + node(fi, fj));
      EXPECT_NEAR(a[grid.row[c]][grid.row[d]], -face, 1e-12 * face);
      EXPECT_EQ(a[grid.row[c]][grid.row[d]], a[grid.row[d]][grid.row[c]]);  // symmetric
      neighbours += face;
    }
    // The diagonal is the fluid faces' sum plus the Dirichlet box faces': at least the former.
    EXPECT_GE(a[grid.row[c]][grid.row[c]], neighbours * (1 - 1e-12));
  }
  EXPECT_EQ(grid.a.nnz(), obstacle_poisson_2d(n, solid).a.nnz());  // Poisson's pattern exactly
  // Positive definite: a full Lanczos run's Ritz values are A's eigenvalues.
  const RitzPairs ritz = lanczos_ritz_pairs(grid.a, grid.a.rows, 1);
  ASSERT_FALSE(ritz.values.empty());
  EXPECT_GT(ritz.values.front(), 1e-6);
}

// model.scaling jacobi's matrix: D^(−1/2) A D^(−1/2), a unit diagonal and a_ij / sqrt(a_ii a_jj).
TEST(DcdmCoefficient, JacobiScaledMatrix) {
  const long n = 10;
  const ObstacleGrid grid =
      obstacle_diffusion_2d(n, obstacles_2d(n, 3, 2), random_kappa_nodes(lognormal(4), n, 1));
  const ObstacleGrid scaled = jacobi_scaled(grid);
  const auto a = dense(grid.a), s = dense(scaled.a);
  ASSERT_EQ(scaled.a.nnz(), grid.a.nnz());
  for (std::int64_t i = 0; i < grid.a.rows; ++i) {
    EXPECT_NEAR(s[i][i], 1.0, 1e-14);
    for (std::int64_t j = 0; j < grid.a.rows; ++j)
      EXPECT_NEAR(s[i][j], a[i][j] / std::sqrt(a[i][i] * a[j][j]), 1e-14);
  }
}

TEST(DcdmCoefficient, MapsOfTheFieldAndBadSizes) {
  const long n = 10;
  const CoefficientSpec spec = lognormal(2);
  mesh::GridShape nodes;
  nodes.dim = 2;
  nodes.n = {n + 2, n + 2, 1};
  config::RandomFieldSpec field = spec.field;
  field.seed = 2 * 10007 + 5;
  const std::vector<double> u = pde::random_field_global(nodes, field);
  const std::vector<double> kappa = random_kappa_nodes(spec, n, 5);
  ASSERT_EQ(kappa.size(), u.size());
  for (std::size_t k = 0; k < u.size(); ++k)
    EXPECT_NEAR(kappa[k], std::exp(u[k]), 1e-12 * kappa[k]);
  CoefficientSpec jumps = spec;
  jumps.map = "threshold";
  const std::vector<double> thresholded = random_kappa_nodes(jumps, n, 5);
  for (std::size_t k = 0; k < u.size(); ++k)
    EXPECT_EQ(thresholded[k], u[k] >= 0.0 ? jumps.high : jumps.low);
  EXPECT_NE(random_kappa_nodes(spec, n, 6), kappa);  // another draw, another field
  EXPECT_THROW(
      obstacle_diffusion_2d(n, std::vector<char>(n * n, 0), std::vector<double>(n * n, 1.0)),
      std::invalid_argument);
}

}  // namespace
