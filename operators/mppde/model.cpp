#include "operators/mppde/model.hpp"

#include <fmt/format.h>

#include "karman/core/error.hpp"
#include "karman/mesh/graph.hpp"

namespace karman::mppde {
namespace {

using nn::Activation;
using Range = Kokkos::RangePolicy<nn::ExecutionSpace>;

constexpr long kDecoderChannels = 8;  // the reference's Conv1d(1, 8, ...) → Conv1d(8, 1, ...)

// Columns [first, first + count) of a row-major matrix, for the graph kernels.
template <class T>
mesh::GraphValues<T> columns(const Matrix<T>& m, std::size_t first, std::size_t count) {
  return Kokkos::subview(m, Kokkos::ALL, Kokkos::make_pair(first, first + count));
}

// f [E, K + P] = [u_i − u_j, g_k] for edge k = (i, j): u the first K columns of h [N, ·], g [E, P].
template <class T>
void edge_features(const mesh::Graph& graph, const Matrix<T>& h, const Matrix<T>& g,
                   std::size_t window, const Matrix<T>& f) {
  const auto row = graph.row, col = graph.col;
  const std::size_t positions = g.extent(1);
  Kokkos::parallel_for(
      "karman::mppde::edge_features", Range(0, f.extent(0)), KOKKOS_LAMBDA(const std::size_t k) {
        const long i = row(k), j = col(k);
        for (std::size_t c = 0; c < window; ++c) f(k, c) = h(i, c) - h(j, c);
        for (std::size_t p = 0; p < positions; ++p) f(k, window + p) = g(k, p);
      });
}

// out [N, H + C] = [v | the last C columns of h]
template <class T>
void with_conditions(const Matrix<T>& v, const Matrix<T>& h, std::size_t conditions,
                     const Matrix<T>& out) {
  const std::size_t hidden = v.extent(1), first = h.extent(1) - conditions;
  Kokkos::parallel_for(
      "karman::mppde::with_conditions", Range(0, out.extent(0)),
      KOKKOS_LAMBDA(const std::size_t n) {
        for (std::size_t a = 0; a < hidden; ++a) out(n, a) = v(n, a);
        for (std::size_t a = 0; a < conditions; ++a) out(n, hidden + a) = h(n, first + a);
      });
}

// y [N, K]: u^{k+ℓ} = u^k + ℓ·Δt·d_ℓ (ℓ = 1..K), u^k = h(n, K − 1).
template <class T>
void bundle_update(const Matrix<T>& h, const Matrix<T>& d, T dt, const Matrix<T>& y) {
  const std::size_t window = y.extent(1);
  Kokkos::parallel_for(
      "karman::mppde::bundle_update", Range(0, y.extent(0)), KOKKOS_LAMBDA(const std::size_t n) {
        const T last = h(n, window - 1);
        for (std::size_t l = 0; l < window; ++l) y(n, l) = last + T(l + 1) * dt * d(n, l);
      });
}

// The update's transpose: dd_ℓ = ℓ·Δt·dy_ℓ; dh(n, K − 1) += Σ_ℓ dy_ℓ (dh's other columns kept).
template <class T>
void bundle_update_backward(const Matrix<T>& dy, T dt, const Matrix<T>& dd, const Matrix<T>& dh) {
  const std::size_t window = dy.extent(1);
  Kokkos::parallel_for(
      "karman::mppde::bundle_update_backward", Range(0, dy.extent(0)),
      KOKKOS_LAMBDA(const std::size_t n) {
        T sum = 0;
        for (std::size_t l = 0; l < window; ++l) {
          dd(n, l) = T(l + 1) * dt * dy(n, l);
          sum += dy(n, l);
        }
        dh(n, window - 1) += sum;
      });
}

// dv [N, H] = the first H columns of dhc [N, H + C]; dcond [N, C] += its last C columns.
template <class T>
void split_conditioned(const Matrix<T>& dhc, const Matrix<T>& dv, const Matrix<T>& dh,
                       std::size_t conditions) {
  const std::size_t hidden = dv.extent(1), first = dh.extent(1) - conditions;
  Kokkos::parallel_for(
      "karman::mppde::split_conditioned", Range(0, dv.extent(0)),
      KOKKOS_LAMBDA(const std::size_t n) {
        for (std::size_t a = 0; a < hidden; ++a) dv(n, a) = dhc(n, a);
        for (std::size_t a = 0; a < conditions; ++a) dh(n, first + a) += dhc(n, hidden + a);
      });
}

// to += from  [rows, cols]
template <class T>
void add_to(const Matrix<T>& to, const Matrix<T>& from, const char* label) {
  const std::size_t cols = to.extent(1);
  Kokkos::parallel_for(
      label, Range(0, to.extent(0)), KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t a = 0; a < cols; ++a) to(r, a) += from(r, a);
      });
}

// dh[:, :K] += du_row − du_col  (the transpose of the edge differences u_i − u_j)
template <class T>
void add_difference(const Matrix<T>& dh, const Matrix<T>& du_row, const Matrix<T>& du_col) {
  const std::size_t window = du_row.extent(1);
  Kokkos::parallel_for(
      "karman::mppde::edge_difference_backward", Range(0, dh.extent(0)),
      KOKKOS_LAMBDA(const std::size_t n) {
        for (std::size_t c = 0; c < window; ++c) dh(n, c) += du_row(n, c) - du_col(n, c);
      });
}

// The encoder: two Linear layers of width H, both followed by σ (the reference's embedding_mlp).
template <class T>
std::unique_ptr<nn::Sequential<T>> make_encoder(std::size_t in, std::size_t hidden) {
  auto encoder = std::make_unique<nn::Sequential<T>>();
  encoder->add(std::make_unique<nn::Linear<T>>(in, hidden, true, Activation::silu));
  encoder->add(std::make_unique<nn::Linear<T>>(hidden, hidden, true, Activation::silu));
  return encoder;
}

template <class T>
std::unique_ptr<nn::Sequential<T>> make_decoder(const DecoderShape& shape, long hidden) {
  nn::Conv1dOptions first;
  first.in_channels = 1;
  first.out_channels = kDecoderChannels;
  first.length = hidden;
  first.kernel = shape.kernel1;
  first.stride = shape.stride1;
  nn::Conv1dOptions second;
  second.in_channels = kDecoderChannels;
  second.out_channels = 1;
  second.length = (hidden - shape.kernel1) / shape.stride1 + 1;
  second.kernel = shape.kernel2;
  second.stride = 1;
  auto decoder = std::make_unique<nn::Sequential<T>>();
  decoder->add(std::make_unique<nn::Conv1d<T>>(first));
  decoder->add(
      std::make_unique<nn::Pointwise<T>>(kDecoderChannels * second.length, Activation::silu));
  decoder->add(std::make_unique<nn::Conv1d<T>>(second));
  return decoder;
}

}  // namespace

std::optional<DecoderShape> decoder_shape(long time_window, long hidden) {
  if (hidden == 128) {  // the reference's three decoders (models_gnn.py)
    if (time_window == 20) return DecoderShape{15, 4, 10};
    if (time_window == 25) return DecoderShape{16, 3, 14};
    if (time_window == 50) return DecoderShape{12, 2, 10};
  }
  DecoderShape shape;
  if (hidden < shape.kernel1) return std::nullopt;
  const long length = (hidden - shape.kernel1) / shape.stride1 + 1;
  shape.kernel2 = length - time_window + 1;
  if (time_window < 1 || shape.kernel2 < 2) return std::nullopt;
  return shape;
}

MpPdeSpec read_mppde_model(const config::Node& model) {
  MpPdeSpec spec;
  spec.hidden = model.integer("hidden", 128, 2, 1L << 14);
  spec.time_window = model.integer("time_window", 25, 1, 1000);
  spec.layers = model.integer("layers", 6, 1, 100);
  spec.neighbors = model.integer("neighbors", 3, 1, 1000);
  spec.seed = static_cast<std::uint64_t>(model.integer("seed", 1, 0));
  if (!decoder_shape(spec.time_window, spec.hidden))
    model.fail(
        "time_window",
        fmt::format("the decoder (Conv1d 1→8 of kernel 16, stride 3, then 8→1) on {} "
                    "hidden features produces at most {} time steps; got {}",
                    spec.hidden, spec.hidden >= 16 ? (spec.hidden - 16) / 3 : 0, spec.time_window));
  return spec;
}

template <class T>
MpPdeModel<T>::MpPdeModel(const MpPdeSpec& spec, long positions, long conditions)
    : m_spec(spec), m_window(spec.time_window), m_positions(positions), m_conditions(conditions) {
  const auto shape = decoder_shape(spec.time_window, spec.hidden);
  KARMAN_VERIFY(shape.has_value(), "MpPdeModel: no decoder for this time window and width");
  KARMAN_VERIFY(positions >= 1 && conditions >= 0 && spec.layers >= 1,
                "MpPdeModel: positions ≥ 1, conditions ≥ 0 and layers ≥ 1 are required");
  const std::size_t hidden = spec.hidden;
  m_encoder = make_encoder<T>(node_in_features(), hidden);
  for (long l = 0; l < spec.layers; ++l) {
    nn::MessagePassingOptions o;
    o.node_features = hidden + conditions;
    o.condition_features = conditions;
    o.edge_features = m_window + positions;
    o.message_width = hidden;
    o.node_out_features = hidden;
    o.hidden = {hidden};
    o.activation = Activation::silu;
    o.output_activation = true;
    o.aggregation = nn::Aggregation::mean;
    o.residual = true;
    m_layers.push_back(std::make_unique<nn::MessagePassing<T>>(o));
    nn::InstanceNormOptions norm;
    norm.features = hidden;
    m_norms.push_back(std::make_unique<nn::InstanceNorm<T>>(norm));
  }
  m_decoder = make_decoder<T>(*shape, spec.hidden);
}

template <class T>
MpPdeModel<T>::~MpPdeModel() = default;

template <class T>
void MpPdeModel<T>::set_instance_nodes(std::size_t nodes) {
  for (auto& norm : m_norms) norm->set_instance_rows(nodes);
}

template <class T>
void MpPdeModel<T>::set_partition(const mesh::Halo& halo) {
  m_halo = halo;
  for (auto& norm : m_norms) {
    norm->set_instance_rows(static_cast<std::size_t>(halo.local()));
    norm->set_owned_rows(static_cast<std::size_t>(halo.owned()));
    norm->set_communicator(halo.comm());
  }
}

template <class T>
void MpPdeModel<T>::declare(nn::Parameters<T>& parameters, const std::string& prefix) {
  m_encoder->declare(parameters, prefix + "encoder.");
  for (std::size_t l = 0; l < m_layers.size(); ++l)
    m_layers[l]->declare(parameters, prefix + "processor." + std::to_string(l) + ".");
  m_decoder->declare(parameters, prefix + "decoder.");
}

template <class T>
void MpPdeModel<T>::initialize(std::uint64_t seed) {
  // Every module draws from streams keyed on (seed, parameter index): one seed for all.
  m_encoder->initialize(seed);
  for (auto& layer : m_layers) layer->initialize(seed);
  m_decoder->initialize(seed);
}

template <class T>
void MpPdeModel<T>::forward_impl(nn::GraphContext<T>& context, nn::Workspace<T>& workspace) {
  auto& c = this->template as<MpPdeContext>(context);
  const std::size_t nodes = c.graph.nodes, edges = c.graph.edges;
  const std::size_t hidden = m_spec.hidden, window = m_window;
  const nn::Pass values = nn::Pass::values();

  // Partitioned: the inputs with their halo rows from the owners, read by everything below.
  c.halo = m_halo;
  Matrix<T> h = c.h;
  if (c.halo) {
    nn::ensure_shape(c.exchanged, "karman::mppde::exchanged", nodes, node_in_features());
    Kokkos::deep_copy(c.exchanged, c.h);
    c.halo->update(c.exchanged);
    h = c.exchanged;
  }

  nn::ensure_shape(c.edge_features, "karman::mppde::edge_features", edges, window + m_positions);
  edge_features(c.graph, h, c.e, window, c.edge_features);

  c.encoder = &m_encoder->forward(h, values, workspace);
  Matrix<T> v = c.encoder->y;  // [N, H]
  const std::size_t layers = m_layers.size();
  c.layers.resize(layers);
  c.norms.resize(layers);
  c.conditioned.resize(layers);
  for (std::size_t l = 0; l < layers; ++l) {
    nn::ensure_shape(c.conditioned[l], "karman::mppde::conditioned", nodes, hidden + m_conditions);
    with_conditions(v, h, m_conditions, c.conditioned[l]);
    if (c.halo) c.halo->update(c.conditioned[l]);  // v's halo rows are stale after a layer
    c.layers[l] =
        &m_layers[l]->forward(c.graph, c.conditioned[l], c.edge_features, values, workspace);
    c.norms[l] = &m_norms[l]->forward(c.layers[l]->h_out, values, workspace);
    v = c.norms[l]->y;
  }
  c.decoder = &m_decoder->forward(v, values, workspace);
  nn::ensure_shape(c.h_out, "karman::mppde::prediction", nodes, window);
  bundle_update(h, c.decoder->y, static_cast<T>(m_dt), c.h_out);
  if (c.e_out.extent(0) != edges) c.e_out = Matrix<T>("karman::mppde::no_edge_output", edges, 0);
}

template <class T>
void MpPdeModel<T>::backward_impl(nn::GraphContext<T>& context, const Matrix<T>& dy,
                                  const Matrix<T>&, const nn::Gradient<T>& gradient) {
  auto& c = this->template as<MpPdeContext>(context);
  const std::size_t nodes = c.graph.nodes, edges = c.graph.edges;
  const std::size_t hidden = m_spec.hidden, window = m_window;
  nn::ensure_shape(c.dh, "karman::mppde::dh", nodes, node_in_features());
  Kokkos::deep_copy(c.dh, T(0));
  nn::ensure_shape(c.dd, "karman::mppde::dd", nodes, window);
  bundle_update_backward(dy, static_cast<T>(m_dt), c.dd, c.dh);

  Matrix<T> dv = m_decoder->backward(*c.decoder, c.dd, gradient);  // [N, H]
  nn::ensure_shape(c.zero_messages, "karman::mppde::zero_messages", edges, hidden);
  Kokkos::deep_copy(c.zero_messages, T(0));
  nn::ensure_shape(c.dedge, "karman::mppde::dedge", edges, window + m_positions);
  Kokkos::deep_copy(c.dedge, T(0));
  nn::ensure_shape(c.dv, "karman::mppde::dv", nodes, hidden);
  for (std::size_t l = m_layers.size(); l-- > 0;) {
    const Matrix<T> dnorm = m_norms[l]->backward(*c.norms[l], dv, gradient);
    m_layers[l]->backward(*c.layers[l], dnorm, c.zero_messages, gradient);
    if (c.halo) c.halo->reduce(c.layers[l]->dh);  // the transpose of [v | c]'s update
    split_conditioned(c.layers[l]->dh, c.dv, c.dh, m_conditions);
    add_to(c.dedge, c.layers[l]->de, "karman::mppde::sum_edge_gradients");
    dv = c.dv;
  }
  add_to(c.dh, m_encoder->backward(*c.encoder, dv, gradient), "karman::mppde::add_encoder");

  // The edge features' gradient: u_i − u_j back to the nodes, the geometry to e.
  nn::ensure_shape(c.du_row, "karman::mppde::du_row", nodes, window);
  nn::ensure_shape(c.du_col, "karman::mppde::du_col", nodes, window);
  mesh::scatter_ends<T>(c.graph, columns(c.dedge, 0, window), c.du_row, c.du_col);
  add_difference(c.dh, c.du_row, c.du_col);
  nn::ensure_shape(c.de, "karman::mppde::de", edges, m_positions);
  Kokkos::deep_copy(c.de, columns(c.dedge, window, m_positions));
  if (c.halo) c.halo->reduce(c.dh);  // the transpose of the inputs' update
}

template class MpPdeModel<float>;
template class MpPdeModel<double>;

}  // namespace karman::mppde
