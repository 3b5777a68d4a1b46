#pragma once
// Conservation by construction for MP-PDE rollouts (issue 14, point 6): ProbConserv's update
// (karman/nn/conservation.hpp) applied to every predicted state before it is fed back.
//
// The balance. On the periodic E-family u_t + (αu²/2 − βu_x + γu_xx)_x = δ the flux terms
// integrate to zero over the period, so d/dt ∫u = ∫δ dx; the forcing is a sine sum in 2πℓx/L
// with integer ℓ ≥ 1, whose integral over the period is zero, hence ∫u(t) dx = ∫u(0) dx. The
// WENO5 solver is conservative (flux differences, cell-averaged sources), so the data keep
// dx Σ_i u_i(t) = dx Σ_i u_i(0) to round-off (the report's `data_error` measures it), and cell
// averaging to the model's grid keeps it too. The constraint on every predicted state is therefore
// dx Σ_i û_i = dx Σ_i u_i(0) with dx = L / n_x.
//
// The variance: an ensemble of M models trained alike from different initial weights (seed,
// seed + 1, …). At every window each member predicts from the same input, ensemble_statistics
// gives the mean μ and variance σ² [B·n, K] across them, ProbConserv corrects each of the K
// states of μ, and the corrected mean is fed back to every member. Chosen over a variance output
// because it leaves the model, its loss and its gradient checks as they are; the cost is M times
// the training and M forwards per window (the report gives both). M = 1 has no spread: the
// correction is then the orthogonal projection (the mean defect subtracted).

#include <mpi.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "karman/config/node.hpp"
#include "karman/nn/parameters.hpp"
#include "operators/mppde/graph.hpp"
#include "operators/mppde/model.hpp"
#include "operators/mppde/rollout.hpp"

namespace karman::mppde {

// evaluation.conservation: {ensemble: M} (M ≥ 1; default 3). Absent: off (ensemble 0).
struct ConservationSpec {
  long ensemble = 0;
  bool enabled() const { return ensemble > 0; }
};
ConservationSpec read_conservation(const config::Node& evaluation);

// One more member of the ensemble: a model of its own initial weights and its rollouts.
template <class T>
struct EnsembleMember {
  std::unique_ptr<MpPdeModel<T>> model;
  std::unique_ptr<nn::Parameters<T>> parameters;
  std::unique_ptr<Rollout<T>> train_rollout, test_rollout;
};
// A model as the runner builds its own (positions 1, `conditions` = time + θ), initialised with
// `seed`, and its rollouts on `train` and `test`.
template <class T>
EnsembleMember<T> make_member(const MpPdeSpec& spec, long conditions, std::uint64_t seed,
                              const SampleGraph& sample, const Trajectories& train,
                              const Trajectories& test);

// What is done to each predicted state of the ensemble mean: nothing; ProbConserv's update with
// the ensemble's variance; or with equal variances (the orthogonal projection: the mean defect
// subtracted everywhere), which tells the weighting's effect from the constraint's.
enum class Correction { none, ensemble_variance, equal_variance };

// Full unrolls of the ensemble's mean as in Rollout::accumulated_error (trajectories [first,
// first + count) of `data`, `batch` at a time, from step K·ground_truth_windows), each window's K
// states corrected as `correction` says. Per trajectory: the paper's accumulated error
// and the conservation error max_t |dx Σ û(t) − dx Σ u(0)| over the predicted states.
struct ConservedRollout {
  std::vector<double> accumulated, conservation;  // [count]
  double rollout_s = 0.0;                         // model steps, statistics and corrections
};
template <class T>
ConservedRollout ensemble_rollout(const std::vector<Rollout<T>*>& members, const Trajectories& data,
                                  nn::Workspace<T>& workspace, long first, long count,
                                  long ground_truth_windows, long batch, double dx,
                                  Correction correction);

// metrics.conservation of the report (collective over `comm`; `members` rolled out on this
// rank's `local` test trajectories of `total`): the ensemble's mean rollout without and with the
// correction — error_without / error_with (max over trajectories and times of the conservation
// error), accumulated_error_without / _with (mean over trajectories) — the first member alone
// (`single_model`), the correction with equal variances (`equal_variance`), the data's own
// conservation error and the rollout time per trajectory.
template <class T>
nlohmann::json conservation_metrics(MPI_Comm comm, const std::vector<Rollout<T>*>& members,
                                    const Trajectories& test, nn::Workspace<T>& workspace,
                                    long total, long ground_truth_windows, long batch, double dx);

// max over the trajectories and steps of |dx Σ u(t) − dx Σ u(0)| in `data` (this rank's).
double data_conservation_error(const Trajectories& data, double dx);

}  // namespace karman::mppde
