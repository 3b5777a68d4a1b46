// kind: mppde — the message-passing neural PDE solver (Brandstetter, Worrall, Welling, ICLR 2022)
// trained on trajectories of the E1/E2/E3 equation family that Karman's WENO5 solver made
// (operators/mppde/dataset.hpp), then measured as the paper measures it and as McGreivy & Hakim
// ask: the accumulated error of full unrolls of held-out trajectories, beside the paper's
// figures; the rollout time per trajectory at batch 1 and batched; and the WENO5 solver run at the
// coarsest resolution that reaches the network's error, its time beside the network's
// (`baseline`, `speedup`, below 1 when the solver wins).
//
// The trajectories live in an HDF5 dataset (operators/mppde/dataset.hpp; data.file, by default
// the run folder's dataset.h5): generated when missing or made with other settings, reused
// otherwise, and an interrupted generation continues with --resume. Training trajectories are
// 0 … train − 1, test trajectories train … train + test − 1.
//
// Training follows experiments/train.py: each epoch makes `passes` passes over the training
// trajectories in batches; every batch picks one number of unrolled steps r ∈ [0, min(epoch,
// unrolling)] and per trajectory a random start; the pushforward trick unrolls r steps without
// gradient and takes the loss on the next (rollout.hpp). AdamW with the case's schedule (the
// reference: lr 1e-4, multistep milestones [unrolling, 5, 10, 15] × 0.4, 20 epochs, batch 16).
// Data parallel: every rank holds the training trajectories and computes its share of each batch;
// the trainer sums the gradients.

#include "operators/mppde/runner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>

#include "karman/core/collective.hpp"
#include "karman/core/interrupt.hpp"
#include "karman/core/log.hpp"
#include "karman/core/partition.hpp"
#include "karman/core/progress.hpp"
#include "karman/core/random.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"
#include "karman/nn/case_sections.hpp"
#include "karman/run/method.hpp"
#include "karman/run/outputs.hpp"
#include "karman/solvers/weno.hpp"
#include "operators/mppde/conservation.hpp"
#include "operators/mppde/dataset.hpp"
#include "operators/mppde/experiment.hpp"
#include "operators/mppde/graph.hpp"
#include "operators/mppde/mesh_runner.hpp"
#include "operators/mppde/model.hpp"
#include "operators/mppde/rollout.hpp"

namespace karman::mppde {
namespace {

using run::Method;
using run::RunContext;
using run::stages_json;
using run::train;
using run::write_history;

// The paper's Table 1 (accumulated error, 250 steps): MP-PDE and its WENO5 column, per
// experiment and n_x (research notes §4.3).
struct PaperCell {
  Experiment experiment;
  long nodes;
  double mppde, weno5, fno_pf;
};
constexpr PaperCell kPaperTable[] = {
    {Experiment::e1, 100, 1.55, 2.02, 0.54}, {Experiment::e1, 50, 1.67, 6.23, 0.51},
    {Experiment::e1, 40, 1.47, 9.63, 0.57},  {Experiment::e2, 100, 1.58, 1.19, 2.53},
    {Experiment::e2, 50, 1.63, 5.35, 2.27},  {Experiment::e2, 40, 1.45, 8.05, 2.38},
    {Experiment::e3, 100, 4.26, 4.71, 5.69}, {Experiment::e3, 50, 3.74, 11.71, 5.39},
    {Experiment::e3, 40, 3.70, 15.97, 5.98},
};

const PaperCell* paper_cell(Experiment experiment, long nodes) {
  for (const PaperCell& c : kPaperTable)
    if (c.experiment == experiment && c.nodes == nodes) return &c;
  return nullptr;
}

struct EvaluationSpec {
  long ground_truth_windows = 2;    // the reference's nr_gt_steps
  long batch = 128;                 // trajectories per batched rollout
  long timing_trajectories = 8;     // rolled out one at a time for the batch-1 time
  long baseline_trajectories = 16;  // test trajectories the equal-error search solves again
  bool baseline = true;
};

// The trajectories: solved at ground_truth cells, stored at `steps` times, averaged to the model's
// `resolution` cells (and to the dataset's other `resolutions`).
struct DataSpec {
  Experiment experiment = Experiment::e1;
  long train = 64, test = 16;
  long resolution = 100;    // n_x of the model (divides ground_truth)
  long ground_truth = 200;  // cells of the solve that makes the data
  long steps = 250;         // stored states per trajectory, t ∈ [0, T]
  std::uint64_t seed = 1;   // trajectory k's draws: (seed, k); test trajectories follow train's
  std::vector<long> resolutions;  // the dataset's n_x (default: resolution alone)
  std::string file;               // empty: <run folder>/dataset.h5

  // The dataset file's settings: trajectories 0 … train + test − 1.
  DatasetSpec dataset() const {
    DatasetSpec d;
    d.experiment = experiment;
    d.samples = train + test;
    d.seed = seed;
    d.ground_truth = ground_truth;
    d.resolutions = resolutions;
    d.steps = steps;
    return d;
  }
};

struct MppdeCase {
  DataSpec data;
  long resolution = 100, train = 64, test = 16;  // data's, for short
  MpPdeSpec model;
  nn::TrainingSpec training;  // read in epochs
  long unrolling = 1;         // pushforward: most unrolled steps (reached at epoch `unrolling`)
  long passes = 0;            // passes over the training set per epoch (reference: 250)
  EvaluationSpec evaluation;
  ConservationSpec conservation;  // evaluation.conservation (conservation.hpp)
};

MppdeCase read_mppde_case(const config::Node& root) {
  MppdeCase spec;
  const config::Node data = root.child("data");
  const std::string name = data.str("experiment");
  if (!experiment_from_string(name, spec.data.experiment))
    data.fail("experiment", fmt::format("expected E1, E2 or E3, got '{}'", name));
  spec.data.train = data.integer("train", 64, 1);
  spec.data.test = data.integer("test", 16, 1);
  spec.data.ground_truth = data.integer("ground_truth", 200, 6, 1L << 20);
  spec.data.resolution = data.integer("resolution", 100, 6, spec.data.ground_truth);
  if (spec.data.ground_truth % spec.data.resolution != 0)
    data.fail("resolution", fmt::format("must divide data.ground_truth = {} (the data are its cell "
                                        "averages), got {}",
                                        spec.data.ground_truth, spec.data.resolution));
  spec.data.steps = data.integer("steps", 250, 2, 1L << 20);
  spec.data.seed = static_cast<std::uint64_t>(data.integer("seed", 1, 0));
  spec.data.file = data.str("file", "");
  spec.data.resolutions = {spec.data.resolution};
  if (data.has("resolutions")) {
    spec.data.resolutions.clear();
    for (double n : data.number_list("resolutions", 1, config::Bounds::positive())) {
      if (n != std::floor(n)) data.fail("resolutions", "expected whole numbers of cells");
      spec.data.resolutions.push_back(static_cast<long>(n));
    }
    if (std::find(spec.data.resolutions.begin(), spec.data.resolutions.end(),
                  spec.data.resolution) == spec.data.resolutions.end())
      data.fail("resolutions", fmt::format("expected a list that holds data.resolution = {}",
                                           spec.data.resolution));
  }
  try {
    check_dataset_spec(spec.data.dataset());
  } catch (const ConfigError& e) {
    data.fail("resolutions", e.what());
  }
  // A dataset the case names must serve it (the run folder's own is a cache, remade instead).
  if (!spec.data.file.empty() && std::filesystem::is_regular_file(spec.data.file)) {
    const std::string why =
        incompatibility(inspect_dataset(MPI_COMM_SELF, spec.data.file), spec.data.dataset());
    if (!why.empty())
      data.fail("file",
                fmt::format("{}: {} (remove the file or name another)", spec.data.file, why));
  }
  spec.resolution = spec.data.resolution;
  spec.train = spec.data.train;
  spec.test = spec.data.test;

  const config::Node model = root.child_or_empty("model");
  spec.model = read_mppde_model(model);
  if (2 * spec.model.neighbors >= spec.resolution)
    model.fail("neighbors",
               fmt::format("2·neighbors must be below the {} nodes of the graph", spec.resolution));
  const long window = spec.model.time_window, steps = spec.data.steps;
  if (3 * window > steps)
    model.fail("time_window",
               fmt::format("three windows of {} steps (input, ground-truth start, prediction) do "
                           "not fit the {} steps of a trajectory",
                           window, steps));

  const config::Node training = root.child("training");
  spec.training = nn::read_training(training, /*least_squares=*/false, /*in_epochs=*/true);
  if (spec.training.batch_size == 0) spec.training.batch_size = 16;
  spec.unrolling = training.integer("unrolling", 1, 0, 100);
  if (window * (2 + spec.unrolling) > steps)
    training.fail("unrolling", fmt::format("{} unrolled windows of {} steps do not fit the {} "
                                           "steps of a trajectory",
                                           spec.unrolling, window, steps));
  spec.passes = training.integer("passes", steps, 1);

  const config::Node eval = root.child_or_empty("evaluation");
  spec.evaluation.ground_truth_windows = eval.integer("ground_truth_windows", 2, 1, 100);
  if (window * (spec.evaluation.ground_truth_windows + 1) > steps)
    eval.fail("ground_truth_windows", "the first predicted window must fit the trajectory");
  spec.evaluation.batch = eval.integer("batch", 128, 1);
  spec.evaluation.timing_trajectories = eval.integer("timing_trajectories", 8, 1);
  spec.evaluation.baseline_trajectories = eval.integer("baseline_trajectories", 16, 1);
  spec.evaluation.baseline = eval.flag("baseline", true);
  spec.conservation = read_conservation(eval);
  return spec;
}

// The case's pushforward schedule over trajectories of `steps` states.
PushforwardSchedule schedule_of(const MppdeCase& spec, long steps) {
  PushforwardSchedule s;
  s.trajectories = spec.train;
  s.batch = spec.training.batch_size;
  s.passes = spec.passes;
  s.unrolling = spec.unrolling;
  s.window = spec.model.time_window;
  s.steps = steps;
  s.seed = spec.training.shuffle_seed;
  return s;
}

// Equation parameters the model reads (θ / θ_max of the experiment's varying ones).
std::vector<double> normalised_parameters(const ExperimentSpec& e, double alpha, double beta,
                                          double gamma) {
  std::vector<double> theta;
  if (e.alpha.varies()) theta.push_back(alpha / e.alpha.max);
  if (e.beta.varies()) theta.push_back(beta / e.beta.max);
  if (e.gamma.varies()) theta.push_back(gamma / e.gamma.max);
  return theta;
}

template <class T>
class MppdeRun {
 public:
  MppdeRun(const MppdeCase& spec, RunContext& ctx)
      : m_spec(spec), m_ctx(ctx), m_experiment(experiment_spec(spec.data.experiment)) {}

  std::string run() {
    const Timer clock;
    StagePhases phase(Stage::data);
    prepare_dataset();
    m_train = load(0, m_spec.train, nullptr);
    const auto [first, count] = my_share(m_ctx.comm, m_spec.test);
    m_test_first = first;
    m_test = load(m_spec.train + first, count, &m_test_solver);
    log().info(
        "data: {} + {} {} trajectories solved by WENO5 at {} cells, {} states over [0, {}] "
        "averaged to {} cells, ready in {:.2f} s",
        m_spec.train, m_spec.test, to_string(m_spec.data.experiment), m_spec.data.ground_truth,
        m_spec.data.steps, m_experiment.t_end, m_spec.resolution, clock.seconds());
    phase.enter(Stage::setup);
    build_model();
    phase.leave();

    nn::TrainingSpec training = m_spec.training;
    m_schedule = schedule_of(m_spec, m_train.steps);
    m_per_epoch = m_schedule.steps_per_epoch();
    nn::epochs_to_steps(training, m_per_epoch);
    log().info(
        "MP-PDE {} parameters; {} training trajectories of {} steps on {} nodes, batch {}, "
        "{} steps per epoch, pushforward up to {} unrolled steps",
        m_parameters.size(), m_spec.train, m_train.steps, m_train.nodes, training.batch_size,
        m_per_epoch, m_spec.unrolling);

    const nn::TrainingResult result = train<T>(
        m_ctx, m_parameters, [this](long step) { return loss(step); }, training.trainer);
    phase.enter(Stage::training);
    if (m_spec.conservation.enabled()) train_ensemble(training.trainer);

    phase.enter(Stage::evaluation);  // rollouts and the solver baseline (its solves: baseline)
    nlohmann::json metrics = evaluate(result);
    (*m_ctx.report)["metrics"] = metrics;
    phase.enter(Stage::io);
    write_history(m_ctx, result, "none");
    phase.leave();
    if (result.stop_reason == "non_finite") {
      m_ctx.message = result.message;
      return "diverged";
    }
    return "ok";
  }

 private:
  // -------------------------------------------------------------------------------------------
  // Data

  // The dataset file: generated (or completed, with --resume) unless a finished one that holds
  // this case's trajectories is there (then it is read as it is: a dataset is a cache; one that
  // cannot serve the case is made again in the run folder, and refused at validation when the
  // case names it). Rank 0's view decides, so that every rank takes the collective
  // inspect_dataset or none does.
  void prepare_dataset() {
    const DatasetSpec d = m_spec.data.dataset();
    m_path = m_spec.data.file.empty()
                 ? (std::filesystem::path(m_ctx.dir->path()) / "dataset.h5").string()
                 : m_spec.data.file;
    nlohmann::json report = {{"file", m_path}, {"generator", describe(d)}};
    if (exists_on_rank0(m_ctx.comm, m_path)) {
      const std::string why = incompatibility(inspect_dataset(m_ctx.comm, m_path), d);
      if (why.empty()) {
        log().info("dataset {}: holds this case's trajectories, reused", m_path);
        report["generated"] = false;
        (*m_ctx.report)["dataset"] = report;
        return;
      }
      if (!m_spec.data.file.empty())  // validation checked it: the file changed since
        throw ConfigError(Place{m_path, 0, 0}, why);
      log().info("dataset {}: {}, made again", m_path, why);
    }
    GenerateOptions options;
    options.resume = m_ctx.resume;
    options.quiet = progress_quiet();
    options.config_yaml = m_ctx.resolved_yaml;
    const GenerateSummary s = generate_dataset(m_ctx.comm, d, m_path, options);
    const double per = s.solved > 0 ? s.ground_truth_s / static_cast<double>(s.solved) : 0.0;
    log().info(
        "dataset {}: {} trajectories ({} solved, {} kept), {:.3f} s per ground-truth solve at "
        "{} cells",
        m_path, s.samples, s.solved, s.kept, per, d.ground_truth);
    report["generated"] = true;
    report["solved"] = s.solved;
    report["kept"] = s.kept;
    report["wall_s"] = s.wall_s;
    report["ground_truth_s_per_trajectory"] = per;
    (*m_ctx.report)["dataset"] = report;
  }

  // Trajectories [first, first + count) of the dataset at the model's resolution with their
  // normalised parameters; `solver` set: also the stored direct solves at that resolution (the
  // ground truth itself when the model's grid is the ground truth's). Collective: every rank
  // passes its own range (the training set: all of it on every rank).
  Trajectories load(long first, long count, std::vector<double>* solver) {
    const long nodes = m_spec.resolution;
    const bool stored_solver = solver != nullptr && nodes != m_spec.data.ground_truth;
    StoredTrajectories stored =
        read_trajectories(m_ctx.comm, m_path, nodes, first, count, stored_solver);
    Trajectories t;
    t.count = count;
    t.steps = stored.steps;
    t.nodes = nodes;
    t.u = std::move(stored.u);
    t.t_max = stored.t_end;
    t.dt = t.t_max / static_cast<double>(t.steps - 1);
    t.parameters = conditions() - 1;
    for (long k = 0; k < count; ++k) {
      const std::vector<double> theta =
          normalised_parameters(m_experiment, stored.alpha[k], stored.beta[k], stored.gamma[k]);
      t.conditions.insert(t.conditions.end(), theta.begin(), theta.end());
    }
    if (solver) *solver = stored_solver ? std::move(stored.solver) : t.u;
    return t;
  }

  long conditions() const {  // time + the varying parameters
    return 1 + (m_experiment.alpha.varies() ? 1 : 0) + (m_experiment.beta.varies() ? 1 : 0) +
           (m_experiment.gamma.varies() ? 1 : 0);
  }

  // -------------------------------------------------------------------------------------------
  // Model and training

  void build_model() {
    m_model = std::make_unique<MpPdeModel<T>>(m_spec.model, 1, conditions());
    m_model->declare(m_parameters, "");
    m_parameters.allocate();
    m_model->initialize(m_spec.model.seed);
    m_sample = periodic_line(m_spec.resolution, m_spec.model.neighbors);
    m_train_rollout = std::make_unique<Rollout<T>>(*m_model, m_sample, m_train);
    m_test_rollout = std::make_unique<Rollout<T>>(*m_model, m_sample, m_test);
  }

  // Step `step`'s batch (the same on every rank, pushforward_batch); this rank computes its
  // share.
  std::vector<nn::LossTerm> loss(long step) {
    const PushforwardBatch batch = pushforward_batch(m_schedule, step);
    const auto [first, count] = my_share(m_ctx.comm, batch.size());
    if (count == 0) return {{"mse", 1.0, 0.0}};
    const auto mine = [&, first = first, count = count](const std::vector<long>& v) {
      return std::vector<long>(v.begin() + first, v.begin() + first + count);
    };
    const double value =
        m_train_rollout->pushforward_loss(m_workspace, mine(batch.trajectories), mine(batch.starts),
                                          batch.unroll, static_cast<double>(batch.size()));
    return {{"mse", 1.0, value}};
  }

  // evaluation.conservation: members 2..M, trained as the first (same batches and schedule) from
  // the initial weights of seeds model.seed + 1, …; loss() trains whichever m_train_rollout holds.
  // No checkpoints: a resumed run trains them again (deterministically, to the same weights).
  void train_ensemble(nn::TrainerOptions options) {
    options.checkpoint_path.clear();
    options.stop_after = -1;
    const Timer clock;
    for (long m = 1; m < m_spec.conservation.ensemble; ++m) {
      EnsembleMember<T> member = make_member<T>(m_spec.model, conditions(),
                                                m_spec.model.seed + static_cast<std::uint64_t>(m),
                                                m_sample, m_train, m_test);
      std::swap(m_train_rollout, member.train_rollout);
      nn::Trainer<T> trainer(
          m_ctx.comm, *member.parameters, [this](long step) { return loss(step); }, options);
      const nn::TrainingResult r = trainer.run(nullptr);
      std::swap(m_train_rollout, member.train_rollout);
      if (r.stop_reason == "interrupted")
        throw Interrupted(fmt::format("{} of ensemble member {} of {} (retrained on resume)",
                                      r.message, m + 1, m_spec.conservation.ensemble));
      log().info("ensemble member {} of {}: final loss {:.4e}", m + 1, m_spec.conservation.ensemble,
                 r.final_loss);
      m_members.push_back(std::move(member));
    }
    m_ensemble_train_s = clock.seconds();
  }

  // -------------------------------------------------------------------------------------------
  // Evaluation

  nlohmann::json evaluate(const nn::TrainingResult& result) {
    const long gt = m_spec.evaluation.ground_truth_windows, window = m_spec.model.time_window;
    const long start = gt * window;
    const long end = start + ((m_test.steps - start) / window) * window;

    // The network's accumulated error on this rank's test trajectories (batched).
    const auto error = m_test_rollout->accumulated_error(
        m_workspace, 0, m_test.count, gt, std::max<long>(1, m_spec.evaluation.batch));
    const std::vector<double> network = gather_all(error.per_trajectory);
    const double accumulated = mean(network);
    // The stored coarse solve at the model's resolution: the paper's WENO5 column.
    const std::vector<double> stored = gather_all(solver_same_grid_error(start, end));
    const double weno_same_grid = mean(stored);
    const double zero = mean(gather_all(no_change_error(start, end)));

    nlohmann::json metrics = {
        {"accumulated_error", accumulated},
        {"accumulated_error_max", *std::max_element(network.begin(), network.end())},
        {"weno5_same_grid_accumulated_error", weno_same_grid},
        {"no_change_accumulated_error", zero},
        {"final_loss", result.final_loss},
        {"train_wall_s", result.wall_s},
        {"steps", result.steps},
        {"epochs", result.steps / m_per_epoch},
        {"stop_reason", result.stop_reason},
        {"stages", stages_json(result)},
        {"params", m_parameters.size()},
        {"train_trajectories", m_spec.train},
        {"test_trajectories", m_spec.test},
        {"nx", m_spec.resolution},
        {"experiment", to_string(m_spec.data.experiment)},
        {"windows", error.windows},
        {"evaluated_steps", end - start}};
    log().info(
        "test set ({} trajectories): accumulated error {:.3f} (max {:.3f}); WENO5 at n_x = "
        "{}: {:.3f}; no change: {:.3f}",
        m_spec.test, accumulated, metrics["accumulated_error_max"].get<double>(), m_spec.resolution,
        weno_same_grid, zero);
    if (const PaperCell* paper = paper_cell(m_spec.data.experiment, m_spec.resolution)) {
      metrics["paper"] = {
          {"mppde", paper->mppde}, {"weno5", paper->weno5}, {"fno_pf", paper->fno_pf}};
      log().info("paper (Table 1, {}, n_x = {}): MP-PDE {:.2f}, WENO5 {:.2f}, FNO-PF {:.2f}",
                 to_string(m_spec.data.experiment), m_spec.resolution, paper->mppde, paper->weno5,
                 paper->fno_pf);
    }
    time_rollouts(metrics);
    if (m_spec.conservation.enabled()) metrics["conservation"] = conservation(gt);
    if (m_spec.evaluation.baseline) equal_error_baseline(metrics, start, end);
    return metrics;
  }

  // evaluation.conservation: the ensemble's rollouts without and with ProbConserv's correction.
  nlohmann::json conservation(long ground_truth_windows) {
    std::vector<Rollout<T>*> members = {m_test_rollout.get()};
    for (EnsembleMember<T>& m : m_members) members.push_back(m.test_rollout.get());
    nlohmann::json c = conservation_metrics(
        m_ctx.comm, members, m_test, m_workspace, m_spec.test, ground_truth_windows,
        std::max<long>(1, m_spec.evaluation.batch), m_experiment.length / m_spec.resolution);
    c["ensemble_train_wall_s"] = m_ensemble_train_s;  // the members after the first
    return c;
  }

  // Rollout time per trajectory: one at a time (rank 0) and in batches of evaluation.batch.
  void time_rollouts(nlohmann::json& metrics) {
    const long gt = m_spec.evaluation.ground_truth_windows;
    double single = 0.0, batched = 0.0;
    long batched_count = 0;
    if (m_ctx.rank == 0 && m_test.count > 0) {
      const long n = std::min(m_spec.evaluation.timing_trajectories, m_test.count);
      for (long k = 0; k < n; ++k)
        single += m_test_rollout->accumulated_error(m_workspace, k, 1, gt, 1).rollout_s;
      single /= static_cast<double>(n);
      batched_count = std::min(m_spec.evaluation.batch, m_test.count);
      batched = m_test_rollout->accumulated_error(m_workspace, 0, batched_count, gt, batched_count)
                    .rollout_s /
                static_cast<double>(batched_count);
    }
    MPI_Bcast(&single, 1, MPI_DOUBLE, 0, m_ctx.comm);
    MPI_Bcast(&batched, 1, MPI_DOUBLE, 0, m_ctx.comm);
    MPI_Bcast(&batched_count, 1, MPI_LONG, 0, m_ctx.comm);
    metrics["rollout_s_per_trajectory"] = single;
    metrics["rollout_s_per_trajectory_batched"] = batched;
    metrics["rollout_batch"] = batched_count;
    log().info("rollout: {:.3e} s per trajectory at batch 1, {:.3e} s at batch {}", single, batched,
               batched_count);
  }

  // The paper's WENO5 column: the solver run at the model's n_x from t = 0 (stored in the
  // dataset), against the averaged ground truth, over the model's steps [start, end).
  std::vector<double> solver_same_grid_error(long start, long end) {
    return accumulated_error(m_test, m_test_solver, 0, m_test.count, start, end);
  }

  // "No change": every predicted state is the last true input state.
  std::vector<double> no_change_error(long start, long end) {
    std::vector<double> pred(m_test.u.size());
    for (long k = 0; k < m_test.count; ++k)
      for (long s = 0; s < m_test.steps; ++s)
        for (long i = 0; i < m_test.nodes; ++i)
          pred[(k * m_test.steps + s) * m_test.nodes + i] =
              m_test.value(k, std::min(s, start - 1), i);
    return accumulated_error(m_test, pred, 0, m_test.count, start, end);
  }

  // McGreivy & Hakim's comparison: the WENO5 solver, from t = 0 as the paper's WENO5 column, at
  // the coarsest n_x (a divisor of the ground truth's cells) whose accumulated
  // error on the first evaluation.baseline_trajectories test trajectories is at most the
  // network's on the same trajectories. Each solve runs on one rank and is timed alone.
  void equal_error_baseline(nlohmann::json& metrics, long start, long end) {
    const long count = std::min(m_spec.evaluation.baseline_trajectories, m_spec.test);
    // The network's error on those trajectories (the first `count` of the test set).
    const std::vector<double> network_all =
        gather_all(m_test_rollout
                       ->accumulated_error(m_workspace, 0, m_test.count,
                                           m_spec.evaluation.ground_truth_windows,
                                           std::max<long>(1, m_spec.evaluation.batch))
                       .per_trajectory);
    const double target =
        mean(std::vector<double>(network_all.begin(), network_all.begin() + count));
    // Every divisor of the ground truth's cells from 6 (the WENO5 stencil) up, coarsest first.
    std::vector<long> candidates;
    for (long n = 6; n <= m_spec.data.ground_truth; ++n)
      if (m_spec.data.ground_truth % n == 0) candidates.push_back(n);
    nlohmann::json searched = nlohmann::json::array();
    nlohmann::json chosen;
    for (long nodes : candidates) {
      const auto [error, wall] = solver_at(nodes, count, start, end);
      searched.push_back({{"n_x", nodes}, {"accumulated_error", error}, {"wall_s", wall}});
      log().info("WENO5 at n_x = {}: accumulated error {:.3f}, {:.3e} s per trajectory", nodes,
                 error, wall);
      if (error <= target || nodes == candidates.back()) {
        chosen = {{"solver", "WENO5 + SSP-RK3 (karman::solvers::WenoSolver), float64, one core"},
                  {"n_x", nodes},
                  {"wall_s", wall},
                  {"accumulated_error", error},
                  {"network_accumulated_error", target},
                  {"trajectories", count},
                  {"searched", searched}};
        break;
      }
    }
    (*m_ctx.report)["baseline"] = chosen;
    const double network_s = metrics["rollout_s_per_trajectory"].get<double>();
    const double batched_s = metrics["rollout_s_per_trajectory_batched"].get<double>();
    (*m_ctx.report)["speedup"] = chosen["wall_s"].get<double>() / network_s;
    metrics["speedup_batched"] = chosen["wall_s"].get<double>() / batched_s;
    log().info(
        "equal error: WENO5 at n_x = {} ({:.3f} ≤ {:.3f}) takes {:.3e} s per trajectory, "
        "the network {:.3e} s (batch 1) / {:.3e} s (batched): speedup {:.2f} / {:.2f}",
        chosen["n_x"].get<long>(), chosen["accumulated_error"].get<double>(), target,
        chosen["wall_s"].get<double>(), network_s, batched_s,
        (*m_ctx.report)["speedup"].get<double>(), metrics["speedup_batched"].get<double>());
  }

  // The solver at `nodes` cells on test trajectories [0, count) (each rank its share): the mean
  // accumulated error against the ground truth averaged to `nodes` cells (zero at the ground
  // truth's own resolution) over [start, end), and the mean wall time per trajectory.
  std::pair<double, double> solver_at(long nodes, long count, long start, long end) {
    const auto [first, mine] = my_share(m_ctx.comm, count);
    const long steps = m_spec.data.steps, fine = m_spec.data.ground_truth;
    Trajectories truth;
    truth.count = mine;
    truth.steps = steps;
    truth.nodes = nodes;
    std::vector<double> predicted;
    double wall = 0.0;
    for (long k = 0; k < mine; ++k) {
      const long trajectory = m_spec.train + first + k;
      const std::vector<double> exact =
          average_cells(solve_trajectory(m_experiment, m_spec.data.seed, trajectory, fine, steps).u,
                        steps, fine, nodes);
      truth.u.insert(truth.u.end(), exact.begin(), exact.end());
      const SolvedTrajectory solved =
          solve_trajectory(m_experiment, m_spec.data.seed, trajectory, nodes, steps);
      wall += solved.wall_s;
      predicted.insert(predicted.end(), solved.u.begin(), solved.u.end());
    }
    const std::vector<double> errors =
        gather_all(accumulated_error(truth, predicted, 0, mine, start, end));
    double total_wall = 0.0;
    MPI_Allreduce(&wall, &total_wall, 1, MPI_DOUBLE, MPI_SUM, m_ctx.comm);
    return {mean(errors), total_wall / static_cast<double>(count)};
  }

  std::vector<double> gather_all(const std::vector<double>& mine) const {
    return all_gather(m_ctx.comm, mine);
  }
  static double mean(const std::vector<double>& v) {
    return v.empty() ? 0.0
                     : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  }

  const MppdeCase& m_spec;
  RunContext& m_ctx;
  ExperimentSpec m_experiment;
  Trajectories m_train, m_test;
  std::vector<double> m_test_solver;  // [test share, steps, nodes] the dataset's direct solves
  std::string m_path;                 // the dataset file
  long m_test_first = 0;
  PushforwardSchedule m_schedule;
  long m_per_epoch = 1;
  SampleGraph m_sample;
  std::unique_ptr<MpPdeModel<T>> m_model;
  nn::Parameters<T> m_parameters;
  nn::Workspace<T> m_workspace;
  std::unique_ptr<Rollout<T>> m_train_rollout, m_test_rollout;
  std::vector<EnsembleMember<T>> m_members;  // evaluation.conservation: members 2..M
  double m_ensemble_train_s = 0.0;
};

class MppdeMethod : public Method {
 public:
  void read(const config::Node& root, const std::string& precision) override {
    if (root.has("mesh")) {  // MP-PDE on a partitioned mesh: mesh_runner.cpp
      m_mesh = make_mesh_mppde_method();
      m_mesh->read(root, precision);
      return;
    }
    m_spec = read_mppde_case(root);
    m_precision = precision;
  }
  std::string summary() const override {
    if (m_mesh) return m_mesh->summary();
    return fmt::format(
        "kind mppde, {} (n_x {}, {} train / {} test trajectories), K {}, hidden {}, "
        "{} layers, {}",
        to_string(m_spec.data.experiment), m_spec.resolution, m_spec.train, m_spec.test,
        m_spec.model.time_window, m_spec.model.hidden, m_spec.model.layers, m_precision);
  }
  std::string run(RunContext& ctx) override {
    if (m_mesh) return m_mesh->run(ctx);
    if (m_precision == "float64") return MppdeRun<double>(m_spec, ctx).run();
    return MppdeRun<float>(m_spec, ctx).run();
  }

 private:
  MppdeCase m_spec;
  std::string m_precision;
  std::unique_ptr<Method> m_mesh;  // a case with a `mesh:` section
};

}  // namespace

std::unique_ptr<Method> make_mppde_method() { return std::make_unique<MppdeMethod>(); }

}  // namespace karman::mppde
