#pragma once
// The learned factor across ranks (issue 19, item 3): the karman PC as block Jacobi (each rank
// factors its own diagonal block, -pc_type karman on the MPI matrix) or as the sub-PC of additive
// Schwarz with overlap (-pc_type asm -pc_asm_overlap k -sub_pc_type karman: each rank factors its
// diagonal block grown by k layers of the matrix graph).
//
// Under ASM the sub-PC sees a sequential matrix, the overlapped block PETSc extracted, with no
// trace of the coupling the overlap cut. set_factor_pc installs PETSc's modify-submatrices hook,
// which computes that coupling (dropped_i = Σ_{j outside the overlapped block} |a_ij|) from the
// global matrix and attaches it to the block (attach_cut_coupling), where local_block finds it as
// it finds a rank's cut under block Jacobi. ParallelPc::lump_cut decides whether the factor sees
// it (MIC(0) lumping it, the GNN reading it) or factors the block as it is.

#include <petscksp.h>

#include <string>

#include "operators/precond/petsc_factor.hpp"
#include "operators/precond/training.hpp"

namespace karman::precond {

// How the factor is used across ranks (case key test.parallel).
struct ParallelPc {
  enum class Form { bjacobi, asm_ };
  Form form = Form::bjacobi;
  long overlap = 1;  // ASM: layers of the matrix graph added to each rank's rows
  // ASM: basic (PC_ASM_BASIC) is symmetric, M⁻¹ = Σ_r R_rᵀ M_r⁻¹ R_r, what CG needs; restricted
  // (PC_ASM_RESTRICT, PETSc's default) prolongs only the rank's own rows and is not symmetric.
  bool restricted = false;
  // Whether the factor sees the coupling cut from its block (LocalBlock::dropped): MIC(0) lumps it
  // onto the diagonal (the block keeps A's row sums, a Neumann-like block) and the GNN reads it as
  // its δ feature. Without it the block is factored as it is (Dirichlet at the cut, the kind of
  // matrix a GNN trained on one rank has seen). Measured (Poisson 256², MIC(0), 2 ranks): block
  // Jacobi needs the lumping (121 iterations against 289), ASM must not have it (overlap 4: 157
  // against 93).
  bool lump_cut = true;
  // A coarse space around the form (coarse_space.hpp): none (one level), or nicolaides (one
  // vector per rank, the balancing two-level M⁻¹ = (I − QA) F⁻¹ (I − AQ) + Q, F the form above).
  enum class Coarse { none, nicolaides };
  Coarse coarse = Coarse::none;
  // nicolaides: vectors per rank (its rows in that many contiguous pieces).
  long coarse_vectors = 1;
  // ASM: subdomains per rank, its rows in that many contiguous pieces (PETSc's row layout of them)
  // before the overlap grows each: on one rank, the blocks `subdomains` ranks would factor
  // (partition-aware validation, training.hpp).
  long subdomains = 1;
};
// "bjacobi", "asm basic", "asm restrict"; + " dirichlet" / " lumped" off the form's default cut;
// + " + nicolaides" with the coarse space.
std::string parallel_pc_name(const ParallelPc& parallel);

// Make `pc` (of a KSP whose operators are set) the karman factor from `provider` (empty: the
// kind's reference factor, IC(0) or FSAI, which never read the cut) in the form `parallel`. On one
// rank both forms are the karman PC on the whole matrix (ASM with one subdomain applies the same
// M⁻¹). With parallel.coarse nicolaides, `pc` becomes the two-level PCSHELL around that form (on
// one rank too: Z is then the constant vector).
void set_factor_pc(PC pc, const ParallelPc& parallel, FactorProvider provider, FactorKind kind);

// The CG of timed_cg (same b, tolerance, norm, iteration limit, residual history) with the factor
// PC of set_factor_pc. setup_s also covers the sub-PCs' set-up (KSPSetUpOnBlocks; KSPSolve
// would do it otherwise), so ASM's factor and GNN inference count as set-up, as for block Jacobi.
CgRun timed_cg(Mat a, const ParallelPc& parallel, const FactorProvider& provider,
               FactorKind kind = FactorKind::cholesky);

}  // namespace karman::precond
