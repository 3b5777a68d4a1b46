#include "karman/nn/conservation.hpp"

#include <cmath>
#include <string>
#include <utility>

#include "karman/core/error.hpp"

namespace karman::nn {

namespace {

using Range = Kokkos::RangePolicy<ExecutionSpace>;

// Solve the dense m×m system A x = r (row-major, partial pivoting) in place; x returned in r.
void solve_dense(std::vector<double> a, std::vector<double>& r) {
  const std::size_t m = r.size();
  for (std::size_t k = 0; k < m; ++k) {
    std::size_t pivot = k;
    for (std::size_t i = k + 1; i < m; ++i)
      if (std::abs(a[i * m + k]) > std::abs(a[pivot * m + k])) pivot = i;
    KARMAN_VERIFY(a[pivot * m + k] != 0.0, "probconserv_dense: G Σ Gᵀ is singular");
    if (pivot != k) {
      for (std::size_t j = 0; j < m; ++j) std::swap(a[k * m + j], a[pivot * m + j]);
      std::swap(r[k], r[pivot]);
    }
    for (std::size_t i = k + 1; i < m; ++i) {
      const double f = a[i * m + k] / a[k * m + k];
      for (std::size_t j = k; j < m; ++j) a[i * m + j] -= f * a[k * m + j];
      r[i] -= f * r[k];
    }
  }
  for (std::size_t k = m; k-- > 0;) {
    for (std::size_t j = k + 1; j < m; ++j) r[k] -= a[k * m + j] * r[j];
    r[k] /= a[k * m + k];
  }
}

}  // namespace

template <class T>
void conserve_integral(const Matrix<T>& mean, const Matrix<T>& variance,
                       const Vector<double>& target, double dx,
                       const Matrix<T>& corrected_variance) {
  const std::size_t rows = mean.extent(0), n = mean.extent(1);
  KARMAN_VERIFY(variance.extent(0) == rows && variance.extent(1) == n && target.extent(0) == rows,
                "conserve_integral: mean and variance must be [B, n] and the targets [B]");
  KARMAN_VERIFY(dx > 0.0 && n > 0, "conserve_integral: dx and n must be positive");
  const bool update_variance = corrected_variance.data() != nullptr;
  KARMAN_VERIFY(!update_variance ||
                    (corrected_variance.extent(0) == rows && corrected_variance.extent(1) == n),
                "conserve_integral: the corrected variance must be [B, n]");
  // One row (one state) per iteration: n is small (10²–10³), and the sums then run in a fixed
  // order, so the result does not depend on the thread count.
  Kokkos::parallel_for(
      "karman::nn::conservation::conserve_integral", Range(0, rows),
      KOKKOS_LAMBDA(const std::size_t r) {
        double sum = 0.0, total_variance = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
          sum += static_cast<double>(mean(r, i));
          total_variance += static_cast<double>(variance(r, i));
        }
        // The defect G μ − b over G Σ Gᵀ = dx² Σσ², times dx (the row of Gᵀ): the weight of σ_i².
        const double defect = dx * sum - target(r);
        const bool equal = !(total_variance > 0.0);  // no spread: the orthogonal projection
        const double scale =
            equal ? defect / (dx * static_cast<double>(n)) : defect / (dx * total_variance);
        for (std::size_t i = 0; i < n; ++i) {
          const double s2 = equal ? 1.0 : static_cast<double>(variance(r, i));
          mean(r, i) = static_cast<T>(static_cast<double>(mean(r, i)) - s2 * scale);
          if (update_variance)
            corrected_variance(r, i) = equal ? T(0) : static_cast<T>(s2 - s2 * s2 / total_variance);
        }
      });
}

template <class T>
Vector<double> row_integrals(const Matrix<T>& u, double dx) {
  const std::size_t rows = u.extent(0), n = u.extent(1);
  Vector<double> out(
      Kokkos::view_alloc("karman::nn::conservation::integrals", Kokkos::WithoutInitializing), rows);
  Kokkos::parallel_for(
      "karman::nn::conservation::row_integrals", Range(0, rows),
      KOKKOS_LAMBDA(const std::size_t r) {
        double sum = 0.0;
        for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(u(r, i));
        out(r) = dx * sum;
      });
  return out;
}

template <class T>
void ensemble_statistics(const std::vector<Matrix<T>>& members, Matrix<T>& mean,
                         Matrix<T>& variance) {
  KARMAN_VERIFY(!members.empty(), "ensemble_statistics: no members");
  const std::size_t rows = members[0].extent(0), cols = members[0].extent(1);
  for (const Matrix<T>& m : members)
    KARMAN_VERIFY(m.extent(0) == rows && m.extent(1) == cols,
                  "ensemble_statistics: the members' predictions differ in shape");
  ensure_shape(mean, "karman::nn::conservation::mean", rows, cols);
  ensure_shape(variance, "karman::nn::conservation::variance", rows, cols);
  const Matrix<T> mu = mean, s2 = variance;
  Kokkos::deep_copy(mu, T(0));
  Kokkos::deep_copy(s2, T(0));
  const double inverse = 1.0 / static_cast<double>(members.size());
  // Two passes (mean, then squared deviations): no cancellation when the members agree closely.
  for (const Matrix<T>& m : members)
    Kokkos::parallel_for(
        "karman::nn::conservation::ensemble_mean", Range(0, rows),
        KOKKOS_LAMBDA(const std::size_t r) {
          for (std::size_t c = 0; c < cols; ++c) mu(r, c) += static_cast<T>(inverse * m(r, c));
        });
  for (const Matrix<T>& m : members)
    Kokkos::parallel_for(
        "karman::nn::conservation::ensemble_variance", Range(0, rows),
        KOKKOS_LAMBDA(const std::size_t r) {
          for (std::size_t c = 0; c < cols; ++c) {
            const double d = static_cast<double>(m(r, c)) - static_cast<double>(mu(r, c));
            s2(r, c) += static_cast<T>(inverse * d * d);
          }
        });
}

ProbConservResult probconserv_dense(const std::vector<double>& mean,
                                    const std::vector<double>& variance,
                                    const std::vector<double>& constraints,
                                    const std::vector<double>& target) {
  const std::size_t n = mean.size(), m = target.size();
  KARMAN_VERIFY(variance.size() == n && constraints.size() == m * n && m > 0,
                "probconserv_dense: μ, σ² [n], G [m, n], b [m]");
  // ΣGᵀ [n, m] and G Σ Gᵀ [m, m].
  std::vector<double> sgt(n * m), gsgt(m * m, 0.0), defect(target);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < m; ++k) sgt[i * m + k] = variance[i] * constraints[k * n + i];
  for (std::size_t k = 0; k < m; ++k) {
    for (std::size_t l = 0; l < m; ++l)
      for (std::size_t i = 0; i < n; ++i)
        gsgt[k * m + l] += constraints[k * n + i] * sgt[i * m + l];
    defect[k] = -target[k];
    for (std::size_t i = 0; i < n; ++i) defect[k] += constraints[k * n + i] * mean[i];
  }
  ProbConservResult out;
  solve_dense(gsgt, defect);  // λ = (G Σ Gᵀ)⁻¹ (G μ − b)
  out.mean = mean;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < m; ++k) out.mean[i] -= sgt[i * m + k] * defect[k];
  // Σ̃ = Σ − (ΣGᵀ) (G Σ Gᵀ)⁻¹ (ΣGᵀ)ᵀ, one column of (G Σ Gᵀ)⁻¹ (ΣGᵀ)ᵀ per point j.
  out.covariance.assign(n * n, 0.0);
  for (std::size_t j = 0; j < n; ++j) {
    std::vector<double> column(m);
    for (std::size_t k = 0; k < m; ++k) column[k] = sgt[j * m + k];
    solve_dense(gsgt, column);
    for (std::size_t i = 0; i < n; ++i) {
      double v = i == j ? variance[i] : 0.0;
      for (std::size_t k = 0; k < m; ++k) v -= sgt[i * m + k] * column[k];
      out.covariance[i * n + j] = v;
    }
  }
  return out;
}

template void conserve_integral<float>(const Matrix<float>&, const Matrix<float>&,
                                       const Vector<double>&, double, const Matrix<float>&);
template void conserve_integral<double>(const Matrix<double>&, const Matrix<double>&,
                                        const Vector<double>&, double, const Matrix<double>&);
template Vector<double> row_integrals<float>(const Matrix<float>&, double);
template Vector<double> row_integrals<double>(const Matrix<double>&, double);
template void ensemble_statistics<float>(const std::vector<Matrix<float>>&, Matrix<float>&,
                                         Matrix<float>&);
template void ensemble_statistics<double>(const std::vector<Matrix<double>>&, Matrix<double>&,
                                          Matrix<double>&);

}  // namespace karman::nn
