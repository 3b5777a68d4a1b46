#include "operators/precond/factor_loss.hpp"

#include <string>

#include "karman/core/error.hpp"

namespace karman::precond {

namespace {

using nn::ExecutionSpace;
using Range = Kokkos::RangePolicy<ExecutionSpace>;
using Index = Kokkos::View<long*, nn::MemorySpace>;

Index to_device(const std::vector<long>& host, const char* label) {
  Index device(Kokkos::view_alloc(std::string(label), Kokkos::WithoutInitializing), host.size());
  Kokkos::View<const long*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> view(
      host.data(), host.size());
  Kokkos::deep_copy(device, view);
  return device;
}

}  // namespace

TriangularPattern make_triangular_pattern(const CsrMatrix& lower) {
  const long n = lower.rows, entries = static_cast<long>(lower.col.size());
  KARMAN_VERIFY(static_cast<long>(lower.row_ptr.size()) == n + 1 &&
                    static_cast<long>(lower.col.size()) == entries,
                "TriangularPattern: inconsistent CSR arrays");
  // Counting sort of the entries by column gives the transpose's entry lists.
  std::vector<long> entry_row(entries), col_ptr(n + 1, 0), by_col(entries);
  for (long i = 0; i < n; ++i)
    for (long e = lower.row_ptr[i]; e < lower.row_ptr[i + 1]; ++e) {
      const long j = lower.col[e];
      KARMAN_VERIFY(j >= 0 && j <= i, "TriangularPattern: entry above the diagonal");
      entry_row[e] = i;
      ++col_ptr[j + 1];
    }
  for (long j = 0; j < n; ++j) col_ptr[j + 1] += col_ptr[j];
  std::vector<long> next(col_ptr.begin(), col_ptr.end() - 1);
  for (long e = 0; e < entries; ++e) by_col[next[lower.col[e]]++] = e;

  TriangularPattern p;
  p.n = n;
  p.entries = entries;
  p.row_ptr = to_device(lower.row_ptr, "karman::precond::row_ptr");
  p.col = to_device(lower.col, "karman::precond::col");
  p.entry_row = to_device(entry_row, "karman::precond::entry_row");
  p.col_ptr = to_device(col_ptr, "karman::precond::col_ptr");
  p.by_col = to_device(by_col, "karman::precond::by_col");
  return p;
}

void multiply_transpose(const TriangularPattern& p, const nn::Vector<double>& l,
                        const nn::Matrix<double>& x, const nn::Matrix<double>& y) {
  const long k = static_cast<long>(x.extent(1));
  const Index col_ptr = p.col_ptr, by_col = p.by_col, entry_row = p.entry_row;
  // (Lᵀx)_j = Σ_{i ≥ j} L_ij x_i: one thread per output row j, over column j's entries.
  Kokkos::parallel_for(
      "karman::precond::multiply_transpose", Range(0, p.n), KOKKOS_LAMBDA(const long j) {
        for (long s = 0; s < k; ++s) y(j, s) = 0.0;
        for (long c = col_ptr(j); c < col_ptr(j + 1); ++c) {
          const long e = by_col(c), i = entry_row(e);
          for (long s = 0; s < k; ++s) y(j, s) += l(e) * x(i, s);
        }
      });
}

void multiply(const TriangularPattern& p, const nn::Vector<double>& l, const nn::Matrix<double>& y,
              const nn::Matrix<double>& z) {
  const long k = static_cast<long>(y.extent(1));
  const Index row_ptr = p.row_ptr, col = p.col;
  Kokkos::parallel_for(
      "karman::precond::multiply", Range(0, p.n), KOKKOS_LAMBDA(const long i) {
        for (long s = 0; s < k; ++s) z(i, s) = 0.0;
        for (long e = row_ptr(i); e < row_ptr(i + 1); ++e)
          for (long s = 0; s < k; ++s) z(i, s) += l(e) * y(col(e), s);
      });
}

double FactorLoss::evaluate(const nn::Vector<double>& l, const nn::Matrix<double>& x,
                            const nn::Matrix<double>& b, const nn::Vector<double>& dl) {
  const TriangularPattern& p = m_pattern;
  const std::size_t n = static_cast<std::size_t>(p.n), k = x.extent(1);
  KARMAN_VERIFY(x.extent(0) == n && b.extent(0) == n && b.extent(1) == k,
                "FactorLoss: x and b must both be [n, k]");
  KARMAN_VERIFY(l.extent(0) == static_cast<std::size_t>(p.entries) && dl.extent(0) == l.extent(0),
                "FactorLoss: l and dl must hold one value per pattern entry");
  nn::ensure_shape(m_y, "karman::precond::loss::y", n, k);
  nn::ensure_shape(m_r, "karman::precond::loss::r", n, k);
  nn::ensure_shape(m_h, "karman::precond::loss::h", n, k);
  const nn::Matrix<double> y = m_y, r = m_r, h = m_h;

  // Forward: y = Lᵀx, r = L y − b.
  multiply_transpose(p, l, x, y);
  multiply(p, l, y, r);
  double residual = 0.0, rhs = 0.0;
  Kokkos::parallel_reduce(
      "karman::precond::loss::residual", Range(0, n),
      KOKKOS_LAMBDA(const std::size_t i, double& sum_r, double& sum_b) {
        for (std::size_t s = 0; s < k; ++s) {
          r(i, s) -= b(i, s);
          sum_r += r(i, s) * r(i, s);
          sum_b += b(i, s) * b(i, s);
        }
      },
      residual, rhs);
  KARMAN_VERIFY(rhs > 0.0, "FactorLoss: the right-hand sides are all zero");

  // Backward: g = 2r/Σ‖b‖² (in place of r), h = Lᵀg, dL_ij = Σ_s g_i y_j + x_i h_j.
  const double scale = 2.0 / rhs;
  Kokkos::parallel_for(
      "karman::precond::loss::scale", Range(0, n), KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t s = 0; s < k; ++s) r(i, s) *= scale;
      });
  multiply_transpose(p, l, r, h);
  const Index entry_row = p.entry_row, col = p.col;
  Kokkos::parallel_for(
      "karman::precond::loss::gradient", Range(0, p.entries), KOKKOS_LAMBDA(const long e) {
        const long i = entry_row(e), j = col(e);
        double sum = 0.0;
        for (std::size_t s = 0; s < k; ++s) sum += r(i, s) * y(j, s) + x(i, s) * h(j, s);
        dl(e) = sum;
      });
  return residual / rhs;
}

double factor_loss(const CsrMatrix& lower, const nn::Vector<double>& l, const nn::Matrix<double>& x,
                   const nn::Matrix<double>& b, const nn::Vector<double>& dl) {
  FactorLoss loss(lower);
  return loss.evaluate(l, x, b, dl);
}

}  // namespace karman::precond
