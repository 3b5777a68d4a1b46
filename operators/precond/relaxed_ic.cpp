#include "operators/precond/relaxed_ic.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

namespace karman::precond {

RelaxedIc::RelaxedIc(const CsrMatrix& a, const std::vector<double>& dropped, double pivot_tol)
    : RelaxedIc(a, lower_pattern(a), dropped, pivot_tol) {}

RelaxedIc::RelaxedIc(const CsrMatrix& a, LowerPattern lower, const std::vector<double>& dropped,
                     double pivot_tol)
    : m_lower(std::move(lower)), m_values(m_lower.nnz()), m_pivot_tol(pivot_tol) {
  if (m_lower.rows != a.rows || m_lower.nnz() > static_cast<std::int64_t>(a.values.size()))
    throw NotSpdError("RelaxedIc: the pattern (" + std::to_string(m_lower.rows) + " rows, " +
                      std::to_string(m_lower.nnz()) + " entries) is not the matrix's (" +
                      std::to_string(a.rows) + " rows)");
  require_symmetric(a);
  const std::int64_t n = m_lower.rows;
  if (!dropped.empty() && static_cast<std::int64_t>(dropped.size()) != n)
    throw NotSpdError("RelaxedIc: dropped has " + std::to_string(dropped.size()) + " values for " +
                      std::to_string(n) + " rows");
  for (std::int64_t p = 0; p < m_lower.nnz(); ++p) m_values[p] = a.values[m_lower.position_in_a[p]];
  if (!dropped.empty())
    for (std::int64_t i = 0; i < n; ++i) m_values[m_lower.diagonal(i)] -= dropped[i];

  m_col_ptr.assign(n + 1, 0);
  m_by_col.resize(m_lower.nnz());
  m_row_of.resize(m_lower.nnz());
  for (std::int64_t p = 0; p < m_lower.nnz(); ++p) ++m_col_ptr[m_lower.col[p] + 1];
  for (std::int64_t k = 0; k < n; ++k) m_col_ptr[k + 1] += m_col_ptr[k];
  std::vector<std::int64_t> next(m_col_ptr.begin(), m_col_ptr.end() - 1);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t p = m_lower.row_ptr[i]; p < m_lower.row_ptr[i + 1]; ++p) {
      m_by_col[next[m_lower.col[p]]++] = p;
      m_row_of[p] = i;
    }
}

std::int64_t RelaxedIc::find(std::int64_t i, std::int64_t j) const {
  const auto first = m_lower.col.begin() + m_lower.row_ptr[i];
  const auto last = m_lower.col.begin() + m_lower.row_ptr[i + 1];
  const auto it = std::lower_bound(first, last, j);
  return (it != last && *it == j) ? static_cast<std::int64_t>(it - m_lower.col.begin()) : -1;
}

void RelaxedIc::require_sizes(const RowRelaxation& relaxation) const {
  if (static_cast<std::int64_t>(relaxation.omega.size()) != rows() ||
      static_cast<std::int64_t>(relaxation.shift.size()) != rows())
    throw NotSpdError("RelaxedIc: ω and δ need " + std::to_string(rows()) + " values each, got " +
                      std::to_string(relaxation.omega.size()) + " and " +
                      std::to_string(relaxation.shift.size()));
}

std::vector<double> RelaxedIc::factor(const RowRelaxation& relaxation) const {
  return sweep<false>(relaxation);
}

std::vector<double> RelaxedIc::factor_by_search(const RowRelaxation& relaxation) const {
  return sweep<true>(relaxation);
}

template <bool kBySearch>
std::vector<double> RelaxedIc::sweep(const RowRelaxation& relaxation) const {
  require_sizes(relaxation);
  const std::vector<double>& omega = relaxation.omega;
  // w: the Schur complement's entries on tril(A), updated column by column; l: the factor.
  std::vector<double> w = m_values, l(m_lower.nnz(), 0.0);
  for (std::int64_t i = 0; i < rows(); ++i) w[m_lower.diagonal(i)] *= 1.0 + relaxation.shift[i];
  for (std::int64_t k = 0; k < rows(); ++k) {
    const std::int64_t d = m_lower.diagonal(k);
    if (!(w[d] > m_pivot_tol * std::abs(m_values[d]))) {
      char text[160];
      std::snprintf(text, sizeof text,
                    "relaxed MIC(0) pivot %.6g at row %lld is not positive (a_ii = %.6g, ω = %.6g, "
                    "δ = %.6g)",
                    w[d], static_cast<long long>(k), m_values[d], omega[k], relaxation.shift[k]);
      throw NotSpdError(text);
    }
    l[d] = std::sqrt(w[d]);
    const std::int64_t first = m_col_ptr[k] + 1, last = m_col_ptr[k + 1];  // below the diagonal
    for (std::int64_t s = first; s < last; ++s) l[m_by_col[s]] = w[m_by_col[s]] / l[d];
    // Rank-one update by column k: (j, i) −= L_ik L_jk for rows i ≤ j of the column; an update
    // outside the pattern moves ω_i-scaled onto row i's diagonal and ω_j-scaled onto row j's.
    for (std::int64_t s = first; s < last; ++s) {
      const std::int64_t p = m_by_col[s], i = m_row_of[p];
      std::int64_t cursor = m_col_ptr[i];
      for (std::int64_t t = s; t < last; ++t) {
        const std::int64_t q = m_by_col[t], j = m_row_of[q];
        const double update = l[p] * l[q];
        const std::int64_t target = kBySearch ? find(j, i) : find_in_column(j, i, cursor);
        if (target >= 0) {
          w[target] -= update;
        } else {
          w[m_lower.diagonal(i)] -= omega[i] * update;
          w[m_lower.diagonal(j)] -= omega[j] * update;
        }
      }
    }
  }
  return l;
}

RowRelaxation RelaxedIc::backward(const RowRelaxation& relaxation, const std::vector<double>& l,
                                  const std::vector<double>& dl) const {
  require_sizes(relaxation);
  const std::vector<double>& omega = relaxation.omega;
  RowRelaxation grad{std::vector<double>(rows(), 0.0), std::vector<double>(rows(), 0.0)};
  // l_bar: ∂f/∂L, grown by the uses of L in the updates; w_bar: ∂f/∂w (one per entry: every
  // update of w is additive, so the adjoint of its final value is the adjoint of each update).
  std::vector<double> l_bar = dl, w_bar(m_lower.nnz(), 0.0);
  for (std::int64_t k = rows() - 1; k >= 0; --k) {
    const std::int64_t d = m_lower.diagonal(k);
    const std::int64_t first = m_col_ptr[k] + 1, last = m_col_ptr[k + 1];
    // The updates by column k, reversed: they wrote only to columns > k, whose w_bar is final.
    for (std::int64_t s = first; s < last; ++s) {
      const std::int64_t p = m_by_col[s], i = m_row_of[p];
      std::int64_t cursor = m_col_ptr[i];
      for (std::int64_t t = s; t < last; ++t) {
        const std::int64_t q = m_by_col[t], j = m_row_of[q];
        const std::int64_t target = find_in_column(j, i, cursor);
        double update_bar;  // ∂f/∂(L_ik L_jk)
        if (target >= 0) {
          update_bar = -w_bar[target];
        } else {
          const double update = l[p] * l[q];
          const double w_bar_i = w_bar[m_lower.diagonal(i)], w_bar_j = w_bar[m_lower.diagonal(j)];
          update_bar = -(omega[i] * w_bar_i + omega[j] * w_bar_j);
          grad.omega[i] -= update * w_bar_i;
          grad.omega[j] -= update * w_bar_j;
        }
        l_bar[p] += update_bar * l[q];  // s = t: both lines, 2 L_ik ū
        l_bar[q] += update_bar * l[p];
      }
    }
    // L_ik = w_ik / L_kk below the diagonal, then L_kk = sqrt(w_kk).
    for (std::int64_t s = first; s < last; ++s) {
      const std::int64_t p = m_by_col[s];
      w_bar[p] = l_bar[p] / l[d];
      l_bar[d] -= l_bar[p] * l[p] / l[d];
    }
    w_bar[d] = l_bar[d] / (2.0 * l[d]);
  }
  // w_kk starts at a_kk (1 + δ_k).
  for (std::int64_t i = 0; i < rows(); ++i)
    grad.shift[i] = w_bar[m_lower.diagonal(i)] * m_values[m_lower.diagonal(i)];
  return grad;
}

}  // namespace karman::precond
