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

double product_loss(const TriangularPattern& p, InnerFactor inner, const nn::Vector<double>& t,
                    const nn::Matrix<double>& v, const nn::Matrix<double>& target,
                    const nn::Vector<double>& dt, ProductLossBuffers& buffers) {
  const std::size_t n = static_cast<std::size_t>(p.n), k = v.extent(1);
  KARMAN_VERIFY(v.extent(0) == n && target.extent(0) == n && target.extent(1) == k,
                "product_loss: V and Y must both be [n, k]");
  KARMAN_VERIFY(t.extent(0) == static_cast<std::size_t>(p.entries) && dt.extent(0) == t.extent(0),
                "product_loss: t and dt must hold one value per pattern entry");
  nn::ensure_shape(buffers.w, "karman::precond::loss::w", n, k);
  nn::ensure_shape(buffers.r, "karman::precond::loss::r", n, k);
  nn::ensure_shape(buffers.h, "karman::precond::loss::h", n, k);
  const nn::Matrix<double> w = buffers.w, r = buffers.r, h = buffers.h;
  const bool transposed_inner = inner == InnerFactor::transpose;
  // P X into out: Tᵀ X (transpose) or T X (plain); P' the other one.
  const auto apply_inner = [&](const nn::Matrix<double>& x, const nn::Matrix<double>& out) {
    transposed_inner ? multiply_transpose(p, t, x, out) : multiply(p, t, x, out);
  };
  const auto apply_outer = [&](const nn::Matrix<double>& x, const nn::Matrix<double>& out) {
    transposed_inner ? multiply(p, t, x, out) : multiply_transpose(p, t, x, out);
  };

  // Forward: W = P V, r = P' W − Y.
  apply_inner(v, w);
  apply_outer(w, r);
  double residual = 0.0, norm = 0.0;
  Kokkos::parallel_reduce(
      "karman::precond::loss::residual", Range(0, n),
      KOKKOS_LAMBDA(const std::size_t i, double& sum_r, double& sum_y) {
        for (std::size_t s = 0; s < k; ++s) {
          r(i, s) -= target(i, s);
          sum_r += r(i, s) * r(i, s);
          sum_y += target(i, s) * target(i, s);
        }
      },
      residual, norm);
  KARMAN_VERIFY(norm > 0.0, "product_loss: the targets are all zero");

  // Backward: g = 2r/‖Y‖² (in place of r), H = P g, then the entries' gradient.
  const double scale = 2.0 / norm;
  Kokkos::parallel_for(
      "karman::precond::loss::scale", Range(0, n), KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t s = 0; s < k; ++s) r(i, s) *= scale;
      });
  apply_inner(r, h);
  const Index entry_row = p.entry_row, col = p.col;
  Kokkos::parallel_for(
      "karman::precond::loss::gradient", Range(0, p.entries), KOKKOS_LAMBDA(const long e) {
        const long i = entry_row(e), j = col(e);
        double sum = 0.0;
        if (transposed_inner)
          for (std::size_t s = 0; s < k; ++s) sum += r(i, s) * w(j, s) + v(i, s) * h(j, s);
        else
          for (std::size_t s = 0; s < k; ++s) sum += w(i, s) * r(j, s) + h(i, s) * v(j, s);
        dt(e) = sum;
      });
  return residual / norm;
}

double FactorLoss::evaluate(const nn::Vector<double>& l, const nn::Matrix<double>& x,
                            const nn::Matrix<double>& b, const nn::Vector<double>& dl) {
  // f = ‖L Lᵀ x − b‖² / ‖b‖²: inner factor Lᵀ on x, target b.
  return product_loss(m_pattern, InnerFactor::transpose, l, x, b, dl, m_buffers);
}

double factor_loss(const CsrMatrix& lower, const nn::Vector<double>& l, const nn::Matrix<double>& x,
                   const nn::Matrix<double>& b, const nn::Vector<double>& dl) {
  FactorLoss loss(lower);
  return loss.evaluate(l, x, b, dl);
}

}  // namespace karman::precond
