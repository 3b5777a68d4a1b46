#pragma once
// The training loss of a learned FSAI factor G (lower triangular on tril(A), M⁻¹ = Gᵀ G ≈ A⁻¹):
//
//   f(G) = Σ_s ‖Gᵀ G b_s − x_s‖² / Σ_s ‖x_s‖²,   x_s = A⁻¹ b_s,
//
// a sampled estimate of ‖(Gᵀ G − A⁻¹) A‖²_F relative to ‖A⁻¹ b‖² — the factor loss
// (factor_loss.hpp) with the roles of x and b swapped, since Gᵀ G approximates A⁻¹ rather than A.
// Since A x = b, Gᵀ G b − x = (Gᵀ G A − I) x: the error of the preconditioned operator on the
// solutions, which weighs the smooth (small-eigenvalue) directions CG struggles with.
//
// With u = G b, z = Gᵀ u, r = z − x and g = 2r / Σ‖x‖², df = Σ_s gᵀ (dGᵀ u + Gᵀ dG b), so the
// gradient with respect to the stored entry (i, j) of G is
//
//   ∂f/∂G_ij = Σ_s u_i g_j + h_i b_j,   h = G g
//
// (the first term from the outer factor Gᵀ, the second from the inner G).
//
// Measured (issue 6): this loss is NOT aligned with CG on the tril(A) pattern. It weighs the
// solutions' smooth directions only, so it keeps falling as the off-diagonal of G grows while the
// top of G A Gᵀ's spectrum (which it does not see) grows faster: Poisson 16², G's off-diagonal
// scaled by 1 + c, c = 0 → 1: f 0.763 → 0.669, CG iterations 31 → 69. Trained with it (Poisson
// 12², 16², Adam 3e-3), validation iterations go 37 → 537 and model selection keeps the classical
// FSAI. The pattern also leaves little to gain: the best uniform scale c ≈ 0.5 saves ~4% (Poisson
// 64²: 114 → 109 iterations), the classical FSAI being the Kaporin-optimal G on its pattern.

#include "karman/nn/tensor.hpp"
#include "operators/precond/factor_loss.hpp"
#include "operators/precond/sparse.hpp"

namespace karman::precond {

// The loss with its gradient; buffers are kept between calls of the same shape.
class FsaiLoss {
 public:
  // lower: tril(A) as CSR (lower_triangle(a)); G's values are in its order.
  explicit FsaiLoss(const CsrMatrix& lower) : m_pattern(make_triangular_pattern(lower)) {}
  const TriangularPattern& pattern() const { return m_pattern; }

  // x, b [n, k] (column s is one pair, A x_s = b_s: the same argument order as FactorLoss);
  // g [entries]. Returns f and WRITES ∂f/∂g to dg [entries].
  double evaluate(const nn::Vector<double>& g, const nn::Matrix<double>& x,
                  const nn::Matrix<double>& b, const nn::Vector<double>& dg);

 private:
  TriangularPattern m_pattern;
  ProductLossBuffers m_buffers;  // G b, r → g, G g
};

}  // namespace karman::precond
