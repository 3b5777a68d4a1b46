#pragma once
// MP-PDE on trajectories: the model's inputs cut from stored trajectories, autoregressive
// rollouts (the pushforward trick's unrolled steps and the evaluation's full unroll), the
// training loss and the paper's accumulated error.
//
// A trajectory is `steps` states of `nodes` values at t_k = k·Δt; a window starting at step s
// is the model input u^{s−K..s−1} with the time t_s (the first predicted state's, as the
// reference's create_graph), and its target u^{s..s+K−1}.
//
// On a partitioned sample graph (SampleGraph::halo) every rank holds the same trajectories at
// its local nodes (owned, then halo) and runs every batch, each on its part of the graph: the
// forward and backward are collective, a loss or error is this rank's owned nodes' part (the
// sum over ranks is the whole), and the parameter gradients are this rank's part of the sum.

#include <cstdint>
#include <vector>

#include "operators/mppde/graph.hpp"
#include "operators/mppde/model.hpp"

namespace karman::mppde {

// Trajectories of one resolution, in memory.
struct Trajectories {
  long count = 0, steps = 0, nodes = 0;
  std::vector<double> u;           // [count, steps, nodes]
  long parameters = 0;             // θ per trajectory: the equation parameters the model reads
  std::vector<double> conditions;  // [count, parameters] θ, normalised (θ / θ_max)
  // Coefficient fields the model reads per node (a mesh case's κ(x)), after θ.
  long node_parameters = 0;
  std::vector<double> node_conditions;  // [count, nodes, node_parameters]
  double dt = 0.0, t_max = 0.0;         // between stored states; the last state's time
  double value(long trajectory, long step, long node) const {
    return u[(trajectory * steps + step) * nodes + node];
  }
};

// The MP-PDE model applied to B windows at once on B copies of one sample graph.
template <class T>
class Rollout {
 public:
  Rollout(MpPdeModel<T>& model, const SampleGraph& sample, const Trajectories& data);

  // Load windows: trajectory `trajectories[b]` from step `starts[b]` (K ≤ start ≤ steps − K).
  void load(const std::vector<long>& trajectories, const std::vector<long>& starts);
  // One forward on the loaded windows (no reset of `workspace`): the context, h_out the
  // prediction [B·n, K] of u^{s..s+K−1}.
  nn::GraphContext<T>& predict(nn::Workspace<T>& workspace);
  // The next windows: the prediction becomes the input, every start moves by K.
  void feed_back(const Matrix<T>& prediction);
  // The targets u^{s..s+K−1} of the loaded windows [B·n, K].
  const Matrix<T>& targets();

  // The reference's training loss on one batch (pushforward trick): `unroll` model steps from
  // the windows at `starts` WITHOUT gradient (each prediction fed back as the next input), then
  // one step whose squared error against the true states, Σ_{b,n,ℓ} (û − u)² / normaliser, is
  // the loss; its gradient is ADDED to the parameters' (as `gradient` says). Returns the loss.
  // The reference takes the square root of the batch's summed error before back-propagating;
  // under Adam(W) that only rescales a step's gradient, and a plain sum adds up over ranks.
  double pushforward_loss(nn::Workspace<T>& workspace, const std::vector<long>& trajectories,
                          const std::vector<long>& starts, long unroll, double normaliser,
                          const nn::Gradient<T>& gradient = nn::Gradient<T>::accumulate());

  // The paper's accumulated error of full unrolls (test_unrolled_losses) of trajectories
  // [first, first + count), `batch` at a time: from the true window before step
  // s0 = K·ground_truth_windows, windows of K predicted states fed back while they fit in the
  // trajectory; per trajectory (1/n) Σ_{t ≥ s0} Σ_x (û − u)² (partitioned: the sum over this
  // rank's owned nodes, n all nodes; sum it over the ranks). rollout_s: the model steps' wall
  // time (not the error sums).
  struct AccumulatedError {
    std::vector<double> per_trajectory;
    double rollout_s = 0.0;
    long windows = 0;  // model steps per trajectory
  };
  AccumulatedError accumulated_error(nn::Workspace<T>& workspace, long first, long count,
                                     long ground_truth_windows, long batch);

  const std::vector<long>& starts() const { return m_starts; }
  long batch() const { return static_cast<long>(m_trajectories.size()); }
  long window() const { return m_model.window(); }  // K
  const Matrix<T>& inputs() const { return m_inputs; }

 private:
  void write_conditions();  // the time and θ columns of m_inputs (host mirror, then device)

  MpPdeModel<T>& m_model;
  const SampleGraph& m_sample;
  const Trajectories& m_data;
  BatchGraph<T> m_graph;
  mesh::Halo m_halo;  // partitioned: the sample's halo batched over m_graph's copies
  std::vector<long> m_trajectories, m_starts;
  Matrix<T> m_inputs;       // [B·n, K + P + C]
  Matrix<T> m_targets;      // [B·n, K]
  Matrix<T> m_dprediction;  // [B·n, K]
  typename Matrix<T>::HostMirror m_host;
};

// The training batch of step `step` under the reference's pushforward schedule (the same on every
// rank): an epoch is `passes` passes over the `trajectories` training trajectories in batches of
// `batch` (the last one partial), each pass in its own permutation; one unroll count r uniform in
// [0, min(epoch, unrolling)] per batch; per trajectory a start s uniform in
// [K, steps − K − K·r] (train_helper.training_loop). Every draw is a function of (seed, step),
// so a resumed run takes exactly the steps of an uninterrupted one.
struct PushforwardSchedule {
  long trajectories = 0, batch = 16, passes = 1, unrolling = 1, window = 25, steps = 250;
  std::uint64_t seed = 0;
  long batches_per_pass() const { return (trajectories + batch - 1) / batch; }
  long steps_per_epoch() const { return passes * batches_per_pass(); }
};
struct PushforwardBatch {
  std::vector<long> trajectories, starts;  // [size]
  long unroll = 0;
  long size() const { return static_cast<long>(trajectories.size()); }
};
PushforwardBatch pushforward_batch(const PushforwardSchedule& schedule, long step);

// The same metric for any predicted trajectories (the classical solver at the model's
// resolution): pred [count, steps, nodes] against data's trajectories [first, first + count),
// over the steps [first_step, end_step) (the model's: K·ground_truth_windows to the end of its
// last whole window).
std::vector<double> accumulated_error(const Trajectories& data, const std::vector<double>& pred,
                                      long first_trajectory, long count, long first_step,
                                      long end_step);

}  // namespace karman::mppde
