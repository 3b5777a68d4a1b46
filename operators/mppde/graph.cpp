#include "operators/mppde/graph.hpp"

#include "karman/core/error.hpp"

namespace karman::mppde {

SampleGraph periodic_line(long nodes, long neighbors) {
  KARMAN_VERIFY(neighbors >= 1 && 2 * neighbors < nodes,
                "periodic_line: need 1 ≤ neighbors < nodes / 2, got " + std::to_string(neighbors) +
                    " neighbours of " + std::to_string(nodes) + " nodes");
  SampleGraph g;
  g.nodes = nodes;
  g.dims = 1;
  const double spacing = 1.0 / static_cast<double>(nodes);  // in units of L
  for (long i = 0; i < nodes; ++i)
    for (long offset = -neighbors; offset <= neighbors; ++offset) {
      if (offset == 0) continue;
      const long j = ((i + offset) % nodes + nodes) % nodes;
      g.row.push_back(i);
      g.col.push_back(j);
      g.geometry.push_back(-static_cast<double>(offset) * spacing);  // x_i − x_j, nearest image
    }
  return g;
}

template <class T>
BatchGraph<T> batched(const SampleGraph& sample, long copies) {
  KARMAN_VERIFY(copies >= 1, "batched: at least one copy");
  const long edges = static_cast<long>(sample.row.size());
  std::vector<long> row(edges * copies), col(edges * copies);
  BatchGraph<T> out;
  out.copies = copies;
  out.geometry = nn::Matrix<T>("karman::mppde::geometry", edges * copies, sample.dims);
  auto geometry = Kokkos::create_mirror_view(out.geometry);
  for (long b = 0; b < copies; ++b)
    for (long k = 0; k < edges; ++k) {
      row[b * edges + k] = b * sample.nodes + sample.row[k];
      col[b * edges + k] = b * sample.nodes + sample.col[k];
      for (int d = 0; d < sample.dims; ++d)
        geometry(b * edges + k, d) = static_cast<T>(sample.geometry[k * sample.dims + d]);
    }
  Kokkos::deep_copy(out.geometry, geometry);
  out.graph = mesh::make_graph(sample.nodes * copies, row, col, mesh::Edges::directed);
  return out;
}

template BatchGraph<float> batched(const SampleGraph&, long);
template BatchGraph<double> batched(const SampleGraph&, long);

}  // namespace karman::mppde
