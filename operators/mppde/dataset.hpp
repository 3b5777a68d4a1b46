#pragma once
// Trajectory datasets of the MP-PDE experiments (E1, E2, E3: experiment.hpp), made by Karman's
// WENO5 solver (karman/solvers/weno.hpp) as the paper made them: each trajectory is solved at
// `ground_truth` cells (200) with kOutputs = 250 stored levels over [0, T], and stored averaged
// down to every requested resolution n (exact averages of ground_truth/n fine cells: 200 → 100,
// 50, 40); beside it the same trajectory solved directly at each coarse n (the paper's "WENO5"
// column compares those with the averaged ground truth).
//
// File layout (HDF5, float64, C order; written collectively with MPI-IO):
//   /u/<n>        [S, 250, n]  ground truth averaged to n cells (n in `resolutions`)
//   /solver/<n>   [S, 250, n]  the trajectory solved at n cells (n < ground_truth)
//   /alpha, /beta, /gamma [S]  the equation of each trajectory (code form: flux α u²/2)
//   /t            [250]        t_k = k T / 249
//   /x/<n>        [n]          cell centres (i + ½)·16/n
//   /complete     [S] uint8    1 once trajectory k is written (generation is resumable)
//   /             attributes: experiment ("E1"), seed, samples, resolutions [..], ground_truth,
//                 t_end, length, outputs, generator (every setting that determines the values,
//                 one line), config (the generating case), karman_version.
// Trajectories are split over the ranks in contiguous shares, each solved on MPI_COMM_SELF, so
// the file holds bitwise the same values on any rank count. Generation writes `path.partial` and
// renames it to `path` once every trajectory is in; with `resume` a partial file with the same
// generator line keeps its completed trajectories.

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "karman/config/node.hpp"
#include "operators/mppde/experiment.hpp"

namespace karman::mppde {

struct DatasetSpec {
  Experiment experiment = Experiment::e1;
  long samples = 16;
  std::uint64_t seed = 1;
  long ground_truth = 200;                     // cells of the ground-truth solve
  std::vector<long> resolutions{100, 50, 40};  // each divides ground_truth
  double cfl = 0.4;                            // solvers::WenoOptions of every solve
  int derivative_order = 4;
  double t_end() const { return ranges(experiment).t_end; }
};

// Reads a case's dataset section: experiment (E1 | E2 | E3, required), samples (16), seed (1),
// ground_truth (200), resolutions ([100, 50, 40]; each must divide ground_truth), cfl (0.4),
// derivative_order (4). Every bad value is a ConfigError at its key.
DatasetSpec read_dataset_spec(const config::Node& data);

// Every setting that determines the values, as one line (the `generator` attribute).
std::string describe(const DatasetSpec& spec);

// One trajectory, solved on MPI_COMM_SELF: per resolution (in spec.resolutions order) the
// averaged ground truth and the direct solve, each [kOutputs, n], and the solves' figures.
struct TrajectoryData {
  TrajectoryParameters parameters;
  std::vector<std::vector<double>> ground_truth, solver;  // [resolution][kOutputs · n]
  std::vector<double> solver_wall_s;  // per resolution (0 when n = ground_truth)
  std::vector<long> solver_steps;
  double ground_truth_wall_s = 0.0;
  long ground_truth_steps = 0;
};
TrajectoryData solve_trajectory(const DatasetSpec& spec, long index);

// [kOutputs, fine] averaged over groups of fine/coarse consecutive cells: [kOutputs, coarse].
std::vector<double> average_cells(const std::vector<double>& fine, long levels, long fine_cells,
                                  long coarse_cells);

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
  long samples = 0, outputs = 0, ground_truth = 0;
  std::vector<long> resolutions;
  double t_end = 0.0, length = 0.0;
  long seed = -1;
  std::string generator, config;
};
// Collective. Missing file or datasets, wrong shapes or incomplete trajectories: one ConfigError
// naming the file.
DatasetInfo inspect_dataset(MPI_Comm comm, const std::string& path);

// Trajectories [first, first + count) at n cells.
struct Trajectories {
  Experiment experiment = Experiment::e1;
  long cells = 0, outputs = 0, first = 0, count = 0;
  double t_end = 0.0, length = 0.0;
  std::vector<double> t;                   // [outputs]
  std::vector<double> x;                   // [cells] cell centres
  std::vector<double> u;                   // [count, outputs, cells] ground truth
  std::vector<double> solver;              // [count, outputs, cells] direct solve (if asked)
  std::vector<double> alpha, beta, gamma;  // [count]
};
// Collective (each rank its own first/count). `cells` not among the file's resolutions is one
// ConfigError naming the file: "dataset has n_x 100, 50, 40; case asks 64". `with_solver` also
// reads /solver/<cells> (a ConfigError when cells is the ground truth's).
Trajectories read_trajectories(MPI_Comm comm, const std::string& path, long cells, long first,
                               long count, bool with_solver = false);

}  // namespace karman::mppde
