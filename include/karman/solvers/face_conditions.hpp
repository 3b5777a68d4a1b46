#pragma once
// PETSc reference for −Δu = f on the grid's box with one condition per face: Dirichlet u = g,
// Neumann ∂u/∂n = g or Robin ∂u/∂n + α·u = g (n the outward normal). The usual second-order
// 5-/7-point scheme; a Neumann or Robin face's nodes are unknowns whose stencil reaches one ghost
// node outside, eliminated by the central difference of the condition,
//   lower face of axis d:  u_{−1} = u_{+1} + 2h·(g − α·u_0),
// which doubles the inward neighbour's coefficient and adds 2α/h to the diagonal and 2g/h to
// the right-hand side. Each such row is then multiplied by 1/2 per Neumann/Robin face the node
// lies on (the half- or quarter-cell of a finite-volume scheme), which makes the matrix symmetric
// again: CG and GAMG still apply. Dirichlet faces win at the edges and corners they share with
// the others; their nodes are eliminated symmetrically, as in solve_elliptic.
//
// Only Neumann faces and no Dirichlet or Robin one would leave u defined up to a constant (and
// the data subject to a compatibility condition): that case is refused, not projected.

#include <array>
#include <functional>
#include <vector>

#include "karman/config/case.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/solvers/elliptic.hpp"

namespace karman::solvers {

// Faces in the order (x lower, x upper, y lower, y upper, z lower, z upper); face 2d + s has the
// outward normal (2s − 1)·e_d.
struct FaceCondition {
  enum class Type { dirichlet, neumann, robin };
  Type type = Type::dirichlet;
  double alpha = 0.0;  // robin: > 0
};

// g on face `face` at the point (x, y, z): the Dirichlet value or the flux data.
using FaceData = std::function<double(int face, double x, double y, double z)>;

// `source` is f on the owned box of `grid` (storage order); faces[0 .. 2·dim). Collective.
// Throws ConfigError for a grid with fewer than 3 nodes along an axis with a Neumann/Robin face,
// a periodic grid, or faces without any Dirichlet or Robin one.
SteadyResult solve_poisson_faces(const mesh::StructuredGrid& grid,
                                 const std::array<FaceCondition, 6>& faces,
                                 const std::vector<double>& source, const FaceData& data,
                                 const config::SolverSpec& solver);

}  // namespace karman::solvers
