// The message-passing layer (nn/message_passing.hpp) and its LayerNorm against central finite
// differences in float64: node inputs, edge inputs and every parameter tensor, with sum and mean
// aggregation, with and without residuals and hidden layers, on the directed test graph and on
// the same edges undirected (a message reaches both ends of its edge), and the layer applied three
// times with shared weights (three contexts from one workspace); the Kokkos forward against plain
// host loops on the concatenated edge input; the gradient modes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/core/random.hpp"
#include "karman/mesh/graph.hpp"
#include "karman/nn/layer_norm.hpp"
#include "karman/nn/message_passing.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::nn;
using namespace karman::testing;

namespace {

// 7 nodes, 15 edges (row(k), col(k)); directed col(k) → row(k): edge 2 is a self-loop, node 6
// sends but receives nothing (the mean's empty case), node 2 receives three edges. Undirected,
// node 2 aggregates five edges and node 1 four (its self-loop once).
const std::vector<long> kReceivers = {0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 0, 4};
const std::vector<long> kSenders = {1, 5, 1, 2, 0, 3, 6, 2, 4, 6, 5, 4, 0, 3, 1};
constexpr std::size_t kNodes = 7, kEdges = 15;

// Every parameter tensor's analytic gradient against its numeric one, named in the failure.
void expect_parameter_gradients(const Parameters<double>& parameters,
                                const std::vector<double>& analytic,
                                const std::vector<double>& numeric, const std::string& label) {
  for (const ParameterInfo& info : parameters.infos()) {
    const auto first = static_cast<std::ptrdiff_t>(info.offset);
    const auto last = first + static_cast<std::ptrdiff_t>(info.size());
    const std::vector<double> a(analytic.begin() + first, analytic.begin() + last);
    const std::vector<double> n(numeric.begin() + first, numeric.begin() + last);
    EXPECT_LT(relative_error(a, n), kGradientTolerance) << label << ": parameter " << info.name;
  }
}

// A message-passing layer with declared, allocated parameters on the test graph. The parameters
// are random (not the initial zeros and ones), so every bias, scale and shift is exercised.
struct Layer {
  explicit Layer(const MessagePassingOptions& options, mesh::Edges kind = mesh::Edges::directed)
      : layer(options), graph(mesh::make_graph(kNodes, kReceivers, kSenders, kind)) {
    layer.declare(parameters, "mp.");
    parameters.allocate();
    layer.initialize(5);
    const Matrix<double> values = random_matrix(1, parameters.size(), 6, 0.5);
    Kokkos::deep_copy(parameters.values(), flat(values));
  }
  std::size_t node_in() const { return layer.node_in_features(); }
  std::size_t edge_in() const { return layer.edge_in_features(); }
  std::size_t node_out() const { return layer.node_out_features(); }
  std::size_t edge_out() const { return layer.edge_out_features(); }

  MessagePassing<double> layer;
  Parameters<double> parameters;
  mesh::Graph graph;
  Workspace<double> workspace;
};

// `steps` applications of the layer from (h, e), each feeding the next: their contexts, in order.
std::vector<GraphContext<double>*> rollout(Layer& l, const Matrix<double>& h,
                                           const Matrix<double>& e, std::size_t steps) {
  l.workspace.reset();
  std::vector<GraphContext<double>*> contexts;
  Matrix<double> node = h, edge = e;
  for (std::size_t s = 0; s < steps; ++s) {
    GraphContext<double>& c = l.layer.forward(l.graph, node, edge, Pass::values(), l.workspace);
    contexts.push_back(&c);
    node = c.h_out;
    edge = c.e_out;
  }
  return contexts;
}

// L = Σ dh ∘ h_T + Σ de ∘ e_T after `steps` applications with shared weights: the gradients
// with respect to h_0, e_0 and every parameter against central differences.
void check_gradients(const MessagePassingOptions& options, std::size_t steps,
                     const std::string& label, mesh::Edges kind = mesh::Edges::directed) {
  Layer l(options, kind);
  ASSERT_TRUE(steps == 1 || (l.node_out() == l.node_in() && l.edge_out() == l.edge_in()));
  const Matrix<double> h = random_matrix(kNodes, l.node_in(), 1);
  const Matrix<double> e = random_matrix(kEdges, l.edge_in(), 2);
  const Matrix<double> dh_out = random_matrix(kNodes, l.node_out(), 3);
  const Matrix<double> de_out = random_matrix(kEdges, l.edge_out(), 4);
  auto loss = [&] {
    const auto contexts = rollout(l, h, e, steps);
    return dot(contexts.back()->h_out, dh_out) + dot(contexts.back()->e_out, de_out);
  };

  l.parameters.zero_gradients();
  const auto contexts = rollout(l, h, e, steps);
  ASSERT_EQ(contexts.size(), steps);
  for (std::size_t s = 1; s < steps; ++s) EXPECT_NE(contexts[s], contexts[s - 1]);
  Matrix<double> dh = dh_out, de = de_out;
  for (std::size_t s = steps; s-- > 0;) {
    l.layer.backward(*contexts[s], dh, de);
    dh = contexts[s]->dh;
    de = contexts[s]->de;
  }
  const std::vector<double> dh_analytic = to_vector(dh), de_analytic = to_vector(de);
  const std::vector<double> dtheta = to_vector(l.parameters.gradients());

  EXPECT_LT(relative_error(dh_analytic, numeric_gradient(flat(h), loss)), kGradientTolerance)
      << label << ": node inputs";
  EXPECT_LT(relative_error(de_analytic, numeric_gradient(flat(e), loss)), kGradientTolerance)
      << label << ": edge inputs";
  expect_parameter_gradients(l.parameters, dtheta, numeric_gradient(l.parameters.values(), loss),
                             label);
}

MessagePassingOptions widths(std::size_t node, std::size_t edge, std::size_t message,
                             std::size_t node_out, std::vector<std::size_t> hidden) {
  MessagePassingOptions o;
  o.node_features = node;
  o.edge_features = edge;
  o.message_width = message;
  o.node_out_features = node_out;
  o.hidden = std::move(hidden);
  o.activation = Activation::tanh;
  return o;
}

}  // namespace

TEST(MessagePassingGraph, TestGraphDegreesDirectedAndUndirected) {
  // The mean's divisors the tests below rely on: received edges, or every edge touching a node.
  const mesh::Graph directed =
      mesh::make_graph(kNodes, kReceivers, kSenders, mesh::Edges::directed);
  const mesh::Graph undirected = mesh::make_graph(kNodes, kReceivers, kSenders);
  EXPECT_EQ(to_vector(directed.incident_ptr).back(), 2.0 * kEdges - 1);  // one self-loop
  EXPECT_EQ(to_vector(directed.degree), (std::vector<double>{3, 2, 3, 2, 3, 2, 0}));
  EXPECT_EQ(to_vector(undirected.degree), (std::vector<double>{5, 4, 5, 4, 5, 4, 2}));
}

TEST(LayerNormGradient, InputsScaleAndShift) {
  LayerNorm<double> norm(5);
  Parameters<double> parameters;
  norm.declare(parameters, "norm.");
  parameters.allocate();
  norm.initialize(0);
  Kokkos::deep_copy(parameters.values(), flat(random_matrix(1, parameters.size(), 7)));
  Workspace<double> workspace;
  const Matrix<double> x = random_matrix(6, 5, 8, 2.0), dy = random_matrix(6, 5, 9);
  auto loss = [&] {
    workspace.reset();
    return dot(norm.forward(x, Pass::values(), workspace).y, dy);
  };
  parameters.zero_gradients();
  workspace.reset();
  Context<double>& c = norm.forward(x, Pass::values(), workspace);
  const std::vector<double> dx = to_vector(norm.backward(c, dy));
  const std::vector<double> dtheta = to_vector(parameters.gradients());
  EXPECT_LT(relative_error(dx, numeric_gradient(flat(x), loss)), kGradientTolerance) << "inputs";
  expect_parameter_gradients(parameters, dtheta, numeric_gradient(parameters.values(), loss),
                             "layer norm");
}

TEST(LayerNormGradient, NormalisesEveryRowAtTheStart) {
  LayerNorm<double> norm(4);
  Parameters<double> parameters;
  norm.declare(parameters, "norm.");
  parameters.allocate();
  norm.initialize(0);  // γ = 1, β = 0
  Workspace<double> workspace;
  const Matrix<double> x_matrix = random_matrix(3, 4, 10, 3.0);
  const auto x = to_vector(x_matrix);
  const auto y = to_vector(norm.forward(x_matrix, Pass::values(), workspace).y);
  for (std::size_t i = 0; i < 3; ++i) {
    double mean_x = 0, variance_x = 0, mean_y = 0, square_y = 0;
    for (std::size_t j = 0; j < 4; ++j) mean_x += x[4 * i + j] / 4;
    for (std::size_t j = 0; j < 4; ++j) {
      variance_x += (x[4 * i + j] - mean_x) * (x[4 * i + j] - mean_x) / 4;
      mean_y += y[4 * i + j] / 4;
      square_y += y[4 * i + j] * y[4 * i + j] / 4;
    }
    EXPECT_NEAR(mean_y, 0.0, 1e-14) << "row " << i;
    EXPECT_NEAR(square_y, variance_x / (variance_x + norm.epsilon()), 1e-14) << "row " << i;
  }
}

TEST(MessagePassingGradient, SumWithoutResiduals) {
  // Every width differs, so neither residual applies.
  check_gradients(widths(3, 2, 4, 5, {5}), 1, "sum, no residual");
}

TEST(MessagePassingGradient, MeanWithoutResiduals) {
  MessagePassingOptions o = widths(3, 2, 4, 5, {5});
  o.aggregation = Aggregation::mean;
  check_gradients(o, 1, "mean, no residual");
}

TEST(MessagePassingGradient, SumWithResiduals) {
  const MessagePassingOptions o = widths(4, 3, 3, 4, {5});
  EXPECT_TRUE(MessagePassing<double>(o).node_residual());
  EXPECT_TRUE(MessagePassing<double>(o).edge_residual());
  check_gradients(o, 1, "sum, residual");
}

TEST(MessagePassingGradient, MeanWithResidualsAndLayerNorm) {
  MessagePassingOptions o = widths(4, 3, 3, 4, {5, 4});
  o.aggregation = Aggregation::mean;
  o.layer_norm = true;
  o.activation = Activation::gelu;
  check_gradients(o, 1, "mean, residual, layer norm, two hidden layers");
}

TEST(MessagePassingGradient, SingleLinearMlps) {
  // No hidden layer: the split first Linear is the whole edge MLP (identity activation).
  MessagePassingOptions o = widths(3, 4, 5, 3, {});
  o.aggregation = Aggregation::mean;
  check_gradients(o, 1, "mean, one Linear per MLP");
}

TEST(MessagePassingGradient, UndirectedSum) {
  // Each message reaches both ends of its edge (the precond GNN's aggregation on tril(A)).
  check_gradients(widths(3, 2, 4, 5, {5}), 1, "undirected, sum, no residual",
                  mesh::Edges::undirected);
  MessagePassingOptions o = widths(4, 3, 3, 4, {5});
  o.residual = false;
  check_gradients(o, 1, "undirected, sum, residual off", mesh::Edges::undirected);
}

TEST(MessagePassingGradient, UndirectedMean) {
  MessagePassingOptions o = widths(3, 2, 4, 5, {5});
  o.aggregation = Aggregation::mean;
  check_gradients(o, 1, "undirected, mean, no residual", mesh::Edges::undirected);
  o = widths(4, 3, 3, 4, {5});
  o.aggregation = Aggregation::mean;
  o.layer_norm = true;
  check_gradients(o, 3, "undirected, three steps, mean, residual, layer norm",
                  mesh::Edges::undirected);
}

TEST(MessagePassingGradient, EdgeFirstAndWithoutNodeUpdate) {
  // The learned preconditioner's layers: [e, h_i, h_j], undirected sum, no residuals, the last
  // one without node update (h' = h, no MLP_v).
  MessagePassingOptions o = widths(4, 4, 4, 4, {4});
  o.residual = false;
  o.edge_first = true;
  check_gradients(o, 1, "[e, h_i, h_j], undirected", mesh::Edges::undirected);
  o.node_update = false;
  EXPECT_EQ(MessagePassing<double>(o).node_out_features(), 4u);
  EXPECT_THROW(MessagePassing<double>(o).node_mlp(), InternalError);
  check_gradients(o, 1, "[e, h_i, h_j], undirected, no node update", mesh::Edges::undirected);
  o.residual = true;
  check_gradients(o, 3, "three steps, residual, no node update", mesh::Edges::directed);
  o.concatenated_edge_input = true;
  check_gradients(o, 1, "concatenated, residual, no node update", mesh::Edges::undirected);
}

TEST(MessagePassingGradient, ThreeStepsWithSharedWeightsSum) {
  check_gradients(widths(4, 3, 3, 4, {5}), 3, "three steps, sum");
}

TEST(MessagePassingGradient, ThreeStepsWithSharedWeightsMeanAndLayerNorm) {
  MessagePassingOptions o = widths(4, 3, 3, 4, {5});
  o.aggregation = Aggregation::mean;
  o.layer_norm = true;
  check_gradients(o, 3, "three steps, mean, layer norm");
}

TEST(MessagePassingGradient, ResidualsCanBeTurnedOff) {
  MessagePassingOptions o = widths(4, 3, 3, 4, {5});
  o.residual = false;
  EXPECT_FALSE(MessagePassing<double>(o).node_residual());
  EXPECT_FALSE(MessagePassing<double>(o).edge_residual());
  check_gradients(o, 1, "sum, residual off");
}

namespace {

// One row through an MLP of Linear and LayerNorm modules, in plain host loops.
std::vector<double> host_mlp(Sequential<double>& mlp, std::vector<double> x) {
  for (std::size_t m = 0; m < mlp.size(); ++m) {
    if (auto* linear = dynamic_cast<Linear<double>*>(&mlp[m])) {
      const auto w = to_vector(linear->weight());  // [in, out]
      const auto b = linear->has_bias() ? to_vector(linear->bias())
                                        : std::vector<double>(linear->out_features(), 0.0);
      const std::size_t in = linear->in_features(), out = linear->out_features();
      std::vector<double> y(out);
      for (std::size_t o = 0; o < out; ++o) {
        double z = b[o];
        for (std::size_t i = 0; i < in; ++i) z += x[i] * w[i * out + o];
        y[o] = activate(linear->activation(), z);
      }
      x = y;
    } else if (auto* norm = dynamic_cast<LayerNorm<double>*>(&mlp[m])) {
      const auto gamma = to_vector(norm->scale()), beta = to_vector(norm->shift());
      double mean = 0, variance = 0;
      for (double v : x) mean += v / x.size();
      for (double v : x) variance += (v - mean) * (v - mean) / x.size();
      for (std::size_t j = 0; j < x.size(); ++j)
        x[j] = gamma[j] * (x[j] - mean) / std::sqrt(variance + norm->epsilon()) + beta[j];
    } else {
      ADD_FAILURE() << "host_mlp: unexpected module " << mlp[m].kind();
    }
  }
  return x;
}

// Row r of a host copy [rows, cols].
std::vector<double> row_of(const std::vector<double>& m, std::size_t cols, std::size_t r) {
  return std::vector<double>(m.begin() + r * cols, m.begin() + (r + 1) * cols);
}

// The layer's forward on the concatenated edge input [h_i, h_j, e_ij], in plain host loops:
// h' [N·W_h'] and e' [E·W] row-major.
std::pair<std::vector<double>, std::vector<double>> host_forward(Layer& l,
                                                                 const std::vector<double>& h,
                                                                 const std::vector<double>& e) {
  const std::size_t wh = l.node_in(), we = l.edge_in(), w = l.edge_out();
  std::vector<std::vector<double>> messages(kEdges);
  const bool edge_first = l.layer.options().edge_first;
  for (std::size_t k = 0; k < kEdges; ++k) {
    const auto receiver = row_of(h, wh, kReceivers[k]), sender = row_of(h, wh, kSenders[k]);
    const auto edge = row_of(e, we, k);
    std::vector<double> in = edge_first ? edge : std::vector<double>();
    in.insert(in.end(), receiver.begin(), receiver.end());
    in.insert(in.end(), sender.begin(), sender.end());
    if (!edge_first) in.insert(in.end(), edge.begin(), edge.end());
    messages[k] = host_mlp(l.layer.edge_mlp(), in);
  }
  const bool undirected = l.graph.kind == mesh::Edges::undirected;
  std::vector<double> h_out, e_out;
  if (!l.layer.options().node_update) h_out = h;  // h' = h
  for (std::size_t i = 0; l.layer.options().node_update && i < kNodes; ++i) {
    std::vector<double> aggregate(w, 0.0);
    std::size_t received = 0;
    for (std::size_t k = 0; k < kEdges; ++k)
      if (kReceivers[k] == static_cast<long>(i) ||
          (undirected && kSenders[k] == static_cast<long>(i))) {
        ++received;
        for (std::size_t a = 0; a < w; ++a) aggregate[a] += messages[k][a];
      }
    if (l.layer.options().aggregation == Aggregation::mean && received > 0)
      for (double& a : aggregate) a /= received;
    std::vector<double> in = row_of(h, wh, i);
    in.insert(in.end(), aggregate.begin(), aggregate.end());
    const std::vector<double> update = host_mlp(l.layer.node_mlp(), in);
    for (std::size_t a = 0; a < update.size(); ++a)
      h_out.push_back(update[a] + (l.layer.node_residual() ? h[i * wh + a] : 0.0));
  }
  for (std::size_t k = 0; k < kEdges; ++k)
    for (std::size_t a = 0; a < w; ++a)
      e_out.push_back(messages[k][a] + (l.layer.edge_residual() ? e[k * we + a] : 0.0));
  return {h_out, e_out};
}

void expect_matches_host_loops(const MessagePassingOptions& options, const std::string& label,
                               mesh::Edges kind = mesh::Edges::directed) {
  Layer l(options, kind);
  const Matrix<double> h = random_matrix(kNodes, l.node_in(), 11);
  const Matrix<double> e = random_matrix(kEdges, l.edge_in(), 12);
  const auto contexts = rollout(l, h, e, 1);
  const auto [h_out, e_out] = host_forward(l, to_vector(h), to_vector(e));
  EXPECT_LT(relative_error(to_vector(contexts[0]->h_out), h_out), 1e-13) << label << ": h'";
  EXPECT_LT(relative_error(to_vector(contexts[0]->e_out), e_out), 1e-13) << label << ": e'";
}

}  // namespace

TEST(MessagePassingForward, MatchesHostLoopsSum) {
  expect_matches_host_loops(widths(3, 2, 4, 5, {6}), "sum, no residual");
  expect_matches_host_loops(widths(4, 3, 3, 4, {6, 5}), "sum, residual");
}

TEST(MessagePassingForward, MatchesHostLoopsMean) {
  MessagePassingOptions o = widths(4, 3, 3, 4, {6});
  o.aggregation = Aggregation::mean;
  o.layer_norm = true;
  o.activation = Activation::silu;
  expect_matches_host_loops(o, "mean, residual, layer norm");
  o = widths(3, 2, 4, 5, {});
  o.aggregation = Aggregation::mean;
  expect_matches_host_loops(o, "mean, one Linear per MLP");
}

TEST(MessagePassingForward, MatchesHostLoopsUndirected) {
  MessagePassingOptions o = widths(3, 2, 4, 5, {6});
  expect_matches_host_loops(o, "undirected, sum, no residual", mesh::Edges::undirected);
  o = widths(4, 3, 3, 4, {6});
  o.aggregation = Aggregation::mean;
  expect_matches_host_loops(o, "undirected, mean, residual", mesh::Edges::undirected);
}

TEST(MessagePassingForward, MatchesHostLoopsEdgeFirstAndWithoutNodeUpdate) {
  MessagePassingOptions o = widths(3, 2, 4, 5, {6});
  o.edge_first = true;
  expect_matches_host_loops(o, "[e, h_i, h_j], sum", mesh::Edges::undirected);
  o.node_update = false;
  expect_matches_host_loops(o, "[e, h_i, h_j], no node update", mesh::Edges::undirected);
  o.edge_first = false;
  expect_matches_host_loops(o, "no node update", mesh::Edges::directed);
}

// The split first Linear against the formed edge input run as one module, with the same
// parameters: outputs, input gradients and parameter gradients agree to rounding.
void expect_split_matches_concatenation(MessagePassingOptions o, mesh::Edges kind,
                                        const std::string& label) {
  std::vector<double> results[2];
  for (const bool concatenated : {false, true}) {
    o.concatenated_edge_input = concatenated;
    Layer l(o, kind);
    const Matrix<double> h = random_matrix(kNodes, l.node_in(), 23);
    const Matrix<double> e = random_matrix(kEdges, l.edge_in(), 24);
    const Matrix<double> dh = random_matrix(kNodes, l.node_out(), 25);
    const Matrix<double> de = random_matrix(kEdges, l.edge_out(), 26);
    l.parameters.zero_gradients();
    GraphContext<double>& c = *rollout(l, h, e, 1)[0];
    l.layer.backward(c, dh, de);
    for (const auto& part : {to_vector(c.h_out), to_vector(c.e_out), to_vector(c.dh),
                             to_vector(c.de), to_vector(l.parameters.gradients())})
      results[concatenated].insert(results[concatenated].end(), part.begin(), part.end());
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  EXPECT_LT(relative_error(results[0], results[1]), 1e-13) << label;
}

TEST(MessagePassingForward, SplitFirstLinearMatchesConcatenation) {
  MessagePassingOptions o = widths(4, 3, 3, 4, {5});
  expect_split_matches_concatenation(o, mesh::Edges::directed, "directed, residual");
  o.aggregation = Aggregation::mean;
  o.edge_first = true;
  expect_split_matches_concatenation(o, mesh::Edges::undirected, "undirected, [e, h_i, h_j]");
  o = widths(3, 2, 4, 5, {});
  o.node_update = false;
  expect_split_matches_concatenation(o, mesh::Edges::undirected, "one Linear, no node update");
}

TEST(MessagePassingForward, SecondStepKeepsTheFirstContext) {
  // Two forwards before any backward: the first context's outputs stay as they were.
  Layer l(widths(4, 3, 3, 4, {5}));
  const Matrix<double> h = random_matrix(kNodes, 4, 13), e = random_matrix(kEdges, 3, 14);
  l.workspace.reset();
  GraphContext<double>& first = l.layer.forward(l.graph, h, e, Pass::values(), l.workspace);
  const auto h1 = to_vector(first.h_out), e1 = to_vector(first.e_out);
  GraphContext<double>& second =
      l.layer.forward(l.graph, first.h_out, first.e_out, Pass::values(), l.workspace);
  EXPECT_NE(&first, &second);
  EXPECT_EQ(to_vector(first.h_out), h1);
  EXPECT_EQ(to_vector(first.e_out), e1);
}

TEST(MessagePassingModes, OverwriteAndNone) {
  MessagePassingOptions o = widths(4, 3, 3, 4, {5});
  o.layer_norm = true;
  Layer l(o);
  const Matrix<double> h = random_matrix(kNodes, 4, 15), e = random_matrix(kEdges, 3, 16);
  const Matrix<double> dh = random_matrix(kNodes, 4, 17), de = random_matrix(kEdges, 3, 18);
  auto backward = [&](const Gradient<double>& gradient, double initial) {
    Kokkos::deep_copy(l.parameters.gradients(), initial);
    GraphContext<double>& c = *rollout(l, h, e, 1)[0];
    l.layer.backward(c, dh, de, gradient);
    return std::make_tuple(to_vector(l.parameters.gradients()), to_vector(c.dh), to_vector(c.de));
  };
  const auto [from_zero, dh_reference, de_reference] =
      backward(Gradient<double>::accumulate(), 0.0);
  const auto [added, dh_added, de_added] = backward(Gradient<double>::accumulate(), 2.0);
  const auto [written, dh_written, de_written] = backward(Gradient<double>::overwrite(), 7.0);
  const auto [untouched, dh_none, de_none] = backward(Gradient<double>::none(), 7.0);
  for (std::size_t p = 0; p < from_zero.size(); ++p) {
    EXPECT_NEAR(added[p], from_zero[p] + 2.0, 1e-12) << "accumulate, entry " << p;
    EXPECT_NEAR(written[p], from_zero[p], 1e-12) << "overwrite, entry " << p;
    EXPECT_EQ(untouched[p], 7.0) << "none, entry " << p;
  }
  EXPECT_EQ(dh_written, dh_reference);
  EXPECT_EQ(de_written, de_reference);
  EXPECT_EQ(dh_none, dh_reference);
  EXPECT_EQ(de_none, de_reference);
}

TEST(MessagePassingModes, UnsupportedPassesAndShapesAreOneLineErrors) {
  Layer l(widths(4, 3, 3, 4, {5}));
  const Matrix<double> h = random_matrix(kNodes, 4, 19), e = random_matrix(kEdges, 3, 20);
  EXPECT_THROW(l.layer.forward(l.graph, h, e, Pass::derivatives(2), l.workspace), InternalError);
  EXPECT_THROW(l.layer.forward(l.graph, e, h, Pass::values(), l.workspace), InternalError);
  GraphContext<double>& c = l.layer.forward(l.graph, h, e, Pass::values(), l.workspace);
  EXPECT_THROW(l.layer.backward(c, h, e, Gradient<double>::per_point(Matrix<double>())),
               InternalError);
  EXPECT_THROW(l.layer.backward(c, e, e), InternalError);
}

TEST(MessagePassingForward, FloatAgreesWithDouble) {
  const MessagePassingOptions o = widths(4, 3, 3, 4, {5});
  Layer l(o);
  MessagePassing<float> single(o);
  Parameters<float> parameters;
  single.declare(parameters, "mp.");
  parameters.allocate();
  const auto values = to_vector(l.parameters.values());
  auto host = Kokkos::create_mirror_view(parameters.values());
  for (std::size_t p = 0; p < values.size(); ++p) host(p) = static_cast<float>(values[p]);
  Kokkos::deep_copy(parameters.values(), host);

  const Matrix<double> h = random_matrix(kNodes, 4, 21), e = random_matrix(kEdges, 3, 22);
  auto to_float = [](const Matrix<double>& m) {
    Matrix<float> f("float", m.extent(0), m.extent(1));
    auto hf = Kokkos::create_mirror_view(f);
    auto hm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
    for (std::size_t i = 0; i < m.extent(0); ++i)
      for (std::size_t j = 0; j < m.extent(1); ++j) hf(i, j) = static_cast<float>(hm(i, j));
    Kokkos::deep_copy(f, hf);
    return f;
  };
  Workspace<float> workspace;
  GraphContext<float>& c =
      single.forward(l.graph, to_float(h), to_float(e), Pass::values(), workspace);
  const auto reference = rollout(l, h, e, 1)[0];
  // to_vector widens the float outputs to double.
  EXPECT_LT(relative_error(to_vector(c.h_out), to_vector(reference->h_out)), 1e-5);
  EXPECT_LT(relative_error(to_vector(c.e_out), to_vector(reference->e_out)), 1e-5);
}

// MP-PDE's options: MLP_e and MLP_v ending with the activation, and a per-node condition θ in
// h's last columns that the MLPs read and the layer does not update.

namespace {

MessagePassingOptions with_output_activation(MessagePassingOptions o) {
  o.output_activation = true;
  o.activation = Activation::silu;
  return o;
}

// W_h = 5 of which W_c = 2 condition columns: h' has W_h' = 3 columns, the residual adds h[:3].
MessagePassingOptions conditioned(std::vector<std::size_t> hidden) {
  MessagePassingOptions o = widths(5, 3, 3, 0, std::move(hidden));
  o.condition_features = 2;
  return o;
}

}  // namespace

TEST(MessagePassingOutputActivation, EveryMlpEndsWithTheActivation) {
  for (const auto& hidden : {std::vector<std::size_t>{5}, std::vector<std::size_t>{}}) {
    MessagePassing<double> layer(with_output_activation(widths(4, 3, 3, 4, hidden)));
    for (Sequential<double>* mlp : {&layer.edge_mlp(), &layer.node_mlp()}) {
      auto& last = dynamic_cast<Linear<double>&>((*mlp)[mlp->size() - 1]);
      EXPECT_EQ(last.activation(), Activation::silu) << hidden.size() << " hidden layers";
    }
  }
}

TEST(MessagePassingOutputActivation, Gradients) {
  const MessagePassingOptions o = with_output_activation(widths(4, 3, 3, 4, {5}));
  check_gradients(o, 1, "output activation, sum, directed");
  check_gradients(o, 1, "output activation, sum, undirected", mesh::Edges::undirected);
  MessagePassingOptions mean = o;
  mean.aggregation = Aggregation::mean;
  check_gradients(mean, 1, "output activation, mean, directed");
  check_gradients(mean, 3, "output activation, three steps, mean, undirected",
                  mesh::Edges::undirected);
  // One Linear per MLP: the split first Linear is the last one and carries the activation.
  MessagePassingOptions single = with_output_activation(widths(3, 4, 5, 3, {}));
  check_gradients(single, 1, "output activation, one Linear, sum");
  single.aggregation = Aggregation::mean;
  check_gradients(single, 1, "output activation, one Linear, mean, undirected",
                  mesh::Edges::undirected);
}

TEST(MessagePassingOutputActivation, ForwardMatchesHostLoopsAndConcatenation) {
  MessagePassingOptions o = with_output_activation(widths(4, 3, 3, 4, {6}));
  o.aggregation = Aggregation::mean;
  expect_matches_host_loops(o, "output activation, mean");
  expect_split_matches_concatenation(o, mesh::Edges::directed, "output activation, mean");
  o = with_output_activation(widths(3, 2, 4, 5, {}));
  expect_matches_host_loops(o, "output activation, one Linear", mesh::Edges::undirected);
  expect_split_matches_concatenation(o, mesh::Edges::undirected, "output activation, one Linear");
}

TEST(MessagePassingCondition, WidthsAndResidual) {
  const MessagePassing<double> layer(conditioned({5}));
  EXPECT_EQ(layer.node_in_features(), 5u);
  EXPECT_EQ(layer.node_out_features(), 3u);  // W_h − W_c
  EXPECT_TRUE(layer.node_residual());
  MessagePassingOptions wider = conditioned({5});
  wider.node_out_features = 5;  // not W_h − W_c: no residual
  EXPECT_FALSE(MessagePassing<double>(wider).node_residual());
  MessagePassingOptions all = conditioned({5});
  all.condition_features = 5;
  EXPECT_THROW(MessagePassing<double>{all}, InternalError);
}

TEST(MessagePassingCondition, ConditionColumnsAreReadButNotUpdated) {
  // h' = h[:W_h'] + MLP_v([h, a]): changing a condition column changes h' only through the MLPs,
  // so with MLP_v's last weight and bias zero h' is h's first columns whatever the condition.
  Layer l(conditioned({5}));
  Linear<double>& last = dynamic_cast<Linear<double>&>(l.layer.node_mlp()[1]);
  Kokkos::deep_copy(last.weight(), 0.0);
  Kokkos::deep_copy(last.bias(), 0.0);
  const Matrix<double> h = random_matrix(kNodes, 5, 31), e = random_matrix(kEdges, 3, 32);
  const auto h_in = to_vector(h), h_out = to_vector(rollout(l, h, e, 1)[0]->h_out);
  ASSERT_EQ(h_out.size(), kNodes * 3);
  for (std::size_t i = 0; i < kNodes; ++i)
    for (std::size_t a = 0; a < 3; ++a) EXPECT_EQ(h_out[i * 3 + a], h_in[i * 5 + a]);
}

TEST(MessagePassingCondition, Gradients) {
  check_gradients(conditioned({5}), 1, "condition, sum, directed");
  check_gradients(conditioned({5}), 1, "condition, sum, undirected", mesh::Edges::undirected);
  MessagePassingOptions mean = conditioned({5});
  mean.aggregation = Aggregation::mean;
  check_gradients(mean, 1, "condition, mean, directed");
  check_gradients(mean, 1, "condition, mean, undirected", mesh::Edges::undirected);
  MessagePassingOptions off = conditioned({});
  off.residual = false;
  check_gradients(off, 1, "condition, one Linear, no residual");
}

TEST(MessagePassingCondition, MpPdeLayerGradientsAndForward) {
  // The MP-PDE processor's layer in small: mean, SiLU, output activation, condition, residual.
  MessagePassingOptions o = with_output_activation(conditioned({6}));
  o.aggregation = Aggregation::mean;
  check_gradients(o, 1, "MP-PDE layer, directed");
  check_gradients(o, 1, "MP-PDE layer, undirected", mesh::Edges::undirected);
  expect_matches_host_loops(o, "MP-PDE layer");
  expect_split_matches_concatenation(o, mesh::Edges::directed, "MP-PDE layer");
}

TEST(MessagePassingEdgeInputGradient, OffLeavesDeEmptyAndEverythingElseBitwiseEqual) {
  // Edge features that are data: without their gradient the outputs, dh and every parameter
  // gradient are exactly those of the full backward; de stays empty.
  MessagePassingOptions mp_pde = with_output_activation(conditioned({6}));
  mp_pde.aggregation = Aggregation::mean;
  MessagePassingOptions edge_residual = widths(4, 3, 3, 4, {5});
  MessagePassingOptions no_node_update = widths(3, 2, 4, 5, {});
  no_node_update.node_update = false;
  for (MessagePassingOptions o : {mp_pde, edge_residual, no_node_update})
    for (const bool concatenated : {false, true}) {
      o.concatenated_edge_input = concatenated;
      std::vector<double> results[2];
      for (const bool edge_gradient : {true, false}) {
        o.edge_input_gradient = edge_gradient;
        Layer l(o, mesh::Edges::undirected);
        const Matrix<double> h = random_matrix(kNodes, l.node_in(), 33);
        const Matrix<double> e = random_matrix(kEdges, l.edge_in(), 34);
        const Matrix<double> dh = random_matrix(kNodes, l.node_out(), 35);
        const Matrix<double> de = random_matrix(kEdges, l.edge_out(), 36);
        l.parameters.zero_gradients();
        GraphContext<double>& c = *rollout(l, h, e, 1)[0];
        l.layer.backward(c, dh, de);
        EXPECT_EQ(c.de.extent(0), edge_gradient ? kEdges : 0u);
        for (const auto& part : {to_vector(c.h_out), to_vector(c.e_out), to_vector(c.dh),
                                 to_vector(l.parameters.gradients())})
          results[edge_gradient].insert(results[edge_gradient].end(), part.begin(), part.end());
      }
      EXPECT_EQ(results[0], results[1]) << "concatenated " << concatenated;
    }
}
