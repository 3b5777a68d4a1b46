// FactorGnn::infer, the inference-only forward (gnn.hpp): the network of FactorGnn::forward in
// one fused kernel per layer over the edges and one over the nodes, for the PC's set-up.
//
// The training forward keeps every module's activations for backward: at 1024² (E ≈ 3.1M edges,
// W = 16) each [E, W] buffer is 400 MB and a forward writes about ten of them, so the set-up's time
// went to first-touch page faults and to memory traffic. Here, per layer l (edge k = (i, j)), with
// the edge MLP's first Linear [W_e; W_i; W_j] (rows), b1, its second F2, b2:
//   edges:  y^l_k = tanh(e^l_k W_e + (h W_i)_i + (h W_j)_j + b1)                   [W]
//           the edge buffer keeps y^l_k, not e^{l+1}_k = y^l_k F2 + b2: the next layer needs
//           only e^{l+1} W_e' = y^l (F2 W_e') + b2 W_e', and the head only
//           raw = e^K w_head + b_head = y (F2 w_head) + (b2 w_head + b_head), so the products
//           F2 W_e' [W, W] and F2 w_head [W] are formed once per call (a few KB) and each edge
//           does one W×W product per layer instead of two (the second Linear is folded away);
//           layer 0 reads e⁰ = tanh(F_e W_enc + b_enc) instead; the last layer turns raw into L_k
//           by the factor formula of forward()
//   nodes (l < K-1):  h^{l+1}_i = MLP_v([h^l_i, a_i]) (in place), with the node MLP's first
//           Linear [N_h; N_a] and a_i = Σ_{k ∋ i} e^{l+1}_k = (Σ_k y^l_k) F2 + deg_i b2, so
//           a_i N_a = (Σ_k y^l_k)(F2 N_a) + deg_i (b2 N_a); then the next layer's h W_i, h W_j rows
//           of node i; before layer 0 the node encoder does the same.
// Every vector of width W lives in registers / stack arrays of a compile-time width (8, 16, 32),
// so the products vectorise, in tiles of rows (kTile); the weights (a few KB) stay in L1. The
// folded products change the order of the sums against forward() (rounding-level differences
// only; the test compares the two to 1e-12).
// Precision S (FactorGnnOptions::inference): float64, or float32 for the PC's set-up — the
// weights (folded in double first), the edge and node buffers and the arithmetic in float (an
// AVX2 vector holds 8 floats against 4 doubles, and the buffers' traffic halves), the features
// read and the head's output (raw, then c or ω, δ and L) in double. The network's output only
// sets a preconditioner, so float's 1e-7 rounding in it changes L by about that relatively (the
// test bounds the float path against the double forward).
#include <Kokkos_Core.hpp>
#include <string>
#include <type_traits>

#include "karman/core/error.hpp"
#include "karman/nn/fastmath.hpp"
#include "karman/nn/sequential.hpp"
#include "operators/precond/gnn.hpp"

namespace karman::precond {
namespace {

using nn::Matrix;
using Range = Kokkos::RangePolicy<nn::ExecutionSpace>;
constexpr int kFeatures = static_cast<int>(MatrixGraph::edge_features_count);
static_assert(MatrixGraph::node_features_count == MatrixGraph::edge_features_count,
              "the encoders' kernels assume one feature count");

// A Linear layer's parameters as the kernels read them: W [in, out] rows [row0, row0 + in), b;
// in the kernels' precision S.
template <class S = double>
struct Affine {
  Matrix<S> weight;  // [rows, out]
  Matrix<S> bias;    // [1, out] (or empty: no bias)
};

Affine<> affine(const nn::Linear<double>& linear) {
  return {linear.weight(), linear.has_bias() ? linear.bias() : Matrix<double>()};
}

// m in precision S: itself for double, a converted copy for float (the parameters are a few KB).
template <class S>
Matrix<S> in_precision(const Matrix<double>& m) {
  if constexpr (std::is_same_v<S, double>) {
    return m;
  } else {
    if (m.data() == nullptr) return Matrix<S>();
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
    typename Matrix<S>::HostMirror converted("karman::precond::gnn::infer::weight32", m.extent(0),
                                             m.extent(1));
    for (std::size_t r = 0; r < m.extent(0); ++r)
      for (std::size_t c = 0; c < m.extent(1); ++c) converted(r, c) = static_cast<S>(host(r, c));
    Matrix<S> device("karman::precond::gnn::infer::weight32", m.extent(0), m.extent(1));
    Kokkos::deep_copy(device, converted);
    return device;
  }
}

template <class S>
Affine<S> in_precision(const Affine<>& a) {
  return {in_precision<S>(a.weight), in_precision<S>(a.bias)};
}

nn::Linear<double>* linear_at(nn::Sequential<double>& mlp, std::size_t m) {
  return m < mlp.size() ? dynamic_cast<nn::Linear<double>*>(&mlp[m]) : nullptr;
}

// Rows are processed in tiles of T = 64 / W edges (or nodes; 128 / W in float): a product keeps
// T·W accumulators (16 AVX2 registers) whose chains are independent, where one row's product
// would wait on the FMA latency W times per output vector. A tile past the last row repeats the
// last row (its results are not stored).
template <int W, class S>
constexpr int kTile = static_cast<int>(64 * sizeof(double) / sizeof(S)) / W;

// out[t] = b (or 0) + Σ_{r < In} x[t][r] W(row0 + r, ·) for the tile's rows t. x: [T][In], out:
// [T][W]
template <int T, int W, int In, class S>
KOKKOS_FORCEINLINE_FUNCTION void affine_product(const Affine<S>& a, int row0, const S (&x)[T][In],
                                                S (&out)[T][W]) {
  // The first row's term is added to the bias (or 0) in the same statement: a loop that only
  // stored zeros became a `rep stos` memset per tile (11% of the node kernel's time at 1024²).
  const bool bias = a.bias.data() != nullptr;
  const S* KOKKOS_RESTRICT w0 = &a.weight(row0, 0);
  for (int t = 0; t < T; ++t) {
    const S x0 = x[t][0];
#pragma omp simd
    for (int c = 0; c < W; ++c) out[t][c] = (bias ? a.bias(0, c) : S(0)) + x0 * w0[c];
  }
  for (int r = 1; r < In; ++r) {
    const S* KOKKOS_RESTRICT w = &a.weight(row0 + r, 0);
    for (int t = 0; t < T; ++t) {
      const S xr = x[t][r];
#pragma omp simd
      for (int c = 0; c < W; ++c) out[t][c] += xr * w[c];
    }
  }
}

template <int T, int W, class S>
KOKKOS_FORCEINLINE_FUNCTION void tanh_in_place(S (&x)[T][W]) {
  for (int t = 0; t < T; ++t) {
#pragma omp simd
    for (int c = 0; c < W; ++c) x[t][c] = nn::fastmath::tanh(x[t][c]);
  }
}

// The tile's rows first + t of m (clamped to the last row), converted to S. x: [T][N]
template <int T, int N, class S, class M>
KOKKOS_FORCEINLINE_FUNCTION void load_rows(const Matrix<M>& m, long first, long rows,
                                           S (&x)[T][N]) {
  for (int t = 0; t < T; ++t) {
    const long row = first + t < rows ? first + t : rows - 1;
    const M* KOKKOS_RESTRICT from = &m(row, 0);
#pragma omp simd
    for (int c = 0; c < N; ++c) x[t][c] = static_cast<S>(from[c]);
  }
}

template <int T, int N, class S, class M>
KOKKOS_FORCEINLINE_FUNCTION void store_rows(const S (&x)[T][N], const Matrix<M>& m, long first,
                                            long rows) {
  for (int t = 0; t < T && first + t < rows; ++t) {
    M* KOKKOS_RESTRICT to = &m(first + t, 0);
#pragma omp simd
    for (int c = 0; c < N; ++c) to[c] = static_cast<M>(x[t][c]);
  }
}

// One layer's edge update over a tile of edges (see the file comment), as a Kokkos functor over
// tiles.
template <int W, class S>
struct EdgeLayer {
  static constexpr int T = kTile<W, S>;
  long edges = 0;
  bool first = false, last = false;
  Matrix<double> features;  // [E, 4] (first layer)
  Affine<S> encoder;        // [4, W] (first layer)
  // [W, W] and [1, W]: W_e and b1 (first layer: the rows W_e of the first Linear [3W, W]); later
  // layers F2' W_e and b1 + b2' W_e (F2', b2': the previous layer's second Linear).
  Affine<S> input;
  Matrix<S> state;  // [E, W] y^{l-1} in (not first), y^l out (not last)
  mesh::GraphIndex row, col;
  Matrix<S> row_term, col_term;  // [N, W] h W_i, h W_j
  // Last layer: the head folded with the second Linear, and the factor.
  Affine<S> head;  // [W, 1] F2 w_head, [1, 1] b2 w_head + b_head
  nn::Vector<double> reference, l;
  Kokkos::View<int*, nn::MemorySpace> diagonal;
  double bound = 1.0;
  bool diagonal_only = false;

  KOKKOS_FUNCTION void operator()(const long tile) const {
    const long k0 = tile * T;
    S e[T][W];
    if (first) {
      S f[T][kFeatures];
      load_rows(features, k0, edges, f);
      affine_product(encoder, 0, f, e);
      tanh_in_place(e);
    } else {
      load_rows(state, k0, edges, e);
    }
    S y[T][W];
    affine_product(input, 0, e, y);
    for (int t = 0; t < T; ++t) {
      const long k = k0 + t < edges ? k0 + t : edges - 1;
      const S* KOKKOS_RESTRICT hi = &row_term(row(k), 0);
      const S* KOKKOS_RESTRICT hj = &col_term(col(k), 0);
#pragma omp simd
      for (int c = 0; c < W; ++c) y[t][c] += hi[c] + hj[c];
    }
    tanh_in_place(y);
    if (!last) {
      store_rows(y, state, k0, edges);
      return;
    }
    S raw[T][1];
    affine_product(head, 0, y, raw);
    for (int t = 0; t < T && k0 + t < edges; ++t) {
      const long k = k0 + t;
      const double c = bound * nn::fastmath::tanh(static_cast<double>(raw[t][0]) / bound);
      if (diagonal(k))
        l(k) = reference(k) * nn::fastmath::exp(c);
      else
        l(k) = diagonal_only ? reference(k) : reference(k) * (1.0 + c);
    }
  }
};

// The node encoder (encode) or one layer's node update, then the next layer's h W_i, h W_j, over
// a tile of nodes.
template <int W, class S>
struct NodeStep {
  static constexpr int T = kTile<W, S>;
  long nodes = 0;
  bool encode = false;
  Matrix<double> features;  // [N, 4] (encode)
  Affine<S> encoder;        // [4, W] (encode)
  mesh::GraphIndex incident_ptr, incident;
  Matrix<S> edges;  // [E, W] y^l (update)
  // The node MLP with the edge layer's F2, b2 folded in (update): [2W, W] rows [N_h; F2 N_a] and
  // c1; b2 N_a [1, W], the term of each incident edge's b2; the second Linear [W, W].
  Affine<S> node_first;
  Matrix<S> degree_term;
  Affine<S> node_second;
  Matrix<S> state;               // [N, W] h^l in, h^{l+1} out
  Affine<S> next_edge_first;     // [3W, W] the next layer's first Linear
  Matrix<S> row_term, col_term;  // [N, W] out
  // The relaxation correction's last node update: the row head on h^K instead of the next
  // layer's terms (when `raw` is set).
  Affine<S> head;      // [W, 2] w_head, [1, 2] b_head
  Matrix<double> raw;  // [N, 2] (r_ω, r_δ) out

  KOKKOS_FUNCTION void operator()(const long tile) const {
    const long i0 = tile * T;
    S h[T][W];
    if (encode) {
      S f[T][kFeatures];
      load_rows(features, i0, nodes, f);
      affine_product(encoder, 0, f, h);
      tanh_in_place(h);
    } else {
      S input[T][2 * W];  // [h_i, Σ_{k ∋ i} y_k], the sum in the incidence's order
      S degree[T];        // incident edges of node i
      for (int t = 0; t < T; ++t) {
        const long i = i0 + t < nodes ? i0 + t : nodes - 1;
        const S* KOKKOS_RESTRICT hi = &state(i, 0);
#pragma omp simd
        for (int c = 0; c < W; ++c) input[t][c] = hi[c], input[t][W + c] = S(0);
        for (long p = incident_ptr(i); p < incident_ptr(i + 1); ++p) {
          const S* KOKKOS_RESTRICT yk = &edges(incident(p), 0);
#pragma omp simd
          for (int c = 0; c < W; ++c) input[t][W + c] += yk[c];
        }
        degree[t] = static_cast<S>(incident_ptr(i + 1) - incident_ptr(i));
      }
      S u[T][W];
      affine_product(node_first, 0, input, u);
      for (int t = 0; t < T; ++t) {
#pragma omp simd
        for (int c = 0; c < W; ++c) u[t][c] += degree[t] * degree_term(0, c);
      }
      tanh_in_place(u);
      affine_product(node_second, 0, u, h);
    }
    if (raw.data() != nullptr) {  // h^K is read by the head alone: not stored
      S r[T][2];
      affine_product(head, 0, h, r);
      store_rows(r, raw, i0, nodes);
      return;
    }
    store_rows(h, state, i0, nodes);
    S term[T][W];
    affine_product(next_edge_first, W, h, term);  // rows W_i
    store_rows(term, row_term, i0, nodes);
    affine_product(next_edge_first, 2 * W, h, term);  // rows W_j
    store_rows(term, col_term, i0, nodes);
  }
};

// Strips the bias of an Affine whose output the kernel adds elsewhere (h W_i, h W_j have none).
Affine<> without_bias(Affine<> a) {
  a.bias = Matrix<double>();
  return a;
}

// The folded weights are formed on the host from host copies of the (small) parameter matrices.
using HostMatrix = Matrix<double>::HostMirror;

HostMatrix host_copy(const Matrix<double>& m) {
  return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
}

// out[r, c] = (add ? add[r, c] : 0) + Σ_q a[r, q] b[b0 + q, c] (rows of b from b0; the sums in q
// order). a: [R, Q], b: [≥ b0 + Q, C], add: [R, C] or empty. A device matrix [R, C].
Matrix<double> product(const std::string& label, const HostMatrix& a, const HostMatrix& b, long b0,
                       const HostMatrix& add = HostMatrix()) {
  const long rows = static_cast<long>(a.extent(0)), inner = static_cast<long>(a.extent(1));
  const long cols = static_cast<long>(b.extent(1));
  HostMatrix out(label, rows, cols);
  for (long r = 0; r < rows; ++r)
    for (long c = 0; c < cols; ++c) {
      double sum = add.data() ? add(r, c) : 0.0;
      for (long q = 0; q < inner; ++q) sum += a(r, q) * b(b0 + q, c);
      out(r, c) = sum;
    }
  Matrix<double> device(label, rows, cols);
  Kokkos::deep_copy(device, out);
  return device;
}

// The next Linear's rows [row0, row0 + W) applied after `previous` (the second Linear of an edge
// MLP, [W, W] and [1, W]): {F2 W_next, b2 W_next (+ next's bias when `with_bias`)}.
Affine<> fold_after(const Affine<>& previous, const Affine<>& next, long row0, bool with_bias) {
  const HostMatrix weight = host_copy(next.weight);
  const HostMatrix bias = with_bias && next.bias.data() ? host_copy(next.bias) : HostMatrix();
  return {product("karman::precond::gnn::infer::folded_weight", host_copy(previous.weight), weight,
                  row0),
          product("karman::precond::gnn::infer::folded_bias", host_copy(previous.bias), weight,
                  row0, bias)};
}

// The node MLP's first Linear [2W, W] (rows [N_h; N_a]) after an edge layer's second Linear F2,
// b2: rows [N_h; F2 N_a] with the bias c1, and b2 N_a [1, W] (the term of one incident edge).
struct FoldedNodeInput {
  Affine<> weight;
  Matrix<double> degree_term;
};

FoldedNodeInput fold_node_input(const Affine<>& edge_second, const Affine<>& node_first, long w) {
  const HostMatrix n1 = host_copy(node_first.weight);
  const Affine<> aggregate = fold_after(edge_second, node_first, w, false);  // F2 N_a, b2 N_a
  const HostMatrix f2_na = host_copy(aggregate.weight);
  HostMatrix stacked("karman::precond::gnn::infer::node_first", 2 * w, w);
  for (long r = 0; r < w; ++r)
    for (long c = 0; c < w; ++c) stacked(r, c) = n1(r, c), stacked(w + r, c) = f2_na(r, c);
  Matrix<double> weight("karman::precond::gnn::infer::node_first", 2 * w, w);
  Kokkos::deep_copy(weight, stacked);
  return {{weight, node_first.bias}, aggregate.bias};
}

}  // namespace

template <int W, class S>
void FactorGnn::infer_with_width(const MatrixGraph& graph) {
  const mesh::Graph& topology = graph.topology;
  const long n_edges = topology.edges, n_nodes = topology.nodes;
  InferenceBuffers<S>& buffers = inference_buffers<S>();
  release_other_inference_buffers<S>();  // the other precision's, if a model switched
  nn::ensure_shape(buffers.edge_state, "karman::precond::gnn::infer::edge_state", n_edges, W);
  nn::ensure_shape(buffers.node_state, "karman::precond::gnn::infer::node_state", n_nodes, W);
  nn::ensure_shape(buffers.node_row_term, "karman::precond::gnn::infer::node_row_term", n_nodes, W);
  nn::ensure_shape(buffers.node_col_term, "karman::precond::gnn::infer::node_col_term", n_nodes, W);
  if (m_l.extent(0) != static_cast<std::size_t>(n_edges))
    m_l = nn::Vector<double>(
        Kokkos::view_alloc("karman::precond::gnn::l", Kokkos::WithoutInitializing), n_edges);

  constexpr int T = kTile<W, S>;
  const long edge_tiles = (n_edges + T - 1) / T;
  const long node_tiles = (n_nodes + T - 1) / T;
  const auto edge_first_of = [this](std::size_t l) {
    return affine(*linear_at(m_layers[l]->edge_mlp(), 0));
  };
  const auto edge_second_of = [this](std::size_t l) {
    return affine(*linear_at(m_layers[l]->edge_mlp(), 1));
  };
  NodeStep<W, S> nodes;
  nodes.nodes = n_nodes;
  nodes.encode = true;
  nodes.features = graph.node_features;
  nodes.encoder = in_precision<S>(affine(*m_node_encoder));
  nodes.incident_ptr = topology.incident_ptr;
  nodes.incident = topology.incident;
  nodes.edges = buffers.edge_state;
  nodes.state = buffers.node_state;
  nodes.row_term = buffers.node_row_term;
  nodes.col_term = buffers.node_col_term;
  nodes.next_edge_first = in_precision<S>(without_bias(edge_first_of(0)));
  Kokkos::parallel_for("karman::precond::gnn::infer_node_encoder", Range(0, node_tiles), nodes);

  EdgeLayer<W, S> edges;
  edges.edges = n_edges;
  edges.features = graph.edge_features;
  edges.encoder = in_precision<S>(affine(*m_edge_encoder));
  edges.state = buffers.edge_state;
  edges.row = topology.row;
  edges.col = topology.col;
  edges.row_term = buffers.node_row_term;
  edges.col_term = buffers.node_col_term;
  // The relaxation correction: every layer updates h, the head reads h^K (per row), so the last
  // edge kernel stores its y like the others and the last node kernel runs the head.
  const bool per_row = m_options.correction == Correction::relaxation;
  if (per_row)
    nn::ensure_shape(m_node_head, "karman::precond::gnn::infer::node_head", n_nodes, 2);
  else
    edges.head =
        in_precision<S>(fold_after(edge_second_of(m_layers.size() - 1), affine(*m_head), 0, true));
  edges.reference = graph.reference;
  edges.l = m_l;
  edges.diagonal = graph.diagonal;
  edges.bound = m_options.correction_bound;
  edges.diagonal_only = m_options.diagonal_only;
  nodes.encode = false;
  for (std::size_t l = 0; l < m_layers.size(); ++l) {
    const bool last_layer = l + 1 == m_layers.size();
    edges.first = l == 0;
    edges.last = last_layer && !per_row;
    edges.input = in_precision<S>(
        l == 0 ? edge_first_of(0) : fold_after(edge_second_of(l - 1), edge_first_of(l), 0, true));
    Kokkos::parallel_for("karman::precond::gnn::infer_edge_layer", Range(0, edge_tiles), edges);
    if (edges.last) break;
    const FoldedNodeInput node_input =
        fold_node_input(edge_second_of(l), affine(*linear_at(m_layers[l]->node_mlp(), 0)), W);
    nodes.node_first = in_precision<S>(node_input.weight);
    nodes.degree_term = in_precision<S>(node_input.degree_term);
    nodes.node_second = in_precision<S>(affine(*linear_at(m_layers[l]->node_mlp(), 1)));
    if (last_layer) {
      nodes.head = in_precision<S>(affine(*m_head));
      nodes.raw = m_node_head;
    } else {
      nodes.next_edge_first = in_precision<S>(without_bias(edge_first_of(l + 1)));
    }
    Kokkos::parallel_for("karman::precond::gnn::infer_node_update", Range(0, node_tiles), nodes);
  }
}

namespace {

// The fused kernels hard-code the network forward() runs: per layer, two-Linear MLPs (tanh, then
// identity; biases), edge-first input, sum aggregation, no residuals, no LayerNorm.
bool is_tanh_then_identity(nn::Sequential<double>& mlp, std::size_t w) {
  if (mlp.size() != 2) return false;
  const nn::Linear<double>* first = linear_at(mlp, 0);
  const nn::Linear<double>* second = linear_at(mlp, 1);
  return first && second && first->activation() == nn::Activation::tanh &&
         second->activation() == nn::Activation::identity && first->has_bias() &&
         second->has_bias() && first->out_features() == w && second->in_features() == w &&
         second->out_features() == w && first->frequency() == 1.0 && second->frequency() == 1.0;
}

}  // namespace

template <class S>
void FactorGnn::infer_in_precision(const MatrixGraph& graph) {
  switch (m_options.width) {
    case 8:
      return infer_with_width<8, S>(graph);
    case 16:
      return infer_with_width<16, S>(graph);
    default:
      return infer_with_width<32, S>(graph);
  }
}

nn::Vector<double> FactorGnn::infer(const MatrixGraph& graph) {
  const std::size_t w = m_options.width;
  bool fused = (w == 8 || w == 16 || w == 32) && !m_options.concatenated_edge_input &&
               m_head->frequency() == 1.0 && m_head->activation() == nn::Activation::identity &&
               m_head->has_bias();
  for (std::size_t l = 0; fused && l < m_layers.size(); ++l) {
    const nn::MessagePassingOptions& o = m_layers[l]->options();
    fused = o.edge_first && !o.residual && !o.layer_norm && !o.output_activation &&
            o.aggregation == nn::Aggregation::sum && o.condition_features == 0 &&
            is_tanh_then_identity(m_layers[l]->edge_mlp(), w) &&
            (!o.node_update || is_tanh_then_identity(m_layers[l]->node_mlp(), w));
  }
  if (!fused) return forward(graph);
  m_graph = nullptr;  // no contexts: a backward after infer is an error
  if (m_options.inference == InferencePrecision::float32)
    infer_in_precision<float>(graph);
  else
    infer_in_precision<double>(graph);
  // The relaxation correction: (ω, δ) from the row head's output, then L by the factorisation.
  if (m_options.correction == Correction::relaxation) return factor_relaxation(graph, m_node_head);
  return m_l;
}

}  // namespace karman::precond
