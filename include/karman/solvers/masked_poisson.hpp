#pragma once
// PETSc reference on a non-box domain embedded in a structured grid: −Δu = f at the grid nodes
// strictly inside the domain; every other node of the box (outside the domain, on its boundary,
// and the box's own boundary nodes) is a Dirichlet identity row u = g. It is the usual
// second-order 5-/7-point scheme on the nodes inside. The Dirichlet nodes next to the unknowns
// lie on the boundary when it runs along grid lines (the L-shape on a grid through x = 0 and
// y = 0); on a curved boundary they lie up to one spacing outside it, so g must be a smooth
// extension of the data there (an exact solution is): taking the boundary value of the nearest
// boundary point instead is first order (no Shortley–Weller correction here).
//
// The box solver (elliptic.hpp) is untouched: this is a separate entry point.

#include <vector>

#include "karman/config/case.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/solvers/elliptic.hpp"

namespace karman::solvers {

// All vectors are the owned box of `grid` in storage order. `active[p]` ≠ 0 marks an unknown
// node (strictly inside the domain, not on the box boundary); `source` is f, `dirichlet` is g
// (read at the inactive nodes only). Collective; the result's inactive entries hold g.
SteadyResult solve_poisson_masked(const mesh::StructuredGrid& grid, const std::vector<char>& active,
                                  const std::vector<double>& source,
                                  const std::vector<double>& dirichlet,
                                  const config::SolverSpec& solver);

}  // namespace karman::solvers
