#include "karman/nn/trainer.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "karman/core/error.hpp"
#include "karman/core/interrupt.hpp"
#include "karman/core/log.hpp"
#include "karman/core/progress.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"

namespace karman::nn {

template <class T>
Trainer<T>::Trainer(MPI_Comm comm, Parameters<T>& parameters, LossFunction loss,
                    TrainerOptions options)
    : m_comm(comm),
      m_parameters(parameters),
      m_loss(std::move(loss)),
      m_options(std::move(options)) {}

template <class T>
Trainer<T>::Trainer(MPI_Comm comm, Parameters<T>& parameters, ChunkedLoss loss,
                    TrainerOptions options)
    : m_comm(comm),
      m_parameters(parameters),
      m_chunked(std::make_unique<ChunkedSum<T>>(comm, parameters, std::move(loss))),
      m_options(std::move(options)) {}

namespace {

// Thrown out of an L-BFGS or natural-gradient iteration when the run is interrupted: those stages
// keep no resumable state mid-way, so the stage is abandoned and resumes from its start.
struct StageInterrupted {};

std::string figures(double loss, const std::vector<LossTerm>& terms, double lr) {
  std::string out = fmt::format("loss {:.4e}", loss);
  if (terms.size() > 1) {
    out += " [";
    for (std::size_t i = 0; i < terms.size(); ++i)
      out += fmt::format("{}{} {:.3e}", i ? ", " : "", terms[i].name, terms[i].value);
    out += "]";
  }
  if (lr > 0) out += fmt::format("  lr {:.2e}", lr);
  return out;
}

}  // namespace

template <class T>
typename Trainer<T>::Evaluation Trainer<T>::evaluate(long step) {
  Evaluation e;
  if (m_chunked) {
    e.terms = (*m_chunked)(step);  // global terms and gradient, the same bits on every rank
    e.loss = total_loss(e.terms);
    return e;
  }
  m_parameters.zero_gradients();
  e.terms = m_loss(step);
  int size;
  MPI_Comm_size(m_comm, &size);
  if (size > 1) {
    // One allreduce per step: gradients and loss terms packed into one host buffer.
    const std::size_t n = m_parameters.size(), k = e.terms.size();
    m_reduce.resize(n + k);
    auto gradients =
        Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_parameters.gradients());
    for (std::size_t i = 0; i < n; ++i) m_reduce[i] = static_cast<double>(gradients(i));
    for (std::size_t i = 0; i < k; ++i) m_reduce[n + i] = e.terms[i].value;
    MPI_Allreduce(MPI_IN_PLACE, m_reduce.data(), static_cast<int>(n + k), MPI_DOUBLE, MPI_SUM,
                  m_comm);
    for (std::size_t i = 0; i < n; ++i) gradients(i) = static_cast<T>(m_reduce[i]);
    for (std::size_t i = 0; i < k; ++i) e.terms[i].value = m_reduce[n + i];
    Kokkos::deep_copy(m_parameters.gradients(), gradients);
  }
  e.loss = total_loss(e.terms);
  return e;
}

template <class T>
std::vector<LossTerm> Trainer<T>::evaluate_terms(long step,
                                                 const std::function<bool(std::size_t)>& wanted,
                                                 std::vector<std::vector<double>>& gradients) {
  if (m_chunked) return m_chunked->by_term(step, wanted, gradients);
  if (!term_loss) throw InternalError("a combine rule without a term-by-term loss");
  const std::size_t n = m_parameters.size();
  m_reduce.clear();  // [gradient of each term (n each), the term values]
  m_parameters.zero_gradients();
  const TermHooks hooks{wanted, [&](std::size_t term) {
                          KARMAN_VERIFY(m_reduce.size() == term * n, "terms done out of order");
                          auto g = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                                       m_parameters.gradients());
                          for (std::size_t i = 0; i < n; ++i)
                            m_reduce.push_back(static_cast<double>(g(i)));
                          m_parameters.zero_gradients();
                        }};
  std::vector<LossTerm> terms = term_loss(step, hooks);
  const std::size_t m = terms.size();
  KARMAN_VERIFY(m_reduce.size() == m * n, "a term-by-term loss skipped a term's hook");
  for (const LossTerm& t : terms) m_reduce.push_back(t.value);
  int size;
  MPI_Comm_size(m_comm, &size);
  if (size > 1)
    MPI_Allreduce(MPI_IN_PLACE, m_reduce.data(), static_cast<int>(m_reduce.size()), MPI_DOUBLE,
                  MPI_SUM, m_comm);
  gradients.assign(m, std::vector<double>(n));
  for (std::size_t k = 0; k < m; ++k)
    std::copy(m_reduce.begin() + k * n, m_reduce.begin() + (k + 1) * n, gradients[k].begin());
  for (std::size_t k = 0; k < m; ++k) terms[k].value = m_reduce[m * n + k];
  return terms;
}

template <class T>
typename Trainer<T>::Evaluation Trainer<T>::evaluate_combined(long step, long stage_step,
                                                              const CombineOptions& options,
                                                              const Checkpoint* resume) {
  std::vector<std::vector<double>> gradients;
  Evaluation e;
  if (!m_combination) {
    // The rule needs the term count: the stage's first step back-propagates every term.
    e.terms = evaluate_terms(
        step, [](std::size_t) { return true; }, gradients);
    m_combination = std::make_unique<LossCombination>(options, e.terms.size(), m_parameters.size());
    if (resume) m_combination->restore(*resume, m_options.checkpoint_path);
  } else {
    const LossCombination& rule = *m_combination;
    e.terms = evaluate_terms(
        step, [&rule, step](std::size_t term) { return rule.wanted(step, term); }, gradients);
  }
  const std::vector<double> direction = m_combination->combine(step, stage_step, gradients);
  auto host = Kokkos::create_mirror_view(m_parameters.gradients());
  for (std::size_t i = 0; i < direction.size(); ++i) host(i) = static_cast<T>(direction[i]);
  Kokkos::deep_copy(m_parameters.gradients(), host);
  e.loss = total_loss(e.terms);
  return e;
}

template <class T>
void Trainer<T>::checkpoint(long step, int stage, long stage_step, Optimizer<T>* optimizer,
                            const TrainingResult& result) {
  if (m_options.checkpoint_path.empty()) return;
  Checkpoint c;
  store_parameters(c, m_parameters);
  if (optimizer) store_optimizer(c, *optimizer);
  if (optimizer && m_combination) m_combination->save(c);  // mid-stage: the rule's state too
  c.scalars["step"] = static_cast<double>(step);
  c.scalars["stage"] = stage;
  c.scalars["stage_step"] = static_cast<double>(stage_step);
  c.scalars["wall_s"] = result.wall_s;
  c.scalars["precision_bits"] = 8 * sizeof(T);
  // The loss history so far, so a resumed run reports the whole curve.
  std::vector<double> steps, losses, lrs, norms;
  for (const auto& r : result.history) {
    steps.push_back(static_cast<double>(r.step));
    losses.push_back(r.loss);
    lrs.push_back(r.lr);
    norms.push_back(r.gradient_norm);
  }
  c.arrays["history/step"] = steps;
  c.arrays["history/loss"] = losses;
  c.arrays["history/lr"] = lrs;
  c.arrays["history/gradient_norm"] = norms;
  if (save_extra) save_extra(c);
  save_checkpoint(m_comm, m_options.checkpoint_path, c);
  m_last_checkpoint_step = step;
}

template <class T>
std::string Trainer<T>::last_good() const {
  if (m_options.checkpoint_path.empty() || m_last_checkpoint_step < 0) return "";
  return fmt::format("; last good checkpoint: {} (step {})", m_options.checkpoint_path,
                     m_last_checkpoint_step);
}

template <class T>
bool Trainer<T>::interrupted() {
  if (m_signal == 0) m_signal = interrupt_requested(m_comm);
  return m_signal != 0;
}

template <class T>
void Trainer<T>::stop_interrupted(TrainingResult& result, const std::string& where) {
  result.stop_reason = "interrupted";
  result.message = fmt::format("interrupted by {} {}", signal_name(m_signal), where);
}

template <class T>
bool Trainer<T>::run_first_order(int stage, long first_step, const Checkpoint* resume,
                                 Optimizer<T>& optimizer, TrainingResult& result, long& step) {
  const StageOptions& s = m_options.stages[stage];
  Schedule schedule = s.schedule;
  schedule.total = s.steps;
  Progress progress(fmt::format("{} stage {}", s.optimizer, stage + 1), s.steps,
                    m_options.log_every, m_options.quiet);
  Timer wall;
  const double wall_start = result.wall_s;
  m_combination.reset();
  const bool combined = s.combine.rule != "sum";
  for (long k = first_step; k < s.steps; ++k) {
    const double lr = schedule.at(k);
    Evaluation e = combined
                       ? evaluate_combined(step, k, s.combine, k == first_step ? resume : nullptr)
                       : evaluate(step);
    if (!std::isfinite(e.loss)) {
      result.stop_reason = "non_finite";
      result.message = fmt::format("training stopped at step {}: the loss became {} ({}){}",
                                   step + 1, e.loss, figures(e.loss, e.terms, lr), last_good());
      return false;
    }
    const double norm =
        s.clip > 0 ? clip_gradient_norm(m_parameters, s.clip) : gradient_norm(m_parameters);
    optimizer.step(m_parameters, lr);
    ++step;
    result.wall_s = wall_start + wall.seconds();
    TrainingRecord record{step, stage, lr, e.loss, norm, result.wall_s, {}};
    for (const auto& t : e.terms) record.terms.push_back(t.value);
    result.history.push_back(record);
    result.final_loss = e.loss;
    result.final_terms = e.terms;
    if (validate && m_options.validate_every > 0 &&
        (step % m_options.validate_every == 0 || k + 1 == s.steps)) {
      result.history.back().validation = validate();
      log().info("step {}: validation {:.4e}", step, result.history.back().validation);
    }
    progress.update(k + 1, figures(e.loss, e.terms, lr));
    if (m_options.target_loss > 0 && e.loss <= m_options.target_loss) {
      result.stop_reason = "target_loss";
      checkpoint(step, stage, k + 1, &optimizer, result);
      return false;
    }
    const bool last = k + 1 == s.steps;
    if (m_options.checkpoint_every > 0 && step % m_options.checkpoint_every == 0 && !last)
      checkpoint(step, stage, k + 1, &optimizer, result);
    if (m_options.stop_after >= 0 && step >= m_options.stop_after) {
      checkpoint(step, stage, k + 1, &optimizer, result);
      result.stop_reason = "stopped";
      return false;
    }
    // A stage's last step goes on to the stage-end checkpoint; run() stops after it.
    if (!last && interrupted()) {
      checkpoint(step, stage, k + 1, &optimizer, result);
      stop_interrupted(result, fmt::format("at step {}", step));
      return false;
    }
  }
  progress.finish(figures(result.final_loss, result.final_terms, 0.0));
  if (m_combination && s.combine.rule == "annealing")
    log().info("annealing weights at the end of stage {}: {}", stage + 1,
               fmt::join(m_combination->weights(), ", "));
  m_combination.reset();
  checkpoint(step, stage + 1, 0, nullptr, result);
  m_stage_stop = "max_steps";
  return true;
}

template <class T>
std::string Trainer<T>::abandoned_stage(int stage) const {
  return fmt::format(
      "during {} stage {}, which starts again on resume (the checkpoint holds step {})",
      m_options.stages[stage].optimizer, stage + 1, m_last_checkpoint_step);
}

template <class T>
bool Trainer<T>::run_lbfgs(int stage, TrainingResult& result, long& step) {
  const StageOptions& s = m_options.stages[stage];
  LbfgsOptions options = s.lbfgs;
  options.max_iterations = s.steps;
  Progress progress(fmt::format("lbfgs stage {}", stage + 1), s.steps, m_options.log_every,
                    m_options.quiet, "iterations");
  Timer wall;
  const double wall_start = result.wall_s;
  std::vector<LossTerm> last_terms;
  double last_norm = 0.0;
  auto evaluate_total = [&] {
    Evaluation e = evaluate(step);
    last_terms = e.terms;
    last_norm = gradient_norm(m_parameters);
    return e.loss;
  };
  auto on_iteration = [&](long k, double loss) {
    ++step;
    result.wall_s = wall_start + wall.seconds();
    TrainingRecord record{step, stage, 0.0, loss, last_norm, result.wall_s, {}};
    for (const auto& t : last_terms) record.terms.push_back(t.value);
    result.history.push_back(record);
    if (validate && m_options.validate_every > 0 && step % m_options.validate_every == 0) {
      result.history.back().validation = validate();
      log().info("step {}: validation {:.4e}", step, result.history.back().validation);
    }
    progress.update(k, figures(loss, last_terms, 0.0));
    if (interrupted()) throw StageInterrupted{};
  };
  LbfgsResult r;
  try {
    r = lbfgs_minimize(m_parameters, evaluate_total, options, on_iteration);
  } catch (const StageInterrupted&) {
    stop_interrupted(result, abandoned_stage(stage));
    return false;
  }
  // The terms of the returned (best) point: one more evaluation, not counted as a step.
  Evaluation final = evaluate(step);
  result.final_loss = final.loss;
  result.final_terms = final.terms;
  log().info("lbfgs stage {}: {} iterations, {} evaluations, stopped by {}", stage + 1,
             r.iterations, r.evaluations, r.stop_reason);
  m_stage_stop = r.stop_reason;
  progress.finish(figures(final.loss, final.terms, 0.0));
  if (r.stop_reason == "non_finite" || !std::isfinite(final.loss)) {
    result.stop_reason = "non_finite";
    result.message =
        fmt::format("L-BFGS stopped at step {}: the loss became non-finite{}", step, last_good());
    return false;
  }
  checkpoint(step, stage + 1, 0, nullptr, result);
  return true;
}

template <class T>
bool Trainer<T>::run_gauss_newton(int stage, TrainingResult& result, long& step) {
  const StageOptions& s = m_options.stages[stage];
  if (!least_squares.evaluate)
    throw InternalError("natural_gradient stage without a least-squares loss");
  GaussNewtonOptions options = s.gauss_newton;
  options.max_iterations = s.steps;
  Progress progress(fmt::format("natural_gradient stage {}", stage + 1), s.steps,
                    m_options.log_every, m_options.quiet, "iterations");
  Timer wall;
  const double wall_start = result.wall_s;
  auto on_iteration = [&](long k, double loss, const std::vector<LossTerm>& terms, double eta) {
    ++step;
    result.wall_s = wall_start + wall.seconds();
    TrainingRecord record{step, stage, eta, loss, 0.0, result.wall_s, {}};
    for (const auto& t : terms) record.terms.push_back(t.value);
    result.history.push_back(record);
    result.final_loss = loss;
    result.final_terms = terms;
    if (validate && m_options.validate_every > 0 && step % m_options.validate_every == 0) {
      result.history.back().validation = validate();
      log().info("step {}: validation {:.4e}", step, result.history.back().validation);
    }
    progress.update(k, figures(loss, terms, 0.0) + fmt::format("  step {:.2e}", eta));
    if (interrupted()) throw StageInterrupted{};
  };
  GaussNewtonResult r;
  try {
    r = gauss_newton_minimize(m_comm, m_parameters, least_squares, options, on_iteration);
  } catch (const StageInterrupted&) {
    stop_interrupted(result, abandoned_stage(stage));
    return false;
  }
  log().info("natural_gradient stage {}: {} iterations, {} evaluations, stopped by {}", stage + 1,
             r.iterations, r.evaluations, r.stop_reason);
  m_stage_stop = r.stop_reason;
  // Terms and gradient at the returned point, as after every stage.
  Evaluation final = evaluate(step);
  result.final_loss = final.loss;
  result.final_terms = final.terms;
  progress.finish(figures(final.loss, final.terms, 0.0));
  if (r.stop_reason == "non_finite" || !std::isfinite(final.loss)) {
    result.stop_reason = "non_finite";
    result.message = fmt::format(
        "natural gradient stopped at step {}: the loss became non-finite{}", step, last_good());
    return false;
  }
  checkpoint(step, stage + 1, 0, nullptr, result);
  return true;
}

template <class T>
TrainingResult Trainer<T>::run(const Checkpoint* resume) {
  const ScopedStage timed_stage(Stage::training);
  const InterruptScope listening;  // SIGTERM, SIGUSR1, SIGINT stop the run after a step
  TrainingResult result;
  long step = 0;
  int first_stage = 0;
  long first_step = 0;
  if (resume) {
    step = static_cast<long>(resume->scalar("step"));
    first_stage = static_cast<int>(resume->scalar("stage"));
    first_step = static_cast<long>(resume->scalar("stage_step"));
    result.wall_s = resume->scalar("wall_s");
    const auto& steps = resume->arrays.at("history/step");
    for (std::size_t i = 0; i < steps.size(); ++i)
      result.history.push_back({static_cast<long>(steps[i]),
                                0,
                                resume->arrays.at("history/lr")[i],
                                resume->arrays.at("history/loss")[i],
                                resume->arrays.at("history/gradient_norm")[i],
                                0.0,
                                {}});
    if (!result.history.empty()) result.final_loss = result.history.back().loss;
    log().info("resuming at step {} (stage {}, step {} of it)", step, first_stage + 1, first_step);
  } else {
    // A checkpoint before the first step, so a run that diverges early still has a good one.
    checkpoint(0, 0, 0, nullptr, result);
  }
  for (int stage = first_stage; stage < static_cast<int>(m_options.stages.size()); ++stage) {
    const StageOptions& s = m_options.stages[stage];
    const long first = step;
    m_stage_stop.clear();
    bool go_on;
    if (s.optimizer == "lbfgs") {
      go_on = run_lbfgs(stage, result, step);
    } else if (s.optimizer == "natural_gradient") {
      go_on = run_gauss_newton(stage, result, step);
    } else {
      auto optimizer = make_optimizer<T>(s.first_order, m_parameters);
      const bool mid_stage = resume && stage == first_stage && first_step > 0;
      if (mid_stage) restore_optimizer(*resume, *optimizer, m_options.checkpoint_path);
      go_on = run_first_order(stage, mid_stage ? first_step : 0, mid_stage ? resume : nullptr,
                              *optimizer, result, step);
    }
    result.stages.push_back(
        {s.optimizer, step - first, m_stage_stop.empty() ? result.stop_reason : m_stage_stop});
    if (!go_on) break;
    // A signal during a stage's last step: stop after the stage-end checkpoint.
    if (stage + 1 < static_cast<int>(m_options.stages.size()) && interrupted()) {
      stop_interrupted(result, fmt::format("at step {}, the end of stage {}", step, stage + 1));
      break;
    }
  }
  if (result.stop_reason.empty()) result.stop_reason = "completed";
  result.steps = step;
  return result;
}

template class Trainer<float>;
template class Trainer<double>;

}  // namespace karman::nn
