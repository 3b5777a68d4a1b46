// Radius graphs (mesh/radius_graph.hpp) against an O(n²) search over all pairs on random points
// in 2D and 3D: exactly the same edges in the same order (by receiver, then sender), with and
// without self-loops; the degrees of the directed graph; the edge features.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "karman/core/random.hpp"
#include "karman/mesh/radius_graph.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using karman::testing::to_vector;

namespace {

// n points uniform in [0, 1]^dim, row-major.
std::vector<double> random_cloud(std::size_t n, int dim, std::uint64_t seed) {
  std::vector<double> x(n * dim);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = uniform01(seed, i);
  return x;
}

// Every pair (i, j) with Σ_d (x_i,d − x_j,d)² < r², i then j increasing.
void all_pairs(const std::vector<double>& x, int dim, double radius, bool self_loops,
               std::vector<double>& row, std::vector<double>& col) {
  const std::size_t n = x.size() / dim;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double squared = 0;
      for (int d = 0; d < dim; ++d)
        squared += (x[i * dim + d] - x[j * dim + d]) * (x[i * dim + d] - x[j * dim + d]);
      if ((i != j || self_loops) && squared < radius * radius) {
        row.push_back(i);
        col.push_back(j);
      }
    }
}

void check_against_all_pairs(int dim, std::size_t n, double radius, bool self_loops) {
  const std::vector<double> x = random_cloud(n, dim, 40 + dim);
  mesh::RadiusGraphOptions options;
  options.self_loops = self_loops;
  const mesh::Graph g = mesh::radius_graph(x, dim, radius, options);
  std::vector<double> row, col;
  all_pairs(x, dim, radius, self_loops, row, col);
  ASSERT_GT(row.size(), 4 * n) << "a radius that gives a few neighbours per point";
  EXPECT_EQ(g.kind, mesh::Edges::directed);
  EXPECT_EQ(g.nodes, static_cast<long>(n));
  EXPECT_EQ(to_vector(g.row), row);
  EXPECT_EQ(to_vector(g.col), col);
  std::vector<double> degree(n, 0);
  for (const double i : row) ++degree[static_cast<std::size_t>(i)];
  EXPECT_EQ(to_vector(g.degree), degree);
}

}  // namespace

TEST(RadiusGraph, SameEdgesAsAllPairs2D) {
  check_against_all_pairs(2, 400, 0.08, false);
  check_against_all_pairs(2, 400, 0.08, true);
}

TEST(RadiusGraph, SameEdgesAsAllPairs3D) {
  check_against_all_pairs(3, 500, 0.2, false);
  check_against_all_pairs(3, 500, 0.2, true);
}

TEST(RadiusGraph, EdgeFeaturesAreRelativePositionAndDistance) {
  const int dim = 3;
  const std::vector<double> x = random_cloud(60, dim, 7);
  const mesh::RadiusGraph r = mesh::radius_graph_with_features(x, dim, 0.4);
  const auto row = to_vector(r.graph.row), col = to_vector(r.graph.col);
  const auto features = to_vector(r.edge_features);
  ASSERT_EQ(features.size(), row.size() * (dim + 1));
  ASSERT_GT(row.size(), 0u);
  for (std::size_t k = 0; k < row.size(); ++k) {
    const auto i = static_cast<std::size_t>(row[k]), j = static_cast<std::size_t>(col[k]);
    double squared = 0;
    for (int d = 0; d < dim; ++d) {
      const double relative = x[i * dim + d] - x[j * dim + d];
      EXPECT_DOUBLE_EQ(features[k * (dim + 1) + d], relative);
      squared += relative * relative;
    }
    EXPECT_NEAR(features[k * (dim + 1) + dim], std::sqrt(squared), 1e-15);
    EXPECT_LT(std::sqrt(squared), 0.4);
  }
}

TEST(RadiusGraph, RejectsBadArguments) {
  EXPECT_THROW(mesh::radius_graph({0.0, 1.0, 2.0}, 2, 0.5), InternalError);
  EXPECT_THROW(mesh::radius_graph({0.0, 1.0}, 2, 0.0), InternalError);
  EXPECT_THROW(mesh::radius_graph({0.0, 1.0}, 0, 1.0), InternalError);
}
