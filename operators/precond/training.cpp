// Training pairs from PETSc reference solves, the GNN as a factor provider, CG iteration counts
// through -pc_type karman, and Adam (nn::Trainer) with model selection by validation CG iterations.
#include "operators/precond/training.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <numeric>
#include <string>

#include "karman/core/error.hpp"
#include "karman/core/interrupt.hpp"
#include "karman/core/random.hpp"
#include "karman/core/timer.hpp"
#include "karman/nn/trainer.hpp"
#include "operators/precond/condition_loss.hpp"
#include "operators/precond/factor_loss.hpp"
#include "operators/precond/fsai_loss.hpp"
#include "operators/precond/schwarz.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"
#include "petsc/ksp.hpp"

namespace karman::precond {
namespace {

constexpr double kPairsRtol = 1e-10;  // reference solves for the loss
constexpr double kCgRtol = 1e-8;      // the benchmark's CG tolerance (issue 6)
constexpr std::uint64_t kCgRhsSeed = 2023;

// A KSP on `comm` of type CG with PC `pc_type` on (a, a), the unpreconditioned residual norm and
// zero initial guess. Options are not read from the database: training must not change with a
// user's -ksp_ flags.
petsc::KSP make_cg(MPI_Comm comm, Mat a, const std::string& pc_type, double rtol,
                   PetscInt max_iterations) {
  petsc::KSP ksp =
      petsc::make_ksp(comm, a, petsc::solver(KSPCG, pc_type, rtol, 0.0, max_iterations), "",
                      petsc::Options::ignore);
  KARMAN_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
  KARMAN_PETSC(KSPSetInitialGuessNonzero(ksp, PETSC_FALSE));
  return ksp;
}

// Solve with GAMG for each column of b; x, b: host [n, k] mirrors.
template <class HostMatrix>
void solve_columns(Mat a, const HostMatrix& b, const HostMatrix& x) {
  const PetscInt n = static_cast<PetscInt>(b.extent(0));
  petsc::KSP ksp = make_cg(PETSC_COMM_SELF, a, PCGAMG, kPairsRtol, 10 * n + 100);
  petsc::Vec bv, xv;
  KARMAN_PETSC(MatCreateVecs(a, xv.out(), bv.out()));
  for (std::size_t s = 0; s < b.extent(1); ++s) {
    PetscScalar* data = nullptr;
    KARMAN_PETSC(VecGetArrayWrite(bv, &data));
    for (PetscInt i = 0; i < n; ++i) data[i] = b(i, s);
    KARMAN_PETSC(VecRestoreArrayWrite(bv, &data));
    KARMAN_PETSC(KSPSolve(ksp, bv, xv));
    KSPConvergedReason reason;
    KARMAN_PETSC(KSPGetConvergedReason(ksp, &reason));
    if (reason <= 0)
      throw ExternalError("PETSc", static_cast<int>(reason),
                          "training pairs: the reference solve (CG + GAMG, rtol 1e-10) did not "
                          "converge for right-hand side " +
                              std::to_string(s));
    const PetscScalar* solution = nullptr;
    KARMAN_PETSC(VecGetArrayRead(xv, &solution));
    for (PetscInt i = 0; i < n; ++i) x(i, s) = solution[i];
    KARMAN_PETSC(VecRestoreArrayRead(xv, &solution));
  }
}

std::vector<double> to_host(const nn::Vector<double>& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

// v ← factor · v on the device.
void scale(const nn::Vector<double>& v, double factor) {
  Kokkos::parallel_for(
      "precond::scale", Kokkos::RangePolicy<nn::ExecutionSpace>(0, v.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) { v(i) *= factor; });
}

// The factor the GNN corrects: the classical FSAI for kind fsai, else IC(0) or MIC(0) as the
// model's options say. [nnz_L] on lower_pattern(a).
std::vector<double> reference(const LocalBlock& a, const LowerPattern& lower,
                              const FactorGnnOptions& model, FactorKind kind) {
  return kind == FactorKind::fsai ? fsai_values(a, lower)
                                  : reference_values(a, lower, model.reference);
}

std::vector<double> reference(const LocalBlock& a, const FactorGnnOptions& model, FactorKind kind) {
  return reference(a, lower_pattern(a), model, kind);
}

// Σ_s ‖b_s‖² over the columns of b [n, k].
double squared_norm(const nn::Matrix<double>& b) {
  double sum = 0.0;
  Kokkos::parallel_reduce(
      "precond::squared_norm", Kokkos::RangePolicy<nn::ExecutionSpace>(0, b.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i, double& partial) {
        for (std::size_t s = 0; s < b.extent(1); ++s) partial += b(i, s) * b(i, s);
      },
      sum);
  return sum;
}

// One training matrix (a whole matrix or one block of it) as the loop needs it: its graph and its
// loss (both built once), and its weight in the mean loss. For kind fsai the graph's reference is
// the classical FSAI and the loss is FsaiLoss.
struct TrainingMatrix {
  const TrainingPairs* pairs;
  double weight;  // ‖b_q‖² / ‖b‖² of the matrix it was cut from, / the number of (matrix, p)
  MatrixGraph graph;
  FactorLoss loss;
  std::unique_ptr<ConditionLoss> condition;  // with TrainingLoss::condition only (cholesky)
  std::unique_ptr<FsaiLoss> fsai_loss;       // for kind fsai
  nn::Vector<double> dl;                     // [nnz_L]
  TrainingMatrix(const TrainingPairs& p, double w, const FactorGnnOptions& model,
                 const TrainingOptions& options)
      : pairs(&p),
        weight(w),
        graph(make_matrix_graph(p.a, reference(p.a, model, options.factor), options.factor,
                                p.a.dropped, model.correction == Correction::relaxation,
                                p.a.problem_rows())),
        loss(lower_triangle(p.a)),
        dl("dl", p.ic0.size()) {
    if (options.factor == FactorKind::fsai)
      fsai_loss = std::make_unique<FsaiLoss>(lower_triangle(p.a));
    else if (options.loss == TrainingLoss::condition)
      condition = std::make_unique<ConditionLoss>(p.a, lower_pattern(p.a));
  }

  // The loss of the factor values l [nnz_L] (on the device); writes ∂loss/∂l to dl.
  double evaluate(const nn::Vector<double>& l) {
    if (fsai_loss) return fsai_loss->evaluate(l, pairs->x, pairs->b, dl);
    if (!condition) return loss.evaluate(l, pairs->x, pairs->b, dl);
    std::vector<double> gradient;
    const double value = condition->evaluate(to_host(l), gradient);
    Kokkos::deep_copy(
        dl, Kokkos::View<const double*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                gradient.data(), gradient.size()));
    return value;
  }
};

// Σ_m weight_m f_m over the blocks: the mean over (matrix, p) of the relative loss of the
// block-diagonal M against the global A, Σ_q ‖L_q L_qᵀ x_q − b_q‖² / ‖b‖² (each block's f_m is
// relative to its own ‖b_q‖²). Its gradient is ADDED to the parameters' gradients.
double mean_loss_and_gradient(FactorGnn& gnn, std::vector<std::unique_ptr<TrainingMatrix>>& set) {
  double total = 0.0;
  for (auto& m : set) {
    total += m->weight * m->evaluate(gnn.forward(m->graph));
    scale(m->dl, m->weight);
    gnn.backward(m->dl);
  }
  return total;
}

// CG iterations on the sequential `a` with the factor in the form `parts` ranks would use it
// (options.partition_form): block Jacobi on `parts` row blocks, or basic ASM with `parts`
// subdomains grown by the overlap, dirichlet cut. One part: the factor of the whole matrix.
long partitioned_cg_iterations(Mat a, const FactorProvider& provider, long parts,
                               const TrainingOptions& options) {
  if (parts == 1) return cg_iterations(a, provider, options.factor);
  if (options.partition_form.kind == PartitionForm::Kind::bjacobi)
    return cg_iterations(a, partitioned_provider(provider, parts), options.factor);
  ParallelPc schwarz;
  schwarz.form = ParallelPc::Form::asm_;
  schwarz.overlap = options.partition_form.overlap;
  schwarz.lump_cut = false;
  schwarz.subdomains = parts;
  return timed_cg(a, schwarz, provider, options.factor).iterations;
}

// Per partition count p (in `partitions`' order): Σ over the validation matrices of the learned
// factor's CG iterations with the factor built on p row blocks (a non-converged matrix counts as
// 10 N: worse than any converged run).
std::vector<long> validation_iterations(FactorGnn& gnn, const std::vector<petsc::Mat>& matrices,
                                        const std::vector<TrainingPairs>& validation,
                                        const TrainingOptions& options) {
  const FactorProvider provider = gnn_factor_provider(gnn, options.factor);
  std::vector<long> totals;
  for (const long parts : options.partitions) {
    long total = 0;
    for (std::size_t i = 0; i < matrices.size(); ++i) {
      const long iterations = partitioned_cg_iterations(matrices[i], provider, parts, options);
      total += iterations >= 0 ? iterations : 10 * validation[i].a.rows;
    }
    totals.push_back(total);
  }
  return totals;
}

long sum(const std::vector<long>& values) {
  return std::accumulate(values.begin(), values.end(), 0L);
}

// Restrict the rows [first, last) of m [n, k] (a copy).
nn::Matrix<double> rows_of(const nn::Matrix<double>& m, std::int64_t first, std::int64_t last) {
  nn::Matrix<double> out(Kokkos::view_alloc(m.label(), Kokkos::WithoutInitializing), last - first,
                         m.extent(1));
  Kokkos::deep_copy(out, Kokkos::subview(m, Kokkos::make_pair(first, last), Kokkos::ALL));
  return out;
}

}  // namespace

TrainingPairs make_training_pairs(Mat a, long k, std::uint64_t seed) {
  if (k < 1)
    throw ConfigError("training pairs: need at least one right-hand side (got " +
                      std::to_string(k) + ")");
  TrainingPairs pairs;
  pairs.a = LocalBlock{local_diagonal_block(a), {}};  // the whole matrix: nothing cut
  require_symmetric(pairs.a);  // NotSpdError naming the first asymmetric entry
  pairs.ic0 = ic0_values(pairs.a, lower_pattern(pairs.a));

  const long n = pairs.a.rows;
  pairs.b = nn::Matrix<double>("b", n, k);
  pairs.x = nn::Matrix<double>("x", n, k);
  auto hb = Kokkos::create_mirror_view(pairs.b);
  auto hx = Kokkos::create_mirror_view(pairs.x);
  for (long i = 0; i < n; ++i)
    for (long s = 0; s < k; ++s)
      hb(i, s) = standard_normal(seed, static_cast<std::uint64_t>(i * k + s));
  petsc::Mat block;
  create_seq_aij(pairs.a, block.out());
  solve_columns(block, hb, hx);
  Kokkos::deep_copy(pairs.b, hb);
  Kokkos::deep_copy(pairs.x, hx);
  return pairs;
}

FactorProvider gnn_factor_provider(FactorGnn& gnn, FactorKind kind) {
  return [&gnn, kind](const LocalBlock& a, const LowerPattern& lower) {
    // lower_pattern and the graph list tril(A) in the same order (rows, sorted columns).
    const FactorGnnOptions& model = gnn.options();
    const bool relaxation = model.correction == Correction::relaxation;
    const MatrixGraph graph =
        relaxation && kind == FactorKind::cholesky && model.reference == ReferenceFactor::mic0
            ? make_relaxation_graph(a, lower)  // one RelaxedIc for the reference and L
            : make_matrix_graph(a, reference(a, lower, model, kind), kind, a.dropped, relaxation,
                                a.problem_rows());
    return to_host(gnn.infer(graph));  // inference only: the fused forward, no contexts
  };
}

namespace {

// Rows `rows` [m] (increasing) of m [n, k] (a copy).
nn::Matrix<double> rows_at(const nn::Matrix<double>& m, const std::vector<PetscInt>& rows) {
  auto whole = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
  nn::Matrix<double> out(Kokkos::view_alloc(m.label(), Kokkos::WithoutInitializing), rows.size(),
                         m.extent(1));
  auto h = Kokkos::create_mirror_view(out);
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t s = 0; s < m.extent(1); ++s) h(i, s) = whole(rows[i], s);
  Kokkos::deep_copy(out, h);
  return out;
}

// partition_training_pairs for PartitionForm::Kind::asm_: PETSc grows the row blocks (its
// MatIncreaseOverlap and sorted indices, as PCASM does) and extracts the principal blocks.
std::vector<TrainingPairs> overlapped_training_pairs(const TrainingPairs& pairs, long parts,
                                                     const PartitionForm& form) {
  if (form.overlap < 0)
    throw ConfigError("training pairs: the overlap must be ≥ 0 (got " +
                      std::to_string(form.overlap) + ")");
  petsc::Mat a;
  create_seq_aij(pairs.a, a.out());
  const std::vector<std::int64_t> bounds = row_layout(pairs.a.rows, parts);
  std::vector<IS> rows(parts);
  for (long q = 0; q < parts; ++q)
    KARMAN_PETSC(ISCreateStride(PETSC_COMM_SELF, static_cast<PetscInt>(bounds[q + 1] - bounds[q]),
                                static_cast<PetscInt>(bounds[q]), 1, &rows[q]));
  KARMAN_PETSC(MatIncreaseOverlap(a, static_cast<PetscInt>(parts), rows.data(),
                                  static_cast<PetscInt>(form.overlap)));
  for (IS& is : rows) KARMAN_PETSC(ISSort(is));
  Mat* subs = nullptr;
  KARMAN_PETSC(MatCreateSubMatrices(a, static_cast<PetscInt>(parts), rows.data(), rows.data(),
                                    MAT_INITIAL_MATRIX, &subs));
  // Copied out of PETSc first: the IC(0) below may throw, and nothing of PETSc's must leak then.
  std::vector<TrainingPairs> blocks(parts);
  std::vector<std::vector<PetscInt>> block_rows(parts);
  for (long q = 0; q < parts; ++q) {
    // Nothing dropped (the dirichlet cut), h from the whole matrix.
    blocks[q].a = LocalBlock{local_diagonal_block(subs[q]), {}, pairs.a.problem_rows()};
    PetscInt count = 0;
    const PetscInt* indices = nullptr;
    KARMAN_PETSC(ISGetLocalSize(rows[q], &count));
    KARMAN_PETSC(ISGetIndices(rows[q], &indices));
    block_rows[q].assign(indices, indices + count);
    KARMAN_PETSC(ISRestoreIndices(rows[q], &indices));
  }
  KARMAN_PETSC(MatDestroySubMatrices(static_cast<PetscInt>(parts), &subs));
  for (IS& is : rows) KARMAN_PETSC(ISDestroy(&is));
  for (long q = 0; q < parts; ++q) {
    TrainingPairs& block = blocks[q];
    block.ic0 = ic0_values(block.a, lower_pattern(block.a));
    block.x = rows_at(pairs.x, block_rows[q]);
    block.b = rows_at(pairs.b, block_rows[q]);
  }
  return blocks;
}

}  // namespace

std::vector<TrainingPairs> partition_training_pairs(const TrainingPairs& pairs, long parts,
                                                    const PartitionForm& form) {
  if (parts < 1 || parts > pairs.a.rows)
    throw ConfigError("training pairs: cannot split " + std::to_string(pairs.a.rows) +
                      " rows into " + std::to_string(parts) + " blocks");
  if (parts == 1) return {pairs};
  if (form.kind == PartitionForm::Kind::asm_) return overlapped_training_pairs(pairs, parts, form);
  const std::vector<std::int64_t> bounds = row_layout(pairs.a.rows, parts);
  std::vector<TrainingPairs> blocks(parts);
  for (long q = 0; q < parts; ++q) {
    TrainingPairs& block = blocks[q];
    block.a = diagonal_block(pairs.a, bounds[q], bounds[q + 1]);
    block.ic0 = ic0_values(block.a, lower_pattern(block.a));
    block.x = rows_of(pairs.x, bounds[q], bounds[q + 1]);
    block.b = rows_of(pairs.b, bounds[q], bounds[q + 1]);
  }
  return blocks;
}

// CG as cg_iterations documents, with a PC of type `pc_type` that `configure_pc` completes;
// iterations -1 if not converged. KSPSetUp and KSPSetUpOnBlocks (PCSetUp: for "karman" the GNN
// inference and the factor build, also on the blocks of bjacobi / asm) are timed apart from
// KSPSolve, so a PC's setup cost and its per-solve cost can be reported separately.
CgRun run_cg(Mat a, const std::string& pc_type, const std::function<void(PC)>& configure_pc) {
  PetscInt rows = 0, first = 0, last = 0;
  KARMAN_PETSC(MatGetSize(a, &rows, nullptr));
  petsc::KSP ksp =
      make_cg(PetscObjectComm(reinterpret_cast<PetscObject>(a)), a, pc_type, kCgRtol, 10 * rows);
  PC pc;
  KARMAN_PETSC(KSPGetPC(ksp, &pc));
  configure_pc(pc);

  petsc::Vec b, x;
  KARMAN_PETSC(MatCreateVecs(a, x.out(), b.out()));
  KARMAN_PETSC(VecGetOwnershipRange(b, &first, &last));
  PetscScalar* data = nullptr;
  KARMAN_PETSC(VecGetArrayWrite(b, &data));
  for (PetscInt i = first; i < last; ++i)
    data[i - first] = standard_normal(kCgRhsSeed, static_cast<std::uint64_t>(i));
  KARMAN_PETSC(VecRestoreArrayWrite(b, &data));
  KARMAN_PETSC(VecSet(x, 0.0));

  CgRun result;
  Timer setup;
  KARMAN_PETSC(KSPSetUp(ksp));
  KARMAN_PETSC(KSPSetUpOnBlocks(ksp));  // block PCs (bjacobi, asm) set up their sub-PCs here
  result.setup_s = setup.seconds();
  // PETSc stores one norm per iteration in its own array: the timed solve allocates nothing.
  KARMAN_PETSC(KSPSetResidualHistory(ksp, nullptr, PETSC_DECIDE, PETSC_TRUE));
  Timer solve;
  KARMAN_PETSC(KSPSolve(ksp, b, x));
  result.solve_s = solve.seconds();
  const PetscReal* norms = nullptr;
  PetscInt recorded = 0;
  KARMAN_PETSC(KSPGetResidualHistory(ksp, &norms, &recorded));
  result.residual_history.assign(norms, norms + recorded);

  KSPConvergedReason reason;
  PetscInt iterations = 0;
  KARMAN_PETSC(KSPGetConvergedReason(ksp, &reason));
  KARMAN_PETSC(KSPGetIterationNumber(ksp, &iterations));
  result.iterations = reason > 0 ? static_cast<long>(iterations) : -1;
  return result;
}

CgRun timed_cg(Mat a, const FactorProvider& provider, FactorKind kind) {
  return run_cg(a, "karman", [&provider, kind](PC pc) {
    pc_karman_set_type(pc, kind);
    pc_karman_set_factor_provider(pc, provider);
  });
}

CgRun timed_cg(Mat a, const std::string& pc_type) {
  return run_cg(a, pc_type, [](PC) {});
}

long cg_iterations(Mat a, const FactorProvider& provider, FactorKind kind) {
  return timed_cg(a, provider, kind).iterations;
}

long cg_iterations(Mat a, const std::string& pc_type) { return timed_cg(a, pc_type).iterations; }

namespace {

// One Adam stage of `steps` steps at the constant rate `lr` (OptimizerOptions' defaults: β₁ 0.9,
// β₂ 0.999, ε 1e-8: what the loop before nn::Trainer ran), validated every `select_every` steps
// and after the last; no progress bar (the trainer still logs each validation).
nn::TrainerOptions adam_stage(const TrainingOptions& options) {
  nn::StageOptions adam;
  adam.optimizer = "adam";
  adam.steps = options.steps;
  adam.schedule.type = "constant";
  adam.schedule.base = options.lr;
  nn::TrainerOptions trainer;
  trainer.stages = {adam};
  trainer.validate_every = options.select_every;
  trainer.quiet = true;
  return trainer;
}

}  // namespace

TrainingReport train_factor_gnn(FactorGnn& gnn, const std::vector<TrainingPairs>& train,
                                const std::vector<TrainingPairs>& validation,
                                const TrainingOptions& options) {
  nn::Parameters<double>& parameters = gnn.parameters();
  if (train.empty() || validation.empty())
    throw ConfigError("train_factor_gnn: need at least one training and one validation matrix");
  if (options.steps < 0 || options.select_every < 1)
    throw ConfigError("train_factor_gnn: steps must be ≥ 0 and select_every ≥ 1");
  const auto start = std::chrono::steady_clock::now();

  if (options.partitions.empty())
    throw ConfigError("train_factor_gnn: need at least one partition count");
  // Every training matrix split for every partition count; the blocks own their pairs.
  std::vector<TrainingPairs> blocks;
  std::vector<double> weights;
  const double cases = static_cast<double>(train.size() * options.partitions.size());
  for (const TrainingPairs& pairs : train)
    for (const long parts : options.partitions) {
      std::vector<TrainingPairs> split =
          partition_training_pairs(pairs, parts, options.partition_form);
      // Σ_q ‖b_q‖²: ‖b‖² for disjoint blocks; overlapping (asm) blocks count shared rows in each.
      double rhs = 0.0;
      for (const TrainingPairs& block : split) rhs += squared_norm(block.b);
      for (TrainingPairs& block : split) {
        weights.push_back(squared_norm(block.b) / rhs / cases);
        blocks.push_back(std::move(block));
      }
    }
  std::vector<std::unique_ptr<TrainingMatrix>> train_set;
  for (std::size_t m = 0; m < blocks.size(); ++m)
    train_set.push_back(
        std::make_unique<TrainingMatrix>(blocks[m], weights[m], gnn.options(), options));
  std::vector<petsc::Mat> validation_matrices(validation.size());
  for (std::size_t i = 0; i < validation.size(); ++i)
    create_seq_aij(validation[i].a, validation_matrices[i].out());

  TrainingReport report;
  nn::Vector<double> best("best parameters", parameters.size());
  Kokkos::deep_copy(best, parameters.values());
  report.initial_by_partition = report.best_by_partition =
      validation_iterations(gnn, validation_matrices, validation, options);
  report.initial_iterations = report.best_iterations = sum(report.initial_by_partition);
  report.history.emplace_back(0, report.initial_iterations);

  // The shared training loop on this rank alone (MPI_COMM_SELF: training does not depend on the
  // run's rank count), one loss term; model selection happens in its validation hook.
  long step = 0;  // the 1-based step being taken; validate runs right after it
  nn::Trainer<double> trainer(
      MPI_COMM_SELF, parameters,
      [&](long before) {
        step = before + 1;
        return std::vector<nn::LossTerm>{{"factor", 1.0, mean_loss_and_gradient(gnn, train_set)}};
      },
      adam_stage(options));
  trainer.validate = [&] {
    const std::vector<long> by_partition =
        validation_iterations(gnn, validation_matrices, validation, options);
    const long iterations = sum(by_partition);
    report.history.emplace_back(step, iterations);
    if (iterations < report.best_iterations) {  // strictly fewer: ties keep the earlier model
      report.best_iterations = iterations;
      report.best_by_partition = by_partition;
      report.best_step = step;
      Kokkos::deep_copy(best, parameters.values());
    }
    return static_cast<double>(iterations);
  };
  const nn::TrainingResult result = trainer.run();
  // No checkpoint here: an interrupted precond run trains again from the start.
  if (result.stop_reason == "interrupted")
    throw Interrupted(result.message + " (kind precond keeps no checkpoint: it trains again)");
  if (!result.history.empty()) report.initial_loss = result.history.front().loss;

  Kokkos::deep_copy(parameters.values(), best);
  parameters.zero_gradients();
  report.selected_loss = mean_loss_and_gradient(gnn, train_set);
  parameters.zero_gradients();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace karman::precond
