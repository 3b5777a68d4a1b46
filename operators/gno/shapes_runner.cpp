// kind: gno with data.problem poisson_shapes — the setting of Lötzsch, Ohler and Otterbach (2022):
// −Δu = f in Ω, u = g on ∂Ω on many mesh shapes (shapes.hpp: random shapes meshed by Gmsh,
// Gaussian sources, smooth Dirichlet data, P1 finite-element solutions), a model trained on the
// first set's samples and tested on the others (shapes seen in training, shapes held out, more
// sources than in training), with the error per set and per shape beside a "mean solution"
// predictor's, the finite-element solve's time per instance (from zero and from the prediction),
// and (mesh-edge graphs) the first test sample's mesh distributed over the ranks.
//
// Graph per sample: the radius graph of its vertices (model.graph radius, self-loops, as GKN) or
// its mesh edges in both directions (model.graph mesh, the graph network's default). Inputs:
//   node features [n, 3]  f̂, b, ĝ·b            (b = 1 on ∂Ω; no positions, so that the model
//                                               cannot memorise shapes: Lötzsch's remove_pos)
//   edge features [E, 7]  (x_j − x_i)/ℓ, |x_j − x_i|/ℓ, f̂_i, f̂_j, b_i, b_j   (ℓ: the radius, or
//                                               data.mesh_size on mesh edges)
// with f̂, ĝ and the output û the training set's values shifted and scaled to zero mean and unit
// deviation (one pair each, over every training vertex). Loss: the relative L2 of the decoded u
// per sample, the batch mean. A batch is its samples' graphs side by side; data parallel: each
// rank runs its share of every batch and the trainer sums over the ranks.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>

#include "io/hdf5_support.hpp"
#include "karman/core/collective.hpp"
#include "karman/core/log.hpp"
#include "karman/core/partition.hpp"
#include "karman/core/progress.hpp"
#include "karman/core/random.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"
#include "karman/mesh/distributed_graph.hpp"
#include "karman/mesh/radius_graph.hpp"
#include "karman/nn/case_sections.hpp"
#include "karman/run/outputs.hpp"
#include "operators/gno/model.hpp"
#include "operators/gno/runner.hpp"
#include "operators/gno/shapes.hpp"

namespace karman::gno {
namespace {

using run::RunContext;

enum class GraphKind { radius, mesh };

struct ShapesCase {
  ShapesSpec data;
  ModelSpec model;
  GraphKind graph = GraphKind::radius;
  double radius = 0.15;
  nn::TrainingSpec training;
  long evaluation_batch = 8;
  long fields = 2;  // test samples per set written to fields.h5
};

constexpr long node_features = 3;
constexpr long edge_features = 7;

ShapesCase read_shapes_case(const config::Node& root) {
  ShapesCase spec;
  const config::Node data = root.child("data");
  spec.data = read_shapes_spec(data);
  if (spec.data.sets.size() < 2)
    data.fail("sets", "at least two sets: the first trains the model, the others test it");

  const config::Node model = root.child_or_empty("model");
  spec.model = read_gno_model(model);
  const bool gno = spec.model.type == ModelType::gno;
  spec.graph = model.choice("graph", {"radius", "mesh"}, gno ? "radius" : "mesh") == "radius"
                   ? GraphKind::radius
                   : GraphKind::mesh;
  if (spec.graph == GraphKind::radius) {
    spec.radius = model.number("radius", 0.15, config::Bounds::positive());
    if (spec.radius < spec.data.mesh_size)
      model.fail("radius", fmt::format("a radius below data.mesh_size = {} leaves nodes with no "
                                       "neighbour but themselves",
                                       spec.data.mesh_size));
  }

  const config::Node training = root.child("training");
  spec.training = nn::read_training(training, /*least_squares=*/false, /*in_epochs=*/true);
  const long train = spec.data.sets.front().samples;
  if (spec.training.batch_size == 0) spec.training.batch_size = std::min<long>(8, train);
  if (spec.training.batch_size > train)
    training.fail("batch_size", fmt::format("a batch of {} is more than the {} training samples",
                                            spec.training.batch_size, train));
  const config::Node eval = root.child_or_empty("evaluation");
  spec.evaluation_batch = eval.integer("batch", 8, 1);
  spec.fields = eval.integer("fields", 2, 0);
  return spec;
}

// One sample as the model sees it (host arrays).
struct GraphSample {
  long nodes = 0;
  std::vector<long> row, col;  // [E] receiver, sender (local numbers)
  std::vector<double> h, e;    // [n, 3], [E, 7]
  const ShapeSample* sample = nullptr;
  long edges() const { return static_cast<long>(row.size()); }
};

struct Scaling {
  double f_mean = 0, f_std = 1, g_mean = 0, g_std = 1, u_mean = 0, u_std = 1;
};

std::pair<double, double> moments(const std::vector<ShapeSample>& samples,
                                  std::vector<double> ShapeSample::*field, bool boundary_only) {
  double sum = 0, count = 0;
  for (const auto& s : samples)
    for (std::size_t i = 0; i < (s.*field).size(); ++i)
      if (!boundary_only || s.boundary[i]) sum += (s.*field)[i], count += 1;
  const double mean = count > 0 ? sum / count : 0.0;
  double var = 0;
  for (const auto& s : samples)
    for (std::size_t i = 0; i < (s.*field).size(); ++i)
      if (!boundary_only || s.boundary[i]) var += ((s.*field)[i] - mean) * ((s.*field)[i] - mean);
  return {mean, std::sqrt(var / std::max(1.0, count)) + 1e-12};
}

// The directed edges of a sample: its radius graph (self-loops included) or its mesh edges.
void sample_edges(const ShapesCase& spec, const ShapeSample& s, std::vector<long>& row,
                  std::vector<long>& col) {
  if (spec.graph == GraphKind::radius) {
    mesh::RadiusGraphOptions options;
    options.self_loops = true;
    const mesh::Graph g = mesh::radius_graph(s.vertices, 2, spec.radius, options);
    auto r = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g.row);
    auto c = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g.col);
    row.assign(r.data(), r.data() + g.edges);
    col.assign(c.data(), c.data() + g.edges);
    return;
  }
  const std::vector<long> pairs = mesh_edges(s);
  for (std::size_t k = 0; k + 1 < pairs.size(); k += 2) {
    row.push_back(pairs[k]), col.push_back(pairs[k + 1]);
    row.push_back(pairs[k + 1]), col.push_back(pairs[k]);
  }
}

// The node and edge features of a graph over sample `s`'s vertices: node n is the sample's vertex
// vertices[n], edges g.row/g.col in node numbers (fills g.h, g.e).
void fill_features(const ShapesCase& spec, const Scaling& z, const ShapeSample& s,
                   const std::vector<long>& vertices, GraphSample& g) {
  std::vector<double> f(g.nodes);
  g.h.resize(static_cast<std::size_t>(g.nodes * node_features));
  for (long n = 0; n < g.nodes; ++n) {
    const long v = vertices[n];
    f[n] = (s.source[v] - z.f_mean) / z.f_std;
    const double b = s.boundary[v] ? 1.0 : 0.0;
    g.h[n * node_features + 0] = f[n];
    g.h[n * node_features + 1] = b;
    g.h[n * node_features + 2] = b * (s.dirichlet[v] - z.g_mean) / z.g_std;
  }
  const double scale = spec.graph == GraphKind::radius ? spec.radius : spec.data.mesh_size;
  g.e.resize(static_cast<std::size_t>(g.edges() * edge_features));
  for (long k = 0; k < g.edges(); ++k) {
    const long i = g.row[k], j = g.col[k], vi = vertices[i], vj = vertices[j];
    const double dx = (s.vertices[2 * vj] - s.vertices[2 * vi]) / scale;
    const double dy = (s.vertices[2 * vj + 1] - s.vertices[2 * vi + 1]) / scale;
    double* e = &g.e[k * edge_features];
    e[0] = dx, e[1] = dy, e[2] = std::hypot(dx, dy);
    e[3] = f[i], e[4] = f[j];
    e[5] = s.boundary[vi] ? 1.0 : 0.0, e[6] = s.boundary[vj] ? 1.0 : 0.0;
  }
}

GraphSample graph_sample(const ShapesCase& spec, const Scaling& z, const ShapeSample& s) {
  GraphSample g;
  g.sample = &s;
  g.nodes = s.vertex_count();
  sample_edges(spec, s, g.row, g.col);
  std::vector<long> vertices(static_cast<std::size_t>(g.nodes));
  std::iota(vertices.begin(), vertices.end(), 0L);
  fill_features(spec, z, s, vertices, g);
  return g;
}

double relative_error(const double* p, const std::vector<double>& u) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < u.size(); ++i)
    num += (p[i] - u[i]) * (p[i] - u[i]), den += u[i] * u[i];
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

template <class T>
class ShapesRun {
 public:
  ShapesRun(const ShapesCase& spec, RunContext& ctx) : m_spec(spec), m_ctx(ctx) {}

  std::string run() {
    StagePhases phase(Stage::data);  // generated or read (the generating solves count as data)
    prepare_dataset();
    load_sets();
    phase.enter(Stage::setup);
    build_model();
    phase.leave();
    nn::TrainingSpec training = m_spec.training;
    const long train = static_cast<long>(m_sets.front().size());
    m_batches = std::make_unique<EpochBatches>(train, training.batch_size, training.shuffle_seed);
    m_per_epoch = m_batches->per_epoch();
    nn::epochs_to_steps(training, m_per_epoch);
    long vertices = 0, edges = 0;
    for (const auto& g : m_graphs.front()) vertices += g.nodes, edges += g.edges();
    log().info(
        "{} {} parameters; {} training samples ({:.0f} vertices, {:.0f} edges per sample on "
        "average, {} graph), batch {} ({} steps per epoch)",
        m_spec.model.type == ModelType::gno ? "GNO" : "graph network", m_parameters.size(), train,
        static_cast<double>(vertices) / static_cast<double>(train),
        static_cast<double>(edges) / static_cast<double>(train),
        m_spec.graph == GraphKind::radius ? fmt::format("radius {}", m_spec.radius) : "mesh-edge",
        training.batch_size, m_per_epoch);

    auto validate = [this] { return evaluate_set(1).mean; };
    const nn::TrainingResult result = run::train<T>(
        m_ctx, m_parameters, [this](long step) { return loss(step); }, training.trainer, validate);

    // The test sets, the PETSc baseline (its solves: baseline) and the fields (io).
    phase.enter(Stage::evaluation);
    nlohmann::json metrics = evaluate_all();
    metrics["final_loss"] = result.final_loss;
    metrics["train_wall_s"] = result.wall_s;
    metrics["steps"] = result.steps;
    metrics["epochs"] = result.steps / m_per_epoch;
    metrics["stop_reason"] = result.stop_reason;
    metrics["stages"] = run::stages_json(result);
    metrics["params"] = m_parameters.size();
    metrics["graph"] = m_spec.graph == GraphKind::radius ? "radius" : "mesh";
    const nlohmann::json baseline = compare_with_fem(metrics);
    (*m_ctx.report)["metrics"] = metrics;
    (*m_ctx.report)["baseline"] = baseline;
    const double speedup = (*m_ctx.report)["baseline"]["solve_s_per_sample"].get<double>() /
                           metrics["infer_s_per_sample"].get<double>();
    (*m_ctx.report)["speedup"] = speedup;
    log().info(
        "baseline (P1 FEM, PETSc CG + GAMG) {:.3e} s/sample against {:.3e} s/sample: "
        "speedup {:.3g}",
        (*m_ctx.report)["baseline"]["solve_s_per_sample"].get<double>(),
        metrics["infer_s_per_sample"].get<double>(), speedup);
    write_fields();
    phase.enter(Stage::io);
    run::write_history(m_ctx, result, "rel_l2_" + m_spec.data.sets[1].name);
    phase.leave();
    if (result.stop_reason == "non_finite") {
      m_ctx.message = result.message;
      return "diverged";
    }
    return "ok";
  }

 private:
  struct SetError {
    double mean = 0, max = 0, mean_predictor = 0;
    std::vector<double> per_sample;
  };

  void prepare_dataset() {
    ShapesSpec data = m_spec.data;
    m_path = data.file.empty() ? (std::filesystem::path(m_ctx.dir->path()) / "dataset.h5").string()
                               : data.file;
    ShapesGenerateOptions options;
    options.config_yaml = m_ctx.resolved_yaml;
    options.quiet = progress_quiet();
    const ShapesGenerateSummary s = generate_shapes_dataset(m_ctx.comm, data, m_path, options);
    m_data_s = s.wall_s;
    log().info("dataset {}: {} samples over {} sets ({} solved, {} kept){}", m_path, s.samples,
               data.sets.size(), s.solved, s.kept,
               s.solved > 0 ? fmt::format(", {:.3f} s per FEM solve",
                                          s.solve_s / static_cast<double>(s.solved))
                            : std::string());
  }

  // Every rank reads every set (the training set for its batches, the test sets for its share).
  void load_sets() {
    for (const auto& set : m_spec.data.sets) m_sets.push_back(read_shapes_set(m_path, set.name));
    const std::vector<ShapeSample>& train = m_sets.front();
    std::tie(m_z.f_mean, m_z.f_std) = moments(train, &ShapeSample::source, false);
    std::tie(m_z.g_mean, m_z.g_std) = moments(train, &ShapeSample::dirichlet, true);
    std::tie(m_z.u_mean, m_z.u_std) = moments(train, &ShapeSample::solution, false);
    for (const auto& set : m_sets) {
      std::vector<GraphSample> graphs;
      for (const auto& s : set) graphs.push_back(graph_sample(m_spec, m_z, s));
      m_graphs.push_back(std::move(graphs));
    }
  }

  void build_model() {
    m_model = make_model<T>(m_spec.model, node_features, edge_features, 1);
    m_model->declare(m_parameters, "");
    m_parameters.allocate();
    m_model->initialize(m_spec.model.seed());
  }

  // The graphs `which` of set `set` side by side: graph, h, e on the device.
  void assemble(std::size_t set, const std::vector<long>& which) {
    std::vector<long> row, col;
    long nodes = 0, edges = 0;
    for (long s : which) nodes += m_graphs[set][s].nodes, edges += m_graphs[set][s].edges();
    nn::ensure_shape(m_h, "karman::gno::node_features", nodes, node_features);
    nn::ensure_shape(m_e, "karman::gno::edge_features", edges, edge_features);
    auto h = Kokkos::create_mirror_view(m_h);
    auto e = Kokkos::create_mirror_view(m_e);
    long node0 = 0, edge0 = 0;
    for (long s : which) {
      const GraphSample& g = m_graphs[set][s];
      for (long k = 0; k < g.edges(); ++k) {
        row.push_back(node0 + g.row[k]);
        col.push_back(node0 + g.col[k]);
        for (long c = 0; c < edge_features; ++c)
          e(edge0 + k, c) = static_cast<T>(g.e[k * edge_features + c]);
      }
      for (long i = 0; i < g.nodes; ++i)
        for (long c = 0; c < node_features; ++c)
          h(node0 + i, c) = static_cast<T>(g.h[i * node_features + c]);
      node0 += g.nodes;
      edge0 += g.edges();
    }
    Kokkos::deep_copy(m_h, h);
    Kokkos::deep_copy(m_e, e);
    m_batch = mesh::make_graph(nodes, row, col, mesh::Edges::directed);
  }

  // The decoded prediction of the assembled batch [Σn] (host).
  std::vector<double> forward_decoded(nn::GraphContext<T>*& context) {
    m_workspace.reset();
    context = &m_model->forward(m_batch, m_h, m_e, nn::Pass::values(), m_workspace);
    auto out = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), context->h_out);
    std::vector<double> u(out.extent(0));
    for (std::size_t i = 0; i < u.size(); ++i)
      u[i] = static_cast<double>(out(i, 0)) * m_z.u_std + m_z.u_mean;
    return u;
  }

  // This rank's share of step `step`'s batch: Σ_s ‖p_s − u_s‖/‖u_s‖ / B, gradients added.
  std::vector<nn::LossTerm> loss(long step) {
    const std::vector<long> order = m_batches->batch(step);
    const auto [first, count] = my_share(m_ctx.comm, static_cast<long>(order.size()));
    if (count == 0) return {{"relative_l2", 1.0, 0.0}};
    const std::vector<long> mine(order.begin() + first, order.begin() + first + count);
    assemble(0, mine);
    nn::GraphContext<T>* context = nullptr;
    const std::vector<double> p = forward_decoded(context);
    const double batch = static_cast<double>(m_spec.training.batch_size);
    auto dout = Kokkos::create_mirror_view(context->h_out);
    double value = 0.0;
    long node0 = 0;
    for (long s : mine) {
      const std::vector<double>& u = m_sets[0][s].solution;
      double num = 0, den = 0;
      for (std::size_t i = 0; i < u.size(); ++i)
        num += (p[node0 + i] - u[i]) * (p[node0 + i] - u[i]), den += u[i] * u[i];
      den = std::max(den, 1e-300);
      const double error = std::sqrt(num / den);
      value += error / batch;
      // d(‖p − u‖/‖u‖)/dp = (p − u) / (‖p − u‖ ‖u‖); through the decode: × σ_u.
      const double scale = error > 0 ? m_z.u_std / (error * den * batch) : 0.0;
      for (std::size_t i = 0; i < u.size(); ++i)
        dout(node0 + i, 0) = static_cast<T>(scale * (p[node0 + i] - u[i]));
      node0 += static_cast<long>(u.size());
    }
    nn::Matrix<T> d("karman::gno::dout", dout.extent(0), 1);
    Kokkos::deep_copy(d, dout);
    m_model->backward(*context, d, context->e_out);
    return {{"relative_l2", 1.0, value}};
  }

  // Predictions of samples `which` of set `set` [per sample], in batches of evaluation.batch.
  std::vector<std::vector<double>> predict(std::size_t set, const std::vector<long>& which) {
    std::vector<std::vector<double>> out;
    for (std::size_t first = 0; first < which.size();
         first += static_cast<std::size_t>(m_spec.evaluation_batch)) {
      const std::size_t last =
          std::min(which.size(), first + static_cast<std::size_t>(m_spec.evaluation_batch));
      assemble(set, {which.begin() + first, which.begin() + last});
      nn::GraphContext<T>* context = nullptr;
      const std::vector<double> p = forward_decoded(context);
      long node0 = 0;
      for (std::size_t k = first; k < last; ++k) {
        const long n = m_graphs[set][which[k]].nodes;
        out.emplace_back(p.begin() + node0, p.begin() + node0 + n);
        node0 += n;
      }
    }
    return out;
  }

  // Errors of every sample of set `set` (each rank its share, then summed: the same everywhere).
  SetError evaluate_set(std::size_t set) {
    const long total = static_cast<long>(m_sets[set].size());
    const auto [first, count] = my_share(m_ctx.comm, total);
    std::vector<long> which(static_cast<std::size_t>(count));
    std::iota(which.begin(), which.end(), first);
    const std::vector<std::vector<double>> p = predict(set, which);
    SetError e;
    e.per_sample.assign(static_cast<std::size_t>(total), 0.0);
    for (long k = 0; k < count; ++k)
      e.per_sample[first + k] = relative_error(p[k].data(), m_sets[set][first + k].solution);
    MPI_Allreduce(MPI_IN_PLACE, e.per_sample.data(), static_cast<int>(total), MPI_DOUBLE, MPI_SUM,
                  m_ctx.comm);
    for (long k = 0; k < total; ++k) {
      const std::vector<double>& u = m_sets[set][k].solution;
      const std::vector<double> constant(u.size(), m_z.u_mean);
      e.mean += e.per_sample[k] / static_cast<double>(total);
      e.max = std::max(e.max, e.per_sample[k]);
      e.mean_predictor += relative_error(constant.data(), u) / static_cast<double>(total);
    }
    return e;
  }

  // The first test sample's mesh distributed over the ranks (one layer of overlap; the model
  // exchanges halo rows before every layer that reads neighbours): its prediction there against
  // the same model on the whole mesh on every rank, which agree to round-off on any rank count.
  // Mesh-edge graphs only: a radius graph over ranks would need a halo of the radius' reach.
  nlohmann::json evaluate_partitioned() {
    const ShapeSample& s = m_sets[1].front();
    const std::vector<double> whole = predict(1, {0}).front();
    const mesh::DistributedGraph dg = distributed_sample_graph(m_ctx.comm, s);
    GraphSample g;
    g.nodes = dg.local;
    auto row = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), dg.graph.row);
    auto col = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), dg.graph.col);
    g.row.assign(row.data(), row.data() + dg.graph.edges);
    g.col.assign(col.data(), col.data() + dg.graph.edges);
    fill_features(m_spec, m_z, s, dg.global_numbers, g);
    nn::Matrix<T> h("karman::gno::node_features", g.nodes, node_features);
    nn::Matrix<T> e("karman::gno::edge_features", g.edges(), edge_features);
    auto hh = Kokkos::create_mirror_view(h);
    auto he = Kokkos::create_mirror_view(e);
    for (long i = 0; i < g.nodes * node_features; ++i) hh.data()[i] = static_cast<T>(g.h[i]);
    for (long i = 0; i < g.edges() * edge_features; ++i) he.data()[i] = static_cast<T>(g.e[i]);
    Kokkos::deep_copy(h, hh);
    Kokkos::deep_copy(e, he);

    m_model->set_partition(dg.halo);
    m_workspace.reset();
    const nn::GraphContext<T>& c =
        m_model->forward(dg.graph, h, e, nn::Pass::values(), m_workspace);
    auto out = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), c.h_out);
    m_model->clear_partition();
    std::vector<double> partitioned(static_cast<std::size_t>(dg.global_nodes), 0.0);
    for (long n = 0; n < dg.owned; ++n)
      partitioned[dg.global_numbers[n]] = static_cast<double>(out(n, 0)) * m_z.u_std + m_z.u_mean;
    MPI_Allreduce(MPI_IN_PLACE, partitioned.data(), static_cast<int>(partitioned.size()),
                  MPI_DOUBLE, MPI_SUM, m_ctx.comm);
    double difference = 0, scale = 0;
    for (std::size_t i = 0; i < whole.size(); ++i) {
      difference = std::max(difference, std::abs(partitioned[i] - whole[i]));
      scale = std::max(scale, std::abs(whole[i]));
    }
    long halo = dg.local - dg.owned;
    MPI_Allreduce(MPI_IN_PLACE, &halo, 1, MPI_LONG, MPI_SUM, m_ctx.comm);
    const double error = relative_error(partitioned.data(), s.solution);
    log().info(
        "partitioned: {} sample 0 ({} vertices) over {} rank(s), {} halo copies: rel_l2 {:.3e}, "
        "{:.2e} from the whole-mesh prediction",
        m_spec.data.sets[1].name, dg.global_nodes, m_ctx.size, halo, error, difference / scale);
    return {{"set", m_spec.data.sets[1].name},
            {"sample", 0},
            {"vertices", dg.global_nodes},
            {"ranks", m_ctx.size},
            {"halo_copies", halo},
            {"rel_l2", error},
            {"difference_to_whole", difference / scale}};
  }

  // metrics: per test set (and the training set) the error mean / max, per shape, the mean
  // predictor's; the held-out / seen ratio; the inference time per instance.
  nlohmann::json evaluate_all() {
    nlohmann::json sets = nlohmann::json::object();
    for (std::size_t set = 0; set < m_sets.size(); ++set) {
      const SetError e = evaluate_set(set);
      std::map<std::string, std::pair<double, long>> by_shape;
      for (std::size_t k = 0; k < e.per_sample.size(); ++k) {
        auto& [sum, n] = by_shape[m_sets[set][k].shape];
        sum += e.per_sample[k], n += 1;
      }
      nlohmann::json shapes = nlohmann::json::object();
      for (const auto& [shape, sn] : by_shape)
        shapes[shape] = {{"rel_l2", sn.first / static_cast<double>(sn.second)},
                         {"samples", sn.second}};
      const std::string& name = m_spec.data.sets[set].name;
      sets[name] = {{"rel_l2", e.mean},
                    {"rel_l2_max", e.max},
                    {"mean_predictor_rel_l2", e.mean_predictor},
                    {"samples", e.per_sample.size()},
                    {"per_shape", shapes},
                    {"training", set == 0}};
      log().info("{} set ({} samples): rel_l2 {:.3e} (max {:.3e}); mean predictor {:.3e}{}", name,
                 e.per_sample.size(), e.mean, e.max, e.mean_predictor, shape_text(shapes));
    }
    nlohmann::json metrics = {{"sets", sets}};
    // The first test set is the reference the others are compared with (the seen shapes).
    const double seen = sets[m_spec.data.sets[1].name]["rel_l2"].get<double>();
    for (std::size_t set = 2; set < m_sets.size(); ++set) {
      const std::string& name = m_spec.data.sets[set].name;
      metrics["ratio_" + name + "_to_" + m_spec.data.sets[1].name] =
          sets[name]["rel_l2"].get<double>() / seen;
    }
    metrics["rel_l2"] = seen;
    metrics["infer_s_per_sample"] = inference_time();
    if (m_spec.graph == GraphKind::mesh) metrics["partitioned"] = evaluate_partitioned();
    return metrics;
  }

  static std::string shape_text(const nlohmann::json& shapes) {
    std::string s;
    for (const auto& [shape, v] : shapes.items())
      s += fmt::format("{}{} {:.3e}", s.empty() ? "; per shape: " : ", ", shape,
                       v["rel_l2"].template get<double>());
    return s;
  }

  // Inference per instance at batch 1 (graph assembly and features included), the first test
  // set's samples; the slowest rank's mean.
  double inference_time() {
    const long total = static_cast<long>(m_sets[1].size());
    const auto [first, count] = my_share(m_ctx.comm, total);
    const Timer clock;
    for (long k = 0; k < count; ++k) predict(1, {first + k});
    double per = count > 0 ? clock.seconds() / static_cast<double>(count) : 0.0;
    MPI_Allreduce(MPI_IN_PLACE, &per, 1, MPI_DOUBLE, MPI_MAX, m_ctx.comm);
    return per;
  }

  // The finite-element reference on the test sets' samples (each rank its share, one rank per
  // solve, P1 + CG + GAMG as the generator): its time per instance and iterations from zero, and
  // from the model's prediction (the same tolerance) — metrics.warm_start_*.
  nlohmann::json compare_with_fem(nlohmann::json& metrics) {
    std::vector<std::pair<std::size_t, long>> samples;  // (set, index) over the test sets
    for (std::size_t set = 1; set < m_sets.size(); ++set)
      for (long k = 0; k < static_cast<long>(m_sets[set].size()); ++k) samples.emplace_back(set, k);
    const auto [first, count] = my_share(m_ctx.comm, static_cast<long>(samples.size()));
    double local[4] = {0, 0, 0, 0};  // cold s, cold iterations, warm s, warm iterations
    for (long i = first; i < first + count; ++i) {
      const auto [set, k] = samples[static_cast<std::size_t>(i)];
      const ShapeSample& s = m_sets[set][k];
      const std::vector<double> guess = predict(set, {k}).front();
      const PoissonOutcome cold = solve_sample(s, m_spec.data.solver);
      const PoissonOutcome warm = solve_sample(s, m_spec.data.solver, &guess);
      local[0] += cold.seconds, local[1] += static_cast<double>(cold.iterations);
      local[2] += warm.seconds, local[3] += static_cast<double>(warm.iterations);
    }
    MPI_Allreduce(MPI_IN_PLACE, local, 4, MPI_DOUBLE, MPI_SUM, m_ctx.comm);
    const double n = static_cast<double>(samples.size());
    metrics["warm_start_iterations"] = local[3] / n;
    metrics["warm_start_solve_s"] = local[2] / n;
    log().info("FEM CG iterations from the model's prediction {:.1f}, from zero {:.1f}",
               local[3] / n, local[1] / n);
    return {{"solver", "P1 finite elements (PETSc DMPlex), CG + GAMG"},
            {"rtol", m_spec.data.solver.rtol},
            {"samples", static_cast<long>(samples.size())},
            {"solve_s_per_sample", local[0] / n},
            {"iterations", local[1] / n}};
  }

  // fields.h5 (rank 0): evaluation.fields samples of every test set, one group per sample with
  // its mesh and source, Dirichlet data, prediction, reference and error at the vertices, and
  // fields.xdmf, a collection of those meshes that ParaView opens as one multiblock.
  void write_fields() {
    if (m_spec.fields == 0) return;
    struct Item {
      std::string group;
      const ShapeSample* sample;
      std::vector<double> prediction;
    };
    std::vector<Item> items;
    for (std::size_t set = 1; set < m_sets.size(); ++set) {
      const long k = std::min<long>(m_spec.fields, static_cast<long>(m_sets[set].size()));
      std::vector<long> which(static_cast<std::size_t>(k));
      std::iota(which.begin(), which.end(), 0);
      std::vector<std::vector<double>> p = predict(set, which);  // every rank: same values
      for (long i = 0; i < k; ++i)
        items.push_back({fmt::format("{}_{}", m_spec.data.sets[set].name, i), &m_sets[set][i],
                         std::move(p[i])});
    }
    if (m_ctx.rank != 0) return;
    write_fields_file(m_ctx.dir->staged("fields.h5"), items);
    write_fields_xdmf(m_ctx.dir->staged("fields.xdmf"), items);
  }

  template <class Items>
  void write_fields_file(const std::string& path, const Items& items) const {
    using io::h5::check;
    using io::h5::Id;
    io::h5::quiet_hdf5();
    Id file(check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create", path),
            H5Fclose);
    auto write = [&](hid_t group, const char* name, hid_t type, const void* data,
                     std::vector<hsize_t> dims) {
      Id space(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                     "dataspace for", path),
               H5Sclose);
      Id set(
          check(H5Dcreate2(group, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                "create a dataset in", path),
          H5Dclose);
      check(H5Dwrite(set.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write", path);
    };
    for (const auto& item : items) {
      const ShapeSample& s = *item.sample;
      Id group(
          check(H5Gcreate2(file.get(), item.group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                "create a group in", path),
          H5Gclose);
      const hsize_t n = static_cast<hsize_t>(s.vertex_count());
      const hsize_t m = static_cast<hsize_t>(s.cell_count());
      std::vector<double> error(n);
      for (hsize_t i = 0; i < n; ++i) error[i] = item.prediction[i] - s.solution[i];
      write(group.get(), "vertices", H5T_NATIVE_DOUBLE, s.vertices.data(), {n, 2});
      write(group.get(), "cells", H5T_NATIVE_LONG, s.cells.data(), {m, 3});
      write(group.get(), "source", H5T_NATIVE_DOUBLE, s.source.data(), {n});
      write(group.get(), "dirichlet", H5T_NATIVE_DOUBLE, s.dirichlet.data(), {n});
      write(group.get(), "prediction", H5T_NATIVE_DOUBLE, item.prediction.data(), {n});
      write(group.get(), "reference", H5T_NATIVE_DOUBLE, s.solution.data(), {n});
      write(group.get(), "error", H5T_NATIVE_DOUBLE, error.data(), {n});
    }
  }

  template <class Items>
  static void write_fields_xdmf(const std::string& path, const Items& items) {
    std::ofstream x(path);
    x << "<?xml version=\"1.0\" ?>\n<Xdmf Version=\"3.0\">\n<Domain>\n"
      << "<Grid Name=\"samples\" GridType=\"Collection\" CollectionType=\"Spatial\">\n";
    for (const auto& item : items) {
      const long n = item.sample->vertex_count(), m = item.sample->cell_count();
      x << fmt::format(
          "<Grid Name=\"{0}\" GridType=\"Uniform\">\n"
          "<Topology TopologyType=\"Triangle\" NumberOfElements=\"{1}\">\n"
          "<DataItem Dimensions=\"{1} 3\" NumberType=\"Int\" Precision=\"8\" "
          "Format=\"HDF\">fields.h5:/{0}/cells</DataItem>\n</Topology>\n"
          "<Geometry GeometryType=\"XY\">\n<DataItem Dimensions=\"{2} 2\" "
          "NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">fields.h5:/{0}/"
          "vertices</DataItem>\n</Geometry>\n",
          item.group, m, n);
      for (const char* field : {"source", "dirichlet", "prediction", "reference", "error"})
        x << fmt::format(
            "<Attribute Name=\"{1}\" AttributeType=\"Scalar\" Center=\"Node\">\n"
            "<DataItem Dimensions=\"{2}\" NumberType=\"Float\" Precision=\"8\" "
            "Format=\"HDF\">fields.h5:/{0}/{1}</DataItem>\n</Attribute>\n",
            item.group, field, n);
      x << "</Grid>\n";
    }
    x << "</Grid>\n</Domain>\n</Xdmf>\n";
    if (!x) throw ExternalError("filesystem", errno, "cannot write " + path);
  }

  const ShapesCase& m_spec;
  RunContext& m_ctx;
  std::string m_path;
  double m_data_s = 0.0;
  std::vector<std::vector<ShapeSample>> m_sets;  // [set][sample]
  std::vector<std::vector<GraphSample>> m_graphs;
  Scaling m_z;
  std::unique_ptr<Model<T>> m_model;
  nn::Parameters<T> m_parameters;
  nn::Workspace<T> m_workspace;
  nn::Matrix<T> m_h, m_e;
  mesh::Graph m_batch;
  std::unique_ptr<EpochBatches> m_batches;
  long m_per_epoch = 1;
};

class ShapesMethod : public run::Method {
 public:
  void read(const config::Node& root, const std::string& precision) override {
    m_spec = read_shapes_case(root);
    m_precision = precision;
  }
  std::string summary() const override {
    std::string sets;
    for (const auto& s : m_spec.data.sets)
      sets += fmt::format("{}{} {}", sets.empty() ? "" : ", ", s.name, s.samples);
    return fmt::format("kind gno, Poisson on mesh shapes (sets: {}), {} model on the {} graph, {}",
                       sets, m_spec.model.type == ModelType::gno ? "GNO" : "graph network",
                       m_spec.graph == GraphKind::radius ? "radius" : "mesh-edge", m_precision);
  }
  std::string run(RunContext& ctx) override {
    if (m_precision == "float64") return ShapesRun<double>(m_spec, ctx).run();
    return ShapesRun<float>(m_spec, ctx).run();
  }

 private:
  ShapesCase m_spec;
  std::string m_precision;
};

}  // namespace

std::unique_ptr<run::Method> make_shapes_gno_method() { return std::make_unique<ShapesMethod>(); }

}  // namespace karman::gno
