#include "karman/nn/normalizer.hpp"

#include <cmath>
#include <vector>

#include "karman/core/error.hpp"

namespace karman::nn {

template <class T>
void GaussianNormalizer<T>::fit(MPI_Comm comm, const Matrix<T>& data) {
  const std::size_t rows = data.extent(0), cols = data.extent(1);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), data);
  // Sums in double over all ranks: count, Σx, then Σ(x - mean)² (two passes, no cancellation).
  std::vector<double> sums(cols + 1, 0.0);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) sums[j] += host(i, j);
  sums[cols] = static_cast<double>(rows);
  MPI_Allreduce(MPI_IN_PLACE, sums.data(), static_cast<int>(cols + 1), MPI_DOUBLE, MPI_SUM, comm);
  const double count = sums[cols];
  KARMAN_VERIFY(count > 0, "GaussianNormalizer::fit: no data");
  std::vector<double> mean(cols), squares(cols, 0.0);
  for (std::size_t j = 0; j < cols; ++j) mean[j] = sums[j] / count;
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j)
      squares[j] += (host(i, j) - mean[j]) * (host(i, j) - mean[j]);
  MPI_Allreduce(MPI_IN_PLACE, squares.data(), static_cast<int>(cols), MPI_DOUBLE, MPI_SUM, comm);
  m_mean = Vector<T>("karman::nn::normalizer::mean", cols);
  m_std = Vector<T>("karman::nn::normalizer::std", cols);
  auto hm = Kokkos::create_mirror_view(m_mean);
  auto hs = Kokkos::create_mirror_view(m_std);
  for (std::size_t j = 0; j < cols; ++j) {
    hm(j) = static_cast<T>(mean[j]);
    hs(j) = static_cast<T>(std::sqrt(squares[j] / count));
  }
  Kokkos::deep_copy(m_mean, hm);
  Kokkos::deep_copy(m_std, hs);
}

template <class T>
void GaussianNormalizer<T>::encode(const Matrix<T>& x, const Matrix<T>& out) const {
  KARMAN_VERIFY(fitted() && x.extent(1) == channels(),
                "GaussianNormalizer::encode: not fitted or wrong width");
  const Vector<T> mean = m_mean, std = m_std;
  const T eps = static_cast<T>(m_eps);
  const std::size_t cols = x.extent(1);
  Kokkos::parallel_for(
      "karman::nn::normalizer::encode", Kokkos::RangePolicy<ExecutionSpace>(0, x.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t j = 0; j < cols; ++j) out(i, j) = (x(i, j) - mean(j)) / (std(j) + eps);
      });
}

template <class T>
void GaussianNormalizer<T>::decode(const Matrix<T>& x, const Matrix<T>& out) const {
  KARMAN_VERIFY(fitted() && x.extent(1) == channels(),
                "GaussianNormalizer::decode: not fitted or wrong width");
  const Vector<T> mean = m_mean, std = m_std;
  const T eps = static_cast<T>(m_eps);
  const std::size_t cols = x.extent(1);
  Kokkos::parallel_for(
      "karman::nn::normalizer::decode", Kokkos::RangePolicy<ExecutionSpace>(0, x.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t j = 0; j < cols; ++j) out(i, j) = x(i, j) * (std(j) + eps) + mean(j);
      });
}

template <class T>
void GaussianNormalizer<T>::decode_backward(const Matrix<T>& dy, const Matrix<T>& dx) const {
  const Vector<T> std = m_std;
  const T eps = static_cast<T>(m_eps);
  const std::size_t cols = dy.extent(1);
  Kokkos::parallel_for(
      "karman::nn::normalizer::decode_backward",
      Kokkos::RangePolicy<ExecutionSpace>(0, dy.extent(0)), KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t j = 0; j < cols; ++j) dx(i, j) = dy(i, j) * (std(j) + eps);
      });
}

template <class T>
void GaussianNormalizer<T>::encode_backward(const Matrix<T>& dy, const Matrix<T>& dx) const {
  const Vector<T> std = m_std;
  const T eps = static_cast<T>(m_eps);
  const std::size_t cols = dy.extent(1);
  Kokkos::parallel_for(
      "karman::nn::normalizer::encode_backward",
      Kokkos::RangePolicy<ExecutionSpace>(0, dy.extent(0)), KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t j = 0; j < cols; ++j) dx(i, j) = dy(i, j) / (std(j) + eps);
      });
}

template <class T>
void GaussianNormalizer<T>::store(Checkpoint& c) const {
  auto hm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_mean);
  auto hs = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_std);
  c.arrays["normalizers/" + m_name + ".mean"] =
      std::vector<double>(hm.data(), hm.data() + hm.size());
  c.arrays["normalizers/" + m_name + ".std"] =
      std::vector<double>(hs.data(), hs.data() + hs.size());
}

template <class T>
void GaussianNormalizer<T>::restore(const Checkpoint& c, const std::string& path) {
  auto mean = c.arrays.find("normalizers/" + m_name + ".mean");
  auto std = c.arrays.find("normalizers/" + m_name + ".std");
  if (mean == c.arrays.end() || std == c.arrays.end() || mean->second.size() != std->second.size())
    throw ConfigError(Place{path, 0, 0}, "checkpoint has no normaliser '" + m_name + "'");
  const std::size_t cols = mean->second.size();
  m_mean = Vector<T>("karman::nn::normalizer::mean", cols);
  m_std = Vector<T>("karman::nn::normalizer::std", cols);
  auto hm = Kokkos::create_mirror_view(m_mean);
  auto hs = Kokkos::create_mirror_view(m_std);
  for (std::size_t j = 0; j < cols; ++j) {
    hm(j) = static_cast<T>(mean->second[j]);
    hs(j) = static_cast<T>(std->second[j]);
  }
  Kokkos::deep_copy(m_mean, hm);
  Kokkos::deep_copy(m_std, hs);
}

template class GaussianNormalizer<float>;
template class GaussianNormalizer<double>;

}  // namespace karman::nn
