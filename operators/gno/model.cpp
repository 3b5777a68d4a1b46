#include "operators/gno/model.hpp"

#include <fmt/format.h>

#include "karman/core/error.hpp"

namespace karman::gno {
namespace {

using nn::Activation;
using Range = Kokkos::RangePolicy<nn::ExecutionSpace>;

// Lötzsch's TwoLayerMLP: Linear, ReLU, Linear, then ReLU unless it is the decoder (`output`).
template <class T>
std::unique_ptr<nn::Sequential<T>> two_layer_mlp(std::size_t in, std::size_t hidden,
                                                 std::size_t out, bool output) {
  auto mlp = std::make_unique<nn::Sequential<T>>();
  mlp->add(std::make_unique<nn::Linear<T>>(in, hidden, true, Activation::relu));
  mlp->add(std::make_unique<nn::Linear<T>>(hidden, out, true,
                                           output ? Activation::identity : Activation::relu));
  return mlp;
}

// The node rows a layer reads: `v` itself, or (partitioned) `buffer` = v with its halo rows
// replaced by their owners'.
template <class T>
Matrix<T> exchanged(const std::optional<mesh::Halo>& halo, const Matrix<T>& v, Matrix<T>& buffer,
                    const char* label) {
  if (!halo) return v;
  nn::ensure_shape(buffer, label, v.extent(0), v.extent(1));
  Kokkos::deep_copy(buffer, v);
  halo->update(buffer);
  return buffer;
}

}  // namespace

ModelSpec read_gno_model(const config::Node& model) {
  ModelSpec spec;
  const std::string type = model.choice("type", {"gno", "graph_network"}, "gno");
  if (type == "gno") {
    spec.type = ModelType::gno;
    GnoSpec& s = spec.gno;
    s.width = model.integer("width", s.width, 1, 1L << 12);
    s.kernel_width = model.integer("kernel_width", s.kernel_width, 1, 1L << 14);
    s.depth = model.integer("depth", s.depth, 1, 100);
    s.materialized = model.flag("materialized", s.materialized);
    s.seed = static_cast<std::uint64_t>(model.integer("seed", 1, 0));
  } else {
    spec.type = ModelType::graph_network;
    GraphNetworkSpec& s = spec.graph_network;
    s.hidden = model.integer("hidden", s.hidden, 1, 1L << 14);
    s.layers = model.integer("layers", s.layers, 1, 100);
    s.aggregation = model.choice("aggregation", {"mean", "sum"}, "mean") == "sum"
                        ? nn::Aggregation::sum
                        : nn::Aggregation::mean;
    s.layer_norm = model.flag("layer_norm", s.layer_norm);
    s.seed = static_cast<std::uint64_t>(model.integer("seed", 1, 0));
  }
  return spec;
}

// -------------------------------------------------------------------------------- GraphNetwork

template <class T>
GraphNetwork<T>::GraphNetwork(const GraphNetworkSpec& spec, long node_features, long edge_features,
                              long outputs)
    : m_spec(spec),
      m_node_features(node_features),
      m_edge_features(edge_features),
      m_outputs(outputs) {
  KARMAN_VERIFY(node_features >= 1 && edge_features >= 1 && outputs >= 1,
                "GraphNetwork: at least one node feature, edge feature and output are required");
  KARMAN_VERIFY(spec.hidden >= 1 && spec.layers >= 1,
                "GraphNetwork: hidden and layers ≥ 1 are required");
  const std::size_t hidden = spec.hidden;
  m_node_encoder = two_layer_mlp<T>(node_features, hidden, hidden, false);
  m_edge_encoder = two_layer_mlp<T>(edge_features, hidden, hidden, false);
  for (long l = 0; l < spec.layers; ++l) {
    nn::MessagePassingOptions o;
    o.node_features = hidden;
    o.edge_features = hidden;
    o.message_width = hidden;
    o.node_out_features = hidden;
    o.hidden = {hidden};
    o.activation = Activation::relu;
    o.aggregation = spec.aggregation;
    o.residual = true;
    o.layer_norm = spec.layer_norm;
    m_layers.push_back(std::make_unique<nn::MessagePassing<T>>(o));
  }
  m_decoder = two_layer_mlp<T>(hidden, hidden, outputs, true);
}

template <class T>
GraphNetwork<T>::~GraphNetwork() = default;

template <class T>
void GraphNetwork<T>::declare(nn::Parameters<T>& parameters, const std::string& prefix) {
  m_node_encoder->declare(parameters, prefix + "node_encoder.");
  m_edge_encoder->declare(parameters, prefix + "edge_encoder.");
  for (std::size_t l = 0; l < m_layers.size(); ++l)
    m_layers[l]->declare(parameters, prefix + "processor." + std::to_string(l) + ".");
  m_decoder->declare(parameters, prefix + "decoder.");
}

template <class T>
void GraphNetwork<T>::initialize(std::uint64_t seed) {
  m_node_encoder->initialize(seed);
  m_edge_encoder->initialize(seed);
  for (auto& layer : m_layers) layer->initialize(seed);
  m_decoder->initialize(seed);
}

template <class T>
void GraphNetwork<T>::forward_impl(nn::GraphContext<T>& context, nn::Workspace<T>& workspace) {
  auto& c = this->template as<GraphNetworkContext>(context);
  const nn::Pass values = nn::Pass::values();
  c.halo = this->m_halo;

  c.node_encoder = &m_node_encoder->forward(c.h, values, workspace);  // [N, H]
  c.edge_encoder = &m_edge_encoder->forward(c.e, values, workspace);  // [E, H]
  Matrix<T> v = c.node_encoder->y, f = c.edge_encoder->y;
  const std::size_t layers = m_layers.size();
  c.layers.resize(layers);
  c.inputs.resize(layers);
  for (std::size_t l = 0; l < layers; ++l) {
    // The messages read their senders' rows: halo rows from their owners.
    const Matrix<T> input = exchanged(c.halo, v, c.inputs[l], "karman::gno::processor_input");
    c.layers[l] = &m_layers[l]->forward(c.graph, input, f, values, workspace);
    v = c.layers[l]->h_out;
    f = c.layers[l]->e_out;
  }
  c.decoder = &m_decoder->forward(v, values, workspace);
  c.h_out = c.decoder->y;
  if (c.e_out.extent(0) != static_cast<std::size_t>(c.graph.edges))
    c.e_out = Matrix<T>("karman::gno::no_edge_output", c.graph.edges, 0);
}

template <class T>
void GraphNetwork<T>::backward_impl(nn::GraphContext<T>& context, const Matrix<T>& dy,
                                    const Matrix<T>&, const nn::Gradient<T>& gradient) {
  auto& c = this->template as<GraphNetworkContext>(context);
  Matrix<T> dv = m_decoder->backward(*c.decoder, dy, gradient);  // [N, H]
  // The last layer's edge latents are not read: their gradient is 0.
  nn::ensure_shape(c.zero_edges, "karman::gno::zero_edges", c.graph.edges, m_spec.hidden);
  Kokkos::deep_copy(c.zero_edges, T(0));
  Matrix<T> df = c.zero_edges;  // [E, H]
  for (std::size_t l = m_layers.size(); l-- > 0;) {
    m_layers[l]->backward(*c.layers[l], dv, df, gradient);
    if (c.halo) c.halo->reduce(c.layers[l]->dh);  // the transpose of the input's update
    dv = c.layers[l]->dh;
    df = c.layers[l]->de;
  }
  c.dh = m_node_encoder->backward(*c.node_encoder, dv, gradient);
  c.de = m_edge_encoder->backward(*c.edge_encoder, df, gradient);
}

template class GraphNetwork<float>;
template class GraphNetwork<double>;

}  // namespace karman::gno
