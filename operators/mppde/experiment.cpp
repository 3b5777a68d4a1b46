#include "operators/mppde/experiment.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "karman/core/error.hpp"
#include "karman/core/random.hpp"
#include "karman/core/timer.hpp"

namespace karman::mppde {

const char* to_string(Experiment experiment) {
  switch (experiment) {
    case Experiment::e1:
      return "E1";
    case Experiment::e2:
      return "E2";
    case Experiment::e3:
      return "E3";
  }
  return "?";
}

bool experiment_from_string(const std::string& name, Experiment& out) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (Experiment e : {Experiment::e1, Experiment::e2, Experiment::e3})
    if (upper == to_string(e)) {
      out = e;
      return true;
    }
  return false;
}

ExperimentSpec experiment_spec(Experiment experiment) {
  ExperimentSpec s;
  s.experiment = experiment;
  s.alpha = {1.0, 1.0};
  switch (experiment) {
    case Experiment::e1:
      break;
    case Experiment::e2:
      s.beta = {0.0, 0.2};
      break;
    case Experiment::e3:
      s.alpha = {0.0, 6.0};
      s.beta = {0.1, 0.4};
      s.gamma = {0.0, 1.0};
      s.t_end = 2.0;
      break;
  }
  return s;
}

TrajectoryParameters sample_trajectory(const ExperimentSpec& experiment, std::uint64_t seed,
                                       long trajectory) {
  constexpr int kTerms = 5;
  constexpr double kTwoPi = 6.283185307179586;
  // Counter c of stream mix(seed, trajectory): 0..2 the coefficients, then 4 per term.
  const std::uint64_t stream = mix64(seed ^ mix64(static_cast<std::uint64_t>(trajectory) + 1));
  const auto draw = [&](std::uint64_t counter) { return uniform01(stream, counter); };
  const auto in = [&](const Range& r, std::uint64_t counter) {
    return r.varies() ? r.min + (r.max - r.min) * draw(counter) : r.min;
  };
  TrajectoryParameters p;
  p.coefficients.alpha = in(experiment.alpha, 0);
  p.coefficients.beta = in(experiment.beta, 1);
  p.coefficients.gamma = in(experiment.gamma, 2);
  std::vector<double> amplitude(kTerms), omega(kTerms), phase(kTerms);
  std::vector<long> wavenumber(kTerms);
  for (int j = 0; j < kTerms; ++j) {
    const std::uint64_t c = 3 + 4 * static_cast<std::uint64_t>(j);
    amplitude[j] = draw(c) - 0.5;
    omega[j] = 0.8 * (draw(c + 1) - 0.5);
    phase[j] = kTwoPi * draw(c + 2);
    wavenumber[j] = 1 + std::min(2L, static_cast<long>(3.0 * draw(c + 3)));
  }
  p.forcing = solvers::SineSum(amplitude, omega, phase, wavenumber, experiment.length);
  return p;
}

SolvedTrajectory solve_trajectory(const ExperimentSpec& experiment, std::uint64_t seed,
                                  long trajectory, long cells, long steps) {
  KARMAN_VERIFY(steps >= 2, "solve_trajectory: at least two stored times");
  const TrajectoryParameters p = sample_trajectory(experiment, seed, trajectory);
  std::vector<double> times(steps);
  for (long k = 0; k < steps; ++k)
    times[k] = experiment.t_end * static_cast<double>(k) / static_cast<double>(steps - 1);
  SolvedTrajectory out;
  out.u.reserve(static_cast<std::size_t>(steps * cells));
  const Timer start;
  solvers::WenoSolver solver(MPI_COMM_SELF, cells, experiment.length, p.coefficients);
  std::vector<double> u0(cells);
  p.forcing.cell_averages(0.0, 0, experiment.length / static_cast<double>(cells), u0);
  solver.solve(std::move(u0), p.forcing, times, [&](long, double, const std::vector<double>& u) {
    out.u.insert(out.u.end(), u.begin(), u.end());
  });
  out.wall_s = start.seconds();
  out.solver_steps = solver.stats().steps;
  return out;
}

std::vector<double> average_cells(const std::vector<double>& u, long steps, long fine,
                                  long coarse) {
  KARMAN_VERIFY(coarse >= 1 && fine % coarse == 0 && static_cast<long>(u.size()) == steps * fine,
                "average_cells: the coarse grid must divide the fine one");
  const long ratio = fine / coarse;
  std::vector<double> out(static_cast<std::size_t>(steps * coarse));
  for (long s = 0; s < steps; ++s)
    for (long i = 0; i < coarse; ++i) {
      double sum = 0.0;
      for (long q = 0; q < ratio; ++q) sum += u[s * fine + i * ratio + q];
      out[s * coarse + i] = sum / static_cast<double>(ratio);
    }
  return out;
}

}  // namespace karman::mppde
