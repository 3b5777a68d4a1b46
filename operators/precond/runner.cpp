// kind: precond — a learned CG preconditioner (issue 6). A GNN predicts the values of a sparse
// factor L on tril(A) (M = L Lᵀ) from the matrix graph; it is trained on small matrices (pairs
// from PETSc reference solves), selected by validation CG iterations, then applied through
// -pc_type karman on larger held-out matrices and timed against PETSc's none, jacobi, icc, gamg
// and hypre (BoomerAMG) in the same CG (unpreconditioned norm, rtol 1e-8, x0 = 0). With
// model.factor fsai the GNN predicts a sparse approximate inverse factor G instead (M⁻¹ = Gᵀ G,
// -pc_karman_type fsai), and the classical FSAI joins the baselines as `fsai`.
//
// Storage (operators/precond/storage.hpp): the training pairs are written to data.file (or the
// run folder's pairs.h5) and read back by a later run with the same settings instead of solving
// again; model.load takes a trained GNN from a kind-precond checkpoint.h5 instead of training;
// test.matrices adds a user's SPD matrices (HDF5 CSR) to the held-out test set. Every file is
// checked on reading, before the run writes anything: a defect is one error line naming the file.

#include "operators/precond/runner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "karman/core/collective.hpp"
#include "karman/core/error.hpp"
#include "karman/core/log.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"
#include "karman/nn/checkpoint.hpp"
#include "karman/pde/random_field.hpp"
#include "karman/run/method.hpp"
#include "operators/precond/coefficient.hpp"
#include "operators/precond/schwarz.hpp"
#include "operators/precond/storage.hpp"
#include "operators/precond/training.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"

namespace karman::precond {
namespace {

using run::Method;
using run::RunContext;

// PETSc's own preconditioners the learned factor is compared with, in report order.
const std::vector<std::string> kBaselinePcs = {"none", "jacobi", "icc", "gamg", "hypre"};

struct PrecondSpec {
  std::string problem = "poisson2d";
  precond::CoefficientSpec coefficient;
  std::vector<long> train_sizes{12, 16}, test_sizes{32, 64};
  long train_rhs = 16, validation_size = 20;
  std::vector<std::string> test_files;  // test.matrices: HDF5 CSR files (storage.hpp)
  precond::FactorGnnOptions model;
  std::uint64_t model_seed = 7;
  std::string model_file;  // model.load: a kind-precond checkpoint.h5 instead of training
  std::string data_file;   // data.file: the training pairs, read if present, else written there
  precond::TrainingOptions training;
  precond::ParallelPc parallel;  // test.parallel: how the factor acts across ranks
};

// A list of grid sizes n (unknowns per side), each at least `min`.
std::vector<long> sizes(const config::Node& node, const std::string& key, long min) {
  const std::vector<double> values = node.number_list(key, 1);
  std::vector<long> out;
  for (double v : values) {
    if (v != std::floor(v) || v < static_cast<double>(min) || v > 4096.0)
      node.fail(key, fmt::format("a list of integers n with {} <= n <= 4096", min));
    out.push_back(static_cast<long>(v));
  }
  return out;
}

// test.parallel: {pc: bjacobi | asm, overlap: k, type: basic | restrict, cut: lumped | dirichlet,
// coarse: none | nicolaides, coarse_vectors: k} (schwarz.hpp, coarse_space.hpp).
precond::ParallelPc read_parallel(const config::Node& node) {
  precond::ParallelPc parallel;
  if (node.choice("pc", {"bjacobi", "asm"}, "bjacobi") == "asm")
    parallel.form = precond::ParallelPc::Form::asm_;
  parallel.overlap = node.integer("overlap", 1, 0, 4096);
  parallel.restricted = node.choice("type", {"basic", "restrict"}, "basic") == "restrict";
  // The measured better one of each form (schwarz.hpp): lumped for bjacobi, dirichlet for asm.
  const bool asm_form = parallel.form == precond::ParallelPc::Form::asm_;
  parallel.lump_cut =
      node.choice("cut", {"lumped", "dirichlet"}, asm_form ? "dirichlet" : "lumped") == "lumped";
  if (node.choice("coarse", {"none", "nicolaides"}, "none") == "nicolaides")
    parallel.coarse = precond::ParallelPc::Coarse::nicolaides;
  parallel.coarse_vectors = node.integer("coarse_vectors", 1, 1, 256);
  return parallel;
}

PrecondSpec read_precond(const config::Node& root) {
  PrecondSpec spec;
  spec.problem = root.choice("problem", {"poisson2d", "poisson3d", "diffusion2d"}, "poisson2d");
  const config::Node coefficient = root.child_or_empty("coefficient");
  if (spec.problem == "diffusion2d" && coefficient.has("seed")) {
    // κ from a Gaussian random field on the unit square's nodes (coefficient.hpp).
    spec.coefficient = precond::read_random_coefficient(coefficient);
  }
  // 3 unknowns per side is the smallest grid with interior rows of every kind.
  const config::Node train = root.child_or_empty("train");
  if (train.has("sizes")) spec.train_sizes = sizes(train, "sizes", 3);
  spec.train_rhs = train.integer("rhs", 16, 1, 1024);
  // Row blocks per training matrix (PETSc's layout on that many ranks): partition-aware training.
  if (train.has("partitions")) spec.training.partitions = sizes(train, "partitions", 1);
  // Which blocks: block Jacobi's row blocks, or ASM's overlapped ones with the dirichlet cut.
  precond::PartitionForm& blocks = spec.training.partition_form;
  if (train.choice("partition_form", {"bjacobi", "asm"}, "bjacobi") == "asm")
    blocks.kind = precond::PartitionForm::Kind::asm_;
  blocks.overlap = train.integer("partition_overlap", 1, 0, 4096);
  spec.validation_size = root.child_or_empty("validation").integer("size", 20, 3, 4096);
  const config::Node test = root.child_or_empty("test");
  if (test.has("matrices")) {
    spec.test_files = test.strings("matrices");
    spec.test_sizes.clear();  // only the user's matrices, unless sizes are given too
    for (const std::string& file : spec.test_files)
      if (file.empty()) test.fail("matrices", "a list of HDF5 file names");
  }
  if (test.has("sizes")) spec.test_sizes = sizes(test, "sizes", 3);
  spec.parallel = read_parallel(test.child_or_empty("parallel"));
  const config::Node model = root.child_or_empty("model");
  spec.model.reference = model.choice("reference", {"ic0", "mic0"}, "mic0") == "mic0"
                             ? precond::ReferenceFactor::mic0
                             : precond::ReferenceFactor::ic0;
  spec.training.factor = model.choice("factor", {"cholesky", "fsai"}, "cholesky") == "fsai"
                             ? precond::FactorKind::fsai
                             : precond::FactorKind::cholesky;
  spec.model.width = static_cast<std::size_t>(model.integer("width", 16, 1, 1024));
  spec.model.layers = static_cast<std::size_t>(model.integer("layers", 3, 1, 32));
  spec.model.correction_bound =
      model.number("correction_bound", 2.0, config::Bounds::between(1e-6, 10.0));
  // relaxation: a row head predicts MIC's relaxation ω_i and a diagonal shift δ_i (gnn.hpp).
  if (model.choice("correction", {"multiplicative", "relaxation"}, "multiplicative") ==
      "relaxation") {
    if (spec.model.reference != precond::ReferenceFactor::mic0 ||
        spec.training.factor != precond::FactorKind::cholesky)
      model.fail("correction",
                 "multiplicative (relaxation relaxes MIC(0): it needs reference "
                 "mic0 and factor cholesky)");
    spec.model.correction = precond::Correction::relaxation;
  }
  spec.model.relaxation_bound =
      model.number("relaxation_bound", 4.0, config::Bounds::between(0.0, 100.0));
  spec.model.shift_bound = model.number("shift_bound", 32.0, config::Bounds::between(0.0, 1e4));
  spec.model_seed = static_cast<std::uint64_t>(model.integer("seed", 7, 0));
  spec.model_file = model.str("load", "");
  spec.data_file = root.child_or_empty("data").str("file", "");
  const config::Node training = root.child_or_empty("training");
  spec.training.loss = training.choice("loss", {"factor", "condition"}, "factor") == "condition"
                           ? precond::TrainingLoss::condition
                           : precond::TrainingLoss::factor;
  spec.training.steps = training.integer("steps", 300, 0, 1000000);
  spec.training.lr = training.number("lr", 3e-3, config::Bounds::positive());
  spec.training.select_every = training.integer("select_every", 25, 1, 1000000);
  return spec;
}

// The smooth default coefficient κ = exp(0.8 sin(2πx) cos(2πy)) (κ varies ~5× across the square).
double smooth_kappa(double x, double y) {
  return std::exp(0.8 * std::sin(2 * M_PI * x) * std::cos(2 * M_PI * y));
}

std::string size_list(const std::vector<long>& values) {
  return fmt::format("[{}]", fmt::join(values, ", "));
}

// A held-out test matrix: a size of the case's problem (n > 0) or a matrix of a test.matrices file.
struct TestMatrix {
  std::string name;
  long n = 0;                // unknowns per side; 0 for a file's matrix
  std::string file;          // the file it comes from, or ""
  precond::CsrMatrix whole;  // the file's matrix (the same on every rank)
};

class PrecondRun {
 public:
  PrecondRun(const PrecondSpec& spec, RunContext& ctx)
      : m_spec(spec),
        m_ctx(ctx),
        m_gnn(spec.model, spec.model_seed),
        m_parameters(m_gnn.parameters()) {}

  std::string run() {
    // Every input file is read and checked first: a bad one fails the run before any work.
    StagePhases phase(Stage::data);
    const std::vector<TestMatrix> tests = test_matrices();
    phase.leave();
    nlohmann::json& report = *m_ctx.report;
    nlohmann::json metrics = train_or_load();
    // CG with the learned factor on the test matrices (evaluation) beside PETSc's (baseline).
    phase.enter(Stage::evaluation);

    nlohmann::json matrices = nlohmann::json::array();
    nlohmann::json learned_largest, baselines_largest;
    long largest_rows = -1;
    bool converged = true;
    log().info("{:>14} {:>9} {:>8} {:>6} {:>10} {:>10} {:>10}", "matrix", "rows", "pc", "iters",
               "setup_s", "solve_s", "total_s");
    for (std::size_t i = 0; i < tests.size(); ++i) {
      const TestMatrix& test = tests[i];
      petsc::Mat a;
      if (test.n > 0)
        create_matrix(m_ctx.comm, test.n, 1000 + i, a.out());
      else
        precond::create_distributed_aij(m_ctx.comm, test.whole, a.out());
      PetscInt rows = 0;
      KARMAN_PETSC(MatGetSize(a, &rows, nullptr));
      nlohmann::json entry = {{"name", test.name}, {"rows", rows}};
      if (test.n > 0) entry["n"] = test.n;
      if (!test.file.empty()) entry["file"] = test.file;
      for (const std::string& pc : baseline_pcs()) {
        const ScopedStage timed_stage(Stage::baseline);
        entry[pc] = timed(test.name, rows, pc, baseline(a, pc));
      }
      const precond::FactorKind kind = m_spec.training.factor;
      // The learned factor's starting point alone (MIC(0) or IC(0) through -pc_type karman): what
      // the GNN adds over its reference is the difference of the two rows.
      if (kind == precond::FactorKind::cholesky) {
        const ScopedStage timed_stage(Stage::baseline);
        entry["reference"] = timed(test.name, rows, reference_name(),
                                   precond::timed_cg(a, m_spec.parallel, reference()));
      }
      // MIC(0) in every table (the learned factor's bar, issue 19): its own row when the GNN's
      // reference is another factor (IC(0), or the classical FSAI of a learned G).
      if (kind != precond::FactorKind::cholesky ||
          m_spec.model.reference != precond::ReferenceFactor::mic0) {
        const ScopedStage timed_stage(Stage::baseline);
        entry["mic0"] = timed(test.name, rows, "mic0", precond::timed_cg(a, mic0()));
      }
      // The provider's own time (reference factor, graph, GNN forward, copy out) within set-up.
      double inference_s = 0.0;
      const precond::FactorProvider gnn = precond::gnn_factor_provider(m_gnn, kind);
      const precond::CgRun learned = precond::timed_cg(
          a, m_spec.parallel,
          [&](const precond::LocalBlock& block, const precond::LowerPattern& lower) {
            Timer timer;
            std::vector<double> l = gnn(block, lower);
            inference_s += timer.seconds();
            return l;
          },
          kind);
      entry["learned"] = timed(test.name, rows, "learned", learned);
      entry["learned"]["inference_s"] = inference_s;
      converged = converged && learned.iterations > 0;
      if (rows > largest_rows) {
        largest_rows = rows;
        learned_largest = entry["learned"];
        baselines_largest = nlohmann::json::object();
        for (const std::string& pc : baseline_pcs()) baselines_largest[pc] = entry[pc];
        if (entry.contains("reference")) baselines_largest["reference"] = entry["reference"];
        if (entry.contains("mic0")) baselines_largest["mic0"] = entry["mic0"];
      }
      matrices.push_back(entry);
    }

    metrics.update(learned_largest);
    report["metrics"] = metrics;
    report["baselines"] = baselines_largest;
    // The run-directory contract's `baseline`: the like-for-like PETSc solver on the largest test
    // matrix, CG with IC(0) on the same pattern (block IC(0) on several ranks).
    if (baselines_largest.contains("icc"))
      report["baseline"] = {
          {"solver", "cg"},
          {"pc", m_ctx.size == 1 ? "icc"
                                 : fmt::format("{} + icc (IC(0) blocks)",
                                               precond::parallel_pc_name(m_spec.parallel))},
          {"options", "-ksp_type cg -ksp_norm_type unpreconditioned -ksp_rtol 1e-8"},
          {"iterations", baselines_largest["icc"]["iterations"]},
          {"wall_s", baselines_largest["icc"]["total_s"]}};
    report["matrices"] = matrices;
    report["parallel"] = {{"pc", precond::parallel_pc_name(m_spec.parallel)},
                          {"overlap", m_spec.parallel.overlap},
                          {"ranks", m_ctx.size}};
    phase.enter(Stage::io);
    write_checkpoint();
    phase.leave();
    if (!converged) {
      m_ctx.message = "CG with the learned factor did not converge on a test matrix";
      return "not_converged";
    }
    return "ok";
  }

 private:
  // The model: trained (pairs solved or read from data.file) or loaded (model.load). Returns the
  // report's metrics about it.
  nlohmann::json train_or_load() {
    nlohmann::json metrics;
    if (m_spec.model_file.empty()) {
      const precond::TrainingReport training = train();
      metrics["train_wall_s"] = training.seconds;
      metrics["initial_iterations"] = training.initial_iterations;
      metrics["best_iterations"] = training.best_iterations;
      metrics["best_step"] = training.best_step;
      metrics["initial_loss"] = training.initial_loss;
      metrics["train_loss"] = training.selected_loss;
    } else {
      load_model();
      if (!m_spec.data_file.empty())
        log().info("data.file {} not used: model.load skips training", m_spec.data_file);
      metrics["train_wall_s"] = 0.0;
      metrics["model_file"] = m_spec.model_file;
    }
    metrics["params"] = m_parameters.size();
    return metrics;
  }

  // The problem's matrix with n unknowns per side on `comm`; `field` keys the random coefficient.
  void create_matrix(MPI_Comm comm, long n, std::uint64_t field, Mat* out) const {
    const PetscInt size = static_cast<PetscInt>(n);
    if (m_spec.problem == "poisson2d") return precond::create_poisson_2d(comm, size, out);
    if (m_spec.problem == "poisson3d") return precond::create_poisson_3d(comm, size, out);
    precond::create_diffusion_2d(comm, size, kappa_nodes(n, field), out);
  }

  // κ on the (n + 2)² nodes of the unit square, x fastest (create_diffusion_2d's layout).
  std::vector<double> kappa_nodes(long n, std::uint64_t field) const {
    mesh::GridShape nodes;
    nodes.dim = 2;
    nodes.n = {n + 2, n + 2, 1};
    std::vector<double> kappa;
    if (m_spec.coefficient.random) {
      kappa = precond::random_kappa_nodes(m_spec.coefficient, n, field);  // a draw per matrix
      const auto [low, high] = std::minmax_element(kappa.begin(), kappa.end());
      log().info("n = {}: kappa in [{:.3g}, {:.3g}] (contrast {:.3g})", n, *low, *high,
                 *high / *low);
    } else {
      kappa.resize((n + 2) * (n + 2));
      for (long j = 0; j < n + 2; ++j)
        for (long i = 0; i < n + 2; ++i)
          kappa[j * (n + 2) + i] = smooth_kappa(nodes.coordinate(0, i), nodes.coordinate(1, j));
    }
    return kappa;
  }

  // test.sizes (the case's problem), then every matrix of every test.matrices file (read and
  // checked here: not symmetric, singular, inconsistent CSR... is one error line naming the file).
  std::vector<TestMatrix> test_matrices() const {
    std::vector<TestMatrix> tests;
    for (long n : m_spec.test_sizes)
      tests.push_back({fmt::format("{}_{}", m_spec.problem, n), n, "", {}});
    for (const std::string& file : m_spec.test_files) {
      precond::MatrixFile read = precond::read_matrix_file(m_ctx.comm, file, false);
      for (precond::StoredMatrix& m : read.matrices) {
        log().info("test matrix {} from {}: {} rows, {} entries", m.name, file, m.pairs.a.rows,
                   m.pairs.a.nnz());
        require_reference_factors(file, m);
        tests.push_back({m.name, 0, file, std::move(m.pairs.a)});
      }
    }
    return tests;
  }

  // The reader proved the matrix symmetric with a positive IC(0); the network's own reference
  // (MIC(0) or the classical FSAI) must exist too, or the PC would fail mid-run: a singular
  // M-matrix such as a pure-Neumann Laplacian passes IC(0) but breaks MIC(0) down. One line here,
  // before anything is solved.
  void require_reference_factors(const std::string& file, const precond::StoredMatrix& m) const {
    const precond::LowerPattern lower = precond::lower_pattern(m.pairs.a);
    try {
      if (m_spec.training.factor == precond::FactorKind::fsai)
        precond::fsai_values(m.pairs.a, lower);
      else
        precond::reference_values(m.pairs.a, lower, m_spec.model.reference);
    } catch (const precond::NotSpdError& e) {
      throw ConfigError(Place{file, 0, 0},
                        fmt::format("/matrices ('{}'): {} (the {} factor the network corrects "
                                    "does not exist for it)",
                                    m.name, e.what(), reference_label()));
    }
  }

  // What the training pairs depend on: a data.file made with other values is not reused.
  std::vector<std::pair<std::string, std::string>> pair_settings() const {
    std::string coefficient = "none";
    if (m_spec.problem == "diffusion2d") {
      const config::RandomFieldSpec& f = m_spec.coefficient.field;
      coefficient =
          m_spec.coefficient.random
              ? fmt::format("{}(GRF): seed {}, alpha {:.17g}, tau {:.17g}, sigma {:.17g}{}",
                            m_spec.coefficient.map == "threshold" ? "threshold" : "exp", f.seed,
                            f.alpha, f.tau, f.sigma,
                            m_spec.coefficient.map == "threshold"
                                ? fmt::format(", low {:.17g}, high {:.17g}", m_spec.coefficient.low,
                                              m_spec.coefficient.high)
                                : "")
              : "exp(0.8 sin(2 pi x) cos(2 pi y))";
    }
    return {{"problem", m_spec.problem},
            {"coefficient", coefficient},
            {"train.sizes", size_list(m_spec.train_sizes)},
            {"train.rhs", std::to_string(m_spec.train_rhs)},
            {"validation.size", std::to_string(m_spec.validation_size)},
            // The generator itself (seeds, reference solve): a change here invalidates old files.
            {"generator",
             "b ~ N(0, 1) seeded 1, 2, ... (train) and 500 (validation); "
             "x by CG + GAMG, rtol 1e-10, on MPI_COMM_SELF"}};
  }

  // The training and validation pairs: read from data.file when it exists (after checking it was
  // made with this case's settings), otherwise solved with PETSc and written to data.file, or to
  // the run folder's pairs.h5 when there is no data.file.
  void training_pairs(std::vector<precond::TrainingPairs>& train,
                      std::vector<precond::TrainingPairs>& validation) {
    const std::string& file = m_spec.data_file;
    nlohmann::json& data = (*m_ctx.report)["data"];
    if (!file.empty() && exists_on_rank0(m_ctx.comm, file)) {
      Timer timer;
      precond::MatrixFile stored = precond::read_matrix_file(m_ctx.comm, file, true);
      require_same_settings(stored, file);
      for (precond::StoredMatrix& m : stored.matrices)
        (m.role == "validation" ? validation : train).push_back(std::move(m.pairs));
      if (train.size() != m_spec.train_sizes.size() || validation.size() != 1)
        throw ConfigError(Place{file, 0, 0},
                          fmt::format("holds {} training and {} validation matrices, expected {} "
                                      "and 1",
                                      train.size(), validation.size(), m_spec.train_sizes.size()));
      log().info("training pairs read from {} ({} matrices, {:.2f} s): no reference solve", file,
                 stored.matrices.size(), timer.seconds());
      data = {{"file", file}, {"reused", true}};
      return;
    }
    Timer timer;
    precond::MatrixFile made;
    made.case_yaml = m_ctx.resolved_yaml;
    made.settings = pair_settings();
    // Built on MPI_COMM_SELF: every rank holds the same whole matrices and trains the same model.
    for (std::size_t i = 0; i < m_spec.train_sizes.size(); ++i) {
      petsc::Mat a;
      create_matrix(PETSC_COMM_SELF, m_spec.train_sizes[i], i, a.out());
      train.push_back(precond::make_training_pairs(a, m_spec.train_rhs, i + 1));
      made.matrices.push_back(
          {fmt::format("{}_{}", m_spec.problem, m_spec.train_sizes[i]), "train", train.back()});
    }
    petsc::Mat a;
    create_matrix(PETSC_COMM_SELF, m_spec.validation_size, 500, a.out());
    validation.push_back(precond::make_training_pairs(a, m_spec.train_rhs, 500));
    made.matrices.push_back({fmt::format("{}_{}", m_spec.problem, m_spec.validation_size),
                             "validation", validation.back()});
    const double solve_s = timer.seconds();
    const std::string path = file.empty() ? m_ctx.dir->staged("pairs.h5") : file;
    precond::write_matrix_file(m_ctx.comm, path, made);
    log().info("training pairs solved in {:.2f} s, written to {}", solve_s,
               file.empty() ? "pairs.h5" : file);
    data = {{"file", file.empty() ? "pairs.h5" : file}, {"reused", false}};
  }

  // data.file's /settings against this case's: one line naming the first key that differs.
  void require_same_settings(const precond::MatrixFile& stored, const std::string& file) const {
    for (const auto& [key, value] : pair_settings()) {
      const auto it = std::find_if(stored.settings.begin(), stored.settings.end(),
                                   [&key = key](const auto& s) { return s.first == key; });
      const std::string found = it == stored.settings.end() ? "(absent)" : it->second;
      if (found != value)
        throw ConfigError(Place{file, 0, 0},
                          fmt::format("data.file holds pairs made with {} {}, this case has {} "
                                      "(remove the file or point data.file elsewhere)",
                                      key, found, value));
    }
  }

  precond::TrainingReport train() {
    std::vector<precond::TrainingPairs> train, validation;
    StagePhases phase(Stage::data);  // the matrices and their solved pairs, made or read
    training_pairs(train, validation);
    phase.enter(Stage::training);
    log().info("GNN width {}, {} layers, {} parameters; {} training matrices, validation n = {}",
               m_spec.model.width, m_spec.model.layers, m_parameters.size(), train.size(),
               m_spec.validation_size);
    const precond::TrainingReport report =
        precond::train_factor_gnn(m_gnn, train, validation, m_spec.training);
    std::string history;
    for (const auto& [step, iterations] : report.history)
      history += fmt::format(" {}:{}", step, iterations);
    log().info(
        "trained {} steps in {:.2f} s: loss {:.4e} -> {:.4e}; validation CG iterations {} {} "
        "-> {} (kept step {}); by step:{}",
        m_spec.training.steps, report.seconds, report.initial_loss, report.selected_loss,
        reference_label(), report.initial_iterations, report.best_iterations, report.best_step,
        history);
    if (m_spec.training.partitions.size() > 1 || m_spec.training.partitions[0] != 1)
      log().info(
          "validation CG iterations on {} {}: {} {} -> learned {}",
          fmt::join(m_spec.training.partitions, ", "),
          m_spec.training.partition_form.kind == precond::PartitionForm::Kind::asm_
              ? fmt::format("ASM subdomains (overlap {})", m_spec.training.partition_form.overlap)
              : std::string("row blocks"),
          reference_label(), fmt::join(report.initial_by_partition, ", "),
          fmt::join(report.best_by_partition, ", "));
    return report;
  }

  // model.load: the parameters of a kind-precond checkpoint.h5 whose architecture is this case's
  // (one error line naming the file and the key otherwise; a corrupt file is one line too).
  void load_model() {
    const std::string& file = m_spec.model_file;
    const nn::Checkpoint c = nn::load_checkpoint(m_ctx.comm, file);
    const auto text = [&](const std::string& key) {
      const auto it = c.strings.find(key);
      return it == c.strings.end() ? std::string("(absent)") : it->second;
    };
    if (text("kind") != "precond")
      throw ConfigError(Place{file, 0, 0}, "model.load: the checkpoint's kind is '" + text("kind") +
                                               "', expected 'precond'");
    // correction_bound and diagonal_only may be absent: checkpoints written before they were
    // stored all had the defaults.
    const auto require = [&](const std::string& key, const std::string& case_key, double expected,
                             bool optional = false) {
      const auto it = c.scalars.find(key);
      if (it == c.scalars.end() && optional) return;
      if (it == c.scalars.end())
        throw ConfigError(Place{file, 0, 0}, "model.load: the checkpoint has no " + key);
      if (it->second != expected)
        throw ConfigError(Place{file, 0, 0},
                          fmt::format("model.load: the model has {} {}, the case has {} {}", key,
                                      it->second, case_key, expected));
    };
    require("model_width", "model.width", static_cast<double>(m_spec.model.width));
    require("model_layers", "model.layers", static_cast<double>(m_spec.model.layers));
    require("correction_bound", "correction_bound", m_spec.model.correction_bound, true);
    require("diagonal_only", "diagonal_only", m_spec.model.diagonal_only ? 1.0 : 0.0, true);
    // What the parameters correct and how the PC applies their output (absent in older files:
    // those were IC(0)-based Cholesky factors).
    const auto require_text = [&](const std::string& key, const std::string& case_key,
                                  const std::string& expected, const std::string& absent) {
      const std::string found = c.strings.count(key) ? c.strings.at(key) : absent;
      if (found != expected)
        throw ConfigError(Place{file, 0, 0},
                          fmt::format("model.load: the model has {} {}, the case has {} {}", key,
                                      found, case_key, expected));
    };
    require_text("factor", "model.factor", precond::factor_kind_name(m_spec.training.factor),
                 "cholesky");
    require_text("model_reference", "model.reference", reference_name(), "ic0");
    require_text("correction", "model.correction", correction_name(), "multiplicative");
    require("relaxation_bound", "relaxation_bound", m_spec.model.relaxation_bound, true);
    require("shift_bound", "shift_bound", m_spec.model.shift_bound, true);
    nn::restore_parameters(c, m_parameters, file);
    auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_parameters.values());
    for (std::size_t i = 0; i < values.extent(0); ++i)
      if (!std::isfinite(values(i)))
        throw ConfigError(Place{file, 0, 0}, "model.load: a parameter is not finite");
    log().info("model loaded from {} (trained on {}; {} parameters): training skipped", file,
               text("problem"), m_parameters.size());
  }

  // CG with one of PETSc's PCs. PETSc's ICC is sequential: on several ranks the "icc" baseline is
  // the karman PC with IC(0) factors in the form the learned factor acts in (test.parallel): block
  // IC(0) (equal to -pc_type bjacobi -sub_pc_type icc, tests/mpi/test_precond_bjacobi) or ASM with
  // IC(0) blocks (equal to -sub_pc_type icc, tests/mpi/test_precond_asm).
  precond::CgRun baseline(Mat a, const std::string& pc) const {
    // The classical FSAI: the karman PC in fsai mode with its default provider (block FSAI on
    // several ranks, like the learned one).
    if (pc == "fsai") return precond::timed_cg(a, {}, precond::FactorKind::fsai);
    if (pc != "icc" || m_ctx.size == 1) return precond::timed_cg(a, pc);
    return precond::timed_cg(
        a, m_spec.parallel,
        [](const precond::CsrMatrix& block, const precond::LowerPattern& lower) {
          return precond::ic0_values(block, lower);
        });
  }

  const char* correction_name() const {
    return m_spec.model.correction == precond::Correction::relaxation ? "relaxation"
                                                                      : "multiplicative";
  }
  const char* reference_name() const {
    return m_spec.model.reference == precond::ReferenceFactor::mic0 ? "mic0" : "ic0";
  }
  // The untrained network's factor, as the logs name it.
  const char* reference_label() const {
    if (m_spec.training.factor == precond::FactorKind::fsai) return "FSAI";
    return m_spec.model.reference == precond::ReferenceFactor::mic0 ? "MIC(0)" : "IC(0)";
  }
  precond::FactorProvider reference() const {
    return [kind = m_spec.model.reference](const precond::LocalBlock& block,
                                           const precond::LowerPattern& lower) {
      return precond::reference_values(block, lower, kind);
    };
  }

  // Modified IC(0) of the PC's block (block MIC(0), the cut coupling lumped, on several ranks).
  static precond::FactorProvider mic0() {
    return [](const precond::LocalBlock& block, const precond::LowerPattern& lower) {
      return precond::reference_values(block, lower, precond::ReferenceFactor::mic0);
    };
  }

  // The baselines in report order: PETSc's PCs, then (learned FSAI runs) the classical FSAI, the
  // like-for-like reference of the learned G as icc is of the learned L.
  std::vector<std::string> baseline_pcs() const {
    std::vector<std::string> pcs = kBaselinePcs;
    if (m_spec.training.factor == precond::FactorKind::fsai) pcs.push_back("fsai");
    return pcs;
  }

  // One row of the log's table; the report's entry for it.
  static nlohmann::json timed(const std::string& name, long rows, const std::string& pc,
                              const precond::CgRun& run) {
    log().info("{:>14} {:>9} {:>8} {:>6} {:>10.4f} {:>10.4f} {:>10.4f}", name, rows, pc,
               run.iterations, run.setup_s, run.solve_s, run.total_s());
    return {{"iterations", run.iterations},
            {"setup_s", run.setup_s},
            {"solve_s", run.solve_s},
            {"total_s", run.total_s()},
            {"residual_history", run.residual_history}};
  }

  // Everything model.load needs: the parameters and the architecture they belong to.
  void write_checkpoint() {
    nn::Checkpoint checkpoint;
    nn::store_parameters(checkpoint, m_parameters);
    checkpoint.strings["kind"] = "precond";
    checkpoint.strings["problem"] = m_spec.problem;
    checkpoint.strings["factor"] = precond::factor_kind_name(m_spec.training.factor);
    checkpoint.strings["model_reference"] = reference_name();
    checkpoint.strings["config"] = m_ctx.resolved_yaml;
    checkpoint.scalars["model_width"] = static_cast<double>(m_spec.model.width);
    checkpoint.scalars["model_layers"] = static_cast<double>(m_spec.model.layers);
    checkpoint.scalars["correction_bound"] = m_spec.model.correction_bound;
    checkpoint.scalars["diagonal_only"] = m_spec.model.diagonal_only ? 1.0 : 0.0;
    checkpoint.strings["correction"] = correction_name();
    checkpoint.scalars["relaxation_bound"] = m_spec.model.relaxation_bound;
    checkpoint.scalars["shift_bound"] = m_spec.model.shift_bound;
    nn::save_checkpoint(m_ctx.comm, m_ctx.dir->staged("checkpoint.h5"), checkpoint);
  }

  const PrecondSpec& m_spec;
  RunContext& m_ctx;
  precond::FactorGnn m_gnn;
  nn::Parameters<double>& m_parameters;  // the GNN's
};

class PrecondMethod : public Method {
 public:
  // float64 only (the GNN, its factor and PETSc's CG): the registry refuses any other precision.
  void read(const config::Node& root, const std::string&) override { m_spec = read_precond(root); }
  std::string summary() const override {
    const std::string model = m_spec.model_file.empty()
                                  ? fmt::format("{} training steps", m_spec.training.steps)
                                  : "loaded from " + m_spec.model_file;
    std::string tests = fmt::format("test n {}", size_list(m_spec.test_sizes));
    if (!m_spec.test_files.empty())
      tests += fmt::format(" and the matrices of {}", fmt::join(m_spec.test_files, ", "));
    const char* reference = m_spec.training.factor == precond::FactorKind::fsai        ? "FSAI"
                            : m_spec.model.reference == precond::ReferenceFactor::mic0 ? "MIC(0)"
                                                                                       : "IC(0)";
    return fmt::format("kind precond, {} GNN ({} correcting {}) width {} x {} layers, {}, {}",
                       m_spec.problem, precond::factor_kind_name(m_spec.training.factor), reference,
                       m_spec.model.width, m_spec.model.layers, model, tests);
  }
  std::string run(RunContext& ctx) override { return PrecondRun(m_spec, ctx).run(); }

 private:
  PrecondSpec m_spec;
};

}  // namespace

std::unique_ptr<Method> make_precond_method() { return std::make_unique<PrecondMethod>(); }

}  // namespace karman::precond
