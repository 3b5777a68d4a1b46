// kind: pinn — a physics-informed network trained on the PDE residual and the boundary data,
// then compared with the PETSc reference solve of the same case on its grid (and with the exact
// solution when the case gives one).

#include "pinn/runner.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <type_traits>

#include "karman/config/case.hpp"
#include "karman/core/log.hpp"
#include "karman/core/norms.hpp"
#include "karman/core/partition.hpp"
#include "karman/core/random.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/io/hdf5.hpp"
#include "karman/io/xdmf.hpp"
#include "karman/nn/case_sections.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/sequential.hpp"
#include "karman/pde/fields.hpp"
#include "karman/run/method.hpp"
#include "karman/run/outputs.hpp"
#include "karman/solvers/elliptic.hpp"
#include "karman/solvers/masked_poisson.hpp"
#include "karman/solvers/navier_stokes.hpp"
#include "karman/solvers/transient.hpp"
#include "pinn/geometry_config.hpp"
#include "pinn/lagrangian.hpp"
#include "pinn/residual_loss.hpp"
#include "pinn/sampling.hpp"

namespace karman::pinn {
namespace {

using run::baseline_json;
using run::Method;
using run::RunContext;
using run::stages_json;
using run::train;
using run::write_history;

// A Dirichlet condition on named parts of the geometry (`conditions` in the case).
struct ConditionSpec {
  std::string name;        // loss-term name: "dirichlet[i]"
  std::vector<int> parts;  // indices into Geometry::part_names()
  Expression value{"0", Place{}};
  bool hard = false;
  double weight = 1.0;
  long points = 512;
};

// Heat with an unknown κ: learned from observations of u at one time (`inverse` in the case).
struct InverseSpec {
  double initial = 1.0;            // κ's starting value (pde.kappa is the reference's, the truth)
  std::string from = "reference";  // reference: sampled from the PETSc solve; file: a dataset
  std::string file, dataset;       // file: the grid dataset of u
  double time = 0.0;               // when u was observed
  long count = 256;                // observed nodes, drawn at random from the grid
  std::uint64_t seed = 7;
  double weight = 1.0;  // loss.observations
};

struct PinnSpec {
  config::ProblemSpec problem;
  std::optional<InverseSpec> inverse;
  // Steady scalar PDEs with `geometry` or `conditions`: the domain (default: the grid's box) and
  // the conditions covering each of its boundary parts once. Null: the box path.
  std::shared_ptr<const pinn::Geometry> geometry;
  std::vector<ConditionSpec> conditions;
  pinn::SampleMethod method = pinn::SampleMethod::uniform;
  long interior = 2048, boundary = 512;
  std::uint64_t seed = 1;
  long resample_every = 0;  // first-order steps between fresh point sets (0: never)
  pinn::LossWeights weights;
  long initial = 512;
  nn::MlpSpec model;
  nn::TrainingSpec training;
  // `formulation: lagrangian` (pde convection): the two-branch network of pinn/lagrangian.hpp.
  std::optional<pinn::LagrangianWeights> lagrangian;
};

// `geometry` (default: the grid's box), `samples.method` and `conditions` (default: one soft
// Dirichlet condition pde.boundary on every part): each part must have exactly one condition.
void read_domain(const config::Node& root, PinnSpec& spec) {
  const auto& pde = spec.problem.pde;
  const mesh::GridShape& grid = spec.problem.grid;
  const std::string key = root.has("geometry") ? "geometry" : "conditions";
  if (!config::traits(pde.type).pinn_geometry)
    root.fail(key, "geometry and conditions are supported for steady poisson PINNs so far");
  if (root.has("geometry")) {
    auto geometry = std::make_shared<pinn::Geometry>(pinn::read_geometry(root));
    if (geometry->dim() != grid.dim)
      root.child("geometry").fail("type", fmt::format("a {}D shape, as grid.dim", grid.dim));
    const pinn::BoundingBox b = geometry->bounds();
    for (int d = 0; d < grid.dim; ++d)
      if (b.lower[d] < grid.lower[d] - 1e-12 || b.upper[d] > grid.upper[d] + 1e-12)
        root.child("geometry")
            .fail("type",
                  "a shape inside the grid's box (the evaluation grid and the PETSc reference)");
    spec.geometry = geometry;
  } else {
    pinn::Vec3 lower{}, upper{};
    for (int d = 0; d < grid.dim; ++d) lower[d] = grid.lower[d], upper[d] = grid.upper[d];
    spec.geometry = std::make_shared<pinn::Geometry>(
        grid.dim == 2 ? pinn::make_rectangle(lower, upper) : pinn::make_box(lower, upper));
  }
  const config::Node samples = root.child_or_empty("samples");
  spec.method = pinn::read_sample_method(samples);
  const long points = samples.integer("boundary", 512, 1);
  const double weight =
      root.child_or_empty("loss").number("boundary", 1.0, config::Bounds::at_least(0));
  const auto& names = spec.geometry->part_names();
  std::vector<int> owner(names.size(), -1);
  if (!root.has("conditions")) {
    ConditionSpec all{"boundary", {}, *pde.boundary, false, weight, points};
    for (std::size_t k = 0; k < names.size(); ++k) all.parts.push_back(static_cast<int>(k));
    spec.conditions.push_back(all);
    return;
  }
  const auto list = root.mappings("conditions");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const config::Node& c = list[i];
    c.choice("type", {"dirichlet"}, "dirichlet");
    ConditionSpec condition;
    condition.name = fmt::format("dirichlet[{}]", i);
    condition.parts = c.has("on") ? pinn::read_boundary_parts(*spec.geometry, c, "on")
                                  : spec.geometry->select_parts({});
    condition.value = c.has("value") ? c.expression("value") : *pde.boundary;
    condition.hard = c.choice("enforce", {"soft", "hard"}, "soft") == "hard";
    condition.weight = c.number("weight", weight, config::Bounds::at_least(0));
    condition.points = c.integer("points", points, 1);
    if (condition.hard && grid.dim != 2)
      c.fail("enforce", "soft: hard conditions (distance functions) are 2D so far");
    if (condition.hard && std::any_of(spec.conditions.begin(), spec.conditions.end(),
                                      [](const ConditionSpec& o) { return o.hard; }))
      c.fail("enforce", "soft: at most one condition can be hard");
    for (int k : condition.parts) {
      if (owner[k] >= 0)
        c.fail("on", fmt::format("parts without a condition yet: '{}' already has conditions[{}]",
                                 names[k], owner[k]));
      owner[k] = static_cast<int>(i);
    }
    spec.conditions.push_back(condition);
  }
  for (std::size_t k = 0; k < names.size(); ++k)
    if (owner[k] < 0)
      root.fail("conditions",
                fmt::format("a condition on every boundary part; '{}' has none (parts: {})",
                            names[k], fmt::join(names, ", ")));
}

void read_inverse(const config::Node& root, PinnSpec& spec) {
  const config::Node node = root.child("inverse");
  if (!config::traits(spec.problem.pde.type).pinn_inverse)
    root.fail("inverse", "inverse problems are supported for heat (an unknown kappa) so far");
  InverseSpec inverse;
  inverse.initial = node.child("kappa").number("initial", config::Bounds::positive());
  const config::Node obs = node.child("observations");
  inverse.from = obs.choice("from", {"reference", "file"}, "reference");
  if (inverse.from == "file") {
    inverse.file = obs.str("file");
    inverse.dataset = obs.str("dataset");
  }
  inverse.time = obs.number("time", spec.problem.time->t_end,
                            config::Bounds::between(0, spec.problem.time->t_end));
  if (inverse.from == "reference" && inverse.time != spec.problem.time->t_end)
    obs.fail("time", "time.t_end: observations from the reference are its final state");
  inverse.count = obs.integer("count", 256, 1);
  inverse.seed = static_cast<std::uint64_t>(obs.integer("seed", 7, 0));
  inverse.weight =
      root.child_or_empty("loss").number("observations", 1.0, config::Bounds::at_least(0));
  spec.inverse = inverse;
}

PinnSpec read_pinn(const config::Node& root) {
  PinnSpec spec;
  if (root.has("mesh"))
    root.fail("mesh",
              "kind pinn samples its points in a grid box or a `geometry`; unstructured "
              "meshes are solved by kind reference");
  spec.problem = config::read_problem(root);
  const auto& pde = spec.problem.pde;
  if (!config::traits(pde.type).pinn)
    root.child("pde").fail("type",
                           "kind pinn supports poisson, heat, burgers, allen_cahn, helmholtz, "
                           "wave, convection and navier_stokes so far (darcy is the reference "
                           "solver's only)");
  if (pde.time_dependent() && pde.initial->source != config::FieldSpec::Source::expression)
    root.child("pde").fail("initial", "a PINN needs the initial state as an expression");
  if (pde.time_dependent() && spec.problem.grid.dim > 2)
    root.child("grid").fail("dim",
                            "a time-dependent PINN supports 2 space dimensions at most so far");
  config::Node samples = root.child_or_empty("samples");
  spec.interior = samples.integer("interior", 2048, 1);
  spec.boundary = samples.integer("boundary", 512, 1);
  if (pde.time_dependent()) spec.initial = samples.integer("initial", 512, 1);
  spec.seed = static_cast<std::uint64_t>(samples.integer("seed", 1, 0));
  spec.resample_every = samples.integer("resample_every", 0, 0);
  config::Node loss = root.child_or_empty("loss");
  spec.weights.residual = loss.number("residual", 1.0, config::Bounds::at_least(0));
  spec.weights.boundary = loss.number("boundary", 1.0, config::Bounds::at_least(0));
  if (pde.time_dependent())
    spec.weights.initial = loss.number("initial", 1.0, config::Bounds::at_least(0));
  if (config::traits(pde.type).second_order_in_time)
    spec.weights.initial_velocity =
        loss.number("initial_velocity", spec.weights.initial, config::Bounds::at_least(0));
  if (root.has("geometry") || root.has("conditions")) read_domain(root, spec);
  if (root.has("inverse")) read_inverse(root, spec);
  spec.model = nn::read_mlp(root.child_or_empty("model"));
  if (!nn::has_second_derivative(spec.model.activation))
    root.child("model").fail("activation",
                             std::string("the residual needs second derivatives, which '") +
                                 nn::to_string(spec.model.activation) +
                                 "' does not have; use tanh, sin, gelu, silu or softplus");
  spec.training = nn::read_training(root.child("training"), /*least_squares=*/true);
  // Per-point Jacobians (natural_gradient) come from Linear layers: mlp and siren so far.
  const bool linear_layers_only =
      spec.model.architecture != nn::Architecture::modified_mlp && spec.model.fourier.count == 0;
  const auto stages = root.child("training").mappings("stages");
  for (std::size_t i = 0; i < stages.size(); ++i)
    if (spec.training.trainer.stages[i].optimizer == "natural_gradient" && !linear_layers_only)
      stages[i].fail("optimizer",
                     "natural_gradient needs per-point Jacobians, which only the mlp and siren "
                     "architectures without fourier_features give so far; expected adam, adamw, "
                     "sgd or lbfgs");
  if (spec.training.batch_size != 0)
    root.child("training").fail("batch_size", "PINN training is full-batch: expected 0");
  if (root.choice("formulation", {"eulerian", "lagrangian"}, "eulerian") == "lagrangian")
    spec.lagrangian = pinn::read_lagrangian(root, spec.problem, spec.training);
  return spec;
}

// Network outputs: (u, v, p) for Navier–Stokes, u otherwise.
std::size_t outputs(const PinnSpec& spec) {
  return static_cast<std::size_t>(config::traits(spec.problem.pde.type).unknowns);
}

// The box the network lives on: the grid's box, times [0, t_end] for a time-dependent PDE.
mesh::GridShape network_box(const PinnSpec& spec) {
  mesh::GridShape box = spec.problem.grid;
  if (spec.problem.time) {
    box.lower[box.dim] = 0.0;
    box.upper[box.dim] = spec.problem.time->t_end;
    box.n[box.dim] = 2;
    box.dim += 1;
  }
  return box;
}

template <class T>
class PinnRun {
 public:
  PinnRun(const PinnSpec& spec, RunContext& ctx) : m_spec(spec), m_ctx(ctx) {
    std::vector<nn::Coefficient> coefficients;
    if (spec.inverse) coefficients.push_back({"inverse.kappa", spec.inverse->initial});
    m_net = std::make_unique<nn::Network<T>>(
        spec.lagrangian
            ? pinn::make_lagrangian_network<T>(spec.model)
            : nn::make_network<T>(spec.model, static_cast<std::size_t>(network_box(spec).dim),
                                  outputs(spec)),
        spec.model.seed, coefficients);
  }

  std::string run() {
    const auto& p = m_spec.problem;
    log().info("PINN: MLP {} parameters, {} interior + {} boundary points",
               m_net->parameters().size(), m_spec.interior, m_spec.boundary);
    if (m_spec.inverse) observe();
    nn::TrainingResult result = train_network();

    mesh::StructuredGrid grid(m_ctx.comm, p.grid);
    nlohmann::json metrics = {
        {"final_loss", result.final_loss}, {"train_wall_s", result.wall_s},
        {"steps", result.steps},           {"stop_reason", result.stop_reason},
        {"stages", stages_json(result)},   {"params", m_net->parameters().size()}};
    for (const auto& term : result.final_terms) metrics["loss_" + term.name] = term.value;
    if (m_spec.inverse) {
      const auto kappa = Kokkos::create_mirror_view_and_copy(
          Kokkos::HostSpace(), m_net->parameters().value(m_net->coefficient(0)));
      metrics["kappa"] = static_cast<double>(kappa(0, 0));
      metrics["kappa_reference"] = p.pde.kappa;
      metrics["kappa_rel_error"] = std::abs(kappa(0, 0) - p.pde.kappa) / p.pde.kappa;
      log().info("inverse problem: kappa {:.6g} (reference {:.6g})", kappa(0, 0), p.pde.kappa);
    }
    {
      // The network on the grid against the PETSc reference (its solve: baseline; fields.h5: io).
      const ScopedStage timed_stage(Stage::evaluation);
      if (config::traits(p.pde.type).reference == config::ReferenceSolver::navier_stokes)
        compare_flow(grid, metrics);
      else
        compare_scalar(grid, metrics);
    }
    write_history(m_ctx, result, "validation");
    (*m_ctx.report)["metrics"] = metrics;
    (*m_ctx.report)["pde"] = config::to_string(p.pde.type);
    if (result.stop_reason == "non_finite") {
      m_ctx.message = result.message;
      return "diverged";
    }
    return "ok";
  }

 private:
  // Reproducible training (the default in float64): the points in training.chunks fixed chunks,
  // one loss each, summed in a fixed order, so any rank count gives the same losses; otherwise
  // this rank's share of the points and one allreduce per step. Either way the loss is also
  // available as residuals with their Jacobian for natural_gradient stages (the chunks' rows
  // one after the other).
  nn::TrainingResult train_network() {
    const nn::TrainingSpec& training = m_spec.training;
    if (m_spec.lagrangian)
      return pinn::train_lagrangian<T>(
          m_ctx, *m_net, m_spec.problem.pde, network_box(m_spec),
          {m_spec.interior, m_spec.boundary, m_spec.initial, m_spec.seed}, *m_spec.lagrangian,
          training);
    std::vector<std::unique_ptr<pinn::ResidualLoss<T>>> parts;
    const bool reproducible = nn::reproducible_sums<T>(training);
    const auto [first, count] =
        reproducible ? my_share(m_ctx.comm, training.chunks) : std::pair<long, long>{m_ctx.rank, 1};
    const long part_count = reproducible ? training.chunks : m_ctx.size;
    for (long c = first; c < first + count; ++c) parts.push_back(loss_on_part(c, part_count));
    const nn::LeastSquares<T> least_squares = residual_blocks(parts, part_count);
    // Resampling: while the leading first-order stages run, every resample_every steps each part
    // draws fresh points (a pure function of the epoch, so resumed and multi-rank runs agree);
    // later stages (L-BFGS, natural gradient) keep the last set.
    const long every = m_spec.resample_every, until = leading_first_order_steps();
    std::vector<long> epochs(parts.size(), 0);
    auto part_at = [&, first = first](std::size_t k, long step) -> pinn::ResidualLoss<T>& {
      if (every > 0 && until > 0) {
        const long epoch = std::min(step, until - 1) / every;
        if (epoch != epochs[k]) {
          parts[k] = loss_on_part(first + static_cast<long>(k), part_count, epoch);
          epochs[k] = epoch;
        }
      }
      return *parts[k];
    };
    if (!reproducible)
      return train<T>(
          m_ctx, m_net->parameters(), [&](long step) { return part_at(0, step)(); },
          training.trainer, {}, least_squares);
    nn::ChunkedLoss loss{training.chunks, [&, first = first](long step, long chunk) {
                           return part_at(static_cast<std::size_t>(chunk - first), step)();
                         }};
    return train<T>(m_ctx, m_net->parameters(), std::move(loss), training.trainer, {},
                    least_squares);
  }

  // The residuals for natural_gradient stages: one block per part (a chunk of `chunks`).
  static nn::LeastSquares<T> residual_blocks(
      const std::vector<std::unique_ptr<pinn::ResidualLoss<T>>>& parts, long chunks) {
    nn::LeastSquares<T> blocks;
    blocks.chunks = chunks;
    for (const auto& part : parts) blocks.rows.push_back(part->rows());
    blocks.evaluate = [&parts](std::size_t k, const nn::Vector<T>& r,
                               const nn::Matrix<T>& jacobian) {
      return parts[k]->residuals(r, jacobian);
    };
    return blocks;
  }

  // The loss on part `part` of `parts` of every point set (interior, boundary or the geometry's
  // conditions, and for a time-dependent PDE the initial points), normalised by global counts.
  // Steps of the first-order stages (sgd, adam, adamw) before the first other one.
  long leading_first_order_steps() const {
    long steps = 0;
    for (const auto& s : m_spec.training.trainer.stages) {
      if (s.optimizer == "lbfgs" || s.optimizer == "natural_gradient") break;
      steps += s.steps;
    }
    return steps;
  }

  // `epoch` > 0: the point streams of a resampling epoch (epoch 0: samples.seed's own).
  std::unique_ptr<pinn::ResidualLoss<T>> loss_on_part(long part, long parts, long epoch = 0) {
    const ScopedStage timed_stage(Stage::data);  // sampling the collocation points
    const std::uint64_t seed =
        epoch == 0
            ? m_spec.seed
            : mix64(m_spec.seed ^ (0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(epoch)));
    const auto& p = m_spec.problem;
    const mesh::GridShape box = network_box(m_spec);
    auto [first, count] = share(m_spec.interior, part, parts);
    auto [bfirst, bcount] = share(m_spec.boundary, part, parts);
    pinn::PointSet interior{pinn::interior_points(box, first, count, seed), m_spec.interior};
    pinn::PointSet boundary{pinn::boundary_points(box, bfirst, bcount, mix64(seed + 1), p.grid.dim),
                            m_spec.boundary};
    pinn::PointSet initial;
    if (p.pde.time_dependent()) {
      // Initial points: uniform in space at t = 0 (the time coordinate is the last).
      auto [ifirst, icount] = share(m_spec.initial, part, parts);
      const auto space = pinn::interior_points(p.grid, ifirst, icount, mix64(seed + 2));
      for (long i = 0; i < icount; ++i) {
        for (int d = 0; d < p.grid.dim; ++d) initial.points.push_back(space[i * p.grid.dim + d]);
        initial.points.push_back(0.0);
      }
      initial.total = m_spec.initial;
    }
    std::optional<pinn::InverseProblem> inverse;
    if (m_spec.inverse) {
      auto [ofirst, ocount] = share(m_spec.inverse->count, part, parts);
      inverse = pinn::InverseProblem{m_net->coefficient(0), {}, {}, m_spec.inverse->weight};
      inverse->observations.total = m_spec.inverse->count;
      const std::size_t dims = static_cast<std::size_t>(box.dim);
      inverse->observations.points.assign(m_observed_points.begin() + ofirst * dims,
                                          m_observed_points.begin() + (ofirst + ocount) * dims);
      inverse->values.assign(m_observed_values.begin() + ofirst,
                             m_observed_values.begin() + ofirst + ocount);
    }
    std::optional<pinn::BoundaryConditions> conditions;
    if (m_spec.geometry) {
      interior.points =
          m_spec.geometry->interior_points(m_spec.method, first, count, m_spec.interior, seed);
      conditions = boundary_conditions(part, parts, seed);
    }
    return std::make_unique<pinn::ResidualLoss<T>>(
        *m_net, p.pde, box, interior, boundary, initial, m_spec.weights,
        conditions ? &*conditions : nullptr, inverse ? &*inverse : nullptr);
  }

  // The PETSc solve to t_end; its states at t = 0 and at the time.snapshots times are kept in
  // m_reference_series, for the PINN's error along time.
  solvers::SteadyResult transient_reference(const mesh::StructuredGrid& grid) {
    const auto& p = m_spec.problem;
    m_reference_series.clear();
    auto keep = [this](long index, double t, const std::vector<double>& u) {
      m_reference_series.push_back({index, t, u});
    };
    auto transient = solvers::solve_transient(grid, p.pde, *p.time, p.solver,
                                              pde::evaluate(grid, *p.pde.initial), keep);
    solvers::SteadyResult reference;
    reference.u = std::move(transient.u);
    reference.stats = transient.stats;
    return reference;
  }

  // Inverse problem: u observed at `count` grid nodes drawn at random (counter-based, the same on
  // any rank count) from the PETSc solve at t_end, or from a grid dataset in an HDF5 file.
  void observe() {
    const auto& p = m_spec.problem;
    const InverseSpec& inverse = *m_spec.inverse;
    mesh::StructuredGrid grid(m_ctx.comm, p.grid);
    std::vector<double> field;
    if (inverse.from == "reference") {
      m_reference = transient_reference(grid);
      field = grid.gather_all(m_reference->u);
    } else {
      field = grid.gather_all(io::read_grid_field(inverse.file, inverse.dataset, grid));
    }
    const auto& shape = p.grid;
    const long nodes = static_cast<long>(field.size());
    for (long j = 0; j < inverse.count; ++j) {
      const long node = std::min(nodes - 1, static_cast<long>(uniform01(inverse.seed, j) * nodes));
      const long ix = node % shape.n[0], iy = node / shape.n[0];
      m_observed_points.insert(m_observed_points.end(),
                               {shape.coordinate(0, ix), shape.coordinate(1, iy), inverse.time});
      m_observed_values.push_back(field[node]);
    }
    log().info("inverse problem: kappa from {} observations of u at t = {} ({})", inverse.count,
               inverse.time, inverse.from == "file" ? inverse.file : "the PETSc reference");
  }

  // Soft conditions: their share of points on their parts; the hard one: its distance function.
  pinn::BoundaryConditions boundary_conditions(long part, long parts, std::uint64_t seed) {
    pinn::BoundaryConditions out;
    for (std::size_t i = 0; i < m_spec.conditions.size(); ++i) {
      const ConditionSpec& c = m_spec.conditions[i];
      if (c.hard) {
        if (!m_hard)
          m_hard = pinn::HardDirichlet{
              std::make_shared<pinn::DistanceFunction>(*m_spec.geometry, c.parts), c.value};
        out.hard = m_hard;
        continue;
      }
      auto [first, count] = share(c.points, part, parts);
      const auto sample =
          m_spec.geometry->boundary_points(c.parts, first, count, mix64(seed + 11 + i));
      out.soft.push_back({c.name, {sample.x, c.points}, c.value, c.weight});
    }
    return out;
  }

  // Geometry path: the nodes strictly inside the domain carry the comparison (on its boundary
  // both solutions take the data; CSG leaves degenerate zero-distance nodes, such as the
  // L-shape's notch edge x = 1, 0 < y ≤ 1, that are not in the domain at all). The PETSc
  // reference solves on the same nodes with each outside node held at the value of the
  // condition of its nearest boundary part.
  std::vector<char> in_domain(const mesh::StructuredGrid& grid) const {
    return pinn::active_nodes(grid, *m_spec.geometry);
  }
  solvers::SteadyResult masked_reference(const mesh::StructuredGrid& grid) const {
    const auto& p = m_spec.problem;
    const pinn::Geometry& geometry = *m_spec.geometry;
    std::vector<int> owner(geometry.part_names().size());
    for (std::size_t i = 0; i < m_spec.conditions.size(); ++i)
      for (int k : m_spec.conditions[i].parts) owner[k] = static_cast<int>(i);
    const std::vector<double> dirichlet = grid.sample([&](double x, double y, double z) {
      const double point[3] = {x, y, z};
      std::size_t nearest = 0;
      double best = std::numeric_limits<double>::max();
      for (std::size_t k = 0; k < owner.size(); ++k) {
        const double d = geometry.part(static_cast<int>(k)).distance(point);
        if (d < best) best = d, nearest = k;
      }
      return m_spec.conditions[owner[nearest]].value(x, y, z, 0.0);
    });
    return solvers::solve_poisson_masked(grid, pinn::active_nodes(grid, geometry),
                                         pde::evaluate(grid, *p.pde.source), dirichlet, p.solver);
  }
  static std::vector<double> masked(const std::vector<double>& v, const std::vector<char>& mask) {
    std::vector<double> out;
    for (std::size_t i = 0; i < v.size(); ++i)
      if (mask[i]) out.push_back(v[i]);
    return out;
  }

  // The PETSc reference on the case's grid (at t_end for a time-dependent PDE) and the network on
  // the same nodes: metrics, baseline and fields.
  void compare_scalar(const mesh::StructuredGrid& grid, nlohmann::json& metrics) {
    const auto& p = m_spec.problem;
    const double t_end = p.time ? p.time->t_end : 0.0;
    solvers::SteadyResult reference;
    if (m_reference) {
      reference = *m_reference;  // solved before training (observations)
    } else if (p.pde.time_dependent()) {
      reference = transient_reference(grid);
    } else if (m_spec.geometry) {
      reference = masked_reference(grid);
    } else {
      reference = solvers::solve_elliptic(grid, p.pde, p.solver);
    }
    std::vector<double> prediction = predict(grid, t_end)[0];
    // On a geometry only the domain's nodes count; the others are NaN in the fields.
    const std::vector<char> mask =
        m_spec.geometry ? in_domain(grid) : std::vector<char>(prediction.size(), 1);
    auto norms = [&](const std::vector<double>& a, const std::vector<double>& b) {
      return error_norms(m_ctx.comm, masked(a, mask), masked(b, mask));
    };
    for (std::size_t i = 0; i < mask.size(); ++i)
      if (!mask[i]) prediction[i] = std::numeric_limits<double>::quiet_NaN();
    const ErrorNorms vs_reference = norms(prediction, reference.u);
    metrics["rel_l2"] = vs_reference.rel_l2;
    metrics["max_abs"] = vs_reference.max_abs;
    std::vector<std::pair<std::string, std::vector<double>>> fields{
        {"pinn", prediction},
        {"reference", reference.u},
        {"error", difference(prediction, reference.u)}};
    if (p.pde.exact) {
      std::vector<double> exact = pde::evaluate(grid, *p.pde.exact, t_end);
      metrics["rel_l2_exact"] = norms(prediction, exact).rel_l2;
      metrics["reference_rel_l2_exact"] = norms(reference.u, exact).rel_l2;
      fields.emplace_back("exact", std::move(exact));
    }
    log().info(
        "PINN vs PETSc reference: rel_l2 {:.3e}{}", vs_reference.rel_l2,
        p.pde.exact ? fmt::format(", vs exact {:.3e}", metrics["rel_l2_exact"].get<double>()) : "");
    write_fields(grid, fields);
    (*m_ctx.report)["baseline"] = baseline_json(reference.stats);
  }

  // Navier–Stokes: velocity errors of (u, v) stacked, pressure compared with both means removed
  // (its constant is free), against the PETSc streamfunction–vorticity solve and the exact flow.
  void compare_flow(const mesh::StructuredGrid& grid, nlohmann::json& metrics) {
    const auto& p = m_spec.problem;
    const solvers::NavierStokesResult reference =
        solvers::solve_navier_stokes(grid, p.pde, p.solver);
    std::vector<std::vector<double>> net = predict(grid, 0.0);
    remove_mean(net[2]);
    const ErrorNorms velocity =
        error_norms(grid, concatenate(net[0], net[1]), concatenate(reference.u, reference.v), 2);
    metrics["rel_l2"] = velocity.rel_l2;
    metrics["max_abs"] = velocity.max_abs;
    metrics["rel_l2_pressure"] = error_norms(grid, net[2], reference.p).rel_l2;
    std::vector<std::pair<std::string, std::vector<double>>> fields{
        {"u", net[0]},
        {"v", net[1]},
        {"p", net[2]},
        {"u_reference", reference.u},
        {"v_reference", reference.v},
        {"p_reference", reference.p},
        {"u_error", difference(net[0], reference.u)},
        {"v_error", difference(net[1], reference.v)}};
    if (!p.pde.exact_velocity.empty()) {
      const auto u = pde::evaluate(grid, p.pde.exact_velocity[0]);
      const auto v = pde::evaluate(grid, p.pde.exact_velocity[1]);
      metrics["rel_l2_exact"] =
          error_norms(grid, concatenate(net[0], net[1]), concatenate(u, v), 2).rel_l2;
      metrics["reference_rel_l2_exact"] =
          error_norms(grid, concatenate(reference.u, reference.v), concatenate(u, v), 2).rel_l2;
    }
    if (p.pde.exact_pressure) {
      std::vector<double> exact = pde::evaluate(grid, *p.pde.exact_pressure);
      remove_mean(exact);
      metrics["rel_l2_pressure_exact"] = error_norms(grid, net[2], exact).rel_l2;
    }
    log().info("PINN vs PETSc reference: velocity rel_l2 {:.3e}, pressure {:.3e}{}",
               velocity.rel_l2, metrics["rel_l2_pressure"].get<double>(),
               metrics.contains("rel_l2_exact") ? fmt::format("; vs exact velocity {:.3e}",
                                                              metrics["rel_l2_exact"].get<double>())
                                                : "");
    write_fields(grid, fields);
    (*m_ctx.report)["baseline"] = baseline_json(reference.stats);
  }

  // Subtract the global mean (over all ranks' owned nodes).
  void remove_mean(std::vector<double>& field) const {
    double sums[2] = {0.0, static_cast<double>(field.size())};
    for (double x : field) sums[0] += x;
    MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, m_ctx.comm);
    for (double& x : field) x -= sums[0] / sums[1];
  }
  static std::vector<double> every_other(const std::vector<double>& v) {
    std::vector<double> out;
    for (std::size_t i = 0; i < v.size(); i += 2) out.push_back(v[i]);
    return out;
  }
  static std::vector<double> concatenate(std::vector<double> a, const std::vector<double>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  static std::vector<double> difference(const std::vector<double>& a,
                                        const std::vector<double>& b) {
    std::vector<double> d(a.size());
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = a[i] - b[i];
    return d;
  }

  // The network's outputs at the grid's owned nodes (at time t for a time-dependent PDE), one
  // vector per output.
  std::vector<std::vector<double>> predict(const mesh::StructuredGrid& grid, double t) {
    const bool with_time = m_spec.problem.pde.time_dependent();
    std::vector<double> points;
    grid.sample([&](double x, double y, double z) {
      const double p[3] = {x, y, z};
      for (int d = 0; d < grid.shape().dim; ++d) points.push_back(p[d]);
      if (with_time) points.push_back(t);
      return 0.0;
    });
    if (m_spec.lagrangian)  // points are (x, t): x along the characteristics back to ξ
      return {pinn::lagrangian_predict<T>(*m_net, network_box(m_spec), m_spec.problem.pde.speed,
                                          every_other(points), t)};
    const auto map = pinn::InputMap::for_box(network_box(m_spec));
    auto values = Kokkos::create_mirror_view_and_copy(
        Kokkos::HostSpace(), m_net->forward(pinn::network_input<T>(map, points)).y);
    std::vector<std::vector<double>> out(values.extent(1), std::vector<double>(values.extent(0)));
    for (std::size_t i = 0; i < values.extent(0); ++i)
      for (std::size_t o = 0; o < values.extent(1); ++o) out[o][i] = values(i, o);
    if (m_hard) {  // u = g + φN (the value channel of the transform)
      const auto h = pinn::HardTransform::at(*m_hard, points, grid.shape().dim);
      for (std::size_t i = 0; i < out[0].size(); ++i) out[0][i] = h.g[i] + h.phi[i] * out[0][i];
    }
    return out;
  }

  void write_fields(const mesh::StructuredGrid& grid,
                    const std::vector<std::pair<std::string, std::vector<double>>>& fields) {
    io::FieldWriter writer(m_ctx.dir->staged("fields.h5"), grid);
    writer.attribute("case", m_ctx.case_name);
    writer.attribute("kind", std::string("pinn"));
    writer.attribute("pde", std::string(config::to_string(m_spec.problem.pde.type)));
    writer.attribute("config", m_ctx.resolved_yaml);
    std::vector<std::string> names;
    for (const auto& [name, values] : fields) {
      writer.write_field(name, values);
      names.push_back(name);
    }
    // Time-dependent PDEs: the network against the reference at each stored time (/snapshots:
    // pinn, reference, error), the PINN's error along time.
    std::vector<io::XdmfSnapshot> snapshots;
    if (fields.size() >= 3 && fields[0].first == "pinn")
      for (const ReferenceState& state : m_reference_series) {
        const std::vector<double> prediction = predict(grid, state.time)[0];
        writer.write_snapshot(state.index, state.time, "pinn", prediction);
        writer.write_snapshot(state.index, state.time, "reference", state.u);
        writer.write_snapshot(state.index, state.time, "error", difference(prediction, state.u));
        snapshots.push_back({state.index, state.time});
      }
    writer.close();
    const std::string xdmf = m_ctx.dir->staged("fields.xdmf");
    if (m_ctx.rank == 0)
      io::write_xdmf(xdmf, "fields.h5", grid, names, snapshots,
                     snapshots.empty() ? std::vector<std::string>{}
                                       : std::vector<std::string>{"pinn", "reference", "error"});
  }

  // A state of the PETSc reference along time (owned nodes).
  struct ReferenceState {
    long index;
    double time;
    std::vector<double> u;
  };

  const PinnSpec& m_spec;
  RunContext& m_ctx;
  std::unique_ptr<nn::Network<T>> m_net;
  std::vector<ReferenceState> m_reference_series;  // time-dependent PDEs: t = 0 and snapshots
  std::optional<pinn::HardDirichlet> m_hard;
  std::optional<solvers::SteadyResult> m_reference;          // the PETSc solve, when needed early
  std::vector<double> m_observed_points, m_observed_values;  // inverse: (x, y, t) and u
};

class PinnMethod : public Method {
 public:
  void read(const config::Node& root, const std::string& precision) override {
    m_spec = read_pinn(root);
    m_precision = precision;
    solvers::check_solver_names(m_spec.problem.solver);
  }
  std::string summary() const override {
    std::string widths = std::to_string(network_box(m_spec).dim);
    for (auto w : m_spec.model.hidden) widths += "-" + std::to_string(w);
    return fmt::format("kind pinn, pde {}, MLP {}-{} {}, {} interior + {} boundary points, {}",
                       config::to_string(m_spec.problem.pde.type), widths, outputs(m_spec),
                       nn::to_string(m_spec.model.activation), m_spec.interior, m_spec.boundary,
                       m_precision);
  }
  std::string run(RunContext& ctx) override {
    if (m_precision == "float32") return PinnRun<float>(m_spec, ctx).run();
    return PinnRun<double>(m_spec, ctx).run();
  }

 private:
  PinnSpec m_spec;
  std::string m_precision;
};

}  // namespace

std::unique_ptr<Method> make_pinn_method() { return std::make_unique<PinnMethod>(); }

}  // namespace karman::pinn
