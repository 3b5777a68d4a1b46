#pragma once
// The PETSc side of the learned CG preconditioner (issue 6): SPD test matrices, the local
// diagonal block of an AIJ matrix as CSR, path A (Ã = pattern(A) ∘ (L Lᵀ) handed to -pc_type icc)
// and path B (the registered preconditioner type `karman`, which owns L and applies (L Lᵀ)⁻¹).
//
// This header includes petscksp.h on purpose: everything here takes or makes Mat/PC objects, and
// hiding them behind opaque handles would only add a layer. The PETSc-free part (CSR, tril
// pattern, IC(0), triangular solves) is operators/precond/sparse.hpp. Matrices are returned
// PETSc-style through `Mat* out` (caller destroys; works with petsc::Mat::out()).

#include <petscksp.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "operators/precond/fsai.hpp"
#include "operators/precond/sparse.hpp"

namespace karman::precond {

// ---- SPD test matrices (Dirichlet, interior unknowns, natural row order, block rows per rank).
// 2D 5-point Poisson on an n×n interior grid: N = n², stencil (4, −1) (h² scaled out).
void create_poisson_2d(MPI_Comm comm, PetscInt n, Mat* out);
// 3D 7-point Poisson on an n×n×n interior grid: N = n³, stencil (6, −1).
void create_poisson_3d(MPI_Comm comm, PetscInt n, Mat* out);
// −∇·(κ∇u) on an n×n interior grid, κ given on all (n+2)×(n+2) nodes (boundary included, row
// major, κ > 0); the coefficient of a face is the average of its two nodes. N = n².
void create_diffusion_2d(MPI_Comm comm, PetscInt n, const std::vector<double>& kappa_nodes,
                         Mat* out);

// ---- CSR exchange
// The rank's diagonal block of an AIJ matrix (the whole matrix on one rank) as CSR.
CsrMatrix local_diagonal_block(Mat a);
// The same block with the coupling the partition dropped: dropped_i = Σ |a_ij| over the rank's
// off-diagonal block (MPIAIJ, read through MatMPIAIJGetSeqAIJ; no communication), and the global
// row count (LocalBlock::global_rows); all zero for a sequential matrix unless
// attach_cut_coupling gave it both. Under -pc_type bjacobi -sub_pc_type
// karman the sub-PC's matrix is the sequential block itself, so the dropped coupling is invisible
// there (zero), and so is the global size (the relaxation model then takes h from the block's
// rows): partition-aware factors need -pc_type karman on the MPI matrix, which is block Jacobi
// already, or ASM through set_factor_pc (schwarz.hpp), which attaches both. From the options
// database alone this costs nothing: the PC then has its reference factor (IC(0) or FSAI), which
// reads neither; only a provider installed by code on a PETSc-made sub-PC would.
LocalBlock local_block(Mat a);
// Attach to a sequential block the coupling cut from it (dropped: [rows]) and the row count of the
// matrix it was cut from, which local_block then reports: ASM's overlapped blocks are sequential
// copies that keep no trace of the cut or of the global size.
void attach_cut_coupling(Mat block, const std::vector<double>& dropped, std::int64_t global_rows);
// A sequential AIJ matrix with the values and pattern of `csr` (copied).
void create_seq_aij(const CsrMatrix& csr, Mat* out);
// An AIJ matrix on comm whose diagonal block on each rank is that rank's `block` (copied, rows in
// rank order) and whose off-diagonal blocks are empty. Collective.
void create_block_diagonal_aij(MPI_Comm comm, const CsrMatrix& block, Mat* out);

// ---- Path A: Ã = pattern(A) ∘ (L Lᵀ) for KSPSetOperators(ksp, A, Ã) with -pc_type icc (0 levels,
// natural ordering); on several ranks L is the factor of this rank's diagonal block, Ã is block
// diagonal on A's communicator, and the PC is bjacobi + sub icc (which only reads those blocks).
//
// When it reproduces L: IC(0) of a matrix B on pattern P is the unique L on tril(P) with
// (L Lᵀ)_ij = b_ij for all (i, j) in P (each entry's update Σ_{k<j} L_ik L_jk only sees k in both
// rows, i.e. exactly (L Lᵀ)_ij − L_ij L_jj). Ã matches L Lᵀ on P by construction, so IC(0)(Ã) = L
// for EVERY L on tril(A) with positive diagonal, up to rounding — the fill of L Lᵀ outside P is
// dropped from Ã but IC(0) never looks at it. Path A is therefore exact in exact arithmetic; it
// is only approximate if PETSc reorders (non-natural ordering), shifts (a pivot ≤ 0 cannot
// happen: pivots are L_ii² > 0) or uses levels > 0 (then the fill is not L Lᵀ's).
void create_pattern_product(Mat a, const LowerPattern& lower, const std::vector<double>& l,
                            Mat* a_tilde);

// ---- Path B: -pc_type karman
// Where the PC's factor comes from: given the preconditioning matrix's local block (with the
// coupling the partition dropped) and its tril pattern, return L's values [nnz_L] (positive
// diagonal; G's values in fsai mode). Default: the kind's reference factor (IC(0) or the
// classical FSAI); the GNN plugs in here. A callable taking (const CsrMatrix&, const
// LowerPattern&) converts too (a LocalBlock is a CsrMatrix).
using FactorProvider = std::function<std::vector<double>(const LocalBlock&, const LowerPattern&)>;

// Emulates `parts` ranks on the block the PC is given: splits it into `parts` blocks of rows as
// PETSc's default layout does (row_layout), asks `provider` for each block's factor (with the
// coupling cut from it in `dropped`), and returns the block-diagonal factor on tril(block), zero
// on the entries between blocks. On one rank and a whole matrix, this is exactly what `parts`
// ranks compute with -pc_type karman (same blocks, same dropped coupling, same factors).
FactorProvider partitioned_provider(FactorProvider provider, std::int64_t parts);

// Register the PC type "karman" (idempotent; call once after PetscInitialize). Then -pc_type
// karman and -sub_pc_type karman (bjacobi, asm) work from the options database. On several ranks
// it acts on each rank's diagonal block (block Jacobi with the learned factor).
void register_karman_pc();
// Two kinds (fsai.hpp): -pc_karman_type cholesky (default) applies (L Lᵀ)⁻¹ by two triangular
// solves; -pc_karman_type fsai reads the provider's values as G (M⁻¹ = Gᵀ G ≈ A⁻¹, G lower
// triangular on tril(P), G P Gᵀ ≈ I) and applies Gᵀ (G x) by two sparse mat-vecs.

// Replace the factor provider of a PC of type karman (before PCSetUp / KSPSolve; after set-up it
// refactors at once). An empty provider restores the default: the reference factor of the PC's
// kind, IC(0) for cholesky, the classical FSAI for fsai.
void pc_karman_set_factor_provider(PC pc, FactorProvider provider);
// The C++ form of -pc_karman_type (after set-up it refactors at once), and its current value.
void pc_karman_set_type(PC pc, FactorKind kind);
FactorKind pc_karman_get_type(PC pc);

}  // namespace karman::precond
