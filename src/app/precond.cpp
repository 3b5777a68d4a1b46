// kind: precond — a learned CG preconditioner (issue 6). A GNN predicts the values of a sparse
// factor L on tril(A) (M = L Lᵀ) from the matrix graph; it is trained on small matrices (pairs
// from PETSc reference solves), selected by validation CG iterations, then applied through
// -pc_type karman on larger held-out matrices and timed against PETSc's none, jacobi, icc, gamg
// and hypre (BoomerAMG) in the same CG (unpreconditioned norm, rtol 1e-8, x0 = 0). With
// model.factor fsai the GNN predicts a sparse approximate inverse factor G instead (M⁻¹ = Gᵀ G,
// -pc_karman_type fsai), and the classical FSAI joins the baselines as `fsai`.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "karman/core/log.hpp"
#include "karman/nn/checkpoint.hpp"
#include "karman/pde/random_field.hpp"
#include "method.hpp"
#include "operators/precond/training.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"

namespace karman::app {
namespace {

// PETSc's own preconditioners the learned factor is compared with, in report order.
const std::vector<std::string> kBaselinePcs = {"none", "jacobi", "icc", "gamg", "hypre"};

struct CoefficientSpec {
  bool random = false;  // κ = exp(GRF); otherwise the smooth default below
  config::RandomFieldSpec field;
};

struct PrecondSpec {
  std::string problem = "poisson2d";
  CoefficientSpec coefficient;
  std::vector<long> train_sizes{12, 16}, test_sizes{32, 64};
  long train_rhs = 16, validation_size = 20;
  precond::FactorGnnOptions model;
  std::uint64_t model_seed = 7;
  precond::TrainingOptions training;
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

PrecondSpec read_precond(const config::Node& root) {
  PrecondSpec spec;
  spec.problem = root.choice("problem", {"poisson2d", "poisson3d", "diffusion2d"}, "poisson2d");
  const config::Node coefficient = root.child_or_empty("coefficient");
  if (spec.problem == "diffusion2d" && coefficient.has("seed")) {
    // κ = exp(u), u a Gaussian random field on the unit square's nodes (Neumann basis).
    spec.coefficient.random = true;
    auto& field = spec.coefficient.field;
    field.seed = static_cast<unsigned long>(coefficient.integer("seed", 0, 0));
    field.alpha = coefficient.number("alpha", 2.0, config::Bounds::positive());
    field.tau = coefficient.number("tau", 3.0, config::Bounds::positive());
    // σ defaults to τ^(α − 1), the FNO benchmark's convention in 2D.
    field.sigma = coefficient.number("sigma", std::pow(field.tau, field.alpha - 1.0),
                                     config::Bounds::positive());
  }
  // 3 unknowns per side is the smallest grid with interior rows of every kind.
  const config::Node train = root.child_or_empty("train");
  if (train.has("sizes")) spec.train_sizes = sizes(train, "sizes", 3);
  spec.train_rhs = train.integer("rhs", 16, 1, 1024);
  // Row blocks per training matrix (PETSc's layout on that many ranks): partition-aware training.
  if (train.has("partitions")) spec.training.partitions = sizes(train, "partitions", 1);
  spec.validation_size = root.child_or_empty("validation").integer("size", 20, 3, 4096);
  const config::Node test = root.child_or_empty("test");
  if (test.has("sizes")) spec.test_sizes = sizes(test, "sizes", 3);
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
  spec.model_seed = static_cast<std::uint64_t>(model.integer("seed", 7, 0));
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

class PrecondRun {
 public:
  PrecondRun(const PrecondSpec& spec, RunContext& ctx)
      : m_spec(spec), m_ctx(ctx), m_gnn(spec.model) {
    m_gnn.declare(m_parameters);
    m_parameters.allocate();
    m_gnn.initialize(spec.model_seed);
  }

  std::string run() {
    const precond::TrainingReport training = train();
    nlohmann::json matrices = nlohmann::json::array();
    nlohmann::json learned_largest, baselines_largest;
    long largest_rows = -1;
    bool converged = true;
    log().info("{:>14} {:>9} {:>8} {:>6} {:>10} {:>10} {:>10}", "matrix", "rows", "pc", "iters",
               "setup_s", "solve_s", "total_s");
    for (std::size_t i = 0; i < m_spec.test_sizes.size(); ++i) {
      const long n = m_spec.test_sizes[i];
      petsc::Mat a;
      create_matrix(m_ctx.comm, n, 1000 + i, a.out());
      PetscInt rows = 0;
      KARMAN_PETSC(MatGetSize(a, &rows, nullptr));
      const std::string name = fmt::format("{}_{}", m_spec.problem, n);
      nlohmann::json entry = {{"name", name}, {"n", n}, {"rows", rows}};
      for (const std::string& pc : baseline_pcs())
        entry[pc] = timed(name, rows, pc, baseline(a, pc));
      const precond::FactorKind kind = m_spec.training.factor;
      // The learned factor's starting point alone (MIC(0) or IC(0), or the classical FSAI, through
      // -pc_type karman): what the GNN adds over its reference is the difference of the two rows.
      if (kind == precond::FactorKind::cholesky)
        entry["reference"] = timed(name, rows, reference_name(), precond::timed_cg(a, reference()));
      const precond::CgRun learned =
          precond::timed_cg(a, precond::gnn_factor_provider(m_gnn, kind), kind);
      entry["learned"] = timed(name, rows, "learned", learned);
      converged = converged && learned.iterations > 0;
      if (rows > largest_rows) {
        largest_rows = rows;
        learned_largest = entry["learned"];
        baselines_largest = nlohmann::json::object();
        for (const std::string& pc : baseline_pcs()) baselines_largest[pc] = entry[pc];
        if (entry.contains("reference")) baselines_largest["reference"] = entry["reference"];
      }
      matrices.push_back(entry);
    }

    nlohmann::json& report = *m_ctx.report;
    nlohmann::json metrics = learned_largest;
    metrics["train_wall_s"] = training.seconds;
    metrics["initial_iterations"] = training.initial_iterations;
    metrics["best_iterations"] = training.best_iterations;
    metrics["best_step"] = training.best_step;
    metrics["params"] = m_parameters.size();
    report["metrics"] = metrics;
    report["baselines"] = baselines_largest;
    report["matrices"] = matrices;
    write_checkpoint();
    if (!converged) {
      m_ctx.message = "CG with the learned factor did not converge on a test matrix";
      return "not_converged";
    }
    return "ok";
  }

 private:
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
      config::RandomFieldSpec spec = m_spec.coefficient.field;
      spec.seed = spec.seed * 10007 + field;  // a different coefficient for every matrix
      kappa = pde::random_field_global(nodes, spec);
      for (double& k : kappa) k = std::exp(k);
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

  // Training and validation matrices are whole on every rank (PETSC_COMM_SELF): every rank trains
  // the same model, whatever the rank count; the rank's blocks enter through train.partitions.
  precond::TrainingReport train() {
    std::vector<precond::TrainingPairs> train, validation;
    for (std::size_t i = 0; i < m_spec.train_sizes.size(); ++i) {
      petsc::Mat a;
      create_matrix(PETSC_COMM_SELF, m_spec.train_sizes[i], i, a.out());
      train.push_back(precond::make_training_pairs(a, m_spec.train_rhs, i + 1));
    }
    petsc::Mat a;
    create_matrix(PETSC_COMM_SELF, m_spec.validation_size, 500, a.out());
    validation.push_back(precond::make_training_pairs(a, m_spec.train_rhs, 500));
    log().info("GNN width {}, {} layers, {} parameters; {} training matrices, validation n = {}",
               m_spec.model.width, m_spec.model.layers, m_parameters.size(), train.size(),
               m_spec.validation_size);
    const precond::TrainingReport report =
        precond::train_factor_gnn(m_gnn, m_parameters, train, validation, m_spec.training);
    std::string history;
    for (const auto& [step, iterations] : report.history)
      history += fmt::format(" {}:{}", step, iterations);
    log().info(
        "trained {} steps in {:.2f} s: loss {:.4e} -> {:.4e}; validation CG iterations {} {} "
        "-> {} (kept step {}); by step:{}",
        m_spec.training.steps, report.seconds, report.initial_loss, report.selected_loss,
        m_spec.training.factor == precond::FactorKind::fsai ? "FSAI" : "IC(0)",
        report.initial_iterations, report.best_iterations, report.best_step, history);
    log().info("validation CG iterations on {} row blocks: IC(0) {} -> learned {}",
               fmt::join(m_spec.training.partitions, ", "),
               fmt::join(report.initial_by_partition, ", "),
               fmt::join(report.best_by_partition, ", "));
    return report;
  }

  // CG with one of PETSc's PCs. PETSc's ICC is sequential: on several ranks the "icc" baseline is
  // block IC(0), the karman PC with IC(0) factors (equal to -pc_type bjacobi -sub_pc_type icc,
  // tests/mpi/test_precond_bjacobi), the block form the learned factor acts in too.
  precond::CgRun baseline(Mat a, const std::string& pc) const {
    // The classical FSAI: the karman PC in fsai mode with its default provider (block FSAI on
    // several ranks, like the learned one).
    if (pc == "fsai") return precond::timed_cg(a, {}, precond::FactorKind::fsai);
    if (pc != "icc" || m_ctx.size == 1) return precond::timed_cg(a, pc);
    return precond::timed_cg(
        a, [](const precond::CsrMatrix& block, const precond::LowerPattern& lower) {
          return precond::ic0_values(block, lower);
        });
  }

  const char* reference_name() const {
    return m_spec.model.reference == precond::ReferenceFactor::mic0 ? "mic0" : "ic0";
  }
  precond::FactorProvider reference() const {
    return [kind = m_spec.model.reference](const precond::CsrMatrix& block,
                                           const precond::LowerPattern& lower) {
      return precond::reference_values(block, lower, kind);
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
            {"total_s", run.total_s()}};
  }

  void write_checkpoint() {
    nn::Checkpoint checkpoint;
    nn::store_parameters(checkpoint, m_parameters);
    checkpoint.strings["kind"] = "precond";
    checkpoint.strings["problem"] = m_spec.problem;
    checkpoint.strings["factor"] = precond::factor_kind_name(m_spec.training.factor);
    checkpoint.scalars["model_width"] = static_cast<double>(m_spec.model.width);
    checkpoint.scalars["model_layers"] = static_cast<double>(m_spec.model.layers);
    checkpoint.strings["model_reference"] = reference_name();
    nn::save_checkpoint(m_ctx.comm, m_ctx.dir->staged("checkpoint.h5"), checkpoint);
  }

  const PrecondSpec& m_spec;
  RunContext& m_ctx;
  precond::FactorGnn m_gnn;
  nn::Parameters<double> m_parameters;
};

class PrecondMethod : public Method {
 public:
  void read(const config::Node& root, const std::string&) override { m_spec = read_precond(root); }
  std::string summary() const override {
    return fmt::format(
        "kind precond, {} GNN ({} correcting {}) width {} x {} layers, {} training steps, "
        "test n {}",
        m_spec.problem, precond::factor_kind_name(m_spec.training.factor),
        m_spec.training.factor == precond::FactorKind::fsai        ? "FSAI"
        : m_spec.model.reference == precond::ReferenceFactor::mic0 ? "MIC(0)"
                                                                   : "IC(0)",
        m_spec.model.width, m_spec.model.layers, m_spec.training.steps,
        fmt::join(m_spec.test_sizes, ", "));
  }
  std::string run(RunContext& ctx) override { return PrecondRun(m_spec, ctx).run(); }

 private:
  PrecondSpec m_spec;
};

}  // namespace

std::unique_ptr<Method> make_precond_method() { return std::make_unique<PrecondMethod>(); }

}  // namespace karman::app
