#pragma once
// The training loop shared by every learned method. A run is a list of stages (e.g. Adam, then
// L-BFGS); each step the trainer zeroes the gradients, asks the method for this rank's loss terms
// and gradients, sums both over the ranks with one MPI_Allreduce (data parallelism), stops on a
// non-finite loss, clips, steps the optimizer, records the history, reports progress and writes
// checkpoints. A run resumed from a checkpoint continues the first-order stages bitwise.
// On SIGTERM, SIGUSR1 or SIGINT (core/interrupt.hpp) every rank stops after the same step: a
// first-order stage checkpoints there (resumed bitwise, mid-stage), an L-BFGS or natural-gradient
// stage is abandoned (resumed from its start); stop_reason is then "interrupted".
// Given a ChunkedLoss instead, it sums the loss in fixed chunks along a fixed tree
// (chunked_loss.hpp): the same bits on any number of ranks, at some cost per step.

#include <mpi.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "karman/nn/checkpoint.hpp"
#include "karman/nn/chunked_loss.hpp"
#include "karman/nn/gauss_newton.hpp"
#include "karman/nn/lbfgs.hpp"
#include "karman/nn/loss.hpp"
#include "karman/nn/loss_combination.hpp"
#include "karman/nn/optimizer.hpp"

namespace karman::nn {

struct StageOptions {
  std::string optimizer = "adam";   // sgd | adam | adamw | lbfgs | natural_gradient
  long steps = 1000;                // steps, or iterations for lbfgs
  OptimizerOptions first_order;     // sgd, adam, adamw
  Schedule schedule;                // sgd, adam, adamw (schedule.total = steps)
  double clip = 0.0;                // max global gradient norm; 0: no clipping
  CombineOptions combine;           // sgd, adam, adamw: how the loss terms' gradients combine
  LbfgsOptions lbfgs;               // lbfgs (max_iterations = steps)
  GaussNewtonOptions gauss_newton;  // natural_gradient (max_iterations = steps)
};

struct TrainerOptions {
  std::vector<StageOptions> stages;
  long log_every = 100;
  long checkpoint_every = 0;  // 0: at the end of each stage only
  long validate_every = 0;    // steps between calls of Trainer::validate; 0: never
  double target_loss = 0.0;   // stop early once the loss is at or below it
  bool quiet = false;
  std::string checkpoint_path;  // empty: no checkpoints
  long stop_after = -1;         // stop (checkpoint written) after this many steps, as if killed
};

// This rank's loss terms at step `step` (normalised by the global batch, so that the sum over
// ranks is the loss); the gradients of their weighted sum are ADDED to the parameters' gradients.
using LossFunction = std::function<std::vector<LossTerm>(long step)>;
// The same term by term, for loss-combination rules (loss_combination.hpp): each term's
// gradient goes through `hooks` instead of being added up.
using TermLossFunction = std::function<std::vector<LossTerm>(long step, const TermHooks& hooks)>;

struct TrainingRecord {
  long step = 0;  // 1-based global step (or L-BFGS iteration) that produced this loss
  int stage = 0;
  double lr = 0.0, loss = 0.0, gradient_norm = 0.0, wall_s = 0.0;
  std::vector<double> terms;
  double validation = NAN;  // Trainer::validate at this step, when it ran
};

// What one stage did: its steps (L-BFGS, natural gradient: iterations) and why it ended —
// "max_steps" (all configured steps), an L-BFGS or Gauss–Newton stop reason ("tolerance_change",
// "no_decrease", ...), or the run's "target_loss" / "non_finite" / "stopped" / "interrupted".
struct StageReport {
  std::string optimizer;
  long steps = 0;
  std::string stop_reason;
};

struct TrainingResult {
  long steps = 0;  // global steps done, including those before a resume
  double final_loss = 0.0;
  std::vector<LossTerm> final_terms;
  std::string stop_reason;  // completed | target_loss | non_finite | stopped | interrupted
  std::string message;      // non_finite, interrupted: what happened and where
  double wall_s = 0.0;
  std::vector<TrainingRecord> history;
  std::vector<StageReport> stages;  // the stages this run (or resumed run) went through
};

template <class T>
class Trainer {
 public:
  Trainer(MPI_Comm comm, Parameters<T>& parameters, LossFunction loss, TrainerOptions options);
  // Reproducible across rank counts: the chunks' sums in a fixed order instead of an allreduce.
  Trainer(MPI_Comm comm, Parameters<T>& parameters, ChunkedLoss loss, TrainerOptions options);

  // Method state to carry in checkpoints (normalisers, data-sampler state, config).
  std::function<void(Checkpoint&)> save_extra;
  // Error on held-out data (the same on every rank), every validate_every steps and at the end
  // of each first-order stage; logged and kept in the history.
  std::function<double()> validate;
  // The loss as scaled residuals with their Jacobian, for natural_gradient stages.
  LeastSquares<T> least_squares;
  // This rank's loss term by term, for stages whose `combine` is not sum (a chunked loss brings
  // its own: ChunkedLoss::evaluate_terms).
  TermLossFunction term_loss;

  TrainingResult run(const Checkpoint* resume = nullptr);

 private:
  struct Evaluation {
    std::vector<LossTerm> terms;
    double loss = 0.0;
  };
  Evaluation evaluate(long step);  // zero, compute, allreduce (or the chunked sum)
  // A combine rule's step: the per-term gradients (allreduced, or chunked along the fixed tree)
  // and the rule's direction in the parameters' gradients; `resume`: the rule's saved state.
  Evaluation evaluate_combined(long step, long stage_step, const CombineOptions& options,
                               const Checkpoint* resume);
  std::vector<LossTerm> evaluate_terms(long step, const std::function<bool(std::size_t)>& wanted,
                                       std::vector<std::vector<double>>& gradients);
  void checkpoint(long step, int stage, long stage_step, Optimizer<T>* optimizer,
                  const TrainingResult& result);
  // `resume`: the checkpoint a mid-stage resume continues from (the combine rule's state), or null.
  bool run_first_order(int stage, long first_step, const Checkpoint* resume,
                       Optimizer<T>& optimizer, TrainingResult& result, long& step);
  bool run_lbfgs(int stage, TrainingResult& result, long& step);
  bool run_gauss_newton(int stage, TrainingResult& result, long& step);
  std::string last_good() const;  // "; last good checkpoint: PATH (step N)" or ""
  // Whether any rank received SIGTERM, SIGUSR1 or SIGINT (collective; once seen, stays true).
  bool interrupted();
  void stop_interrupted(TrainingResult& result, const std::string& where);
  std::string abandoned_stage(
      int stage) const;  // where an L-BFGS or natural-gradient stage stopped

  MPI_Comm m_comm;
  Parameters<T>& m_parameters;
  LossFunction m_loss;
  std::unique_ptr<ChunkedSum<T>> m_chunked;  // set: a chunked loss, summed in a fixed order
  TrainerOptions m_options;
  std::vector<double> m_reduce;  // host buffer [size + terms] for the one allreduce per step
  std::unique_ptr<LossCombination> m_combination;  // the running stage's combine rule, if any
  long m_last_checkpoint_step = -1;
  std::string m_stage_stop;  // why the last stage ended (set by the run_* functions)
  int m_signal = 0;          // the signal that interrupts the run (interrupt.hpp), or 0
};

}  // namespace karman::nn
