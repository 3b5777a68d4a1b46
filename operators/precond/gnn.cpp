#include "operators/precond/gnn.hpp"

#include <cmath>
#include <string>

#include "karman/core/error.hpp"
#include "karman/nn/fastmath.hpp"
#include "karman/nn/gemm.hpp"

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

// Rows [first, first + count) of a row-major matrix: a contiguous view, usable by gemm().
Matrix<double> row_block(const Matrix<double>& m, std::size_t first, std::size_t count) {
  return Kokkos::subview(m, Kokkos::make_pair(first, first + count), Kokkos::ALL);
}

// Columns [first, first + count) of a row-major matrix (strided rows, contiguous channels): a
// block of a concatenated input for the graph kernels.
mesh::GraphValues<double> column_block(const Matrix<double>& m, std::size_t first,
                                       std::size_t count) {
  return Kokkos::subview(m, Kokkos::ALL, Kokkos::make_pair(first, first + count));
}

// The first module of an edge MLP: the Linear on [e_ij, h_i, h_j] that the split path slices.
nn::Linear<double>& first_linear(nn::Sequential<double>& mlp) {
  auto* linear = dynamic_cast<nn::Linear<double>*>(&mlp[0]);
  KARMAN_VERIFY(linear != nullptr && linear->frequency() == 1.0,
                "FactorGnn: an edge MLP must start with a plain Linear layer");
  return *linear;
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
  return g;
}

FactorGnn::FactorGnn(const FactorGnnOptions& options, std::uint64_t seed) : m_options(options) {
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
  m_split.resize(options.layers);
  m_edge_inputs.resize(options.layers);
  m_node_inputs.resize(options.layers - 1);
  declare("gnn.");
  m_parameters.allocate();
  initialize(seed);
}

void FactorGnn::declare(const std::string& prefix) {
  m_edge_encoder->declare(m_parameters, prefix + "edge_encoder.");
  m_node_encoder->declare(m_parameters, prefix + "node_encoder.");
  for (std::size_t l = 0; l < m_edge_mlps.size(); ++l) {
    m_edge_mlps[l]->declare(m_parameters, prefix + "edge_mlp." + std::to_string(l) + ".");
    if (l < m_node_mlps.size())
      m_node_mlps[l]->declare(m_parameters, prefix + "node_mlp." + std::to_string(l) + ".");
  }
  m_head->declare(m_parameters, prefix + "head.");
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
  const mesh::Graph& topology = graph.topology;
  const std::size_t w = m_options.width, n_edges = topology.edges, n_nodes = topology.nodes;

  m_workspace.reset();
  const nn::Pass values = nn::Pass::values();
  m_edge_encoding = &m_edge_encoder->forward(graph.edge_features, values, m_workspace);
  m_node_encoding = &m_node_encoder->forward(graph.node_features, values, m_workspace);
  Matrix<double> e = m_edge_encoding->y;  // [E, W]
  Matrix<double> h = m_node_encoding->y;  // [N, W]
  m_edge_updates.resize(m_edge_mlps.size());
  m_node_updates.resize(m_node_mlps.size());
  for (std::size_t l = 0; l < m_edge_mlps.size(); ++l) {
    const Matrix<double> h_l = h;
    e = m_options.concatenated_edge_input ? edge_update_concatenated(l, e, h)
                                          : edge_update(l, e, h);
    if (l >= m_node_mlps.size()) break;
    // [h_i, Σ_{edges ∋ i} e']  [N, 2W], the sum gathered per node.
    nn::ensure_shape(m_node_inputs[l], "karman::precond::gnn::node_input", n_nodes, 2 * w);
    const Matrix<double> node_in = m_node_inputs[l];
    Kokkos::deep_copy(column_block(node_in, 0, w), h_l);
    mesh::segment_sum<double>(topology, e, column_block(node_in, w, w));
    m_node_updates[l] = &m_node_mlps[l]->forward(node_in, values, m_workspace);
    h = m_node_updates[l]->y;
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

  nn::ensure_shape(m_de, "karman::precond::gnn::de", n_edges, w);
  nn::ensure_shape(m_dh, "karman::precond::gnn::dh", n_nodes, w);
  const Matrix<double> de = m_de, dh = m_dh;
  Kokkos::deep_copy(de, m_head->backward(*m_head_output, draw));  // d e^K
  for (std::size_t l = m_edge_mlps.size(); l-- > 0;) {
    // Here de = ∂/∂e^{l+1}, dh = ∂/∂h^{l+1} (when node update l exists).
    if (l < m_node_mlps.size()) {
      const Matrix<double> dnode = m_node_mlps[l]->backward(*m_node_updates[l], dh);  // [N, 2W]
      // The aggregate's gradient goes back to every edge from both of its nodes.
      mesh::segment_sum_transpose<double>(topology, column_block(dnode, w, w), de);
      Kokkos::deep_copy(dh, column_block(dnode, 0, w));
    } else {
      Kokkos::deep_copy(dh, 0.0);
    }
    if (m_options.concatenated_edge_input)
      edge_update_concatenated_backward(l, de, dh);
    else
      edge_update_backward(l, de, dh);
  }
  m_edge_encoder->backward(*m_edge_encoding, de);
  m_node_encoder->backward(*m_node_encoding, dh);
}

}  // namespace karman::precond

namespace karman::precond {

Matrix<double> FactorGnn::edge_update(std::size_t l, const Matrix<double>& e,
                                      const Matrix<double>& h) {
  nn::Sequential<double>& mlp = *m_edge_mlps[l];
  nn::Linear<double>& first = first_linear(mlp);
  const std::size_t w = m_options.width, n_edges = e.extent(0), n_nodes = h.extent(0);
  SplitEdgeLayer& s = m_split[l];
  s.e = e;
  s.h = h;
  nn::ensure_shape(s.hw_i, "karman::precond::gnn::hw_i", n_nodes, w);
  nn::ensure_shape(s.hw_j, "karman::precond::gnn::hw_j", n_nodes, w);
  nn::ensure_shape(s.z, "karman::precond::gnn::edge_z", n_edges, w);
  // tanh's derivative needs only y (1 − y²): y overwrites z, one [E, W] pass and buffer fewer.
  if (first.activation() == nn::Activation::tanh)
    s.y = s.z;
  else
    nn::ensure_shape(s.y, "karman::precond::gnn::edge_y", n_edges, w);

  // z = e W_e [E, W];  h W_i, h W_j [N, W]
  using nn::Transpose;
  const Matrix<double> weight = first.weight();  // [3W, W]
  nn::gemm(Transpose::no, Transpose::no, 1.0, e, row_block(weight, 0, w), 0.0, s.z);
  nn::gemm(Transpose::no, Transpose::no, 1.0, h, row_block(weight, w, w), 0.0, s.hw_i);
  nn::gemm(Transpose::no, Transpose::no, 1.0, h, row_block(weight, 2 * w, w), 0.0, s.hw_j);

  // z_ij += (h W_i)_i + (h W_j)_j + b,  y = σ(z)
  const Matrix<double> b = first.has_bias() ? first.bias() : Matrix<double>();  // [1, W] or none
  nn::with_activation(first.activation(), [&](auto act) {
    mesh::gather_add<double>(
        m_graph->topology, s.hw_i, s.hw_j, b, s.z, s.y,
        KOKKOS_LAMBDA(const double z) { return nn::activate(act.value, z); },
        "karman::precond::gnn::edge_z");
  });
  Matrix<double> out = s.y;  // the MLP's other modules, as Sequential would run them
  std::vector<nn::Context<double>*>& steps = m_edge_updates[l];
  steps.assign(mlp.size(), nullptr);
  for (std::size_t m = 1; m < mlp.size(); ++m) {
    steps[m] = &mlp[m].forward(out, nn::Pass::values(), m_workspace);
    out = steps[m]->y;
  }
  return out;
}

void FactorGnn::edge_update_backward(std::size_t l, const Matrix<double>& de,
                                     const Matrix<double>& dh) {
  nn::Sequential<double>& mlp = *m_edge_mlps[l];
  nn::Linear<double>& first = first_linear(mlp);
  const std::size_t w = m_options.width, n_edges = de.extent(0), n_nodes = dh.extent(0);
  SplitEdgeLayer& s = m_split[l];
  Matrix<double> dy = de;
  for (std::size_t m = mlp.size(); m-- > 1;) dy = mlp[m].backward(*m_edge_updates[l][m], dy);

  // dz = dy ∘ σ'(z) [E, W]
  nn::ensure_shape(s.dz, "karman::precond::gnn::edge_dz", n_edges, w);
  const Matrix<double> dz = s.dz, z = s.z, y = s.y, dy_first = dy;
  nn::with_activation(first.activation(), [&](auto act) {
    Kokkos::parallel_for(
        "karman::precond::gnn::edge_dz", Range(0, n_edges), KOKKOS_LAMBDA(const std::size_t k) {
          double* KOKKOS_RESTRICT dzk = &dz(k, 0);
          const double* KOKKOS_RESTRICT dyk = &dy_first(k, 0);
          const double* KOKKOS_RESTRICT zk = &z(k, 0);
          const double* KOKKOS_RESTRICT yk = &y(k, 0);
#pragma omp simd
          for (std::size_t c = 0; c < w; ++c)
            dzk[c] = dyk[c] * nn::activate_derivative(act.value, zk[c], yk[c]);
        });
  });

  // dz summed per node over the edges whose row (dz_i) or column (dz_j) it is  [N, W]
  nn::ensure_shape(s.dz_i, "karman::precond::gnn::edge_dz_i", n_nodes, w);
  nn::ensure_shape(s.dz_j, "karman::precond::gnn::edge_dz_j", n_nodes, w);
  const Matrix<double> dz_i = s.dz_i, dz_j = s.dz_j;
  mesh::scatter_ends<double>(m_graph->topology, dz, dz_i, dz_j);

  // dW_e += eᵀ dz,  dW_i += hᵀ dz_i,  dW_j += hᵀ dz_j,  db += 1ᵀ dz (= Σ_i dz_i: one row per edge)
  using nn::Transpose;
  const Matrix<double> weight = first.weight(), dweight = first.weight_gradient();
  nn::gemm(Transpose::yes, Transpose::no, 1.0, s.e, dz, 1.0, row_block(dweight, 0, w));
  nn::gemm(Transpose::yes, Transpose::no, 1.0, s.h, dz_i, 1.0, row_block(dweight, w, w));
  nn::gemm(Transpose::yes, Transpose::no, 1.0, s.h, dz_j, 1.0, row_block(dweight, 2 * w, w));
  if (first.has_bias()) {
    const Matrix<double> db = first.bias_gradient();
    Kokkos::parallel_for(
        "karman::precond::gnn::edge_db", Range(0, w), KOKKOS_LAMBDA(const std::size_t c) {
          for (std::size_t i = 0; i < n_nodes; ++i) db(0, c) += dz_i(i, c);
        });
  }
  // dh += dz_i W_iᵀ + dz_j W_jᵀ  [N, W];  de = dz W_eᵀ  [E, W] (dy, its input, is consumed)
  nn::gemm(Transpose::no, Transpose::yes, 1.0, dz_i, row_block(weight, w, w), 1.0, dh);
  nn::gemm(Transpose::no, Transpose::yes, 1.0, dz_j, row_block(weight, 2 * w, w), 1.0, dh);
  nn::gemm(Transpose::no, Transpose::yes, 1.0, dz, row_block(weight, 0, w), 0.0, de);
}

Matrix<double> FactorGnn::edge_update_concatenated(std::size_t l, const Matrix<double>& e,
                                                   const Matrix<double>& h) {
  const std::size_t w = m_options.width, n_edges = e.extent(0);
  // [e_ij, h_i, h_j]  [E, 3W]
  nn::ensure_shape(m_edge_inputs[l], "karman::precond::gnn::edge_input", n_edges, 3 * w);
  const Matrix<double> edge_in = m_edge_inputs[l];
  Kokkos::deep_copy(column_block(edge_in, 0, w), e);
  mesh::gather<double>(m_graph->topology, mesh::End::row, h, column_block(edge_in, w, w));
  mesh::gather<double>(m_graph->topology, mesh::End::col, h, column_block(edge_in, 2 * w, w));
  m_edge_updates[l].assign(1, &m_edge_mlps[l]->forward(edge_in, nn::Pass::values(), m_workspace));
  return m_edge_updates[l][0]->y;
}

void FactorGnn::edge_update_concatenated_backward(std::size_t l, const Matrix<double>& de,
                                                  const Matrix<double>& dh) {
  const std::size_t w = m_options.width;
  const Matrix<double> dedge = m_edge_mlps[l]->backward(*m_edge_updates[l][0], de);  // [E, 3W]
  // h_i and h_j entered edge (i, j)'s input: their gradients summed per node.
  mesh::scatter_add<double>(m_graph->topology, mesh::End::row, column_block(dedge, w, w), dh);
  mesh::scatter_add<double>(m_graph->topology, mesh::End::col, column_block(dedge, 2 * w, w), dh);
  Kokkos::deep_copy(de, column_block(dedge, 0, w));
}

}  // namespace karman::precond
