#pragma once
// The training loss of a learned factor L (lower triangular, on the pattern of tril(A)):
//
//   f(L) = Σ_s ‖L Lᵀ x_s − b_s‖² / Σ_s ‖b_s‖²,   x_s = A⁻¹ b_s,
//
// a sampled estimate of ‖(L Lᵀ − A) A⁻¹‖²_F (relative, so the scale of A and of the right-hand
// sides drops out). With y = Lᵀx, r = L y − b and g = 2r / Σ‖b‖², the gradient with respect to
// the stored entry (i, j) of L is
//
//   ∂f/∂L_ij = Σ_s g_i y_j + x_i (Lᵀ g)_j
//
// (the first term from the outer factor L, the second from the inner Lᵀ).

#include "karman/nn/tensor.hpp"
#include "operators/precond/sparse.hpp"

namespace karman::precond {

// The pattern of a lower-triangular factor, on the device, with its transpose: the entry lists
// of each row (for L y) and of each column (for Lᵀ x), so both products loop over their outputs
// and need no atomics.
struct TriangularPattern {
  long n = 0, entries = 0;
  Kokkos::View<long*, nn::MemorySpace> row_ptr, col;     // [n + 1], [entries]
  Kokkos::View<long*, nn::MemorySpace> entry_row;        // [entries] row of each entry
  Kokkos::View<long*, nn::MemorySpace> col_ptr, by_col;  // [n + 1], [entries] entry ids per column
};

// From a host CSR whose entries all satisfy col ≤ row (InternalError otherwise).
TriangularPattern make_triangular_pattern(const CsrMatrix& lower);

// Y = Lᵀ X and Z = L Y for X [n, k]; `l` [entries] holds L's values in the pattern's order.
void multiply_transpose(const TriangularPattern& p, const nn::Vector<double>& l,
                        const nn::Matrix<double>& x, const nn::Matrix<double>& y);
void multiply(const TriangularPattern& p, const nn::Vector<double>& l, const nn::Matrix<double>& y,
              const nn::Matrix<double>& z);

// The relative loss of a factor product applied to V [n, k] against a target Y [n, k],
//
//   f = ‖P' P V − Y‖² / ‖Y‖²   with P = Tᵀ, P' = T (InnerFactor::transpose: the
//   Cholesky factor, M = T Tᵀ) or P = T, P' = Tᵀ (InnerFactor::plain: the FSAI factor, M⁻¹ = Tᵀ T),
//
// T lower triangular with values t [entries] on the pattern. With W = P V, g = 2 (P' W − Y)/‖Y‖²
// and H = P g, the gradient with respect to the stored entry (i, j) of T is
//   transpose: Σ_s g_i W_j + V_i H_j,      plain: Σ_s W_i g_j + H_i V_j
// (the first term from the outer factor, the second from the inner). WRITES ∂f/∂t to dt.
// The one implementation behind FactorLoss and FsaiLoss (fsai_loss.hpp).
enum class InnerFactor { transpose, plain };
struct ProductLossBuffers {
  nn::Matrix<double> w, r, h;  // [n, k]: P V, r → g, P g (kept between calls of one shape)
};
double product_loss(const TriangularPattern& p, InnerFactor inner, const nn::Vector<double>& t,
                    const nn::Matrix<double>& v, const nn::Matrix<double>& y,
                    const nn::Vector<double>& dt, ProductLossBuffers& buffers);

// The loss with its gradient; buffers are kept between calls of the same shape.
class FactorLoss {
 public:
  explicit FactorLoss(const CsrMatrix& lower) : m_pattern(make_triangular_pattern(lower)) {}
  const TriangularPattern& pattern() const { return m_pattern; }

  // x, b [n, k] (column s is one pair); l [entries]. Returns f and WRITES ∂f/∂l to dl [entries].
  double evaluate(const nn::Vector<double>& l, const nn::Matrix<double>& x,
                  const nn::Matrix<double>& b, const nn::Vector<double>& dl);

 private:
  TriangularPattern m_pattern;
  ProductLossBuffers m_buffers;  // Lᵀx, r → g, Lᵀg
};

// One-shot form of FactorLoss::evaluate.
double factor_loss(const CsrMatrix& lower, const nn::Vector<double>& l, const nn::Matrix<double>& x,
                   const nn::Matrix<double>& b, const nn::Vector<double>& dl);

}  // namespace karman::precond
