#pragma once
// Steady reference solver: -∇·(a ∇u) - k² u = f on a structured grid with Dirichlet data (a ≡ 1,
// k = 0 is Poisson; a ≡ 1, k = pde.wavenumber is Helmholtz), second-order conservative finite
// differences on a PETSc DMDA, solved with KSP.

#include <vector>

#include "karman/config/case.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/solvers/stats.hpp"

namespace karman::solvers {

struct SteadyResult {
  std::vector<double> u;  // owned box
  SolveStats stats;
};

// `coefficient` is the owned box of a (empty: a ≡ 1). `initial_guess`, if given, is the owned
// box of the Krylov method's starting point at the interior nodes (the Dirichlet nodes always take
// the boundary data); otherwise the solve starts from zero inside. Collective.
SteadyResult solve_elliptic(const mesh::StructuredGrid& grid, const config::PdeSpec& pde,
                            const config::SolverSpec& solver,
                            const std::vector<double>& coefficient = {},
                            const std::vector<double>* initial_guess = nullptr);

// Check that the KSP and PC names exist in this PETSc build (ConfigError at their keys).
void check_solver_names(const config::SolverSpec& solver);

}  // namespace karman::solvers
