// The models of kind gno (operators/gno/model.hpp) against central finite differences in float64
// on a tiny random radius graph: every input column (nodes and edges) and every parameter tensor
// of the whole GnoModel (the one kernel integral applied `depth` times, the kernel network run
// once) and of the whole GraphNetwork (sum and mean aggregation, with and without LayerNorm); the
// gradient modes overwrite and none through the tied layer; the GnoModel's materialised kernel
// path equal to the factored one (outputs and every gradient to 1e-12); the parameter count
// independent of depth (weight tying); the `model:` section of kind gno.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "karman/config/node.hpp"
#include "karman/core/error.hpp"
#include "karman/core/random.hpp"
#include "karman/mesh/radius_graph.hpp"
#include "operators/gno/model.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::gno;
using namespace karman::testing;

namespace {

constexpr long kNodes = 14, kNodeFeatures = 3, kEdgeFeatures = 4, kOutputs = 2;

// kNodes points uniform in the unit square, joined within radius 0.45 (directed, both ways).
mesh::Graph tiny_radius_graph() {
  std::vector<double> points(2 * kNodes);
  for (std::size_t i = 0; i < points.size(); ++i) points[i] = uniform01(21, i);
  return mesh::radius_graph(points, 2, 0.45);
}

GnoSpec tiny_gno(long depth = 3, bool materialized = false) {
  GnoSpec s;
  s.width = 5;
  s.kernel_width = 6;
  s.depth = depth;
  s.materialized = materialized;
  return s;
}

GraphNetworkSpec tiny_graph_network(nn::Aggregation aggregation, bool layer_norm) {
  GraphNetworkSpec s;
  s.hidden = 6;
  s.layers = 2;
  s.aggregation = aggregation;
  s.layer_norm = layer_norm;
  return s;
}

// A model with parameters drawn at random (every bias exercised), on the tiny graph.
struct Tiny {
  explicit Tiny(std::unique_ptr<Model<double>> m)
      : model(std::move(m)), graph(tiny_radius_graph()) {
    model->declare(parameters, "");
    parameters.allocate();
    model->initialize(3);
    Kokkos::deep_copy(parameters.values(), flat(random_matrix(1, parameters.size(), 7, 0.5)));
    h = random_matrix(graph.nodes, kNodeFeatures, 1);
    e = random_matrix(graph.edges, kEdgeFeatures, 2);
    dy = random_matrix(graph.nodes, kOutputs, 3);
  }
  nn::GraphContext<double>& forward() {
    workspace.reset();
    return model->forward(graph, h, e, nn::Pass::values(), workspace);
  }
  double loss() { return dot(forward().h_out, dy); }

  std::unique_ptr<Model<double>> model;
  mesh::Graph graph;
  nn::Parameters<double> parameters;
  nn::Workspace<double> workspace;
  Matrix<double> h, e, dy;
};

std::unique_ptr<Model<double>> gno_model(const GnoSpec& spec) {
  return std::make_unique<GnoModel<double>>(spec, kNodeFeatures, kEdgeFeatures, kOutputs);
}
std::unique_ptr<Model<double>> graph_network(const GraphNetworkSpec& spec) {
  return std::make_unique<GraphNetwork<double>>(spec, kNodeFeatures, kEdgeFeatures, kOutputs);
}

// dh, de and every parameter tensor against central differences; the modes none and overwrite
// of the same backward.
void check_whole_model(Tiny& t, const std::string& label) {
  ASSERT_GT(t.graph.edges, 2 * kNodes) << "a graph with neighbours";
  t.parameters.zero_gradients();
  auto& c = t.forward();
  t.model->backward(c, t.dy, c.e_out);
  const std::vector<double> dh = to_vector(c.dh), de = to_vector(c.de);
  const std::vector<double> dtheta = to_vector(t.parameters.gradients());
  t.model->backward(c, t.dy, c.e_out, nn::Gradient<double>::none());
  EXPECT_EQ(to_vector(t.parameters.gradients()), dtheta) << label << ": mode none";
  t.model->backward(c, t.dy, c.e_out, nn::Gradient<double>::overwrite());
  EXPECT_EQ(to_vector(t.parameters.gradients()), dtheta) << label << ": mode overwrite";

  auto loss = [&] { return t.loss(); };
  EXPECT_LT(relative_error(dh, numeric_gradient(flat(t.h), loss)), kGradientTolerance)
      << label << ": dh";
  EXPECT_LT(relative_error(de, numeric_gradient(flat(t.e), loss)), kGradientTolerance)
      << label << ": de";
  const std::vector<double> numeric = numeric_gradient(t.parameters.values(), loss);
  for (const nn::ParameterInfo& info : t.parameters.infos()) {
    const auto first = static_cast<std::ptrdiff_t>(info.offset);
    const auto last = first + static_cast<std::ptrdiff_t>(info.size());
    const std::vector<double> a(dtheta.begin() + first, dtheta.begin() + last);
    const std::vector<double> n(numeric.begin() + first, numeric.begin() + last);
    EXPECT_LT(relative_error(a, n), kGradientTolerance) << label << ": parameter " << info.name;
  }
}

double max_difference(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return d / std::max(scale, 1e-300);
}

}  // namespace

TEST(GnoModel, WholeModelGradient) {
  Tiny t(gno_model(tiny_gno()));
  check_whole_model(t, "gno");
}

TEST(GnoModel, MaterializedEqualsFactored) {
  Tiny factored(gno_model(tiny_gno(3, false))), materialized(gno_model(tiny_gno(3, true)));
  ASSERT_EQ(factored.parameters.size(), materialized.parameters.size());
  Kokkos::deep_copy(materialized.parameters.values(), factored.parameters.values());
  struct Run {
    std::vector<double> out, dh, de, dtheta;
  };
  auto run = [](Tiny& t) {
    t.parameters.zero_gradients();
    auto& c = t.forward();
    t.model->backward(c, t.dy, c.e_out);
    return Run{to_vector(c.h_out), to_vector(c.dh), to_vector(c.de),
               to_vector(t.parameters.gradients())};
  };
  const Run f = run(factored), m = run(materialized);
  EXPECT_LT(max_difference(m.out, f.out), 1e-12) << "output";
  EXPECT_LT(max_difference(m.dh, f.dh), 1e-12) << "dh";
  EXPECT_LT(max_difference(m.de, f.de), 1e-12) << "de";
  EXPECT_LT(max_difference(m.dtheta, f.dtheta), 1e-12) << "parameter gradients";
}

TEST(GnoModel, ParameterCountDoesNotGrowWithDepth) {
  const Tiny one(gno_model(tiny_gno(1))), six(gno_model(tiny_gno(6)));
  EXPECT_EQ(one.parameters.size(), six.parameters.size());
  EXPECT_EQ(one.parameters.count(), six.parameters.count());
  // w = 5, R = 6: lift 3·5 + 5, kernel 4·6 + 6 + 6·6 + 6, theta 5·7·5, root 5·5 + 5, project
  // 5·2 + 2: the GKN's tensors, theta the kernel network's last Linear [R + 1, w²].
  EXPECT_EQ(one.parameters.size(), 20u + 72u + 175u + 30u + 12u);
  // And depth changes the function (the layer is applied more than once).
  Tiny three(gno_model(tiny_gno(3)));
  Tiny four(gno_model(tiny_gno(4)));
  Kokkos::deep_copy(four.parameters.values(), three.parameters.values());
  EXPECT_GT(max_difference(to_vector(four.forward().h_out), to_vector(three.forward().h_out)),
            1e-6);
}

TEST(GraphNetwork, WholeModelGradient) {
  for (const auto aggregation : {nn::Aggregation::mean, nn::Aggregation::sum})
    for (const bool layer_norm : {false, true}) {
      Tiny t(graph_network(tiny_graph_network(aggregation, layer_norm)));
      check_whole_model(t, std::string(aggregation == nn::Aggregation::sum ? "sum" : "mean") +
                               (layer_norm ? ", layer norm" : ""));
    }
}

TEST(GraphNetwork, ParametersPerLayer) {
  Tiny two(graph_network(tiny_graph_network(nn::Aggregation::mean, false)));
  GraphNetworkSpec s = tiny_graph_network(nn::Aggregation::mean, false);
  s.layers = 3;
  Tiny three(graph_network(s));
  // One message-passing layer of H = 6: MLP_e [3H → H → H], MLP_v [2H → H → H].
  const std::size_t layer = (18 * 6 + 6 + 6 * 6 + 6) + (12 * 6 + 6 + 6 * 6 + 6);
  EXPECT_EQ(three.parameters.size() - two.parameters.size(), layer);
}

namespace {

std::string write_case(const std::string& name, const std::string& text) {
  std::ofstream(name) << text;
  return name;
}

// The one-line ConfigError of reading `model` (a YAML mapping), "" if accepted.
std::string model_error(const std::string& model) {
  try {
    auto doc = config::CaseFile::load(write_case("gno_model.yaml", "model: " + model + "\n"));
    read_gno_model(doc.root().child_or_empty("model"));
    doc.reject_unknown_keys();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(GnoModelSection, ReadsBothTypes) {
  auto doc = config::CaseFile::load(write_case(
      "gno_model.yaml",
      "model: {gno: {width: 32, kernel_width: 128, depth: 4, materialized: true, seed: 9}}\n"));
  const ModelSpec g = read_gno_model(doc.root().child("model"));
  doc.reject_unknown_keys();
  EXPECT_EQ(g.type, ModelType::gno);
  EXPECT_EQ(g.gno.width, 32);
  EXPECT_EQ(g.gno.kernel_width, 128);
  EXPECT_EQ(g.gno.depth, 4);
  EXPECT_TRUE(g.gno.materialized);
  EXPECT_EQ(g.seed(), 9u);
  auto make = make_model<double>(g, 3, 6, 1);
  EXPECT_EQ(make->kind(), "gno");
  EXPECT_EQ(make->edge_in_features(), 6u);

  auto net = config::CaseFile::load(
      write_case("gnn_model.yaml",
                 "model: {type: graph_network, gno: {depth: 2}, graph_network: {hidden: 16, "
                 "layers: 3, aggregation: sum, layer_norm: true, seed: 4}}\n"));
  const ModelSpec n = read_gno_model(net.root().child("model"));
  net.reject_unknown_keys();
  EXPECT_EQ(n.type, ModelType::graph_network);
  EXPECT_EQ(n.graph_network.hidden, 16);
  EXPECT_EQ(n.graph_network.layers, 3);
  EXPECT_EQ(n.graph_network.aggregation, nn::Aggregation::sum);
  EXPECT_TRUE(n.graph_network.layer_norm);
  EXPECT_EQ(n.seed(), 4u);
  EXPECT_EQ(n.gno.depth, 2);  // read (and checked) too, for a switch of type
  EXPECT_EQ(make_model<float>(n, 3, 3, 2)->kind(), "graph_network");
  EXPECT_EQ(model_error("{}"), "");
}

TEST(GnoModelSection, BadKeysAreOneLineErrorsAtTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"{type: fno}", "model.type"},
      {"{gno: {width: 0}}", "model.gno.width"},
      {"{gno: {depth: 1000}}", "model.gno.depth"},
      {"{gno: {materialized: 3}}", "model.gno.materialized"},
      {"{type: gno, graph_network: {aggregation: max}}", "model.graph_network.aggregation"},
      {"{graph_network: {width: 8}}", "width"},  // a key of the other type: unknown there
      {"{hidden: 8}", "hidden"},                 // the type's keys are in its own mapping
  };
  for (const auto& [yaml, expected] : cases) {
    const std::string error = model_error(yaml);
    EXPECT_NE(error.find(expected), std::string::npos) << yaml << " gave: " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    EXPECT_NE(error.find("gno_model.yaml:1:"), std::string::npos) << error;
  }
}
