#include "karman/nn/layer_norm.hpp"

#include <cmath>

#include "karman/core/error.hpp"

namespace karman::nn {

namespace {
using Range = Kokkos::RangePolicy<ExecutionSpace>;
}  // namespace

template <class T>
LayerNorm<T>::LayerNorm(std::size_t width, double epsilon) : m_width(width), m_epsilon(epsilon) {
  KARMAN_VERIFY(width > 0, "LayerNorm: the width must be positive");
  KARMAN_VERIFY(epsilon > 0.0, "LayerNorm: epsilon must be positive");
}

template <class T>
void LayerNorm<T>::declare(Parameters<T>& parameters, const std::string& prefix) {
  m_parameters = &parameters;
  m_scale = parameters.declare(prefix + "scale", 1, m_width);
  m_shift = parameters.declare(prefix + "shift", 1, m_width);
}

template <class T>
void LayerNorm<T>::initialize(std::uint64_t) {
  Kokkos::deep_copy(m_parameters->value(m_scale), T(1));
  Kokkos::deep_copy(m_parameters->value(m_shift), T(0));
}

template <class T>
void LayerNorm<T>::forward_impl(Context<T>& context, Workspace<T>&) {
  auto& c = this->template as<LayerNormContext>(context);
  const std::size_t rows = c.rows(), w = m_width;
  ensure_shape(c.normalized, "karman::nn::layer_norm::normalized", rows, w);
  ensure_shape(c.inverse_std, "karman::nn::layer_norm::inverse_std", rows, 1);
  ensure_shape(c.y, "karman::nn::layer_norm::y", rows, w);
  const Matrix<T> x = c.x, xhat = c.normalized, inverse_std = c.inverse_std, y = c.y;
  const Matrix<T> gamma = scale(), beta = shift();
  const T epsilon = static_cast<T>(m_epsilon);
  Kokkos::parallel_for(
      "karman::nn::layer_norm::forward", Range(0, rows), KOKKOS_LAMBDA(const std::size_t i) {
        // Two passes over the row (mean, then variance of the centred values): no cancellation.
        T mean = 0;
        for (std::size_t j = 0; j < w; ++j) mean += x(i, j);
        mean /= T(w);
        T variance = 0;
        for (std::size_t j = 0; j < w; ++j) variance += (x(i, j) - mean) * (x(i, j) - mean);
        variance /= T(w);
        const T r = T(1) / std::sqrt(variance + epsilon);
        inverse_std(i, 0) = r;
        for (std::size_t j = 0; j < w; ++j) {
          xhat(i, j) = (x(i, j) - mean) * r;
          y(i, j) = gamma(0, j) * xhat(i, j) + beta(0, j);
        }
      });
}

template <class T>
void LayerNorm<T>::backward_impl(Context<T>& context, const Matrix<T>& dy,
                                 const Gradient<T>& gradient) {
  auto& c = this->template as<LayerNormContext>(context);
  if (gradient.parameters()) parameter_gradients(c, dy, gradient.mode == GradientMode::accumulate);
  const std::size_t rows = c.rows(), w = m_width;
  ensure_shape(c.dx, "karman::nn::layer_norm::dx", rows, w);
  const Matrix<T> dx = c.dx, xhat = c.normalized, inverse_std = c.inverse_std;
  const Matrix<T> gamma = scale();
  Kokkos::parallel_for(
      "karman::nn::layer_norm::backward", Range(0, rows), KOKKOS_LAMBDA(const std::size_t i) {
        // g = dy ∘ γ; dx = (g − mean(g) − x̂ mean(g ∘ x̂)) / √(σ² + ε)
        T mean_g = 0, mean_gx = 0;
        for (std::size_t j = 0; j < w; ++j) {
          const T g = dy(i, j) * gamma(0, j);
          mean_g += g;
          mean_gx += g * xhat(i, j);
        }
        mean_g /= T(w);
        mean_gx /= T(w);
        const T r = inverse_std(i, 0);
        for (std::size_t j = 0; j < w; ++j)
          dx(i, j) = (dy(i, j) * gamma(0, j) - mean_g - xhat(i, j) * mean_gx) * r;
      });
}

template <class T>
void LayerNorm<T>::parameter_gradients(const LayerNormContext& c, const Matrix<T>& dy,
                                       bool accumulate) const {
  const Matrix<T> xhat = c.normalized;
  const Matrix<T> dgamma = m_parameters->gradient(m_scale), dbeta = m_parameters->gradient(m_shift);
  const std::size_t rows = c.rows();
  Kokkos::parallel_for(
      "karman::nn::layer_norm::parameter_gradients", Range(0, m_width),
      KOKKOS_LAMBDA(const std::size_t j) {
        T sum_scale = 0, sum_shift = 0;
        for (std::size_t i = 0; i < rows; ++i) {
          sum_scale += dy(i, j) * xhat(i, j);
          sum_shift += dy(i, j);
        }
        // Overwriting never reads the old gradient (it may hold anything, NaN included).
        dgamma(0, j) = accumulate ? dgamma(0, j) + sum_scale : sum_scale;
        dbeta(0, j) = accumulate ? dbeta(0, j) + sum_shift : sum_shift;
      });
}

template class LayerNorm<float>;
template class LayerNorm<double>;

}  // namespace karman::nn
