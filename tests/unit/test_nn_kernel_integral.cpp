// The kernel integral layer of the graph neural operator (nn/kernel_integral.hpp) on a directed
// radius graph of 30 random points plus one isolated point (a receiver and a sender without
// edges): the factored evaluation against the materialised one (κ per edge formed, as GKN does)
// in float64, outputs and every gradient to 1e-12; both against central finite differences
// (inputs v and g, every parameter tensor), once and applied three times with tied weights (the
// GNO's depth: three contexts sharing the layer's scratch buffers); the gradient modes; float32
// against float64; the memory figure at the GKN Darcy benchmark's width.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/core/random.hpp"
#include "karman/mesh/radius_graph.hpp"
#include "karman/nn/kernel_integral.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::nn;
using namespace karman::testing;

namespace {

constexpr std::size_t kPoints = 30;  // plus one isolated point

// 30 points uniform in [0, 1]² and one at (3, 3), radius 0.3: node 30 has no edge at all.
mesh::Graph test_graph() {
  std::vector<double> x(2 * kPoints);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = uniform01(21, i);
  x.push_back(3.0);
  x.push_back(3.0);
  return mesh::radius_graph(x, 2, 0.3);
}

KernelIntegralOptions options(std::size_t width, std::size_t rank, bool materialized = false) {
  KernelIntegralOptions o;
  o.width = width;
  o.rank = rank;
  o.materialized = materialized;
  return o;
}

// A kernel integral layer with declared, allocated parameters: random values (not the initial
// zero bias), so every tensor is exercised; the same values for the same seed whatever the path.
template <class T = double>
struct Layer {
  explicit Layer(const KernelIntegralOptions& o, const mesh::Graph& g) : layer(o), graph(g) {
    layer.declare(parameters, "ki.");
    parameters.allocate();
    layer.initialize(5);
    const Matrix<T> values = random_matrix<T>(1, parameters.size(), 6, 0.3);
    Kokkos::deep_copy(parameters.values(), Vector<T>(values.data(), values.size()));
  }
  std::size_t width() const { return layer.options().width; }
  std::size_t rank() const { return layer.options().rank; }

  // `steps` applications v ← layer(v, g) (the same g each time, as a weight-tied GNO): contexts.
  std::vector<GraphContext<T>*> apply(const Matrix<T>& v, const Matrix<T>& g, std::size_t steps) {
    workspace.reset();
    std::vector<GraphContext<T>*> contexts;
    Matrix<T> h = v;
    for (std::size_t s = 0; s < steps; ++s) {
      contexts.push_back(&layer.forward(graph, h, g, Pass::values(), workspace));
      h = contexts.back()->h_out;
    }
    return contexts;
  }
  // The backward through those contexts from dy: dv, and dg summed over the steps.
  std::pair<std::vector<double>, std::vector<double>> backward(
      const std::vector<GraphContext<T>*>& contexts, const Matrix<T>& dy,
      const Gradient<T>& gradient = Gradient<T>::accumulate()) {
    Matrix<T> dh = dy;
    const Matrix<T> no_edge_gradient("de_out", graph.edges, 0);
    std::vector<double> dg(graph.edges * rank(), 0.0);
    for (std::size_t s = contexts.size(); s-- > 0;) {
      layer.backward(*contexts[s], dh, no_edge_gradient, gradient);
      dh = contexts[s]->dh;
      if (contexts[s]->de.size() == 0) continue;
      const std::vector<double> step = to_vector(contexts[s]->de);
      for (std::size_t q = 0; q < dg.size(); ++q) dg[q] += step[q];
    }
    return {to_vector(dh), dg};
  }

  KernelIntegral<T> layer;
  Parameters<T> parameters;
  mesh::Graph graph;
  Workspace<T> workspace;
};

// Parameter tensor `name`'s slice of a flat parameter vector.
std::vector<double> slice(const Parameters<double>& parameters, const std::vector<double>& flat,
                          const std::string& name) {
  for (const ParameterInfo& info : parameters.infos())
    if (info.name == name)
      return std::vector<double>(flat.begin() + info.offset,
                                 flat.begin() + info.offset + info.size());
  ADD_FAILURE() << "no parameter " << name;
  return {};
}

const std::vector<std::string> kParameterNames = {"ki.theta", "ki.root.weight", "ki.root.bias"};

// L = Σ dy ∘ v_T after `steps` tied applications: dv, dg and every parameter gradient against
// central differences.
void check_gradients(const KernelIntegralOptions& o, std::size_t steps, const std::string& label) {
  Layer<double> l(o, test_graph());
  const Matrix<double> v = random_matrix(l.graph.nodes, l.width(), 1);
  const Matrix<double> g = random_matrix(l.graph.edges, l.rank(), 2);
  const Matrix<double> dy = random_matrix(l.graph.nodes, l.width(), 3);
  auto loss = [&] { return dot(l.apply(v, g, steps).back()->h_out, dy); };

  l.parameters.zero_gradients();
  const auto [dv, dg] = l.backward(l.apply(v, g, steps), dy);
  const std::vector<double> dtheta = to_vector(l.parameters.gradients());
  EXPECT_LT(relative_error(dv, numeric_gradient(flat(v), loss)), kGradientTolerance)
      << label << ": v";
  EXPECT_LT(relative_error(dg, numeric_gradient(flat(g), loss)), kGradientTolerance)
      << label << ": g";
  const std::vector<double> numeric = numeric_gradient(l.parameters.values(), loss);
  for (const ParameterInfo& info : l.parameters.infos())
    EXPECT_LT(relative_error(slice(l.parameters, dtheta, info.name),
                             slice(l.parameters, numeric, info.name)),
              kGradientTolerance)
        << label << ": " << info.name;
}

}  // namespace

TEST(KernelIntegralGraph, TestGraphHasAnIsolatedNodeAndManyEdges) {
  const mesh::Graph graph = test_graph();
  const std::vector<double> degree = to_vector(graph.degree);
  ASSERT_EQ(degree.size(), kPoints + 1);
  EXPECT_EQ(degree.back(), 0.0) << "the isolated point receives nothing";
  EXPECT_GT(graph.edges, 4 * static_cast<long>(kPoints)) << "a few neighbours per point";
}

TEST(KernelIntegralLayer, FactoredEqualsMaterialized) {
  // Outputs and every gradient of the two evaluations, float64, to round-off.
  const mesh::Graph graph = test_graph();
  KernelIntegralOptions blocks = options(5, 4);
  blocks.node_block = 8;  // 4 blocks of the node buffers
  Layer<double> factored(blocks, graph), materialized(options(5, 4, true), graph);
  const Matrix<double> v = random_matrix(graph.nodes, 5, 1), g = random_matrix(graph.edges, 4, 2);
  const Matrix<double> dy = random_matrix(graph.nodes, 5, 3);
  const auto fc = factored.apply(v, g, 1), mc = materialized.apply(v, g, 1);
  EXPECT_LT(relative_error(to_vector(fc[0]->h_out), to_vector(mc[0]->h_out)), 1e-12) << "v'";
  factored.parameters.zero_gradients();
  materialized.parameters.zero_gradients();
  const auto [dv_f, dg_f] = factored.backward(fc, dy);
  const auto [dv_m, dg_m] = materialized.backward(mc, dy);
  EXPECT_LT(relative_error(dv_f, dv_m), 1e-12) << "dv";
  EXPECT_LT(relative_error(dg_f, dg_m), 1e-12) << "dg";
  const auto pf = to_vector(factored.parameters.gradients());
  const auto pm = to_vector(materialized.parameters.gradients());
  for (const std::string& name : kParameterNames)
    EXPECT_LT(relative_error(slice(factored.parameters, pf, name),
                             slice(materialized.parameters, pm, name)),
              1e-12)
        << "d " << name;
  // The isolated node's output is its pointwise term alone: v W + b.
  const auto out = to_vector(fc[0]->h_out), vv = to_vector(v);
  const auto w =
      slice(factored.parameters, to_vector(factored.parameters.values()), "ki.root.weight");
  const auto b =
      slice(factored.parameters, to_vector(factored.parameters.values()), "ki.root.bias");
  const std::size_t last = kPoints;
  for (std::size_t a = 0; a < 5; ++a) {
    double expected = b[a];
    for (std::size_t c = 0; c < 5; ++c) expected += vv[last * 5 + c] * w[c * 5 + a];
    EXPECT_NEAR(out[last * 5 + a], expected, 1e-14) << "isolated node, channel " << a;
  }
}

namespace {

// Factored against materialised, outputs and every gradient, on `graph` at width w, rank R.
void expect_paths_agree(const mesh::Graph& graph, std::size_t w, std::size_t r,
                        const std::string& label) {
  Layer<double> factored(options(w, r), graph), materialized(options(w, r, true), graph);
  const Matrix<double> v = random_matrix(graph.nodes, w, 1), g = random_matrix(graph.edges, r, 2);
  const Matrix<double> dy = random_matrix(graph.nodes, w, 3);
  const auto fc = factored.apply(v, g, 1), mc = materialized.apply(v, g, 1);
  EXPECT_LT(relative_error(to_vector(fc[0]->h_out), to_vector(mc[0]->h_out)), 1e-12)
      << label << ": v'";
  factored.parameters.zero_gradients();
  materialized.parameters.zero_gradients();
  const auto [dv_f, dg_f] = factored.backward(fc, dy);
  const auto [dv_m, dg_m] = materialized.backward(mc, dy);
  EXPECT_LT(relative_error(dv_f, dv_m), 1e-12) << label << ": dv";
  EXPECT_LT(relative_error(dg_f, dg_m), 1e-12) << label << ": dg";
  EXPECT_LT(relative_error(to_vector(factored.parameters.gradients()),
                           to_vector(materialized.parameters.gradients())),
            1e-12)
      << label << ": parameter gradients";
}

}  // namespace

TEST(KernelIntegralLayer, FactoredEqualsMaterializedOnFullTilesAndLongEdgeLists) {
  // w = 9, R = 37: the factored kernels' register tiles (4 rows × 16 doubles) full and partial.
  expect_paths_agree(test_graph(), 9, 37, "radius graph");
  // 200 points within the radius of each other: 199 edges per node, more than one batch of
  // edge rows (128) per node.
  std::vector<double> x(400);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = uniform01(22, i);
  const mesh::Graph complete = mesh::radius_graph(x, 2, 2.0);
  ASSERT_EQ(complete.edges, 200 * 199);
  expect_paths_agree(complete, 9, 37, "complete graph");
  expect_paths_agree(complete, 3, 2, "complete graph, small");
}

TEST(KernelIntegralLayer, MaterializedMatchesHostLoops) {
  // The reference itself against κ_k = [g_k, 1] Θ formed entry by entry from theta's layout.
  const mesh::Graph graph = test_graph();
  const std::size_t w = 3, r = 2, n = graph.nodes, e = graph.edges;
  Layer<double> l(options(w, r, true), graph);
  const Matrix<double> v = random_matrix(n, w, 1), g = random_matrix(e, r, 2);
  const auto out = to_vector(l.apply(v, g, 1)[0]->h_out);
  const auto values = to_vector(l.parameters.values());
  const auto theta = slice(l.parameters, values, "ki.theta");
  const auto root = slice(l.parameters, values, "ki.root.weight");
  const auto bias = slice(l.parameters, values, "ki.root.bias");
  const auto rows = to_vector(graph.row), cols = to_vector(graph.col);
  const auto vv = to_vector(v), gg = to_vector(g);
  std::vector<double> expected(n * w, 0.0), count(n, 0.0);
  for (std::size_t k = 0; k < e; ++k) {
    const auto i = static_cast<std::size_t>(rows[k]), j = static_cast<std::size_t>(cols[k]);
    count[i] += 1;
    for (std::size_t a = 0; a < w; ++a)
      for (std::size_t b = 0; b < w; ++b) {
        double kappa = theta[b * (r + 1) * w + r * w + a];  // Θ[R][b·w + a]
        for (std::size_t q = 0; q < r; ++q)
          kappa += gg[k * r + q] * theta[b * (r + 1) * w + q * w + a];
        expected[i * w + a] += kappa * vv[j * w + b];
      }
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t a = 0; a < w; ++a) {
      double x = count[i] > 0 ? expected[i * w + a] / count[i] : 0.0;
      x += bias[a];
      for (std::size_t b = 0; b < w; ++b) x += vv[i * w + b] * root[b * w + a];
      expected[i * w + a] = x;
    }
  EXPECT_LT(relative_error(out, expected), 1e-13);
}

TEST(KernelIntegralGradient, Factored) { check_gradients(options(4, 3), 1, "factored"); }

TEST(KernelIntegralGradient, FactoredOnFullTiles) {
  check_gradients(options(8, 20), 1, "w 8, R 20");
}

TEST(KernelIntegralGradient, FactoredInNodeBlocks) {
  // Node buffers of 7 rows: 5 blocks, the last one short.
  KernelIntegralOptions o = options(4, 3);
  o.node_block = 7;
  check_gradients(o, 1, "factored, blocks of 7 nodes");
}

TEST(KernelIntegralGradient, Materialized) {
  check_gradients(options(4, 3, true), 1, "materialized");
}

TEST(KernelIntegralGradient, FactoredWithoutRootOrBias) {
  KernelIntegralOptions o = options(3, 5);
  o.root = false;
  o.bias = false;
  check_gradients(o, 1, "factored, no root, no bias");
}

TEST(KernelIntegralGradient, ThreeTiedApplications) {
  // The GNO's weight tying: three contexts of one layer, the scratch buffers shared among them.
  check_gradients(options(4, 3), 3, "factored, three steps");
  check_gradients(options(4, 3, true), 3, "materialized, three steps");
}

TEST(KernelIntegralGradient, ModesAndNoEdgeInputGradient) {
  const mesh::Graph graph = test_graph();
  for (const bool materialized : {false, true}) {
    const std::string label = materialized ? "materialized" : "factored";
    Layer<double> l(options(4, 3, materialized), graph);
    const Matrix<double> v = random_matrix(graph.nodes, 4, 1), g = random_matrix(graph.edges, 3, 2);
    const Matrix<double> dy = random_matrix(graph.nodes, 4, 3);
    const auto contexts = l.apply(v, g, 1);
    l.parameters.zero_gradients();
    const auto [dv, dg] = l.backward(contexts, dy);
    const auto once = to_vector(l.parameters.gradients());
    // accumulate adds a second copy; none leaves it; overwrite writes one copy over it.
    l.backward(contexts, dy);
    auto twice = to_vector(l.parameters.gradients());
    for (std::size_t q = 0; q < once.size(); ++q)
      EXPECT_NEAR(twice[q], 2 * once[q], 1e-14 * (1 + std::abs(once[q]))) << label;
    const auto [dv_none, dg_none] = l.backward(contexts, dy, Gradient<double>::none());
    EXPECT_EQ(to_vector(l.parameters.gradients()), twice) << label << ": mode none";
    EXPECT_EQ(dv_none, dv) << label << ": dv under none";
    EXPECT_EQ(dg_none, dg) << label << ": dg under none";
    const auto [dv_over, dg_over] = l.backward(contexts, dy, Gradient<double>::overwrite());
    EXPECT_EQ(to_vector(l.parameters.gradients()), once) << label << ": mode overwrite";
    EXPECT_EQ(dv_over, dv) << label << ": dv under overwrite";
  }
  // g as data: the backward leaves de empty and dv unchanged.
  KernelIntegralOptions o = options(4, 3);
  o.edge_input_gradient = false;
  Layer<double> full(options(4, 3), graph), data(o, graph);
  const Matrix<double> v = random_matrix(graph.nodes, 4, 1), g = random_matrix(graph.edges, 3, 2);
  const Matrix<double> dy = random_matrix(graph.nodes, 4, 3);
  const auto contexts = data.apply(v, g, 1);
  const auto [dv, dg] = data.backward(contexts, dy);
  EXPECT_EQ(contexts[0]->de.size(), 0u);
  EXPECT_EQ(dv, full.backward(full.apply(v, g, 1), dy).first);
}

TEST(KernelIntegralLayer, Float32AgreesWithFloat64) {
  const mesh::Graph graph = test_graph();
  // w = 9, R = 37: full and partial register tiles in float (4 × 32) and in double (4 × 16).
  Layer<double> l64(options(9, 37), graph);
  Layer<float> l32(options(9, 37), graph);
  // Same parameters (the float copy of the double values) and inputs.
  const auto values = to_vector(l64.parameters.values());
  auto host = Kokkos::create_mirror_view(l32.parameters.values());
  for (std::size_t q = 0; q < values.size(); ++q) host(q) = static_cast<float>(values[q]);
  Kokkos::deep_copy(l32.parameters.values(), host);
  const Matrix<double> v = random_matrix(graph.nodes, 9, 1), g = random_matrix(graph.edges, 37, 2);
  const Matrix<double> dy = random_matrix(graph.nodes, 9, 3);
  const Matrix<float> v32 = random_matrix<float>(graph.nodes, 9, 1);
  const Matrix<float> g32 = random_matrix<float>(graph.edges, 37, 2);
  const Matrix<float> dy32 = random_matrix<float>(graph.nodes, 9, 3);
  const auto c64 = l64.apply(v, g, 1);
  const auto c32 = l32.apply(v32, g32, 1);
  // The float inputs are the double ones rounded: compare with a few ulps of float.
  EXPECT_LT(relative_error(to_vector(c32[0]->h_out), to_vector(c64[0]->h_out)), 1e-5) << "v'";
  l64.parameters.zero_gradients();
  l32.parameters.zero_gradients();
  const auto [dv64, dg64] = l64.backward(c64, dy);
  const auto [dv32, dg32] = l32.backward(c32, dy32);
  EXPECT_LT(relative_error(dv32, dv64), 1e-5) << "dv";
  EXPECT_LT(relative_error(dg32, dg64), 1e-5) << "dg";
  EXPECT_LT(
      relative_error(to_vector(l32.parameters.gradients()), to_vector(l64.parameters.gradients())),
      1e-5)
      << "parameter gradients";
}

TEST(KernelIntegralLayer, WorkingBytesAtTheDarcyBenchmarkWidth) {
  // The GKN Darcy graph's size (61² nodes, ~113 neighbours each) at width 64: the factored layer
  // needs far less than the materialised one, which holds κ and dκ [E, w·w].
  const std::size_t nodes = 61 * 61, edges = nodes * 113;
  for (const std::size_t rank : {64u, 1024u}) {
    const KernelIntegral<float> factored(options(64, rank)), materialized(options(64, rank, true));
    const double ratio = static_cast<double>(materialized.working_bytes(nodes, edges)) /
                         static_cast<double>(factored.working_bytes(nodes, edges));
    EXPECT_GT(ratio, 5.0) << "R = " << rank;
    EXPECT_GE(materialized.working_bytes(nodes, edges), 2 * edges * 64 * 64 * sizeof(float));
  }
}

TEST(KernelIntegralLayer, RejectsUndirectedGraphs) {
  const mesh::Graph directed = test_graph();
  const mesh::Graph undirected =
      mesh::make_graph(directed.nodes, directed.row, directed.col, mesh::Edges::undirected);
  Layer<double> l(options(3, 2), undirected);
  EXPECT_THROW(
      l.apply(random_matrix(undirected.nodes, 3, 1), random_matrix(undirected.edges, 2, 2), 1),
      InternalError);
}
