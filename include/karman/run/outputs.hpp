#pragma once
// Pieces of a run's outputs shared by the methods: the PETSc baseline block of report.json, the
// training history CSV, and training with the run folder's checkpoint (and --resume).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "karman/nn/trainer.hpp"
#include "karman/run/method.hpp"
#include "karman/solvers/stats.hpp"

namespace karman::run {

nlohmann::json baseline_json(const solvers::SolveStats& stats);

// The end of a reference solve: its one log line (solver, iterations, residual, times) and
// report.json's metrics (with solve_s), baseline and pde.
void report_reference_solve(RunContext& ctx, const solvers::SolveStats& stats,
                            nlohmann::json metrics, const char* pde);

// metrics.stages of report.json: [{optimizer, steps, stop_reason}] per stage run.
nlohmann::json stages_json(const nn::TrainingResult& result);

// history.csv (rank 0): step, stage, lr, loss, gradient_norm, wall_s, validation.
void write_history(RunContext& ctx, const nn::TrainingResult& result,
                   const std::string& validation_name);

// A training stopped by a signal (stop_reason "interrupted", its checkpoint written): report.json's
// metrics say how far it got, then karman::Interrupted goes up to `karman run`. For a method's
// own Trainer whose result is its run's (train() calls it).
void throw_if_interrupted(RunContext& ctx, const nn::TrainingResult& result);

// Train with checkpoints in the run folder; with --resume, start from its checkpoint. Throws
// karman::Interrupted (after the checkpoint) when a signal stopped the training.
// `least_squares`: the loss as residuals, for natural_gradient stages. `save_extra`: method state
// stored in every checkpoint beside the case and precision (normalisers, ...).
using SaveExtra = std::function<void(nn::Checkpoint&)>;
// `term_loss`: the loss term by term, for stages with a combine rule other than sum.
template <class T>
nn::TrainingResult train(RunContext& ctx, nn::Parameters<T>& parameters, nn::LossFunction loss,
                         nn::TrainerOptions options, std::function<double()> validate = {},
                         nn::LeastSquares<T> least_squares = {}, SaveExtra save_extra = {},
                         nn::TermLossFunction term_loss = {});

// The same with a chunked loss (the same losses on any rank count); a case error naming
// training.chunks when there are fewer chunks than ranks.
template <class T>
nn::TrainingResult train(RunContext& ctx, nn::Parameters<T>& parameters, nn::ChunkedLoss loss,
                         nn::TrainerOptions options, std::function<double()> validate = {},
                         nn::LeastSquares<T> least_squares = {}, SaveExtra save_extra = {});

}  // namespace karman::run
