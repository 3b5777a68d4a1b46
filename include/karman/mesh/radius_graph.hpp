#pragma once
// Radius graphs of point clouds (graph neural operators, particles, meshes without connectivity):
// an edge joins every pair of points closer than a radius, found by a k-d tree radius search
// (nanoflann), not by comparing all pairs.
//
//   points       [n, D] row-major coordinates (host)
//   edge (i, j)  for every i ≠ j with ‖x_i − x_j‖₂ < r (squared distances compared: the sum of
//                (x_i,d − x_j,d)² over d in order, against r²), both directions, plus (i, i)
//                with self_loops;
//   order        by receiver i, then by sender j (the same graph on every run and machine);
//   graph        directed (row = receiver i, col = sender j): node i aggregates its neighbours.
// Edge features [E, D + 1] = (x_i − x_j, ‖x_i − x_j‖), as mesh::edge_geometry.

#include <vector>

#include "karman/mesh/graph.hpp"

namespace karman::mesh {

struct RadiusGraphOptions {
  bool self_loops = false;  // also the edge (i, i) of every point
};

struct RadiusGraph {
  Graph graph;
  nn::Matrix<double> edge_features;  // [E, D + 1]; empty unless asked for
};

// The radius graph of `coordinates` [n, dim] (row-major). InternalError for dim < 1, a size that
// is not a multiple of dim, or radius ≤ 0.
Graph radius_graph(const std::vector<double>& coordinates, int dim, double radius,
                   const RadiusGraphOptions& options = {});

// The same with its edge features (relative position, distance).
RadiusGraph radius_graph_with_features(const std::vector<double>& coordinates, int dim,
                                       double radius, const RadiusGraphOptions& options = {});

}  // namespace karman::mesh
