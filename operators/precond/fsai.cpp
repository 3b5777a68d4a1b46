// The classical FSAI factor and the two-SpMV apply of M⁻¹ = Gᵀ G (see fsai.hpp).
#include "operators/precond/fsai.hpp"

// clang-format off
#include <petscsys.h>  // petscblaslapack.h needs PETSc's types declared first
#include <petscblaslapack.h>
// clang-format on

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>

namespace karman::precond {
namespace {

template <class T>  // a host array seen as a view (no ownership, no copy)
using HostView = Kokkos::View<T*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

// a_ij, or 0 outside A's pattern (columns are sorted within a row).
double entry(const CsrMatrix& a, std::int64_t i, std::int64_t j) {
  const auto first = a.col.begin() + a.row_ptr[i], last = a.col.begin() + a.row_ptr[i + 1];
  const auto it = std::lower_bound(first, last, j);
  return (it != last && *it == j) ? a.values[it - a.col.begin()] : 0.0;
}

// Row i's G values: solve A[P, P] ĝ = e_last (P = `cols`, i last) and return ĝ / sqrt(ĝ_last).
// cols: [m]; returns [m]. Throws NotSpdError when A[P, P] is not positive definite.
std::vector<double> fsai_row(const CsrMatrix& a, std::int64_t i,
                             const std::vector<std::int64_t>& cols) {
  const auto m = static_cast<PetscBLASInt>(cols.size());
  std::vector<double> block(cols.size() * cols.size());  // column-major [m, m], as LAPACK reads
  for (PetscBLASInt s = 0; s < m; ++s)
    for (PetscBLASInt r = 0; r < m; ++r) block[s * m + r] = entry(a, cols[r], cols[s]);
  std::vector<double> g(cols.size(), 0.0);
  g.back() = 1.0;  // e_i: i is the last column of the pattern
  const char lower = 'L';
  const PetscBLASInt one = 1;
  PetscBLASInt info = 0;
  LAPACKpotrf_(&lower, &m, block.data(), &m, &info);
  if (info != 0)
    throw NotSpdError("FSAI: the block A[P, P] of row " + std::to_string(i) +
                      " is not positive definite (dpotrf info " + std::to_string(info) +
                      "): the matrix is not SPD");
  LAPACKpotrs_(&lower, &m, &one, block.data(), &m, g.data(), &m, &info);
  // ĝ_i = e_iᵀ A[P, P]⁻¹ e_i > 0 for an SPD block; the scaling makes (G A Gᵀ)_ii = ĝᵀ A ĝ / ĝ_i
  // = 1.
  const double scale = 1.0 / std::sqrt(g.back());
  for (double& v : g) v *= scale;
  return g;
}

// Bᵀ of a square CSR matrix B (counting sort by column; columns of Bᵀ come out sorted).
CsrMatrix transpose(const CsrMatrix& b) {
  CsrMatrix t;
  t.rows = b.rows;
  t.row_ptr.assign(b.rows + 1, 0);
  for (std::int64_t c : b.col) ++t.row_ptr[c + 1];
  for (std::int64_t j = 0; j < b.rows; ++j) t.row_ptr[j + 1] += t.row_ptr[j];
  t.col.resize(b.col.size());
  t.values.resize(b.values.size());
  std::vector<std::int64_t> next(t.row_ptr.begin(), t.row_ptr.end() - 1);
  for (std::int64_t i = 0; i < b.rows; ++i)
    for (std::int64_t p = b.row_ptr[i]; p < b.row_ptr[i + 1]; ++p) {
      const std::int64_t q = next[b.col[p]]++;
      t.col[q] = i;
      t.values[q] = b.values[p];
    }
  return t;
}

}  // namespace

std::string factor_kind_name(FactorKind kind) {
  return kind == FactorKind::fsai ? "fsai" : "cholesky";
}

std::vector<double> fsai_values(const CsrMatrix& a, const LowerPattern& lower) {
  require_symmetric(a);
  std::vector<double> g(lower.nnz());
  std::vector<std::int64_t> cols;
  for (std::int64_t i = 0; i < lower.rows; ++i) {
    cols.assign(lower.col.begin() + lower.row_ptr[i], lower.col.begin() + lower.row_ptr[i + 1]);
    const std::vector<double> row = fsai_row(a, i, cols);
    std::copy(row.begin(), row.end(), g.begin() + lower.row_ptr[i]);
  }
  return g;
}

std::vector<double> reference_factor(FactorKind kind, const CsrMatrix& a,
                                     const LowerPattern& lower) {
  return kind == FactorKind::fsai ? fsai_values(a, lower) : ic0_values(a, lower);
}

void csr_multiply(const CsrMatrix& b, const double* v, double* out) {
  const HostView<const std::int64_t> row_ptr(b.row_ptr.data(), b.row_ptr.size());
  const HostView<const std::int64_t> col(b.col.data(), b.col.size());
  const HostView<const double> values(b.values.data(), b.values.size());
  const HostView<const double> in(v, b.rows);
  const HostView<double> result(out, b.rows);
  Kokkos::parallel_for("karman::precond::csr_multiply",
                       Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, b.rows),
                       [=](const std::int64_t i) {
                         double sum = 0.0;
                         for (std::int64_t p = row_ptr(i); p < row_ptr(i + 1); ++p)
                           sum += values(p) * in(col(p));
                         result(i) = sum;
                       });
  Kokkos::fence();
}

FsaiOperator::FsaiOperator(const LowerPattern& lower, const std::vector<double>& g) {
  require_positive_diagonal(lower, g);
  m_g.rows = lower.rows;
  m_g.row_ptr = lower.row_ptr;
  m_g.col = lower.col;
  m_g.values = g;
  m_gt = transpose(m_g);
  m_work.assign(lower.rows, 0.0);
}

void FsaiOperator::apply(const double* v, double* out) const {
  csr_multiply(m_g, v, m_work.data());     // w = G v
  csr_multiply(m_gt, m_work.data(), out);  // out = Gᵀ w
}

}  // namespace karman::precond
