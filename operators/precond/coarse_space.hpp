#pragma once
// A coarse space for the learned factor across ranks (issue 19, item 3): the two-level, balancing
// form of a one-level PC F (block Jacobi or ASM with karman blocks, schwarz.hpp) with Nicolaides'
// coarse space, one vector per subdomain (rank): Z = [z_0 … z_{p−1}], z_r the indicator of rank
// r's owned rows, E = Zᵀ A Z (p × p, held and factored on every rank), Q = Z E⁻¹ Zᵀ, and
//
//   M⁻¹ = (I − Q A) F⁻¹ (I − A Q) + Q        (balancing Neumann–Neumann / A-DEF2 form)
//
// Why this form: it is symmetric positive definite for any SPD F⁻¹ (CG as it is, x0 = 0, no
// initial-guess correction as PCDEFLATION's P M⁻¹ + Q needs in its PCPreSolve), it is exact on the
// coarse space (M⁻¹ A z = z for z in span(Z)), and unlike the additive M⁻¹ = F⁻¹ + Q it does not
// depend on the relative scale of F⁻¹ and Q (ASM's basic form sums overlapped blocks, a factor up
// to 2 in the overlap). One level loses the global, smooth part of the error across the cuts: the
// overlap a rank needs to keep the one-rank iteration count then grows with the grid; Z carries
// the subdomains' means between them in one coarse solve. Measured (README, "A coarse space"):
// on Poisson 2D / 3D at 2 and 4 ranks it saves at most a few iterations; the loss across ranks
// there is not a coarse mode.
//
// k vectors per rank (vectors_per_rank, case key test.parallel.coarse_vectors): the rank's rows in
// k contiguous pieces (natural order: strips of grid lines), Z [N × k p].
//
// Cost per application: F⁻¹ once, two reductions of k p numbers, k p axpys and k p dot products
// over the rank's rows (A Z is kept, [n_local × k p]; k p matrix-vector products at set-up). On one
// rank with k = 1, Z is the constant vector.

#include <petscksp.h>

namespace karman::precond {

// Make `pc` (a KSP's PC, operators set or set later) a PCSHELL applying the balancing two-level
// form above around `fine`, a PC configured but not set up; `pc` takes `fine` over (destroys it).
// At set-up it gives `fine` its own operators, sets it up (sub-PCs included, PCSetUpOnBlocks, so
// they count as set-up) and builds Z's A Z and E from the operator A.
void set_nicolaides_coarse_pc(PC pc, PC fine, int vectors_per_rank = 1);

// The coarse correction alone, y = Q x = Z E⁻¹ Zᵀ x, of a PC that set_nicolaides_coarse_pc made
// (after set-up): for tests (Q A z = z on span(Z)).
void apply_coarse_correction(PC pc, Vec x, Vec y);

}  // namespace karman::precond
