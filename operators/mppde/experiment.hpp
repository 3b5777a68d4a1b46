#pragma once
// The MP-PDE experiments E1, E2, E3 (Brandstetter, Worrall and Welling, ICLR 2022; ranges as in
// their generate/generate_data.py and equations/PDEs.py): trajectories of
//   u_t + (α u²/2)_x = β u_xx − γ u_xxx + δ(t, x),  periodic on [0, 16)
// (code form; the paper's α' = α/2) with forcing δ = Σ_{j=1..5} A_j sin(ω_j t + 2π ℓ_j x/16 + φ_j)
// and initial condition u0 = δ(0, ·):
//   E1  α = 1,          β = 0,            γ = 0,          T = 4   (Burgers, shocks)
//   E2  α = 1,          β ~ U[0, 0.2],    γ = 0,          T = 4   (Burgers, variable diffusion)
//   E3  α ~ U[0, 6],    β ~ U[0.1, 0.4],  γ ~ U[0, 1],    T = 2   (Burgers–heat–KdV)
//   A_j ~ U[−0.5, 0.5], ω_j ~ U[−0.4, 0.4], φ_j ~ U[0, 2π), ℓ_j uniform in {1, 2, 3}.
// ℓ in {1, 2, 3} is the paper's text and McGreivy's fast solver (l_max + 1 in its randint); the
// original generator's torch.randint(1, 3) draws {1, 2} only. We follow the paper.
// Trajectory k's parameters come from the counter-based generator of karman/core/random.hpp
// keyed on (seed, k), so any rank makes any trajectory and the data do not depend on the ranks.

#include <cstdint>
#include <string>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/solvers/weno.hpp"

namespace karman::mppde {

enum class Experiment { e1, e2, e3 };

// "E1", "E2", "E3".
const char* to_string(Experiment experiment);
// "E1"/"e1", ...; anything else is a ConfigError at `place` listing E1, E2, E3.
Experiment experiment_from_string(const std::string& name, const Place& place = {});

inline constexpr double kLength = 16.0;  // the periodic domain [0, 16)
inline constexpr int kTerms = 5;         // sines in the forcing and the initial condition
inline constexpr long kOutputs = 250;    // stored time levels, t_k = k T / 249, k = 0 … 249

struct ParameterRange {
  double low = 0.0, high = 0.0;  // uniform on [low, high]; low == high: the constant
};

struct ExperimentRanges {
  ParameterRange alpha, beta, gamma;
  double t_end = 4.0;
};
ExperimentRanges ranges(Experiment experiment);

// One trajectory's equation and data.
struct TrajectoryParameters {
  double alpha = 1.0, beta = 0.0, gamma = 0.0;
  std::vector<double> amplitudes, omegas, phases;  // [kTerms] each
  std::vector<long> wavenumbers;                   // [kTerms] ℓ_j in {1, 2, 3}

  solvers::EquationCoefficients coefficients() const { return {alpha, beta, gamma}; }
  // δ(t, x) as exact cell averages (the initial condition is its value at t = 0).
  solvers::SineSum forcing() const;
};

// Trajectory `index` of stream `seed`: a pure function of (experiment, seed, index).
TrajectoryParameters sample_trajectory(Experiment experiment, std::uint64_t seed, long index);

// The exact cell averages of u0 on `cells` uniform cells of [0, 16).
std::vector<double> initial_condition(const TrajectoryParameters& parameters, long cells);

// t_k = k T / (count − 1), k = 0 … count − 1 (count = kOutputs in the datasets).
std::vector<double> output_times(double t_end, long count = kOutputs);

}  // namespace karman::mppde
