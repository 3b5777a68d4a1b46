// kind: mppde on a mesh — the message-passing neural PDE solver on the graph of a Gmsh mesh
// partitioned over the ranks (one layer of overlap: each rank holds its part of every sample's
// graph plus the halo, MpPdeModel::set_partition), trained on trajectories of
// u_t = ∇·(κ(x)∇u) with random κ and initial data solved by the finite-element reference, then
// measured by the paper's accumulated error on held-out trajectories beside that of "no change".
//
// Training as the 1D runner (runner.cpp): `passes` passes per epoch over the training
// trajectories in batches, each batch one number of unrolled steps r ∈ [0, min(epoch,
// unrolling)] and a random start per trajectory, the pushforward loss (rollout.hpp), AdamW with
// the case's schedule. Every rank runs every batch on its part of the graph: its loss and
// gradients are its owned nodes' part, and the trainer sums them over the ranks. The batch,
// starts and unroll counts depend on the step only, and the data not on the rank count, so 1 and
// 2 ranks train the same model up to the order of the sums.

#include "operators/mppde/mesh_runner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "karman/config/case.hpp"
#include "karman/core/log.hpp"
#include "karman/core/random.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"
#include "karman/mesh/distributed_graph.hpp"
#include "karman/mesh/plex.hpp"
#include "karman/nn/case_sections.hpp"
#include "karman/run/outputs.hpp"
#include "operators/mppde/mesh_data.hpp"
#include "operators/mppde/mesh_graph.hpp"
#include "operators/mppde/model.hpp"
#include "operators/mppde/rollout.hpp"

namespace karman::mppde {
namespace {

using run::RunContext;

struct MeshMppdeCase {
  mesh::MeshSpec mesh;
  mesh::GmshHeader header;
  HeatMeshSpec data;
  long train = 16, test = 4;
  MpPdeSpec model;
  nn::TrainingSpec training;  // read in epochs
  long unrolling = 1, passes = 1;
  long ground_truth_windows = 1;  // true windows before the first predicted one
  long evaluation_batch = 8, timing_trajectories = 4;
};

void read_mesh_section(const config::Node& root, MeshMppdeCase& spec) {
  const config::Node mesh = root.child("mesh");
  spec.mesh = config::read_mesh(mesh, spec.header);
  if (mesh.has("overlap") && spec.mesh.overlap != 1)
    mesh.fail("overlap", "MP-PDE's mesh graph needs exactly one layer of overlap (1)");
  spec.mesh.overlap = 1;
  bool boundary = false;
  for (const auto& g : spec.header.groups) boundary = boundary || g.dim == spec.mesh.dim - 1;
  if (!boundary)
    mesh.fail("file", fmt::format("the mesh file '{}' names no boundary parts: the heat data "
                                  "hold u = 0 on them",
                                  spec.mesh.file));
}

void read_data_section(const config::Node& root, MeshMppdeCase& spec) {
  const config::Node data = root.child("data");
  data.choice("equation", {"heat"}, "heat");
  spec.train = data.integer("train", 16, 1);
  spec.test = data.integer("test", 4, 1);
  HeatMeshSpec& d = spec.data;
  d.steps = data.integer("steps", 40, 3, 1L << 20);
  d.t_end = data.number("t_end", 1.0, config::Bounds::positive());
  d.substeps = data.integer("substeps", 1, 1, 1L << 20);
  d.scheme = data.choice("scheme", {"cn", "bdf2", "beuler"}, "cn");
  d.modes = data.integer("modes", 3, 1, 64);
  d.kappa = data.number("kappa", 0.05, config::Bounds::positive());
  d.kappa_log_std = data.number("kappa_log_std", 0.5, config::Bounds::between(0.0, 5.0));
  d.seed = static_cast<std::uint64_t>(data.integer("seed", 1, 0));
}

MeshMppdeCase read_mesh_case(const config::Node& root) {
  MeshMppdeCase spec;
  read_mesh_section(root, spec);
  read_data_section(root, spec);
  const long steps = spec.data.steps;

  const config::Node model = root.child_or_empty("model");
  spec.model = read_mppde_model(model);  // `neighbors` unused: the mesh's edges are the graph
  const long window = spec.model.time_window;
  if (3 * window > steps)
    model.fail("time_window", fmt::format("three windows of {} steps (input, ground-truth start, "
                                          "prediction) do not fit the {} steps of a trajectory",
                                          window, steps));

  const config::Node training = root.child("training");
  spec.training = nn::read_training(training, /*least_squares=*/false, /*in_epochs=*/true);
  if (spec.training.batch_size == 0) spec.training.batch_size = 8;
  spec.unrolling = training.integer("unrolling", 1, 0, 100);
  if (window * (2 + spec.unrolling) > steps)
    training.fail("unrolling", fmt::format("{} unrolled windows of {} steps do not fit the {} "
                                           "steps of a trajectory",
                                           spec.unrolling, window, steps));
  spec.passes = training.integer("passes", 1, 1);

  const config::Node eval = root.child_or_empty("evaluation");
  spec.ground_truth_windows = eval.integer("ground_truth_windows", 1, 1, 100);
  if (window * (spec.ground_truth_windows + 1) > steps)
    eval.fail("ground_truth_windows", "the first predicted window must fit the trajectory");
  spec.evaluation_batch = eval.integer("batch", 8, 1);
  spec.timing_trajectories = eval.integer("timing_trajectories", 4, 1);
  return spec;
}

std::vector<double> summed_over(MPI_Comm comm, std::vector<double> v) {
  MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM, comm);
  return v;
}

double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

template <class T>
class MeshMppdeRun {
 public:
  MeshMppdeRun(const MeshMppdeCase& spec, RunContext& ctx) : m_spec(spec), m_ctx(ctx) {}

  std::string run() {
    StagePhases phase(Stage::setup);
    build_graph();
    phase.enter(Stage::data);  // the finite-element trajectories (their solves count as data)
    make_data();
    phase.enter(Stage::setup);
    build_model();
    phase.leave();

    nn::TrainingSpec training = m_spec.training;
    m_schedule.trajectories = m_spec.train;
    m_schedule.batch = training.batch_size;
    m_schedule.passes = m_spec.passes;
    m_schedule.unrolling = m_spec.unrolling;
    m_schedule.window = m_spec.model.time_window;
    m_schedule.steps = m_train.steps;
    m_schedule.seed = m_spec.training.shuffle_seed;
    m_per_epoch = m_schedule.steps_per_epoch();
    nn::epochs_to_steps(training, m_per_epoch);
    log().info(
        "MP-PDE {} parameters; {} training trajectories of {} steps on {} vertices, batch {}, "
        "{} steps per epoch, pushforward up to {} unrolled steps",
        m_parameters.size(), m_spec.train, m_train.steps, m_graph.global_nodes, training.batch_size,
        m_per_epoch, m_spec.unrolling);
    const nn::TrainingResult result = run::train<T>(
        m_ctx, m_parameters, [this](long step) { return loss(step); }, training.trainer);

    phase.enter(Stage::evaluation);
    (*m_ctx.report)["metrics"] = evaluate(result);
    (*m_ctx.report)["mesh"] = mesh_json();
    phase.enter(Stage::io);
    run::write_history(m_ctx, result, "none");
    phase.leave();
    if (result.stop_reason == "non_finite") {
      m_ctx.message = result.message;
      return "diverged";
    }
    return "ok";
  }

 private:
  // The partitioned mesh's graph (this rank's part and halo) and the serial mesh the data are
  // solved on.
  void build_graph() {
    m_mesh = std::make_unique<mesh::PlexMesh>(m_ctx.comm, m_spec.mesh);
    m_graph = mesh::make_distributed_graph(m_mesh->dm(), m_mesh->ghosted_numbers());
    m_sample = mesh_sample(m_graph, m_mesh->bounding_box());
    mesh::MeshSpec serial = m_spec.mesh;
    serial.overlap = 0;
    m_serial = std::make_unique<mesh::PlexMesh>(MPI_COMM_SELF, serial);
    long owned_min = m_graph.owned, owned_max = m_graph.owned, halo = m_graph.local - m_graph.owned;
    MPI_Allreduce(MPI_IN_PLACE, &owned_min, 1, MPI_LONG, MPI_MIN, m_ctx.comm);
    MPI_Allreduce(MPI_IN_PLACE, &owned_max, 1, MPI_LONG, MPI_MAX, m_ctx.comm);
    MPI_Allreduce(MPI_IN_PLACE, &halo, 1, MPI_LONG, MPI_SUM, m_ctx.comm);
    log().info("mesh {}: {} vertices on {} rank(s), owned per rank {}..{}, {} halo copies",
               m_spec.mesh.file, m_graph.global_nodes, m_ctx.size, owned_min, owned_max, halo);
    m_halo_copies = halo;
  }

  void make_data() {
    const Timer clock;
    const std::vector<long>& nodes = m_graph.global_numbers;
    m_train = heat_trajectories(m_ctx.comm, *m_serial, m_spec.data, 0, m_spec.train, nodes);
    m_test =
        heat_trajectories(m_ctx.comm, *m_serial, m_spec.data, m_spec.train, m_spec.test, nodes);
    m_data_s = clock.seconds();
    log().info(
        "data: {} + {} heat trajectories (κ geometric mean {}, log-std {}) solved by P1 finite "
        "elements, {} states over [0, {}], in {:.2f} s",
        m_spec.train, m_spec.test, m_spec.data.kappa, m_spec.data.kappa_log_std, m_spec.data.steps,
        m_spec.data.t_end, m_data_s);
  }

  void build_model() {
    // Conditions: the time and κ(x) / kappa.
    m_model = std::make_unique<MpPdeModel<T>>(m_spec.model, m_sample.dims, 2);
    m_model->declare(m_parameters, "");
    m_parameters.allocate();
    m_model->initialize(m_spec.model.seed);
    m_train_rollout = std::make_unique<Rollout<T>>(*m_model, m_sample, m_train);
    m_test_rollout = std::make_unique<Rollout<T>>(*m_model, m_sample, m_test);
  }

  // Step `step`'s batch (the same on every rank, pushforward_batch), every rank running all of
  // it on its part of the graph.
  std::vector<nn::LossTerm> loss(long step) {
    const PushforwardBatch batch = pushforward_batch(m_schedule, step);
    const double value =
        m_train_rollout->pushforward_loss(m_workspace, batch.trajectories, batch.starts,
                                          batch.unroll, static_cast<double>(batch.size()));
    return {{"mse", 1.0, value}};
  }

  nlohmann::json evaluate(const nn::TrainingResult& result) {
    const long window = m_spec.model.time_window, start = m_spec.ground_truth_windows * window;
    const long end = start + ((m_test.steps - start) / window) * window;
    const auto error = m_test_rollout->accumulated_error(
        m_workspace, 0, m_test.count, m_spec.ground_truth_windows, m_spec.evaluation_batch);
    const std::vector<double> network = summed_over(m_ctx.comm, error.per_trajectory);
    const std::vector<double> unchanged = summed_over(m_ctx.comm, no_change_error(start, end));
    const double accumulated = mean(network), zero = mean(unchanged);
    const auto [single, batched] = rollout_times();
    nlohmann::json metrics = {
        {"accumulated_error", accumulated},
        {"accumulated_error_per_trajectory", network},
        {"accumulated_error_max", *std::max_element(network.begin(), network.end())},
        {"no_change_accumulated_error", zero},
        {"no_change_over_network", zero / accumulated},
        {"rollout_s_per_trajectory", single},
        {"rollout_s_per_trajectory_batched", batched},
        {"rollout_batch", std::min(m_spec.evaluation_batch, m_spec.test)},
        {"reference_solve_s_per_trajectory", reference_solve_s()},
        {"data_s", m_data_s},
        {"final_loss", result.final_loss},
        {"train_wall_s", result.wall_s},
        {"steps", result.steps},
        {"epochs", result.steps / m_per_epoch},
        {"stop_reason", result.stop_reason},
        {"stages", run::stages_json(result)},
        {"params", m_parameters.size()},
        {"train_trajectories", m_spec.train},
        {"test_trajectories", m_spec.test},
        {"windows", error.windows},
        {"evaluated_steps", end - start}};
    log().info(
        "test set ({} trajectories): accumulated error {:.4g} (max {:.4g}); no change: {:.4g} "
        "({:.2f}x the network's)",
        m_spec.test, accumulated, metrics["accumulated_error_max"].get<double>(), zero,
        zero / accumulated);
    log().info("rollout: {:.3e} s per trajectory at batch 1, {:.3e} s batched", single, batched);
    return metrics;
  }

  // "No change": every predicted state is the last true input state u^{start−1}; this rank's
  // owned nodes' part of (1/N) Σ_{t ∈ [start, end)} Σ_x (u^{start−1} − u^t)² per trajectory.
  std::vector<double> no_change_error(long start, long end) const {
    std::vector<double> out(m_test.count, 0.0);
    const double nodes = static_cast<double>(m_sample.all_nodes());
    for (long k = 0; k < m_test.count; ++k)
      for (long s = start; s < end; ++s)
        for (long i = 0; i < m_sample.owned_nodes(); ++i) {
          const double d = m_test.value(k, start - 1, i) - m_test.value(k, s, i);
          out[k] += d * d / nodes;
        }
    return out;
  }

  // Rollout wall time per trajectory (every rank takes part: the model is collective), the
  // slowest rank's: one trajectory at a time, then all of the batch at once.
  std::pair<double, double> rollout_times() {
    const long gt = m_spec.ground_truth_windows;
    const long n = std::min(m_spec.timing_trajectories, m_test.count);
    double single = 0.0;
    for (long k = 0; k < n; ++k)
      single += m_test_rollout->accumulated_error(m_workspace, k, 1, gt, 1).rollout_s;
    const long count = std::min(m_spec.evaluation_batch, m_test.count);
    double batched = m_test_rollout->accumulated_error(m_workspace, 0, count, gt, count).rollout_s;
    double times[2] = {single / static_cast<double>(n), batched / static_cast<double>(count)};
    MPI_Allreduce(MPI_IN_PLACE, times, 2, MPI_DOUBLE, MPI_MAX, m_ctx.comm);
    return {times[0], times[1]};
  }

  // The finite-element reference's time per trajectory (one rank, MPI_COMM_SELF), re-solving
  // test trajectory 0 on rank 0.
  double reference_solve_s() {
    double wall = 0.0;
    if (m_ctx.rank == 0) wall = solve_heat_trajectory(*m_serial, m_spec.data, m_spec.train).wall_s;
    MPI_Bcast(&wall, 1, MPI_DOUBLE, 0, m_ctx.comm);
    return wall;
  }

  nlohmann::json mesh_json() const {
    return {{"file", m_spec.mesh.file},         {"dim", m_graph.dim},
            {"vertices", m_graph.global_nodes}, {"cells", m_mesh->cell_count()},
            {"halo_copies", m_halo_copies},     {"partitioner", m_spec.mesh.partitioner}};
  }

  const MeshMppdeCase& m_spec;
  RunContext& m_ctx;
  std::unique_ptr<mesh::PlexMesh> m_mesh, m_serial;
  mesh::DistributedGraph m_graph;
  SampleGraph m_sample;
  long m_halo_copies = 0;
  Trajectories m_train, m_test;
  double m_data_s = 0.0;
  PushforwardSchedule m_schedule;
  long m_per_epoch = 1;
  std::unique_ptr<MpPdeModel<T>> m_model;
  nn::Parameters<T> m_parameters;
  nn::Workspace<T> m_workspace;
  std::unique_ptr<Rollout<T>> m_train_rollout, m_test_rollout;
};

class MeshMppdeMethod : public run::Method {
 public:
  void read(const config::Node& root, const std::string& precision) override {
    m_spec = read_mesh_case(root);
    m_precision = precision;
  }
  std::string summary() const override {
    return fmt::format(
        "kind mppde on mesh {} ({}D), heat with random κ ({} train / {} test trajectories of {} "
        "states), K {}, hidden {}, {} layers, {}",
        m_spec.mesh.file, m_spec.mesh.dim, m_spec.train, m_spec.test, m_spec.data.steps,
        m_spec.model.time_window, m_spec.model.hidden, m_spec.model.layers, m_precision);
  }
  std::string run(RunContext& ctx) override {
    if (m_precision == "float64") return MeshMppdeRun<double>(m_spec, ctx).run();
    return MeshMppdeRun<float>(m_spec, ctx).run();
  }

 private:
  MeshMppdeCase m_spec;
  std::string m_precision;
};

}  // namespace

std::unique_ptr<run::Method> make_mesh_mppde_method() {
  return std::make_unique<MeshMppdeMethod>();
}

}  // namespace karman::mppde
