#include "operators/precond/sparse.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace karman::precond {
namespace {

template <class T>  // a host array seen as a view (no ownership, no copy)
using HostView = Kokkos::View<T*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

// Six significant digits, so a tiny pivot reads 2.2e-16 rather than 0.000000.
std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

std::string entry_name(std::int64_t i, std::int64_t j) {
  return "(" + std::to_string(i) + ", " + std::to_string(j) + ")";
}

// Σ_k L_ik L_jk over the common columns k < limit of rows i and j of L (sorted merge).
double row_dot(const LowerPattern& lower, const std::vector<double>& l, std::int64_t i,
               std::int64_t j, std::int64_t limit) {
  std::int64_t p = lower.row_ptr[i], q = lower.row_ptr[j];
  const std::int64_t p_end = lower.row_ptr[i + 1], q_end = lower.row_ptr[j + 1];
  double sum = 0.0;
  while (p < p_end && q < q_end && lower.col[p] < limit && lower.col[q] < limit) {
    if (lower.col[p] < lower.col[q]) {
      ++p;
    } else if (lower.col[q] < lower.col[p]) {
      ++q;
    } else {
      sum += l[p++] * l[q++];
    }
  }
  return sum;
}

// Index of a_ij in A's pattern, or −1.
std::int64_t find_entry(const CsrMatrix& a, std::int64_t i, std::int64_t j) {
  const auto first = a.col.begin() + a.row_ptr[i], last = a.col.begin() + a.row_ptr[i + 1];
  const auto it = std::lower_bound(first, last, j);
  return (it != last && *it == j) ? static_cast<std::int64_t>(it - a.col.begin()) : -1;
}

}  // namespace

std::vector<std::int64_t> row_layout(std::int64_t n, std::int64_t parts) {
  if (parts < 1 || parts > n)
    throw std::invalid_argument("row_layout: cannot split " + std::to_string(n) + " rows into " +
                                std::to_string(parts) + " blocks");
  std::vector<std::int64_t> bounds(1, 0);
  for (std::int64_t q = 0; q < parts; ++q)
    bounds.push_back(bounds.back() + n / parts + (q < n % parts ? 1 : 0));
  return bounds;
}

LocalBlock diagonal_block(const LocalBlock& a, std::int64_t first, std::int64_t last) {
  if (first < 0 || first >= last || last > a.rows)
    throw std::invalid_argument("diagonal_block: rows [" + std::to_string(first) + ", " +
                                std::to_string(last) + ") are not a block of " +
                                std::to_string(a.rows) + " rows");
  LocalBlock block;
  block.rows = last - first;
  block.global_rows = a.problem_rows();
  block.row_ptr.assign(1, 0);
  block.dropped.assign(block.rows, 0.0);
  for (std::int64_t i = first; i < last; ++i) {
    double& dropped = block.dropped[i - first];
    dropped = a.dropped_at(i);
    for (std::int64_t p = a.row_ptr[i]; p < a.row_ptr[i + 1]; ++p) {
      const std::int64_t j = a.col[p];
      if (j < first || j >= last) {
        dropped += std::abs(a.values[p]);
        continue;
      }
      block.col.push_back(j - first);
      block.values.push_back(a.values[p]);
    }
    block.row_ptr.push_back(block.nnz());
  }
  return block;
}

LowerPattern lower_pattern(const CsrMatrix& a) {
  LowerPattern lower;
  lower.rows = a.rows;
  lower.row_ptr.assign(1, 0);
  for (std::int64_t i = 0; i < a.rows; ++i) {
    bool has_diagonal = false;
    for (std::int64_t p = a.row_ptr[i]; p < a.row_ptr[i + 1] && a.col[p] <= i; ++p) {
      lower.col.push_back(a.col[p]);
      lower.position_in_a.push_back(p);
      has_diagonal = (a.col[p] == i);
    }
    if (!has_diagonal) throw NotSpdError("row " + std::to_string(i) + " has no diagonal entry");
    lower.row_ptr.push_back(lower.nnz());
  }
  return lower;
}

namespace {
double largest_magnitude(const std::vector<double>& values) {
  double scale = 0.0;
  for (double v : values) scale = std::max(scale, std::abs(v));
  return scale;
}
}  // namespace

void require_symmetric(const CsrMatrix& a, double rel_tol) {
  // Rows in order: the mirrors (j, i) of row i's entries above the diagonal (j > i) are met in row
  // j in increasing column order as i grows, so one cursor per row walks row j once instead of a
  // binary search per entry (mic0_values and RelaxedIc check A at every set-up). Every entry above
  // the diagonal is checked against its mirror; the entries below it are then all mirrors of
  // checked ones when their count matches. Anything else (a missing mirror, an asymmetric value,
  // an explicit zero without a mirror): the search check decides and names the entry.
  const double tolerance = rel_tol * largest_magnitude(a.values);
  std::vector<std::int64_t> cursor(a.row_ptr.begin(), a.row_ptr.end() - 1);
  std::int64_t below = 0, matched = 0;
  for (std::int64_t i = 0; i < a.rows; ++i)
    for (std::int64_t p = a.row_ptr[i]; p < a.row_ptr[i + 1]; ++p) {
      const std::int64_t j = a.col[p];
      if (j <= i) {
        below += j < i;
        continue;
      }
      std::int64_t& c = cursor[j];
      const std::int64_t end = a.row_ptr[j + 1];
      while (c < end && a.col[c] < i) ++c;
      if (c == end || a.col[c] != i || std::abs(a.values[p] - a.values[c]) > tolerance)
        return require_symmetric_by_search(a, rel_tol);
      ++matched;
    }
  if (matched != below) require_symmetric_by_search(a, rel_tol);
}

void require_symmetric_by_search(const CsrMatrix& a, double rel_tol) {
  const double scale = largest_magnitude(a.values);
  for (std::int64_t i = 0; i < a.rows; ++i) {
    for (std::int64_t p = a.row_ptr[i]; p < a.row_ptr[i + 1]; ++p) {
      const std::int64_t j = a.col[p], q = find_entry(a, j, i);
      const double a_ji = q < 0 ? 0.0 : a.values[q];
      if (std::abs(a.values[p] - a_ji) > rel_tol * scale)
        throw NotSpdError("matrix is not symmetric: a" + entry_name(i, j) + " = " +
                          number(a.values[p]) + " but a" + entry_name(j, i) + " = " + number(a_ji));
    }
  }
}

void require_positive_diagonal(const LowerPattern& lower, const std::vector<double>& l) {
  if (static_cast<std::int64_t>(l.size()) != lower.nnz())
    throw NotSpdError("factor has " + std::to_string(l.size()) + " values, its pattern " +
                      std::to_string(lower.nnz()));
  for (std::int64_t i = 0; i < lower.rows; ++i)
    if (!(l[lower.diagonal(i)] > 0.0))
      throw NotSpdError("factor diagonal L" + entry_name(i, i) + " = " +
                        number(l[lower.diagonal(i)]) + " is not positive");
}

std::vector<double> ic0_values(const CsrMatrix& a, const LowerPattern& lower, double pivot_tol) {
  require_symmetric(a);
  std::vector<double> l(lower.nnz(), 0.0);
  for (std::int64_t i = 0; i < lower.rows; ++i) {
    for (std::int64_t p = lower.row_ptr[i]; p < lower.row_ptr[i + 1]; ++p) {
      const std::int64_t j = lower.col[p];
      const double a_ij = a.values[lower.position_in_a[p]];
      const double s = a_ij - row_dot(lower, l, i, j, j);  // a_ij − Σ_{k<j} L_ik L_jk
      if (j < i) {
        l[p] = s / l[lower.diagonal(j)];
      } else if (s > pivot_tol * std::abs(a_ij)) {
        l[p] = std::sqrt(s);
      } else {
        throw NotSpdError("IC(0) pivot " + number(s) + " at row " + std::to_string(i) +
                          " is not positive (a_ii = " + number(a_ij) +
                          "): the matrix is singular or not positive definite");
      }
    }
  }
  return l;
}

std::vector<double> mic0_values(const CsrMatrix& a, const LowerPattern& lower, double omega,
                                double pivot_tol) {
  require_symmetric(a);
  const std::int64_t n = lower.rows;
  // Column lists of L (entry ids, rows increasing): the right-looking sweep works by columns.
  std::vector<std::int64_t> col_ptr(n + 1, 0), by_col(lower.nnz()), row_of(lower.nnz());
  for (std::int64_t p = 0; p < lower.nnz(); ++p) ++col_ptr[lower.col[p] + 1];
  for (std::int64_t k = 0; k < n; ++k) col_ptr[k + 1] += col_ptr[k];
  std::vector<std::int64_t> next(col_ptr.begin(), col_ptr.end() - 1);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t p = lower.row_ptr[i]; p < lower.row_ptr[i + 1]; ++p) {
      by_col[next[lower.col[p]]++] = p;
      row_of[p] = i;
    }

  // w: the Schur complement's entries on tril(A), updated column by column; l: the factor.
  std::vector<double> w(lower.nnz()), l(lower.nnz(), 0.0);
  for (std::int64_t p = 0; p < lower.nnz(); ++p) w[p] = a.values[lower.position_in_a[p]];
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t d = lower.diagonal(k);
    const double a_kk = a.values[lower.position_in_a[d]];
    if (!(w[d] > pivot_tol * std::abs(a_kk)))
      throw NotSpdError("MIC(0) pivot " + number(w[d]) + " at row " + std::to_string(k) +
                        " is not positive (a_ii = " + number(a_kk) +
                        "): the matrix is singular or not positive definite");
    l[d] = std::sqrt(w[d]);
    const std::int64_t first = col_ptr[k] + 1, last = col_ptr[k + 1];  // below the diagonal
    for (std::int64_t s = first; s < last; ++s) l[by_col[s]] = w[by_col[s]] / l[d];
    // Rank-one update by column k: (j, i) −= L_ik L_jk for rows i ≤ j of the column; an update
    // outside the pattern is dropped and, scaled by ω, moved onto both diagonals.
    for (std::int64_t s = first; s < last; ++s) {
      const std::int64_t p = by_col[s], i = row_of[p];
      // The targets (j, i) of column k's pairs with row i are entries of column i, met in
      // increasing j: a cursor walks column i's list instead of a binary search per update
      // (RelaxedIc::factor_by_search keeps the search; the tests compare the two).
      std::int64_t cursor = col_ptr[i];
      for (std::int64_t t = s; t < last; ++t) {
        const std::int64_t q = by_col[t], j = row_of[q];
        const double update = l[p] * l[q];
        while (cursor < col_ptr[i + 1] && row_of[by_col[cursor]] < j) ++cursor;
        const std::int64_t target =
            cursor < col_ptr[i + 1] && row_of[by_col[cursor]] == j ? by_col[cursor] : -1;
        if (target >= 0) {
          w[target] -= update;
        } else {
          w[lower.diagonal(i)] -= omega * update;
          w[lower.diagonal(j)] -= omega * update;
        }
      }
    }
  }
  return l;
}

CsrMatrix pattern_product(const CsrMatrix& a, const LowerPattern& lower,
                          const std::vector<double>& l) {
  // Rows are independent: one host-parallel kernel over A's rows, on unmanaged views of the CSR
  // arrays (the PETSc exchange format lives in host memory).
  CsrMatrix a_tilde = a;
  const HostView<const std::int64_t> a_row_ptr(a.row_ptr.data(), a.row_ptr.size());
  const HostView<const std::int64_t> a_col(a.col.data(), a.col.size());
  const HostView<const std::int64_t> l_row_ptr(lower.row_ptr.data(), lower.row_ptr.size());
  const HostView<const std::int64_t> l_col(lower.col.data(), lower.col.size());
  const HostView<const double> l_values(l.data(), l.size());
  const HostView<double> tilde_values(a_tilde.values.data(), a_tilde.values.size());
  Kokkos::parallel_for(
      "karman::precond::pattern_product",
      Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, a.rows), [=](const std::int64_t i) {
        for (std::int64_t p = a_row_ptr(i); p < a_row_ptr(i + 1); ++p) {
          const std::int64_t j = a_col(p);  // (L Lᵀ)_ij = Σ_{k ≤ min(i, j)} L_ik L_jk
          double sum = 0.0;
          std::int64_t q = l_row_ptr(i), r = l_row_ptr(j);
          while (q < l_row_ptr(i + 1) && r < l_row_ptr(j + 1)) {
            if (l_col(q) < l_col(r)) {
              ++q;
            } else if (l_col(r) < l_col(q)) {
              ++r;
            } else {
              sum += l_values(q++) * l_values(r++);
            }
          }
          tilde_values(p) = sum;
        }
      });
  Kokkos::fence();
  return a_tilde;
}

void apply_factor_inverse(const LowerPattern& lower, const std::vector<double>& l, const double* v,
                          double* out) {
  const std::int64_t n = lower.rows;
  if (out != v) std::copy(v, v + n, out);  // solve in place: no allocation per apply
  for (std::int64_t i = 0; i < n; ++i) {   // L y = v, rows in order
    const std::int64_t d = lower.diagonal(i);
    double y = out[i];
    for (std::int64_t p = lower.row_ptr[i]; p < d; ++p) y -= l[p] * out[lower.col[p]];
    out[i] = y / l[d];
  }
  for (std::int64_t i = n - 1; i >= 0; --i) {  // Lᵀ x = y: column i of Lᵀ is row i of L
    const std::int64_t d = lower.diagonal(i);
    const double x = out[i] / l[d];
    out[i] = x;
    for (std::int64_t p = lower.row_ptr[i]; p < d; ++p) out[lower.col[p]] -= l[p] * x;
  }
}

FactorSolver::FactorSolver(const LowerPattern& lower, const std::vector<double>& l)
    : m_inverse_diagonal(lower.rows) {
  const std::int64_t n = lower.rows;
  if (n > std::numeric_limits<std::int32_t>::max())
    throw NotSpdError("FactorSolver: more rows than 32-bit column indices address");
  for (std::int64_t i = 0; i < n; ++i) m_inverse_diagonal[i] = 1.0 / l[lower.diagonal(i)];
  // Forward: the strictly lower rows of L. Backward: the rows of Lᵀ, i.e. L's columns (row j of
  // Lᵀ lists the rows i > j of column j in increasing order, as the rows of L are visited).
  Sweep& forward = m_forward;
  Sweep& backward = m_backward;
  forward.row_ptr.assign(n + 1, 0);
  backward.row_ptr.assign(n + 1, 0);
  forward.neighbour.assign(n, 0.0);
  backward.neighbour.assign(n, 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t p = lower.row_ptr[i]; p < lower.diagonal(i); ++p) {
      const std::int64_t j = lower.col[p];
      if (j == i - 1) continue;  // the neighbour of both sweeps
      ++forward.row_ptr[i + 1];
      ++backward.row_ptr[j + 1];
    }
  for (std::int64_t i = 0; i < n; ++i) {
    forward.row_ptr[i + 1] += forward.row_ptr[i];
    backward.row_ptr[i + 1] += backward.row_ptr[i];
  }
  for (Sweep* sweep : {&forward, &backward}) {
    sweep->col.resize(sweep->row_ptr[n]);
    sweep->values.resize(sweep->row_ptr[n]);
  }
  std::vector<std::int64_t> next(backward.row_ptr.begin(), backward.row_ptr.end() - 1);
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t f = forward.row_ptr[i];
    for (std::int64_t p = lower.row_ptr[i]; p < lower.diagonal(i); ++p) {
      const std::int64_t j = lower.col[p];
      if (j == i - 1) {
        forward.neighbour[i] = l[p] * m_inverse_diagonal[i];
        backward.neighbour[j] = l[p] * m_inverse_diagonal[j];
        continue;
      }
      forward.col[f] = static_cast<std::int32_t>(j);
      forward.values[f++] = l[p] * m_inverse_diagonal[i];
      const std::int64_t b = next[j]++;
      backward.col[b] = static_cast<std::int32_t>(i);
      backward.values[b] = l[p] * m_inverse_diagonal[j];
    }
  }
}

void FactorSolver::apply(const double* v, double* out) const {
  const std::int64_t n = rows();
  const double* inverse_diagonal = m_inverse_diagonal.data();
  {  // L y = v, rows in order; `previous` is y_{i−1}
    const std::int64_t* row_ptr = m_forward.row_ptr.data();
    const std::int32_t* col = m_forward.col.data();
    const double* values = m_forward.values.data();
    const double* neighbour = m_forward.neighbour.data();
    double previous = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      double y = v[i] * inverse_diagonal[i];
      for (std::int64_t p = row_ptr[i]; p < row_ptr[i + 1]; ++p) y -= values[p] * out[col[p]];
      previous = y - neighbour[i] * previous;
      out[i] = previous;
    }
  }
  {  // Lᵀ x = y, rows in reverse order; `previous` is x_{i+1}
    const std::int64_t* row_ptr = m_backward.row_ptr.data();
    const std::int32_t* col = m_backward.col.data();
    const double* values = m_backward.values.data();
    const double* neighbour = m_backward.neighbour.data();
    double previous = 0.0;
    for (std::int64_t i = n - 1; i >= 0; --i) {
      double x = out[i] * inverse_diagonal[i];
      for (std::int64_t p = row_ptr[i]; p < row_ptr[i + 1]; ++p) x -= values[p] * out[col[p]];
      previous = x - neighbour[i] * previous;
      out[i] = previous;
    }
  }
}

}  // namespace karman::precond
