// kind: dcdm, the Deep Conjugate Direction Method as a case (issue 19, item 4). The direction
// map (dcdm_network.hpp: model.type fno, or cnn, the multilevel CNN of cnn.hpp) is trained on Ritz
// training vectors of the obstacle Poisson matrix at training.size (or loaded from a kind-dcdm
// checkpoint.h5: model.file), then every test size is solved with -ksp_type dcdm (the network as
// its PC) beside PETSc's CG with none, icc (IC(0)), MIC(0) (the karman PC with the modified
// factor), gamg and hypre, at every rtol: iterations and set-up / solve / total seconds (best of
// test.repeats) in report.json's `results` and the log's table. `dcdm_identity` is -ksp_type dcdm
// with -pc_type none: CG in exact arithmetic, the sanity row (its count equals `none`'s up to
// round-off). With baselines.learned_factor (a kind-precond checkpoint.h5) the learned factor
// (-pc_type karman with that GNN) joins them as `learned`. With problem.coefficient the matrix is
// −∇·(κ∇p), κ a random field (coefficient.hpp) drawn anew for every grid.
//
// Training is the existing Adam loop of DcdmNetwork::train_step (batches of the Ritz vectors in
// turn, constant lr) rather than nn::Trainer: the loss is the DCDM loss on a grid's vectors, not a
// Trainer objective, and the checkpoint of the weights (below) is what a later case reuses.
// On p ranks (dcdm_parallel.hpp): every rank trains (or loads) the same network, the matrix is
// split by rows, every solver runs on all ranks (icc as block Jacobi + IC(0), MIC(0) per block),
// and DCDM's direction map gathers r to rank 0, whose network is applied to the whole grid.

#include <fmt/format.h>
#include <petscksp.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/core/log.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"
#include "karman/nn/checkpoint.hpp"
#include "karman/run/method.hpp"
#include "operators/precond/coefficient.hpp"
#include "operators/precond/dcdm_network.hpp"
#include "operators/precond/dcdm_parallel.hpp"
#include "operators/precond/dcdm_scaling.hpp"
#include "operators/precond/gnn.hpp"
#include "operators/precond/petsc_factor.hpp"
#include "operators/precond/runner.hpp"
#include "operators/precond/storage.hpp"
#include "operators/precond/timed_solve.hpp"
#include "operators/precond/training.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"

namespace karman::precond {
namespace {

using run::Method;
using run::RunContext;

// The first coefficient draw of the test grids: far from the training grids' 0, 1, ...
constexpr std::uint64_t kTestDraw = 1000;

struct DcdmSpec {
  int dim = 2;                 // problem.dim: 2 or 3 (the CNN only)
  std::int64_t obstacles = 6;  // problem.obstacles: shapes (obstacles_2d, obstacles_3d)
  std::uint64_t obstacle_seed = 4;
  // problem.coefficient (2D): −∇·(κ∇p) with κ a random field (coefficient.hpp), a draw of its
  // own for every grid: training grid g is draw g, test size k is draw kTestDraw + k (held out).
  CoefficientSpec coefficient;
  long train_size = 32;  // training.size: cells per side of the training grid
  // training.sizes: several training grids in one training (Adam steps taken on them in turn,
  // so the shared coarse weights serve every depth); [train_size] when absent.
  std::vector<long> train_sizes{32};
  long ritz_steps = 200, vectors = 512, batch = 8, steps = 400;
  double lr = 3e-3;
  std::string model_type = "fno";  // model.type: fno or cnn
  fno::FnoSpec network;            // model.type fno
  CnnSpec cnn;                     // model.type cnn
  std::string model_file;          // model.file: a kind-dcdm checkpoint.h5 instead of training
  // model.scaling jacobi: the map trained on and applied to D^(−1/2) A D^(−1/2) (dcdm_scaling.hpp)
  bool jacobi = false;
  std::vector<long> test_sizes{32, 64};
  std::vector<double> rtols{1e-4, 1e-8};
  long max_iterations = 1000;  // DCDM's limit (each iteration is an FNO forward); CG's is 10000
  int repeats = 3;
  // baselines.learned_factor: a kind-precond checkpoint.h5 whose GNN factor (-pc_type karman)
  // joins the table as `learned`; absent: no learned-factor row.
  std::string learned_factor;
};

std::vector<long> grid_sizes(const config::Node& node, const std::string& key) {
  std::vector<long> out;
  for (double v : node.number_list(key, 1)) {
    if (v != std::floor(v) || v < 8.0 || v > 4096.0)
      node.fail(key, "a list of integers n with 8 <= n <= 4096");
    out.push_back(static_cast<long>(v));
  }
  return out;
}

// model.type fno: the FNO needs 2·modes points per dimension (with padding) on every grid.
void read_fno_model(const config::Node& model, const std::vector<long>& grids, fno::FnoSpec& s) {
  const long modes = model.integer("modes", 16, 1, 512);
  s.modes = {modes, modes};
  s.width = model.integer("width", 16, 1, 1024);
  s.layers = model.integer("layers", 3, 1, 32);
  s.projection = model.integer("projection", 32, 1, 4096);
  const long padding = model.integer("padding", 0, 0, 1024);
  s.padding = {padding, padding};
  s.seed = static_cast<std::uint64_t>(model.integer("seed", 5, 0));
  const long smallest = *std::min_element(grids.begin(), grids.end());
  if (smallest + padding < 2 * modes)
    model.fail("modes", fmt::format("at most {} ((n + model.padding) / 2 for the smallest grid, "
                                    "n = {})",
                                    (smallest + padding) / 2, smallest));
}

// model.type cnn (any grid size: the V-cycle's depth follows it).
void read_cnn(const config::Node& model, CnnSpec& s) {
  s.width = model.integer("width", 16, 1, 1024);
  s.levels = model.integer("levels", 3, 1, 12);
  s.blocks = model.integer("blocks", 2, 0, 32);
  s.coarsest = model.integer("coarsest", 4, 1, 4096);
  s.activation = nn::activation_from_name(
      model.choice("activation", {"identity", "gelu", "relu", "tanh"}, "identity"));
  s.mask_features = model.choice("mask", {"channel", "multiply"}, "channel") == "multiply";
  s.symmetric = model.flag("symmetric", false);
  if (s.symmetric && s.activation != nn::Activation::identity)
    model.fail("activation", "identity with model.symmetric (a symmetric map is linear)");
  if (s.symmetric && s.mask_features)
    model.fail("mask", "channel with model.symmetric (the mask only selects the fluid cells)");
  s.seed = static_cast<std::uint64_t>(model.integer("seed", 5, 0));
}

DcdmSpec read_dcdm(const config::Node& root) {
  DcdmSpec spec;
  const config::Node problem = root.child_or_empty("problem");
  spec.dim = static_cast<int>(problem.integer("dim", 2, 2, 3));
  spec.obstacles = problem.integer("obstacles", 6, 0, 64);
  spec.obstacle_seed = static_cast<std::uint64_t>(problem.integer("seed", 4, 0));
  if (problem.has("coefficient")) {
    if (spec.dim != 2) problem.fail("coefficient", "absent for problem.dim 3 (κ is a 2D field)");
    spec.coefficient = read_random_coefficient(problem.child("coefficient"));
  }
  const config::Node training = root.child_or_empty("training");
  spec.train_size = training.integer("size", 32, 8, 1024);
  if (training.has("sizes")) {
    if (training.has("size")) training.fail("sizes", "either training.size or training.sizes");
    spec.train_sizes = grid_sizes(training, "sizes");
    for (long n : spec.train_sizes)
      if (n > 1024) training.fail("sizes", "training grids of at most 1024 cells per side");
    spec.train_size = *std::max_element(spec.train_sizes.begin(), spec.train_sizes.end());
  } else {
    spec.train_sizes = {spec.train_size};
  }
  spec.ritz_steps = training.integer("ritz_steps", 200, 2, 100000);
  spec.vectors = training.integer("vectors", 512, 1, 1000000);
  spec.batch = training.integer("batch", 8, 1, 4096);
  if (spec.batch > spec.vectors) training.fail("batch", "at most training.vectors");
  spec.steps = training.integer("steps", 400, 0, 10000000);
  spec.lr = training.number("lr", 3e-3, config::Bounds::positive());
  const config::Node model = root.child_or_empty("model");
  spec.model_type = model.choice("type", {"fno", "cnn"}, "fno");
  spec.model_file = model.str("file", "");
  spec.jacobi = model.choice("scaling", {"none", "jacobi"}, "none") == "jacobi";
  const config::Node test = root.child_or_empty("test");
  if (test.has("sizes")) spec.test_sizes = grid_sizes(test, "sizes");
  if (test.has("rtols")) {
    spec.rtols = test.number_list("rtols", 1);
    for (double rtol : spec.rtols)
      if (!(rtol > 0.0 && rtol < 1.0)) test.fail("rtols", "a list of tolerances in (0, 1)");
  }
  // Every grid the FNO sees (the training grid unless model.file) must fit its modes: refused
  // here, not mid-solve.
  std::vector<long> grids = spec.test_sizes;
  if (spec.model_file.empty())
    grids.insert(grids.end(), spec.train_sizes.begin(), spec.train_sizes.end());
  if (spec.model_type == "cnn") {
    read_cnn(model, spec.cnn);
    spec.cnn.dims = spec.dim;
    // The shared level's weights (levels − 1 on) must be trained at more than one depth: at the
    // coarsest only, its up-path convolutions would never be (train_size: the deepest grid).
    const long depth = static_cast<long>(
        cnn_level_shapes(std::vector<long>(spec.dim, spec.train_size), spec.cnn.coarsest).size());
    if (spec.model_file.empty() && spec.cnn.levels >= depth)
      model.fail("levels", fmt::format("at most {} (the V-cycle depth of the training grid, {}, "
                                       "minus 1)",
                                       depth - 1, depth));
  } else {
    if (spec.dim != 2) model.fail("type", "cnn for problem.dim 3 (the FNO direction map is 2D)");
    read_fno_model(model, grids, spec.network);
  }
  spec.learned_factor = root.child_or_empty("baselines").str("learned_factor", "");
  spec.max_iterations = test.integer("max_iterations", 1000, 1, 1000000);
  spec.repeats = static_cast<int>(test.integer("repeats", 3, 1, 100));
  return spec;
}

// baselines.learned_factor: the GNN of a kind-precond checkpoint.h5 with the options it was
// trained with (stored beside its weights; absent ones are the defaults of the checkpoints written
// before they were stored). A missing, corrupt or foreign file is one error line naming it.
std::unique_ptr<FactorGnn> load_learned_factor(MPI_Comm comm, const std::string& file) {
  const nn::Checkpoint c = nn::load_checkpoint(comm, file);
  const auto text = [&](const std::string& key, const std::string& absent) {
    const auto it = c.strings.find(key);
    return it == c.strings.end() ? absent : it->second;
  };
  const auto scalar = [&](const std::string& key, double absent) {
    const auto it = c.scalars.find(key);
    return it == c.scalars.end() ? absent : it->second;
  };
  const Place place{file, 0, 0};
  if (text("kind", "(absent)") != "precond")
    throw ConfigError(place,
                      "baselines.learned_factor: not a kind-precond checkpoint (its kind is '" +
                          text("kind", "(absent)") + "')");
  if (text("factor", "cholesky") != "cholesky")
    throw ConfigError(place, "baselines.learned_factor: a " + text("factor", "") +
                                 " factor; only cholesky factors (L Lᵀ) are compared here");
  if (!c.scalars.count("model_width") || !c.scalars.count("model_layers"))
    throw ConfigError(place, "baselines.learned_factor: the checkpoint has no model_width/layers");
  FactorGnnOptions options;
  options.width = static_cast<std::size_t>(scalar("model_width", 16));
  options.layers = static_cast<std::size_t>(scalar("model_layers", 3));
  options.reference =
      text("model_reference", "ic0") == "mic0" ? ReferenceFactor::mic0 : ReferenceFactor::ic0;
  options.correction = text("correction", "multiplicative") == "relaxation"
                           ? Correction::relaxation
                           : Correction::multiplicative;
  options.correction_bound = scalar("correction_bound", options.correction_bound);
  options.diagonal_only = scalar("diagonal_only", 0.0) != 0.0;
  options.relaxation_bound = scalar("relaxation_bound", options.relaxation_bound);
  options.shift_bound = scalar("shift_bound", options.shift_bound);
  auto gnn = std::make_unique<FactorGnn>(options, 0);
  nn::restore_parameters(c, gnn->parameters(), file);
  log().info("learned factor loaded from {} (trained on {}; {} parameters)", file,
             text("problem", "(unknown)"), gnn->parameters().size());
  return gnn;
}

class DcdmRun {
 public:
  DcdmRun(const DcdmSpec& spec, RunContext& ctx)
      : m_spec(spec), m_ctx(ctx), m_network(make_network(spec)) {}

  std::string run() {
    nlohmann::json& report = *m_ctx.report;
    if (!m_spec.learned_factor.empty()) {
      const ScopedStage stage(Stage::data);
      m_learned_factor = load_learned_factor(m_ctx.comm, m_spec.learned_factor);
    }
    nlohmann::json metrics = m_spec.model_file.empty() ? train() : load();
    metrics["params"] = m_network->parameters().size();
    StagePhases phase(Stage::evaluation);
    log().info("{:>6} {:>9} {:>6} {:>14} {:>6} {:>10} {:>10} {:>10}", "n", "rows", "rtol", "solver",
               "iters", "setup_s", "solve_s", "total_s");
    nlohmann::json results = nlohmann::json::array();
    std::vector<std::string> not_converged;
    for (std::size_t k = 0; k < m_spec.test_sizes.size(); ++k) {
      const long n = m_spec.test_sizes[k];
      const ObstacleGrid grid = make_grid(n, kTestDraw + k);
      const ObstacleGrid scaled = m_spec.jacobi ? jacobi_scaled(grid) : ObstacleGrid{};
      const ObstacleGrid& seen = m_spec.jacobi ? scaled : grid;  // the network's problem
      const nlohmann::json held_out_loss = test_size_held_out_loss(seen);
      petsc::Mat a;  // split by rows over the ranks (dcdm_parallel.hpp)
      create_distributed_aij(m_ctx.comm, grid.a, a.out());
      for (double rtol : m_spec.rtols) {
        nlohmann::json solvers = solve_all(a, seen, rtol);
        if (solvers["dcdm"]["iterations"].get<long>() < 0)
          not_converged.push_back(fmt::format("{}^{} at rtol {:g}", n, m_spec.dim, rtol));
        results.push_back({{"n", n},
                           {"dim", m_spec.dim},
                           {"rows", grid.a.rows},
                           {"rtol", rtol},
                           {"held_out_loss", held_out_loss},
                           {"solvers", std::move(solvers)}});
      }
    }
    phase.leave();
    const nlohmann::json& last = results.back();
    metrics["dcdm_iterations"] = last["solvers"]["dcdm"]["iterations"];
    metrics["dcdm_total_s"] = last["solvers"]["dcdm"]["total_s"];
    metrics["dcdm_not_converged"] = not_converged;
    report["metrics"] = metrics;
    // The run-directory contract's `baseline`: the fastest accurate classical solver family the
    // issue names, CG + GAMG, on the last size and rtol.
    report["baseline"] = {
        {"solver", "cg"},
        {"pc", "gamg"},
        {"options", fmt::format("-ksp_type cg -pc_type gamg -ksp_norm_type unpreconditioned "
                                "-ksp_rtol {:g}",
                                last["rtol"].get<double>())},
        {"iterations", last["solvers"]["gamg"]["iterations"]},
        {"wall_s", last["solvers"]["gamg"]["total_s"]}};
    report["results"] = results;
    phase.enter(Stage::io);
    write_checkpoint();
    phase.leave();
    // DCDM failing at a size it was not trained for is a measured result, not a broken run.
    if (!not_converged.empty())
      log().info("DCDM did not converge within {} iterations at {}", m_spec.max_iterations,
                 fmt::join(not_converged, ", "));
    return "ok";
  }

 private:
  static std::unique_ptr<DcdmNetwork> make_network(const DcdmSpec& spec) {
    if (spec.model_type == "cnn") return std::make_unique<DcdmNetwork>(spec.cnn);
    return std::make_unique<DcdmNetwork>(spec.network);
  }

  // The problem on an n^dim grid; `draw` picks the coefficient's draw (problem.coefficient).
  ObstacleGrid make_grid(long n, std::uint64_t draw) const {
    if (m_spec.dim == 3)
      return obstacle_poisson_3d(n, obstacles_3d(n, m_spec.obstacles, m_spec.obstacle_seed));
    std::vector<char> solid = obstacles_2d(n, m_spec.obstacles, m_spec.obstacle_seed);
    if (!m_spec.coefficient.random) return obstacle_poisson_2d(n, solid);
    const std::vector<double> kappa = random_kappa_nodes(m_spec.coefficient, n, draw);
    const auto [low, high] = std::minmax_element(kappa.begin(), kappa.end());
    log().info("{}^2, coefficient draw {}: kappa in [{:.3g}, {:.3g}] (contrast {:.3g})", n, draw,
               *low, *high, *high / *low);
    return obstacle_diffusion_2d(n, solid, kappa);
  }

  // The held-out loss at a test size, a diagnostic: its fully reorthogonalised Lanczos costs
  // O(ritz_steps² · rows) (minutes at 512²), so it is skipped (null) above kHeldOutMaxRows.
  nlohmann::json test_size_held_out_loss(const ObstacleGrid& grid) const {
    constexpr std::int64_t kHeldOutMaxRows = 70000;  // 256² and 32³ in, 512² and 64³ out
    if (grid.a.rows > kHeldOutMaxRows) {
      log().info("held-out DCDM loss at {}^{}: skipped (Lanczos on {} > {} rows)", grid.n,
                 m_spec.dim, grid.a.rows, kHeldOutMaxRows);
      return nullptr;
    }
    const double loss = m_network->mean_loss(grid, ritz_sets(grid).held_out);
    log().info("held-out DCDM loss at {}^{}: {:.4e}", grid.n, m_spec.dim, loss);
    return loss;
  }

  // The training vectors of one grid and a held-out set (Ritz vectors from another seed).
  struct RitzSets {
    std::vector<std::vector<double>> training, held_out;
  };
  RitzSets ritz_sets(const ObstacleGrid& grid) const {
    const RitzPairs ritz =
        lanczos_ritz_pairs(grid.a, std::min<std::int64_t>(m_spec.ritz_steps, grid.a.rows), 1);
    return {ritz_training_vectors(ritz, m_spec.vectors, 0, 9.0, 2),
            ritz_training_vectors(ritz, 32, 0, 9.0, 3)};
  }

  // Ritz vectors of every training grid, then Adam on the DCDM loss over batches taken in turn,
  // the grids in turn (step k trains on training.sizes[k mod sizes]).
  nlohmann::json train() {
    StagePhases phase(Stage::data);
    Timer timer;
    std::vector<ObstacleGrid> grids;
    std::vector<RitzSets> sets;
    for (long n : m_spec.train_sizes) {
      const ObstacleGrid grid = make_grid(n, grids.size());
      grids.push_back(m_spec.jacobi ? jacobi_scaled(grid) : grid);  // the network's problem
      sets.push_back(ritz_sets(grids.back()));
      log().info("training grid {}^{} ({} fluid cells): {} training vectors", n, m_spec.dim,
                 grids.back().a.rows, sets.back().training.size());
    }
    const double ritz_s = timer.seconds();
    log().info("Ritz training vectors in {:.2f} s", ritz_s);
    phase.enter(Stage::training);
    nn::OptimizerOptions adam;
    auto optimizer = nn::make_optimizer<double>(adam, m_network->parameters());
    auto held_out_losses = [&] {
      std::vector<double> losses;
      for (std::size_t g = 0; g < grids.size(); ++g)
        losses.push_back(m_network->mean_loss(grids[g], sets[g].held_out));
      return losses;
    };
    const std::vector<double> loss_before = held_out_losses();
    const std::size_t batch = static_cast<std::size_t>(m_spec.batch);
    const std::size_t log_every = std::max<long>(1, m_spec.steps / 10);
    for (long step = 0; step < m_spec.steps; ++step) {
      // Grids in turn, and each grid's batches in turn; the last one of a pass wraps to the start.
      const std::size_t g = static_cast<std::size_t>(step) % grids.size();
      const std::size_t pass = static_cast<std::size_t>(step) / grids.size();
      const auto& vectors = sets[g].training;
      std::vector<std::vector<double>> chunk;
      for (std::size_t k = 0; k < batch; ++k)
        chunk.push_back(vectors[(pass * batch + k) % vectors.size()]);
      const double loss = m_network->train_step(grids[g], chunk, *optimizer, m_spec.lr);
      if (!std::isfinite(loss))
        throw ConfigError(
            fmt::format("{}: the DCDM loss is not finite at step {} (lower "
                        "training.lr)",
                        m_ctx.case_file, step));
      if ((step + 1) % log_every == 0)
        log().info("step {}/{}: batch loss {:.4e} ({}^{})", step + 1, m_spec.steps, loss,
                   m_spec.train_sizes[g], m_spec.dim);
    }
    const std::vector<double> loss_after = held_out_losses();
    const double train_s = timer.seconds();
    for (std::size_t g = 0; g < grids.size(); ++g)
      log().info("held-out loss at {}^{}: {:.4e} -> {:.4e}", m_spec.train_sizes[g], m_spec.dim,
                 loss_before[g], loss_after[g]);
    log().info("trained {} steps in {:.2f} s; {} parameters", m_spec.steps, train_s,
               m_network->parameters().size());
    const std::size_t largest = static_cast<std::size_t>(
        std::max_element(m_spec.train_sizes.begin(), m_spec.train_sizes.end()) -
        m_spec.train_sizes.begin());
    return {{"train_size", m_spec.train_size},
            {"train_sizes", m_spec.train_sizes},
            {"train_rows", grids[largest].a.rows},
            {"ritz_s", ritz_s},
            {"train_wall_s", train_s},
            {"initial_loss", loss_before[largest]},
            {"train_loss", loss_after[largest]},
            {"train_losses", loss_after}};
  }

  const char* scaling_name() const { return m_spec.jacobi ? "jacobi" : "none"; }

  // The network's shape as the checkpoint stores it: a model.file must match every one.
  std::vector<std::pair<std::string, double>> architecture() const {
    if (m_spec.model_type == "cnn") {
      const CnnSpec& s = m_spec.cnn;
      return {{"model_dims", static_cast<double>(s.dims)},
              {"model_width", static_cast<double>(s.width)},
              {"model_levels", static_cast<double>(s.levels)},
              {"model_blocks", static_cast<double>(s.blocks)},
              {"model_coarsest", static_cast<double>(s.coarsest)},
              {"model_activation", static_cast<double>(s.activation)},
              {"model_mask_features", s.mask_features ? 1.0 : 0.0},
              {"model_symmetric", s.symmetric ? 1.0 : 0.0}};
    }
    const fno::FnoSpec& s = m_spec.network;
    return {{"model_modes", static_cast<double>(s.modes[0])},
            {"model_width", static_cast<double>(s.width)},
            {"model_layers", static_cast<double>(s.layers)},
            {"model_projection", static_cast<double>(s.projection)},
            {"model_padding", static_cast<double>(s.padding[0])}};
  }

  // model.file: the weights of a kind-dcdm checkpoint.h5 of this architecture (a missing, corrupt
  // or mismatched file is one error line naming it).
  nlohmann::json load() {
    const ScopedStage stage(Stage::data);
    const std::string& file = m_spec.model_file;
    const nn::Checkpoint c = nn::load_checkpoint(m_ctx.comm, file);
    const auto kind = c.strings.find("kind");
    if (kind == c.strings.end() || kind->second != "dcdm")
      throw ConfigError(Place{file, 0, 0},
                        "model.file: not a kind-dcdm checkpoint (its kind is '" +
                            (kind == c.strings.end() ? std::string("(absent)") : kind->second) +
                            "')");
    // Checkpoints written before model.type are FNOs.
    const auto type = c.strings.find("model_type");
    const std::string stored = type == c.strings.end() ? "fno" : type->second;
    if (stored != m_spec.model_type)
      throw ConfigError(Place{file, 0, 0},
                        fmt::format("model.file: the network is a {}, the case has model.type {}",
                                    stored, m_spec.model_type));
    // Checkpoints written before model.scaling were trained on A itself.
    const auto scaling = c.strings.find("model_scaling");
    const std::string stored_scaling = scaling == c.strings.end() ? "none" : scaling->second;
    if (stored_scaling != scaling_name())
      throw ConfigError(Place{file, 0, 0},
                        fmt::format("model.file: the network was trained with scaling {}, the "
                                    "case has model.scaling {}",
                                    stored_scaling, scaling_name()));
    for (const auto& [key, expected] : architecture()) {
      const auto it = c.scalars.find(key);
      // Checkpoints written before model.symmetric are not symmetric.
      if (it == c.scalars.end() && key == "model_symmetric" && expected == 0.0) continue;
      if (it == c.scalars.end())
        throw ConfigError(Place{file, 0, 0}, "model.file: the checkpoint has no " + key);
      if (it->second != expected)
        throw ConfigError(Place{file, 0, 0},
                          fmt::format("model.file: the network has {} {}, the case has model.{} {}",
                                      key, it->second, key.substr(6), expected));
    }
    nn::restore_parameters(c, m_network->parameters(), file);
    auto values =
        Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_network->parameters().values());
    for (std::size_t i = 0; i < values.extent(0); ++i)
      if (!std::isfinite(values(i)))
        throw ConfigError(Place{file, 0, 0}, "model.file: a parameter is not finite");
    log().info("network loaded from {} ({} parameters): training skipped", file,
               m_network->parameters().size());
    return {{"train_wall_s", 0.0}, {"model_file", file}};
  }

  // Every solver on one matrix at one rtol; a row of the log's table each. grid: the network's
  // problem (A's grid, or its Jacobi scaling under model.scaling jacobi).
  nlohmann::json solve_all(Mat a, const ObstacleGrid& grid, double rtol) {
    const long cg_max = 10000;
    const int repeats = m_spec.repeats;
    std::vector<std::pair<std::string, std::function<TimedSolve()>>> solvers = {
        {"none", [&] { return timed_solve(a, KSPCG, rtol, cg_max, repeats, pc_of_type(PCNONE)); }},
        {"icc", [&] { return timed_solve(a, KSPCG, rtol, cg_max, repeats, block_icc_pc); }},
        {"mic0", [&] { return timed_solve(a, KSPCG, rtol, cg_max, repeats, block_mic0_pc); }},
        {"gamg", [&] { return timed_solve(a, KSPCG, rtol, cg_max, repeats, pc_of_type(PCGAMG)); }},
        {"hypre",
         [&] { return timed_solve(a, KSPCG, rtol, cg_max, repeats, pc_of_type(PCHYPRE)); }},
        {"dcdm_identity",
         [&] { return timed_solve(a, "dcdm", rtol, cg_max, repeats, pc_of_type(PCNONE)); }},
        {"dcdm", [&] {
           return timed_solve(a, "dcdm", rtol, m_spec.max_iterations, repeats,
                              [&](PC pc) { network_pc(pc, grid); });
         }}};
    // The learned factor (the karman PC: block Jacobi of per-rank factors on several ranks),
    // beside the classical ones, when baselines.learned_factor gives one.
    if (m_learned_factor)
      solvers.insert(solvers.begin() + 3, {"learned", [&] {
                                             return timed_solve(a, KSPCG, rtol, cg_max, repeats,
                                                                [&](PC pc) { learned_pc(pc); });
                                           }});
    nlohmann::json out;
    for (const auto& [name, solve] : solvers) {
      const ScopedStage stage(name == "dcdm" ? Stage::evaluation : Stage::baseline);
      const TimedSolve t = solve();
      log().info("{:>6} {:>9} {:>6.0e} {:>14} {:>6} {:>10.4f} {:>10.4f} {:>10.4f}", grid.n,
                 grid.a.rows, rtol, name, t.iterations, t.setup_s, t.solve_s,
                 t.setup_s + t.solve_s);
      out[name] = t.json();
    }
    return out;
  }

  void network_pc(PC pc, const ObstacleGrid& grid) {
    if (m_spec.jacobi) return set_jacobi_network_pc(pc, m_network.get(), grid);
    set_gathered_network_pc(pc, m_network.get(), grid);
  }

  void learned_pc(PC pc) {
    KARMAN_PETSC(PCSetType(pc, "karman"));
    pc_karman_set_factor_provider(pc, gnn_factor_provider(*m_learned_factor));
  }

  void write_checkpoint() {
    nn::Checkpoint checkpoint;
    nn::store_parameters(checkpoint, m_network->parameters());
    checkpoint.strings["kind"] = "dcdm";
    checkpoint.strings["model_type"] = m_spec.model_type;
    checkpoint.strings["model_scaling"] = scaling_name();
    checkpoint.strings["config"] = m_ctx.resolved_yaml;
    for (const auto& [key, value] : architecture()) checkpoint.scalars[key] = value;
    nn::save_checkpoint(m_ctx.comm, m_ctx.dir->staged("checkpoint.h5"), checkpoint);
  }

  const DcdmSpec& m_spec;
  RunContext& m_ctx;
  std::unique_ptr<DcdmNetwork> m_network;
  std::unique_ptr<FactorGnn> m_learned_factor;  // baselines.learned_factor, or null
};

class DcdmMethod : public Method {
 public:
  // float64 only (PETSc's scalar type; the FNO runs in it too).
  void read(const config::Node& root, const std::string&) override { m_spec = read_dcdm(root); }
  std::string summary() const override {
    const std::string model = m_spec.model_file.empty()
                                  ? fmt::format("trained {} steps at {}^{}", m_spec.steps,
                                                fmt::join(m_spec.train_sizes, ", "), m_spec.dim)
                                  : "loaded from " + m_spec.model_file;
    const std::string network =
        m_spec.model_type == "cnn"
            ? fmt::format("CNN width {} x {} levels x {} blocks", m_spec.cnn.width,
                          m_spec.cnn.levels, m_spec.cnn.blocks)
            : fmt::format("FNO {} modes width {} x {} layers", m_spec.network.modes[0],
                          m_spec.network.width, m_spec.network.layers);
    const CoefficientSpec& c = m_spec.coefficient;
    const std::string problem =
        !c.random ? "Poisson"
                  : fmt::format("diffusion, {} GRF kappa (seed {})", c.map, c.field.seed);
    return fmt::format(
        "kind dcdm, {}D obstacle {} ({} shapes, seed {}), {} {}, test n [{}] at rtol [{}]",
        m_spec.dim, problem, m_spec.obstacles, m_spec.obstacle_seed, network, model,
        fmt::join(m_spec.test_sizes, ", "), fmt::join(m_spec.rtols, ", "));
  }
  std::string run(RunContext& ctx) override { return DcdmRun(m_spec, ctx).run(); }

 private:
  DcdmSpec m_spec;
};

}  // namespace

std::unique_ptr<Method> make_dcdm_method() { return std::make_unique<DcdmMethod>(); }

}  // namespace karman::precond
