#pragma once
// Time-dependent reference solvers with PETSc TS: the heat equation u_t = κΔu + f (Dirichlet,
// 2D/3D), viscous Burgers u_t + (u²/2)_x = ν u_xx, Allen–Cahn u_t = ε u_xx − r(u³ − u) + f and
// convection–diffusion u_t + c u_x = ν u_xx (1D periodic), and the wave equation
// u_tt = c² u_xx + f (1D Dirichlet, as a first-order system in (u, u_t)); implicit (Crank–Nicolson,
// BDF2 or backward Euler) on a DMDA.

#include <functional>
#include <vector>

#include "karman/config/case.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/solvers/stats.hpp"

namespace karman::solvers {

// Called at t = 0 and at each snapshot time with the owned box of the state.
using SnapshotCallback = std::function<void(long index, double time, const std::vector<double>& u)>;

struct TransientResult {
  std::vector<double> u;  // owned box at t_end
  double time = 0.0;
  SolveStats stats;
};

// `initial` is the owned box of u(·, 0) (the wave equation's u_t(·, 0) is
// pde.initial_velocity). Snapshots and the result hold u only. Collective.
TransientResult solve_transient(const mesh::StructuredGrid& grid, const config::PdeSpec& pde,
                                const config::TimeSpec& time, const config::SolverSpec& solver,
                                const std::vector<double>& initial,
                                const SnapshotCallback& on_snapshot = {});

}  // namespace karman::solvers
