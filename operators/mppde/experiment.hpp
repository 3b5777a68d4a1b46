#pragma once
// The equation family of MP-PDE's experiments E1–E3 (generate/generate_data.py of
// MP-Neural-PDE-Solvers), in the code form of karman/solvers/weno.hpp:
//
//   u_t + (α u²/2)_x = β u_xx − γ u_xxx + δ(t, x),  periodic on [0, 16),
//   δ(t, x) = Σ_{j=1..5} A_j sin(ω_j t + 2π ℓ_j x / 16 + φ_j),  u(0, x) = δ(0, x),
//
//   E1  α = 1, β = 0, γ = 0, T = 4               Burgers without diffusion (shocks)
//   E2  α = 1, β ~ U[0, 0.2], γ = 0, T = 4       Burgers with variable diffusion
//   E3  α ~ U[0, 6], β ~ U[0.1, 0.4], γ ~ U[0, 1], T = 2   Burgers–heat–KdV
//
// A_j ~ U[−0.5, 0.5], ω_j ~ U[−0.4, 0.4], φ_j ~ U[0, 2π), ℓ_j uniform in {1, 2, 3} (McGreivy's
// fast solver and the paper; the repository's torch.randint(1, 3) draws only {1, 2}).
// Trajectory k's draws come from the counter-based generator keyed on (seed, k): any rank makes
// any trajectory, so the data do not depend on the rank count.

#include <cstdint>
#include <string>
#include <vector>

#include "karman/solvers/weno.hpp"

namespace karman::mppde {

enum class Experiment { e1, e2, e3 };
const char* to_string(Experiment experiment);  // "E1", "E2", "E3"
// false for anything else than E1, E2, E3 (case-insensitive).
bool experiment_from_string(const std::string& name, Experiment& out);

struct Range {
  double min = 0.0, max = 0.0;
  bool varies() const { return max > min; }
};

struct ExperimentSpec {
  Experiment experiment = Experiment::e1;
  Range alpha, beta, gamma;
  double t_end = 4.0;
  double length = 16.0;
};
ExperimentSpec experiment_spec(Experiment experiment);

// One trajectory's equation and forcing (the initial condition is the forcing at t = 0).
struct TrajectoryParameters {
  solvers::EquationCoefficients coefficients;
  solvers::SineSum forcing;
};
TrajectoryParameters sample_trajectory(const ExperimentSpec& experiment, std::uint64_t seed,
                                       long trajectory);

// A trajectory solved by WENO5 + SSP-RK3 on MPI_COMM_SELF at `cells` cells and stored at `steps`
// equally spaced times over [0, T] (t = 0 included): u [steps, cells] of cell averages, and the
// solve's wall time and step count.
struct SolvedTrajectory {
  std::vector<double> u;
  double wall_s = 0.0;
  long solver_steps = 0;
};
SolvedTrajectory solve_trajectory(const ExperimentSpec& experiment, std::uint64_t seed,
                                  long trajectory, long cells, long steps);

// u [steps, fine] averaged over groups of fine / coarse cells: [steps, coarse] (exact cell
// averages of the coarse grid). InternalError unless coarse divides fine.
std::vector<double> average_cells(const std::vector<double>& u, long steps, long fine, long coarse);

}  // namespace karman::mppde
