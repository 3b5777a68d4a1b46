#pragma once
// Trajectory datasets of the MP-PDE experiments (E1, E2, E3: experiment.hpp), made by Karman's
// WENO5 solver (karman/solvers/weno.hpp) as the paper made them: each trajectory is solved at
// `ground_truth` cells (200) with `steps` = 250 stored levels over [0, T], and stored averaged
// down to every requested resolution n (exact averages of ground_truth/n fine cells: 200 → 100,
// 50, 40); beside it the same trajectory solved directly at each coarse n (the paper's "WENO5"
// column compares those with the averaged ground truth).
//
// File layout (HDF5, float64, C order; written collectively with MPI-IO):
//   /u/<n>        [S, steps, n]  ground truth averaged to n cells (n in `resolutions`)
//   /solver/<n>   [S, steps, n]  the trajectory solved at n cells (n < ground_truth)
//   /alpha, /beta, /gamma [S]    the equation of each trajectory (code form: flux α u²/2)
//   /t            [steps]        t_k = k T / (steps − 1)
//   /x/<n>        [n]          cell centres (i + ½)·16/n
//   /complete     [S] uint8    1 once trajectory k is written (generation is resumable)
//   /             attributes: experiment ("E1"), seed, samples, resolutions [..], ground_truth,
//                 t_end, length, steps, generator (every setting that determines the values,
//                 one line), config (the generating case), karman_version.
// Trajectories are split over the ranks in contiguous shares, each solved on MPI_COMM_SELF, so
// the file holds bitwise the same values on any rank count. Generation writes `path.partial` and
// renames it to `path` once every trajectory is in; with `resume` a partial file with the same
// generator line keeps its completed trajectories.

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "operators/mppde/experiment.hpp"

namespace karman::mppde {

struct DatasetSpec {
  Experiment experiment = Experiment::e1;
  long samples = 16;                           // trajectories 0 … samples − 1
  std::uint64_t seed = 1;                      // trajectory k's draws: (seed, k)
  long ground_truth = 200;                     // cells of the ground-truth solve
  std::vector<long> resolutions{100, 50, 40};  // each divides ground_truth
  long steps = 250;                            // stored levels, t_k = k T / (steps − 1)
};

// ConfigError (no place: the caller names its keys) unless every resolution is at least 6 cells,
// divides ground_truth and is listed once, and there are at least 2 steps.
void check_dataset_spec(const DatasetSpec& spec);

// Every setting that determines the values, as one line (the `generator` attribute).
std::string describe(const DatasetSpec& spec);

// One trajectory, solved on MPI_COMM_SELF: per resolution (spec.resolutions order) the averaged
// ground truth and the direct solve, each [steps, n] (the direct solve empty where n is the
// ground truth's), and the solves' wall times and step counts.
struct TrajectoryData {
  TrajectoryParameters parameters;
  std::vector<std::vector<double>> ground_truth, solver;  // [resolution][steps · n]
  std::vector<double> solver_wall_s;                      // per resolution
  std::vector<long> solver_steps;
  double ground_truth_wall_s = 0.0;
  long ground_truth_steps = 0;
};
TrajectoryData dataset_trajectory(const DatasetSpec& spec, long index);

struct GenerateOptions {
  bool resume = false;      // keep the completed trajectories of `path` or `path.partial`
  bool quiet = false;       // no progress bar
  std::string config_yaml;  // the generating case (attribute `config`)
  long stop_after = -1;     // test hook: stop after this many rounds (one trajectory per rank
                            // each), leaving `path.partial` as an interrupted run would
};

struct GenerateSummary {
  long samples = 0, solved = 0, kept = 0;
  bool complete = false;  // `path` holds the finished dataset
  double wall_s = 0.0;    // this call
  // Summed over the trajectories solved by this call (all ranks): the ground-truth solves and,
  // per resolution (spec order), the direct solves; the step counts likewise.
  double ground_truth_s = 0.0;
  std::vector<double> solver_s;
  long ground_truth_steps = 0;
  std::vector<long> solver_steps;
};

// Collective over comm. A finished `path` with the same generator is kept as it is (resume).
GenerateSummary generate_dataset(MPI_Comm comm, const DatasetSpec& spec, const std::string& path,
                                 const GenerateOptions& options = {});

// What a dataset file holds (validated).
struct DatasetInfo {
  Experiment experiment = Experiment::e1;
  long samples = 0, steps = 0, ground_truth = 0;
  std::vector<long> resolutions;
  double t_end = 0.0, length = 0.0;
  long seed = -1;
  std::string generator, config;
};
// Collective. Missing file or datasets, wrong shapes or incomplete trajectories: one ConfigError
// naming the file.
DatasetInfo inspect_dataset(MPI_Comm comm, const std::string& path);

// Why a dataset cannot serve `wanted` ("dataset has n_x 100, 50, 40; case asks 64"), or "" when
// it can: the same experiment, seed, ground truth and steps, every wanted resolution among its
// own and at least as many trajectories (trajectory k depends only on (seed, k), so the first
// `wanted.samples` are the ones a generation with `wanted` would make).
std::string incompatibility(const DatasetInfo& info, const DatasetSpec& wanted);

// Trajectories [first, first + count) at n cells.
struct StoredTrajectories {
  Experiment experiment = Experiment::e1;
  long cells = 0, steps = 0, first = 0, count = 0;
  double t_end = 0.0, length = 0.0;
  std::vector<double> t;                   // [steps]
  std::vector<double> x;                   // [cells] cell centres
  std::vector<double> u;                   // [count, steps, cells] ground truth
  std::vector<double> solver;              // [count, steps, cells] direct solve (if asked)
  std::vector<double> alpha, beta, gamma;  // [count]
};
// Collective (each rank its own first/count). `cells` not among the file's resolutions is one
// ConfigError naming the file: "dataset has n_x 100, 50, 40; case asks 64". `with_solver` also
// reads /solver/<cells> (a ConfigError when cells is the ground truth's).
StoredTrajectories read_trajectories(MPI_Comm comm, const std::string& path, long cells, long first,
                                     long count, bool with_solver = false);

}  // namespace karman::mppde
