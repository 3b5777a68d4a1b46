#include "operators/mppde/mesh_graph.hpp"

#include <algorithm>

#include "karman/core/error.hpp"

namespace karman::mppde {

SampleGraph mesh_sample(const mesh::DistributedGraph& graph, const std::vector<double>& box) {
  const int dim = graph.dim;
  KARMAN_VERIFY(static_cast<int>(box.size()) == 2 * dim, "mesh_sample: box must be [2·dim]");
  double size = 0.0;
  for (int d = 0; d < dim; ++d) size = std::max(size, box[dim + d] - box[d]);
  KARMAN_VERIFY(size > 0.0, "mesh_sample: an empty bounding box");

  SampleGraph s;
  s.nodes = graph.local;
  s.dims = dim;
  s.owned = graph.owned;
  s.global_nodes = graph.global_nodes;
  s.halo = graph.halo;
  const auto x = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.coordinates);
  s.positions.resize(graph.local * dim);
  for (long n = 0; n < graph.local; ++n)
    for (int d = 0; d < dim; ++d) s.positions[n * dim + d] = (x(n, d) - box[d]) / size;
  const auto row = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.graph.row);
  const auto col = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.graph.col);
  const auto f = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.edge_features);
  s.row.assign(row.data(), row.data() + graph.graph.edges);
  s.col.assign(col.data(), col.data() + graph.graph.edges);
  s.geometry.resize(graph.graph.edges * dim);
  for (long k = 0; k < graph.graph.edges; ++k)
    for (int d = 0; d < dim; ++d) s.geometry[k * dim + d] = f(k, d) / size;  // (x_i − x_j) / L
  return s;
}

}  // namespace karman::mppde
