#include "karman/mesh/graph.hpp"

#include <cmath>

#include "karman/core/error.hpp"
#include "karman/core/kokkos_math.hpp"

namespace karman::mesh {

namespace {

using Range = Kokkos::RangePolicy<nn::ExecutionSpace>;

// Whether edge k is aggregated at node i (i touches k: its row, or its column too when undirected).
KOKKOS_INLINE_FUNCTION bool aggregated_at(bool directed, long row_k, long i) {
  return !directed || row_k == i;
}

}  // namespace

namespace detail {

void check_values(const std::string& what, std::size_t rows, std::size_t cols, std::size_t extent0,
                  std::size_t extent1, std::size_t stride1) {
  KARMAN_VERIFY(extent0 == rows && (cols == 0 || extent1 == cols),
                "mesh::graph: " + what + " is [" + std::to_string(extent0) + ", " +
                    std::to_string(extent1) + "], expected [" + std::to_string(rows) + ", " +
                    (cols ? std::to_string(cols) : std::string("W")) + "]");
  KARMAN_VERIFY(stride1 == 1 || extent1 <= 1,
                "mesh::graph: " + what + " must have contiguous channels");
}

}  // namespace detail

Graph make_graph(long nodes, GraphIndex row, GraphIndex col, Edges kind) {
  KARMAN_VERIFY(nodes >= 0, "mesh::graph: negative node count");
  KARMAN_VERIFY(row.extent(0) == col.extent(0),
                "mesh::graph: the rows and columns of the edges differ in length");
  Graph g;
  g.nodes = nodes;
  g.edges = static_cast<long>(row.extent(0));
  g.kind = kind;
  g.row = row;
  g.col = col;
  g.incident_ptr = GraphIndex("karman::mesh::graph::incident_ptr", nodes + 1);
  g.degree = GraphIndex("karman::mesh::graph::degree", nodes);
  // Built on the host: on a host backend the mirrors are the views themselves (no copies).
  const auto edge_row = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), row);
  const auto edge_col = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), col);
  const auto incident_ptr = Kokkos::create_mirror_view(g.incident_ptr);
  const auto degree = Kokkos::create_mirror_view(g.degree);
  Kokkos::deep_copy(incident_ptr, 0);
  Kokkos::deep_copy(degree, 0);
  for (long k = 0; k < g.edges; ++k) {
    const long i = edge_row(k), j = edge_col(k);
    KARMAN_VERIFY(0 <= i && i < nodes && 0 <= j && j < nodes,
                  "mesh::graph: edge " + std::to_string(k) + " = (" + std::to_string(i) + ", " +
                      std::to_string(j) + ") has an end outside the " + std::to_string(nodes) +
                      " nodes");
    ++incident_ptr(i + 1);
    ++degree(i);
    if (j != i) {
      ++incident_ptr(j + 1);
      if (kind == Edges::undirected) ++degree(j);
    }
  }
  // Incidence lists: edge (i, j) belongs to node i and, off a self-loop, to node j; each list in
  // increasing edge order.
  for (long i = 0; i < nodes; ++i) incident_ptr(i + 1) += incident_ptr(i);
  g.incident = GraphIndex(
      Kokkos::view_alloc(std::string("karman::mesh::graph::incident"), Kokkos::WithoutInitializing),
      incident_ptr(nodes));
  const auto incident = Kokkos::create_mirror_view(g.incident);
  std::vector<long> next(incident_ptr.data(), incident_ptr.data() + nodes);
  for (long k = 0; k < g.edges; ++k) {
    incident(next[edge_row(k)]++) = k;
    if (edge_col(k) != edge_row(k)) incident(next[edge_col(k)]++) = k;
  }
  Kokkos::deep_copy(g.incident_ptr, incident_ptr);
  Kokkos::deep_copy(g.incident, incident);
  Kokkos::deep_copy(g.degree, degree);
  return g;
}

Graph make_graph(long nodes, const std::vector<long>& row, const std::vector<long>& col,
                 Edges kind) {
  KARMAN_VERIFY(row.size() == col.size(),
                "mesh::graph: the rows and columns of the edges differ in length");
  const auto to_device = [](const std::vector<long>& host, const char* label) {
    GraphIndex device(Kokkos::view_alloc(std::string(label), Kokkos::WithoutInitializing),
                      host.size());
    Kokkos::deep_copy(
        device,
        Kokkos::View<const long*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
            host.data(), host.size()));
    return device;
  };
  return make_graph(nodes, to_device(row, "karman::mesh::graph::row"),
                    to_device(col, "karman::mesh::graph::col"), kind);
}

template <class T>
void gather(const Graph& graph, End end, const GraphValues<const T>& x, const GraphValues<T>& out) {
  const std::size_t w = out.extent(1);
  detail::check_values("gather: x", graph.nodes, w, x.extent(0), x.extent(1), x.stride(1));
  detail::check_values("gather: out", graph.edges, w, out.extent(0), out.extent(1), out.stride(1));
  const GraphIndex ends = end == End::row ? graph.row : graph.col;
  Kokkos::parallel_for(
      "karman::mesh::graph::gather", Range(0, graph.edges), KOKKOS_LAMBDA(const std::size_t k) {
        T* KOKKOS_RESTRICT to = &out(k, 0);
        const T* KOKKOS_RESTRICT from = &x(ends(k), 0);
#pragma omp simd
        for (std::size_t c = 0; c < w; ++c) to[c] = from[c];
      });
}

template <class T>
void scatter_add(const Graph& graph, End end, const GraphValues<const T>& y,
                 const GraphValues<T>& out) {
  const std::size_t w = y.extent(1);
  detail::check_values("scatter_add: y", graph.edges, w, y.extent(0), y.extent(1), y.stride(1));
  detail::check_values("scatter_add: out", graph.nodes, w, out.extent(0), out.extent(1),
                       out.stride(1));
  const GraphIndex ends = end == End::row ? graph.row : graph.col;
  const GraphIndex incident_ptr = graph.incident_ptr, incident = graph.incident;
  Kokkos::parallel_for(
      "karman::mesh::graph::scatter_add", Range(0, graph.nodes),
      KOKKOS_LAMBDA(const std::size_t i) {
        T* KOKKOS_RESTRICT to = &out(i, 0);
        for (long p = incident_ptr(i); p < incident_ptr(i + 1); ++p) {
          const long k = incident(p);
          if (ends(k) != static_cast<long>(i)) continue;
          const T* KOKKOS_RESTRICT from = &y(k, 0);
#pragma omp simd
          for (std::size_t c = 0; c < w; ++c) to[c] += from[c];
        }
      });
}

template <class T>
void scatter_ends(const Graph& graph, const GraphValues<const T>& y, const GraphValues<T>& to_row,
                  const GraphValues<T>& to_col) {
  const std::size_t w = y.extent(1);
  detail::check_values("scatter_ends: y", graph.edges, w, y.extent(0), y.extent(1), y.stride(1));
  detail::check_values("scatter_ends: to_row", graph.nodes, w, to_row.extent(0), to_row.extent(1),
                       to_row.stride(1));
  detail::check_values("scatter_ends: to_col", graph.nodes, w, to_col.extent(0), to_col.extent(1),
                       to_col.stride(1));
  const GraphIndex row = graph.row, col = graph.col;
  const GraphIndex incident_ptr = graph.incident_ptr, incident = graph.incident;
  Kokkos::parallel_for(
      "karman::mesh::graph::scatter_ends", Range(0, graph.nodes),
      KOKKOS_LAMBDA(const std::size_t i) {
        T* KOKKOS_RESTRICT as_row = &to_row(i, 0);
        T* KOKKOS_RESTRICT as_col = &to_col(i, 0);
#pragma omp simd
        for (std::size_t c = 0; c < w; ++c) as_row[c] = as_col[c] = T(0);
        for (long p = incident_ptr(i); p < incident_ptr(i + 1); ++p) {
          const long k = incident(p);
          const T* KOKKOS_RESTRICT yk = &y(k, 0);
          if (row(k) == static_cast<long>(i))
#pragma omp simd
            for (std::size_t c = 0; c < w; ++c) as_row[c] += yk[c];
          if (col(k) == static_cast<long>(i))
#pragma omp simd
            for (std::size_t c = 0; c < w; ++c) as_col[c] += yk[c];
        }
      });
}

namespace {

// out_i = scale_i Σ_{k aggregated at i} y_k, scale_i = 1 (sum) or 1 / degree_i (mean).
template <class T>
void segment_reduce(const Graph& graph, const GraphValues<const T>& y, const GraphValues<T>& out,
                    bool mean, const char* label) {
  const std::size_t w = y.extent(1);
  detail::check_values("segment reduce: y", graph.edges, w, y.extent(0), y.extent(1), y.stride(1));
  detail::check_values("segment reduce: out", graph.nodes, w, out.extent(0), out.extent(1),
                       out.stride(1));
  const GraphIndex row = graph.row, incident_ptr = graph.incident_ptr, incident = graph.incident;
  const GraphIndex degree = graph.degree;
  const bool directed = graph.kind == Edges::directed;
  Kokkos::parallel_for(
      label, Range(0, graph.nodes), KOKKOS_LAMBDA(const std::size_t i) {
        T* KOKKOS_RESTRICT sum = &out(i, 0);
#pragma omp simd
        for (std::size_t c = 0; c < w; ++c) sum[c] = T(0);
        for (long p = incident_ptr(i); p < incident_ptr(i + 1); ++p) {
          const long k = incident(p);
          if (!aggregated_at(directed, row(k), static_cast<long>(i))) continue;
          const T* KOKKOS_RESTRICT yk = &y(k, 0);
#pragma omp simd
          for (std::size_t c = 0; c < w; ++c) sum[c] += yk[c];
        }
        if (mean && degree(i) > 0) {
          const T scale = T(1) / static_cast<T>(degree(i));
#pragma omp simd
          for (std::size_t c = 0; c < w; ++c) sum[c] *= scale;
        }
      });
}

// dy_k += s_i dx_i (+ s_j dx_j when undirected and j ≠ i), s = 1 (sum) or 1 / degree (mean).
template <class T>
void segment_reduce_transpose(const Graph& graph, const GraphValues<const T>& dx,
                              const GraphValues<T>& dy, bool mean, const char* label) {
  const std::size_t w = dy.extent(1);
  detail::check_values("segment reduce transpose: dx", graph.nodes, w, dx.extent(0), dx.extent(1),
                       dx.stride(1));
  detail::check_values("segment reduce transpose: dy", graph.edges, w, dy.extent(0), dy.extent(1),
                       dy.stride(1));
  const GraphIndex row = graph.row, col = graph.col, degree = graph.degree;
  const bool directed = graph.kind == Edges::directed;
  Kokkos::parallel_for(
      label, Range(0, graph.edges), KOKKOS_LAMBDA(const std::size_t k) {
        const long i = row(k), j = col(k);
        T* KOKKOS_RESTRICT to = &dy(k, 0);
        const T* KOKKOS_RESTRICT from_i = &dx(i, 0);
        const T scale_i = mean ? T(1) / static_cast<T>(degree(i)) : T(1);
        if (mean) {
#pragma omp simd
          for (std::size_t c = 0; c < w; ++c) to[c] += scale_i * from_i[c];
        } else {
#pragma omp simd
          for (std::size_t c = 0; c < w; ++c) to[c] += from_i[c];
        }
        if (directed || j == i) return;
        const T* KOKKOS_RESTRICT from_j = &dx(j, 0);
        const T scale_j = mean ? T(1) / static_cast<T>(degree(j)) : T(1);
        if (mean) {
#pragma omp simd
          for (std::size_t c = 0; c < w; ++c) to[c] += scale_j * from_j[c];
        } else {
#pragma omp simd
          for (std::size_t c = 0; c < w; ++c) to[c] += from_j[c];
        }
      });
}

}  // namespace

template <class T>
void segment_sum(const Graph& graph, const GraphValues<const T>& y, const GraphValues<T>& out) {
  segment_reduce<T>(graph, y, out, false, "karman::mesh::graph::segment_sum");
}

template <class T>
void segment_mean(const Graph& graph, const GraphValues<const T>& y, const GraphValues<T>& out) {
  segment_reduce<T>(graph, y, out, true, "karman::mesh::graph::segment_mean");
}

template <class T>
void segment_sum_transpose(const Graph& graph, const GraphValues<const T>& dx,
                           const GraphValues<T>& dy) {
  segment_reduce_transpose<T>(graph, dx, dy, false, "karman::mesh::graph::segment_sum_transpose");
}

template <class T>
void segment_mean_transpose(const Graph& graph, const GraphValues<const T>& dx,
                            const GraphValues<T>& dy) {
  segment_reduce_transpose<T>(graph, dx, dy, true, "karman::mesh::graph::segment_mean_transpose");
}

template <class T>
void edge_geometry(const Graph& graph, const GraphValues<const T>& coordinates,
                   const GraphValues<T>& out) {
  const std::size_t d = coordinates.extent(1);
  detail::check_values("edge_geometry: coordinates", graph.nodes, d, coordinates.extent(0),
                       coordinates.extent(1), coordinates.stride(1));
  detail::check_values("edge_geometry: out", graph.edges, d + 1, out.extent(0), out.extent(1),
                       out.stride(1));
  const GraphIndex row = graph.row, col = graph.col;
  Kokkos::parallel_for(
      "karman::mesh::graph::edge_geometry", Range(0, graph.edges),
      KOKKOS_LAMBDA(const std::size_t k) {
        T squared = T(0);
        for (std::size_t c = 0; c < d; ++c) {
          const T delta = coordinates(row(k), c) - coordinates(col(k), c);
          out(k, c) = delta;
          squared += delta * delta;
        }
        out(k, d) = kmath::sqrt(squared);
      });
}

template <class T>
void gather_add(const Graph& graph, const GraphValues<const T>& a, const GraphValues<const T>& b,
                const GraphValues<T>& z) {
  gather_add<T>(
      graph, a, b, GraphValues<const T>(), z, z, KOKKOS_LAMBDA(const T sum) { return sum; });
}

#define KARMAN_GRAPH_INSTANTIATE(T)                                                                \
  template void gather<T>(const Graph&, End, const GraphValues<const T>&, const GraphValues<T>&);  \
  template void scatter_add<T>(const Graph&, End, const GraphValues<const T>&,                     \
                               const GraphValues<T>&);                                             \
  template void scatter_ends<T>(const Graph&, const GraphValues<const T>&, const GraphValues<T>&,  \
                                const GraphValues<T>&);                                            \
  template void segment_sum<T>(const Graph&, const GraphValues<const T>&, const GraphValues<T>&);  \
  template void segment_mean<T>(const Graph&, const GraphValues<const T>&, const GraphValues<T>&); \
  template void segment_sum_transpose<T>(const Graph&, const GraphValues<const T>&,                \
                                         const GraphValues<T>&);                                   \
  template void segment_mean_transpose<T>(const Graph&, const GraphValues<const T>&,               \
                                          const GraphValues<T>&);                                  \
  template void edge_geometry<T>(const Graph&, const GraphValues<const T>&,                        \
                                 const GraphValues<T>&);                                           \
  template void gather_add<T>(const Graph&, const GraphValues<const T>&,                           \
                              const GraphValues<const T>&, const GraphValues<T>&);

KARMAN_GRAPH_INSTANTIATE(float)
KARMAN_GRAPH_INSTANTIATE(double)
#undef KARMAN_GRAPH_INSTANTIATE

}  // namespace karman::mesh
