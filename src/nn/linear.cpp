#include "karman/nn/linear.hpp"

#include "karman/core/error.hpp"
#include "karman/nn/gemm.hpp"

namespace karman::nn {

template <class T>
Linear<T>::Linear(std::size_t in, std::size_t out, bool bias, Activation activation, Init init,
                  double gain)
    : Linear(in, out, LinearOptions{bias, activation, init, gain}) {}

template <class T>
Linear<T>::Linear(std::size_t in, std::size_t out, const LinearOptions& options)
    : m_in(in),
      m_out(out),
      m_options(options),
      m_bias(options.bias),
      m_activation(options.activation) {
  KARMAN_VERIFY(options.frequency > 0.0, "Linear: the frequency must be positive");
}

template <class T>
void Linear<T>::declare(Parameters<T>& parameters, const std::string& prefix) {
  m_parameters = &parameters;
  m_weight = parameters.declare(prefix + "weight", m_in, m_out);
  if (m_bias) m_bias_index = parameters.declare(prefix + "bias", 1, m_out);
}

template <class T>
void Linear<T>::initialize(std::uint64_t seed) {
  initialize_parameter(*m_parameters, m_weight, m_options.init, m_in, m_out, m_options.gain, seed);
  if (m_bias)
    initialize_parameter(*m_parameters, m_bias_index, m_options.bias_init, m_in, m_out,
                         m_options.bias_gain, seed);
}

template <class T>
Matrix<T> Linear<T>::effective_bias() {
  const Matrix<T> b = m_parameters->value(m_bias_index);
  if (m_options.frequency == 1.0) return b;
  ensure_shape(m_scaled_bias, "karman::nn::linear::scaled_bias", 1, m_out);
  const Matrix<T> scaled = m_scaled_bias;
  const T omega = static_cast<T>(m_options.frequency);
  Kokkos::parallel_for(
      "karman::nn::linear::scale_bias", Kokkos::RangePolicy<ExecutionSpace>(0, m_out),
      KOKKOS_LAMBDA(const std::size_t j) { scaled(0, j) = omega * b(0, j); });
  return scaled;
}

template <class T>
void Linear<T>::forward_impl(Context<T>& context, Workspace<T>&) {
  LinearContext& c = this->template as<LinearContext>(context);
  if (c.pass.taylor())
    forward_derivatives(c);
  else
    forward_values(c);
}

template <class T>
void Linear<T>::forward_values(LinearContext& c) {
  const Matrix<T> x = c.x;
  const std::size_t batch = x.extent(0);
  ensure_shape(c.z, "karman::nn::linear::z", batch, m_out);
  if (m_activation == Activation::identity)
    c.y = c.z;
  else
    ensure_shape(c.y, "karman::nn::linear::y", batch, m_out);

  const T omega = static_cast<T>(m_options.frequency);
  gemm(Transpose::no, Transpose::no, omega, x, m_parameters->value(m_weight), T(0), c.z);
  if (!m_bias && m_activation == Activation::identity) return;
  const Matrix<T> z = c.z, y = c.y;
  const Matrix<T> b = m_bias ? effective_bias() : Matrix<T>();
  const bool has_bias = m_bias;
  const std::size_t out = m_out;
  with_activation(m_activation, [&](auto act) {
    Kokkos::parallel_for(
        "karman::nn::linear::bias_activation", Kokkos::RangePolicy<ExecutionSpace>(0, batch),
        KOKKOS_LAMBDA(const std::size_t i) {
          // Row pointers (local to the kernel) let the compiler vectorise the row. The bias test
          // stays outside the loops: a conditional load inside keeps a long body from vectorising.
          T* KOKKOS_RESTRICT zi = &z(i, 0);
          T* KOKKOS_RESTRICT yi = &y(i, 0);
          if (has_bias) {
            const T* KOKKOS_RESTRICT bias = &b(0, 0);
#pragma omp simd
            for (std::size_t j = 0; j < out; ++j) {
              const T zij = zi[j] + bias[j];
              zi[j] = zij;
              yi[j] = activate(act.value, zij);
            }
          } else {
#pragma omp simd
            for (std::size_t j = 0; j < out; ++j) yi[j] = activate(act.value, zi[j]);
          }
        });
  });
}

template <class T>
const Matrix<T>& Linear<T>::activation_backward(LinearContext& c, const Matrix<T>& dy) {
  if (c.pass.taylor()) {
    derivative_activation_backward(c, dy);
    return c.dz;
  }
  if (m_activation == Activation::identity) return dy;
  const std::size_t batch = c.rows();
  ensure_shape(c.dz, "karman::nn::linear::dz", batch, m_out);
  const Matrix<T> dz = c.dz, z = c.z, y = c.y;
  const std::size_t out = m_out;
  with_activation(m_activation, [&](auto act) {
    Kokkos::parallel_for(
        "karman::nn::linear::activation_backward", Kokkos::RangePolicy<ExecutionSpace>(0, batch),
        KOKKOS_LAMBDA(const std::size_t i) {
          const T* KOKKOS_RESTRICT zi = &z(i, 0);
          const T* KOKKOS_RESTRICT yi = &y(i, 0);
          const T* KOKKOS_RESTRICT dyi = &dy(i, 0);
          T* KOKKOS_RESTRICT dzi = &dz(i, 0);
#pragma omp simd
          for (std::size_t j = 0; j < out; ++j)
            dzi[j] = dyi[j] * activate_derivative(act.value, zi[j], yi[j]);
        });
  });
  return c.dz;
}

template <class T>
void Linear<T>::backward_impl(Context<T>& context, const Matrix<T>& dy,
                              const Gradient<T>& gradient) {
  LinearContext& c = this->template as<LinearContext>(context);
  const Matrix<T> dz = activation_backward(c, dy);
  if (gradient.parameters())
    parameter_gradients(c, dz, gradient.keep());
  else if (gradient.mode == GradientMode::per_point)
    write_point_gradients(c, dz, gradient.jacobian);
  // Z = ω0 (X W + b), so every parameter and input gradient carries ω0: dX = ω0 dZ Wᵀ.
  ensure_shape(c.dx, "karman::nn::linear::dx", dz.extent(0), m_in);
  gemm(Transpose::no, Transpose::yes, static_cast<T>(m_options.frequency), dz,
       m_parameters->value(m_weight), T(0), c.dx);
}

template <class T>
void Linear<T>::parameter_gradients(LinearContext& c, const Matrix<T>& dz, T keep) {
  // dW = keep·dW + ω0 X_allᵀ dZ_all,  db = keep·db + ω0 1ᵀ dZ_values (the bias enters the values
  // channel only).
  const T omega = static_cast<T>(m_options.frequency);
  gemm(Transpose::yes, Transpose::no, omega, c.x, dz, keep, m_parameters->gradient(m_weight));
  if (!m_bias) return;
  const std::size_t n = c.points();
  if (c.ones.extent(0) != n) {
    ensure_shape(c.ones, "karman::nn::linear::ones", n, 1);
    Kokkos::deep_copy(c.ones, T(1));
  }
  const Matrix<T> values = Kokkos::subview(dz, std::make_pair(std::size_t(0), n), Kokkos::ALL);
  gemm(Transpose::yes, Transpose::no, omega, c.ones, values, keep,
       m_parameters->gradient(m_bias_index));
}

template <class T>
void Linear<T>::write_point_gradients(const LinearContext& c, const Matrix<T>& dz,
                                      const Matrix<T>& jacobian) const {
  const Matrix<T> x = c.x;
  const std::size_t channels = c.pass.channels();
  const std::size_t n = x.extent(0) / channels, in = m_in, out = m_out;
  KARMAN_VERIFY(jacobian.extent(0) == n && jacobian.extent(1) == m_parameters->size(),
                "Linear: the per-point Jacobian must be [points, parameters]");
  const std::size_t weight = m_parameters->info(m_weight).offset;
  const std::size_t bias = m_bias ? m_parameters->info(m_bias_index).offset : 0;
  const bool has_bias = m_bias;
  const T omega = static_cast<T>(m_options.frequency);
  Kokkos::parallel_for(
      "karman::nn::linear::point_gradients", Kokkos::RangePolicy<ExecutionSpace>(0, n),
      KOKKOS_LAMBDA(const std::size_t i) {
        // W is [in, out] row-major: entry (b, a) at weight + b·out + a.
        for (std::size_t b = 0; b < in; ++b) {
          T* KOKKOS_RESTRICT row = &jacobian(i, weight + b * out);
          const T* KOKKOS_RESTRICT dz0 = &dz(i, 0);
          const T x0 = x(i, b);
#pragma omp simd
          for (std::size_t a = 0; a < out; ++a) row[a] = omega * x0 * dz0[a];
          for (std::size_t c = 1; c < channels; ++c) {
            const T* KOKKOS_RESTRICT dzc = &dz(c * n + i, 0);
            const T xc = x(c * n + i, b);
#pragma omp simd
            for (std::size_t a = 0; a < out; ++a) row[a] += omega * xc * dzc[a];
          }
        }
        if (has_bias)
          for (std::size_t a = 0; a < out; ++a) jacobian(i, bias + a) = omega * dz(i, a);
      });
}

// ---------------------------------------------------------------------- derivative propagation
// Per point and neuron, with z the pre-activation channels (z, z_k, z_kk) and σ's jet (s1..s3):
//   y = σ(z),  y_k = s1 z_k,  y_kk = s2 z_k² + s1 z_kk.
// Backward, from the output-channel gradients (g, g_k, g_kk):
//   z̄    = g s1 + Σ_k [g_k s2 z_k + g_kk (s3 z_k² + s2 z_kk)]
//   z̄_k  = g_k s1 + 2 g_kk s2 z_k
//   z̄_kk = g_kk s1
// The linear map is the same for every channel (the bias only enters the values), so each
// direction is one GEMM over all C·N rows.

template <class T>
void Linear<T>::forward_derivatives(LinearContext& c) {
  const Matrix<T> x = c.x;
  const std::size_t dims = c.pass.dims, n = c.points(), out = m_out;
  ensure_shape(c.z, "karman::nn::linear::taylor_z", x.extent(0), m_out);
  ensure_shape(c.y, "karman::nn::linear::taylor_y", x.extent(0), m_out);
  ensure_shape(c.jet, "karman::nn::linear::taylor_jet", 3 * n, m_out);
  gemm(Transpose::no, Transpose::no, static_cast<T>(m_options.frequency), x,
       m_parameters->value(m_weight), T(0), c.z);
  const Matrix<T> z = c.z, y = c.y, jet = c.jet;
  const Matrix<T> b = m_bias ? effective_bias() : c.z;
  const bool has_bias = m_bias;
  with_activation(m_activation, [&](auto act) {
    Kokkos::parallel_for(
        "karman::nn::linear::taylor_forward", Kokkos::RangePolicy<ExecutionSpace>(0, n),
        KOKKOS_LAMBDA(const std::size_t i) {
          // Row pointers of point i in every channel block; the loops over neurons vectorise.
          T* KOKKOS_RESTRICT zi = &z(i, 0);
          T* KOKKOS_RESTRICT yi = &y(i, 0);
          T* KOKKOS_RESTRICT s1 = &jet(i, 0);
          T* KOKKOS_RESTRICT s2 = &jet(n + i, 0);
          T* KOKKOS_RESTRICT s3 = &jet(2 * n + i, 0);
          const T* KOKKOS_RESTRICT bias = &b(0, 0);
#pragma omp simd
          for (std::size_t j = 0; j < out; ++j) {
            const T zij = has_bias ? zi[j] + bias[j] : zi[j];
            const ActivationJet<T> s = activate_jet(act.value, zij);
            zi[j] = zij;
            yi[j] = s.s0;
            s1[j] = s.s1;
            s2[j] = s.s2;
            s3[j] = s.s3;
          }
          for (std::size_t k = 0; k < dims; ++k) {
            const T* KOKKOS_RESTRICT zk = &z((1 + k) * n + i, 0);
            const T* KOKKOS_RESTRICT zkk = &z((1 + dims + k) * n + i, 0);
            T* KOKKOS_RESTRICT yk = &y((1 + k) * n + i, 0);
            T* KOKKOS_RESTRICT ykk = &y((1 + dims + k) * n + i, 0);
#pragma omp simd
            for (std::size_t j = 0; j < out; ++j) {
              yk[j] = s1[j] * zk[j];
              ykk[j] = s2[j] * zk[j] * zk[j] + s1[j] * zkk[j];
            }
          }
        });
  });
}

template <class T>
void Linear<T>::derivative_activation_backward(LinearContext& c, const Matrix<T>& dy) {
  const std::size_t dims = c.pass.dims, rows = c.rows(), n = c.points(), out = m_out;
  ensure_shape(c.dz, "karman::nn::linear::taylor_dz", rows, m_out);
  const Matrix<T> z = c.z, dz = c.dz, jet = c.jet;
  Kokkos::parallel_for(
      "karman::nn::linear::taylor_backward", Kokkos::RangePolicy<ExecutionSpace>(0, n),
      KOKKOS_LAMBDA(const std::size_t i) {
        const T* KOKKOS_RESTRICT s1 = &jet(i, 0);
        const T* KOKKOS_RESTRICT s2 = &jet(n + i, 0);
        const T* KOKKOS_RESTRICT s3 = &jet(2 * n + i, 0);
        const T* KOKKOS_RESTRICT g = &dy(i, 0);
        T* KOKKOS_RESTRICT dzi = &dz(i, 0);
#pragma omp simd
        for (std::size_t j = 0; j < out; ++j) dzi[j] = g[j] * s1[j];
        for (std::size_t k = 0; k < dims; ++k) {
          const std::size_t first = (1 + k) * n + i, second = (1 + dims + k) * n + i;
          const T* KOKKOS_RESTRICT zk = &z(first, 0);
          const T* KOKKOS_RESTRICT zkk = &z(second, 0);
          const T* KOKKOS_RESTRICT gk = &dy(first, 0);
          const T* KOKKOS_RESTRICT gkk = &dy(second, 0);
          T* KOKKOS_RESTRICT dzk = &dz(first, 0);
          T* KOKKOS_RESTRICT dzkk = &dz(second, 0);
#pragma omp simd
          for (std::size_t j = 0; j < out; ++j) {
            dzi[j] += gk[j] * s2[j] * zk[j] + gkk[j] * (s3[j] * zk[j] * zk[j] + s2[j] * zkk[j]);
            dzk[j] = gk[j] * s1[j] + T(2) * gkk[j] * s2[j] * zk[j];
            dzkk[j] = gkk[j] * s1[j];
          }
        }
      });
}

template class Linear<float>;
template class Linear<double>;

}  // namespace karman::nn
