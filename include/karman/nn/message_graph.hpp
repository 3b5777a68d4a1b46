#pragma once
// The graph a message-passing layer runs on: nodes 0..N-1 and directed edges k = (j → i), sent
// by node col(k) = j and received by node row(k) = i; node i aggregates the edges it receives.
// Node features are [N, W] and edge features [E, W], one row per node / edge.
//
// STAND-IN for mesh::Graph (include/karman/mesh/graph.hpp, being written on branch `graph`):
// the same fields with the same meanings as a mesh::Graph of kind Edges::directed, so when that
// lands this header goes, MessageGraph becomes `using MessageGraph = mesh::Graph` and
// make_message_graph becomes mesh::make_graph(nodes, row, col, mesh::Edges::directed).
//
// Sums over edges into nodes loop, per node, over the incidence list (the edges touching the
// node, received or sent, in increasing edge order): no atomics, and a fixed summation order, so
// results are bitwise reproducible.

#include <vector>

#include "karman/nn/tensor.hpp"

namespace karman::nn {

using GraphIndex = Kokkos::View<long*, MemorySpace>;

struct MessageGraph {
  long nodes = 0, edges = 0;
  GraphIndex row, col;                // [E] receiver i = row(k), sender j = col(k)
  GraphIndex incident_ptr, incident;  // [N + 1], [Σ incidences] the edges touching each node
  GraphIndex degree;                  // [N] edges node i receives (the mean's divisor)
};

// The graph of edges (col[k] → row[k]) on `nodes` nodes, built on the host and copied to the
// device. InternalError for an end outside [0, nodes) or row and col of different lengths.
MessageGraph make_message_graph(long nodes, const std::vector<long>& row,
                                const std::vector<long>& col);

}  // namespace karman::nn
