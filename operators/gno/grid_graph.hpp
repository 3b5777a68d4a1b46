#pragma once
// The graph kernel network's graphs and inputs on the unit square's node grid (Li et al. 2020,
// the Darcy benchmark): s × s nodes x = (ix, iy)/(s − 1), node n = iy·s + ix.
//
// Radius graph. Node i receives from every sender j with ‖x_i − x_j‖ ≤ r, itself included (the
// GKN code's ball_connectivity: pairwise distances ≤ r). The senders are every node, or only
// the nodes of a coarser sub-grid (sender_stride q: ix, iy multiples of q): the kernel integral's
// mean over the ball is a quadrature of ∫_B κ v dy / |B|, and a finer grid evaluated zero-shot
// keeps the training grid's quadrature points when the full ball would hold too many edges
// (241² at r = 0.1: ~1800 per node). Edges by receiver, then by sender number: the same on every
// run.
//
// Node features [N, 6] (GKN's six): x, y, a, ā, r ∂x ā, r ∂y ā with ā the mean of a over the ball
// and ∇ā = (4/r²)·mean_j (a_j − a_i)(x_j − x_i) its least-squares gradient (the second moment of
// the uniform disk is r²/4 I; scaled by r to be O(a)), both over the graph's senders — so the
// features converge as the grid is refined, which zero-shot evaluation needs. The caller passes a
// normalised (zero mean, unit variance over the training set). Edge features [E, 6]: x_i, y_i, x_j,
// y_j, a_i, a_j (the GKN code's).

#include <vector>

#include "karman/mesh/graph.hpp"

namespace karman::gno {

struct GridGraph {
  long side = 0;           // s: nodes per side
  long sender_stride = 1;  // q
  double radius = 0.0;
  std::vector<long> row, col;  // [E] receiver, sender
  std::vector<long> degree;    // [N] edges each node receives
  long nodes() const { return side * side; }
  long edges() const { return static_cast<long>(row.size()); }
};

// InternalError unless side ≥ 2, radius > 0, sender_stride ≥ 1 divides side − 1.
GridGraph grid_radius_graph(long side, double radius, long sender_stride = 1);

constexpr long grid_node_features = 6;
constexpr long grid_edge_features = 6;

// One sample's node features [N, 6] (row-major) from its normalised coefficient a [N].
std::vector<double> grid_node_features_of(const GridGraph& graph, const std::vector<double>& a);
// One sample's edge features [E, 6] from its normalised coefficient a [N].
std::vector<double> grid_edge_features_of(const GridGraph& graph, const std::vector<double>& a);

// `copies` samples of the graph side by side (block-diagonal, node b·N + n), directed.
mesh::Graph batched_graph(const GridGraph& graph, long copies);

}  // namespace karman::gno
