#include "karman/nn/loss.hpp"

#include <cmath>

#include "karman/core/error.hpp"

namespace karman::nn {

template <class T>
T mse_loss(const Matrix<T>& y, const Matrix<T>& target, const Matrix<T>& dy, double total_rows) {
  KARMAN_VERIFY(y.extent(0) == target.extent(0) && y.extent(1) == target.extent(1) &&
                    dy.extent(0) == y.extent(0) && dy.extent(1) == y.extent(1),
                "mse_loss: shapes differ");
  const std::size_t cols = y.extent(1);
  const T scale = T(1) / static_cast<T>(total_rows * static_cast<double>(cols));
  T sum = 0;
  Kokkos::parallel_reduce(
      "karman::nn::mse_loss", Kokkos::RangePolicy<ExecutionSpace>(0, y.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i, T& local) {
        // A row accumulator (not the reduction variable) lets the row vectorise.
        const T* KOKKOS_RESTRICT yi = &y(i, 0);
        const T* KOKKOS_RESTRICT ti = &target(i, 0);
        T* KOKKOS_RESTRICT dyi = &dy(i, 0);
        T row = 0;
#pragma omp simd reduction(+ : row)
        for (std::size_t j = 0; j < cols; ++j) {
          const T r = yi[j] - ti[j];
          dyi[j] = T(2) * scale * r;
          row += r * r;
        }
        local += row;
      },
      sum);
  return sum * scale;
}

template <class T>
T relative_l2_loss(const Matrix<T>& y, const Matrix<T>& target, const Matrix<T>& dy,
                   double total_rows) {
  KARMAN_VERIFY(y.extent(0) == target.extent(0) && y.extent(1) == target.extent(1) &&
                    dy.extent(0) == y.extent(0) && dy.extent(1) == y.extent(1),
                "relative_l2_loss: shapes differ");
  const std::size_t cols = y.extent(1);
  const T scale = T(1) / static_cast<T>(total_rows);
  T sum = 0;
  // Per sample: ℓ = ||r|| / ||t||,  ∂ℓ/∂y = r / (||r|| ||t||).
  Kokkos::parallel_reduce(
      "karman::nn::relative_l2_loss", Kokkos::RangePolicy<ExecutionSpace>(0, y.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i, T& local) {
        T rr = 0, tt = 0;
        for (std::size_t j = 0; j < cols; ++j) {
          const T r = y(i, j) - target(i, j);
          rr += r * r;
          tt += target(i, j) * target(i, j);
        }
        const T rnorm = std::sqrt(rr), tnorm = std::sqrt(tt);
        const T g = rnorm > T(0) ? scale / (rnorm * tnorm) : T(0);
        for (std::size_t j = 0; j < cols; ++j) dy(i, j) = g * (y(i, j) - target(i, j));
        local += rnorm / tnorm;
      },
      sum);
  return sum * scale;
}

template float mse_loss<float>(const Matrix<float>&, const Matrix<float>&, const Matrix<float>&,
                               double);
template double mse_loss<double>(const Matrix<double>&, const Matrix<double>&,
                                 const Matrix<double>&, double);
template float relative_l2_loss<float>(const Matrix<float>&, const Matrix<float>&,
                                       const Matrix<float>&, double);
template double relative_l2_loss<double>(const Matrix<double>&, const Matrix<double>&,
                                         const Matrix<double>&, double);

}  // namespace karman::nn
