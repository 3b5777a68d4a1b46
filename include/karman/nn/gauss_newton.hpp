#pragma once
// Gauss–Newton for a loss that is a sum of squares, L(θ) = Σ_ranks ‖r(θ)‖², with r the scaled
// residuals of a PINN (or any least-squares fit). For a PDE linear in u this step is the energy
// natural gradient of Müller & Zeinhofer (ICML 2023): the Gramian G = Jᵀ J of the residual
// Jacobian J = ∂r/∂θ [rows, P] preconditions the gradient Jᵀ r, then a grid line search picks the
// step. Per iteration:
//   1. r, J at θ (each rank its rows; G = Σ_ranks Jᵀ J and b = Σ_ranks Jᵀ r),
//   2. d solves (G + λ I) d = b with PETSc: `svd` — the pseudo-inverse of the dense G (PCSVD,
//      singular values below rcond·‖G‖_F dropped, as a least-squares solve does), or `cg` —
//      matrix-free CG on v ↦ Σ_ranks Jᵀ(J v) + λ v (no P×P matrix: for larger networks),
//   3. θ ← θ − η d with η the best of 1, ½, ¼, … (line_search_points values) by the loss.
// Every rank solves the same small system on identical reduced data (summed in a fixed order), so
// all take the same step, and 1 and N ranks take the same steps.

#include <mpi.h>

#include <functional>
#include <string>
#include <vector>

#include "karman/nn/chunked_loss.hpp"
#include "karman/nn/loss.hpp"
#include "karman/nn/parameters.hpp"

namespace karman::nn {

struct GaussNewtonOptions {
  long max_iterations = 100;
  std::string linear_solver = "svd";  // svd | cg
  double damping = 0.0;               // λ ≥ 0
  double svd_rcond = 1e-12;           // svd: relative singular-value cutoff
  double cg_rtol = 1e-10;             // cg: relative residual tolerance
  long cg_max_iterations = 2000;      // cg
  long line_search_points = 31;       // η = 2^-k, k = 0 .. points − 1
  double tolerance_change = 0.0;      // stop when (L_k−1 − L_k) <= this · L_k−1
};

struct GaussNewtonResult {
  long iterations = 0;   // accepted steps
  long evaluations = 0;  // residual evaluations (with or without the Jacobian)
  double loss = 0.0;     // at the returned parameters
  // "max_iterations", "tolerance_change", "no_decrease" (no step size lowers the loss),
  // "non_finite" (a non-finite loss at the start), "linear_solver_failed".
  std::string stop_reason;
};

// The residuals in blocks, one per chunk: `chunks` global chunks (independent of the rank
// count), of which this rank owns TreeSum's share; rows[k] is the row count of its k-th block,
// and evaluate(k, r, jacobian) writes that block's scaled residuals r [rows[k]] at the current
// parameters and, when `jacobian` is not empty, their Jacobian [rows[k], P], returning the
// block's loss terms. Every sum over blocks (loss, Jᵀr, JᵀJ, Jᵀ(Jv)) runs along TreeSum's fixed
// tree, so any rank count takes bitwise the same steps.
template <class T>
struct LeastSquares {
  long chunks = 0;  // 0: no least-squares form of the loss
  std::vector<std::size_t> rows;
  std::function<std::vector<LossTerm>(std::size_t block, const Vector<T>& r,
                                      const Matrix<T>& jacobian)>
      evaluate;
};

// `on_iteration(k, loss, terms, step)` after each accepted step (terms summed over ranks).
template <class T>
GaussNewtonResult gauss_newton_minimize(
    MPI_Comm comm, Parameters<T>& parameters, const LeastSquares<T>& problem,
    const GaussNewtonOptions& options,
    const std::function<void(long, double, const std::vector<LossTerm>&, double)>& on_iteration =
        {});

}  // namespace karman::nn
