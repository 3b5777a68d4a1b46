// The graph core (karman/mesh/graph.hpp): the incidence of a graph with self-loops and repeated
// edges, every kernel against a plain host loop, and the reductions and gathers as adjoints of
// their transposes (<gather(x), y> = <x, scatter(y)>), directed and undirected, float and double.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/core/kokkos_math.hpp"
#include "karman/mesh/graph.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::mesh;
using karman::nn::Matrix;
using karman::testing::random_matrix;

namespace {

constexpr long kNodes = 37, kEdges = 160;
constexpr std::size_t kWidth = 5;

using Host = std::vector<std::vector<double>>;  // [rows][channels]

// Edges of a random multigraph: some self-loops, some repeated pairs, one isolated node (the
// last: no edge touches it).
void random_edges(std::vector<long>& row, std::vector<long>& col) {
  std::uint64_t state = 12345;
  const auto next = [&state](long n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<long>((state >> 33) % static_cast<std::uint64_t>(n));
  };
  for (long k = 0; k < kEdges; ++k) {
    const long i = next(kNodes - 1);
    const long j = k % 9 == 0 ? i : next(kNodes - 1);  // every 9th edge a self-loop
    row.push_back(i);
    col.push_back(j);
  }
  row.push_back(row[3]);  // a repeated edge
  col.push_back(col[3]);
}

template <class T>
Host to_host(const Matrix<T>& m) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
  Host out(h.extent(0), std::vector<double>(h.extent(1)));
  for (std::size_t r = 0; r < h.extent(0); ++r)
    for (std::size_t c = 0; c < h.extent(1); ++c) out[r][c] = h(r, c);
  return out;
}

double max_difference(const Host& a, const Host& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0.0;
  for (std::size_t r = 0; r < a.size(); ++r)
    for (std::size_t c = 0; c < a[r].size(); ++c) d = std::max(d, std::abs(a[r][c] - b[r][c]));
  return d;
}

double dot(const Host& a, const Host& b) {
  double s = 0.0;
  for (std::size_t r = 0; r < a.size(); ++r)
    for (std::size_t c = 0; c < a[r].size(); ++c) s += a[r][c] * b[r][c];
  return s;
}

// The plain references: host loops over the edges.
struct Reference {
  std::vector<long> row, col;
  bool directed = false;

  // The nodes that aggregate edge k: i, and j too when undirected and j ≠ i.
  std::vector<long> aggregating(std::size_t k) const {
    if (directed || row[k] == col[k]) return {row[k]};
    return {row[k], col[k]};
  }
  std::vector<double> degree() const {
    std::vector<double> d(kNodes, 0.0);
    for (std::size_t k = 0; k < row.size(); ++k)
      for (long n : aggregating(k)) d[n] += 1.0;
    return d;
  }
  Host gather(const std::vector<long>& ends, const Host& x) const {
    Host out;
    for (std::size_t k = 0; k < row.size(); ++k) out.push_back(x[ends[k]]);
    return out;
  }
  Host scatter(const std::vector<long>& ends, const Host& y) const {
    Host out(kNodes, std::vector<double>(y[0].size(), 0.0));
    for (std::size_t k = 0; k < row.size(); ++k)
      for (std::size_t c = 0; c < y[k].size(); ++c) out[ends[k]][c] += y[k][c];
    return out;
  }
  Host segment(const Host& y, bool mean) const {
    Host out(kNodes, std::vector<double>(y[0].size(), 0.0));
    const std::vector<double> d = degree();
    for (std::size_t k = 0; k < row.size(); ++k)
      for (long n : aggregating(k))
        for (std::size_t c = 0; c < y[k].size(); ++c) out[n][c] += mean ? y[k][c] / d[n] : y[k][c];
    return out;
  }
  Host segment_transpose(const Host& dx, bool mean) const {
    Host out(row.size(), std::vector<double>(dx[0].size(), 0.0));
    const std::vector<double> d = degree();
    for (std::size_t k = 0; k < row.size(); ++k)
      for (long n : aggregating(k))
        for (std::size_t c = 0; c < dx[n].size(); ++c)
          out[k][c] += mean ? dx[n][c] / d[n] : dx[n][c];
    return out;
  }
};

class GraphKernels : public ::testing::TestWithParam<Edges> {
 protected:
  void SetUp() override {
    random_edges(ref.row, ref.col);
    ref.directed = GetParam() == Edges::directed;
    graph = make_graph(kNodes, ref.row, ref.col, GetParam());
  }
  Reference ref;
  Graph graph;
};

TEST_P(GraphKernels, IncidenceListsEveryEdgeAtItsEndsInEdgeOrder) {
  EXPECT_EQ(graph.nodes, kNodes);
  EXPECT_EQ(graph.edges, kEdges + 1);
  auto ptr = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.incident_ptr);
  auto incident = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.incident);
  auto degree = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.degree);
  const std::vector<double> expected_degree = ref.degree();
  for (long i = 0; i < kNodes; ++i) {
    std::vector<long> expected;
    for (long k = 0; k < graph.edges; ++k)
      if (ref.row[k] == i || ref.col[k] == i) expected.push_back(k);
    EXPECT_EQ(std::vector<long>(incident.data() + ptr(i), incident.data() + ptr(i + 1)), expected)
        << "node " << i;
    EXPECT_EQ(degree(i), expected_degree[i]) << "node " << i;
  }
  EXPECT_EQ(ptr(kNodes) - ptr(kNodes - 1), 0) << "the isolated node";
}

TEST_P(GraphKernels, GatherAndScatterMatchTheReference) {
  const Matrix<double> x = random_matrix<double>(kNodes, kWidth, 1);
  const Matrix<double> y = random_matrix<double>(graph.edges, kWidth, 2);
  for (const End end : {End::row, End::col}) {
    const std::vector<long>& ends = end == End::row ? ref.row : ref.col;
    Matrix<double> gathered("gathered", graph.edges, kWidth);
    gather<double>(graph, end, x, gathered);
    EXPECT_EQ(max_difference(to_host(gathered), ref.gather(ends, to_host(x))), 0.0);

    Matrix<double> scattered = random_matrix<double>(kNodes, kWidth, 3);  // scatter_add adds
    Host expected = ref.scatter(ends, to_host(y));
    const Host before = to_host(scattered);
    for (long i = 0; i < kNodes; ++i)
      for (std::size_t c = 0; c < kWidth; ++c) expected[i][c] += before[i][c];
    scatter_add<double>(graph, end, y, scattered);
    EXPECT_LT(max_difference(to_host(scattered), expected), 1e-13);
  }
  Matrix<double> to_row = random_matrix<double>(kNodes, kWidth, 4);  // overwritten
  Matrix<double> to_col = random_matrix<double>(kNodes, kWidth, 5);
  scatter_ends<double>(graph, y, to_row, to_col);
  EXPECT_LT(max_difference(to_host(to_row), ref.scatter(ref.row, to_host(y))), 1e-13);
  EXPECT_LT(max_difference(to_host(to_col), ref.scatter(ref.col, to_host(y))), 1e-13);
}

TEST_P(GraphKernels, GatherAddMatchesTheReference) {
  const Matrix<double> a = random_matrix<double>(kNodes, kWidth, 1);
  const Matrix<double> b = random_matrix<double>(kNodes, kWidth, 2);
  Matrix<double> z = random_matrix<double>(graph.edges, kWidth, 3);
  Host expected = to_host(z);
  const Host from_i = ref.gather(ref.row, to_host(a)), from_j = ref.gather(ref.col, to_host(b));
  for (long k = 0; k < graph.edges; ++k)
    for (std::size_t c = 0; c < kWidth; ++c)
      expected[k][c] = expected[k][c] + from_i[k][c] + from_j[k][c];  // the kernel's order
  gather_add<double>(graph, a, b, z);
  EXPECT_EQ(max_difference(to_host(z), expected), 0.0);

  // With a bias and tanh written in place (the split edge MLP's use).
  Matrix<double> bias("bias", 1, kWidth);
  Kokkos::deep_copy(bias, 0.5);
  for (long k = 0; k < graph.edges; ++k)
    for (std::size_t c = 0; c < kWidth; ++c)
      expected[k][c] = std::tanh(expected[k][c] + from_i[k][c] + from_j[k][c] + 0.5);
  gather_add<double>(
      graph, a, b, bias, z, z, KOKKOS_LAMBDA(const double v) { return karman::kmath::tanh(v); });
  EXPECT_LT(max_difference(to_host(z), expected), 1e-15);

  // Into another output, z keeping the pre-activation.
  Matrix<double> y("y", graph.edges, kWidth);
  Kokkos::deep_copy(z, 0.0);
  gather_add<double>(
      graph, a, b, bias, z, y, KOKKOS_LAMBDA(const double v) { return 2.0 * v; });
  Host pre = ref.gather(ref.row, to_host(a));
  for (long k = 0; k < graph.edges; ++k)
    for (std::size_t c = 0; c < kWidth; ++c) pre[k][c] = pre[k][c] + from_j[k][c] + 0.5;
  EXPECT_EQ(max_difference(to_host(z), pre), 0.0);
  for (auto& r : pre)
    for (double& v : r) v *= 2.0;
  EXPECT_EQ(max_difference(to_host(y), pre), 0.0);
}

TEST_P(GraphKernels, SegmentReductionsMatchTheReference) {
  const Matrix<double> y = random_matrix<double>(graph.edges, kWidth, 1);
  const Matrix<double> dx = random_matrix<double>(kNodes, kWidth, 2);
  for (const bool mean : {false, true}) {
    Matrix<double> out = random_matrix<double>(kNodes, kWidth, 3);  // overwritten
    if (mean)
      segment_mean<double>(graph, y, out);
    else
      segment_sum<double>(graph, y, out);
    EXPECT_LT(max_difference(to_host(out), ref.segment(to_host(y), mean)), 1e-13) << mean;

    Matrix<double> dy = random_matrix<double>(graph.edges, kWidth, 4);  // accumulated into
    Host expected = ref.segment_transpose(to_host(dx), mean);
    const Host before = to_host(dy);
    for (long k = 0; k < graph.edges; ++k)
      for (std::size_t c = 0; c < kWidth; ++c) expected[k][c] += before[k][c];
    if (mean)
      segment_mean_transpose<double>(graph, dx, dy);
    else
      segment_sum_transpose<double>(graph, dx, dy);
    EXPECT_LT(max_difference(to_host(dy), expected), 1e-13) << mean;
  }
}

// <A u, v> = <u, Aᵀ v> for gather/scatter_add and each reduction/its transpose.
TEST_P(GraphKernels, TransposesAreAdjoints) {
  const Matrix<double> x = random_matrix<double>(kNodes, kWidth, 1);
  const Matrix<double> y = random_matrix<double>(graph.edges, kWidth, 2);
  for (const End end : {End::row, End::col}) {
    Matrix<double> gx("gx", graph.edges, kWidth), sy("sy", kNodes, kWidth);
    gather<double>(graph, end, x, gx);
    scatter_add<double>(graph, end, y, sy);
    const double lhs = dot(to_host(gx), to_host(y)), rhs = dot(to_host(x), to_host(sy));
    EXPECT_NEAR(lhs, rhs, 1e-12 * std::abs(lhs));
  }
  for (const bool mean : {false, true}) {
    Matrix<double> ry("ry", kNodes, kWidth), tx("tx", graph.edges, kWidth);
    (mean ? segment_mean<double> : segment_sum<double>)(graph, y, ry);
    (mean ? segment_mean_transpose<double> : segment_sum_transpose<double>)(graph, x, tx);
    const double lhs = dot(to_host(ry), to_host(x)), rhs = dot(to_host(y), to_host(tx));
    EXPECT_NEAR(lhs, rhs, 1e-12 * std::abs(lhs)) << mean;
  }
}

TEST_P(GraphKernels, ReductionIntoAColumnBlockLeavesTheRestAlone) {
  // [h_i, Σ e] [N, 2W]: the sum written into the second half only.
  const Matrix<double> y = random_matrix<double>(graph.edges, kWidth, 1);
  Matrix<double> both = random_matrix<double>(kNodes, 2 * kWidth, 2);
  const Host before = to_host(both);
  segment_sum<double>(graph, y,
                      Kokkos::subview(both, Kokkos::ALL, Kokkos::make_pair(kWidth, 2 * kWidth)));
  const Host after = to_host(both), expected = ref.segment(to_host(y), false);
  for (long i = 0; i < kNodes; ++i)
    for (std::size_t c = 0; c < kWidth; ++c) {
      EXPECT_EQ(after[i][c], before[i][c]);
      EXPECT_NEAR(after[i][kWidth + c], expected[i][c], 1e-13);
    }
}

TEST_P(GraphKernels, FloatKernelsMatchDouble) {
  const Matrix<double> y = random_matrix<double>(graph.edges, kWidth, 1);
  Matrix<float> yf("yf", graph.edges, kWidth), outf("outf", kNodes, kWidth);
  auto hy = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y);
  auto hyf = Kokkos::create_mirror_view(yf);
  for (long k = 0; k < graph.edges; ++k)
    for (std::size_t c = 0; c < kWidth; ++c) hyf(k, c) = static_cast<float>(hy(k, c));
  Kokkos::deep_copy(yf, hyf);
  segment_mean<float>(graph, yf, outf);
  EXPECT_LT(max_difference(to_host(outf), ref.segment(to_host(y), true)), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Kinds, GraphKernels,
                         ::testing::Values(Edges::undirected, Edges::directed));

TEST(Graph, EdgeGeometryIsRelativePositionAndDistance) {
  // Three nodes in 3D, edges (1, 0), (2, 1), (0, 0).
  const Graph graph = make_graph(3, std::vector<long>{1, 2, 0}, std::vector<long>{0, 1, 0});
  Matrix<double> x("x", 3, 3), features("features", 3, 4);
  auto hx = Kokkos::create_mirror_view(x);
  const double points[3][3] = {{0.0, 0.0, 0.0}, {3.0, 4.0, 0.0}, {3.0, 4.0, 12.0}};
  for (int i = 0; i < 3; ++i)
    for (int c = 0; c < 3; ++c) hx(i, c) = points[i][c];
  Kokkos::deep_copy(x, hx);
  edge_geometry<double>(graph, x, features);
  const Host f = to_host(features);
  const Host expected = {{3.0, 4.0, 0.0, 5.0}, {0.0, 0.0, 12.0, 12.0}, {0.0, 0.0, 0.0, 0.0}};
  EXPECT_EQ(max_difference(f, expected), 0.0);
}

TEST(Graph, BadEdgesAndShapesAreInternalErrors) {
  EXPECT_THROW(make_graph(3, std::vector<long>{0, 3}, std::vector<long>{0, 1}), InternalError);
  EXPECT_THROW(make_graph(3, std::vector<long>{0, -1}, std::vector<long>{0, 1}), InternalError);
  EXPECT_THROW(make_graph(3, std::vector<long>{0}, std::vector<long>{0, 1}), InternalError);
  const Graph graph = make_graph(3, std::vector<long>{1, 2}, std::vector<long>{0, 1});
  Matrix<double> x("x", 3, 4), wrong_rows("e", 3, 4), wrong_cols("e", 2, 5);
  EXPECT_THROW(gather<double>(graph, End::row, x, wrong_rows), InternalError);
  EXPECT_THROW(gather<double>(graph, End::row, x, wrong_cols), InternalError);
  EXPECT_THROW(segment_sum<double>(graph, wrong_cols, x), InternalError);
}

}  // namespace
