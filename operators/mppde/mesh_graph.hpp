#pragma once
// MP-PDE's sample graph on a mesh (graph.hpp's SampleGraph): a rank's part of a partitioned
// DMPlex as mesh::make_distributed_graph gives it (owned vertices, then halo copies; every mesh
// edge in both directions at its owned receivers), with the model's geometric inputs in units of
// the mesh's size: position (x − lower) / L per node and (x_i − x_j) / L per edge, L the largest
// side of the mesh's bounding box (so positions are in [0, 1]).

#include <vector>

#include "karman/mesh/distributed_graph.hpp"
#include "operators/mppde/graph.hpp"

namespace karman::mppde {

// `box`: the mesh's bounding box, lower then upper corner [2·dim] (mesh::PlexMesh::bounding_box).
SampleGraph mesh_sample(const mesh::DistributedGraph& graph, const std::vector<double>& box);

}  // namespace karman::mppde
