#include "karman/run/outputs.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "karman/core/error.hpp"
#include "karman/core/interrupt.hpp"
#include "karman/core/log.hpp"

namespace karman::run {

nlohmann::json baseline_json(const solvers::SolveStats& s) {
  nlohmann::json options = nlohmann::json::object();
  for (const auto& [k, v] : s.options) options[k] = v;
  nlohmann::json out = {{"solver", "petsc"},
                        {"ksp", s.ksp},
                        {"pc", s.pc},
                        {"options", options},
                        {"iterations", s.iterations},
                        {"residual_norm", s.residual_norm},
                        {"converged_reason", s.reason},
                        {"setup_s", s.setup_s},
                        {"solve_s", s.solve_s},
                        {"wall_s", s.setup_s + s.solve_s}};
  if (!s.residual_history.empty()) out["residual_history"] = s.residual_history;
  if (!s.ts.empty()) {
    out["ts"] = s.ts;
    out["steps"] = s.steps;
    out["nonlinear_iterations"] = s.nonlinear_iterations;
  }
  if (!s.snes.empty()) {
    out["snes"] = s.snes;
    out["nonlinear_iterations"] = s.nonlinear_iterations;
  }
  return out;
}

void report_reference_solve(RunContext& ctx, const solvers::SolveStats& stats,
                            nlohmann::json metrics, const char* pde) {
  log().info("PETSc {} + {}: {} iterations, residual {:.3e} ({}), setup {:.3f} s, solve {:.3f} s",
             stats.ksp, stats.pc, stats.iterations, stats.residual_norm, stats.reason,
             stats.setup_s, stats.solve_s);
  metrics["solve_s"] = stats.setup_s + stats.solve_s;
  (*ctx.report)["metrics"] = std::move(metrics);
  (*ctx.report)["baseline"] = baseline_json(stats);
  (*ctx.report)["pde"] = pde;
}

nlohmann::json stages_json(const nn::TrainingResult& result) {
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& s : result.stages)
    stages.push_back(
        {{"optimizer", s.optimizer}, {"steps", s.steps}, {"stop_reason", s.stop_reason}});
  return stages;
}

void write_history(RunContext& ctx, const nn::TrainingResult& result,
                   const std::string& validation_name) {
  const std::string path = ctx.dir->staged("history.csv");
  if (ctx.rank != 0) return;
  // Each loss term (residual, boundary, initial, ...) of a loss with several: loss_<name>
  // columns before the validation, which stays last.
  std::vector<std::string> terms;
  if (result.final_terms.size() > 1)
    for (const auto& t : result.final_terms) terms.push_back(t.name);
  std::ofstream out(path);
  out << "step,stage,lr,loss,gradient_norm,wall_s,";
  for (const auto& name : terms) out << "loss_" << name << ",";
  out << validation_name << "\n";
  for (const auto& r : result.history) {
    out << fmt::format("{},{},{:.6e},{:.16e},{:.6e},{:.4f},", r.step, r.stage + 1, r.lr, r.loss,
                       r.gradient_norm, r.wall_s);
    for (std::size_t i = 0; i < terms.size(); ++i)
      out << (r.terms.size() == terms.size() ? fmt::format("{:.6e}", r.terms[i]) : "") << ",";
    out << (std::isnan(r.validation) ? std::string() : fmt::format("{:.6e}", r.validation)) << "\n";
  }
}

void throw_if_interrupted(RunContext& ctx, const nn::TrainingResult& result) {
  if (result.stop_reason != "interrupted") return;
  // The method's evaluation is skipped (the time limit is near): report what training did.
  (*ctx.report)["metrics"] = {{"final_loss", result.final_loss},
                              {"steps", result.steps},
                              {"train_wall_s", result.wall_s},
                              {"stop_reason", result.stop_reason},
                              {"stages", stages_json(result)}};
  throw Interrupted(result.message);
}

namespace {

template <class T, class Loss>
nn::TrainingResult train_in_run_folder(RunContext& ctx, nn::Parameters<T>& parameters, Loss loss,
                                       nn::TrainerOptions options, std::function<double()> validate,
                                       nn::LeastSquares<T> least_squares, SaveExtra save_extra,
                                       nn::TermLossFunction term_loss = {}) {
  const std::string checkpoint =
      (std::filesystem::path(ctx.dir->path()) / "checkpoint.h5").string();
  options.checkpoint_path = checkpoint;
  nn::Trainer<T> trainer(ctx.comm, parameters, std::move(loss), options);
  trainer.validate = std::move(validate);
  trainer.least_squares = std::move(least_squares);
  trainer.term_loss = std::move(term_loss);
  trainer.save_extra = [&ctx, extra = std::move(save_extra)](nn::Checkpoint& c) {
    c.strings["config"] = ctx.resolved_yaml;
    c.strings["precision"] = ctx.precision;
    if (extra) extra(c);
  };
  std::optional<nn::Checkpoint> resume;
  if (ctx.resume) {
    resume = nn::load_checkpoint(ctx.comm, checkpoint);
    nn::restore_parameters(*resume, parameters, checkpoint);
  }
  nn::TrainingResult result = trainer.run(resume ? &*resume : nullptr);
  throw_if_interrupted(ctx, result);
  return result;
}

}  // namespace

template <class T>
nn::TrainingResult train(RunContext& ctx, nn::Parameters<T>& parameters, nn::LossFunction loss,
                         nn::TrainerOptions options, std::function<double()> validate,
                         nn::LeastSquares<T> least_squares, SaveExtra save_extra,
                         nn::TermLossFunction term_loss) {
  return train_in_run_folder<T>(ctx, parameters, std::move(loss), std::move(options),
                                std::move(validate), std::move(least_squares),
                                std::move(save_extra), std::move(term_loss));
}

template <class T>
nn::TrainingResult train(RunContext& ctx, nn::Parameters<T>& parameters, nn::ChunkedLoss loss,
                         nn::TrainerOptions options, std::function<double()> validate,
                         nn::LeastSquares<T> least_squares, SaveExtra save_extra) {
  if (loss.chunks < ctx.size)
    throw ConfigError(Place{ctx.case_file},
                      fmt::format("training.chunks: {} chunks cannot be shared by {} ranks; set "
                                  "training.chunks to at least "
                                  "the rank count, or training.reproducible: false",
                                  loss.chunks, ctx.size));
  return train_in_run_folder<T>(ctx, parameters, std::move(loss), std::move(options),
                                std::move(validate), std::move(least_squares),
                                std::move(save_extra));
}

template nn::TrainingResult train<float>(RunContext&, nn::Parameters<float>&, nn::LossFunction,
                                         nn::TrainerOptions, std::function<double()>,
                                         nn::LeastSquares<float>, SaveExtra, nn::TermLossFunction);
template nn::TrainingResult train<double>(RunContext&, nn::Parameters<double>&, nn::LossFunction,
                                          nn::TrainerOptions, std::function<double()>,
                                          nn::LeastSquares<double>, SaveExtra,
                                          nn::TermLossFunction);
template nn::TrainingResult train<float>(RunContext&, nn::Parameters<float>&, nn::ChunkedLoss,
                                         nn::TrainerOptions, std::function<double()>,
                                         nn::LeastSquares<float>, SaveExtra);
template nn::TrainingResult train<double>(RunContext&, nn::Parameters<double>&, nn::ChunkedLoss,
                                          nn::TrainerOptions, std::function<double()>,
                                          nn::LeastSquares<double>, SaveExtra);

}  // namespace karman::run
