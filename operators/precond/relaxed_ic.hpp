#pragma once
// Modified IC(0) with a relaxation and a diagonal perturbation per ROW, and its reverse pass: the
// factor a network predicts through per-row parameters (FactorGnnOptions::correction relaxation),
// so that every value of L follows from the factorisation and MIC(0)'s row-sum property holds by
// construction instead of being broken by corrections of L's values.
//
// The factorisation is mic0_values' right-looking loop with two changes:
//   - the update L_ik L_jk that IC(0) drops (fill (j, i) outside tril(A)) moves ω_i times onto
//     row i's diagonal and ω_j times onto row j's (mic0_values: one ω for all rows);
//   - the diagonal factored is a_ii (1 + δ_i) (Gustafsson's perturbed MIC, relative to a_ii so a
//     scaled matrix gets the same δ).
// With ω ≡ 1 and δ ≡ 0 it is mic0_values(a, lower, 1) exactly; a row with ω_i = 1 keeps its sum:
// (L Lᵀ 1)_i = (A 1)_i + δ_i a_ii.
//
// The reverse pass (backward) is the adjoint of that loop, run over the columns backwards. It
// records nothing but L: the Schur complement entry column k reads is L_kk² on the diagonal and
// L_ik L_kk below it, and every update to an entry is additive, so one adjoint per entry serves
// all of its updates.

#include <cstdint>
#include <vector>

#include "operators/precond/sparse.hpp"

namespace karman::precond {

// Per-row parameters of the relaxed factorisation: ω [n] and δ [n].
struct RowRelaxation {
  std::vector<double> omega;  // [n] share of the dropped fill moved onto row i's diagonal
  std::vector<double> shift;  // [n] δ_i: row i's diagonal factored is a_ii (1 + δ_i)
  static RowRelaxation mic0(std::int64_t rows) {
    return {std::vector<double>(rows, 1.0), std::vector<double>(rows, 0.0)};
  }
};

// The factorisation of one matrix, its pattern and column lists built once, for any number of
// (ω, δ) fields. `dropped` [n] (LocalBlock::dropped, or empty) is lumped onto the diagonal first,
// as reference_values does for MIC(0) of a rank's block.
class RelaxedIc {
 public:
  explicit RelaxedIc(const CsrMatrix& a, const std::vector<double>& dropped = {},
                     double pivot_tol = 1e-10);
  // The same on a's pattern when the caller has it (lower = lower_pattern(a)): the PC's set-up
  // builds it once.
  RelaxedIc(const CsrMatrix& a, LowerPattern lower, const std::vector<double>& dropped = {},
            double pivot_tol = 1e-10);
  std::int64_t rows() const { return m_lower.rows; }
  const LowerPattern& pattern() const { return m_lower; }

  // L [nnz_L] on pattern() for ω, δ [n]. NotSpdError on a pivot ≤ pivot_tol · a_ii. Records
  // nothing (backward needs only L): the set-up path.
  std::vector<double> factor(const RowRelaxation& relaxation) const;
  // The reference twin of factor(): the same sweep with a binary search for each update's target
  // (factor() walks a cursor down the column instead); the same L bit for bit.
  std::vector<double> factor_by_search(const RowRelaxation& relaxation) const;

  // The reverse pass: for l = factor(relaxation) and dl = ∂f/∂L [nnz_L], returns ∂f/∂ω and
  // ∂f/∂δ [n] (in a RowRelaxation's fields).
  RowRelaxation backward(const RowRelaxation& relaxation, const std::vector<double>& l,
                         const std::vector<double>& dl) const;

 private:
  // Index of L's entry (i, j), j ≤ i, or −1 when (i, j) is outside tril(A).
  std::int64_t find(std::int64_t i, std::int64_t j) const;
  // The same for (j, i), i ≤ j, by a cursor into column i's list (from m_col_ptr[i], advanced
  // here): the updates by one column reach rows j in increasing order, so the cursor only moves
  // forward.
  std::int64_t find_in_column(std::int64_t j, std::int64_t i, std::int64_t& cursor) const {
    const std::int64_t end = m_col_ptr[i + 1];
    while (cursor < end && m_row_of[m_by_col[cursor]] < j) ++cursor;
    return cursor < end && m_row_of[m_by_col[cursor]] == j ? m_by_col[cursor] : -1;
  }
  template <bool kBySearch>
  std::vector<double> sweep(const RowRelaxation& relaxation) const;
  void require_sizes(const RowRelaxation& relaxation) const;

  LowerPattern m_lower;
  std::vector<double> m_values;  // [nnz_L] tril(A) with dropped lumped onto the diagonal
  double m_pivot_tol;
  // Column lists of L: entries by_col[col_ptr[k] .. col_ptr[k+1]) are column k, rows increasing
  // (the diagonal first); row_of[p] is entry p's row.
  std::vector<std::int64_t> m_col_ptr, m_by_col, m_row_of;
};

}  // namespace karman::precond
