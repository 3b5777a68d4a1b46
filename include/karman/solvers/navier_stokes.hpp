#pragma once
// Steady incompressible Navier–Stokes in 2D, (u·∇)u + ∇p = νΔu, ∇·u = 0, with Dirichlet velocity
// on the whole boundary of a box: the PETSc reference beside the Navier–Stokes PINNs.
//
// Formulation: streamfunction ψ and vorticity ω (u = ψ_y, v = −ψ_x, ω = v_x − u_y) at the grid
// nodes, two dofs on a DMDA with the grid's decomposition,
//   interior nodes   −Δ_h ψ = ω,   u ω_x + v ω_y − νΔ_h ω = 0   (central differences)
//   boundary nodes   ψ = ψ_b  (the boundary velocity integrated along the boundary),
//                    ω = −(ψ_xx + ψ_yy), the derivative across the boundary by Briley's
//                    second-order one-sided formula (uses the tangential velocity), along it
//                    by central differences of ψ_b;
// solved by SNES Newton with a finite-difference Jacobian (DMDA colouring). Then
//   u, v   central differences of ψ inside, the Dirichlet data on the boundary;
//   p      from ∇p = −(u·∇)u + ν(−ω_y, ω_x): a pressure-Poisson problem with the Neumann data of
//          that gradient, vertex-centred finite volumes (half cells at the boundary), solved by
//          KSP (options prefix `pressure_`) with the constants as null space; zero node mean.
// Every step is second order in h for smooth flows.

#include <vector>

#include "karman/config/case.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/solvers/stats.hpp"

namespace karman::solvers {

struct NavierStokesResult {
  // Owned box of the grid (storage order of mesh::StructuredGrid).
  std::vector<double> u, v, p;  // p has zero mean over the grid's nodes
  std::vector<double> streamfunction, vorticity;
  SolveStats stats;              // Newton + its linear solves
  long pressure_iterations = 0;  // KSP iterations of the pressure solve
};

// `pde.type` must be navier_stokes and the grid 2D. Collective. A boundary velocity with net
// outflow (no incompressible flow has it) is a ConfigError at `pde.velocity`.
NavierStokesResult solve_navier_stokes(const mesh::StructuredGrid& grid, const config::PdeSpec& pde,
                                       const config::SolverSpec& solver);

}  // namespace karman::solvers
