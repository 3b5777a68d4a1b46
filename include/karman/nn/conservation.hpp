#pragma once
// Conservation by construction: ProbConserv's update (Hansen et al., "Learning Physical Models
// that Can Respect Conservation Laws", ICML 2023, eq. 6–7). A model predicts a state u ~ N(μ, Σ)
// on n points; a conservation law's discrete balance is a linear constraint G u = b. Conditioning
// the Gaussian on it gives the variance-weighted least-squares projection onto {G u = b}:
//   μ̃ = μ − Σ Gᵀ (G Σ Gᵀ)⁻¹ (G μ − b),   Σ̃ = Σ − Σ Gᵀ (G Σ Gᵀ)⁻¹ G Σ.
// Where the model is unsure (large σ², e.g. near a shock) the state moves most; a point of zero
// variance does not move; equal variances give the orthogonal projection (the mean defect
// subtracted everywhere). Both the MP-PDE rollout and the FNO use it (a periodic domain's integral
// is conserved); the variance comes from an ensemble of independently trained models
// (ensemble_statistics), which needs no change to a model or its loss.
//
// The batched kernel handles the one constraint the E-family and Burgers need, the discrete
// integral dx Σ_i u_i = b, with a diagonal Σ = diag(σ²):
//   μ̃_i = μ_i − σ_i² (dx Σ_j μ_j − b) / (dx Σ_j σ_j²),   σ̃_i² = σ_i² − σ_i⁴ / Σ_j σ_j²
// (σ̃² is the diagonal of Σ̃; Σ̃ itself is no longer diagonal). A state whose variances are all
// zero (an ensemble of one, or members that agree exactly) gets equal weights: the orthogonal
// projection, the limit of equal small variances. Sums in double whatever T is.
// probconserv_dense is the plain host reference for any G (m constraints, dense).

#include <vector>

#include "karman/nn/tensor.hpp"

namespace karman::nn {

// Correct each row of `mean` [B, n] in place so that dx Σ_i mean(r, i) = target(r), by
// ProbConserv's update with the variances `variance` [B, n] (≥ 0). If `corrected_variance` is
// allocated ([B, n], may be `variance` itself) it receives the diagonal of Σ̃.
template <class T>
void conserve_integral(const Matrix<T>& mean, const Matrix<T>& variance,
                       const Vector<double>& target, double dx,
                       const Matrix<T>& corrected_variance = Matrix<T>());

// dx Σ_i u(r, i) per row of u [B, n], summed in double: the constraint's left side.  [B]
template <class T>
Vector<double> row_integrals(const Matrix<T>& u, double dx);

// Mean and variance (biased: 1/M, the mixture's spread) across the M members' predictions, each
// [R, C]: mean and variance [R, C] (allocated here when their shape differs).
template <class T>
void ensemble_statistics(const std::vector<Matrix<T>>& members, Matrix<T>& mean,
                         Matrix<T>& variance);

// The general update on the host: μ [n], σ² [n] (Σ diagonal), G [m, n] row-major, b [m].
// Returns μ̃ [n] and Σ̃ [n, n] row-major. G Σ Gᵀ must be invertible (InternalError if singular).
struct ProbConservResult {
  std::vector<double> mean;        // [n]
  std::vector<double> covariance;  // [n, n]
};
ProbConservResult probconserv_dense(const std::vector<double>& mean,
                                    const std::vector<double>& variance,
                                    const std::vector<double>& constraints,
                                    const std::vector<double>& target);

}  // namespace karman::nn
