// Operator-learning datasets from the PETSc reference solvers (operator_dataset.hpp: the layout).
#include "karman/data/operator_dataset.hpp"

#include <fmt/format.h>
#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>

#include "../io/hdf5_support.hpp"
#include "karman/core/collective.hpp"
#include "karman/core/error.hpp"
#include "karman/core/extents.hpp"
#include "karman/core/interrupt.hpp"
#include "karman/core/log.hpp"
#include "karman/core/partition.hpp"
#include "karman/core/progress.hpp"
#include "karman/core/random.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"
#include "karman/nn/chunked_loss.hpp"
#include "karman/pde/random_field.hpp"
#include "karman/solvers/elliptic.hpp"
#include "karman/solvers/transient.hpp"
#include "karman/solvers/vorticity.hpp"

namespace karman::data {

using namespace io::h5;

const char* to_string(Problem problem) {
  switch (problem) {
    case Problem::darcy:
      return "darcy";
    case Problem::burgers:
      return "burgers";
    case Problem::navier_stokes:
      return "navier_stokes";
  }
  return "?";
}

long DatasetSpec::subsampled(long nodes, long by) const {
  if (by < 1 || nodes < 1) return 0;
  if (problem == Problem::darcy) return (nodes - 1) % by == 0 ? (nodes - 1) / by + 1 : 0;
  return nodes % by == 0 ? nodes / by : 0;
}

mesh::GridShape DatasetSpec::grid(long nodes) const {
  mesh::GridShape shape;
  shape.dim = dim();
  for (int d = 0; d < shape.dim; ++d) shape.n[d] = nodes;
  shape.periodic = periodic();  // (0,1) periodic: x_i = i/n
  return shape;
}

// ------------------------------------------------------------------------------- the case

namespace {

// A case's `solver` mapping with the dataset's own defaults for the type names.
config::SolverSpec read_solver(const config::Node& parent, config::PdeType type,
                               const char* default_ksp, const char* default_pc) {
  config::PdeSpec pde;
  pde.type = type;
  const config::Node node = parent.child_or_empty("solver");
  config::SolverSpec solver = config::read_solver(node, pde);
  if (!node.has("ksp")) solver.ksp = default_ksp;
  if (!node.has("pc")) solver.pc = default_pc;
  return solver;
}

config::RandomFieldSpec read_grf(const config::Node& node, double alpha, double tau, double sigma,
                                 int dim) {
  config::RandomFieldSpec grf;
  grf.alpha = node.number("alpha", alpha, config::Bounds::positive());
  grf.tau = node.number("tau", tau, config::Bounds::positive());
  grf.sigma = node.number("sigma", sigma, config::Bounds::positive());
  if (2.0 * grf.alpha <= dim)
    node.fail("alpha", "expected alpha > dim/2 so that the field has finite variance");
  return grf;
}

DarcyData read_darcy(const config::Node& node) {
  DarcyData darcy;
  // (−Δ + 9I)^−2 with GRF.m's scale tau^(alpha − 1); thresholding makes the scale irrelevant.
  darcy.coefficient = read_grf(node, 2.0, 3.0, 3.0, 2);
  darcy.coefficient.thresholded = true;
  darcy.coefficient.threshold = node.number("threshold", 0.0);
  darcy.coefficient.above = node.number("above", 12.0, config::Bounds::positive());
  darcy.coefficient.below = node.number("below", 3.0, config::Bounds::positive());
  node.expression("source", "1");  // parsed now so that a syntax error names the key
  darcy.source = node.str("source", "1");
  darcy.solver = read_solver(node, config::PdeType::darcy, "cg", "gamg");
  return darcy;
}

BurgersData read_burgers(const config::Node& node) {
  BurgersData burgers;
  burgers.nu = node.number("nu", 0.1, config::Bounds::positive());
  burgers.time.t_end = node.number("t_end", 1.0, config::Bounds::positive());
  // u(·, 1) is ~60 times smaller than u0 (ν = 0.1 damps all but the lowest modes), so the stiff
  // modes must be damped too: Crank–Nicolson keeps them (amplification → −1) and needs
  // dt = 1e-3 for a relative error of 5e-6, BDF2 is at 1.1e-4 with dt = 2.5e-3, while the
  // L-stable Rosenbrock-W RA34PW2 is at 4e-5 with dt = 1e-2, the fastest of the three
  // (errors vs dt = 1e-4 at 1024 points, cases/README.md).
  burgers.time.dt = node.number("dt", 0.01, config::Bounds::positive());
  if (burgers.time.dt > burgers.time.t_end) node.fail("dt", "expected dt <= t_end");
  burgers.time.scheme = node.choice("scheme", {"rosw", "cn", "bdf2", "beuler"}, "rosw");
  burgers.time.snapshots = 0;  // only u(·, t_end)
  // u0 ~ N(0, 625 (−Δ + 25I)^−2) on the periodic unit interval.
  burgers.initial = read_grf(node, 2.0, 5.0, 25.0, 1);
  burgers.initial.periodic = true;
  // A periodic tridiagonal Jacobian: GMRES + ILU(0) takes 3 iterations per solve and beats
  // PETSc's sparse LU by 1.5x (MUMPS, which Karman picks for LU by default, by 15x).
  burgers.solver = read_solver(node, config::PdeType::burgers, "gmres", "ilu");
  return burgers;
}

// The accurate step of the vorticity solver on n points per side (vorticity.hpp, measured at
// ν = 1e-3: dt·n ≈ 1.3 keeps the CFL number below 0.5 and the error below 2e-4; halved for
// ν < 1e-3, where the flow is faster and the explicit advection less damped).
double vorticity_dt(double nu, long n) {
  return (nu < 1e-3 ? 0.64 : 1.28) / static_cast<double>(n);
}

NavierStokesData read_navier_stokes(const config::Node& node, long resolution) {
  NavierStokesData ns;
  ns.nu = node.number("nu", 1e-3, config::Bounds::positive());
  ns.t_end = node.integer("t_end", 20, 2, 100000);
  ns.input_steps = node.integer("input_steps", 10, 1, 100000);
  if (ns.t_end <= ns.input_steps)
    node.fail("t_end", fmt::format("expected t_end > input_steps = {} (the outputs are the "
                                   "records t = input_steps + 1 … t_end)",
                                   ns.input_steps));
  ns.dt = node.number("dt", vorticity_dt(ns.nu, resolution), config::Bounds::positive());
  if (ns.dt > 1.0) node.fail("dt", "expected dt <= 1 (the record interval)");
  ns.forcing = node.flag("forcing", true);
  const config::RandomFieldSpec fno = solvers::vorticity_initial_field(0);
  ns.initial = read_grf(node, fno.alpha, fno.tau, fno.sigma, 2);
  ns.initial.periodic = true;
  return ns;
}

}  // namespace

DatasetSpec read_dataset_spec(const config::Node& data) {
  DatasetSpec spec;
  const std::string problem = data.choice("problem", {"darcy", "burgers", "navier_stokes"});
  spec.problem = problem == "darcy"     ? Problem::darcy
                 : problem == "burgers" ? Problem::burgers
                                        : Problem::navier_stokes;
  const bool darcy = spec.problem == Problem::darcy;
  const bool navier_stokes = spec.problem == Problem::navier_stokes;
  spec.samples = data.integer("samples", 300, 1, 100000000);
  spec.seed = static_cast<std::uint64_t>(data.integer("seed", 1, 0));
  // The FNO papers' fine grids: 421 → 85 (stride 5) for Darcy, 8192 → 1024 (stride 8) for
  // Burgers; 253 → 64 (stride 4) gives the power-of-two Darcy grid. Navier–Stokes: the published
  // data is 64² (generated at 256² with a first-order step and subsampled); the second-order
  // solver is accurate at 64² itself.
  const long default_resolution = darcy ? 253 : navier_stokes ? 64 : 8192;
  spec.resolution = data.integer("resolution", default_resolution, darcy ? 3 : 4, 1L << 26);
  if (navier_stokes && spec.resolution % 2 != 0)
    data.fail("resolution", "expected an even number of points per side (the FFT grid)");
  spec.stride = data.integer("stride", darcy ? 4 : navier_stokes ? 1 : 8, 1, spec.resolution);
  if (navier_stokes && (spec.training_resolution() < 4 || spec.training_resolution() % 2 != 0))
    data.fail("stride", fmt::format("expected a stride dividing resolution = {} (periodic) that "
                                    "leaves an even number of at least 4 points (the spectral "
                                    "solver's grid for the baseline)",
                                    spec.resolution));
  if (spec.training_resolution() < (darcy ? 3 : 4))
    data.fail("stride", darcy ? fmt::format("expected a stride dividing resolution − 1 = {} (the "
                                            "boundary nodes are kept) that leaves at least 3 nodes",
                                            spec.resolution - 1)
                              : fmt::format("expected a stride dividing resolution = {} (periodic) "
                                            "that leaves at least 4 points",
                                            spec.resolution));
  spec.file = data.str("file", "");
  // Every problem's section is read (and so checked); the problem's is used.
  spec.darcy = read_darcy(data.child_or_empty("darcy"));
  spec.burgers = read_burgers(data.child_or_empty("burgers"));
  spec.navier_stokes = read_navier_stokes(data.child_or_empty("navier_stokes"), spec.resolution);
  return spec;
}

std::string describe(const DatasetSpec& spec) {
  const auto solver = [](const config::SolverSpec& s) {
    std::string text = fmt::format("{}+{} rtol {:.17g} atol {:.17g} max_it {}", s.ksp, s.pc, s.rtol,
                                   s.atol, s.max_it);
    for (const auto& [name, value] : s.options) text += " -" + name + " " + value;
    return text;
  };
  const auto grf = [](const config::RandomFieldSpec& g) {
    return fmt::format("alpha {:.17g} tau {:.17g} sigma {:.17g}", g.alpha, g.tau, g.sigma);
  };
  std::string text = fmt::format(
      "karman dataset v1; problem {}; samples {}; seed {}; "
      "resolution {}; stride {}; ",
      to_string(spec.problem), spec.samples, spec.seed, spec.resolution, spec.stride);
  if (spec.problem == Problem::darcy) {
    const auto& d = spec.darcy;
    text += fmt::format("a: {} threshold {:.17g} above {:.17g} below {:.17g}; f: {}; solver: {}",
                        grf(d.coefficient), d.coefficient.threshold, d.coefficient.above,
                        d.coefficient.below, d.source, solver(d.solver));
  } else if (spec.problem == Problem::burgers) {
    const auto& b = spec.burgers;
    text += fmt::format("nu {:.17g}; t_end {:.17g} dt {:.17g} scheme {}; u0: {}; solver: {}", b.nu,
                        b.time.t_end, b.time.dt, b.time.scheme, grf(b.initial), solver(b.solver));
  } else {
    const auto& ns = spec.navier_stokes;
    text += fmt::format(
        "nu {:.17g}; t_end {} input_steps {} record_interval 1 dt {:.17g} scheme cn_ab2; "
        "forcing {}; w0: {}; solver: pseudo-spectral 2/3 dealiased",
        ns.nu, ns.t_end, ns.input_steps, ns.dt, ns.forcing ? "on" : "off", grf(ns.initial));
  }
  return text;
}

// --------------------------------------------------------------------------- the solves

namespace {

// Sample k's random field: its own counter-based stream, whichever rank draws it.
config::RandomFieldSpec sample_field(const DatasetSpec& spec, long sample) {
  config::RandomFieldSpec field = spec.problem == Problem::darcy     ? spec.darcy.coefficient
                                  : spec.problem == Problem::burgers ? spec.burgers.initial
                                                                     : spec.navier_stokes.initial;
  field.seed = mix64(mix64(spec.seed) + static_cast<std::uint64_t>(sample));
  return field;
}

long points(const DatasetSpec& spec, long nodes) { return spec.dim() == 2 ? nodes * nodes : nodes; }

// The stride that takes the fine grid to `nodes` per side, or a ConfigError.
long stride_to(const DatasetSpec& spec, long nodes) {
  const long fine = spec.resolution;
  const long by = spec.problem == Problem::darcy ? (nodes > 1 ? (fine - 1) / (nodes - 1) : 0)
                                                 : (nodes > 0 ? fine / nodes : 0);
  if (by < 1 || spec.subsampled(fine, by) != nodes)
    throw ConfigError(
        fmt::format("dataset: {} nodes per side is not the fine grid ({}) "
                    "subsampled by an integer stride",
                    nodes, fine));
  return by;
}

void require_converged(const solvers::SolveStats& stats, long sample) {
  if (!stats.converged)
    throw ExternalError("PETSc", 0,
                        fmt::format("dataset sample {}: the {} solve did not converge ({})", sample,
                                    stats.ts.empty() ? stats.ksp : stats.ts, stats.reason));
}

// --- Navier–Stokes: the vorticity solver's records as channels.

// The solver on `nodes` per side with step `dt`, recording t = 1, …, t_end.
solvers::VorticitySpec vorticity_spec(const NavierStokesData& ns, long nodes, double dt,
                                      long t_end) {
  solvers::VorticitySpec s;
  s.n = nodes;
  s.nu = ns.nu;
  s.dt = dt;
  s.t_end = static_cast<double>(t_end);
  s.record_interval = 1.0;
  s.forcing = ns.forcing;
  s.scheme = solvers::VorticityScheme::cn_ab2;
  return s;
}

// Records [first, first + count) of a solve as [count, n*n] channels.
std::vector<double> records_as_channels(const solvers::VorticityResult& result, long first,
                                        long count) {
  KARMAN_VERIFY(first >= 0 && first + count <= static_cast<long>(result.snapshots.size()),
                "navier_stokes: fewer records than channels");
  std::vector<double> channels;
  for (long r = first; r < first + count; ++r)
    channels.insert(channels.end(), result.snapshots[r].begin(), result.snapshots[r].end());
  return channels;
}

// The solve's record for the report: what ran, its step and its cost.
solvers::SolveStats vorticity_stats(const solvers::VorticityResult& result, double nu) {
  solvers::SolveStats stats;
  stats.ts = "pseudo-spectral CN/AB2";
  stats.steps = result.steps;
  stats.iterations = result.steps;
  stats.solve_s = result.wall_s;
  stats.reason = fmt::format("largest CFL number {:.3g}", result.largest_cfl);
  stats.options = {{"dt", fmt::format("{:.17g}", result.dt)}, {"nu", fmt::format("{:.17g}", nu)}};
  return stats;
}

// Sample `sample` solved at the fine resolution from its w0 up to t = t_end (≤ the spec's).
solvers::VorticityResult solve_vorticity_sample(const DatasetSpec& spec, long sample, long t_end) {
  const NavierStokesData& ns = spec.navier_stokes;
  const auto w0 = pde::random_field_global(spec.grid(spec.resolution), sample_field(spec, sample));
  try {
    return solvers::solve_vorticity(vorticity_spec(ns, spec.resolution, ns.dt, t_end), w0);
  } catch (const ConfigError& e) {
    // An unstable step: the key to change is the case's dt.
    throw ConfigError(fmt::format("data.navier_stokes.dt: sample {}: {}", sample, e.what()));
  }
}

}  // namespace

std::vector<double> subsample(const DatasetSpec& spec, const std::vector<double>& fields,
                              long nodes, long by) {
  const long m = spec.subsampled(nodes, by);
  KARMAN_VERIFY(m > 0, "subsample: the stride does not divide the grid");
  const long in_points = points(spec, nodes);
  KARMAN_VERIFY(in_points > 0 && fields.size() % in_points == 0,
                "subsample: fields are not [C, points]");
  const long channels = static_cast<long>(fields.size()) / in_points;
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(channels * points(spec, m)));
  for (long c = 0; c < channels; ++c) {
    const double* field = fields.data() + c * in_points;
    if (spec.dim() == 1) {
      for (long i = 0; i < m; ++i) out.push_back(field[i * by]);
    } else {
      for (long j = 0; j < m; ++j)
        for (long i = 0; i < m; ++i) out.push_back(field[(j * by) * nodes + i * by]);
    }
  }
  return out;
}

std::vector<double> sample_input(const DatasetSpec& spec, long sample, long nodes) {
  const long by = stride_to(spec, nodes);
  std::vector<double> fine;
  if (spec.problem == Problem::navier_stokes) {
    // The time steps up to t = input_steps are those of the whole solve: the same records.
    const long steps = spec.navier_stokes.input_steps;
    fine = records_as_channels(solve_vorticity_sample(spec, sample, steps), 0, steps);
  } else {
    fine = pde::random_field_global(spec.grid(spec.resolution), sample_field(spec, sample));
  }
  return by == 1 ? fine : subsample(spec, fine, spec.resolution, by);
}

SolveOutcome solve_given(const DatasetSpec& spec, const std::vector<double>& input, long nodes,
                         const std::vector<double>* initial_guess) {
  const long n_points = points(spec, nodes);
  KARMAN_VERIFY(static_cast<long>(input.size()) == spec.in_channels() * n_points,
                "solve_given: the input is not [C_in, points] on the given grid");
  KARMAN_VERIFY(!initial_guess || static_cast<long>(initial_guess->size()) == n_points,
                "solve_given: the initial guess is not [points]");
  SolveOutcome outcome;
  Timer wall;
  if (spec.problem == Problem::darcy) {
    mesh::StructuredGrid grid(MPI_COMM_SELF, spec.grid(nodes));
    if (*std::min_element(input.begin(), input.end()) <= 0.0)
      throw ConfigError("dataset: the Darcy coefficient must be positive everywhere");
    config::PdeSpec pde;
    pde.type = config::PdeType::darcy;
    pde.source = Expression(spec.darcy.source, Place{});
    pde.boundary = Expression("0", Place{});
    auto result = solvers::solve_elliptic(grid, pde, spec.darcy.solver, input, initial_guess);
    outcome.solution = std::move(result.u);
    outcome.stats = result.stats;
  } else if (spec.problem == Problem::navier_stokes) {
    const NavierStokesData& ns = spec.navier_stokes;
    // The last input record is the state at t = input_steps; continue for the output records.
    const std::vector<double> w(input.end() - n_points, input.end());
    const double dt = ns.dt * static_cast<double>(spec.resolution) / static_cast<double>(nodes);
    const auto result = solvers::solve_vorticity(vorticity_spec(ns, nodes, dt, ns.out_steps()), w);
    outcome.solution = records_as_channels(result, 0, ns.out_steps());
    outcome.stats = vorticity_stats(result, ns.nu);
  } else {
    mesh::StructuredGrid grid(MPI_COMM_SELF, spec.grid(nodes));
    config::PdeSpec pde;
    pde.type = config::PdeType::burgers;
    pde.nu = spec.burgers.nu;
    auto result =
        solvers::solve_transient(grid, pde, spec.burgers.time, spec.burgers.solver, input);
    outcome.solution = std::move(result.u);
    outcome.stats = result.stats;
  }
  outcome.wall_s = wall.seconds();
  outcome.iterations = outcome.stats.iterations;
  return outcome;
}

namespace {

// One solve at the fine resolution (FFTW single-threaded: the same values on any rank count)
// gives both the input and the output records.
Instance navier_stokes_instance(const DatasetSpec& spec, long sample, long nodes) {
  const long by = stride_to(spec, nodes);
  const NavierStokesData& ns = spec.navier_stokes;
  Timer wall;
  const auto result = solve_vorticity_sample(spec, sample, ns.t_end);
  Instance instance;
  instance.wall_s = wall.seconds();
  instance.inputs = records_as_channels(result, 0, ns.input_steps);
  instance.outputs = records_as_channels(result, ns.input_steps, ns.out_steps());
  if (by != 1) {
    instance.inputs = subsample(spec, instance.inputs, spec.resolution, by);
    instance.outputs = subsample(spec, instance.outputs, spec.resolution, by);
  }
  instance.iterations = result.steps;
  instance.stats = vorticity_stats(result, ns.nu);
  return instance;
}

}  // namespace

Instance solve_instance(const DatasetSpec& spec, long sample, long nodes) {
  // PETSc's dot products go through BLAS, whose threaded reductions change the round-off with
  // the thread count, and that depends on the rank count (limit_blas_threads): one thread makes
  // every sample bitwise the same on any number of ranks.
  nn::OneBlasThread one_thread;
  if (spec.problem == Problem::navier_stokes) return navier_stokes_instance(spec, sample, nodes);
  Instance instance;
  instance.inputs = sample_input(spec, sample, nodes);
  SolveOutcome outcome = solve_given(spec, instance.inputs, nodes);
  require_converged(outcome.stats, sample);
  instance.outputs = std::move(outcome.solution);
  instance.wall_s = outcome.wall_s;
  instance.iterations = outcome.iterations;
  instance.stats = std::move(outcome.stats);
  return instance;
}

// -------------------------------------------------------------------------- the file

namespace {

const char* const kInputs = "/inputs";
const char* const kOutputs = "/outputs";
const char* const kComplete = "/complete";

// A ConfigError naming the file and the dataset: "darcy.h5: dataset /outputs: ...".
ConfigError dataset_error(const std::string& path, const std::string& dataset,
                          const std::string& what) {
  return ConfigError(Place{path, 0, 0}, "dataset " + dataset + ": " + what);
}

// "[N, C, ny, nx]" for a dataset of `rank` dimensions.
std::string layout_names(std::size_t rank) {
  static const char* const spatial[] = {"n", "ny, nx", "nz, ny, nx"};
  return rank >= 3 && rank <= 5 ? std::string("[N, C, ") + spatial[rank - 3] + "]" : "[N, C, n...]";
}

// The dims of /inputs and /outputs, checked against each other and the caller's channels.
struct Layout {
  std::vector<hsize_t> inputs, outputs;
  long samples() const { return static_cast<long>(inputs[0]); }
  std::vector<long> grid() const { return {inputs.begin() + 2, inputs.end()}; }
  long points() const { return product(grid()); }
};

std::vector<hsize_t> required_dims(hid_t file, const std::string& path, const char* dataset) {
  if (!link_exists(file, dataset))
    throw dataset_error(path, dataset, "missing (not an operator-learning dataset)");
  Id data = open_dataset(file, path, dataset);
  return dataset_dims(data.get(), path);
}

// Which of the flags are 0 (the first one), or -1 when all samples are complete.
long first_incomplete(const std::vector<unsigned char>& complete) {
  const auto it = std::find(complete.begin(), complete.end(), 0);
  return it == complete.end() ? -1 : static_cast<long>(it - complete.begin());
}

// /complete, read whole by every rank (all ones when the file has no such dataset).
std::vector<unsigned char> read_complete(hid_t file, const std::string& path, long samples) {
  if (!link_exists(file, kComplete)) return std::vector<unsigned char>(samples, 1);
  Id data = open_dataset(file, path, kComplete);
  const auto dims = dataset_dims(data.get(), path);
  if (dims.size() != 1 || static_cast<long>(dims[0]) != samples)
    throw dataset_error(
        path, kComplete,
        fmt::format("expected [N] = [{}] flags, found {}", samples, shape_string(dims)));
  std::vector<unsigned char> flags(samples);
  Id dxpl = collective_dxpl(path);
  unsigned char none = 0;
  check(H5Dread(data.get(), H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, dxpl.get(),
                flags.empty() ? &none : flags.data()),
        "cannot read dataset '/complete' in", path);
  return flags;
}

Layout validate(hid_t file, const std::string& path, long expected_in, long expected_out) {
  Layout layout;
  layout.inputs = required_dims(file, path, kInputs);
  layout.outputs = required_dims(file, path, kOutputs);
  const auto& in = layout.inputs;
  const auto& out = layout.outputs;
  if (in.size() < 3 || in.size() > 5)
    throw dataset_error(path, kInputs,
                        fmt::format("expected 3 to 5 dimensions [N, C, ...spatial], found {} {}",
                                    in.size(), shape_string(in)));
  if (out.size() != in.size())
    throw dataset_error(path, kOutputs,
                        fmt::format("expected {} dimensions {} (as /inputs), found {}", in.size(),
                                    layout_names(in.size()), out.size()));
  if (out[0] != in[0])
    throw dataset_error(path, kOutputs,
                        fmt::format("holds {} samples but /inputs holds {}", out[0], in[0]));
  if (!std::equal(in.begin() + 2, in.end(), out.begin() + 2))
    throw dataset_error(path, kOutputs,
                        fmt::format("grid {} differs from that of /inputs {}",
                                    shape_string({out.begin() + 2, out.end()}),
                                    shape_string({in.begin() + 2, in.end()})));
  for (hsize_t n : in)
    if (n == 0) throw dataset_error(path, kInputs, "has an empty dimension " + shape_string(in));
  if (expected_in > 0 && static_cast<long>(in[1]) != expected_in)
    throw dataset_error(path, kInputs,
                        fmt::format("expected {} input channel(s), found {}", expected_in, in[1]));
  if (expected_out > 0 && static_cast<long>(out[1]) != expected_out)
    throw dataset_error(
        path, kOutputs,
        fmt::format("expected {} output channel(s), found {}", expected_out, out[1]));
  const long incomplete = first_incomplete(read_complete(file, path, layout.samples()));
  if (incomplete >= 0)
    throw dataset_error(path, kComplete,
                        fmt::format("sample {} of {} is not complete (an interrupted generation: "
                                    "rerun it with --resume)",
                                    incomplete, layout.samples()));
  return layout;
}

// A file and its open datasets during generation.
struct DatasetFile {
  std::string path;
  Id file, inputs, outputs, complete, dxpl;
};

// Writes `values` (one per grid point of `dims`, slowest first) as a dataset; rank 0 writes.
void write_whole(MPI_Comm comm, hid_t parent, const std::string& name,
                 const std::vector<double>& values, const std::string& path) {
  const hsize_t n = values.size();
  const std::string what = "cannot write dataset '" + name + "' in";
  Id space = make_id(H5Screate_simple(1, &n, nullptr), H5Sclose, what, path);
  Id data = make_id(H5Dcreate2(parent, name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT,
                               H5P_DEFAULT, H5P_DEFAULT),
                    H5Dclose, what, path);
  write_from_rank0(comm, data.get(), H5T_NATIVE_DOUBLE, values, name, path);
}

Id create_samples_dataset(hid_t file, const char* name, const std::vector<hsize_t>& dims,
                          const std::string& path) {
  const std::string what = std::string("cannot create dataset '") + name + "' in";
  Id space = make_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                     H5Sclose, what, path);
  // Samples are written as they finish; /complete says which are valid, so no fill pass.
  Id dcpl = make_id(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, what, path);
  check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), what, path);
  check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), what, path);
  // Compressed (case key hdf5.compression): one chunk per sample, the unit a rank writes.
  std::vector<hsize_t> one_sample(dims);
  one_sample[0] = 1;
  apply_compression(dcpl.get(), dims, one_sample, path);
  return make_id(
      H5Dcreate2(file, name, H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      H5Dclose, what, path);
}

// [N, C, (n,) n] at the training resolution.
std::vector<hsize_t> sample_dims(const DatasetSpec& spec, long channels) {
  std::vector<hsize_t> dims{static_cast<hsize_t>(spec.samples), static_cast<hsize_t>(channels)};
  for (int d = 0; d < spec.dim(); ++d)
    dims.push_back(static_cast<hsize_t>(spec.training_resolution()));
  return dims;
}

DatasetFile create_partial(MPI_Comm comm, const DatasetSpec& spec, const std::string& path,
                           const std::string& config_yaml) {
  DatasetFile f;
  f.path = path;
  Id fapl = mpio_fapl(comm, path);
  f.file = make_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose,
                   "cannot create file", path);
  const hid_t root = f.file.get();
  put_string(root, "problem", to_string(spec.problem), path);
  put_string(root, "config", config_yaml, path);
  put_string(root, "generator", describe(spec), path);
  put_string(root, "karman_version", KARMAN_VERSION, path);
  const long seed = static_cast<long>(spec.seed), dim = spec.dim();
  put_scalar(root, "seed", H5T_NATIVE_LONG, &seed, path);
  put_scalar(root, "samples", H5T_NATIVE_LONG, &spec.samples, path);
  put_scalar(root, "resolution", H5T_NATIVE_LONG, &spec.resolution, path);
  put_scalar(root, "stride", H5T_NATIVE_LONG, &spec.stride, path);
  put_scalar(root, "dim", H5T_NATIVE_LONG, &dim, path);

  f.inputs = create_samples_dataset(root, kInputs, sample_dims(spec, spec.in_channels()), path);
  f.outputs = create_samples_dataset(root, kOutputs, sample_dims(spec, spec.out_channels()), path);
  // Coordinates of the training grid, x first.
  const long m = spec.training_resolution();
  const mesh::GridShape fine = spec.grid(spec.resolution);
  Id group = open_or_create_group(root, "coordinates", path);
  const char* axes[] = {"x", "y", "z"};
  for (int d = 0; d < spec.dim(); ++d) {
    std::vector<double> x(m);
    for (long i = 0; i < m; ++i) x[i] = fine.coordinate(d, i * spec.stride);
    write_whole(comm, group.get(), axes[d], x, path);
  }
  // /complete starts all zero (rank 0 writes it: a fill value at allocation is not collective
  // in every HDF5).
  const hsize_t n = spec.samples;
  const std::string what = "cannot create dataset '/complete' in";
  Id space = make_id(H5Screate_simple(1, &n, nullptr), H5Sclose, what, path);
  f.complete = make_id(
      H5Dcreate2(root, kComplete, H5T_STD_U8LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose, what, path);
  write_from_rank0(comm, f.complete.get(), H5T_NATIVE_UCHAR,
                   std::vector<unsigned char>(static_cast<std::size_t>(spec.samples), 0), kComplete,
                   path);
  f.dxpl = collective_dxpl(path);
  return f;
}

// The generator line of an existing dataset must be this spec's, or resuming would mix datasets.
void require_same_generator(hid_t file, const std::string& path, const DatasetSpec& spec) {
  io::h5::require_same_generator(file, path, describe(spec), "remove it or run without --resume");
}

DatasetFile open_partial(MPI_Comm comm, const DatasetSpec& spec, const std::string& path) {
  DatasetFile f;
  f.path = path;
  f.file = open_for_resume(comm, path, describe(spec));
  const hid_t file = f.file.get();
  f.inputs = open_dataset(file, path, kInputs);
  f.outputs = open_dataset(file, path, kOutputs);
  f.complete = open_dataset(file, path, kComplete);
  if (dataset_dims(f.inputs.get(), path) != sample_dims(spec, spec.in_channels()) ||
      dataset_dims(f.outputs.get(), path) != sample_dims(spec, spec.out_channels()))
    throw ConfigError(Place{path, 0, 0}, "cannot resume: /inputs or /outputs has another shape");
  f.dxpl = collective_dxpl(path);
  return f;
}

// Collective: sample `sample`'s [C, points] into `dataset` (sample < 0: this rank has none).
void write_sample(const DatasetFile& f, hid_t dataset, long sample,
                  const std::vector<double>& values, const char* name) {
  const ScopedStage timed_stage(Stage::io);
  const std::string what = std::string("cannot write dataset '") + name + "' in";
  Id file_space = make_id(H5Dget_space(dataset), H5Sclose, what, f.path);
  const int rank = H5Sget_simple_extent_ndims(file_space.get());
  std::vector<hsize_t> dims(rank), start(rank, 0);
  check(H5Sget_simple_extent_dims(file_space.get(), dims.data(), nullptr), what, f.path);
  std::vector<hsize_t> count(dims);
  count[0] = 1;
  hsize_t size = 1;
  for (int d = 1; d < rank; ++d) size *= dims[d];
  Id memory = make_id(H5Screate_simple(1, &size, nullptr), H5Sclose, what, f.path);
  const double none = 0.0;
  if (sample >= 0) {
    KARMAN_VERIFY(values.size() == size, "write_sample: wrong number of values");
    start[0] = static_cast<hsize_t>(sample);
    check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                              nullptr),
          what, f.path);
  } else {
    check(H5Sselect_none(file_space.get()), what, f.path);
    check(H5Sselect_none(memory.get()), what, f.path);
  }
  check(H5Dwrite(dataset, H5T_NATIVE_DOUBLE, memory.get(), file_space.get(), f.dxpl.get(),
                 sample >= 0 ? values.data() : &none),
        what, f.path);
}

void mark_complete(const DatasetFile& f, long sample) {
  const std::string what = "cannot write dataset '/complete' in";
  Id file_space = make_id(H5Dget_space(f.complete.get()), H5Sclose, what, f.path);
  const hsize_t one = 1, start = static_cast<hsize_t>(std::max(sample, 0L));
  Id memory = make_id(H5Screate_simple(1, &one, nullptr), H5Sclose, what, f.path);
  if (sample >= 0) {
    check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &one, nullptr),
          what, f.path);
  } else {
    check(H5Sselect_none(file_space.get()), what, f.path);
    check(H5Sselect_none(memory.get()), what, f.path);
  }
  const unsigned char flag = 1;
  check(H5Dwrite(f.complete.get(), H5T_NATIVE_UCHAR, memory.get(), file_space.get(), f.dxpl.get(),
                 &flag),
        what, f.path);
}

}  // namespace

GenerateSummary generate_dataset(MPI_Comm comm, const DatasetSpec& spec, const std::string& path,
                                 const GenerateOptions& options) {
  const ScopedStage timed_stage(Stage::data);
  quiet_hdf5();
  Timer wall;
  int rank;
  MPI_Comm_rank(comm, &rank);
  GenerateSummary summary;
  summary.samples = spec.samples;
  const std::string partial = path + ".partial";

  // A finished dataset with the same settings is kept as it is.
  if (options.resume && exists_on_rank0(comm, path)) {
    {
      Id file = open_file(comm, path);
      require_same_generator(file.get(), path, spec);
      validate(file.get(), path, spec.in_channels(), spec.out_channels());
    }
    summary.kept = spec.samples;
    summary.complete = true;
    summary.wall_s = wall.seconds();
    log().info("dataset {}: complete with these settings, nothing to do", path);
    return summary;
  }
  const bool resume = options.resume && exists_on_rank0(comm, partial);
  DatasetFile f = resume ? open_partial(comm, spec, partial)
                         : create_partial(comm, spec, partial, options.config_yaml);
  const auto flags = read_complete(f.file.get(), partial, spec.samples);
  const auto [first, count] = my_share(comm, spec.samples);
  std::vector<long> missing;
  for (long k = first; k < first + count; ++k)
    if (!flags[k]) missing.push_back(k);
  summary.kept = static_cast<long>(std::count(flags.begin(), flags.end(), 1));
  long rounds = static_cast<long>(missing.size()), my_missing = rounds;
  MPI_Allreduce(&my_missing, &rounds, 1, MPI_LONG, MPI_MAX, comm);
  bool interrupted = options.stop_after >= 0 && options.stop_after < rounds;
  if (interrupted) rounds = options.stop_after;
  const InterruptScope listening;  // SIGTERM, SIGUSR1, SIGINT: stop after the round in progress
  int stop_signal = 0;             // the signal any rank received
  if (resume)
    log().info("dataset {}: resuming, {} of {} samples already complete", partial, summary.kept,
               spec.samples);

  // Round r: every rank solves its r-th missing sample, then one collective write of all of them
  // and their flags, flushed so that an interruption loses at most the round in progress.
  Progress progress(fmt::format("dataset {}", to_string(spec.problem)), spec.samples,
                    std::max<long>(1, spec.samples / 20), options.quiet, "samples");
  double local[3] = {0.0, 0.0, 0.0};  // solved, solve seconds, iterations
  long done = summary.kept;
  for (long r = 0; r < rounds; ++r) {
    const long sample = r < my_missing ? missing[r] : -1;
    std::vector<double> in, out;
    std::exception_ptr error;
    if (sample >= 0) {
      try {
        Instance instance = solve_instance(spec, sample, spec.resolution);
        in = subsample(spec, instance.inputs, spec.resolution, spec.stride);
        out = subsample(spec, instance.outputs, spec.resolution, spec.stride);
        local[0] += 1.0;
        local[1] += instance.wall_s;
        local[2] += static_cast<double>(instance.iterations);
        summary.stats = std::move(instance.stats);
      } catch (...) {
        error = std::current_exception();
      }
    }
    rethrow_on_all(comm, error);
    write_sample(f, f.inputs.get(), sample, in, kInputs);
    write_sample(f, f.outputs.get(), sample, out, kOutputs);
    mark_complete(f, sample);
    check(H5Fflush(f.file.get(), H5F_SCOPE_GLOBAL), "cannot flush", partial);
    long solved_now = sample >= 0 ? 1 : 0, total_now = 0;
    MPI_Allreduce(&solved_now, &total_now, 1, MPI_LONG, MPI_SUM, comm);
    done += total_now;
    progress.update(done, fmt::format("{:.3f} s/sample", local[0] > 0 ? local[1] / local[0] : 0.0));
    if (r + 1 < rounds && (stop_signal = interrupt_requested(comm)) != 0) {
      interrupted = true;
      break;
    }
  }
  double totals[3];
  MPI_Allreduce(local, totals, 3, MPI_DOUBLE, MPI_SUM, comm);
  summary.solved = static_cast<long>(totals[0]);
  summary.solve_s = totals[1];
  summary.mean_iterations = totals[0] > 0 ? totals[2] / totals[0] : 0.0;
  if (spec.problem == Problem::darcy) summary.stats.options = spec.darcy.solver.options;
  if (spec.problem == Problem::burgers) summary.stats.options = spec.burgers.solver.options;

  f.dxpl.close();
  f.inputs.close();
  f.outputs.close();
  f.complete.close();
  check(f.file.close(), "cannot close file", partial);
  summary.complete = !interrupted;
  if (summary.complete) {
    // Every flag is set: the file becomes the dataset in one rename.
    if (rank == 0 && std::rename(partial.c_str(), path.c_str()) != 0)
      throw ExternalError("filesystem", errno, "cannot rename '" + partial + "' to '" + path + "'");
    MPI_Barrier(comm);
  }
  summary.wall_s = wall.seconds();
  progress.finish(fmt::format("{} solved, {} kept, {:.3f} s/sample", summary.solved, summary.kept,
                              summary.solved ? summary.solve_s / summary.solved : 0.0));
  if (stop_signal != 0)
    throw Interrupted(fmt::format("interrupted by {} with {} of {} samples complete",
                                  signal_name(stop_signal), done, spec.samples));
  return summary;
}

// -------------------------------------------------------------------------- reading

DatasetInfo inspect_dataset(MPI_Comm comm, const std::string& path, long expected_in,
                            long expected_out) {
  quiet_hdf5();
  Id file = open_file(comm, path);
  const Layout layout = validate(file.get(), path, expected_in, expected_out);
  DatasetInfo info;
  info.samples = layout.samples();
  info.in_channels = static_cast<long>(layout.inputs[1]);
  info.out_channels = static_cast<long>(layout.outputs[1]);
  info.grid = layout.grid();
  info.problem = string_attribute(file.get(), "problem", path);
  info.config = string_attribute(file.get(), "config", path);
  info.generator = string_attribute(file.get(), "generator", path);
  info.seed = long_attribute(file.get(), "seed", path);
  info.resolution = long_attribute(file.get(), "resolution", path);
  info.stride = long_attribute(file.get(), "stride", path);
  return info;
}

namespace {

// Collective hyperslab read of samples [first, first + count), every `stride`-th spatial node.
std::vector<double> read_samples(hid_t file, const std::string& path, const char* name,
                                 const std::vector<hsize_t>& dims, long first, long count,
                                 long stride, long points_after) {
  const std::string what = std::string("cannot read dataset '") + name + "' in";
  Id data = open_dataset(file, path, name);
  Id file_space = make_id(H5Dget_space(data.get()), H5Sclose, what, path);
  const std::size_t rank = dims.size();
  std::vector<hsize_t> start(rank, 0), step(rank, 1), counts(dims);
  start[0] = static_cast<hsize_t>(first);
  counts[0] = static_cast<hsize_t>(count);
  for (std::size_t d = 2; d < rank; ++d) {
    step[d] = static_cast<hsize_t>(stride);
    counts[d] = (dims[d] - 1) / stride + 1;
  }
  const hsize_t size = static_cast<hsize_t>(count) * dims[1] * points_after;
  std::vector<double> values(size);
  Id memory = make_id(H5Screate_simple(1, &size, nullptr), H5Sclose, what, path);
  if (count > 0) {
    check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), step.data(),
                              counts.data(), nullptr),
          what, path);
  } else {
    check(H5Sselect_none(file_space.get()), what, path);
    check(H5Sselect_none(memory.get()), what, path);
  }
  Id dxpl = collective_dxpl(path);
  double none = 0.0;
  check(H5Dread(data.get(), H5T_NATIVE_DOUBLE, memory.get(), file_space.get(), dxpl.get(),
                values.empty() ? &none : values.data()),
        what, path);
  return values;
}

// The first sample (global index) of `values` [count, C, points] holding a NaN or Inf, over all
// ranks; -1 if none.
long first_non_finite(MPI_Comm comm, const std::vector<double>& values, long first, long count) {
  long mine = std::numeric_limits<long>::max(), lowest;
  const std::size_t per_sample = count > 0 ? values.size() / count : 0;
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i])) {
      mine = first + static_cast<long>(i / per_sample);
      break;
    }
  MPI_Allreduce(&mine, &lowest, 1, MPI_LONG, MPI_MIN, comm);
  return lowest == std::numeric_limits<long>::max() ? -1 : lowest;
}

}  // namespace

OperatorData read_operator_data(MPI_Comm comm, const std::string& path, long first, long count,
                                long stride, long expected_in, long expected_out) {
  const ScopedStage timed_stage(Stage::data);
  quiet_hdf5();
  Id file = open_file(comm, path);
  const Layout layout = validate(file.get(), path, expected_in, expected_out);
  // Every rank asks for its own samples: agree on whether all requests are valid.
  const bool mine_ok = first >= 0 && count >= 0 && first + count <= layout.samples();
  int ok = mine_ok ? 1 : 0, all_ok;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm);
  if (!all_ok)
    throw dataset_error(path, kInputs,
                        mine_ok ? "another rank asked for samples the file does not hold"
                                : fmt::format("samples [{}, {}) requested, the file holds {}",
                                              first, first + count, layout.samples()));
  if (stride < 1) throw ConfigError("read_operator_data: the stride must be at least 1");
  OperatorData data;
  data.first = first;
  data.count = count;
  data.in_channels = static_cast<long>(layout.inputs[1]);
  data.out_channels = static_cast<long>(layout.outputs[1]);
  long points_after = 1;
  for (long n : layout.grid()) {
    data.grid.push_back((n - 1) / stride + 1);
    points_after *= data.grid.back();
  }
  data.inputs =
      read_samples(file.get(), path, kInputs, layout.inputs, first, count, stride, points_after);
  data.outputs =
      read_samples(file.get(), path, kOutputs, layout.outputs, first, count, stride, points_after);
  for (const auto& [name, values] :
       {std::pair{kInputs, &data.inputs}, std::pair{kOutputs, &data.outputs}}) {
    const long bad = first_non_finite(comm, *values, first, count);
    if (bad >= 0)
      throw dataset_error(path, name,
                          fmt::format("non-finite value (NaN or Inf) in sample {}", bad));
  }
  return data;
}

}  // namespace karman::data
