#pragma once
// A spectral training loss for a learned factor L: the (smoothed) log condition number of the
// preconditioned matrix M⁻¹A, M = L Lᵀ,
//
//   f(L) = smax_k log λ_k − smin_k log λ_k,   A v_k = λ_k M v_k,  v_kᵀ M v_k = 1,
//
// with smax / smin the log-sum-exp soft maximum / minimum (sharpness β): f → log κ(M⁻¹A) as
// β → ∞, and CG needs O(√κ) iterations, so this loss measures what CG pays for. The factor loss
// (factor_loss.hpp) averages the error over all eigen-directions; on 2D Poisson it rates a
// factor that is worse than MIC(0) in CG as better than MIC(0), because CG only cares about the
// spectrum's two ends and those are a vanishing share of the directions.
//
// Gradient (simple or degenerate eigenvalues alike, since only Σ over an eigenspace enters):
//   ∂λ_k/∂L_ij = −2 λ_k v_ki (Lᵀ v_k)_j,   ∂f/∂λ_k = (p_k − q_k) / λ_k,
//   p = softmax(β log λ), q = softmax(−β log λ)   ⇒   ∂f/∂L_ij = −2 Σ_k (p_k − q_k) v_ki (Lᵀv_k)_j.
//
// The generalized eigenproblem is solved densely (LAPACK dsygv): O(n³), for the small training
// matrices only (n ≲ 1000 rows).

#include <vector>

#include "operators/precond/sparse.hpp"

namespace karman::precond {

struct ConditionLossOptions {
  double sharpness = 8.0;  // β of the soft extremes (in log λ)
};

class ConditionLoss {
 public:
  ConditionLoss(const CsrMatrix& a, const LowerPattern& lower, ConditionLossOptions options = {});

  // l: L's values on `lower` [nnz_L]. Returns f and WRITES ∂f/∂l to dl [nnz_L].
  double evaluate(const std::vector<double>& l, std::vector<double>& dl);

  // λ_min, λ_max of M⁻¹A from the last evaluate (for logs and tests).
  double lambda_min() const { return m_lambda_min; }
  double lambda_max() const { return m_lambda_max; }

 private:
  LowerPattern m_lower;
  std::vector<double> m_a_dense;  // [n, n] column-major, A
  ConditionLossOptions m_options;
  double m_lambda_min = 0.0, m_lambda_max = 0.0;
};

}  // namespace karman::precond
