// Trajectory datasets of the MP-PDE experiments (see dataset.hpp for the layout).
#include "operators/mppde/dataset.hpp"

#include <fmt/format.h>
#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <exception>

#include "io/hdf5_support.hpp"
#include "karman/core/collective.hpp"
#include "karman/core/interrupt.hpp"
#include "karman/core/log.hpp"
#include "karman/core/partition.hpp"
#include "karman/core/progress.hpp"
#include "karman/core/timer.hpp"

namespace karman::mppde {

using namespace io::h5;

namespace {

// "100, 50, 40"
std::string listed(const std::vector<long>& values) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i)
    out += (i ? ", " : "") + std::to_string(values[i]);
  return out;
}

}  // namespace

// ------------------------------------------------------------------------------- the spec

void check_dataset_spec(const DatasetSpec& spec) {
  if (spec.samples < 1) throw ConfigError("an MP-PDE dataset needs at least one trajectory");
  if (spec.steps < 2) throw ConfigError("an MP-PDE dataset needs at least 2 stored steps");
  if (spec.resolutions.empty()) throw ConfigError("an MP-PDE dataset needs a resolution");
  for (long n : spec.resolutions) {
    if (n < 6 || spec.ground_truth % n != 0)
      throw ConfigError(
          fmt::format("resolution {}: expected a divisor of the ground truth's {} "
                      "cells (its averages are stored), at least 6",
                      n, spec.ground_truth));
    if (std::count(spec.resolutions.begin(), spec.resolutions.end(), n) > 1)
      throw ConfigError(fmt::format("resolution {} is listed twice", n));
  }
}

std::string describe(const DatasetSpec& spec) {
  const ExperimentSpec e = experiment_spec(spec.experiment);
  return fmt::format(
      "experiment {}; samples {}; seed {}; ground_truth {}; resolutions [{}]; steps {}; "
      "t_end {}; length {}; weno5 ssprk3 cfl 0.4 derivative_order 4 epsilon 1e-06",
      to_string(spec.experiment), spec.samples, spec.seed, spec.ground_truth,
      listed(spec.resolutions), spec.steps, e.t_end, e.length);
}

// ------------------------------------------------------------------------------- solving

TrajectoryData dataset_trajectory(const DatasetSpec& spec, long index) {
  const ExperimentSpec e = experiment_spec(spec.experiment);
  TrajectoryData data;
  data.parameters = sample_trajectory(e, spec.seed, index);
  const SolvedTrajectory truth =
      solve_trajectory(e, spec.seed, index, spec.ground_truth, spec.steps);
  data.ground_truth_wall_s = truth.wall_s;
  data.ground_truth_steps = truth.solver_steps;
  for (long n : spec.resolutions) {
    data.ground_truth.push_back(average_cells(truth.u, spec.steps, spec.ground_truth, n));
    if (n == spec.ground_truth) {
      data.solver.emplace_back();
      data.solver_wall_s.push_back(0.0);
      data.solver_steps.push_back(0);
      continue;
    }
    SolvedTrajectory coarse = solve_trajectory(e, spec.seed, index, n, spec.steps);
    data.solver.push_back(std::move(coarse.u));
    data.solver_wall_s.push_back(coarse.wall_s);
    data.solver_steps.push_back(coarse.solver_steps);
  }
  return data;
}

// ------------------------------------------------------------------------------- the file

namespace {

const char* const kComplete = "/complete";

std::string u_name(long n) { return "/u/" + std::to_string(n); }
std::string solver_name(long n) { return "/solver/" + std::to_string(n); }

ConfigError dataset_error(const std::string& path, const std::string& what) {
  return ConfigError(Place{path, 0, 0}, what);
}

Id create_dataset(hid_t file, const std::string& name, hid_t type, const std::vector<hsize_t>& dims,
                  const std::string& path) {
  const std::string what = "cannot create dataset '" + name + "' in";
  Id space = make_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                     H5Sclose, what, path);
  // Trajectories are written as they finish; /complete says which are valid: no fill pass.
  Id dcpl = make_id(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, what, path);
  check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), what, path);
  check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), what, path);
  if (dims.size() >= 2) {
    // Compressed (case key hdf5.compression): one chunk per trajectory, the row a rank writes.
    std::vector<hsize_t> one_row(dims);
    one_row[0] = 1;
    apply_compression(dcpl.get(), dims, one_row, path);
  }
  return make_id(
      H5Dcreate2(file, name.c_str(), type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      H5Dclose, what, path);
}

// Collective: row `row` (< 0: none on this rank) of a dataset [S, ...] from `values`.
void write_row(hid_t dataset, long row, hid_t memory_type, const void* values,
               const std::string& name, const std::string& path) {
  const std::string what = "cannot write dataset '" + name + "' in";
  Id file_space = make_id(H5Dget_space(dataset), H5Sclose, what, path);
  const int rank = H5Sget_simple_extent_ndims(file_space.get());
  std::vector<hsize_t> dims(rank), start(rank, 0);
  check(H5Sget_simple_extent_dims(file_space.get(), dims.data(), nullptr), what, path);
  std::vector<hsize_t> count(dims);
  count[0] = 1;
  hsize_t size = 1;
  for (int d = 1; d < rank; ++d) size *= dims[d];
  Id memory = make_id(H5Screate_simple(1, &size, nullptr), H5Sclose, what, path);
  if (row >= 0) {
    start[0] = static_cast<hsize_t>(row);
    check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                              nullptr),
          what, path);
  } else {
    check(H5Sselect_none(file_space.get()), what, path);
    check(H5Sselect_none(memory.get()), what, path);
  }
  Id dxpl = collective_dxpl(path);
  const double none = 0.0;
  check(H5Dwrite(dataset, memory_type, memory.get(), file_space.get(), dxpl.get(),
                 row >= 0 ? values : &none),
        what, path);
}

void put_double(hid_t object, const std::string& name, double value, const std::string& path) {
  put_scalar(object, name, H5T_NATIVE_DOUBLE, &value, path);
}

double double_attribute(hid_t object, const std::string& name, const std::string& path) {
  if (H5Aexists(object, name.c_str()) <= 0)
    throw dataset_error(path, "attribute '" + name + "' missing (not an MP-PDE dataset)");
  Id attribute = make_id(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose,
                         "cannot read attribute '" + name + "' of", path);
  double value = 0.0;
  check(H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &value),
        "cannot read attribute '" + name + "' of", path);
  return value;
}

std::vector<long> long_array_attribute(hid_t object, const std::string& name,
                                       const std::string& path) {
  if (H5Aexists(object, name.c_str()) <= 0)
    throw dataset_error(path, "attribute '" + name + "' missing (not an MP-PDE dataset)");
  const std::string what = "cannot read attribute '" + name + "' of";
  Id attribute = make_id(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose, what, path);
  Id space = make_id(H5Aget_space(attribute.get()), H5Sclose, what, path);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  std::vector<long> values(static_cast<std::size_t>(std::max<hssize_t>(n, 0)));
  if (!values.empty()) check(H5Aread(attribute.get(), H5T_NATIVE_LONG, values.data()), what, path);
  return values;
}

// A file and its open datasets during generation.
struct DatasetFile {
  std::string path;
  Id file, complete, alpha, beta, gamma;
  std::vector<Id> u, solver;  // per resolution (solver: invalid where n = ground_truth)
};

std::vector<hsize_t> trajectory_dims(const DatasetSpec& spec, long n) {
  return {static_cast<hsize_t>(spec.samples), static_cast<hsize_t>(spec.steps),
          static_cast<hsize_t>(n)};
}

// t_k = k T / (steps − 1), as solve_trajectory stores them.
std::vector<double> level_times(const DatasetSpec& spec) {
  const double t_end = experiment_spec(spec.experiment).t_end;
  std::vector<double> t(static_cast<std::size_t>(spec.steps));
  for (long k = 0; k < spec.steps; ++k)
    t[k] = t_end * static_cast<double>(k) / static_cast<double>(spec.steps - 1);
  return t;
}

DatasetFile create_partial(MPI_Comm comm, const DatasetSpec& spec, const std::string& path,
                           const std::string& config_yaml) {
  DatasetFile f;
  f.path = path;
  Id fapl = mpio_fapl(comm, path);
  f.file = make_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose,
                   "cannot create file", path);
  const hid_t root = f.file.get();
  put_string(root, "experiment", to_string(spec.experiment), path);
  put_string(root, "config", config_yaml, path);
  put_string(root, "generator", describe(spec), path);
  put_string(root, "karman_version", KARMAN_VERSION, path);
  const ExperimentSpec e = experiment_spec(spec.experiment);
  const long seed = static_cast<long>(spec.seed);
  put_scalar(root, "seed", H5T_NATIVE_LONG, &seed, path);
  put_scalar(root, "samples", H5T_NATIVE_LONG, &spec.samples, path);
  put_scalar(root, "ground_truth", H5T_NATIVE_LONG, &spec.ground_truth, path);
  put_scalar(root, "steps", H5T_NATIVE_LONG, &spec.steps, path);
  put_array(root, "resolutions", H5T_NATIVE_LONG, spec.resolutions, path);
  put_double(root, "t_end", e.t_end, path);
  put_double(root, "length", e.length, path);

  Id u_group = open_or_create_group(root, "u", path);
  Id solver_group = open_or_create_group(root, "solver", path);
  Id x_group = open_or_create_group(root, "x", path);
  for (long n : spec.resolutions) {
    f.u.push_back(create_dataset(root, u_name(n), H5T_IEEE_F64LE, trajectory_dims(spec, n), path));
    f.solver.push_back(n == spec.ground_truth ? Id()
                                              : create_dataset(root, solver_name(n), H5T_IEEE_F64LE,
                                                               trajectory_dims(spec, n), path));
    std::vector<double> x(static_cast<std::size_t>(n));
    for (long i = 0; i < n; ++i)
      x[i] = (static_cast<double>(i) + 0.5) * e.length / static_cast<double>(n);
    Id xs = create_dataset(root, "/x/" + std::to_string(n), H5T_IEEE_F64LE,
                           {static_cast<hsize_t>(n)}, path);
    write_from_rank0(comm, xs.get(), H5T_NATIVE_DOUBLE, x, "/x/" + std::to_string(n), path);
  }
  const std::vector<double> t = level_times(spec);
  Id ts = create_dataset(root, "/t", H5T_IEEE_F64LE, {static_cast<hsize_t>(spec.steps)}, path);
  write_from_rank0(comm, ts.get(), H5T_NATIVE_DOUBLE, t, "/t", path);
  const std::vector<hsize_t> per_sample{static_cast<hsize_t>(spec.samples)};
  f.alpha = create_dataset(root, "/alpha", H5T_IEEE_F64LE, per_sample, path);
  f.beta = create_dataset(root, "/beta", H5T_IEEE_F64LE, per_sample, path);
  f.gamma = create_dataset(root, "/gamma", H5T_IEEE_F64LE, per_sample, path);
  // /complete starts all zero (written by rank 0: a fill value is not collective in every HDF5).
  f.complete = create_dataset(root, kComplete, H5T_STD_U8LE, per_sample, path);
  write_from_rank0(comm, f.complete.get(), H5T_NATIVE_UCHAR,
                   std::vector<unsigned char>(static_cast<std::size_t>(spec.samples), 0), kComplete,
                   path);
  return f;
}

// The generator line of an existing dataset must be this spec's, or resuming would mix data.
void require_same_generator(hid_t file, const std::string& path, const DatasetSpec& spec) {
  io::h5::require_same_generator(file, path, describe(spec), "remove it or run without --resume");
}

DatasetFile open_partial(MPI_Comm comm, const DatasetSpec& spec, const std::string& path) {
  DatasetFile f;
  f.path = path;
  f.file = open_for_resume(comm, path, describe(spec));
  const hid_t file = f.file.get();
  for (long n : spec.resolutions) {
    f.u.push_back(open_dataset(file, path, u_name(n)));
    f.solver.push_back(n == spec.ground_truth ? Id() : open_dataset(file, path, solver_name(n)));
  }
  f.alpha = open_dataset(file, path, "/alpha");
  f.beta = open_dataset(file, path, "/beta");
  f.gamma = open_dataset(file, path, "/gamma");
  f.complete = open_dataset(file, path, kComplete);
  return f;
}

// /complete read whole by every rank.
std::vector<unsigned char> read_complete(hid_t file, const std::string& path, long samples) {
  if (!link_exists(file, kComplete))
    throw dataset_error(path, "dataset /complete missing (not an MP-PDE dataset)");
  Id data = open_dataset(file, path, kComplete);
  const auto dims = dataset_dims(data.get(), path);
  if (dims.size() != 1 || static_cast<long>(dims[0]) != samples)
    throw dataset_error(path, fmt::format("dataset /complete: expected [{}] flags, found {}",
                                          samples, shape_string(dims)));
  std::vector<unsigned char> flags(static_cast<std::size_t>(samples));
  Id dxpl = collective_dxpl(path);
  unsigned char none = 0;
  check(H5Dread(data.get(), H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, dxpl.get(),
                flags.empty() ? &none : flags.data()),
        "cannot read dataset '/complete' in", path);
  return flags;
}

// Collective: trajectory `sample` (< 0: none on this rank) into every dataset, then its flag.
void write_trajectory(const DatasetFile& f, const DatasetSpec& spec, long sample,
                      const TrajectoryData& data) {
  const bool mine = sample >= 0;
  for (std::size_t r = 0; r < spec.resolutions.size(); ++r) {
    write_row(f.u[r].get(), sample, H5T_NATIVE_DOUBLE, mine ? data.ground_truth[r].data() : nullptr,
              u_name(spec.resolutions[r]), f.path);
    if (spec.resolutions[r] != spec.ground_truth)
      write_row(f.solver[r].get(), sample, H5T_NATIVE_DOUBLE,
                mine ? data.solver[r].data() : nullptr, solver_name(spec.resolutions[r]), f.path);
  }
  const solvers::EquationCoefficients& c = data.parameters.coefficients;
  write_row(f.alpha.get(), sample, H5T_NATIVE_DOUBLE, &c.alpha, "/alpha", f.path);
  write_row(f.beta.get(), sample, H5T_NATIVE_DOUBLE, &c.beta, "/beta", f.path);
  write_row(f.gamma.get(), sample, H5T_NATIVE_DOUBLE, &c.gamma, "/gamma", f.path);
  const unsigned char flag = 1;
  write_row(f.complete.get(), sample, H5T_NATIVE_UCHAR, &flag, kComplete, f.path);
  check(H5Fflush(f.file.get(), H5F_SCOPE_GLOBAL), "cannot flush", f.path);
}

}  // namespace

GenerateSummary generate_dataset(MPI_Comm comm, const DatasetSpec& spec, const std::string& path,
                                 const GenerateOptions& options) {
  quiet_hdf5();
  check_dataset_spec(spec);
  Timer wall;
  int rank;
  MPI_Comm_rank(comm, &rank);
  GenerateSummary summary;
  summary.samples = spec.samples;
  const std::size_t resolutions = spec.resolutions.size();
  summary.solver_s.assign(resolutions, 0.0);
  summary.solver_steps.assign(resolutions, 0);
  const std::string partial = path + ".partial";

  // A finished dataset with the same settings is kept as it is.
  if (options.resume && exists_on_rank0(comm, path)) {
    {
      Id file = open_file(comm, path);
      require_same_generator(file.get(), path, spec);
    }
    inspect_dataset(comm, path);
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
  long my_missing = static_cast<long>(missing.size()), rounds = 0;
  MPI_Allreduce(&my_missing, &rounds, 1, MPI_LONG, MPI_MAX, comm);
  bool interrupted = options.stop_after >= 0 && options.stop_after < rounds;
  if (interrupted) rounds = options.stop_after;
  const InterruptScope listening;  // SIGTERM, SIGUSR1, SIGINT: stop after the round in progress
  int stop_signal = 0;             // the signal any rank received
  if (resume)
    log().info("dataset {}: resuming, {} of {} trajectories already complete", partial,
               summary.kept, spec.samples);

  // Round r: every rank solves its r-th missing trajectory, then one collective write of all of
  // them and their flags, flushed, so that an interruption loses at most the round in progress.
  Progress progress(fmt::format("dataset {}", to_string(spec.experiment)), spec.samples,
                    std::max<long>(1, spec.samples / 20), options.quiet, "trajectories");
  // Local sums: solved, ground-truth seconds and steps, then per resolution seconds and steps.
  std::vector<double> local(3 + 2 * resolutions, 0.0);
  long done = summary.kept;
  for (long r = 0; r < rounds; ++r) {
    const long sample = r < my_missing ? missing[r] : -1;
    TrajectoryData data;
    std::exception_ptr error;
    if (sample >= 0) {
      try {
        data = dataset_trajectory(spec, sample);
        local[0] += 1.0;
        local[1] += data.ground_truth_wall_s;
        local[2] += static_cast<double>(data.ground_truth_steps);
        for (std::size_t i = 0; i < resolutions; ++i) {
          local[3 + 2 * i] += data.solver_wall_s[i];
          local[4 + 2 * i] += static_cast<double>(data.solver_steps[i]);
        }
      } catch (...) {
        error = std::current_exception();
      }
    }
    rethrow_on_all(comm, error);
    write_trajectory(f, spec, sample, data);
    long solved_now = sample >= 0 ? 1 : 0, total_now = 0;
    MPI_Allreduce(&solved_now, &total_now, 1, MPI_LONG, MPI_SUM, comm);
    done += total_now;
    progress.update(done,
                    fmt::format("{:.3f} s/trajectory", local[0] > 0 ? local[1] / local[0] : 0.0));
    if (r + 1 < rounds && (stop_signal = interrupt_requested(comm)) != 0) {
      interrupted = true;
      break;
    }
  }
  std::vector<double> totals(local.size());
  MPI_Allreduce(local.data(), totals.data(), static_cast<int>(local.size()), MPI_DOUBLE, MPI_SUM,
                comm);
  summary.solved = static_cast<long>(totals[0]);
  summary.ground_truth_s = totals[1];
  summary.ground_truth_steps = static_cast<long>(totals[2]);
  for (std::size_t i = 0; i < resolutions; ++i) {
    summary.solver_s[i] = totals[3 + 2 * i];
    summary.solver_steps[i] = static_cast<long>(totals[4 + 2 * i]);
  }
  f.u.clear();
  f.solver.clear();
  f.alpha.close();
  f.beta.close();
  f.gamma.close();
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
  progress.finish(fmt::format("{} solved, {} kept, {:.3f} s/trajectory", summary.solved,
                              summary.kept,
                              summary.solved ? summary.ground_truth_s / summary.solved : 0.0));
  if (stop_signal != 0)
    throw Interrupted(fmt::format("interrupted by {} with {} of {} trajectories complete",
                                  signal_name(stop_signal), done, spec.samples));
  return summary;
}

// -------------------------------------------------------------------------- reading

namespace {

DatasetInfo validate(hid_t file, const std::string& path) {
  DatasetInfo info;
  const std::string experiment = string_attribute(file, "experiment", path);
  if (!experiment_from_string(experiment, info.experiment))
    throw dataset_error(path,
                        "attribute 'experiment' missing or not E1, E2 or E3 (not an MP-PDE "
                        "dataset)");
  info.samples = long_attribute(file, "samples", path);
  info.steps = long_attribute(file, "steps", path);
  info.ground_truth = long_attribute(file, "ground_truth", path);
  info.seed = long_attribute(file, "seed", path);
  info.resolutions = long_array_attribute(file, "resolutions", path);
  info.t_end = double_attribute(file, "t_end", path);
  info.length = double_attribute(file, "length", path);
  info.generator = string_attribute(file, "generator", path);
  info.config = string_attribute(file, "config", path);
  if (info.samples < 1 || info.steps < 2 || info.resolutions.empty())
    throw dataset_error(path, "attributes samples, steps or resolutions missing or empty");
  const auto expect = [&](const std::string& name, std::vector<hsize_t> dims) {
    if (!link_exists(file, name))
      throw dataset_error(path, "dataset " + name + " missing (not an MP-PDE dataset)");
    Id data = open_dataset(file, path, name);
    const auto found = dataset_dims(data.get(), path);
    if (found != dims)
      throw dataset_error(path, fmt::format("dataset {}: expected {}, found {}", name,
                                            shape_string(dims), shape_string(found)));
  };
  const auto S = static_cast<hsize_t>(info.samples), T = static_cast<hsize_t>(info.steps);
  for (long n : info.resolutions) {
    expect(u_name(n), {S, T, static_cast<hsize_t>(n)});
    if (n != info.ground_truth) expect(solver_name(n), {S, T, static_cast<hsize_t>(n)});
    expect("/x/" + std::to_string(n), {static_cast<hsize_t>(n)});
  }
  for (const char* name : {"/alpha", "/beta", "/gamma"}) expect(name, {S});
  expect("/t", {T});
  const auto flags = read_complete(file, path, info.samples);
  const auto incomplete = std::find(flags.begin(), flags.end(), 0);
  if (incomplete != flags.end())
    throw dataset_error(path, fmt::format("trajectory {} of {} is not complete (an interrupted "
                                          "generation: rerun it with --resume)",
                                          incomplete - flags.begin(), info.samples));
  return info;
}

// Collective: rows [first, first + count) of dataset `name` [S, ...] (every rank its own).
std::vector<double> read_rows(hid_t file, const std::string& path, const std::string& name,
                              long first, long count) {
  const std::string what = "cannot read dataset '" + name + "' in";
  Id data = open_dataset(file, path, name);
  auto dims = dataset_dims(data.get(), path);
  Id file_space = make_id(H5Dget_space(data.get()), H5Sclose, what, path);
  std::vector<hsize_t> start(dims.size(), 0), counts(dims);
  start[0] = static_cast<hsize_t>(first);
  counts[0] = static_cast<hsize_t>(count);
  hsize_t size = 1;
  for (hsize_t c : counts) size *= c;
  std::vector<double> values(size);
  Id memory = make_id(H5Screate_simple(1, &size, nullptr), H5Sclose, what, path);
  if (count > 0) {
    check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr,
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

// A whole small dataset, on every rank.
std::vector<double> read_whole(hid_t file, const std::string& path, const std::string& name) {
  Id data = open_dataset(file, path, name);
  const auto dims = dataset_dims(data.get(), path);
  return read_rows(file, path, name, 0, static_cast<long>(dims[0]));
}

}  // namespace

DatasetInfo inspect_dataset(MPI_Comm comm, const std::string& path) {
  quiet_hdf5();
  Id file = open_file(comm, path);
  return validate(file.get(), path);
}

std::string incompatibility(const DatasetInfo& info, const DatasetSpec& wanted) {
  for (long n : wanted.resolutions)
    if (std::find(info.resolutions.begin(), info.resolutions.end(), n) == info.resolutions.end())
      return fmt::format("dataset has n_x {}; case asks {}", listed(info.resolutions), n);
  if (info.experiment != wanted.experiment)
    return fmt::format("dataset is experiment {}; case asks {}", to_string(info.experiment),
                       to_string(wanted.experiment));
  if (info.seed != static_cast<long>(wanted.seed))
    return fmt::format("dataset has seed {}; case asks {}", info.seed, wanted.seed);
  if (info.ground_truth != wanted.ground_truth)
    return fmt::format("dataset's ground truth has {} cells; case asks {}", info.ground_truth,
                       wanted.ground_truth);
  if (info.steps != wanted.steps)
    return fmt::format("dataset has {} steps per trajectory; case asks {}", info.steps,
                       wanted.steps);
  if (info.samples < wanted.samples)
    return fmt::format("dataset has {} trajectories; case asks {}", info.samples, wanted.samples);
  return "";
}

StoredTrajectories read_trajectories(MPI_Comm comm, const std::string& path, long cells, long first,
                                     long count, bool with_solver) {
  quiet_hdf5();
  Id file = open_file(comm, path);
  const DatasetInfo info = validate(file.get(), path);
  if (std::find(info.resolutions.begin(), info.resolutions.end(), cells) == info.resolutions.end())
    throw dataset_error(
        path, fmt::format("dataset has n_x {}; case asks {}", listed(info.resolutions), cells));
  if (with_solver && cells == info.ground_truth)
    throw dataset_error(path, fmt::format("n_x {} is the ground truth's: the dataset has no "
                                          "separate solver trajectories there",
                                          cells));
  const bool mine_ok = first >= 0 && count >= 0 && first + count <= info.samples;
  int ok = mine_ok ? 1 : 0, all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm);
  if (!all_ok)
    throw dataset_error(path, mine_ok ? "another rank asked for trajectories the file does not hold"
                                      : fmt::format("trajectories [{}, {}) requested, the dataset "
                                                    "holds {}",
                                                    first, first + count, info.samples));
  StoredTrajectories out;
  out.experiment = info.experiment;
  out.cells = cells;
  out.steps = info.steps;
  out.first = first;
  out.count = count;
  out.t_end = info.t_end;
  out.length = info.length;
  out.t = read_whole(file.get(), path, "/t");
  out.x = read_whole(file.get(), path, "/x/" + std::to_string(cells));
  out.u = read_rows(file.get(), path, u_name(cells), first, count);
  if (with_solver) out.solver = read_rows(file.get(), path, solver_name(cells), first, count);
  out.alpha = read_rows(file.get(), path, "/alpha", first, count);
  out.beta = read_rows(file.get(), path, "/beta", first, count);
  out.gamma = read_rows(file.get(), path, "/gamma", first, count);
  return out;
}

}  // namespace karman::mppde
