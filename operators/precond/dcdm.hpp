#pragma once
// The Deep Conjugate Direction Method (Kaneda et al., ICML 2023; issue 19 item 4): a map
// q = f(r/‖r‖) that approximates A⁻¹ up to an unknown scale, used inside a conjugate-direction
// iteration that A-orthogonalises q against the last two directions only and recomputes the
// residual as b − A x every iteration. f is nonlinear once it is a network, so this is a truncated
// flexible CG, not a Krylov method.
//
// Pieces here:
// - the PETSc KSP type `dcdm` (-ksp_type dcdm). The direction map f is the KSP's PC: -pc_type
//   none makes f the identity (DCDM is then CG in exact arithmetic), a direct solve makes it A⁻¹
//   (one iteration), and a network becomes a PC type beside `karman` (the later slice).
// - the paper's unsupervised loss with the unknown scale accounted for, and its gradient with
//   respect to the network's output (what a trainer backpropagates through the network);
// - the training vectors the paper generates from A: Ritz vectors of a Lanczos run (full
//   reorthogonalisation), combined with Gaussian weights that favour the low end of the spectrum;
// - the test problem: pressure Poisson on an n×n cell grid with solid obstacles (smoke-like).

#include <cstdint>
#include <vector>

#include "operators/precond/sparse.hpp"

namespace karman::precond {

// KSPRegister("dcdm", ...) once; -ksp_type dcdm from then on. The KSP supports the
// unpreconditioned norm only (the true residual ‖b − A x‖, recomputed every iteration), left
// "preconditioning" (the PC is the direction map), and checks at set-up that A is symmetric.
void register_dcdm_ksp();

// ---- The loss (the paper's, per training vector b with ‖b‖ = 1 and network output q):
//   s(q) = qᵀb / qᵀAq          the step of an exact line search along q from x = 0 (A-norm),
//   L(q) = ‖b − s(q) A q‖²     the residual left after that step.
// L is invariant under q → c q for any c ≠ 0: only q's direction is learned, the scale is the
// unknown one of "A⁻¹ up to a scale". L = 0 iff A q ∥ b, i.e. q ∥ A⁻¹ b.
struct DcdmLoss {
  double value = 0.0;
  std::vector<double> gradient;  // [n] ∂L/∂q
};
// a: n×n symmetric (only its products are used); b, q: [n]. Throws std::invalid_argument on a
// size mismatch and when qᵀAq ≤ 0 (q = 0 or A not positive definite along q).
DcdmLoss dcdm_loss(const CsrMatrix& a, const std::vector<double>& b, const std::vector<double>& q);

// ---- Training vectors from A (the paper's construction)
struct RitzPairs {
  std::vector<double> values;                // [m] Ritz values, ascending
  std::vector<std::vector<double>> vectors;  // [m][n] orthonormal Ritz vectors, same order
};
// m steps of Lanczos with full reorthogonalisation from a start vector A z, z ~ N(0, 1) seeded
// `seed` (A z has no component in A's null space), then the eigenpairs of the m×m tridiagonal
// matrix (Jacobi rotations). Throws std::invalid_argument unless 1 ≤ m ≤ n; stops early (fewer
// pairs) at an invariant subspace.
RitzPairs lanczos_ritz_pairs(const CsrMatrix& a, std::int64_t steps, std::uint64_t seed);

// `count` unit vectors b = Σ_k c_k v_k / ‖·‖ over the Ritz vectors v_k with Ritz value above
// 1e-8 (the null space is left out), c_k ~ N(0, 1), times `low_weight` for the lowest
// m/2 + theta of them (the paper: weight 9, theta 500 for m = 10000): the error components CG
// struggles with dominate the training set. Returns [count][n].
std::vector<std::vector<double>> ritz_training_vectors(const RitzPairs& ritz, std::int64_t count,
                                                       std::int64_t theta, double low_weight,
                                                       std::uint64_t seed);

// ---- The obstacle problem: −Δp on the fluid cells of an n×n (2D) or n×n×n (3D) cell grid (h²
// scaled out), a 5-point (7-point) finite-volume stencil. Faces between two fluid cells couple
// them (−1 off the diagonal, +1 on it); a face on a solid cell is a Neumann wall (no flux:
// nothing); a face on the outer box is Dirichlet, p = 0 in the ghost cell beyond it (+1 on the
// diagonal), as in create_poisson_2d (an all-fluid 2D grid gives exactly its matrix).
// Every fluid region reaches the outer box (the obstacle generators fill enclosed pockets), so A
// is SPD.
struct ObstacleGrid {
  std::int64_t n = 0;             // cells per side
  int dims = 2;                   // 2 or 3
  std::vector<char> solid;        // [n^dims] 1 on obstacle cells, x fastest (c = i + n j + n² k)
  std::vector<std::int64_t> row;  // [n^dims] the cell's unknown, −1 on solid cells
  CsrMatrix a;                    // [fluid cells]², rows in cell order
  std::int64_t cells() const { return dims == 3 ? n * n * n : n * n; }
};

// Smoke-like obstacles: `count` shapes (alternately disks and axis-aligned boxes) with centres
// and sizes drawn from `seed` in units of the box (the same shapes at every n, resolved more
// finely as n grows), kept a margin of 1/8 away from the outer box; fluid cells that no path of
// fluid faces connects to the outer box become solid.
std::vector<char> obstacles_2d(std::int64_t n, std::int64_t count, std::uint64_t seed);
// The same in 3D: spheres and boxes.
std::vector<char> obstacles_3d(std::int64_t n, std::int64_t count, std::uint64_t seed);

// The matrix of `solid` (n² or n³ cells). Throws std::invalid_argument on a size mismatch or
// when no cell is fluid.
ObstacleGrid obstacle_poisson_2d(std::int64_t n, const std::vector<char>& solid);
ObstacleGrid obstacle_poisson_3d(std::int64_t n, const std::vector<char>& solid);

}  // namespace karman::precond
