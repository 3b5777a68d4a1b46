#include "operators/precond/gnn.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "karman/core/error.hpp"
#include "karman/nn/fastmath.hpp"

namespace karman::precond {

namespace {

using nn::ExecutionSpace;
using nn::Matrix;
using Range = Kokkos::RangePolicy<ExecutionSpace>;
using Index = Kokkos::View<long*, nn::MemorySpace>;

template <class T>
Kokkos::View<T*, nn::MemorySpace> to_device(const std::vector<T>& host, const char* label) {
  Kokkos::View<T*, nn::MemorySpace> device(
      Kokkos::view_alloc(std::string(label), Kokkos::WithoutInitializing), host.size());
  Kokkos::View<const T*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> view(
      host.data(), host.size());
  Kokkos::deep_copy(device, view);
  return device;
}

auto uninitialized(const char* label) {
  return Kokkos::view_alloc(std::string(label), Kokkos::WithoutInitializing);
}

// diag(A) [n]; InternalError on a missing or non-positive diagonal entry.
std::vector<double> diagonal_of(const CsrMatrix& a) {
  std::vector<double> d(a.rows, 0.0);
  for (long i = 0; i < a.rows; ++i)
    for (long e = a.row_ptr[i]; e < a.row_ptr[i + 1]; ++e)
      if (a.col[e] == i) d[i] = a.values[e];
  for (long i = 0; i < a.rows; ++i)
    KARMAN_VERIFY(d[i] > 0.0, "MatrixGraph: row " + std::to_string(i) +
                                  " has no positive diagonal entry (A must be SPD)");
  return d;
}

}  // namespace

std::vector<double> reference_values(const LocalBlock& a, const LowerPattern& lower,
                                     ReferenceFactor reference) {
  if (reference == ReferenceFactor::ic0) return ic0_values(a, lower);
  if (a.dropped.empty()) return mic0_values(a, lower);
  // MIC(0) of the block with the coupling the partition cut moved onto the diagonal, as MIC moves
  // the fill it drops: the block's row sums are then the global matrix's, so the block-diagonal M
  // keeps A's action on vectors that are smooth across the cut too.
  CsrMatrix lumped = a;
  for (std::int64_t i = 0; i < a.rows; ++i)
    lumped.values[lower.position_in_a[lower.diagonal(i)]] -= a.dropped[i];
  return mic0_values(lumped, lower);
}

CsrMatrix lower_triangle(const CsrMatrix& a) {
  CsrMatrix lower;
  lower.rows = a.rows;
  lower.row_ptr.assign(1, 0);
  for (long i = 0; i < a.rows; ++i) {
    for (long e = a.row_ptr[i]; e < a.row_ptr[i + 1]; ++e)
      if (a.col[e] <= i) {
        lower.col.push_back(a.col[e]);
        if (!a.values.empty()) lower.values.push_back(a.values[e]);
      }
    lower.row_ptr.push_back(static_cast<long>(lower.col.size()));
  }
  return lower;
}

MatrixGraph make_matrix_graph(const CsrMatrix& a, const std::vector<double>& reference,
                              FactorKind kind, const std::vector<double>& dropped, bool relaxed_ic,
                              std::int64_t problem_rows) {
  const long n = a.rows;
  KARMAN_VERIFY(a.values.size() == a.col.size(), "MatrixGraph: the matrix has no values");
  KARMAN_VERIFY(dropped.empty() || static_cast<long>(dropped.size()) == n,
                "MatrixGraph: the dropped coupling must have one value per row");
  long edges = 0;  // entries of tril(A)
  for (long i = 0; i < n; ++i)
    for (long p = a.row_ptr[i]; p < a.row_ptr[i + 1]; ++p) edges += a.col[p] <= i;
  KARMAN_VERIFY(static_cast<long>(reference.size()) == edges,
                "MatrixGraph: the reference factor must have one value per entry of tril(A)");
  const std::vector<double> d = diagonal_of(a);

  constexpr std::size_t fe = MatrixGraph::edge_features_count;
  constexpr std::size_t fv = MatrixGraph::node_features_count;
  MatrixGraph g;
  Index row(uninitialized("karman::precond::graph::edge_row"), edges);
  Index col(uninitialized("karman::precond::graph::edge_col"), edges);
  g.edge_features =
      Matrix<double>(uninitialized("karman::precond::graph::edge_features"), edges, fe);
  g.node_features = Matrix<double>(uninitialized("karman::precond::graph::node_features"), n, fv);
  g.reference = to_device(reference, "karman::precond::graph::reference");
  g.diagonal =
      Kokkos::View<int*, nn::MemorySpace>(uninitialized("karman::precond::graph::diagonal"), edges);
  // Filled on the host: on a host backend the mirrors are the views themselves (no copies).
  const auto edge_row = Kokkos::create_mirror_view(row);
  const auto edge_col = Kokkos::create_mirror_view(col);
  const auto edge_features = Kokkos::create_mirror_view(g.edge_features);
  const auto node_features = Kokkos::create_mirror_view(g.node_features);
  const auto diagonal = Kokkos::create_mirror_view(g.diagonal);

  long e = 0;  // edge index: tril(A) in A's order
  for (long i = 0; i < n; ++i) {
    double row_sum = 0.0, off_diagonal = 0.0;  // Σ_j â_ij, Σ_{j≠i} |â_ij|
    for (long p = a.row_ptr[i]; p < a.row_ptr[i + 1]; ++p) {
      const long j = a.col[p];
      const double scaled = a.values[p] / std::sqrt(d[i] * d[j]);
      row_sum += scaled;
      if (j != i) off_diagonal += std::abs(scaled);
      if (j > i) continue;
      // L_ii = ref_ii·exp(c) is positive for every c only if ref_ii is.
      KARMAN_VERIFY(i != j || reference[e] > 0.0,
                    "MatrixGraph: the reference factor's diagonal must be positive");
      edge_row(e) = i;
      edge_col(e) = j;
      diagonal(e) = i == j;
      edge_features(e, 0) = scaled;
      edge_features(e, 1) = std::abs(scaled);
      edge_features(e, 2) = i == j ? 1.0 : 0.0;
      // The reference factor of Â: L D^{-1/2} for IC(0) (L ~ √a), G D^{1/2} for FSAI (G ~ 1/√a).
      edge_features(e, 3) = kind == FactorKind::fsai ? reference[e] * std::sqrt(d[j])
                                                     : reference[e] / std::sqrt(d[i]);
      ++e;
    }
    node_features(i, 0) = row_sum;
    node_features(i, 1) = off_diagonal;
    node_features(i, 2) = 1.0 / static_cast<double>(a.row_ptr[i + 1] - a.row_ptr[i]);
    node_features(i, 3) = dropped.empty() ? 0.0 : dropped[i] / d[i];
  }

  Kokkos::deep_copy(row, edge_row);
  Kokkos::deep_copy(col, edge_col);
  Kokkos::deep_copy(g.edge_features, edge_features);
  Kokkos::deep_copy(g.node_features, node_features);
  Kokkos::deep_copy(g.diagonal, diagonal);
  // Edge (i, j) belongs to node i and, off the diagonal, to node j: undirected.
  g.topology = mesh::make_graph(n, row, col, mesh::Edges::undirected);
  if (relaxed_ic) g.relaxed = std::make_shared<const RelaxedIc>(a, dropped);
  g.problem_rows = problem_rows;
  return g;
}

MatrixGraph make_relaxation_graph(const LocalBlock& a, const LowerPattern& lower) {
  auto relaxed = std::make_shared<const RelaxedIc>(a, lower, a.dropped);
  MatrixGraph g = make_matrix_graph(a, relaxed->factor(RowRelaxation::mic0(a.rows)),
                                    FactorKind::cholesky, a.dropped, false, a.problem_rows());
  g.relaxed = std::move(relaxed);
  return g;
}

FactorGnn::FactorGnn(const FactorGnnOptions& options, std::uint64_t seed) : m_options(options) {
  KARMAN_VERIFY(options.width > 0 && options.layers > 0, "FactorGnn: width and layers must be > 0");
  KARMAN_VERIFY(options.correction_bound > 0.0, "FactorGnn: correction_bound must be > 0");
  KARMAN_VERIFY(options.relaxation_bound >= 0.0 && options.shift_bound >= 0.0,
                "FactorGnn: relaxation_bound and shift_bound must be ≥ 0");
  const bool per_row = options.correction == Correction::relaxation;
  const std::size_t w = options.width;
  const auto tanh = nn::Activation::tanh;
  m_edge_encoder =
      std::make_unique<nn::Linear<double>>(MatrixGraph::edge_features_count, w, true, tanh);
  m_node_encoder =
      std::make_unique<nn::Linear<double>>(MatrixGraph::node_features_count, w, true, tanh);
  for (std::size_t l = 0; l < options.layers; ++l) {
    nn::MessagePassingOptions layer;
    layer.node_features = layer.edge_features = layer.message_width = w;
    layer.hidden = {w};
    layer.activation = tanh;
    layer.aggregation = nn::Aggregation::sum;
    layer.residual = false;
    layer.edge_first = true;  // [e_ij, h_i, h_j]
    // The edge head reads e^K alone; the row head reads h^K.
    layer.node_update = per_row || l + 1 < options.layers;
    layer.concatenated_edge_input = options.concatenated_edge_input;
    m_layers.push_back(std::make_unique<nn::MessagePassing<double>>(layer));
  }
  nn::LinearOptions head;
  head.init = nn::Init::zeros;  // starts at the reference factor exactly
  m_head = std::make_unique<nn::Linear<double>>(w, per_row ? 2 : 1, head);
  declare("gnn.");
  m_parameters.allocate();
  initialize(seed);
}

void FactorGnn::declare(const std::string& prefix) {
  m_edge_encoder->declare(m_parameters, prefix + "edge_encoder.");
  m_node_encoder->declare(m_parameters, prefix + "node_encoder.");
  // Per layer its edge MLP, then its node MLP: the initial values follow the declaration order
  // (one random stream per parameter index).
  for (std::size_t l = 0; l < m_layers.size(); ++l)
    m_layers[l]->declare(m_parameters, prefix + "layer." + std::to_string(l) + ".");
  m_head->declare(m_parameters, prefix + "head.");
}

void FactorGnn::initialize(std::uint64_t seed) {
  m_edge_encoder->initialize(seed);
  m_node_encoder->initialize(seed);
  for (auto& layer : m_layers) layer->initialize(seed);
  m_head->initialize(seed);
}

nn::Vector<double> FactorGnn::forward(const MatrixGraph& graph) {
  if (m_options.correction == Correction::relaxation) return forward_relaxation(graph);
  m_graph = &graph;
  const mesh::Graph& topology = graph.topology;
  const std::size_t n_edges = topology.edges;

  m_workspace.reset();
  const nn::Pass values = nn::Pass::values();
  m_edge_encoding = &m_edge_encoder->forward(graph.edge_features, values, m_workspace);
  m_node_encoding = &m_node_encoder->forward(graph.node_features, values, m_workspace);
  Matrix<double> e = m_edge_encoding->y;  // [E, W]
  Matrix<double> h = m_node_encoding->y;  // [N, W]
  m_layer_contexts.clear();
  for (auto& layer : m_layers) {
    nn::GraphContext<double>& c = layer->forward(topology, h, e, values, m_workspace);
    m_layer_contexts.push_back(&c);
    e = c.e_out;
    h = c.h_out;
  }
  m_head_output = &m_head->forward(e, values, m_workspace);
  m_raw = m_head_output->y;  // [E, 1]

  if (m_l.extent(0) != n_edges)
    m_l = nn::Vector<double>(
        Kokkos::view_alloc("karman::precond::gnn::l", Kokkos::WithoutInitializing), n_edges);
  const nn::Vector<double> l_values = m_l, reference = graph.reference;
  const Matrix<double> raw = m_raw;
  const Kokkos::View<int*, nn::MemorySpace> diagonal = graph.diagonal;
  const double bound = m_options.correction_bound;
  const bool diagonal_only = m_options.diagonal_only;
  Kokkos::parallel_for(
      "karman::precond::gnn::factor", Range(0, n_edges), KOKKOS_LAMBDA(const std::size_t k) {
        const double c = bound * nn::fastmath::tanh(raw(k, 0) / bound);
        if (diagonal(k))
          l_values(k) = reference(k) * nn::fastmath::exp(c);
        else
          l_values(k) = diagonal_only ? reference(k) : reference(k) * (1.0 + c);
      });
  return m_l;
}

void FactorGnn::backward(const nn::Vector<double>& dl) {
  KARMAN_VERIFY(m_graph != nullptr, "FactorGnn: backward before forward");
  if (m_options.correction == Correction::relaxation) return backward_relaxation(dl);
  const MatrixGraph& graph = *m_graph;
  const mesh::Graph& topology = graph.topology;
  const std::size_t w = m_options.width, n_edges = topology.edges, n_nodes = topology.nodes;
  KARMAN_VERIFY(dl.extent(0) == n_edges, "FactorGnn: dL must have one value per edge");

  // dL → d raw [E, 1] through c = β tanh(raw/β) and L = ref·exp(c) or ref·(1 + c) (or ref).
  nn::ensure_shape(m_draw, "karman::precond::gnn::draw", n_edges, 1);
  const Matrix<double> draw = m_draw, raw = m_raw;
  const nn::Vector<double> reference = graph.reference;
  const Kokkos::View<int*, nn::MemorySpace> diagonal = graph.diagonal;
  const double bound = m_options.correction_bound;
  const bool diagonal_only = m_options.diagonal_only;
  Kokkos::parallel_for(
      "karman::precond::gnn::factor_backward", Range(0, n_edges),
      KOKKOS_LAMBDA(const std::size_t k) {
        const double t = nn::fastmath::tanh(raw(k, 0) / bound);
        const double dl_dc = diagonal(k)     ? reference(k) * nn::fastmath::exp(bound * t)
                             : diagonal_only ? 0.0
                                             : reference(k);
        draw(k, 0) = dl(k) * dl_dc * (1.0 - t * t);
      });

  // d e^K from the head; d h^K = 0 (the last layer's h' = h^{K-1} is read by nobody else).
  Matrix<double> de = m_head->backward(*m_head_output, draw);
  nn::ensure_shape(m_dh_last, "karman::precond::gnn::dh_last", n_nodes, w);
  Kokkos::deep_copy(m_dh_last, 0.0);
  Matrix<double> dh = m_dh_last;
  for (std::size_t l = m_layers.size(); l-- > 0;) {
    nn::GraphContext<double>& c = *m_layer_contexts[l];
    m_layers[l]->backward(c, dh, de);  // parameter gradients added
    de = c.de;
    dh = c.dh;
  }
  m_edge_encoder->backward(*m_edge_encoding, de);
  m_node_encoder->backward(*m_node_encoding, dh);
}

namespace {

// The row head's bounded maps, one-sided so that the factorisation cannot break down on an
// M-matrix (ω ≤ 1, δ ≥ 0: MIC(ω) of a diagonally dominant M-matrix has positive pivots):
//   ω = 1 − h β_ω tanh(r⁺ / β_ω),  δ = h² β_δ tanh(r⁺ / β_δ),  r⁺ = max(r, 0).
// At r = 0 (the zero-initialised head) the value is MIC(0)'s and the derivative is taken from the
// right (±1), so the first gradient step can move away from MIC(0).
// A bound of 0 switches the parameter off (ω ≡ 1 or δ ≡ 0).
double bounded_ramp(double raw, double bound) {
  return bound > 0.0 ? bound * std::tanh(std::max(raw, 0.0) / bound) : 0.0;
}
double bounded_ramp_derivative(double raw, double bound) {
  if (raw < 0.0 || bound == 0.0) return 0.0;
  const double t = std::tanh(raw / bound);
  return 1.0 - t * t;
}

// The grid spacing h = N^(−1/d) of the whole problem (N = problem_rows, the graph's own rows if
// unset), d = round((nnz/n − 1) / 2) the dimension a (2d+1)-point stencil has (nnz = 2E − n from
// the E entries of tril(A), n the graph's rows). A rank's block takes the global N: h from its
// own rows would relax each block as a coarser grid (at 4 ranks in 2D: 1 − ω 2×, δ 4× too large).
// Relaxing MIC by 1 − c h or perturbing it by c h² (Gustafsson) is what keeps its O(h⁻¹) condition
// number while lowering the constant, and a local network cannot see h (every interior row of a
// Poisson matrix looks alike at every size): it predicts c, the graph gives h.
double grid_spacing(const MatrixGraph& graph) {
  const double n = static_cast<double>(graph.topology.nodes);
  const double row_length = (2.0 * static_cast<double>(graph.topology.edges) - n) / n;
  const double dim = std::max(1.0, std::round((row_length - 1.0) / 2.0));
  const double rows = graph.problem_rows > 0 ? static_cast<double>(graph.problem_rows) : n;
  return std::pow(rows, -1.0 / dim);
}

}  // namespace

nn::Vector<double> FactorGnn::forward_relaxation(const MatrixGraph& graph) {
  KARMAN_VERIFY(graph.relaxed != nullptr,
                "FactorGnn: the relaxation correction needs the graph's RelaxedIc "
                "(make_matrix_graph(..., relaxed_ic = true))");
  m_graph = &graph;
  m_workspace.reset();
  const nn::Pass values = nn::Pass::values();
  m_edge_encoding = &m_edge_encoder->forward(graph.edge_features, values, m_workspace);
  m_node_encoding = &m_node_encoder->forward(graph.node_features, values, m_workspace);
  Matrix<double> e = m_edge_encoding->y;  // [E, W]
  Matrix<double> h = m_node_encoding->y;  // [N, W]
  m_layer_contexts.clear();
  for (auto& layer : m_layers) {
    nn::GraphContext<double>& c = layer->forward(graph.topology, h, e, values, m_workspace);
    m_layer_contexts.push_back(&c);
    e = c.e_out;
    h = c.h_out;
  }
  m_head_output = &m_head->forward(h, values, m_workspace);
  m_raw = m_head_output->y;  // [N, 2]: (r_ω, r_δ) per row
  return factor_relaxation(graph, m_raw);
}

nn::Vector<double> FactorGnn::factor_relaxation(const MatrixGraph& graph,
                                                const nn::Matrix<double>& raw_device) {
  KARMAN_VERIFY(graph.relaxed != nullptr,
                "FactorGnn: the relaxation correction needs the graph's RelaxedIc "
                "(make_matrix_graph(..., relaxed_ic = true))");
  // (ω, δ) per row, then L by the factorisation on the host (its loop is sequential).
  const auto raw = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), raw_device);
  const std::size_t n = raw.extent(0);
  m_spacing = grid_spacing(graph);
  const double spacing = m_spacing;
  m_relaxation = RowRelaxation::mic0(static_cast<std::int64_t>(n));
  for (std::size_t i = 0; i < n; ++i) {
    m_relaxation.omega[i] = 1.0 - spacing * bounded_ramp(raw(i, 0), m_options.relaxation_bound);
    m_relaxation.shift[i] = spacing * spacing * bounded_ramp(raw(i, 1), m_options.shift_bound);
  }
  m_l_host = graph.relaxed->factor(m_relaxation);
  if (m_l.extent(0) != m_l_host.size())
    m_l = nn::Vector<double>(
        Kokkos::view_alloc("karman::precond::gnn::l", Kokkos::WithoutInitializing),
        m_l_host.size());
  Kokkos::deep_copy(
      m_l, Kokkos::View<const double*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
               m_l_host.data(), m_l_host.size()));
  return m_l;
}

void FactorGnn::backward_relaxation(const nn::Vector<double>& dl) {
  const MatrixGraph& graph = *m_graph;
  const std::size_t w = m_options.width, n_edges = graph.topology.edges;
  KARMAN_VERIFY(dl.extent(0) == m_l_host.size(), "FactorGnn: dL must have one value per edge");
  // dL → (dω, dδ) [n] through the factorisation's reverse pass → d raw [N, 2].
  const auto dl_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), dl);
  const RowRelaxation grad = graph.relaxed->backward(
      m_relaxation, m_l_host, std::vector<double>(dl_host.data(), dl_host.data() + dl_host.size()));
  const auto raw = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_raw);
  nn::ensure_shape(m_draw, "karman::precond::gnn::draw", raw.extent(0), 2);
  const auto draw = Kokkos::create_mirror_view(m_draw);
  const double spacing = m_spacing;
  for (std::size_t i = 0; i < raw.extent(0); ++i) {
    draw(i, 0) =
        -spacing * grad.omega[i] * bounded_ramp_derivative(raw(i, 0), m_options.relaxation_bound);
    draw(i, 1) = spacing * spacing * grad.shift[i] *
                 bounded_ramp_derivative(raw(i, 1), m_options.shift_bound);
  }
  Kokkos::deep_copy(m_draw, draw);

  // d h^K from the head; d e^K = 0 (the last layer's e' is read by nobody).
  Matrix<double> dh = m_head->backward(*m_head_output, m_draw);
  nn::ensure_shape(m_de_last, "karman::precond::gnn::de_last", n_edges, w);
  Kokkos::deep_copy(m_de_last, 0.0);
  Matrix<double> de = m_de_last;
  for (std::size_t l = m_layers.size(); l-- > 0;) {
    nn::GraphContext<double>& c = *m_layer_contexts[l];
    m_layers[l]->backward(c, dh, de);  // parameter gradients added
    de = c.de;
    dh = c.dh;
  }
  m_edge_encoder->backward(*m_edge_encoding, de);
  m_node_encoder->backward(*m_node_encoding, dh);
}

}  // namespace karman::precond
