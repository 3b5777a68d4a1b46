// kind: gno with data.problem darcy — the graph kernel network on the FNO benchmark's Darcy data
// (Li et al. 2020, "Graph Kernel Network"): a ↦ u for −∇·(a∇u) = 1 on (0,1)², u = 0 on the
// boundary, a thresholded Gaussian random field (12 / 3), solved by Karman's PETSc solver on the
// fine grid (data.resolution nodes per side) and stored there; the model trains on every
// data.stride-th node (241 → 61 in the paper) on the radius graph of model.radius, and is then
// evaluated zero-shot on the finer grids of evaluation.resolutions with the same weights.
//
// Inputs as the GKN code: node features (x, y, a, ā, r∇ā) and edge features (x_i, x_j, a_i, a_j)
// (grid_graph.hpp) with a normalised by the training set's mean and deviation; the output is u
// normalised the same way (one mean and deviation: a per-node normaliser would tie the model to
// the training grid). Loss: the relative L2 of the decoded u per sample, the batch mean. Data
// parallel: each rank runs its share of every batch, the trainer sums over the ranks.

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "karman/config/case.hpp"
#include "karman/core/collective.hpp"
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
#include "karman/mesh/grid.hpp"
#include "karman/nn/case_sections.hpp"
#include "karman/nn/kernel_integral.hpp"
#include "karman/nn/loss.hpp"
#include "karman/run/outputs.hpp"
#include "operators/gno/grid_graph.hpp"
#include "operators/gno/model.hpp"
#include "operators/gno/runner.hpp"

namespace karman::gno {
namespace {

using run::RunContext;

struct DarcyEvaluation {
  long batch = 4;
  long baseline_samples = 10;
  double baseline_rtol = 1e-6;
  long fields = 3;
  std::vector<long> resolutions;  // zero-shot grids (nodes per side)
  long zero_shot_samples = 10;
  long max_edges = 8'000'000;  // per sample, beyond which a finer grid's senders are a sub-grid
};

struct DarcyCase {
  data::DatasetSpec data;  // stored at data.resolution (stride 1); data.stride: the training grid
  long train = 100, test = 40;
  ModelSpec model;
  double radius = 0.1;
  nn::TrainingSpec training;
  DarcyEvaluation evaluation;
};

// The grid with `nodes` per side must be the stored one subsampled by an integer stride.
long stride_to(const data::DatasetSpec& data, long nodes) {
  if (nodes < 2 || (data.resolution - 1) % (nodes - 1) != 0) return 0;
  return (data.resolution - 1) / (nodes - 1);
}

DarcyCase read_darcy_case(const config::Node& root) {
  DarcyCase spec;
  const config::Node data = root.child("data");
  spec.data = data::read_dataset_spec(data);
  if (spec.data.problem != data::Problem::darcy)
    data.fail("problem", "kind gno runs darcy (a grid) or poisson_shapes (meshes)");
  if (spec.data.training_resolution() < 4)
    data.fail("stride", "the training grid needs at least 4 nodes per side");
  spec.test = data.integer("test", std::min<long>(40, spec.data.samples / 4), 1);
  spec.train = data.integer("train", spec.data.samples - spec.test, 1);
  if (spec.train + spec.test > spec.data.samples)
    data.fail("train", fmt::format("train + test = {} is more than data.samples = {}",
                                   spec.train + spec.test, spec.data.samples));

  const config::Node model = root.child_or_empty("model");
  spec.radius = model.number("radius", 0.1, config::Bounds::positive());
  const double spacing = 1.0 / static_cast<double>(spec.data.training_resolution() - 1);
  if (spec.radius < spacing)
    model.fail("radius",
               fmt::format("a radius below the training grid's spacing {:.4g} leaves every node "
                           "with no neighbour but itself",
                           spacing));
  spec.model = read_gno_model(model);

  const config::Node training = root.child("training");
  spec.training = nn::read_training(training, /*least_squares=*/false, /*in_epochs=*/true);
  if (spec.training.batch_size == 0) spec.training.batch_size = std::min<long>(4, spec.train);
  if (spec.training.batch_size > spec.train)
    training.fail("batch_size", fmt::format("a batch of {} is more than the {} training samples",
                                            spec.training.batch_size, spec.train));

  const config::Node eval = root.child_or_empty("evaluation");
  DarcyEvaluation& e = spec.evaluation;
  e.batch = eval.integer("batch", 4, 1);
  e.baseline_samples = eval.integer("baseline_samples", std::min<long>(10, spec.test), 1);
  e.baseline_rtol = eval.number("baseline_rtol", 1e-6, config::Bounds::positive());
  e.fields = eval.integer("fields", std::min<long>(3, spec.test), 0, spec.test);
  e.zero_shot_samples = eval.integer("zero_shot_samples", std::min<long>(10, spec.test), 1);
  e.max_edges = eval.integer("max_edges", 8'000'000, 1000);
  if (eval.has("resolutions")) {
    for (double value : eval.number_list("resolutions", 1, config::Bounds::between(2, 1 << 20))) {
      const long s = static_cast<long>(value);
      if (static_cast<double>(s) != value || stride_to(spec.data, s) == 0 ||
          s <= spec.data.training_resolution())
        eval.fail("resolutions",
                  fmt::format("{} nodes per side is not a grid finer than the training grid ({}) "
                              "that the stored {}-node grid subsamples to",
                              value, spec.data.training_resolution(), spec.data.resolution));
      e.resolutions.push_back(s);
    }
  }
  return spec;
}

std::string describe_model(const ModelSpec& m) {
  if (m.type == ModelType::gno)
    return fmt::format("GNO (width {}, kernel width {}, depth {})", m.gno.width, m.gno.kernel_width,
                       m.gno.depth);
  return fmt::format("graph network (hidden {}, {} layers)", m.graph_network.hidden,
                     m.graph_network.layers);
}

double mean_of(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// Mean and (population) deviation of every value of `v`.
std::pair<double, double> moments(const std::vector<double>& v) {
  const double mu = mean_of(v);
  double var = 0.0;
  for (double x : v) var += (x - mu) * (x - mu);
  var /= static_cast<double>(std::max<std::size_t>(1, v.size()));
  return {mu, std::sqrt(var) + 1e-12};
}

// The sender stride of the zero-shot graph with `side` nodes per side: 1 (every node) unless the
// graph would exceed `max_edges` edges; then the smallest stride dividing side − 1 that fits.
long sender_stride_for(long side, double radius, long max_edges) {
  const double h = 1.0 / static_cast<double>(side - 1);
  for (long q = 1; q < side - 1; ++q) {
    if ((side - 1) % q != 0) continue;
    const double per_node = M_PI * std::pow(radius / (h * static_cast<double>(q)), 2);
    if (static_cast<double>(side * side) * per_node <= static_cast<double>(max_edges)) return q;
  }
  return side - 1;
}

template <class T>
class DarcyRun {
 public:
  DarcyRun(const DarcyCase& spec, RunContext& ctx) : m_spec(spec), m_ctx(ctx) {}

  std::string run() {
    StagePhases phase(Stage::data);  // generated or read (the generating solves count as data)
    prepare_dataset();
    load_sets();
    phase.enter(Stage::setup);
    build_model();
    phase.leave();
    nn::TrainingSpec training = m_spec.training;
    m_batches =
        std::make_unique<EpochBatches>(m_spec.train, training.batch_size, training.shuffle_seed);
    m_per_epoch = m_batches->per_epoch();
    nn::epochs_to_steps(training, m_per_epoch);
    log().info(
        "GNO {} parameters; {} training samples on the {}² grid, radius {} ({} edges per sample, "
        "{:.1f} per node), batch {} ({} steps per epoch)",
        m_parameters.size(), m_spec.train, m_side, m_spec.radius, m_graph.edges(),
        static_cast<double>(m_graph.edges()) / static_cast<double>(m_graph.nodes()),
        training.batch_size, m_per_epoch);

    auto validate = [this] { return evaluate(m_test_a, m_test_u, m_graph).rel_l2_mean; };
    const nn::TrainingResult result = run::train<T>(
        m_ctx, m_parameters, [this](long step) { return loss(step); }, training.trainer, validate);

    // The test sets, the PETSc baseline (its solves: baseline) and the fields (io).
    phase.enter(Stage::evaluation);
    const Evaluation test = evaluate(m_test_a, m_test_u, m_graph);
    log().info(
        "test set ({} samples, {}²): rel_l2 mean {:.3e}, max {:.3e}; inference {:.3e} s/sample",
        m_spec.test, m_side, test.rel_l2_mean, test.rel_l2_max, test.infer_s);
    nlohmann::json metrics = {{"rel_l2", test.rel_l2_mean},
                              {"rel_l2_max", test.rel_l2_max},
                              {"infer_s_per_sample", test.infer_s},
                              {"final_loss", result.final_loss},
                              {"train_wall_s", result.wall_s},
                              {"steps", result.steps},
                              {"epochs", result.steps / m_per_epoch},
                              {"stop_reason", result.stop_reason},
                              {"stages", run::stages_json(result)},
                              {"params", m_parameters.size()},
                              {"train_samples", m_spec.train},
                              {"test_samples", m_spec.test},
                              {"resolution", m_side},
                              {"radius", m_spec.radius},
                              {"edges_per_sample", m_graph.edges()},
                              {"kernel_memory", kernel_memory_json()}};
    metrics["zero_shot"] = zero_shot(test.rel_l2_mean);
    nlohmann::json baseline = compare_with_petsc(metrics);
    (*m_ctx.report)["metrics"] = metrics;
    (*m_ctx.report)["baseline"] = baseline;
    const double speedup = baseline["solve_s_per_sample"].get<double>() / test.infer_s;
    (*m_ctx.report)["speedup"] = speedup;
    log().info(
        "baseline (PETSc {} + {}) {:.3e} s/sample against GNO {:.3e} s/sample: speedup {:.3g}",
        baseline.value("ksp", std::string()), baseline.value("pc", std::string()),
        baseline["solve_s_per_sample"].get<double>(), test.infer_s, speedup);
    write_fields();
    phase.enter(Stage::io);
    run::write_history(m_ctx, result, "test_rel_l2");
    phase.leave();
    if (result.stop_reason == "non_finite") {
      m_ctx.message = result.message;
      return "diverged";
    }
    return "ok";
  }

 private:
  struct Evaluation {
    double rel_l2_mean = 0, rel_l2_max = 0, infer_s = 0;
  };

  // The dataset at the fine grid (the FNO's generator with stride 1, so that every finer grid
  // can be read from it): generated, completed with --resume, or reused when made with the same
  // settings.
  void prepare_dataset() {
    m_stored = m_spec.data;
    m_stored.stride = 1;
    m_path = m_stored.file.empty()
                 ? (std::filesystem::path(m_ctx.dir->path()) / "dataset.h5").string()
                 : m_stored.file;
    if (exists_on_rank0(m_ctx.comm, m_path) &&
        data::inspect_dataset(m_ctx.comm, m_path).generator == data::describe(m_stored)) {
      log().info("dataset {}: made with these settings, reused", m_path);
      return;
    }
    data::GenerateOptions options;
    options.resume = m_ctx.resume;
    options.quiet = progress_quiet();
    options.config_yaml = m_ctx.resolved_yaml;
    const Timer clock;
    const data::GenerateSummary s = data::generate_dataset(m_ctx.comm, m_stored, m_path, options);
    m_data_s = clock.seconds();
    log().info("dataset {}: {} Darcy samples at {}² ({} solved, {} kept), {:.3f} s per solve",
               m_path, s.samples, m_stored.resolution, s.solved, s.kept,
               s.solved > 0 ? s.solve_s / static_cast<double>(s.solved) : 0.0);
  }

  // Samples [first, first + count) at `side` nodes per side: a [count, N] and u [count, N].
  void read(long first, long count, long side, std::vector<double>& a,
            std::vector<double>& u) const {
    const data::OperatorData d = data::read_operator_data(MPI_COMM_SELF, m_path, first, count,
                                                          stride_to(m_stored, side), 1, 1);
    a = d.inputs;
    u = d.outputs;
  }

  // Every rank holds the whole training set (batches are drawn from all of it) and the test set.
  void load_sets() {
    m_side = m_spec.data.training_resolution();
    read(0, m_spec.train, m_side, m_train_a, m_train_u);
    read(m_spec.data.samples - m_spec.test, m_spec.test, m_side, m_test_a, m_test_u);
    std::tie(m_a_mean, m_a_std) = moments(m_train_a);
    std::tie(m_u_mean, m_u_std) = moments(m_train_u);
    m_graph = grid_radius_graph(m_side, m_spec.radius);
  }

  void build_model() {
    m_model = make_model<T>(m_spec.model, grid_node_features, grid_edge_features, 1);
    m_model->declare(m_parameters, "");
    m_parameters.allocate();
    m_model->initialize(m_spec.model.seed());
  }

  // Node and edge features of samples `which` (rows of a [*, N]) on `graph`, batched: h [B·N, 6],
  // e [B·E, 6] in the model's precision.
  void features(const GridGraph& graph, const std::vector<double>& a,
                const std::vector<long>& which) {
    const long n = graph.nodes(), e = graph.edges(), b = static_cast<long>(which.size());
    nn::ensure_shape(m_h, "karman::gno::node_features", b * n, grid_node_features);
    nn::ensure_shape(m_e, "karman::gno::edge_features", b * e, grid_edge_features);
    auto h = Kokkos::create_mirror_view(m_h);
    auto edge = Kokkos::create_mirror_view(m_e);
    std::vector<double> normalised(static_cast<std::size_t>(n));
    for (long s = 0; s < b; ++s) {
      const double* as = &a[static_cast<std::size_t>(which[s] * n)];
      for (long i = 0; i < n; ++i) normalised[i] = (as[i] - m_a_mean) / m_a_std;
      const std::vector<double> hv = grid_node_features_of(graph, normalised);
      const std::vector<double> ev = grid_edge_features_of(graph, normalised);
      for (long i = 0; i < n; ++i)
        for (long c = 0; c < grid_node_features; ++c)
          h(s * n + i, c) = static_cast<T>(hv[i * grid_node_features + c]);
      for (long k = 0; k < e; ++k)
        for (long c = 0; c < grid_edge_features; ++c)
          edge(s * e + k, c) = static_cast<T>(ev[k * grid_edge_features + c]);
    }
    Kokkos::deep_copy(m_h, h);
    Kokkos::deep_copy(m_e, edge);
  }

  // The batched graph of `copies` samples of `graph` (rebuilt when either changes).
  const mesh::Graph& batch_graph(const GridGraph& graph, long copies) {
    const std::array<long, 3> key = {graph.side, graph.sender_stride, copies};
    if (key != m_batch_key || graph.radius != m_batch_radius) {
      m_batch = batched_graph(graph, copies);
      m_batch_key = key;
      m_batch_radius = graph.radius;
    }
    return m_batch;
  }

  // This rank's share of step `step`'s batch: the relative L2 of the decoded u per sample,
  // divided by the global batch; gradients added.
  std::vector<nn::LossTerm> loss(long step) {
    const std::vector<long> order = m_batches->batch(step);
    const auto [first, count] = my_share(m_ctx.comm, static_cast<long>(order.size()));
    if (count == 0) return {{"relative_l2", 1.0, 0.0}};
    const std::vector<long> mine(order.begin() + first, order.begin() + first + count);
    features(m_graph, m_train_a, mine);
    const long n = m_graph.nodes();
    nn::Matrix<T> target("karman::gno::target", count, n), prediction("karman::gno::u", count, n);
    nn::Matrix<T> dprediction("karman::gno::du", count, n);
    auto t = Kokkos::create_mirror_view(target);
    for (long s = 0; s < count; ++s)
      for (long i = 0; i < n; ++i) t(s, i) = static_cast<T>(m_train_u[mine[s] * n + i]);
    Kokkos::deep_copy(target, t);

    m_workspace.reset();
    nn::GraphContext<T>& c =
        m_model->forward(batch_graph(m_graph, count), m_h, m_e, nn::Pass::values(), m_workspace);
    decode(c.h_out, prediction);
    const T value = nn::relative_l2_loss(prediction, target, dprediction,
                                         static_cast<double>(m_spec.training.batch_size));
    // d out = du · σ_u (the decode's transpose), as [B·N, 1].
    nn::Matrix<T> dout("karman::gno::dout", count * n, 1);
    const T scale = static_cast<T>(m_u_std);
    Kokkos::parallel_for(
        "karman::gno::decode_backward", Kokkos::RangePolicy<nn::ExecutionSpace>(0, count * n),
        KOKKOS_LAMBDA(const long r) { dout(r, 0) = scale * dprediction(r / n, r % n); });
    m_model->backward(c, dout, c.e_out);
    return {{"relative_l2", 1.0, static_cast<double>(value)}};
  }

  // out [B·N, 1] (normalised) → u [B, N] = out·σ_u + μ_u.
  void decode(const nn::Matrix<T>& out, const nn::Matrix<T>& u) const {
    const long n = static_cast<long>(u.extent(1));
    const T mu = static_cast<T>(m_u_mean), sigma = static_cast<T>(m_u_std);
    Kokkos::parallel_for(
        "karman::gno::decode", Kokkos::RangePolicy<nn::ExecutionSpace>(0, out.extent(0)),
        KOKKOS_LAMBDA(const long r) { u(r / n, r % n) = out(r, 0) * sigma + mu; });
  }

  // u [count, N] predicted for samples `which` of a [*, N] on `graph`, in batches.
  std::vector<double> predict(const GridGraph& graph, const std::vector<double>& a,
                              const std::vector<long>& which) {
    const long n = graph.nodes(), count = static_cast<long>(which.size());
    std::vector<double> out(static_cast<std::size_t>(count * n));
    for (long first = 0; first < count; first += m_spec.evaluation.batch) {
      const long b = std::min(m_spec.evaluation.batch, count - first);
      features(graph, a, {which.begin() + first, which.begin() + first + b});
      m_workspace.reset();
      nn::GraphContext<T>& c =
          m_model->forward(batch_graph(graph, b), m_h, m_e, nn::Pass::values(), m_workspace);
      nn::Matrix<T> u("karman::gno::u", b, n);
      decode(c.h_out, u);
      auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), u);
      for (long s = 0; s < b; ++s)
        for (long i = 0; i < n; ++i) out[(first + s) * n + i] = static_cast<double>(host(s, i));
    }
    return out;
  }

  // The error of this rank's share of samples a/u on `graph` (the same on every rank), and the
  // inference time per sample (slowest rank; features included).
  Evaluation evaluate(const std::vector<double>& a, const std::vector<double>& u,
                      const GridGraph& graph) {
    const long n = graph.nodes(), total = static_cast<long>(a.size()) / n;
    const auto [first, count] = my_share(m_ctx.comm, total);
    std::vector<long> which(static_cast<std::size_t>(count));
    std::iota(which.begin(), which.end(), first);
    const Timer clock;
    const std::vector<double> p = predict(graph, a, which);
    double local[2] = {0.0, count > 0 ? clock.seconds() / static_cast<double>(count) : 0.0};
    double worst = 0.0;
    for (long s = 0; s < count; ++s) {
      const std::vector<double> predicted(p.begin() + s * n, p.begin() + (s + 1) * n);
      const std::vector<double> reference(u.begin() + (first + s) * n,
                                          u.begin() + (first + s + 1) * n);
      const double r = relative_l2(predicted, reference, 0, static_cast<std::size_t>(n));
      local[0] += r;
      worst = std::max(worst, r);
    }
    double sum = 0.0, slowest = 0.0;
    MPI_Allreduce(&local[0], &sum, 1, MPI_DOUBLE, MPI_SUM, m_ctx.comm);
    MPI_Allreduce(&local[1], &slowest, 1, MPI_DOUBLE, MPI_MAX, m_ctx.comm);
    MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_DOUBLE, MPI_MAX, m_ctx.comm);
    return {sum / static_cast<double>(total), worst, slowest};
  }

  // The same weights on the finer grids of evaluation.resolutions (the first zero_shot_samples
  // test samples read at that grid from the stored fine data).
  nlohmann::json zero_shot(double training_error) {
    nlohmann::json out = nlohmann::json::array();
    const long k = std::min(m_spec.evaluation.zero_shot_samples, m_spec.test);
    for (long side : m_spec.evaluation.resolutions) {
      const long q = sender_stride_for(side, m_spec.radius, m_spec.evaluation.max_edges);
      const GridGraph graph = grid_radius_graph(side, m_spec.radius, q);
      std::vector<double> a, u;
      read(m_spec.data.samples - m_spec.test, k, side, a, u);
      const Evaluation e = evaluate(a, u, graph);
      log().info(
          "zero-shot {}²: rel_l2 {:.3e} (max {:.3e}), {:.2f}x the training grid's; senders every "
          "{} node(s), {} edges per sample; {:.3e} s/sample",
          side, e.rel_l2_mean, e.rel_l2_max, e.rel_l2_mean / training_error, q, graph.edges(),
          e.infer_s);
      out.push_back({{"resolution", side},
                     {"rel_l2", e.rel_l2_mean},
                     {"rel_l2_max", e.rel_l2_max},
                     {"ratio_to_training", e.rel_l2_mean / training_error},
                     {"sender_stride", q},
                     {"edges_per_sample", graph.edges()},
                     {"samples", k},
                     {"infer_s_per_sample", e.infer_s}});
    }
    return out;
  }

  // The kernel integral layer's memory at this graph (factored, and what the GKN code's
  // materialised kernel would need), for one forward kept for its backward.
  nlohmann::json kernel_memory_json() const {
    nn::KernelIntegralOptions o;
    o.width = static_cast<std::size_t>(m_spec.model.gno.width);
    o.rank = static_cast<std::size_t>(m_spec.model.gno.kernel_width);
    const std::size_t nodes = static_cast<std::size_t>(m_graph.nodes());
    const std::size_t edges = static_cast<std::size_t>(m_graph.edges());
    const std::size_t factored = nn::KernelIntegral<T>(o).working_bytes(nodes, edges);
    o.materialized = true;
    const std::size_t materialized = nn::KernelIntegral<T>(o).working_bytes(nodes, edges);
    return {{"factored_bytes", factored},
            {"materialized_bytes", materialized},
            {"ratio", static_cast<double>(materialized) / static_cast<double>(factored)}};
  }

  // The first evaluation.baseline_samples test instances solved by PETSc on the training grid
  // (CG + GAMG at evaluation.baseline_rtol; each rank its share, timed), their error against the
  // fine-grid data, and CG started from the GNO's prediction at the same tolerance.
  nlohmann::json compare_with_petsc(nlohmann::json& metrics) {
    const long k = std::min(m_spec.evaluation.baseline_samples, m_spec.test);
    const auto [first, count] = my_share(m_ctx.comm, k);
    data::DatasetSpec spec = m_spec.data;
    spec.darcy.solver.rtol = m_spec.evaluation.baseline_rtol;
    const long n = m_graph.nodes();
    double local[5] = {0, 0, 0, 0, 0};  // solve_s, iterations, rel_l2, warm iterations, warm_s
    solvers::SolveStats last;
    for (long i = 0; i < count; ++i) {
      const long s = first + i;
      const std::vector<double> a(m_test_a.begin() + s * n, m_test_a.begin() + (s + 1) * n);
      const std::vector<double> u(m_test_u.begin() + s * n, m_test_u.begin() + (s + 1) * n);
      const data::SolveOutcome cold = data::solve_given(spec, a, m_side);
      local[0] += cold.wall_s;
      local[1] += static_cast<double>(cold.iterations);
      local[2] += relative_l2(cold.solution, u, 0, n);
      last = cold.stats;
      const std::vector<double> guess = predict(m_graph, m_test_a, {s});
      const data::SolveOutcome warm = data::solve_given(spec, a, m_side, &guess);
      local[3] += static_cast<double>(warm.iterations);
      local[4] += warm.wall_s;
    }
    double sums[5];
    MPI_Allreduce(local, sums, 5, MPI_DOUBLE, MPI_SUM, m_ctx.comm);
    const double kk = static_cast<double>(k);
    nlohmann::json baseline = run::baseline_json(last);
    baseline["samples"] = k;
    baseline["solve_s_per_sample"] = sums[0] / kk;
    baseline["iterations"] = sums[1] / kk;
    baseline["rel_l2"] = sums[2] / kk;
    baseline["resolution"] = m_side;
    metrics["warm_start_iterations"] = sums[3] / kk;
    metrics["warm_start_solve_s"] = sums[4] / kk;
    log().info("CG iterations from the GNO's prediction {:.1f}, from zero {:.1f}", sums[3] / kk,
               sums[1] / kk);
    return baseline;
  }

  // fields.h5: the first evaluation.fields test samples on the training grid — input,
  // prediction, reference, error.
  void write_fields() {
    const long k = m_spec.evaluation.fields;
    if (k == 0) return;
    const long n = m_graph.nodes();
    std::vector<long> which(static_cast<std::size_t>(k));
    std::iota(which.begin(), which.end(), 0);
    const std::vector<double> prediction = predict(m_graph, m_test_a, which);
    mesh::StructuredGrid grid(m_ctx.comm, m_spec.data.grid(m_side));
    io::FieldWriter writer(m_ctx.dir->staged("fields.h5"), grid);
    writer.attribute("case", m_ctx.case_name);
    writer.attribute("kind", std::string("gno"));
    writer.attribute("config", m_ctx.resolved_yaml);
    writer.layout_attributes();
    std::vector<std::string> names;
    auto store = [&](const std::string& name, const double* values) {
      writer.write_field(name, grid.extract_owned(std::vector<double>(values, values + n)));
      names.push_back(name);
    };
    for (long s = 0; s < k; ++s) {
      const std::string tag = fmt::format("sample{}", s);
      const double* p = &prediction[s * n];
      const double* r = &m_test_u[s * n];
      std::vector<double> error(static_cast<std::size_t>(n));
      for (long i = 0; i < n; ++i) error[i] = p[i] - r[i];
      store(tag + "_input", &m_test_a[s * n]);
      store(tag + "_prediction", p);
      store(tag + "_reference", r);
      store(tag + "_error", error.data());
    }
    writer.close();
    if (m_ctx.rank == 0) io::write_xdmf(m_ctx.dir->staged("fields.xdmf"), "fields.h5", grid, names);
  }

  const DarcyCase& m_spec;
  RunContext& m_ctx;
  data::DatasetSpec m_stored;
  std::string m_path;
  double m_data_s = 0.0;
  long m_side = 0;
  std::vector<double> m_train_a, m_train_u, m_test_a, m_test_u;  // [samples, N] raw
  double m_a_mean = 0, m_a_std = 1, m_u_mean = 0, m_u_std = 1;
  GridGraph m_graph;
  std::unique_ptr<Model<T>> m_model;
  nn::Parameters<T> m_parameters;
  nn::Workspace<T> m_workspace;
  nn::Matrix<T> m_h, m_e;
  mesh::Graph m_batch;
  std::array<long, 3> m_batch_key = {0, 0, 0};  // side, sender stride, copies of m_batch
  double m_batch_radius = 0.0;
  std::unique_ptr<EpochBatches> m_batches;
  long m_per_epoch = 1;
};

class DarcyMethod : public run::Method {
 public:
  void read(const config::Node& root, const std::string& precision) override {
    m_spec = read_darcy_case(root);
    m_precision = precision;
  }
  std::string summary() const override {
    return fmt::format(
        "kind gno, Darcy ({} samples at {}², train {} / test {} at {}²), {} model, radius {}, {}",
        m_spec.data.samples, m_spec.data.resolution, m_spec.train, m_spec.test,
        m_spec.data.training_resolution(), describe_model(m_spec.model), m_spec.radius,
        m_precision);
  }
  std::string run(RunContext& ctx) override {
    if (m_precision == "float64") return DarcyRun<double>(m_spec, ctx).run();
    return DarcyRun<float>(m_spec, ctx).run();
  }

 private:
  DarcyCase m_spec;
  std::string m_precision;
};

}  // namespace

std::unique_ptr<run::Method> make_darcy_gno_method() { return std::make_unique<DarcyMethod>(); }

}  // namespace karman::gno
