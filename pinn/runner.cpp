// kind: pinn — a physics-informed network trained on the PDE residual and the boundary data,
// then compared with the PETSc reference solve of the same case on its grid (and with the exact
// solution when the case gives one).

#include "pinn/runner.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <map>
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
#include "karman/nn/chunked_loss.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/sequential.hpp"
#include "karman/pde/fields.hpp"
#include "karman/run/method.hpp"
#include "karman/run/outputs.hpp"
#include "karman/solvers/elliptic.hpp"
#include "karman/solvers/face_conditions.hpp"
#include "karman/solvers/masked_poisson.hpp"
#include "karman/solvers/navier_stokes.hpp"
#include "karman/solvers/transient.hpp"
#include "pinn/adaptive.hpp"
#include "pinn/box_faces.hpp"
#include "pinn/causal.hpp"
#include "pinn/geometry_config.hpp"
#include "pinn/lagrangian.hpp"
#include "pinn/residual_loss.hpp"
#include "pinn/sampling.hpp"
#include "pinn/teng.hpp"

namespace karman::pinn {
namespace {

using run::baseline_json;
using run::Method;
using run::RunContext;
using run::stages_json;
using run::train;
using run::write_history;

// A condition on named parts of the geometry (`conditions` in the case): Dirichlet u = value,
// Neumann ∂u/∂n = value or Robin ∂u/∂n + alpha·u = value.
struct ConditionSpec {
  std::string name;  // loss-term name: "dirichlet[i]", "neumann[i]", "robin[i]"
  std::string type = "dirichlet";
  double alpha = 0.0;      // robin
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
  std::optional<pinn::TengSpec> teng;         // training.method: teng (the network stepped in time)
  std::optional<pinn::CausalOptions> causal;  // training.causal
  std::optional<pinn::AdaptiveOptions> adaptive;  // samples.adaptive
  // `formulation: lagrangian` (pde convection): the two-branch network of pinn/lagrangian.hpp.
  std::optional<pinn::LagrangianWeights> lagrangian;
};

// Neumann and Robin parts must be whole faces of the grid's box: their PETSc reference
// (solvers::solve_poisson_faces) is on structured grids.
void check_flux_parts(const pinn::Geometry& geometry, const mesh::GridShape& grid,
                      const config::Node& c, const std::vector<int>& parts) {
  for (int k : parts)
    if (pinn::box_face(geometry, k, grid) < 0)
      c.fail("on", fmt::format("parts that are whole faces of the grid's box ('{}' is not): the "
                               "PETSc reference of neumann and robin conditions is on structured "
                               "grids (curved and CSG parts come with meshes, a later issue)",
                               geometry.part_names()[k]));
}

// With Neumann or Robin conditions: the domain is the grid's box, and some part has a Dirichlet
// or Robin condition (Neumann alone leaves u defined up to a constant; not handled).
void check_flux_domain(const config::Node& root, const PinnSpec& spec) {
  const auto& conditions = spec.conditions;
  auto any = [&](auto test) { return std::any_of(conditions.begin(), conditions.end(), test); };
  if (!any([](const ConditionSpec& c) { return c.type != "dirichlet"; })) return;
  if (pinn::box_faces(*spec.geometry, spec.problem.grid).empty())
    root.fail("geometry",
              "the grid's box itself (a rectangle or box with grid.lower and grid.upper) with "
              "neumann or robin conditions: their PETSc reference is on its faces");
  if (!any([](const ConditionSpec& c) { return c.type != "neumann"; }))
    root.fail("conditions",
              "a dirichlet or robin condition on some part: with neumann conditions only, u is "
              "defined up to a constant (not handled)");
}

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
    ConditionSpec all{"boundary", "dirichlet", 0.0, {}, *pde.boundary, false, weight, points};
    for (std::size_t k = 0; k < names.size(); ++k) all.parts.push_back(static_cast<int>(k));
    spec.conditions.push_back(all);
    return;
  }
  const auto list = root.mappings("conditions");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const config::Node& c = list[i];
    ConditionSpec condition;
    condition.type = c.choice("type", {"dirichlet", "neumann", "robin"}, "dirichlet");
    condition.name = fmt::format("{}[{}]", condition.type, i);
    if (condition.type == "robin") condition.alpha = c.number("alpha", config::Bounds::positive());
    condition.parts = c.has("on") ? pinn::read_boundary_parts(*spec.geometry, c, "on")
                                  : spec.geometry->select_parts({});
    condition.value = c.has("value") ? c.expression("value") : *pde.boundary;
    condition.hard = c.choice("enforce", {"soft", "hard"}, "soft") == "hard";
    condition.weight = c.number("weight", weight, config::Bounds::at_least(0));
    condition.points = c.integer("points", points, 1);
    if (condition.hard && condition.type != "dirichlet")
      c.fail("enforce", "soft: only dirichlet conditions can be hard");
    if (condition.type != "dirichlet") check_flux_parts(*spec.geometry, grid, c, condition.parts);
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
  check_flux_domain(root, spec);
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

// The loss terms ResidualLoss builds for this spec: the residual, the boundary (or each soft
// condition), the initial state, observations, the initial velocity.
std::size_t loss_terms(const PinnSpec& spec) {
  const auto& pde = spec.problem.pde;
  std::size_t terms = 1;
  if (spec.geometry)
    terms += static_cast<std::size_t>(std::count_if(spec.conditions.begin(), spec.conditions.end(),
                                                    [](const auto& c) { return !c.hard; }));
  else
    terms += 1;
  if (pde.time_dependent()) terms += 1;
  if (spec.inverse) terms += 1;
  if (config::traits(pde.type).second_order_in_time) terms += 1;
  return terms;
}

// On a periodic grid the space inputs have period 2 in the network's coordinates ([-1, 1)); a
// time input (last) is not periodic.
void read_model(const config::Node& root, PinnSpec& spec, bool time_input) {
  std::vector<double> periods(
      static_cast<std::size_t>(spec.problem.grid.dim + (time_input ? 1 : 0)), 0.0);
  if (spec.problem.grid.periodic)
    std::fill(periods.begin(), periods.begin() + spec.problem.grid.dim, 2.0);
  spec.model = nn::read_mlp(root.child_or_empty("model"), periods);
  if (!nn::has_second_derivative(spec.model.activation))
    root.child("model").fail("activation",
                             std::string("the residual needs second derivatives, which '") +
                                 nn::to_string(spec.model.activation) +
                                 "' does not have; use tanh, sin, gelu, silu or softplus");
}

// training.causal (pinn/causal.hpp): time-dependent PDEs, gradient stages.
void read_causal(const config::Node& root, PinnSpec& spec) {
  const config::Node training = root.child("training");
  if (!spec.problem.pde.time_dependent())
    training.fail("causal", fmt::format("a time-dependent pde (causal weights split the residual "
                                        "by time); pde '{}' is steady",
                                        config::to_string(spec.problem.pde.type)));
  const config::Node node = training.child("causal");
  pinn::CausalOptions causal;
  causal.bins = node.integer("bins", causal.bins, 1);
  if (node.has("epsilon"))
    causal.epsilon = node.number_list("epsilon", 1, config::Bounds::positive());
  if (!std::is_sorted(causal.epsilon.begin(), causal.epsilon.end()))
    node.fail("epsilon", "an increasing list of tolerances (e.g. [1e-2, 1e-1, 1, 10, 100])");
  causal.delta = node.number("delta", causal.delta, config::Bounds::between(0, 1));
  const auto stages = training.mappings("stages");
  for (std::size_t i = 0; i < stages.size(); ++i)
    if (spec.training.trainer.stages[i].optimizer == "natural_gradient")
      stages[i].fail("optimizer",
                     "adam, adamw, sgd or lbfgs: causal weights (training.causal) weight the "
                     "gradient, not natural_gradient's residuals");
  for (std::size_t i = 0; i < stages.size(); ++i)
    if (spec.training.trainer.stages[i].combine.rule != "sum")
      stages[i].fail("combine",
                     "sum: causal weights (training.causal) already weight the residual by time, "
                     "and their figures ride along as weight-0 terms a combine rule would count");
  spec.causal = causal;
}

// samples.adaptive (pinn/adaptive.hpp): box domains; it alone renews the interior points.
void read_adaptive(const config::Node& root, PinnSpec& spec) {
  const config::Node samples = root.child_or_empty("samples");
  if (spec.geometry)
    samples.fail("adaptive", "a box domain: adaptive points without geometry or conditions so far");
  if (spec.resample_every > 0)
    samples.fail("adaptive", "resample_every 0: both renew the interior points");
  if (spec.causal)
    samples.fail("adaptive",
                 "no training.causal beside it (its bin means assume points uniform in time)");
  const config::Node node = samples.child("adaptive");
  pinn::AdaptiveOptions adaptive;
  const bool rar = node.choice("method", {"rar", "rad"}) == "rar";
  adaptive.method = rar ? pinn::AdaptiveMethod::rar : pinn::AdaptiveMethod::rad;
  adaptive.every = node.integer("every", adaptive.every, 1);
  adaptive.candidates = node.integer("candidates", adaptive.candidates, 1);
  if (rar) {
    for (const auto& stage : spec.training.trainer.stages)
      if (stage.optimizer == "natural_gradient")
        node.fail("method",
                  "rad: rar grows the interior set, and natural_gradient stages fix their "
                  "residual rows when training starts");
    adaptive.add = node.integer("add", adaptive.add, 1, adaptive.candidates);
  } else {
    adaptive.k = node.number("k", adaptive.k, config::Bounds::at_least(0));
    adaptive.c = node.number("c", adaptive.c, config::Bounds::at_least(0));
  }
  spec.adaptive = adaptive;
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
  if (root.child("training").choice("method", {"stages", "teng"}, "stages") == "teng") {
    spec.teng = pinn::read_teng(root, spec.problem);
    read_model(root, spec, /*time_input=*/false);  // TENG's network: space inputs only
    if (spec.model.architecture == nn::Architecture::modified_mlp)
      root.child("model").fail("architecture",
                               "mlp or siren: TENG's fits need per-point Jacobians, which "
                               "modified_mlp does not give");
    return spec;
  }
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
  read_model(root, spec, /*time_input=*/pde.time_dependent());
  spec.training = nn::read_training(root.child("training"), /*least_squares=*/true);
  // Per-point Jacobians (natural_gradient): every architecture but the modified MLP gives them.
  const auto stages = root.child("training").mappings("stages");
  for (std::size_t i = 0; i < stages.size(); ++i)
    if (spec.training.trainer.stages[i].optimizer == "natural_gradient" &&
        spec.model.architecture == nn::Architecture::modified_mlp)
      stages[i].fail("optimizer",
                     "natural_gradient needs per-point Jacobians, which the mlp and siren "
                     "architectures give (with or without embeddings), not modified_mlp; expected "
                     "adam, adamw, sgd or lbfgs");
  for (std::size_t i = 0; i < stages.size(); ++i)
    if (spec.training.trainer.stages[i].combine.rule != "sum" && loss_terms(spec) < 2)
      stages[i].fail("combine",
                     "sum: this case's loss has one term (the residual; every condition is hard), "
                     "and combining terms needs at least two");
  if (spec.training.batch_size != 0)
    root.child("training").fail("batch_size", "PINN training is full-batch: expected 0");
  if (root.child("training").has("causal")) read_causal(root, spec);
  if (samples.has("adaptive")) read_adaptive(root, spec);
  if (root.choice("formulation", {"eulerian", "lagrangian"}, "eulerian") == "lagrangian") {
    spec.lagrangian = pinn::read_lagrangian(root, spec.problem, spec.training);
    // The two-branch loss (pinn/lagrangian.hpp) has its own terms and points: none of the
    // Eulerian loss's time weights, adaptive points or term-by-term combine rules apply.
    if (spec.causal)
      root.child("training").fail("causal", "no causal weights with formulation: lagrangian");
    if (spec.adaptive) samples.fail("adaptive", "no adaptive points with formulation: lagrangian");
    for (std::size_t i = 0; i < stages.size(); ++i)
      if (spec.training.trainer.stages[i].combine.rule != "sum")
        stages[i].fail("combine", "sum: the only rule of formulation: lagrangian so far");
  }
  return spec;
}

// Network outputs: (u, v, p) for Navier–Stokes, u otherwise.
std::size_t outputs(const PinnSpec& spec) {
  return static_cast<std::size_t>(config::traits(spec.problem.pde.type).unknowns);
}

// The box the network lives on: the grid's box, times [0, t_end] for a time-dependent PDE (but
// TENG's network is a function of space only).
mesh::GridShape network_box(const PinnSpec& spec) {
  mesh::GridShape box = spec.problem.grid;
  if (spec.problem.time && !spec.teng) {
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
    if (m_spec.teng) return run_teng();
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
  // TENG (pinn/teng.hpp): the PETSc reference first, then the network stepped through its
  // snapshot times and compared with it at each; fields as a time-dependent PINN's.
  std::string run_teng() {
    const auto& p = m_spec.problem;
    mesh::StructuredGrid grid(m_ctx.comm, p.grid);
    solvers::SteadyResult reference;
    {
      const ScopedStage timed_stage(Stage::evaluation);
      reference = transient_reference(grid);
    }
    std::vector<pinn::TengSnapshot> snapshots;
    for (const ReferenceState& s : m_reference_series)
      snapshots.push_back({s.index, s.time, s.u, {}, 0.0});
    nlohmann::json metrics = pinn::march(m_ctx, *m_net, *m_spec.teng, p, grid, snapshots);
    const ScopedStage timed_stage(Stage::evaluation);
    for (const pinn::TengSnapshot& s : snapshots) m_snapshot_predictions[s.index] = s.prediction;
    const std::vector<double>& prediction = snapshots.back().prediction;  // at t_end
    report_against_reference(grid, prediction, reference, std::vector<char>(prediction.size(), 1),
                             p.time->t_end, "TENG", metrics);
    (*m_ctx.report)["metrics"] = metrics;
    (*m_ctx.report)["pde"] = config::to_string(p.pde.type);
    if (std::isfinite(metrics["rel_l2"].get<double>())) return "ok";
    m_ctx.message = "TENG: the network's state is not finite";
    return "diverged";
  }

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
    // Causal weights: a new step first updates them from the last evaluation's bin sums (a
    // collective), before any part is evaluated or resampled; each part then uses them. `hooks`:
    // term by term, for the stages with a combine rule (loss_combination.hpp).
    if (m_spec.causal) {
      m_causal.emplace(*m_spec.causal);
      m_bin_sum = std::make_unique<nn::TreeSum>(m_ctx.comm, part_count);
    }
    auto weighted_part = [&, first = first](
                             std::size_t k, long step,
                             const nn::TermHooks* hooks) -> std::vector<nn::LossTerm> {
      if (k == 0 && m_spec.adaptive) adapt(step, parts, first, part_count);
      if (!m_causal) return part_at(k, step)(hooks);
      if (k == 0) update_causal_weights(step, parts);
      pinn::ResidualLoss<T>& part = part_at(k, step);
      part.set_time_weights(m_causal->weights());
      return with_causal_figures(part(hooks), first + static_cast<long>(k) == 0);
    };
    if (!reproducible)
      return train<T>(
          m_ctx, m_net->parameters(), [&](long step) { return weighted_part(0, step, nullptr); },
          training.trainer, {}, least_squares, {},
          [&](long step, const nn::TermHooks& hooks) { return weighted_part(0, step, &hooks); });
    nn::ChunkedLoss loss{
        training.chunks,
        [&, first = first](long step, long chunk) {
          return weighted_part(static_cast<std::size_t>(chunk - first), step, nullptr);
        },
        [&, first = first](long step, long chunk, const nn::TermHooks& hooks) {
          return weighted_part(static_cast<std::size_t>(chunk - first), step, &hooks);
        }};
    return train<T>(m_ctx, m_net->parameters(), std::move(loss), training.trainer, {},
                    least_squares);
  }

  // Causal training: at the first evaluation of each step of the leading first-order stages, the
  // weights from the global bin losses of the evaluation before (one step lagged: same-step
  // weights would need a reduction between the forward and the backward pass); the first step
  // has all weights 1. Later stages (L-BFGS) keep the last weights: a line search needs one fixed
  // objective.
  void update_causal_weights(long step,
                             const std::vector<std::unique_ptr<pinn::ResidualLoss<T>>>& parts) {
    if (step == m_causal_step || step >= leading_first_order_steps()) return;
    const bool first_step = m_causal_step < 0;
    m_causal_step = step;
    if (first_step) return;
    // L_i = (M/N) Σ_{points in bin i} r²: bin i's mean square with the points uniform in time.
    std::vector<double> losses = (*m_bin_sum)([&](long chunk, std::vector<double>& out) {
      out = parts[static_cast<std::size_t>(chunk - m_bin_sum->first())]->bin_sums();
    });
    const double scale = static_cast<double>(m_causal->bins()) / m_spec.interior;
    for (double& loss : losses) loss *= scale;
    const std::size_t level = m_causal->level();
    m_causal->update(losses);
    if (m_causal->level() != level)
      log().info(
          "causal training: step {}, every weight above delta under epsilon {:g}; "
          "epsilon -> {:g} (min weight now {:.4f})",
          step, m_spec.causal->epsilon[level], m_causal->epsilon(), m_causal->min_weight());
  }

  // Adaptive points: at every `every`-th step of the leading first-order stages, fresh candidates
  // (a pure function of the epoch), their squared residuals (this rank's chunks of them, gathered
  // so that every rank holds all), the selection, and this rank's parts rebuilt on the new
  // interior set (boundary and initial points stay). Later stages keep the last set.
  void adapt(long step, std::vector<std::unique_ptr<pinn::ResidualLoss<T>>>& parts, long first,
             long part_count) {
    const pinn::AdaptiveOptions& a = *m_spec.adaptive;
    if (step == 0 || step % a.every != 0 || step >= leading_first_order_steps() ||
        step == m_adapted_step)
      return;
    m_adapted_step = step;
    const mesh::GridShape box = network_box(m_spec);
    const std::size_t dims = static_cast<std::size_t>(box.dim);
    const std::uint64_t stream =
        mix64(m_spec.seed ^ (0xada97ed5a3b1e5ull * static_cast<std::uint64_t>(step / a.every)));
    const std::vector<double> candidates = pinn::interior_points(box, 0, a.candidates, stream);
    const std::vector<double> squares =
        candidate_squares(candidates, box, first, static_cast<long>(parts.size()), part_count);
    auto append_rows = [&](std::vector<double>& out, const std::vector<long>& rows) {
      for (long i : rows)
        out.insert(out.end(), candidates.begin() + i * dims, candidates.begin() + (i + 1) * dims);
    };
    if (a.method == pinn::AdaptiveMethod::rar) {
      append_rows(m_added, pinn::largest_residuals(squares, a.add));
    } else {
      m_redrawn.clear();
      append_rows(m_redrawn, pinn::residual_density_draws(squares, a.k, a.c, m_spec.interior,
                                                          mix64(stream + 1)));
    }
    double largest = 0, mean = 0;
    for (double s : squares) largest = std::max(largest, s), mean += s / squares.size();
    log().info(
        "adaptive points ({}): step {}, {} candidates, mean r² {:.3e}, max {:.3e}; {} "
        "interior points",
        a.method == pinn::AdaptiveMethod::rar ? "rar" : "rad", step, a.candidates, mean, largest,
        interior_total());
    for (std::size_t k = 0; k < parts.size(); ++k)
      parts[k] = loss_on_part(first + static_cast<long>(k), part_count);
  }

  // Σ_q r_q² at every candidate, the same bits on every rank: chunk c of `chunks` evaluated by the
  // rank that owns it (as the loss's chunks), then gathered in chunk order.
  std::vector<double> candidate_squares(const std::vector<double>& candidates,
                                        const mesh::GridShape& box, long first, long count,
                                        long chunks) {
    const std::size_t dims = static_cast<std::size_t>(box.dim);
    const long total = static_cast<long>(candidates.size() / dims);
    std::vector<double> mine;
    for (long c = first; c < first + count; ++c) {
      const auto [from, n] = share(total, c, chunks);
      const pinn::PointSet set{
          {candidates.begin() + from * dims, candidates.begin() + (from + n) * dims}, total};
      pinn::ResidualLoss<T> loss(*m_net, m_spec.problem.pde, box, set, {}, {}, m_spec.weights);
      const std::vector<double> squares = loss.residual_squares();
      mine.insert(mine.end(), squares.begin(), squares.end());
    }
    int size;
    MPI_Comm_size(m_ctx.comm, &size);
    std::vector<int> counts(static_cast<std::size_t>(size)), offsets(counts.size(), 0);
    const int my_count = static_cast<int>(mine.size());
    MPI_Allgather(&my_count, 1, MPI_INT, counts.data(), 1, MPI_INT, m_ctx.comm);
    for (std::size_t r = 1; r < counts.size(); ++r) offsets[r] = offsets[r - 1] + counts[r - 1];
    std::vector<double> all(static_cast<std::size_t>(total));
    MPI_Allgatherv(mine.data(), my_count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(),
                   MPI_DOUBLE, m_ctx.comm);
    return all;
  }

  // The interior set's size: samples.interior, plus the points RAR added.
  long interior_total() const {
    return m_spec.interior +
           static_cast<long>(m_added.size()) / static_cast<long>(network_box(m_spec).dim);
  }

  // Rows [first, first + count) of the interior set: RAD's redrawn set, or the seed's stream
  // followed by the points RAR added.
  std::vector<double> interior_rows(const mesh::GridShape& box, long first, long count,
                                    std::uint64_t seed) const {
    const std::size_t dims = static_cast<std::size_t>(box.dim);
    if (!m_redrawn.empty())
      return {m_redrawn.begin() + first * dims, m_redrawn.begin() + (first + count) * dims};
    const long drawn = std::max(0L, std::min(first + count, m_spec.interior) - first);
    std::vector<double> rows = pinn::interior_points(box, first, drawn, seed);
    const long from = std::max(first, m_spec.interior) - m_spec.interior;
    const long added = count - drawn;
    rows.insert(rows.end(), m_added.begin() + from * dims, m_added.begin() + (from + added) * dims);
    return rows;
  }

  // The current min weight and ε as terms of weight 0 (log and history columns, no loss): chunk
  // 0 carries their values, every other chunk 0, so their global sums are exact.
  std::vector<nn::LossTerm> with_causal_figures(std::vector<nn::LossTerm> terms,
                                                bool carries) const {
    terms.push_back({"causal_min_weight", 0.0, carries ? m_causal->min_weight() : 0.0});
    terms.push_back({"causal_epsilon", 0.0, carries ? m_causal->epsilon() : 0.0});
    return terms;
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
    auto [first, count] = share(interior_total(), part, parts);
    auto [bfirst, bcount] = share(m_spec.boundary, part, parts);
    pinn::PointSet interior{interior_rows(box, first, count, seed), interior_total()};
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
    auto loss = std::make_unique<pinn::ResidualLoss<T>>(
        *m_net, p.pde, box, interior, boundary, initial, m_spec.weights,
        conditions ? &*conditions : nullptr, inverse ? &*inverse : nullptr);
    if (m_spec.causal) loss->set_time_bins(m_spec.causal->bins);
    return loss;
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
      if (c.type == "dirichlet")
        out.soft.push_back({c.name, {sample.x, c.points}, c.value, c.weight});
      else
        out.flux.push_back(
            {c.name, {sample.x, c.points}, sample.normal, c.alpha, c.value, c.weight});
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
  // Neumann or Robin conditions: the domain is the grid's box (read_domain checked), and the
  // reference solves on all its nodes with one condition per face; both are compared on all of
  // them (the Neumann and Robin faces' nodes are unknowns too).
  bool has_flux_conditions() const {
    return std::any_of(m_spec.conditions.begin(), m_spec.conditions.end(),
                       [](const ConditionSpec& c) { return c.type != "dirichlet"; });
  }
  solvers::SteadyResult face_reference(const mesh::StructuredGrid& grid) const {
    const auto& p = m_spec.problem;
    std::array<solvers::FaceCondition, 6> faces{};
    std::array<const ConditionSpec*, 6> owner{};
    for (const ConditionSpec& c : m_spec.conditions)
      for (int k : c.parts) {
        const int f = pinn::box_face(*m_spec.geometry, k, p.grid);
        using Type = solvers::FaceCondition::Type;
        faces[f] = {c.type == "robin"     ? Type::robin
                    : c.type == "neumann" ? Type::neumann
                                          : Type::dirichlet,
                    c.alpha};
        owner[f] = &c;
      }
    return solvers::solve_poisson_faces(
        grid, faces, pde::evaluate(grid, *p.pde.source),
        [&](int f, double x, double y, double z) { return owner[f]->value(x, y, z, 0.0); },
        p.solver);
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
    } else if (has_flux_conditions()) {
      reference = face_reference(grid);
    } else if (m_spec.geometry) {
      reference = masked_reference(grid);
    } else {
      reference = solvers::solve_elliptic(grid, p.pde, p.solver);
    }
    // On a geometry only the domain's nodes count; the others are NaN in the fields.
    const std::vector<double> prediction = predict(grid, t_end)[0];
    const std::vector<char> mask = m_spec.geometry && !has_flux_conditions()
                                       ? in_domain(grid)
                                       : std::vector<char>(prediction.size(), 1);
    report_against_reference(grid, prediction, reference, mask, t_end, "PINN", metrics);
  }

  // The network's field against the PETSc reference at time t on the nodes where `mask` is set
  // (NaN elsewhere in the fields): rel_l2 and max_abs (and both against the exact solution when
  // the case has one) into `metrics`, the fields pinn / reference / error (/ exact), the
  // baseline's solve statistics into the report.
  void report_against_reference(const mesh::StructuredGrid& grid, std::vector<double> prediction,
                                const solvers::SteadyResult& reference,
                                const std::vector<char>& mask, double t, const char* method,
                                nlohmann::json& metrics) {
    const auto& p = m_spec.problem;
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
      std::vector<double> exact = pde::evaluate(grid, *p.pde.exact, t);
      metrics["rel_l2_exact"] = norms(prediction, exact).rel_l2;
      metrics["reference_rel_l2_exact"] = norms(reference.u, exact).rel_l2;
      fields.emplace_back("exact", std::move(exact));
    }
    log().info(
        "{} vs PETSc reference{}: rel_l2 {:.3e}{}", method,
        p.time ? fmt::format(" at t = {}", t) : "", vs_reference.rel_l2,
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
        const std::vector<double> prediction = m_snapshot_predictions.count(state.index)
                                                   ? m_snapshot_predictions.at(state.index)
                                                   : predict(grid, state.time)[0];
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
  std::map<long, std::vector<double>> m_snapshot_predictions;  // TENG: the network at each one
  std::optional<pinn::HardDirichlet> m_hard;
  std::optional<solvers::SteadyResult> m_reference;          // the PETSc solve, when needed early
  std::vector<double> m_observed_points, m_observed_values;  // inverse: (x, y, t) and u
  std::optional<pinn::CausalSchedule> m_causal;              // training.causal
  std::unique_ptr<nn::TreeSum> m_bin_sum;  // causal: the parts' bin sums, rank-count independent
  long m_causal_step = -1;                 // causal: the step of the current weights
  std::vector<double> m_added;    // samples.adaptive rar: [added, dims] points joining the stream's
  std::vector<double> m_redrawn;  // samples.adaptive rad: [interior, dims] the redrawn set
  long m_adapted_step = -1;       // samples.adaptive: the step of the last adaptation
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
    if (m_spec.teng)
      return fmt::format(
          "kind pinn, pde {}, TENG ({}, {} steps of {}), MLP {}-{} {}, {} points, {}",
          config::to_string(m_spec.problem.pde.type), m_spec.teng->stage, m_spec.teng->steps,
          m_spec.teng->dt, widths, outputs(m_spec), nn::to_string(m_spec.model.activation),
          m_spec.teng->points, m_precision);
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
