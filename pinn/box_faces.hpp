#pragma once
// Boundary parts that are whole faces of the grid's box, for the PETSc reference of Neumann and
// Robin conditions (solvers::solve_poisson_faces), which exists on structured grids only.

#include <vector>

#include "karman/mesh/grid.hpp"
#include "pinn/geometry.hpp"

namespace karman::pinn {

// The face of `grid`'s box (2·axis + side, side 1 the upper face: solve_poisson_faces' numbering)
// that part `part` of `geometry` covers exactly: a flat piece (segment, face) with the outward
// normal ±e_axis lying on that face and spanning it. −1 for any other part (arcs, spheres, CSG
// pieces inside the box, a rectangle smaller than the grid's box).
int box_face(const Geometry& geometry, int part, const mesh::GridShape& grid);

// The face of every part, or an empty list if the geometry is not the grid's box itself (each
// of its 2·dim faces one part).
std::vector<int> box_faces(const Geometry& geometry, const mesh::GridShape& grid);

}  // namespace karman::pinn
