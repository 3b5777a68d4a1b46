#pragma once
// The graphs MP-PDE runs on: B samples of one graph side by side (block-diagonal), node b·n + i
// being node i of sample b, with the relative positions of every edge's ends as its geometry.
//
//   periodic_line  n nodes at x_i = (i + ½)·L/n on a periodic line of length L; node i receives
//                  from its `neighbors` nearest nodes on each side (the reference's radius graph
//                  of radius neighbors·dx, here across the periodic boundary too): E =
//                  2·neighbors·n directed edges (i ← j), geometry (x_i − x_j)/L with the periodic
//                  image taken, so in [−½, ½).
//   mesh graphs    (operators/mppde/mesh_data.hpp) a rank's part of a partitioned mesh: its owned
//                  nodes then halo copies, node positions given, the sample's halo.

#include <optional>
#include <vector>

#include "karman/mesh/distributed_graph.hpp"
#include "karman/mesh/graph.hpp"
#include "karman/nn/tensor.hpp"

namespace karman::mppde {

// One sample's graph on the host: directed edges (row = receiver, col = sender) and their
// geometry [E, dims] (row-major).
struct SampleGraph {
  long nodes = 0;
  int dims = 1;
  std::vector<long> row, col;
  std::vector<double> geometry;
  // The model's position input per node [nodes, dims]; empty: the periodic line's (i + ½)/n.
  std::vector<double> positions;
  // Partitioned (a rank's part of a mesh graph): nodes [0, owned) are this rank's, the others
  // halo copies of other ranks' nodes (receiving no edges), `halo` the sample's halo exchange
  // (copies() == 1), global_nodes the nodes over all ranks. Unpartitioned: no halo, owned =
  // global_nodes = nodes.
  std::optional<mesh::Halo> halo;
  long owned = 0, global_nodes = 0;
  long owned_nodes() const { return halo ? owned : nodes; }
  long all_nodes() const { return halo ? global_nodes : nodes; }
};

// InternalError unless 1 ≤ neighbors and 2·neighbors < nodes (each neighbour once).
SampleGraph periodic_line(long nodes, long neighbors);

// `copies` samples of `sample` side by side, on the device, with the geometry as [E·copies, dims].
template <class T>
struct BatchGraph {
  mesh::Graph graph;
  nn::Matrix<T> geometry;
  long copies = 0;
};
template <class T>
BatchGraph<T> batched(const SampleGraph& sample, long copies);

}  // namespace karman::mppde
