#pragma once
// The graph of learned layers on graphs (the learned preconditioner's matrix graph, GNO radius
// graphs, MP-PDE and mesh graphs) and its Kokkos kernels, shared by every method on graphs.
//
// Nodes 0..N-1, edges 0..E-1; edge k joins row(k) = i and col(k) = j (for a message, j sends and
// i receives). Node features are [N, W] and edge values [E, W], row-major, one row per node/edge.
//   gather          x_i or x_j per edge                           [N, W] → [E, W]
//   gather_add      z_k += a_i + b_j (+ bias, then σ)             [N, W] × 2 → [E, W]
//   scatter_add     the transpose of gather: Σ_{k: row(k)=i} y_k  [E, W] → [N, W]
//   segment_sum     Σ over the edges node i aggregates            [E, W] → [N, W]
//   segment_mean    the same / its degree
// An undirected graph aggregates at node i every edge touching it (edge (i, j) counts at i and at
// j, a self-loop once); a directed graph only the edges it receives (row(k) = i).
//
// Every kernel that sums over edges into nodes runs over nodes through the CSR incidence (per
// node, the edges touching it, in increasing edge order), built once per graph: no atomics, and
// the sums are in a fixed order, so results are bitwise reproducible. Kernels over edges read
// their two nodes. Each kernel has a plain host reference in tests/unit/test_graph.cpp.

#include <cstddef>
#include <string>
#include <vector>

#include "karman/nn/tensor.hpp"

namespace karman::mesh {

using GraphIndex = Kokkos::View<long*, nn::MemorySpace>;
// Node or edge values [rows, W]: a Matrix or a column block of one (e.g. the second half of
// [N, 2W]); the channel index must be contiguous (stride 1).
template <class T>
using GraphValues = Kokkos::View<T**, Kokkos::LayoutStride, nn::MemorySpace>;

enum class Edges { undirected, directed };
// Which end of an edge a gather reads or a scatter writes.
enum class End { row, col };

struct Graph {
  long nodes = 0, edges = 0;
  Edges kind = Edges::undirected;
  GraphIndex row, col;                // [E] edge k joins row(k) = i (receiver), col(k) = j (sender)
  GraphIndex incident_ptr, incident;  // [N + 1], [Σ incidences]: the edges touching each node
  GraphIndex degree;                  // [N] edges node i aggregates (the mean's divisor)
};

// The graph with `nodes` nodes and edges (row[k], col[k]) (device views [E], filled): builds the
// incidence and degrees. InternalError for an endpoint outside [0, nodes) or rows/cols of
// different lengths.
Graph make_graph(long nodes, GraphIndex row, GraphIndex col, Edges kind = Edges::undirected);
// The same from host arrays.
Graph make_graph(long nodes, const std::vector<long>& row, const std::vector<long>& col,
                 Edges kind = Edges::undirected);

// out_k = x_{end(k)}  [N, W] → [E, W] (overwrites out).
template <class T>
void gather(const Graph& graph, End end, const GraphValues<const T>& x, const GraphValues<T>& out);

// The transpose of gather, accumulated: out_i += Σ_{k: end(k) = i} y_k  [E, W] → [N, W].
template <class T>
void scatter_add(const Graph& graph, End end, const GraphValues<const T>& y,
                 const GraphValues<T>& out);

// Both transposes in one pass over the incidence (the split edge MLP's backward), overwriting:
//   to_row_i = Σ_{k: row(k) = i} y_k,  to_col_i = Σ_{k: col(k) = i} y_k   [E, W] → [N, W] × 2.
template <class T>
void scatter_ends(const Graph& graph, const GraphValues<const T>& y, const GraphValues<T>& to_row,
                  const GraphValues<T>& to_col);

// out_i = Σ_{k aggregated at i} y_k (sum) or that sum / degree_i (mean; 0 at a node without
// edges)  [E, W] → [N, W] (overwrites out).
template <class T>
void segment_sum(const Graph& graph, const GraphValues<const T>& y, const GraphValues<T>& out);
template <class T>
void segment_mean(const Graph& graph, const GraphValues<const T>& y, const GraphValues<T>& out);

// The transposes (the reductions' backward), accumulated: dy_k += Σ_{nodes n aggregating k} dx_n
// (undirected: dx_i + dx_j, once for a self-loop; directed: dx_i), mean: each dx_n / degree_n.
template <class T>
void segment_sum_transpose(const Graph& graph, const GraphValues<const T>& dx,
                           const GraphValues<T>& dy);
template <class T>
void segment_mean_transpose(const Graph& graph, const GraphValues<const T>& dx,
                            const GraphValues<T>& dy);

// Edge features of a geometric graph from node coordinates [N, D]: out [E, D + 1] with
//   out_k = (x_i − x_j, ‖x_i − x_j‖₂)   (relative position, then distance).
template <class T>
void edge_geometry(const Graph& graph, const GraphValues<const T>& coordinates,
                   const GraphValues<T>& out);

// For every edge k = (i, j):  z_k ← z_k + a_i + b_j + bias,  y_k = σ(z_k)  (elementwise, [E, W]).
// The split first Linear of an edge MLP, z_ij = e_ij W_e + (h W_i)_i + (h W_j)_j + bias with its
// activation, in one vectorised pass over [E, W]. a, b: [N, W]; bias: [1, W], or empty for none;
// σ: a device-callable T(T) functor; y may be z itself (σ(z) overwriting z).
template <class T, class Activation>
void gather_add(const Graph& graph, const GraphValues<const T>& a, const GraphValues<const T>& b,
                const GraphValues<const T>& bias, const GraphValues<T>& z, const GraphValues<T>& y,
                const Activation& sigma,
                const std::string& label = "karman::mesh::graph::gather_add");

// gather_add without bias or activation: z_k += a_i + b_j.
template <class T>
void gather_add(const Graph& graph, const GraphValues<const T>& a, const GraphValues<const T>& b,
                const GraphValues<T>& z);

namespace detail {
// InternalError unless v has `rows` rows, `cols` columns (when cols > 0) and contiguous channels.
void check_values(const std::string& what, std::size_t rows, std::size_t cols, std::size_t extent0,
                  std::size_t extent1, std::size_t stride1);
}  // namespace detail

template <class T, class Activation>
void gather_add(const Graph& graph, const GraphValues<const T>& a, const GraphValues<const T>& b,
                const GraphValues<const T>& bias, const GraphValues<T>& z, const GraphValues<T>& y,
                const Activation& sigma, const std::string& label) {
  const std::size_t w = z.extent(1);
  const bool has_bias = bias.extent(0) > 0;
  detail::check_values("gather_add: a", graph.nodes, w, a.extent(0), a.extent(1), a.stride(1));
  detail::check_values("gather_add: b", graph.nodes, w, b.extent(0), b.extent(1), b.stride(1));
  if (has_bias)
    detail::check_values("gather_add: bias", 1, w, bias.extent(0), bias.extent(1), bias.stride(1));
  detail::check_values("gather_add: z", graph.edges, w, z.extent(0), z.extent(1), z.stride(1));
  detail::check_values("gather_add: y", graph.edges, w, y.extent(0), y.extent(1), y.stride(1));
  const GraphIndex row = graph.row, col = graph.col;
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<nn::ExecutionSpace>(0, graph.edges),
      KOKKOS_LAMBDA(const std::size_t k) {
        // Row pointers (local to the kernel) let the channel loop vectorise, σ included.
        T* zk = &z(k, 0);  // may alias yk: each element is read before it is written
        T* yk = &y(k, 0);
        const T* KOKKOS_RESTRICT from_i = &a(row(k), 0);
        const T* KOKKOS_RESTRICT from_j = &b(col(k), 0);
        if (has_bias) {
          const T* KOKKOS_RESTRICT bk = &bias(0, 0);
#pragma omp simd
          for (std::size_t c = 0; c < w; ++c) {
            const T sum = zk[c] + from_i[c] + from_j[c] + bk[c];
            zk[c] = sum;
            yk[c] = sigma(sum);
          }
        } else {
#pragma omp simd
          for (std::size_t c = 0; c < w; ++c) {
            const T sum = zk[c] + from_i[c] + from_j[c];
            zk[c] = sum;
            yk[c] = sigma(sum);
          }
        }
      });
}

}  // namespace karman::mesh
