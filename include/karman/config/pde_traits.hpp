#pragma once
// What each PDE Karman knows is, in one table: the case reader, the reference runner, the PETSc
// solvers and the PINN look a PDE's properties up here instead of each switching on its type.
// Adding a PDE: an enumerator, a row below (same order), its pointwise residual and linearisation
// in karman/pde/equations.hpp, and its PETSc discretisation.

#include <cstddef>

namespace karman::config {

enum class PdeType {
  poisson,
  darcy,
  heat,
  burgers,
  navier_stokes,
  allen_cahn,
  helmholtz,
  wave,
  advection_diffusion,
  combined,  // MP-PDE family u_t + (α u²/2)_x = β u_xx − γ u_xxx + δ (Brandstetter et al. 2022)
  convection,  // u_t + c u_x = ν u_xx, 1D periodic (the PINN failure mode of Krishnapriyan 2021)
};

// The PETSc solver of a PDE's reference solution (karman/solvers/).
enum class ReferenceSolver {
  elliptic,       // one KSP solve (solve_elliptic)
  transient,      // a TS time integration (solve_transient)
  navier_stokes,  // SNES Newton on streamfunction–vorticity (solve_navier_stokes)
  weno,           // finite volumes, WENO5 + SSP-RK3, explicit (WenoSolver; not PETSc KSP/TS)
};

// The boundary condition every method imposes.
enum class BoundaryKind {
  dirichlet,  // u = pde.boundary (default: the exact solution, else 0)
  periodic,   // a periodic grid (and only there)
  velocity,   // Dirichlet velocity (u, v) = pde.velocity; the pressure's constant is free
};

struct PdeTraits {
  PdeType type;
  const char* name;      // pde.type in a case file
  int min_dim, max_dim;  // space dimensions of the grid (min_dim is grid.dim's default)
  bool time_dependent;
  bool second_order_in_time;  // u_t(x, 0) is initial data too (pde.initial_velocity)
  BoundaryKind boundary;
  const char* default_source;  // pde.source's default; nullptr: the PDE reads no source
  int unknowns;                // fields solved for: (u, v, p) for Navier–Stokes, else u
  int residual_components;     // pointwise residuals: momentum x, y and continuity, else one
  bool linear;                 // in u (a time stepper's TS_LINEAR)
  ReferenceSolver reference;
  // read_solver's defaults (config/case.cpp says why each is the fastest robust choice).
  const char* default_ksp;
  const char* default_pc;
  bool pinn;           // kind pinn
  bool pinn_geometry;  // kind pinn on a `geometry` with `conditions`
  bool pinn_inverse;   // kind pinn's `inverse` problem (an unknown κ)
  bool on_grid;        // a finite-difference reference on a structured `grid`
  bool on_mesh;        // a finite-element reference on an unstructured `mesh` (karman/fem/)
};

// clang-format off
inline constexpr PdeTraits kPdeTraits[] = {
//  type                    name             dims  time   tt     boundary                 source
//    unknowns, components, linear, reference, ksp, pc, pinn, geometry, inverse, grid, mesh
  {PdeType::poisson,       "poisson",       2, 3, false, false, BoundaryKind::dirichlet, "0",
     1, 1, true,  ReferenceSolver::elliptic,      "cg",    "gamg",    true,  true,  false, true,  true },
  {PdeType::darcy,         "darcy",         2, 3, false, false, BoundaryKind::dirichlet, "1",
     1, 1, true,  ReferenceSolver::elliptic,      "cg",    "gamg",    false, false, false, true,  true },
  {PdeType::heat,          "heat",          2, 3, true,  false, BoundaryKind::dirichlet, "0",
     1, 1, true,  ReferenceSolver::transient,     "gmres", "gamg",    true,  false, true,  true,  true },
  {PdeType::burgers,       "burgers",       1, 1, true,  false, BoundaryKind::periodic,  nullptr,
     1, 1, false, ReferenceSolver::transient,     "gmres", "bjacobi", true,  false, false, true,  false},
  {PdeType::navier_stokes, "navier_stokes", 2, 2, false, false, BoundaryKind::velocity,  nullptr,
     3, 3, false, ReferenceSolver::navier_stokes, "gmres", "lu",      true,  false, false, true,  false},
  {PdeType::allen_cahn,    "allen_cahn",    1, 1, true,  false, BoundaryKind::periodic,  "0",
     1, 1, false, ReferenceSolver::transient,     "gmres", "bjacobi", true,  false, false, true,  false},
  {PdeType::helmholtz,     "helmholtz",     2, 3, false, false, BoundaryKind::dirichlet, "0",
     1, 1, true,  ReferenceSolver::elliptic,      "gmres", "lu",      true,  false, false, true,  false},
  {PdeType::wave,          "wave",          1, 1, true,  true,  BoundaryKind::dirichlet, "0",
     1, 1, true,  ReferenceSolver::transient,     "gmres", "bjacobi", true,  false, false, true,  false},
  {PdeType::advection_diffusion, "advection_diffusion",
                           2, 3, false, false, BoundaryKind::dirichlet, "0",
     1, 1, true,  ReferenceSolver::elliptic,      "gmres", "gamg",    false, false, false, false, true },
  {PdeType::combined,      "combined",      1, 1, true,  false, BoundaryKind::periodic,  "0",
     1, 1, false, ReferenceSolver::weno,          "none",  "none",    false, false, false, true,  false},
  {PdeType::convection,    "convection",    1, 1, true,  false, BoundaryKind::periodic,  nullptr,
     1, 1, true,  ReferenceSolver::transient,     "gmres", "bjacobi", true,  false, false, true,  false},
};
// clang-format on

inline constexpr std::size_t kPdeCount = sizeof(kPdeTraits) / sizeof(kPdeTraits[0]);

// The row of `type`.
constexpr const PdeTraits& traits(PdeType type) {
  return kPdeTraits[static_cast<std::size_t>(type)];
}

namespace detail {
constexpr bool rows_in_enum_order() {
  for (std::size_t i = 0; i < kPdeCount; ++i)
    if (static_cast<std::size_t>(kPdeTraits[i].type) != i) return false;
  return true;
}
}  // namespace detail
static_assert(detail::rows_in_enum_order(), "kPdeTraits: one row per PdeType, in enum order");
static_assert(kPdeCount == static_cast<std::size_t>(PdeType::convection) + 1,
              "kPdeTraits: a row for every PdeType");

}  // namespace karman::config
