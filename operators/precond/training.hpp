#pragma once
// Training and model selection of the learned CG preconditioner (issue 6):
//   1. pairs (x, b) per matrix: b ~ N(0, 1) (counter-based, reproducible), x = A⁻¹ b by PETSc
//      CG + GAMG at rtol 1e-10 (the reference solve the loss trusts);
//   2. Adam (the shared nn::Trainer) on the mean factor loss f(L) = Σ‖L Lᵀ x − b‖² / Σ‖b‖² over
//      the training matrices (FactorKind::fsai: the learned FSAI G, reference the classical FSAI,
//      loss f(G) = Σ‖Gᵀ G b − x‖² / Σ‖x‖² of fsai_loss.hpp, applied by -pc_karman_type fsai);
//   3. every `select_every` steps, PCG on the validation matrices through `-pc_type karman` with
//      the GNN's factor; the parameters with the fewest total iterations are kept. The loss is a
//      proxy (it weighs all eigen-directions alike, CG cares about the spectrum's spread), so the
//      model is chosen by what it is for: CG iterations, not by loss alone.
//
// Everything here is single-rank (MPI_COMM_SELF), so training does not depend on the rank count
// of the run. It is partition-aware: on p ranks the PC is M = blockdiag(L_q L_qᵀ) over PETSc's
// row blocks q, so the loss of M against the GLOBAL A,
//   Σ_s ‖M x_s − b_s‖² = Σ_q Σ_s ‖L_q L_qᵀ x_{s,q} − b_{s,q}‖²,   x_s = A⁻¹ b_s (global solve),
// splits into one term per block with the block's rows of the global pairs. Each block is then a
// training matrix of its own (partition_training_pairs), its graph carrying the coupling the cut
// dropped (LocalBlock::dropped), and validation runs CG on the global matrix with the factor
// built block by block (partitioned_provider), exactly as p ranks would.

#include <petscksp.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "karman/nn/parameters.hpp"
#include "operators/precond/gnn.hpp"
#include "operators/precond/petsc_factor.hpp"
#include "operators/precond/sparse.hpp"

namespace karman::precond {

// One matrix with its IC(0) factor (which also proves it SPD) and k solved right-hand sides. The
// GNN's reference factor (FactorGnnOptions::reference) is computed from `a` when training starts.
struct TrainingPairs {
  LocalBlock a;             // the matrix, or one block of it with the coupling cut from it
  std::vector<double> ic0;  // [nnz_L] IC(0) of a on tril(a) (the GNN's reference, θ = 0)
  nn::Matrix<double> x, b;  // [n, k]: the global A x_s = b_s, b_s ~ N(0, 1), a's rows of them
};

// Pairs for the diagonal block of `a`: b(i, s) = standard_normal(seed, i·k + s), x by KSPCG +
// PCGAMG (rtol 1e-10, unpreconditioned norm) on MPI_COMM_SELF. Throws NotSpdError for a matrix
// that is not symmetric or whose IC(0) breaks down, ConfigError for k < 1, ExternalError when the
// reference solve does not converge.
TrainingPairs make_training_pairs(Mat a, long k, std::uint64_t seed);

// The factor provider of a trained GNN for `-pc_type karman`: the graph of the PC's block with
// its reference factor (IC(0) or MIC(0) as the GNN's options say; for kind fsai its classical
// FSAI), one forward pass, the factor's values copied to the host. The GNN must outlive the
// provider (it is held by reference).
FactorProvider gnn_factor_provider(FactorGnn& gnn, FactorKind kind = FactorKind::cholesky);

// Which blocks of a matrix the factor is trained on for p ranks (case keys train.partition_form,
// train.partition_overlap): bjacobi, each rank's diagonal block with the coupling the cut dropped
// (what -pc_type karman factors on p ranks), or asm, each rank's rows grown by `overlap` layers of
// the matrix graph and factored as they are, Dirichlet at the cut (what test.parallel {pc: asm,
// overlap: k, cut: dirichlet} factors; grown by PETSc's MatIncreaseOverlap, as PCASM grows them).
struct PartitionForm {
  enum class Kind { bjacobi, asm_ };
  Kind kind = Kind::bjacobi;
  long overlap = 1;  // asm only
};

// The pairs of a whole matrix split into `parts` blocks of rows as PETSc lays them out on `parts`
// ranks (row_layout), in `form`: block q has A's diagonal block with its dropped coupling
// (bjacobi) or its overlapped principal block with nothing dropped (asm; overlapping blocks share
// rows), that block's IC(0), the row count of A (LocalBlock::global_rows: h of the whole grid) and
// the block's rows of the GLOBAL pairs (x_q, b_q). parts = 1 returns the pairs unchanged. Throws
// ConfigError unless 1 ≤ parts ≤ rows and overlap ≥ 0, NotSpdError when a block's IC(0) breaks
// down.
std::vector<TrainingPairs> partition_training_pairs(const TrainingPairs& pairs, long parts,
                                                    const PartitionForm& form = {});

// PCG iterations on A x = b through `-pc_type karman` with the given factor: KSPCG,
// unpreconditioned residual norm, rtol 1e-8, x0 = 0, b_i = standard_normal(2023, i) (global row i,
// so the same at any rank count). Returns -1 when CG does not converge within 10 N iterations.
// Collective on a's communicator (the karman PC then acts on each rank's diagonal block). `kind`
// is the PC's -pc_karman_type; an empty provider is the kind's reference factor.
long cg_iterations(Mat a, const FactorProvider& provider, FactorKind kind = FactorKind::cholesky);
// The same CG (same b, tolerance, norm) with one of PETSc's own PCs ("icc", "gamg", "jacobi",
// "none", ...; PETSc's defaults for it), for like-for-like baselines.
long cg_iterations(Mat a, const std::string& pc_type);

// The same CG runs, timed: setup_s is KSPSetUp (PCSetUp; for "karman" the GNN inference and the
// factor build), solve_s is KSPSolve. Wall seconds on the calling rank.
struct CgRun {
  long iterations = -1;  // -1: not converged within 10 N iterations
  double setup_s = 0.0, solve_s = 0.0;
  std::vector<double> residual_history;  // ||r|| before the first iteration and after each
  double total_s() const { return setup_s + solve_s; }
};
// CG with a PC of type `pc_type` that `configure_pc` completes (the one CG behind every timed_cg).
CgRun run_cg(Mat a, const std::string& pc_type, const std::function<void(PC)>& configure_pc);
CgRun timed_cg(Mat a, const FactorProvider& provider, FactorKind kind = FactorKind::cholesky);
CgRun timed_cg(Mat a, const std::string& pc_type);

// What Adam minimises: the factor loss Σ‖L Lᵀ x − b‖² / Σ‖b‖² (factor_loss.hpp; any size), or the
// soft log condition number of M⁻¹A (condition_loss.hpp; dense eigensolves, small matrices only).
enum class TrainingLoss { factor, condition };

struct TrainingOptions {
  TrainingLoss loss = TrainingLoss::factor;
  long steps = 600;
  double lr = 3e-3;        // Adam, constant
  long select_every = 50;  // validation CG every this many steps (and after the last)
  FactorKind factor = FactorKind::cholesky;  // what the GNN predicts: L (IC(0)-based) or G (FSAI)
  // Partition counts p trained and validated on: every training matrix is split into p row blocks
  // for each p (partition_training_pairs; the loss is the mean over all blocks), and every
  // validation matrix is solved with the factor built on p blocks for each p (the score is the
  // total of the iterations). {1} is single-rank training.
  std::vector<long> partitions{1};
  // The blocks trained and validated on for each p (validation: block Jacobi as -pc_type karman on
  // p ranks, or one-rank ASM with p subdomains, schwarz.hpp's ParallelPc::subdomains, with basic
  // ASM and the dirichlet cut).
  PartitionForm partition_form;
};

// What happened: the validation score (total CG iterations over the validation matrices) of the
// reference factor (step 0, the untrained net) and of the kept parameters, the step they come from,
// the mean training loss of the reference (step 0) and of the kept parameters, and the wall time.
struct TrainingReport {
  long initial_iterations = 0, best_iterations = 0, best_step = 0;
  double initial_loss = 0.0, selected_loss = 0.0;
  double seconds = 0.0;
  std::vector<std::pair<long, long>> history;  // (step, validation iterations), step 0 first
  // Validation iterations per partition count (options.partitions' order), summed over the
  // validation matrices: IC(0) (step 0) and the kept parameters.
  std::vector<long> initial_by_partition, best_by_partition;
};

// Train `gnn` from its current parameters with nn::Trainer (one Adam stage, the validation hook
// selecting the model) and leave the selected parameters in gnn.parameters(). The step-0 net (the
// reference factor) is a candidate, so the selected model never does worse than its reference on
// the validation set. train and validation must be non-empty. A non-finite loss stops training
// early, the best model so far kept.
TrainingReport train_factor_gnn(FactorGnn& gnn, const std::vector<TrainingPairs>& train,
                                const std::vector<TrainingPairs>& validation,
                                const TrainingOptions& options);

}  // namespace karman::precond
