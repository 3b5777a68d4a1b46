// kind: fno — a Fourier neural operator (Li et al., ICLR 2021) learns the solution operator of a
// parametric PDE from a dataset Karman generates with its own PETSc solvers (operators/fno/
// dataset.hpp), then answers held-out instances that the same PETSc solver answers beside it:
// accuracy (relative L2 per sample), time per instance and their ratio (`speedup`), zero-shot
// super-resolution, and for Darcy the CG iterations saved when the prediction is the initial guess.
//
// Layouts. Files hold samples channels-first, [N, C, n0, (n1)] (h5py/ParaView friendly); the model
// works channels-last, one matrix [B·P, C] for B samples of P grid points, so its pointwise layers
// are one GEMM over every point of the batch and a sample is the contiguous row block [b·P, b·P+P).
// Viewed as [B, P·C] the same memory is one sample per row: the per-sample relative-L2 loss and
// the per-point normalisers work on that view.
//
// Navier–Stokes (model.time): the model's samples are not always the file's. A TimeTreatment
// (operators/fno/time_treatment.hpp) maps file samples to model samples and predicts file samples
// with the network: `direct` is the identity, `space_time` a 3D FNO on [ny, nx, T], and
// `autoregressive` a one-step 2D FNO rolled out T times. The autoregressive model trains on
// windows of R + K consecutive states (R = training.rollout): the model is rolled out R steps from
// the window's first K states, each step fed the last K states with its own prediction appended,
// and the loss back-propagates through the whole rollout (every step's context kept in one
// workspace), as fourier_2d_time.py trains with R = T. R = 1 is teacher forcing: one-step examples
// on every window, the inputs always the true states. Evaluation always rolls out all T steps
// without teacher forcing.

#include "operators/fno/runner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <numeric>

#include "karman/config/case.hpp"
#include "karman/core/collective.hpp"
#include "karman/core/extents.hpp"
#include "karman/core/interrupt.hpp"
#include "karman/core/log.hpp"
#include "karman/core/norms.hpp"
#include "karman/core/partition.hpp"
#include "karman/core/progress.hpp"
#include "karman/core/random.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"
#include "karman/data/operator_dataset.hpp"
#include "karman/io/hdf5.hpp"
#include "karman/io/xdmf.hpp"
#include "karman/nn/case_sections.hpp"
#include "karman/nn/loss.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/normalizer.hpp"
#include "karman/run/method.hpp"
#include "karman/run/outputs.hpp"
#include "operators/fno/conservation.hpp"
#include "operators/fno/fno.hpp"
#include "operators/fno/time_treatment.hpp"

namespace karman::fno {
namespace {

using run::baseline_json;
using run::Method;
using run::RunContext;
using run::stages_json;
using run::train;
using run::write_history;

enum class Normalize { per_point, per_channel, none };

struct EvaluationSpec {
  long batch = 20;             // samples per inference call
  long baseline_samples = 10;  // test instances solved again (and timed) by PETSc
  double baseline_rtol = 0;    // Darcy baseline CG tolerance; 0: the dataset's
  long fields = 3;             // test samples written to fields.h5
  long super_resolution = 0;   // factor: also evaluate at stride data.stride / factor; 0: off
  long super_samples = 10;
};

struct FnoCase {
  data::DatasetSpec data;  // data.file empty: <run folder>/dataset.h5
  long train = 0, test = 0;
  fno::TimeMode time = fno::TimeMode::direct;  // model.time (Navier–Stokes)
  Normalize normalize = Normalize::per_point;
  fno::FnoSpec model;
  std::uint64_t model_seed = 1;
  nn::TrainingSpec training;
  long rollout = 1;  // training.rollout: steps trained through (autoregressive; 1: teacher forcing)
  EvaluationSpec evaluation;
  fno::ConservationSpec conservation;  // evaluation.conservation (conservation.hpp)

  // What a training sample is to the model: a trajectory of T outputs gives the autoregressive
  // model T − R + 1 windows (R = rollout), one example otherwise.
  long training_examples() const {
    return time == fno::TimeMode::autoregressive ? train * (data.out_channels() - rollout + 1)
                                                 : train;
  }
};

// training.rollout: an integer 1 … T or "full" (T), for the autoregressive model only.
long read_rollout(const config::Node& training, bool autoregressive, long output_steps) {
  if (!training.has("rollout")) return 1;
  if (!autoregressive)
    training.fail("rollout", "training through a rollout is for model.time autoregressive only");
  if (training.str("rollout") == "full") return output_steps;
  return training.integer("rollout", 1, 1, output_steps);
}

Normalize normalize_from_name(const std::string& name) {
  if (name == "per_point") return Normalize::per_point;
  if (name == "per_channel") return Normalize::per_channel;
  return Normalize::none;
}

// model.time: how a Navier–Stokes model treats the time records (the other problems have none).
fno::TimeMode read_time_mode(const config::Node& model, const data::DatasetSpec& data) {
  if (data.problem != data::Problem::navier_stokes) {
    if (model.has("time"))
      model.fail("time", "a treatment of time records is for data.problem navier_stokes only");
    return fno::TimeMode::direct;
  }
  return fno::time_mode_from_name(
      model.choice("time", {"autoregressive", "space_time", "direct"}, "autoregressive"));
}

FnoCase read_fno_case(const config::Node& root) {
  FnoCase spec;
  const config::Node data = root.child("data");
  spec.data = data::read_dataset_spec(data);
  spec.test = data.integer("test", std::min<long>(20, spec.data.samples / 5), 1);
  spec.train = data.integer("train", spec.data.samples - spec.test, 1);
  if (spec.train + spec.test > spec.data.samples)
    data.fail("train", fmt::format("train + test = {} is more than data.samples = {}",
                                   spec.train + spec.test, spec.data.samples));
  const config::Node model = root.child_or_empty("model");
  spec.time = read_time_mode(model, spec.data);
  const bool autoregressive = spec.time == fno::TimeMode::autoregressive;
  // The reference scripts normalise Darcy's a and u and the space-time Navier–Stokes data per
  // grid point, Burgers and the autoregressive Navier–Stokes model not at all. But Burgers'
  // u(·, 1) is ~60× smaller than u0 at ν = 0.1, and Adam's steps (~lr in every weight) are then
  // ~10% of the output: unnormalised, its test error swings between 1e-2 and 1e-1 from epoch to
  // epoch. Per channel it is also resolution-free (super-resolution).
  const char* normalize = spec.data.problem == data::Problem::burgers ? "per_channel"
                          : autoregressive                            ? "none"
                                                                      : "per_point";
  spec.normalize = normalize_from_name(
      data.choice("normalize", {"per_point", "per_channel", "none"}, normalize));
  if (autoregressive && spec.normalize == Normalize::per_point)
    data.fail(
        "normalize",
        "per_channel or none: the autoregressive model feeds its predictions back as inputs, so "
        "it takes one mean and deviation for the vorticity (per_channel) or none");

  // space_time: a 3D model, time the last dimension of its grid.
  const bool space_time = spec.time == fno::TimeMode::space_time;
  spec.model = fno::read_fno(model, spec.data.dim() + (space_time ? 1 : 0));
  // The Fourier layers see the training grid plus its padding (and a finer grid, which is safe).
  std::vector<long> padded(static_cast<std::size_t>(spec.data.dim()),
                           spec.data.training_resolution());
  if (space_time) padded.push_back(spec.data.out_channels());
  for (std::size_t d = 0; d < spec.model.padding.size(); ++d) padded[d] += spec.model.padding[d];
  if (const std::string why = fno::modes_fit_error(spec.model.modes, padded); !why.empty())
    model.fail(model.has("modes") ? "modes" : "padding", why);

  const config::Node training = root.child("training");
  spec.training = nn::read_training(training, /*least_squares=*/false, /*in_epochs=*/true);
  spec.rollout = read_rollout(training, autoregressive, spec.data.out_channels());
  const long examples = spec.training_examples();
  if (spec.training.batch_size == 0) spec.training.batch_size = std::min<long>(20, examples);
  if (spec.training.batch_size > examples)
    training.fail("batch_size", fmt::format("a batch of {} is more than the {} training {}",
                                            spec.training.batch_size, examples,
                                            autoregressive ? "rollout windows" : "samples"));

  const config::Node eval = root.child_or_empty("evaluation");
  EvaluationSpec& e = spec.evaluation;
  e.batch = eval.integer("batch", 20, 1);
  e.baseline_samples = eval.integer("baseline_samples", std::min<long>(10, spec.test), 1);
  e.baseline_rtol = eval.number("baseline_rtol", 0.0, config::Bounds::at_least(0));
  e.fields = eval.integer("fields", std::min<long>(3, spec.test), 0, spec.test);
  e.super_resolution = eval.integer("super_resolution", 0, 0);
  e.super_samples = eval.integer("super_samples", std::min<long>(10, spec.test), 1);
  if (e.super_resolution > 1) {
    if (spec.data.stride % e.super_resolution != 0)
      eval.fail("super_resolution",
                fmt::format("data.stride = {} must be a multiple of the factor", spec.data.stride));
    if (spec.normalize == Normalize::per_point)
      eval.fail("super_resolution",
                "per-point normalisers belong to the training grid; set data.normalize to "
                "per_channel or none to evaluate on a finer grid");
  }
  spec.conservation = fno::read_conservation(eval);
  if (spec.conservation.enabled() && spec.data.problem != data::Problem::burgers)
    eval.fail("conservation",
              "the conserved integral (∫u(·, 1) = ∫u0) is Burgers' only: data.problem burgers");
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Data in the model's layout

// [S, C, P] (file order, from `data`) -> `out` [S·P, C] (model order), allocated only when its
// shape changes (inference reuses one buffer per batch shape).
template <class T>
void to_channels_last(const double* data, long samples, long channels, long points,
                      nn::Matrix<T>& out, const std::string& label) {
  nn::ensure_shape(out, label, samples * points, channels);
  auto host = Kokkos::create_mirror_view(out);
  for (long s = 0; s < samples; ++s)
    for (long c = 0; c < channels; ++c)
      for (long p = 0; p < points; ++p)
        host(s * points + p, c) = static_cast<T>(data[(s * channels + c) * points + p]);
  Kokkos::deep_copy(out, host);
}

template <class T>
nn::Matrix<T> channels_last(const std::vector<double>& data, long samples, long channels,
                            long points, const std::string& label) {
  nn::Matrix<T> out;
  to_channels_last(data.data(), samples, channels, points, out, label);
  return out;
}

// [S·P, C] seen as [S, P·C]: one sample per row (the same memory).
template <class T>
nn::Matrix<T> per_sample(const nn::Matrix<T>& m, long points) {
  const long samples = static_cast<long>(m.extent(0)) / points;
  return nn::Matrix<T>(m.data(), samples, points * static_cast<long>(m.extent(1)));
}

// Samples [first, first + count) of a channels-last set, a view.
template <class T>
nn::Matrix<T> sample_rows(const nn::Matrix<T>& m, long points, long first, long count) {
  return Kokkos::subview(m, std::make_pair(first * points, (first + count) * points), Kokkos::ALL);
}

// The baseline's solver in one word: PETSc KSP + PC, PETSc TS, or the pseudo-spectral solver.
std::string baseline_name(const nlohmann::json& baseline) {
  const std::string ts = baseline.value("ts", std::string());
  if (!ts.empty()) return ts.find("pseudo-spectral") != std::string::npos ? ts : "PETSc TS " + ts;
  return "PETSc " + baseline.value("ksp", std::string()) + " + " +
         baseline.value("pc", std::string());
}

// ---------------------------------------------------------------------------------------------

template <class T>
class FnoRun {
 public:
  FnoRun(const FnoCase& spec, RunContext& ctx)
      : m_spec(spec),
        m_ctx(ctx),
        m_time(fno::make_time_treatment(spec.time, spec.data.in_channels(),
                                        spec.data.out_channels())) {}

  std::string run() {
    StagePhases phase(Stage::data);
    prepare_dataset();
    load_training_set();
    phase.enter(Stage::setup);
    build_model();
    nn::TrainingSpec training = m_spec.training;
    const long per_epoch = m_examples / m_spec.training.batch_size;
    nn::epochs_to_steps(training, per_epoch);
    log().info("FNO {} parameters; {} training {} on a {} grid, batch {} ({} steps per epoch)",
               m_net->parameters().size(), m_examples, examples_text(), grid_text(m_grid),
               m_spec.training.batch_size, per_epoch);
    phase.enter(Stage::data);
    load_test_set();
    phase.leave();

    auto validate = [this] { return evaluate().rel_l2_mean; };
    auto save_extra = [this](nn::Checkpoint& c) {
      for (auto* n : {m_input_norm.get(), m_output_norm.get()})
        if (n) n->store(c);
    };
    nn::TrainingResult result =
        reproducible() ? train<T>(m_ctx, m_net->parameters(), chunked_loss(), training.trainer,
                                  validate, {}, save_extra)
                       : train<T>(
                             m_ctx, m_net->parameters(), [this](long step) { return loss(step); },
                             training.trainer, validate, {}, save_extra);
    phase.enter(Stage::training);
    if (m_spec.conservation.enabled()) train_ensemble(training.trainer);

    // The test set, the PETSc baseline (its solves: baseline) and the fields (io).
    phase.enter(Stage::evaluation);
    const Evaluation test = evaluate();
    log().info("test set ({} samples): rel_l2 mean {:.3e}, max {:.3e}; inference {:.3e} s/sample",
               m_spec.test, test.rel_l2_mean, test.rel_l2_max, test.infer_s_per_sample);
    if (navier_stokes())
      log().info("{} model: rel_l2 at the last time {:.3e}", fno::to_string(m_spec.time),
                 test.rel_l2_last);
    nlohmann::json metrics = {{"rel_l2", test.rel_l2_mean},
                              {"rel_l2_max", test.rel_l2_max},
                              {"test_rel_l2", test.rel_l2_per_sample},
                              {"final_loss", result.final_loss},
                              {"train_wall_s", result.wall_s},
                              {"infer_s_per_sample", test.infer_s_per_sample},
                              {"params", m_net->parameters().size()},
                              {"steps", result.steps},
                              {"epochs", result.steps / per_epoch},
                              {"stop_reason", result.stop_reason},
                              {"stages", stages_json(result)},
                              {"train_samples", m_spec.train},
                              {"test_samples", m_spec.test},
                              {"resolution", m_space}};
    if (navier_stokes()) {
      metrics["time"] = fno::to_string(m_spec.time);
      metrics["rel_l2_last"] = test.rel_l2_last;
    }
    if (autoregressive()) {
      metrics["rollout"] = m_spec.rollout;  // steps trained through; 1: teacher forcing
      metrics["teacher_forcing"] = m_spec.rollout == 1;
    }
    if (m_spec.conservation.enabled()) metrics["conservation"] = conservation();
    nlohmann::json baseline = compare_with_petsc(metrics);
    if (m_spec.evaluation.super_resolution > 1) super_resolution(metrics);
    (*m_ctx.report)["metrics"] = metrics;
    (*m_ctx.report)["baseline"] = baseline;
    (*m_ctx.report)["speedup"] =
        baseline["solve_s_per_sample"].get<double>() / test.infer_s_per_sample;
    log().info("baseline ({}) {:.3e} s/sample against FNO {:.3e} s/sample: speedup {:.1f}",
               baseline_name(baseline), baseline["solve_s_per_sample"].get<double>(),
               test.infer_s_per_sample, (*m_ctx.report)["speedup"].get<double>());
    write_fields();
    phase.enter(Stage::io);
    write_history(m_ctx, result, "test_rel_l2");
    phase.leave();
    if (result.stop_reason == "non_finite") {
      m_ctx.message = result.message;
      return "diverged";
    }
    return "ok";
  }

 private:
  struct Evaluation {
    double rel_l2_mean = 0, rel_l2_max = 0, infer_s_per_sample = 0;
    double rel_l2_last = 0;  // mean over the samples, of the last output channel (time) alone
    std::vector<double> rel_l2_per_sample;  // every test sample's, in file order (all ranks)
  };

  bool navier_stokes() const { return m_spec.data.problem == data::Problem::navier_stokes; }
  bool autoregressive() const { return m_spec.time == fno::TimeMode::autoregressive; }
  std::string examples_text() const {
    if (!autoregressive()) return "samples";
    if (m_spec.rollout == 1) return "one-step examples (teacher forcing)";
    return fmt::format("windows trained through a rollout of {} steps", m_spec.rollout);
  }

  static std::string grid_text(const std::vector<long>& grid) {
    std::string s;
    for (long n : grid) s += (s.empty() ? "" : "×") + std::to_string(n);
    return s;
  }

  // The dataset file: generated (or completed, with --resume) unless a finished one made with
  // the same settings is already there (then it is read as it is: a dataset is a cache). Rank 0's
  // view decides, so that every rank takes the collective inspect_dataset or none does.
  void prepare_dataset() {
    m_path = m_spec.data.file.empty()
                 ? (std::filesystem::path(m_ctx.dir->path()) / "dataset.h5").string()
                 : m_spec.data.file;
    if (exists_on_rank0(m_ctx.comm, m_path) &&
        data::inspect_dataset(m_ctx.comm, m_path).generator == data::describe(m_spec.data)) {
      log().info("dataset {}: made with these settings, reused", m_path);
      return;
    }
    data::GenerateOptions options;
    options.resume = m_ctx.resume;
    options.quiet = progress_quiet();
    options.config_yaml = m_ctx.resolved_yaml;
    const data::GenerateSummary s =
        data::generate_dataset(m_ctx.comm, m_spec.data, m_path, options);
    log().info("dataset {}: {} samples ({} solved, {} kept), {:.2f} s per solve", m_path, s.samples,
               s.solved, s.kept, s.solved > 0 ? s.solve_s / s.solved : 0.0);
  }

  // Every rank holds the whole training set (mini-batches are drawn from all of it) in the model
  // layout, inputs encoded, outputs raw (the loss is on decoded outputs, as the reference).
  void load_training_set() {
    data::OperatorData d = data::read_operator_data(m_ctx.comm, m_path, 0, m_spec.train);
    m_space = d.grid;
    m_space_points = product(d.grid);
    m_file_in = d.in_channels;
    m_file_out = d.out_channels;
    m_grid = m_time->model_grid(m_space);
    m_points = product(m_grid);
    m_in = m_time->model_in();
    m_out = m_time->model_out();
    m_examples = m_spec.training_examples();
    if (m_spec.normalize != Normalize::none) {
      m_input_norm = std::make_unique<nn::GaussianNormalizer<T>>("input");
      m_output_norm = std::make_unique<nn::GaussianNormalizer<T>>("output");
    }
    // Every rank has all samples: normalisers fit on this rank alone (the same everywhere).
    if (autoregressive()) {
      load_trajectories(d);
    } else {
      m_x = channels_last<T>(m_time->model_inputs(d.inputs, d.count, m_space_points), d.count, m_in,
                             m_points, "karman::fno::x");
      m_y = channels_last<T>(m_time->model_outputs(d.outputs, d.count, m_space_points), d.count,
                             m_out, m_points, "karman::fno::y");
      if (m_input_norm) {
        m_input_norm->fit(MPI_COMM_SELF, normalizer_view(m_x));
        m_output_norm->fit(MPI_COMM_SELF, normalizer_view(m_y));
        m_input_norm->encode(normalizer_view(m_x), normalizer_view(m_x));
      }
    }
  }

  // autoregressive: the whole trajectories [S·P, K + T], raw; the windows are cut (and encoded)
  // per batch, as a materialised set would be T times the trajectories. One normaliser for the
  // vorticity, wherever it sits in a window.
  void load_trajectories(const data::OperatorData& d) {
    m_trajectories = channels_last<T>(
        fno::trajectories(d.inputs, d.outputs, d.count, m_file_in, m_file_out, m_space_points),
        d.count, m_file_in + m_file_out, m_space_points, "karman::fno::trajectories");
    if (m_input_norm) {
      m_input_norm->fit(MPI_COMM_SELF, one_field(m_trajectories));
      m_output_norm->fit(MPI_COMM_SELF, one_field(m_trajectories));
    }
  }

  // The held-out samples (the file's last `test`), this rank's share, raw.
  void load_test_set() {
    const auto [first, count] = my_share(m_ctx.comm, m_spec.test);
    data::OperatorData d = data::read_operator_data(
        m_ctx.comm, m_path, m_spec.data.samples - m_spec.test + first, count);
    m_test_in = d.inputs;
    m_test_out = d.outputs;
    m_test_count = count;
  }

  void build_model() {
    auto model = std::make_unique<fno::FnoModel<T>>(m_spec.model, m_in, m_out);
    m_model = model.get();
    m_net = std::make_unique<nn::Network<T>>(std::move(model), m_spec.model.seed);
    m_model->set_grid(m_grid);
  }

  // A contiguous [R, C] seen as [R·C, 1]: every value the same channel.
  static nn::Matrix<T> one_field(const nn::Matrix<T>& m) {
    return nn::Matrix<T>(m.data(), m.extent(0) * m.extent(1), 1);
  }

  // The matrix a normaliser sees for samples of `points` grid points: per point and channel
  // ([S, P·C]) or per channel ([S·P, C]; autoregressive: every channel the vorticity, [S·P·C, 1]).
  nn::Matrix<T> normalizer_view(const nn::Matrix<T>& m, long points) const {
    if (m_spec.normalize == Normalize::per_point) return per_sample(m, points);
    return autoregressive() ? one_field(m) : m;
  }
  nn::Matrix<T> normalizer_view(const nn::Matrix<T>& m) const {
    return normalizer_view(m, m_points);
  }

  bool reproducible() const { return nn::reproducible_sums<T>(m_spec.training); }

  // Copy examples `order[first .. first + count)` of the training set into the batch buffers.
  void gather(const std::vector<long>& order, long first, long count) {
    nn::ensure_shape(m_x_batch, "karman::fno::x_batch", count * m_points, m_in);
    // The autoregressive model's targets: the R states after each window, one column per step.
    nn::ensure_shape(m_y_batch, "karman::fno::y_batch", count * m_points,
                     autoregressive() ? m_spec.rollout : m_out);
    for (long i = 0; i < count; ++i) {
      const long e = order[first + i];
      if (autoregressive()) {
        copy_window(e, i);
      } else {
        Kokkos::deep_copy(sample_rows(m_x_batch, m_points, i, 1), sample_rows(m_x, m_points, e, 1));
        Kokkos::deep_copy(sample_rows(m_y_batch, m_points, i, 1), sample_rows(m_y, m_points, e, 1));
      }
    }
    if (autoregressive() && m_input_norm)
      m_input_norm->encode(normalizer_view(m_x_batch), normalizer_view(m_x_batch));
  }

  // Window e = s·W + t (W = T − R + 1 windows per trajectory) of the autoregressive model into
  // batch position i: states t … t+K−1 of trajectory s ([P, K], a column block of its rows) and
  // the R states after them ([P, R]).
  void copy_window(long e, long i) {
    const long windows = m_file_out - m_spec.rollout + 1;
    const long s = e / windows, t = e % windows, targets = t + m_in;
    const nn::Matrix<T> states = sample_rows(m_trajectories, m_points, s, 1);  // [P, K + T]
    Kokkos::deep_copy(sample_rows(m_x_batch, m_points, i, 1),
                      Kokkos::subview(states, Kokkos::ALL, std::make_pair(t, targets)));
    Kokkos::deep_copy(
        sample_rows(m_y_batch, m_points, i, 1),
        Kokkos::subview(states, Kokkos::ALL, std::make_pair(targets, targets + m_spec.rollout)));
  }

  // Samples of the mini-batch of `step`, in batch order (a fresh permutation every epoch).
  std::vector<long> batch_order(long step) {
    if (!m_batches)
      m_batches = std::make_unique<EpochBatches>(m_examples, m_spec.training.batch_size,
                                                 m_spec.training.shuffle_seed);
    return m_batches->batch(step);
  }

  // Relative-L2 loss of batch positions [first, first + count) of step `step`, normalised by the
  // global batch (so the sum over ranks or chunks is the batch mean); gradients added.
  std::vector<nn::LossTerm> loss_on(long step, long first, long count) {
    // A rank (or chunk) with no sample of this batch (batch_size < ranks) adds nothing: its
    // gradients stay the trainer's zeros, and the sum over ranks is still the batch mean.
    if (count == 0) return {{"relative_l2", 1.0, 0.0}};
    if (autoregressive()) return rollout_loss_on(step, first, count);
    gather(batch_order(step), first, count);
    nn::Context<T>& forward = m_net->forward(m_x_batch);
    const nn::Matrix<T> out = forward.y;  // [count·P, out], normalised units
    nn::ensure_shape(m_prediction, "karman::fno::prediction", out.extent(0), out.extent(1));
    nn::ensure_shape(m_dprediction, "karman::fno::dprediction", out.extent(0), out.extent(1));
    nn::ensure_shape(m_dout, "karman::fno::dout", out.extent(0), out.extent(1));
    decode(out, m_prediction, m_points);
    const T value = nn::relative_l2_loss(
        per_sample(m_prediction, m_points), per_sample(m_y_batch, m_points),
        per_sample(m_dprediction, m_points), static_cast<double>(m_spec.training.batch_size));
    if (m_output_norm)
      m_output_norm->decode_backward(normalizer_view(m_dprediction), normalizer_view(m_dout));
    m_net->backward(forward, m_output_norm ? m_dout : m_dprediction);
    return {{"relative_l2", 1.0, static_cast<double>(value)}};
  }

  // The autoregressive model's loss through its rollout of R = training.rollout steps from the
  // windows of `step` (batch positions [first, first + count)): step r maps its input x_r [B·P, K]
  // (encoded) to out_r [B·P, 1], the prediction p_r = decode(out_r) is compared with the true state
  // (per-sample relative L2, the mean over the R steps), and x_{r+1} = [x_r[:, 1:K], encode(p_r)].
  // Back-propagation through time: with g_{r+1} = ∂L/∂x_{r+1},
  //   ∂L/∂p_r += encode'ᵀ g_{r+1}[:, K−1],   ∂L/∂x_r = f_r'ᵀ ∂L/∂out_r + shift(g_{r+1}),
  // shift(g)[:, c] = g[:, c − 1] for c ≥ 1 (x_{r+1}'s first K − 1 columns are x_r's last).
  // R = 1 is teacher forcing (one-step examples). Every step's context lives in m_rollout, reset
  // here: the R contexts are made once and reused by every later step.
  std::vector<nn::LossTerm> rollout_loss_on(long step, long first, long count) {
    gather(batch_order(step), first, count);
    const long steps = m_spec.rollout;
    const std::size_t rows = static_cast<std::size_t>(count * m_points);
    allocate_rollout(rows);
    m_rollout.reset();
    const double scale = static_cast<double>(m_spec.training.batch_size * steps);
    double value = 0;
    for (long r = 0; r < steps; ++r) {
      m_step_context[r] = &m_net->forward(m_step_input[r], nn::Pass::values(), m_rollout);
      decode(m_step_context[r]->y, m_step_prediction[r], m_points);
      Kokkos::deep_copy(m_step_target,
                        Kokkos::subview(m_y_batch, Kokkos::ALL, std::make_pair(r, r + 1)));
      value += static_cast<double>(nn::relative_l2_loss(
          per_sample(m_step_prediction[r], m_points), per_sample(m_step_target, m_points),
          per_sample(m_step_dprediction[r], m_points), scale));
      if (r + 1 < steps)
        next_step_input(m_step_input[r], m_step_prediction[r], m_step_input[r + 1]);
    }
    for (long r = steps - 1; r >= 0; --r) {
      if (r + 1 < steps) add_fed_back_gradient(m_input_gradient, m_step_dprediction[r]);
      nn::Matrix<T> dout = m_step_dprediction[r];
      if (m_output_norm) {
        m_output_norm->decode_backward(normalizer_view(dout), normalizer_view(m_dout));
        dout = m_dout;
      }
      const nn::Matrix<T> dx = m_net->backward(*m_step_context[r], dout);
      if (r > 0) previous_input_gradient(dx, r + 1 < steps, m_input_gradient);
    }
    return {{"relative_l2", 1.0, value}};
  }

  // The rollout's buffers for batches of `rows` rows (made once per shape).
  void allocate_rollout(std::size_t rows) {
    const long steps = m_spec.rollout;
    m_step_input.resize(steps);
    m_step_prediction.resize(steps);
    m_step_dprediction.resize(steps);
    m_step_context.resize(steps);
    m_step_input[0] = m_x_batch;  // the gathered windows are the first step's input
    for (long r = 0; r < steps; ++r) {
      if (r > 0) nn::ensure_shape(m_step_input[r], "karman::fno::step_input", rows, m_in);
      nn::ensure_shape(m_step_prediction[r], "karman::fno::step_prediction", rows, 1);
      nn::ensure_shape(m_step_dprediction[r], "karman::fno::step_dprediction", rows, 1);
    }
    nn::ensure_shape(m_step_target, "karman::fno::step_target", rows, 1);
    nn::ensure_shape(m_dout, "karman::fno::dout", rows, 1);
    nn::ensure_shape(m_encoded, "karman::fno::encoded", rows, 1);
    nn::ensure_shape(m_input_gradient, "karman::fno::input_gradient", rows, m_in);
  }

  // x_next = [x[:, 1:K], encode(p)]  ([rows, K], p [rows, 1] in physical units).
  void next_step_input(const nn::Matrix<T>& x, const nn::Matrix<T>& p, const nn::Matrix<T>& next) {
    nn::Matrix<T> encoded = p;
    if (m_input_norm) {
      m_input_norm->encode(one_field(p), one_field(m_encoded));
      encoded = m_encoded;
    }
    const long k = m_in;
    Kokkos::parallel_for(
        "karman::fno::next_step_input", Kokkos::RangePolicy<nn::ExecutionSpace>(0, x.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          for (long c = 0; c + 1 < k; ++c) next(i, c) = x(i, c + 1);
          next(i, k - 1) = encoded(i, 0);
        });
  }

  // dp += encode'ᵀ g[:, K−1]: the gradient reaching prediction p_r through x_{r+1}.
  void add_fed_back_gradient(const nn::Matrix<T>& g, const nn::Matrix<T>& dp) {
    const long k = m_in;
    const nn::Matrix<T> fed = m_encoded;  // [rows, 1]
    Kokkos::parallel_for(
        "karman::fno::fed_back_gradient", Kokkos::RangePolicy<nn::ExecutionSpace>(0, g.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) { fed(i, 0) = g(i, k - 1); });
    if (m_input_norm) m_input_norm->encode_backward(one_field(fed), one_field(fed));
    Kokkos::parallel_for(
        "karman::fno::add_fed_back_gradient",
        Kokkos::RangePolicy<nn::ExecutionSpace>(0, dp.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) { dp(i, 0) += fed(i, 0); });
  }

  // g ← dx + shift(g) (with_next: g holds ∂L/∂x_{r+1}; else g ← dx): ∂L/∂x_r.
  void previous_input_gradient(const nn::Matrix<T>& dx, bool with_next, const nn::Matrix<T>& g) {
    const long k = m_in;
    Kokkos::parallel_for(
        "karman::fno::previous_input_gradient",
        Kokkos::RangePolicy<nn::ExecutionSpace>(0, dx.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          // Right to left: g(i, c − 1) is still ∂L/∂x_{r+1} when column c reads it.
          for (long c = k - 1; c >= 0; --c)
            g(i, c) = dx(i, c) + (with_next && c > 0 ? g(i, c - 1) : T(0));
        });
  }

  std::vector<nn::LossTerm> loss(long step) {
    const auto [first, count] = my_share(m_ctx.comm, m_spec.training.batch_size);
    return loss_on(step, first, count);
  }

  // training.reproducible: the batch in training.chunks fixed chunks summed in a fixed order.
  nn::ChunkedLoss chunked_loss() {
    const long chunks = m_spec.training.chunks;
    return {chunks,
            [this, chunks](long step, long chunk) {
              const auto [first, count] = share(m_spec.training.batch_size, chunk, chunks);
              return loss_on(step, first, count);
            },
            {}};
  }

  // Network output (normalised units) -> physical units, for samples of `points` grid points.
  void decode(const nn::Matrix<T>& out, const nn::Matrix<T>& decoded, long points) const {
    if (m_output_norm)
      m_output_norm->decode(normalizer_view(out, points), normalizer_view(decoded, points));
    else
      Kokkos::deep_copy(decoded, out);
  }

  // Prediction of the outputs of file samples ([count, C_in, P] raw -> [count, C_out, P]) on the
  // spatial grid `space`: the model's predictions through the time treatment (the identity but
  // for Navier–Stokes; the whole rollout when autoregressive). The timed unit of inference.
  std::vector<double> predict_file(const std::vector<double>& inputs, long count,
                                   const std::vector<long>& space) {
    return m_time->predict(inputs, count, space,
                           [this](const std::vector<double>& x, long n,
                                  const std::vector<long>& grid) { return predict(x, n, grid); });
  }

  // The model's prediction for model samples given channels-first ([count, C_in, P], raw) on the
  // model grid `grid`: [count, C_out, P] channels-first. Encode, forward, decode.
  std::vector<double> predict(const std::vector<double>& inputs, long count,
                              const std::vector<long>& grid) {
    const long points = product(grid);
    m_model->set_grid(grid);
    std::vector<double> result(static_cast<std::size_t>(count * m_out * points));
    const long batch = m_spec.evaluation.batch;
    for (long first = 0; first < count; first += batch) {
      const long n = std::min(batch, count - first);
      nn::Matrix<T>& x = m_x_eval;
      to_channels_last(&inputs[first * m_in * points], n, m_in, points, x, "karman::fno::x_eval");
      if (m_input_norm)
        m_input_norm->encode(normalizer_view(x, points), normalizer_view(x, points));
      // One workspace per batch size: the activations of a full batch and of the last, partial
      // one keep their buffers from call to call (and from the training's), no reallocation.
      nn::Workspace<T>& workspace = m_eval_workspaces[n];
      workspace.reset();
      const nn::Matrix<T> out = m_net->forward(x, nn::Pass::values(), workspace).y;
      nn::ensure_shape(m_decoded, "karman::fno::decoded", out.extent(0), out.extent(1));
      decode(out, m_decoded, points);
      auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_decoded);
      for (long s = 0; s < n; ++s)
        for (long c = 0; c < m_out; ++c)
          for (long p = 0; p < points; ++p)
            result[((first + s) * m_out + c) * points + p] = host(s * points + p, c);
    }
    m_model->set_grid(m_grid);
    return result;
  }

  // evaluation.conservation: members 2..M, trained as the first (same batches and schedule, no
  // validation) from the initial weights of seeds model.seed + 1, …; the loss trains whichever
  // network m_net holds. No checkpoints: a resumed run trains them again, to the same weights.
  void train_ensemble(nn::TrainerOptions options) {
    options.checkpoint_path.clear();
    options.stop_after = -1;
    options.validate_every = 0;
    Timer timer;
    for (long m = 1; m < m_spec.conservation.ensemble; ++m) {
      auto model = std::make_unique<fno::FnoModel<T>>(m_spec.model, m_in, m_out);
      m_member_models.push_back(model.get());
      m_members.push_back(std::make_unique<nn::Network<T>>(
          std::move(model), m_spec.model.seed + static_cast<std::uint64_t>(m)));
      m_member_models.back()->set_grid(m_grid);
      const std::size_t k = m_members.size() - 1;
      swap_member(k);
      const nn::TrainingResult r =
          reproducible()
              ? nn::Trainer<T>(m_ctx.comm, m_net->parameters(), chunked_loss(), options).run()
              : nn::Trainer<T>(
                    m_ctx.comm, m_net->parameters(), [this](long step) { return loss(step); },
                    options)
                    .run();
      swap_member(k);
      if (r.stop_reason == "interrupted")
        throw Interrupted(fmt::format("{} of ensemble member {} of {} (retrained on resume)",
                                      r.message, m + 1, m_spec.conservation.ensemble));
      log().info("ensemble member {} of {}: final loss {:.4e}", m + 1, m_spec.conservation.ensemble,
                 r.final_loss);
    }
    m_ensemble_train_s = timer.seconds();
  }
  void swap_member(std::size_t k) {
    std::swap(m_net, m_members[k]);
    std::swap(m_model, m_member_models[k]);
  }

  // metrics.conservation: every member's prediction of this rank's test instances (timed), their
  // mean without and with ProbConserv's correction.
  nlohmann::json conservation() {
    std::vector<std::vector<double>> predictions;
    std::vector<double> seconds;
    for (std::size_t m = 0; m <= m_members.size(); ++m) {
      if (m > 0) swap_member(m - 1);
      Timer timer;
      predictions.push_back(predict_file(m_test_in, m_test_count, m_space));
      seconds.push_back(timer.seconds());
      if (m > 0) swap_member(m - 1);
    }
    // ∫u0 = 0: the datasets' initial fields have no mean mode (conservation.hpp).
    const std::vector<double> integrals(static_cast<std::size_t>(m_test_count), 0.0);
    nlohmann::json c =
        fno::conservation_metrics(m_ctx.comm, m_test_in, m_test_out, integrals, predictions,
                                  seconds, m_test_count, m_space_points, m_spec.test);
    c["ensemble_train_wall_s"] = m_ensemble_train_s;  // the members after the first
    return c;
  }

  // Test-set error (the same on every rank) and inference time per sample (slowest rank).
  Evaluation evaluate() {
    Timer timer;
    const std::vector<double> prediction = predict_file(m_test_in, m_test_count, m_space);
    const double wall = timer.seconds();
    double local[3] = {0, 0, 0}, sums[3];  // rel_l2, rel_l2 of the last channel, s/sample
    double local_max = 0, max_rel;
    std::vector<double> mine;
    const long n = m_file_out * m_space_points, last = n - m_space_points;
    for (long s = 0; s < m_test_count; ++s) {
      const double r = relative_l2(prediction, m_test_out, s * n, n);
      mine.push_back(r);
      local[0] += r;
      local[1] += relative_l2(prediction, m_test_out, s * n + last, m_space_points);
      local_max = std::max(local_max, r);
    }
    local[2] = m_test_count > 0 ? wall / static_cast<double>(m_test_count) : 0.0;
    MPI_Allreduce(&local[0], &sums[0], 2, MPI_DOUBLE, MPI_SUM, m_ctx.comm);
    MPI_Allreduce(&local[2], &sums[2], 1, MPI_DOUBLE, MPI_MAX, m_ctx.comm);
    MPI_Allreduce(&local_max, &max_rel, 1, MPI_DOUBLE, MPI_MAX, m_ctx.comm);
    const double test = static_cast<double>(m_spec.test);
    // Each rank holds a contiguous share of the test set (load_test_set): rank order is file order.
    return {sums[0] / test, max_rel, sums[2], sums[1] / test, all_gather(m_ctx.comm, mine)};
  }

  // The first evaluation.baseline_samples test instances solved again by the PETSc reference at
  // the test resolution (each rank its share, one solve per process, timed), its error against
  // the dataset's (fine-grid) solution, and for Darcy the CG solve started from the FNO's
  // prediction at the same tolerance.
  nlohmann::json compare_with_petsc(nlohmann::json& metrics) {
    const long k = std::min(m_spec.evaluation.baseline_samples, m_spec.test);
    const auto [first, count] = my_share(m_ctx.comm, k);
    data::DatasetSpec spec = m_spec.data;
    if (m_spec.evaluation.baseline_rtol > 0)
      spec.darcy.solver.rtol = m_spec.evaluation.baseline_rtol;
    const bool darcy = spec.problem == data::Problem::darcy;
    const long nodes = m_space.back();
    double local[5] = {0, 0, 0, 0, 0};  // solve_s, iterations, rel_l2, warm iterations, warm_s
    solvers::SolveStats last, last_warm;
    const long out_size = m_file_out * m_space_points;
    for (long i = 0; i < count; ++i) {
      // Test sample first + i (the test set is the file's last `test` samples).
      const data::OperatorData d = data::read_operator_data(
          MPI_COMM_SELF, m_path, m_spec.data.samples - m_spec.test + first + i, 1);
      const data::SolveOutcome cold = data::solve_given(spec, d.inputs, nodes);
      local[0] += cold.wall_s;
      local[1] += static_cast<double>(cold.iterations);
      local[2] += relative_l2(cold.solution, d.outputs, 0, out_size);
      last = cold.stats;
      if (darcy) {  // the hybrid solve: CG from the FNO's prediction
        const std::vector<double> guess = predict_file(d.inputs, 1, m_space);
        const data::SolveOutcome warm = data::solve_given(spec, d.inputs, nodes, &guess);
        local[3] += static_cast<double>(warm.iterations);
        local[4] += warm.wall_s;
        last_warm = warm.stats;
      }
    }
    double sums[5];
    MPI_Allreduce(local, sums, 5, MPI_DOUBLE, MPI_SUM, m_ctx.comm);
    nlohmann::json baseline = baseline_json(last);
    baseline["samples"] = k;
    baseline["solve_s_per_sample"] = sums[0] / static_cast<double>(k);
    baseline["iterations"] = sums[1] / static_cast<double>(k);
    baseline["rel_l2"] = sums[2] / static_cast<double>(k);
    baseline["resolution"] = m_space;
    if (darcy) {
      metrics["warm_start_iterations"] = sums[3] / static_cast<double>(k);
      metrics["warm_start_solve_s"] = sums[4] / static_cast<double>(k);
      // Beside baseline.residual_history (from zero): the same sample's CG from the prediction.
      if (!last_warm.residual_history.empty())
        metrics["warm_start_residual_history"] = last_warm.residual_history;
      log().info("CG iterations from the FNO's prediction {:.1f}, from zero {:.1f}",
                 sums[3] / static_cast<double>(k), sums[1] / static_cast<double>(k));
    }
    return baseline;
  }

  // Zero-shot super-resolution: test instances generated at stride data.stride / factor, the
  // same weights on the finer grid.
  void super_resolution(nlohmann::json& metrics) {
    const long k = std::min(m_spec.evaluation.super_samples, m_spec.test);
    const long stride = m_spec.data.stride / m_spec.evaluation.super_resolution;
    const long nodes = m_spec.data.subsampled(m_spec.data.resolution, stride);
    const std::vector<long> fine(static_cast<std::size_t>(m_spec.data.dim()), nodes);
    const auto [first, count] = my_share(m_ctx.comm, k);
    double local = 0, sum = 0;
    for (long i = 0; i < count; ++i) {
      const long sample = m_spec.data.samples - m_spec.test + first + i;
      const data::Instance instance = data::solve_instance(m_spec.data, sample, nodes);
      const std::vector<double> p = predict_file(instance.inputs, 1, fine);
      local += relative_l2(p, instance.outputs, 0, instance.outputs.size());
    }
    MPI_Allreduce(&local, &sum, 1, MPI_DOUBLE, MPI_SUM, m_ctx.comm);
    metrics["super_resolution"] = {
        {"rel_l2", sum / static_cast<double>(k)}, {"samples", k}, {"resolution", fine}};
    log().info("zero-shot super-resolution (stride {}): rel_l2 {:.3e}", stride,
               sum / static_cast<double>(k));
    write_super_resolution(nodes, fine);
  }

  // super_resolution.h5: the first test sample on the finer grid — input (first channel),
  // prediction, reference and error (last output channel) — for karman post's figure. Every rank
  // solves it (one small instance): the file is written collectively.
  void write_super_resolution(long nodes, const std::vector<long>& fine) {
    const data::Instance instance =
        data::solve_instance(m_spec.data, m_spec.data.samples - m_spec.test, nodes);
    const std::vector<double> p = predict_file(instance.inputs, 1, fine);
    const long points = std::accumulate(fine.begin(), fine.end(), 1L, std::multiplies<long>());
    const long last = static_cast<long>(p.size()) - points;
    auto channel = [points](const std::vector<double>& v, long at) {
      return std::vector<double>(v.begin() + at, v.begin() + at + points);
    };
    const std::vector<double> prediction = channel(p, last),
                              reference = channel(instance.outputs, last);
    std::vector<double> error(static_cast<std::size_t>(points));
    for (long i = 0; i < points; ++i) error[i] = prediction[i] - reference[i];
    mesh::StructuredGrid grid(m_ctx.comm, m_spec.data.grid(nodes));
    io::FieldWriter writer(m_ctx.dir->staged("super_resolution.h5"), grid);
    writer.attribute("case", m_ctx.case_name);
    writer.attribute("kind", std::string("fno"));
    writer.layout_attributes();
    writer.write_field("input", grid.extract_owned(channel(instance.inputs, 0)));
    writer.write_field("prediction", grid.extract_owned(prediction));
    writer.write_field("reference", grid.extract_owned(reference));
    writer.write_field("error", grid.extract_owned(error));
    writer.close();
  }

  // fields.h5: the first evaluation.fields test samples — input, prediction, reference, error.
  void write_fields() {
    const long k = m_spec.evaluation.fields;
    if (k == 0) return;
    const data::OperatorData d =
        data::read_operator_data(m_ctx.comm, m_path, m_spec.data.samples - m_spec.test, k);
    const std::vector<double> prediction = predict_file(d.inputs, k, m_space);
    mesh::StructuredGrid grid(m_ctx.comm, m_spec.data.grid(m_space.back()));
    io::FieldWriter writer(m_ctx.dir->staged("fields.h5"), grid);
    writer.attribute("case", m_ctx.case_name);
    writer.attribute("kind", std::string("fno"));
    writer.attribute("config", m_ctx.resolved_yaml);
    writer.layout_attributes();
    std::vector<std::string> names;
    auto store = [&](const std::string& name, const double* values) {
      writer.write_field(name,
                         grid.extract_owned(std::vector<double>(values, values + m_space_points)));
      names.push_back(name);
    };
    for (long s = 0; s < k; ++s) {
      const std::string tag = fmt::format("sample{}", s);
      for (long c = 0; c < m_file_in; ++c)
        store(m_file_in == 1 ? tag + "_input" : fmt::format("{}_input{}", tag, c),
              &d.inputs[(s * m_file_in + c) * m_space_points]);
      for (long c = 0; c < m_file_out; ++c) {
        const std::string suffix = m_file_out == 1 ? "" : std::to_string(c);
        const double* p = &prediction[(s * m_file_out + c) * m_space_points];
        const double* r = &d.outputs[(s * m_file_out + c) * m_space_points];
        std::vector<double> error(static_cast<std::size_t>(m_space_points));
        for (long i = 0; i < m_space_points; ++i) error[i] = p[i] - r[i];
        store(tag + "_prediction" + suffix, p);
        store(tag + "_reference" + suffix, r);
        store(tag + "_error" + suffix, error.data());
      }
    }
    writer.close();
    if (m_ctx.rank == 0) io::write_xdmf(m_ctx.dir->staged("fields.xdmf"), "fields.h5", grid, names);
  }

  const FnoCase& m_spec;
  RunContext& m_ctx;
  std::unique_ptr<fno::TimeTreatment> m_time;  // how the model sees the file's samples
  std::string m_path;
  std::vector<long> m_space;  // the file's (spatial) grid of the training samples
  long m_space_points = 0, m_file_in = 0, m_file_out = 0;
  std::vector<long> m_grid;  // the model's grid: m_space, or [m_space…, T] (space_time)
  long m_points = 0, m_in = 0, m_out = 0;  // on the model's grid, the model's channels
  long m_examples = 0;                     // training examples (autoregressive: windows)
  fno::FnoModel<T>* m_model = nullptr;     // owned by m_net
  std::unique_ptr<nn::Network<T>> m_net;
  std::vector<std::unique_ptr<nn::Network<T>>> m_members;  // evaluation.conservation: 2..M
  std::vector<fno::FnoModel<T>*> m_member_models;          // owned by m_members
  double m_ensemble_train_s = 0.0;
  std::unique_ptr<nn::GaussianNormalizer<T>> m_input_norm, m_output_norm;
  nn::Matrix<T> m_x, m_y;              // training set [S·P, C_in] (encoded), [S·P, C_out]
  nn::Matrix<T> m_trajectories;        // autoregressive: [S·P, K + T] raw, instead of m_x, m_y
  nn::Matrix<T> m_x_batch, m_y_batch;  // the samples of one loss evaluation
  nn::Matrix<T> m_prediction, m_dprediction, m_dout;  // [B·P, C_out]
  // The autoregressive rollout of one loss evaluation (R = training.rollout steps, B·P rows).
  nn::Workspace<T> m_rollout;                   // the R steps' contexts
  std::vector<nn::Context<T>*> m_step_context;  // [R]
  std::vector<nn::Matrix<T>> m_step_input;      // [R] [B·P, K] encoded inputs x_r (x_0: m_x_batch)
  std::vector<nn::Matrix<T>> m_step_prediction;   // [R] [B·P, 1] p_r, physical units
  std::vector<nn::Matrix<T>> m_step_dprediction;  // [R] [B·P, 1] ∂L/∂p_r
  nn::Matrix<T> m_step_target, m_encoded;         // [B·P, 1]
  nn::Matrix<T> m_input_gradient;                 // [B·P, K] ∂L/∂x_{r+1}
  nn::Matrix<T> m_x_eval, m_decoded;              // inference batch [B·P, C_in], [B·P, C_out]
  std::map<long, nn::Workspace<T>> m_eval_workspaces;  // inference, by batch size
  std::vector<double> m_test_in, m_test_out;           // this rank's test samples, file order
  long m_test_count = 0;
  std::unique_ptr<EpochBatches> m_batches;  // the training examples' mini-batches
};

class FnoMethod : public Method {
 public:
  void read(const config::Node& root, const std::string& precision) override {
    m_spec = read_fno_case(root);
    m_precision = precision;
  }
  std::string summary() const override {
    return fmt::format(
        "kind fno, {} dataset ({} samples: {} train, {} test),{} width {}, {} layers, {}",
        data::to_string(m_spec.data.problem), m_spec.data.samples, m_spec.train, m_spec.test,
        m_spec.data.problem == data::Problem::navier_stokes
            ? " " + fno::to_string(m_spec.time) + " model,"
            : std::string(),
        m_spec.model.width, m_spec.model.layers, m_precision);
  }
  std::string run(RunContext& ctx) override {
    if (m_precision == "float64") return FnoRun<double>(m_spec, ctx).run();
    return FnoRun<float>(m_spec, ctx).run();
  }

 private:
  FnoCase m_spec;
  std::string m_precision;
};

}  // namespace

std::unique_ptr<Method> make_fno_method() { return std::make_unique<FnoMethod>(); }

}  // namespace karman::fno
