#include "operators/mppde/experiment.hpp"

#include <algorithm>

#include "karman/core/random.hpp"

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

Experiment experiment_from_string(const std::string& name, const Place& place) {
  for (Experiment e : {Experiment::e1, Experiment::e2, Experiment::e3}) {
    std::string lower = to_string(e);
    lower[0] = 'e';
    if (name == to_string(e) || name == lower) return e;
  }
  const std::string message = "unknown experiment '" + name + "': expected E1, E2 or E3";
  throw place.file.empty() ? ConfigError(message) : ConfigError(place, message);
}

ExperimentRanges ranges(Experiment experiment) {
  switch (experiment) {
    case Experiment::e1:
      return {{1.0, 1.0}, {0.0, 0.0}, {0.0, 0.0}, 4.0};
    case Experiment::e2:
      return {{1.0, 1.0}, {0.0, 0.2}, {0.0, 0.0}, 4.0};
    case Experiment::e3:
      return {{0.0, 6.0}, {0.1, 0.4}, {0.0, 1.0}, 2.0};
  }
  return {};
}

namespace {

constexpr double kTwoPi = 6.283185307179586;

// Draw `counter` of the trajectory's stream, uniform on [low, high] (a constant when equal, and
// then no draw is needed: the same values whether or not a range is degenerate).
double uniform(std::uint64_t stream, std::uint64_t counter, ParameterRange range) {
  if (range.low == range.high) return range.low;
  return range.low + (range.high - range.low) * uniform01(stream, counter);
}

}  // namespace

TrajectoryParameters sample_trajectory(Experiment experiment, std::uint64_t seed, long index) {
  const ExperimentRanges r = ranges(experiment);
  // One stream per (seed, trajectory); counters: 0–2 the coefficients, then 4 per term.
  const std::uint64_t stream = mix64(seed ^ mix64(static_cast<std::uint64_t>(index) + 1));
  TrajectoryParameters p;
  p.alpha = uniform(stream, 0, r.alpha);
  p.beta = uniform(stream, 1, r.beta);
  p.gamma = uniform(stream, 2, r.gamma);
  for (std::uint64_t j = 0; j < kTerms; ++j) {
    const std::uint64_t c = 3 + 4 * j;
    p.amplitudes.push_back(uniform(stream, c, {-0.5, 0.5}));
    p.omegas.push_back(uniform(stream, c + 1, {-0.4, 0.4}));
    p.phases.push_back(kTwoPi * uniform01(stream, c + 2));
    p.wavenumbers.push_back(1 + std::min(2L, static_cast<long>(3.0 * uniform01(stream, c + 3))));
  }
  return p;
}

solvers::SineSum TrajectoryParameters::forcing() const {
  return solvers::SineSum(amplitudes, omegas, phases, wavenumbers, kLength);
}

std::vector<double> initial_condition(const TrajectoryParameters& parameters, long cells) {
  std::vector<double> u(static_cast<std::size_t>(cells));
  parameters.forcing().cell_averages(0.0, 0, kLength / static_cast<double>(cells), u);
  return u;
}

std::vector<double> output_times(double t_end, long count) {
  std::vector<double> t(static_cast<std::size_t>(count));
  for (long k = 0; k < count; ++k)
    t[k] = count > 1 ? t_end * static_cast<double>(k) / static_cast<double>(count - 1) : t_end;
  return t;
}

}  // namespace karman::mppde
