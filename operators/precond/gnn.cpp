#include "operators/precond/gnn.hpp"

#include <cmath>
#include <string>

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

// A host row-major [rows, cols] array to a device matrix.
Matrix<double> to_device(const std::vector<double>& host, std::size_t rows, std::size_t cols,
                         const char* label) {
  Matrix<double> device(Kokkos::view_alloc(std::string(label), Kokkos::WithoutInitializing), rows,
                        cols);
  Kokkos::View<const double**, Kokkos::LayoutRight, Kokkos::HostSpace,
               Kokkos::MemoryTraits<Kokkos::Unmanaged>>
      view(host.data(), rows, cols);
  Kokkos::deep_copy(device, view);
  return device;
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
                              FactorKind kind, const std::vector<double>& dropped) {
  const CsrMatrix lower = lower_triangle(a);
  const long n = a.rows, edges = static_cast<long>(lower.col.size());
  KARMAN_VERIFY(static_cast<long>(reference.size()) == edges,
                "MatrixGraph: the reference factor must have one value per entry of tril(A)");
  KARMAN_VERIFY(a.values.size() == a.col.size(), "MatrixGraph: the matrix has no values");
  KARMAN_VERIFY(dropped.empty() || static_cast<long>(dropped.size()) == n,
                "MatrixGraph: the dropped coupling must have one value per row");
  const std::vector<double> d = diagonal_of(a);

  constexpr std::size_t fe = MatrixGraph::edge_features_count;
  constexpr std::size_t fv = MatrixGraph::node_features_count;
  std::vector<long> edge_row(edges), incident_ptr(n + 1, 0);
  std::vector<int> diagonal(edges);
  std::vector<double> edge_features(edges * fe), node_features(n * fv, 0.0);
  for (long i = 0; i < n; ++i)
    for (long e = lower.row_ptr[i]; e < lower.row_ptr[i + 1]; ++e) {
      const long j = lower.col[e];
      const double scaled = lower.values[e] / std::sqrt(d[i] * d[j]);
      // L_ii = ref_ii·exp(c) is positive for every c only if ref_ii is.
      KARMAN_VERIFY(i != j || reference[e] > 0.0,
                    "MatrixGraph: the reference factor's diagonal must be positive");
      edge_row[e] = i;
      diagonal[e] = i == j;
      edge_features[e * fe + 0] = scaled;
      edge_features[e * fe + 1] = std::abs(scaled);
      edge_features[e * fe + 2] = i == j ? 1.0 : 0.0;
      // The reference factor of Â: L D^{-1/2} for IC(0) (L ~ √a), G D^{1/2} for FSAI (G ~ 1/√a).
      edge_features[e * fe + 3] = kind == FactorKind::fsai ? reference[e] * std::sqrt(d[j])
                                                           : reference[e] / std::sqrt(d[i]);
      ++incident_ptr[i + 1];
      if (j != i) ++incident_ptr[j + 1];
    }
  for (long i = 0; i < n; ++i) {
    const long count = a.row_ptr[i + 1] - a.row_ptr[i];
    for (long e = a.row_ptr[i]; e < a.row_ptr[i + 1]; ++e) {
      const long j = a.col[e];
      const double scaled = a.values[e] / std::sqrt(d[i] * d[j]);
      node_features[i * fv + 0] += scaled;
      if (j != i) node_features[i * fv + 1] += std::abs(scaled);
    }
    node_features[i * fv + 2] = 1.0 / static_cast<double>(count);
    node_features[i * fv + 3] = dropped.empty() ? 0.0 : dropped[i] / d[i];
  }
  // Incidence lists: edge (i, j) belongs to node i and, off the diagonal, to node j.
  for (long i = 0; i < n; ++i) incident_ptr[i + 1] += incident_ptr[i];
  std::vector<long> incident(incident_ptr.back()),
      next(incident_ptr.begin(), incident_ptr.end() - 1);
  for (long e = 0; e < edges; ++e) {
    incident[next[edge_row[e]]++] = e;
    if (lower.col[e] != edge_row[e]) incident[next[lower.col[e]]++] = e;
  }

  MatrixGraph g;
  g.nodes = n;
  g.edges = edges;
  g.edge_row = to_device(edge_row, "karman::precond::graph::edge_row");
  g.edge_col = to_device(lower.col, "karman::precond::graph::edge_col");
  g.incident_ptr = to_device(incident_ptr, "karman::precond::graph::incident_ptr");
  g.incident = to_device(incident, "karman::precond::graph::incident");
  g.edge_features = to_device(edge_features, edges, fe, "karman::precond::graph::edge_features");
  g.node_features = to_device(node_features, n, fv, "karman::precond::graph::node_features");
  g.reference = to_device(reference, "karman::precond::graph::reference");
  g.diagonal = to_device(diagonal, "karman::precond::graph::diagonal");
  return g;
}

FactorGnn::FactorGnn(const FactorGnnOptions& options) : m_options(options) {
  KARMAN_VERIFY(options.width > 0 && options.layers > 0, "FactorGnn: width and layers must be > 0");
  KARMAN_VERIFY(options.correction_bound > 0.0, "FactorGnn: correction_bound must be > 0");
  const std::size_t w = options.width;
  const auto tanh = nn::Activation::tanh;
  m_edge_encoder =
      std::make_unique<nn::Linear<double>>(MatrixGraph::edge_features_count, w, true, tanh);
  m_node_encoder =
      std::make_unique<nn::Linear<double>>(MatrixGraph::node_features_count, w, true, tanh);
  for (std::size_t l = 0; l < options.layers; ++l) {
    m_edge_mlps.push_back(nn::make_mlp<double>({3 * w, w, w}, tanh));
    if (l + 1 < options.layers) m_node_mlps.push_back(nn::make_mlp<double>({2 * w, w, w}, tanh));
  }
  nn::LinearOptions head;
  head.init = nn::Init::zeros;  // starts at the reference factor exactly
  m_head = std::make_unique<nn::Linear<double>>(w, 1, head);
  m_edge_inputs.resize(options.layers);
  m_node_inputs.resize(options.layers - 1);
}

void FactorGnn::declare(nn::Parameters<double>& parameters, const std::string& prefix) {
  m_edge_encoder->declare(parameters, prefix + "edge_encoder.");
  m_node_encoder->declare(parameters, prefix + "node_encoder.");
  for (std::size_t l = 0; l < m_edge_mlps.size(); ++l) {
    m_edge_mlps[l]->declare(parameters, prefix + "edge_mlp." + std::to_string(l) + ".");
    if (l < m_node_mlps.size())
      m_node_mlps[l]->declare(parameters, prefix + "node_mlp." + std::to_string(l) + ".");
  }
  m_head->declare(parameters, prefix + "head.");
}

void FactorGnn::initialize(std::uint64_t seed) {
  m_edge_encoder->initialize(seed);
  m_node_encoder->initialize(seed);
  for (auto& mlp : m_edge_mlps) mlp->initialize(seed);
  for (auto& mlp : m_node_mlps) mlp->initialize(seed);
  m_head->initialize(seed);
}

nn::Vector<double> FactorGnn::forward(const MatrixGraph& graph) {
  m_graph = &graph;
  const std::size_t w = m_options.width, n_edges = graph.edges, n_nodes = graph.nodes;
  const Index row = graph.edge_row, col = graph.edge_col;
  const Index incident_ptr = graph.incident_ptr, incident = graph.incident;

  Matrix<double> e = m_edge_encoder->forward(graph.edge_features);  // [E, W]
  Matrix<double> h = m_node_encoder->forward(graph.node_features);  // [N, W]
  for (std::size_t l = 0; l < m_edge_mlps.size(); ++l) {
    // [e_ij, h_i, h_j]  [E, 3W]
    nn::ensure_shape(m_edge_inputs[l], "karman::precond::gnn::edge_input", n_edges, 3 * w);
    const Matrix<double> edge_in = m_edge_inputs[l], e_l = e, h_l = h;
    Kokkos::parallel_for(
        "karman::precond::gnn::edge_input", Range(0, n_edges), KOKKOS_LAMBDA(const std::size_t k) {
          const long i = row(k), j = col(k);
          for (std::size_t c = 0; c < w; ++c) {
            edge_in(k, c) = e_l(k, c);
            edge_in(k, w + c) = h_l(i, c);
            edge_in(k, 2 * w + c) = h_l(j, c);
          }
        });
    e = m_edge_mlps[l]->forward(edge_in);
    if (l >= m_node_mlps.size()) break;
    // [h_i, Σ_{edges ∋ i} e']  [N, 2W], gathered per node.
    nn::ensure_shape(m_node_inputs[l], "karman::precond::gnn::node_input", n_nodes, 2 * w);
    const Matrix<double> node_in = m_node_inputs[l], e_next = e;
    Kokkos::parallel_for(
        "karman::precond::gnn::node_input", Range(0, n_nodes), KOKKOS_LAMBDA(const std::size_t i) {
          for (std::size_t c = 0; c < w; ++c) {
            node_in(i, c) = h_l(i, c);
            node_in(i, w + c) = 0.0;
          }
          for (long p = incident_ptr(i); p < incident_ptr(i + 1); ++p)
            for (std::size_t c = 0; c < w; ++c) node_in(i, w + c) += e_next(incident(p), c);
        });
    h = m_node_mlps[l]->forward(node_in);
  }
  m_raw = m_head->forward(e);  // [E, 1]

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
  const MatrixGraph& graph = *m_graph;
  const std::size_t w = m_options.width, n_edges = graph.edges, n_nodes = graph.nodes;
  KARMAN_VERIFY(dl.extent(0) == n_edges, "FactorGnn: dL must have one value per edge");
  const Index row = graph.edge_row, col = graph.edge_col;
  const Index incident_ptr = graph.incident_ptr, incident = graph.incident;

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

  nn::ensure_shape(m_de, "karman::precond::gnn::de", n_edges, w);
  nn::ensure_shape(m_dh, "karman::precond::gnn::dh", n_nodes, w);
  const Matrix<double> de = m_de, dh = m_dh;
  Kokkos::deep_copy(de, m_head->backward(draw));  // d e^K
  for (std::size_t l = m_edge_mlps.size(); l-- > 0;) {
    // Here de = ∂/∂e^{l+1}, dh = ∂/∂h^{l+1} (when node update l exists).
    if (l < m_node_mlps.size()) {
      const Matrix<double> dnode = m_node_mlps[l]->backward(dh);  // [N, 2W]
      // The aggregate's gradient goes back to every edge from both of its nodes.
      Kokkos::parallel_for(
          "karman::precond::gnn::aggregate_backward", Range(0, n_edges),
          KOKKOS_LAMBDA(const std::size_t k) {
            const long i = row(k), j = col(k);
            for (std::size_t c = 0; c < w; ++c) de(k, c) += dnode(i, w + c);
            if (j != i)
              for (std::size_t c = 0; c < w; ++c) de(k, c) += dnode(j, w + c);
          });
      Kokkos::parallel_for(
          "karman::precond::gnn::node_skip_backward", Range(0, n_nodes),
          KOKKOS_LAMBDA(const std::size_t i) {
            for (std::size_t c = 0; c < w; ++c) dh(i, c) = dnode(i, c);
          });
    } else {
      Kokkos::deep_copy(dh, 0.0);
    }
    const Matrix<double> dedge = m_edge_mlps[l]->backward(de);  // [E, 3W]
    // h_i and h_j entered edge (i, j)'s input: gather those gradients per node.
    Kokkos::parallel_for(
        "karman::precond::gnn::edge_input_backward_nodes", Range(0, n_nodes),
        KOKKOS_LAMBDA(const std::size_t i) {
          for (long p = incident_ptr(i); p < incident_ptr(i + 1); ++p) {
            const long k = incident(p);
            if (row(k) == static_cast<long>(i))
              for (std::size_t c = 0; c < w; ++c) dh(i, c) += dedge(k, w + c);
            if (col(k) == static_cast<long>(i))
              for (std::size_t c = 0; c < w; ++c) dh(i, c) += dedge(k, 2 * w + c);
          }
        });
    Kokkos::parallel_for(
        "karman::precond::gnn::edge_input_backward_edges", Range(0, n_edges),
        KOKKOS_LAMBDA(const std::size_t k) {
          for (std::size_t c = 0; c < w; ++c) de(k, c) = dedge(k, c);
        });
  }
  m_edge_encoder->backward(de);
  m_node_encoder->backward(dh);
}

}  // namespace karman::precond
