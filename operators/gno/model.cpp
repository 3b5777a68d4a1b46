#include "operators/gno/model.hpp"

#include "karman/core/error.hpp"

namespace karman::gno {
namespace {

using nn::Activation;
using Range = Kokkos::RangePolicy<nn::ExecutionSpace>;

// out = relu(x)  [rows, W]
template <class T>
void relu(const Matrix<T>& x, const Matrix<T>& out) {
  const std::size_t cols = x.extent(1);
  Kokkos::parallel_for(
      "karman::gno::relu", Range(0, x.extent(0)), KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t a = 0; a < cols; ++a) out(r, a) = x(r, a) > T(0) ? x(r, a) : T(0);
      });
}

// dx = dy ∘ [x > 0]  [rows, W] (x the pre-activation)
template <class T>
void relu_backward(const Matrix<T>& x, const Matrix<T>& dy, const Matrix<T>& dx) {
  const std::size_t cols = x.extent(1);
  Kokkos::parallel_for(
      "karman::gno::relu_backward", Range(0, x.extent(0)), KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t a = 0; a < cols; ++a) dx(r, a) = x(r, a) > T(0) ? dy(r, a) : T(0);
      });
}

// to += from  [rows, W]
template <class T>
void add_to(const Matrix<T>& to, const Matrix<T>& from) {
  const std::size_t cols = to.extent(1);
  Kokkos::parallel_for(
      "karman::gno::add_to", Range(0, to.extent(0)), KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t a = 0; a < cols; ++a) to(r, a) += from(r, a);
      });
}

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

// The gradient mode of the k-th backward (k = 0, 1, ...) of a weight-tied layer: the caller's
// for the first, then accumulate onto it (none stays none).
template <class T>
nn::Gradient<T> tied(const nn::Gradient<T>& gradient, std::size_t k) {
  if (k == 0 || !gradient.parameters()) return gradient;
  return nn::Gradient<T>::accumulate();
}

// dy itself, or (partitioned) `buffer` = dy with its halo rows 0: the output's halo rows are not
// the model's (their nodes receive no edges here), so no loss gradient may enter through them.
// Rows b·N_local + n, n ≥ N_owned, of the batch are halo rows.
template <class T>
Matrix<T> owned_rows_only(const std::optional<mesh::Halo>& halo, const Matrix<T>& dy,
                          Matrix<T>& buffer) {
  if (!halo) return dy;
  nn::ensure_shape(buffer, "karman::gno::owned_dy", dy.extent(0), dy.extent(1));
  const std::size_t local = halo->local(), owned = halo->owned(), cols = dy.extent(1);
  Kokkos::parallel_for(
      "karman::gno::owned_rows_only", Range(0, dy.extent(0)), KOKKOS_LAMBDA(const std::size_t r) {
        const bool is_owned = r % local < owned;
        for (std::size_t a = 0; a < cols; ++a) buffer(r, a) = is_owned ? dy(r, a) : T(0);
      });
  return buffer;
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

// The forward's halo (the model's partition, if any), checked against the graph it runs on.
std::optional<mesh::Halo> forward_halo(const std::optional<mesh::Halo>& partition,
                                       const mesh::Graph& graph) {
  KARMAN_VERIFY(!partition || partition->rows() == graph.nodes,
                "gno: the partition's halo covers another number of nodes than the graph (call "
                "set_partition with the batch's Halo::batched)");
  return partition;
}

}  // namespace

ModelSpec read_gno_model(const config::Node& model) {
  ModelSpec spec;
  spec.type = model.choice("type", {"gno", "graph_network"}, "gno") == "gno"
                  ? ModelType::gno
                  : ModelType::graph_network;

  const config::Node gno = model.child_or_empty("gno");
  GnoSpec& g = spec.gno;
  g.width = gno.integer("width", g.width, 1, 1L << 12);
  g.kernel_width = gno.integer("kernel_width", g.kernel_width, 1, 1L << 14);
  g.depth = gno.integer("depth", g.depth, 1, 100);
  g.materialized = gno.flag("materialized", g.materialized);
  g.seed = static_cast<std::uint64_t>(gno.integer("seed", 1, 0));

  const config::Node network = model.child_or_empty("graph_network");
  GraphNetworkSpec& n = spec.graph_network;
  n.hidden = network.integer("hidden", n.hidden, 1, 1L << 14);
  n.layers = network.integer("layers", n.layers, 1, 100);
  n.aggregation = network.choice("aggregation", {"mean", "sum"}, "mean") == "sum"
                      ? nn::Aggregation::sum
                      : nn::Aggregation::mean;
  n.layer_norm = network.flag("layer_norm", n.layer_norm);
  n.seed = static_cast<std::uint64_t>(network.integer("seed", 1, 0));
  return spec;
}

// ------------------------------------------------------------------------------------ GnoModel

template <class T>
GnoModel<T>::GnoModel(const GnoSpec& spec, long node_features, long edge_features, long outputs)
    : m_spec(spec),
      m_node_features(node_features),
      m_edge_features(edge_features),
      m_outputs(outputs) {
  KARMAN_VERIFY(node_features >= 1 && edge_features >= 1 && outputs >= 1,
                "GnoModel: at least one node feature, edge feature and output are required");
  KARMAN_VERIFY(spec.width >= 1 && spec.kernel_width >= 1 && spec.depth >= 1,
                "GnoModel: width, kernel_width and depth ≥ 1 are required");
  const std::size_t w = spec.width, r = spec.kernel_width;
  m_lift = std::make_unique<nn::Linear<T>>(node_features, w);
  m_kernel = std::make_unique<nn::Sequential<T>>();
  m_kernel->add(std::make_unique<nn::Linear<T>>(edge_features, r, true, Activation::relu));
  m_kernel->add(std::make_unique<nn::Linear<T>>(r, r, true, Activation::relu));
  nn::KernelIntegralOptions o;
  o.width = w;
  o.rank = r;
  o.materialized = spec.materialized;
  m_integral = std::make_unique<nn::KernelIntegral<T>>(o);
  m_project = std::make_unique<nn::Linear<T>>(w, outputs);
}

template <class T>
GnoModel<T>::~GnoModel() = default;

template <class T>
void GnoModel<T>::declare(nn::Parameters<T>& parameters, const std::string& prefix) {
  m_lift->declare(parameters, prefix + "lift.");
  m_kernel->declare(parameters, prefix + "kernel.");
  m_integral->declare(parameters, prefix + "integral.");
  m_project->declare(parameters, prefix + "project.");
}

template <class T>
void GnoModel<T>::initialize(std::uint64_t seed) {
  // Every module draws from streams keyed on (seed, parameter index): one seed for all.
  m_lift->initialize(seed);
  m_kernel->initialize(seed);
  m_integral->initialize(seed);
  m_project->initialize(seed);
}

template <class T>
void GnoModel<T>::forward_impl(nn::GraphContext<T>& context, nn::Workspace<T>& workspace) {
  auto& c = this->template as<GnoContext>(context);
  const std::size_t nodes = c.graph.nodes, edges = c.graph.edges, w = m_spec.width;
  const std::size_t depth = m_spec.depth;
  const nn::Pass values = nn::Pass::values();
  c.halo = forward_halo(this->m_halo, c.graph);

  c.lift = &m_lift->forward(c.h, values, workspace);      // v⁰ [N, w]
  c.kernel = &m_kernel->forward(c.e, values, workspace);  // g [E, R], once for every application
  const Matrix<T> g = c.kernel->y;
  c.integrals.resize(depth);
  c.inputs.resize(depth);
  // v^ℓ (ℓ < depth) in c.inputs[ℓ] with its halo rows from their owners (the kernel integral
  // reads its senders' rows); v⁰ is the lift's output, copied only when it must be updated.
  Matrix<T> input = exchanged(c.halo, c.lift->y, c.inputs[0], "karman::gno::integral_input");
  for (std::size_t l = 0; l < depth; ++l) {
    c.integrals[l] = &m_integral->forward(c.graph, input, g, values, workspace);
    Matrix<T>& next = l + 1 < depth ? c.inputs[l + 1] : c.activated;
    nn::ensure_shape(next, "karman::gno::activation", nodes, w);
    relu(c.integrals[l]->h_out, next);
    if (l + 1 < depth && c.halo) c.halo->update(next);
    input = next;
  }
  c.project = &m_project->forward(c.activated, values, workspace);
  c.h_out = c.project->y;
  if (c.e_out.extent(0) != edges) c.e_out = Matrix<T>("karman::gno::no_edge_output", edges, 0);
}

template <class T>
void GnoModel<T>::backward_impl(nn::GraphContext<T>& context, const Matrix<T>& dy, const Matrix<T>&,
                                const nn::Gradient<T>& gradient) {
  auto& c = this->template as<GnoContext>(context);
  const std::size_t nodes = c.graph.nodes, edges = c.graph.edges, w = m_spec.width;
  const Matrix<T> owned_dy = owned_rows_only(c.halo, dy, c.owned_dy);
  Matrix<T> dv = m_project->backward(*c.project, owned_dy, gradient);  // [N, w]
  nn::ensure_shape(c.dpre, "karman::gno::dpre", nodes, w);
  nn::ensure_shape(c.dg, "karman::gno::dg", edges, m_spec.kernel_width);
  Kokkos::deep_copy(c.dg, T(0));
  if (c.no_edges.extent(0) != edges) c.no_edges = Matrix<T>("karman::gno::no_edges", edges, 0);
  const std::size_t depth = c.integrals.size();
  for (std::size_t l = depth; l-- > 0;) {
    relu_backward(c.integrals[l]->h_out, dv, c.dpre);
    m_integral->backward(*c.integrals[l], c.dpre, c.no_edges, tied(gradient, depth - 1 - l));
    if (c.halo) c.halo->reduce(c.integrals[l]->dh);  // the transpose of the input's update
    add_to(c.dg, c.integrals[l]->de);
    dv = c.integrals[l]->dh;
  }
  c.dh = m_lift->backward(*c.lift, dv, gradient);
  c.de = m_kernel->backward(*c.kernel, c.dg, gradient);
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
  c.halo = forward_halo(this->m_halo, c.graph);

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
  const Matrix<T> owned_dy = owned_rows_only(c.halo, dy, c.owned_dy);
  Matrix<T> dv = m_decoder->backward(*c.decoder, owned_dy, gradient);  // [N, H]
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

template <class T>
std::unique_ptr<Model<T>> make_model(const ModelSpec& spec, long node_features, long edge_features,
                                     long outputs) {
  if (spec.type == ModelType::gno)
    return std::make_unique<GnoModel<T>>(spec.gno, node_features, edge_features, outputs);
  return std::make_unique<GraphNetwork<T>>(spec.graph_network, node_features, edge_features,
                                           outputs);
}

template class GnoModel<float>;
template class GnoModel<double>;
template class GraphNetwork<float>;
template class GraphNetwork<double>;
template std::unique_ptr<Model<float>> make_model(const ModelSpec&, long, long, long);
template std::unique_ptr<Model<double>> make_model(const ModelSpec&, long, long, long);

}  // namespace karman::gno
