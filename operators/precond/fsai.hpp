#pragma once
// The factorised sparse approximate inverse (FSAI, Kolotilina–Yeremin) variant of the learned CG
// preconditioner: instead of a factor L of A (M = L Lᵀ, applied by two triangular solves), a
// factor G of A⁻¹,
//
//   M⁻¹ = Gᵀ G ≈ A⁻¹,   G lower triangular on tril(A), positive diagonal,   G A Gᵀ ≈ I,
//
// applied by two sparse mat-vecs y = Gᵀ (G x): every row of either product is independent, so
// the apply is parallel within a rank (no triangular solve's sequential dependence), at the price
// of a weaker M⁻¹ per stored entry than IC(0).
//
// G's values live on the same LowerPattern as L's (tril(A), sorted columns, diagonal last in each
// row), so FactorProvider, the GNN and the PC's setup serve both kinds; FactorKind says which
// meaning the values have. PETSc-free (CSR in, CSR out).

#include <string>
#include <vector>

#include "operators/precond/sparse.hpp"

namespace karman::precond {

// What the factor values on tril(A) mean, and so how the PC applies them:
//   cholesky: L with M = L Lᵀ ≈ A,       apply (L Lᵀ)⁻¹ x (two triangular solves);
//   fsai:     G with M⁻¹ = Gᵀ G ≈ A⁻¹,   apply Gᵀ (G x)   (two sparse mat-vecs).
enum class FactorKind { cholesky, fsai };

// "cholesky" / "fsai" (the spelling of -pc_karman_type and of the case key model.factor).
std::string factor_kind_name(FactorKind kind);

// The classical FSAI on tril(A): for each row i with pattern P_i (the columns of tril(A)'s row i,
// i last), solve the small SPD system A[P_i, P_i] ĝ = e_i (LAPACK dpotrf/dpotrs) and scale
// g_i = ĝ / sqrt(ĝ_i), so that (G A Gᵀ)_ii = 1 and (G A)_ij = 0 for j in P_i, j < i. G_ii =
// sqrt(ĝ_i) > 0. Checks symmetry; throws NotSpdError when some A[P_i, P_i] is not positive
// definite. Rows are independent; here a sequential host loop (set-up, ≤ 7×7 systems in 2D/3D).
// Returns G's values [nnz_L] in `lower`'s order.
std::vector<double> fsai_values(const CsrMatrix& a, const LowerPattern& lower);

// The reference factor of a kind: IC(0) (ic0_values) or the classical FSAI (fsai_values).
std::vector<double> reference_factor(FactorKind kind, const CsrMatrix& a,
                                     const LowerPattern& lower);

// M⁻¹ = Gᵀ G held as two CSR matrices, G [n×n, lower] and Gᵀ [n×n, upper], so that both products
// loop over their output rows (no atomics, no transposed scatter). Kokkos kernels on the host
// execution space over unmanaged views of the (host) CSR arrays and PETSc's vectors.
class FsaiOperator {
 public:
  FsaiOperator() = default;
  // g: G's values [nnz_L] on `lower` (copied).
  FsaiOperator(const LowerPattern& lower, const std::vector<double>& g);

  std::int64_t rows() const { return m_g.rows; }
  // out = Gᵀ (G v). v, out: [n], must not alias.
  void apply(const double* v, double* out) const;

 private:
  CsrMatrix m_g, m_gt;
  mutable std::vector<double> m_work;  // [n]: G v
};

// out = B v for a square CSR matrix B (one Kokkos host kernel over B's rows). v, out: [n], must
// not alias.
void csr_multiply(const CsrMatrix& b, const double* v, double* out);

}  // namespace karman::precond
