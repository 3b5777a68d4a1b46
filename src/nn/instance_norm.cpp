#include "karman/nn/instance_norm.hpp"

#include <cmath>
#include <string>

#include "karman/core/error.hpp"

namespace karman::nn {

namespace {

using Range = Kokkos::RangePolicy<ExecutionSpace>;

// Rows per partial sum: fixed, so the sums' order (and rounding) is the same on any thread count.
constexpr std::size_t kChunk = 64;

template <class View>
void ensure_statistics(View& v, const char* label, std::size_t rows, std::size_t cols) {
  if (v.data() != nullptr && v.extent(0) == rows && v.extent(1) == cols) return;
  v = View(Kokkos::view_alloc(std::string(label), Kokkos::WithoutInitializing), rows, cols);
}

}  // namespace

template <class T>
InstanceNorm<T>::InstanceNorm(const InstanceNormOptions& options) : m_options(options) {
  KARMAN_VERIFY(options.features > 0, "InstanceNorm: the width must be positive");
  KARMAN_VERIFY(options.eps > 0.0, "InstanceNorm: eps must be positive");
}

template <class T>
void InstanceNorm<T>::resolve_instances(InstanceNormContext& c) const {
  const std::size_t rows = c.rows();
  const std::size_t per_instance = m_instance_rows == 0 ? rows : m_instance_rows;
  KARMAN_VERIFY(per_instance > 0 && rows % per_instance == 0,
                "InstanceNorm: " + std::to_string(rows) + " rows are not instances of " +
                    std::to_string(per_instance) + " rows");
  const std::size_t owned = m_owned_rows.value_or(per_instance);
  KARMAN_VERIFY(owned <= per_instance, "InstanceNorm: " + std::to_string(owned) +
                                           " owned rows in instances of " +
                                           std::to_string(per_instance));
  c.instances = rows / per_instance;
  c.instance_rows = per_instance;
  c.counted_rows = owned;
}

template <class T>
template <class F>
void InstanceNorm<T>::instance_sums(InstanceNormContext& c, std::size_t rows, std::size_t width,
                                    F f, Statistics& sums, const char* label) const {
  const std::size_t instances = c.instances, instance_rows = c.instance_rows;
  const std::size_t chunks = (rows + kChunk - 1) / kChunk;
  ensure_statistics(c.partial, "karman::nn::instance_norm::partial", instances * chunks, width);
  ensure_statistics(sums, label, instances, width);
  // Each chunk's rows into its own partial row (rows contiguous: the column loop vectorises),
  // then the chunks of an instance in order.
  const Statistics partial = c.partial, total = sums;
  Kokkos::parallel_for(
      "karman::nn::instance_norm::chunk_sums", Range(0, instances * chunks),
      KOKKOS_LAMBDA(const std::size_t p) {
        const std::size_t b = p / chunks, first = (p % chunks) * kChunk;
        const std::size_t last = first + kChunk < rows ? first + kChunk : rows;
        for (std::size_t j = 0; j < width; ++j) partial(p, j) = 0;
        for (std::size_t r = first; r < last; ++r)
          for (std::size_t j = 0; j < width; ++j) partial(p, j) += f(b * instance_rows + r, j);
      });
  Kokkos::parallel_for(
      "karman::nn::instance_norm::instance_sums", Range(0, instances * width),
      KOKKOS_LAMBDA(const std::size_t bj) {
        const std::size_t b = bj / width, j = bj % width;
        double sum = 0;
        for (std::size_t p = b * chunks; p < (b + 1) * chunks; ++p) sum += partial(p, j);
        total(b, j) = sum;
      });
  if (m_comm == MPI_COMM_NULL) return;
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sums);
  MPI_Allreduce(MPI_IN_PLACE, host.data(), static_cast<int>(host.size()), MPI_DOUBLE, MPI_SUM,
                m_comm);
  Kokkos::deep_copy(sums, host);
}

template <class T>
void InstanceNorm<T>::forward_impl(Context<T>& context, Workspace<T>&) {
  auto& c = this->template as<InstanceNormContext>(context);
  resolve_instances(c);
  const std::size_t w = m_options.features, instance_rows = c.instance_rows;
  const Matrix<T> x = c.x;

  // μ: Σ x over the counted rows, and their count n in column W (summed over the ranks too).
  instance_sums(
      c, c.counted_rows, w + 1,
      KOKKOS_LAMBDA(const std::size_t row, const std::size_t j) {
        return j < w ? static_cast<double>(x(row, j)) : 1.0;
      },
      c.moments, "karman::nn::instance_norm::moments");
  const Statistics moments = c.moments;
  Kokkos::parallel_for(
      "karman::nn::instance_norm::mean", Range(0, c.instances), KOKKOS_LAMBDA(const std::size_t b) {
        // An instance without counted rows anywhere normalises by n = 1 (as PyG's clamp).
        const double n = moments(b, w) > 1.0 ? moments(b, w) : 1.0;
        for (std::size_t j = 0; j < w; ++j) moments(b, j) /= n;
      });

  // ρ = 1/√(σ² + ε) from the centred squares (two passes: no cancellation).
  instance_sums(
      c, c.counted_rows, w,
      KOKKOS_LAMBDA(const std::size_t row, const std::size_t j) {
        const double d = static_cast<double>(x(row, j)) - moments(row / instance_rows, j);
        return d * d;
      },
      c.inverse_std, "karman::nn::instance_norm::inverse_std");
  const Statistics inverse_std = c.inverse_std;
  const double eps = m_options.eps;
  Kokkos::parallel_for(
      "karman::nn::instance_norm::inverse_std", Range(0, c.instances),
      KOKKOS_LAMBDA(const std::size_t b) {
        const double n = moments(b, w) > 1.0 ? moments(b, w) : 1.0;
        for (std::size_t j = 0; j < w; ++j)
          inverse_std(b, j) = 1.0 / std::sqrt(inverse_std(b, j) / n + eps);
      });

  // y = (x − μ) ρ on every local row (halo rows too).
  ensure_shape(c.y, "karman::nn::instance_norm::y", c.rows(), w);
  const Matrix<T> y = c.y;
  Kokkos::parallel_for(
      "karman::nn::instance_norm::normalize", Range(0, c.rows()),
      KOKKOS_LAMBDA(const std::size_t row) {
        const std::size_t b = row / instance_rows;
        for (std::size_t j = 0; j < w; ++j)
          y(row, j) =
              static_cast<T>((static_cast<double>(x(row, j)) - moments(b, j)) * inverse_std(b, j));
      });
}

template <class T>
void InstanceNorm<T>::backward_impl(Context<T>& context, const Matrix<T>& dy, const Gradient<T>&) {
  auto& c = this->template as<InstanceNormContext>(context);
  const std::size_t w = m_options.features, instance_rows = c.instance_rows;
  const std::size_t counted = c.counted_rows;
  const Matrix<T> y = c.y;
  // Σ_all dy and Σ_all dy ∘ y over every local row (a halo row's y depends on μ and ρ too).
  instance_sums(
      c, instance_rows, 2 * w,
      KOKKOS_LAMBDA(const std::size_t row, const std::size_t j) {
        return j < w ? static_cast<double>(dy(row, j))
                     : static_cast<double>(dy(row, j - w)) * static_cast<double>(y(row, j - w));
      },
      c.gradient_sums, "karman::nn::instance_norm::gradient_sums");

  // dx = ρ (dy − [counted] (Σ dy + y Σ dy ∘ y) / n)
  ensure_shape(c.dx, "karman::nn::instance_norm::dx", c.rows(), w);
  const Matrix<T> dx = c.dx;
  const Statistics sums = c.gradient_sums, moments = c.moments, inverse_std = c.inverse_std;
  Kokkos::parallel_for(
      "karman::nn::instance_norm::backward", Range(0, c.rows()),
      KOKKOS_LAMBDA(const std::size_t row) {
        const std::size_t b = row / instance_rows;
        const bool is_counted = row % instance_rows < counted;
        const double n = moments(b, w) > 1.0 ? moments(b, w) : 1.0;
        for (std::size_t j = 0; j < w; ++j) {
          const double mean_terms =
              is_counted ? (sums(b, j) + static_cast<double>(y(row, j)) * sums(b, w + j)) / n : 0.0;
          dx(row, j) =
              static_cast<T>(inverse_std(b, j) * (static_cast<double>(dy(row, j)) - mean_terms));
        }
      });
}

template class InstanceNorm<float>;
template class InstanceNorm<double>;

}  // namespace karman::nn
