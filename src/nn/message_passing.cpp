#include "karman/nn/message_passing.hpp"

#include "karman/core/error.hpp"
#include "karman/nn/gemm.hpp"
#include "karman/nn/layer_norm.hpp"

namespace karman::nn {

namespace {

using Range = Kokkos::RangePolicy<ExecutionSpace>;

// Rows [first, first + count) of a row-major matrix: a contiguous view, usable by gemm().
template <class T>
Matrix<T> row_block(const Matrix<T>& m, std::size_t first, std::size_t count) {
  return Kokkos::subview(m, Kokkos::make_pair(first, first + count), Kokkos::ALL);
}

// Columns [first, first + count) of a row-major matrix (strided rows, contiguous channels): a
// block of a concatenated input for the graph kernels.
template <class T>
mesh::GraphValues<T> column_block(const Matrix<T>& m, std::size_t first, std::size_t count) {
  return Kokkos::subview(m, Kokkos::ALL, Kokkos::make_pair(first, first + count));
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

// {first, hidden..., last}
std::vector<std::size_t> mlp_widths(std::size_t first, const std::vector<std::size_t>& hidden,
                                    std::size_t last) {
  std::vector<std::size_t> widths{first};
  widths.insert(widths.end(), hidden.begin(), hidden.end());
  widths.push_back(last);
  return widths;
}

// make_mlp's MLP; with output_activation its last Linear applies the activation too (fused, so
// the split first Linear of a one-Linear MLP_e carries it as well).
template <class T>
std::unique_ptr<Sequential<T>> layer_mlp(const std::vector<std::size_t>& widths,
                                         const MessagePassingOptions& o) {
  if (!o.output_activation) return make_mlp<T>(widths, o.activation);
  auto mlp = std::make_unique<Sequential<T>>();
  for (std::size_t i = 0; i + 1 < widths.size(); ++i)
    mlp->add(std::make_unique<Linear<T>>(widths[i], widths[i + 1], true, o.activation));
  return mlp;
}

}  // namespace

template <class T>
MessagePassing<T>::MessagePassing(const MessagePassingOptions& options) : m_options(options) {
  KARMAN_VERIFY(options.node_features > 0 && options.edge_features > 0,
                "MessagePassing: the node and edge feature widths must be positive");
  KARMAN_VERIFY(options.condition_features < options.node_features,
                "MessagePassing: the condition must leave some node features to update");
  MessagePassingOptions& o = m_options;
  const std::size_t updated = o.node_features - o.condition_features;  // h's columns h' updates
  if (o.message_width == 0) o.message_width = o.edge_features;
  if (o.node_out_features == 0) o.node_out_features = updated;
  // Without a node update h passes through: h' = h.
  if (!o.node_update) o.node_out_features = o.node_features;
  m_node_residual = o.residual && o.node_out_features == updated;
  m_edge_residual = o.residual && o.message_width == o.edge_features;
  // Row offsets of W_i, W_j, W_e in MLP_e's first weight: [h_i, h_j, e_ij] or [e_ij, h_i, h_j].
  const std::size_t wh = o.node_features, we = o.edge_features;
  m_offset_i = o.edge_first ? we : 0;
  m_offset_j = m_offset_i + wh;
  m_offset_e = o.edge_first ? 0 : 2 * wh;
  m_edge_mlp = layer_mlp<T>(mlp_widths(2 * wh + we, o.hidden, o.message_width), o);
  if (!o.node_update) return;
  m_node_mlp = layer_mlp<T>(mlp_widths(wh + o.message_width, o.hidden, o.node_out_features), o);
  if (o.layer_norm) m_node_mlp->add(std::make_unique<LayerNorm<T>>(o.node_out_features));
}

template <class T>
Sequential<T>& MessagePassing<T>::node_mlp() {
  KARMAN_VERIFY(m_node_mlp != nullptr, "MessagePassing: a layer without node update has no MLP_v");
  return *m_node_mlp;
}

template <class T>
void MessagePassing<T>::declare(Parameters<T>& parameters, const std::string& prefix) {
  m_edge_mlp->declare(parameters, prefix + "edge_mlp.");
  if (m_node_mlp) m_node_mlp->declare(parameters, prefix + "node_mlp.");
}

template <class T>
void MessagePassing<T>::initialize(std::uint64_t seed) {
  // The streams are keyed by parameter index too, so one seed gives the two MLPs different values.
  m_edge_mlp->initialize(seed);
  if (m_node_mlp) m_node_mlp->initialize(seed);
}

template <class T>
Linear<T>& MessagePassing<T>::first_linear() const {
  // make_mlp starts with a plain Linear (frequency 1), whose weight the split path slices.
  auto* linear = dynamic_cast<Linear<T>*>(&(*m_edge_mlp)[0]);
  KARMAN_VERIFY(linear != nullptr && linear->frequency() == 1.0,
                "MessagePassing: the edge MLP must start with a plain Linear layer");
  return *linear;
}

// ------------------------------------------------------------------------------------- forward

template <class T>
void MessagePassing<T>::forward_impl(GraphContext<T>& context, Workspace<T>& workspace) {
  auto& c = this->template as<MessagePassingContext>(context);
  if (m_options.concatenated_edge_input)
    edge_update_concatenated(c, workspace);
  else
    edge_update(c, workspace);
  if (m_node_mlp) {
    aggregate(c);
    c.node_step = &m_node_mlp->forward(c.node_input, c.pass, workspace);
    add_residual(m_node_residual, c.h, c.node_step->y, c.h_out,
                 "karman::nn::message_passing::node_residual");
  } else {
    c.h_out = c.h;
  }
  add_residual(m_edge_residual, c.e, c.messages, c.e_out,
               "karman::nn::message_passing::edge_residual");
}

template <class T>
void MessagePassing<T>::edge_update(MessagePassingContext& c, Workspace<T>& workspace) {
  Linear<T>& first = first_linear();
  const std::size_t wh = m_options.node_features, we = m_options.edge_features;
  const std::size_t width = first.out_features(), nodes = c.graph.nodes, edges = c.graph.edges;
  ensure_shape(c.hw_i, "karman::nn::message_passing::hw_i", nodes, width);
  ensure_shape(c.hw_j, "karman::nn::message_passing::hw_j", nodes, width);
  ensure_shape(c.z, "karman::nn::message_passing::z", edges, width);
  // tanh's derivative needs only y (1 − y²): y overwrites z, one [E, H] pass and buffer fewer.
  if (first.activation() == Activation::tanh)
    c.y = c.z;
  else
    ensure_shape(c.y, "karman::nn::message_passing::y", edges, width);

  // z = e W_e [E, H];  h W_i, h W_j [N, H]
  const Matrix<T> weight = first.weight();  // [2W_h + W_e, H]
  gemm(Transpose::no, Transpose::no, T(1), c.e, row_block(weight, m_offset_e, we), T(0), c.z);
  gemm(Transpose::no, Transpose::no, T(1), c.h, row_block(weight, m_offset_i, wh), T(0), c.hw_i);
  gemm(Transpose::no, Transpose::no, T(1), c.h, row_block(weight, m_offset_j, wh), T(0), c.hw_j);

  // z_ij += (h W_i)_i + (h W_j)_j + b,  y = σ(z)
  const Matrix<T> b = first.has_bias() ? first.bias() : Matrix<T>();  // [1, H] or none
  with_activation(first.activation(), [&](auto act) {
    mesh::gather_add<T>(
        c.graph, c.hw_i, c.hw_j, b, c.z, c.y,
        KOKKOS_LAMBDA(const T z) { return activate(act.value, z); },
        "karman::nn::message_passing::edge_z");
  });

  // MLP_e's other modules, as Sequential would run them.
  c.edge_steps.clear();  // keeps its capacity
  Matrix<T> out = c.y;
  for (std::size_t m = 1; m < m_edge_mlp->size(); ++m) {
    Context<T>& step = (*m_edge_mlp)[m].forward(out, c.pass, workspace);
    c.edge_steps.push_back(&step);
    out = step.y;
  }
  c.messages = out;
}

template <class T>
void MessagePassing<T>::edge_update_concatenated(MessagePassingContext& c,
                                                 Workspace<T>& workspace) {
  const std::size_t wh = m_options.node_features, we = m_options.edge_features;
  // [h_i, h_j, e_ij] or [e_ij, h_i, h_j]  [E, 2W_h + W_e]
  ensure_shape(c.edge_input, "karman::nn::message_passing::edge_input", c.graph.edges, 2 * wh + we);
  mesh::gather<T>(c.graph, mesh::End::row, c.h, column_block(c.edge_input, m_offset_i, wh));
  mesh::gather<T>(c.graph, mesh::End::col, c.h, column_block(c.edge_input, m_offset_j, wh));
  Kokkos::deep_copy(column_block(c.edge_input, m_offset_e, we), c.e);
  c.edge_steps.assign(1, &m_edge_mlp->forward(c.edge_input, c.pass, workspace));
  c.messages = c.edge_steps[0]->y;
}

template <class T>
void MessagePassing<T>::aggregate(MessagePassingContext& c) const {
  const std::size_t wh = m_options.node_features, w = m_options.message_width;
  ensure_shape(c.node_input, "karman::nn::message_passing::node_input", c.graph.nodes, wh + w);
  // [h_i, a_i]  [N, W_h + W]
  Kokkos::deep_copy(column_block(c.node_input, 0, wh), c.h);
  if (m_options.aggregation == Aggregation::mean)
    mesh::segment_mean<T>(c.graph, c.messages, column_block(c.node_input, wh, w));
  else
    mesh::segment_sum<T>(c.graph, c.messages, column_block(c.node_input, wh, w));
}

template <class T>
void MessagePassing<T>::add_residual(bool residual, const Matrix<T>& x, const Matrix<T>& f,
                                     Matrix<T>& out, const char* label) const {
  if (!residual) {
    out = f;
    return;
  }
  // f's width: x's first columns (h without its condition columns).
  const std::size_t cols = f.extent(1);
  ensure_shape(out, label, f.extent(0), cols);
  const Matrix<T> sum = out;
  Kokkos::parallel_for(
      label, Range(0, f.extent(0)), KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t a = 0; a < cols; ++a) sum(r, a) = x(r, a) + f(r, a);
      });
}

// ------------------------------------------------------------------------------------ backward

template <class T>
void MessagePassing<T>::backward_impl(GraphContext<T>& context, const Matrix<T>& dh_out,
                                      const Matrix<T>& de_out, const Gradient<T>& gradient) {
  auto& c = this->template as<MessagePassingContext>(context);
  const std::size_t wh = m_options.node_features;
  ensure_shape(c.dh, "karman::nn::message_passing::dh", c.graph.nodes, wh);
  if (!m_node_mlp) {
    // h' = h: dh = dh_out, to which the edge update adds its part; m enters e' alone.
    Kokkos::deep_copy(c.dh, dh_out);
    ensure_shape(c.dm, "karman::nn::message_passing::dm", c.graph.edges, m_options.message_width);
    Kokkos::deep_copy(c.dm, de_out);
    edge_update_backward(c, de_out, gradient);
    return;
  }
  const Matrix<T> dnode_input = m_node_mlp->backward(*c.node_step, dh_out, gradient);  // [N, W_h+W]

  // dh = dh_out (residual, on the W_h' updated columns; the condition columns have none) + the
  // node input's first block; the edge update adds its part.
  const Matrix<T> dh = c.dh;
  const std::size_t skipped = m_node_residual ? m_options.node_out_features : 0;
  Kokkos::parallel_for(
      "karman::nn::message_passing::node_skip_backward", Range(0, c.graph.nodes),
      KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t a = 0; a < skipped; ++a) dh(i, a) = dh_out(i, a) + dnode_input(i, a);
        for (std::size_t a = skipped; a < wh; ++a) dh(i, a) = dnode_input(i, a);
      });
  aggregate_backward(c, de_out, dnode_input);
  edge_update_backward(c, de_out, gradient);
}

template <class T>
void MessagePassing<T>::aggregate_backward(MessagePassingContext& c, const Matrix<T>& de_out,
                                           const Matrix<T>& dnode_input) const {
  // m_k enters e'_k and the aggregates of the nodes aggregating it (its row; its column too when
  // undirected): dm_k = de'_k + Σ_n da_n (/ degree_n).
  const std::size_t wh = m_options.node_features, w = m_options.message_width;
  ensure_shape(c.dm, "karman::nn::message_passing::dm", c.graph.edges, w);
  Kokkos::deep_copy(c.dm, de_out);
  const mesh::GraphValues<const T> da = column_block(dnode_input, wh, w);
  if (m_options.aggregation == Aggregation::mean)
    mesh::segment_mean_transpose<T>(c.graph, da, c.dm);
  else
    mesh::segment_sum_transpose<T>(c.graph, da, c.dm);
}

template <class T>
void MessagePassing<T>::edge_update_backward(MessagePassingContext& c, const Matrix<T>& de_out,
                                             const Gradient<T>& gradient) {
  const std::size_t wh = m_options.node_features, we = m_options.edge_features;
  const bool edge_gradient = m_options.edge_input_gradient;
  if (edge_gradient)
    ensure_shape(c.de, "karman::nn::message_passing::de", c.graph.edges, we);
  else
    c.de = Matrix<T>();
  if (m_options.concatenated_edge_input) {
    // d[h_i, h_j, e_ij]  [E, 2W_h + W_e]: h_i and h_j summed per node, e_ij (+ de_out) as is.
    const Matrix<T> dinput = m_edge_mlp->backward(*c.edge_steps[0], c.dm, gradient);
    mesh::scatter_add<T>(c.graph, mesh::End::row, column_block(dinput, m_offset_i, wh), c.dh);
    mesh::scatter_add<T>(c.graph, mesh::End::col, column_block(dinput, m_offset_j, wh), c.dh);
    if (!edge_gradient) return;
    Kokkos::deep_copy(c.de, column_block(dinput, m_offset_e, we));
    if (m_edge_residual)
      add_to(c.de, de_out, "karman::nn::message_passing::edge_residual_backward");
    return;
  }
  Matrix<T> dy = c.dm;
  for (std::size_t m = m_edge_mlp->size(); m-- > 1;)
    dy = (*m_edge_mlp)[m].backward(*c.edge_steps[m - 1], dy, gradient);  // → [E, H]
  first_linear_backward(c, dy, gradient);

  // dh += dz_i W_iᵀ + dz_j W_jᵀ  [N, W_h];  de = dz W_eᵀ (+ de_out, the residual)  [E, W_e]
  const Matrix<T> weight = first_linear().weight();
  gemm(Transpose::no, Transpose::yes, T(1), c.dz_i, row_block(weight, m_offset_i, wh), T(1), c.dh);
  gemm(Transpose::no, Transpose::yes, T(1), c.dz_j, row_block(weight, m_offset_j, wh), T(1), c.dh);
  if (!edge_gradient) return;
  if (m_edge_residual) Kokkos::deep_copy(c.de, de_out);
  gemm(Transpose::no, Transpose::yes, T(1), c.dz, row_block(weight, m_offset_e, we),
       m_edge_residual ? T(1) : T(0), c.de);
}

template <class T>
void MessagePassing<T>::first_linear_backward(MessagePassingContext& c, const Matrix<T>& dy,
                                              const Gradient<T>& gradient) {
  Linear<T>& first = first_linear();
  const std::size_t width = first.out_features(), nodes = c.graph.nodes, edges = c.graph.edges;

  // dz = dy ∘ σ'(z)  [E, H]
  ensure_shape(c.dz, "karman::nn::message_passing::dz", edges, width);
  const Matrix<T> dz = c.dz, z = c.z, y = c.y;
  with_activation(first.activation(), [&](auto act) {
    Kokkos::parallel_for(
        "karman::nn::message_passing::edge_dz", Range(0, edges),
        KOKKOS_LAMBDA(const std::size_t k) {
          // Row pointers (local to the kernel) let the channel loop vectorise; z may alias y.
          T* KOKKOS_RESTRICT dzk = &dz(k, 0);
          const T* KOKKOS_RESTRICT dyk = &dy(k, 0);
          const T* zk = &z(k, 0);
          const T* yk = &y(k, 0);
#pragma omp simd
          for (std::size_t a = 0; a < width; ++a)
            dzk[a] = dyk[a] * activate_derivative(act.value, zk[a], yk[a]);
        });
  });

  // dz summed per node over the edges whose row (dz_i) or column (dz_j) it is  [N, H]
  ensure_shape(c.dz_i, "karman::nn::message_passing::dz_i", nodes, width);
  ensure_shape(c.dz_j, "karman::nn::message_passing::dz_j", nodes, width);
  const Matrix<T> dz_i = c.dz_i, dz_j = c.dz_j;
  mesh::scatter_ends<T>(c.graph, dz, dz_i, dz_j);
  if (!gradient.parameters()) return;

  // dW_i = hᵀ dz_i, dW_j = hᵀ dz_j, dW_e = eᵀ dz, db = 1ᵀ dz = Σ_i dz_i (every edge has one
  // row): added to or written over the gradients.
  const std::size_t wh = m_options.node_features, we = m_options.edge_features;
  const Matrix<T> dweight = first.weight_gradient();
  const T keep = gradient.keep();
  gemm(Transpose::yes, Transpose::no, T(1), c.e, dz, keep, row_block(dweight, m_offset_e, we));
  gemm(Transpose::yes, Transpose::no, T(1), c.h, dz_i, keep, row_block(dweight, m_offset_i, wh));
  gemm(Transpose::yes, Transpose::no, T(1), c.h, dz_j, keep, row_block(dweight, m_offset_j, wh));
  if (!first.has_bias()) return;
  const Matrix<T> dbias = first.bias_gradient();
  const bool accumulate = gradient.mode == GradientMode::accumulate;
  Kokkos::parallel_for(
      "karman::nn::message_passing::edge_dbias", Range(0, width),
      KOKKOS_LAMBDA(const std::size_t a) {
        T sum = 0;
        for (std::size_t i = 0; i < nodes; ++i) sum += dz_i(i, a);
        dbias(0, a) = accumulate ? dbias(0, a) + sum : sum;
      });
}

template class MessagePassing<float>;
template class MessagePassing<double>;

}  // namespace karman::nn
