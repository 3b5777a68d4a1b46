#pragma once
// The graphs MP-PDE runs on: B samples of one graph side by side (block-diagonal), node b·n + i
// being node i of sample b, with the relative positions of every edge's ends as its geometry.
//
//   periodic_line  n nodes at x_i = (i + ½)·L/n on a periodic line of length L; node i receives
//                  from its `neighbors` nearest nodes on each side (the reference's radius graph
//                  of radius neighbors·dx, here across the periodic boundary too): E =
//                  2·neighbors·n directed edges (i ← j), geometry (x_i − x_j)/L with the periodic
//                  image taken, so in [−½, ½).

#include <vector>

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
