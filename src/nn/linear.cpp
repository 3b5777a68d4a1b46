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
Matrix<T> Linear<T>::forward(const Matrix<T>& x) {
  KARMAN_VERIFY(x.extent(1) == m_in, "Linear: input has " + std::to_string(x.extent(1)) +
                                         " features, expected " + std::to_string(m_in));
  const std::size_t batch = x.extent(0);
  m_x = x;
  ensure_shape(m_z, "karman::nn::linear::z", batch, m_out);
  if (m_activation == Activation::identity)
    m_y = m_z;
  else
    ensure_shape(m_y, "karman::nn::linear::y", batch, m_out);

  const T omega = static_cast<T>(m_options.frequency);
  gemm(Transpose::no, Transpose::no, omega, x, m_parameters->value(m_weight), T(0), m_z);
  if (!m_bias && m_activation == Activation::identity) return m_y;
  const Matrix<T> z = m_z, y = m_y;
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
  return m_y;
}

template <class T>
Matrix<T> Linear<T>::activation_backward(const Matrix<T>& dy) {
  const std::size_t batch = m_x.extent(0);
  KARMAN_VERIFY(dy.extent(0) == batch && dy.extent(1) == m_out, "Linear: dy has the wrong shape");
  if (m_activation == Activation::identity) return dy;
  ensure_shape(m_dz, "karman::nn::linear::dz", batch, m_out);
  const Matrix<T> dz = m_dz, z = m_z, y = m_y;
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
  return m_dz;
}

template <class T>
Matrix<T> Linear<T>::input_gradient(const Matrix<T>& dz, Matrix<T>& dx) {
  ensure_shape(dx, "karman::nn::linear::dx", dz.extent(0), m_in);
  // Z = ω0 (X W + b), so every parameter and input gradient carries ω0.
  gemm(Transpose::no, Transpose::yes, static_cast<T>(m_options.frequency), dz,
       m_parameters->value(m_weight), T(0), dx);
  return dx;
}

template <class T>
Matrix<T> Linear<T>::backward(const Matrix<T>& dy) {
  const Matrix<T> dz = activation_backward(dy);
  const std::size_t batch = dz.extent(0);
  // dW += ω0 Xᵀ dZ,  db += ω0 1ᵀ dZ,  dX = ω0 dZ Wᵀ
  const T omega = static_cast<T>(m_options.frequency);
  gemm(Transpose::yes, Transpose::no, omega, m_x, dz, T(1), m_parameters->gradient(m_weight));
  if (m_bias) {
    if (m_ones.extent(0) != batch) {
      ensure_shape(m_ones, "karman::nn::linear::ones", batch, 1);
      Kokkos::deep_copy(m_ones, T(1));
    }
    gemm(Transpose::yes, Transpose::no, omega, m_ones, dz, T(1),
         m_parameters->gradient(m_bias_index));
  }
  return input_gradient(dz, m_dx);
}

template <class T>
Matrix<T> Linear<T>::backward_points(const Matrix<T>& dy, const Matrix<T>& jacobian) {
  const Matrix<T> dz = activation_backward(dy);
  write_point_gradients(m_x, dz, 1, jacobian);
  return input_gradient(dz, m_dx);
}

template <class T>
void Linear<T>::write_point_gradients(const Matrix<T>& x, const Matrix<T>& dz, std::size_t channels,
                                      const Matrix<T>& jacobian) const {
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
Matrix<T> Linear<T>::forward_taylor(const Matrix<T>& x, std::size_t dims) {
  const std::size_t channels = 1 + 2 * dims;
  KARMAN_VERIFY(x.extent(1) == m_in && x.extent(0) % channels == 0,
                "Linear::forward_taylor: input is not [C·N, in]");
  const std::size_t n = x.extent(0) / channels, out = m_out;
  m_dims = dims;
  m_tx = x;
  ensure_shape(m_tz, "karman::nn::linear::taylor_z", x.extent(0), m_out);
  ensure_shape(m_ty, "karman::nn::linear::taylor_y", x.extent(0), m_out);
  ensure_shape(m_tjet, "karman::nn::linear::taylor_jet", 3 * n, m_out);
  gemm(Transpose::no, Transpose::no, static_cast<T>(m_options.frequency), x,
       m_parameters->value(m_weight), T(0), m_tz);
  const Matrix<T> z = m_tz, y = m_ty, jet = m_tjet;
  const Matrix<T> b = m_bias ? effective_bias() : m_tz;
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
  return m_ty;
}

template <class T>
void Linear<T>::taylor_activation_backward(const Matrix<T>& dy) {
  const std::size_t dims = m_dims, channels = 1 + 2 * dims, rows = m_tx.extent(0),
                    n = rows / channels, out = m_out;
  KARMAN_VERIFY(dy.extent(0) == rows && dy.extent(1) == m_out,
                "Linear::backward_taylor: dy has the wrong shape");
  ensure_shape(m_tdz, "karman::nn::linear::taylor_dz", rows, m_out);
  const Matrix<T> z = m_tz, dz = m_tdz, jet = m_tjet;
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

template <class T>
Matrix<T> Linear<T>::backward_taylor(const Matrix<T>& dy) {
  taylor_activation_backward(dy);
  const std::size_t n = m_tx.extent(0) / (1 + 2 * m_dims);
  // dW += ω0 X_allᵀ dZ_all,  db += ω0 1ᵀ dZ_values,  dX_all = ω0 dZ_all Wᵀ
  const T omega = static_cast<T>(m_options.frequency);
  gemm(Transpose::yes, Transpose::no, omega, m_tx, m_tdz, T(1), m_parameters->gradient(m_weight));
  if (m_bias) {
    if (m_tones.extent(0) != n) {
      ensure_shape(m_tones, "karman::nn::linear::taylor_ones", n, 1);
      Kokkos::deep_copy(m_tones, T(1));
    }
    const Matrix<T> values = Kokkos::subview(m_tdz, std::make_pair(std::size_t(0), n), Kokkos::ALL);
    gemm(Transpose::yes, Transpose::no, omega, m_tones, values, T(1),
         m_parameters->gradient(m_bias_index));
  }
  return input_gradient(m_tdz, m_tdx);
}

template <class T>
Matrix<T> Linear<T>::backward_taylor_points(const Matrix<T>& dy, const Matrix<T>& jacobian) {
  taylor_activation_backward(dy);
  write_point_gradients(m_tx, m_tdz, 1 + 2 * m_dims, jacobian);
  return input_gradient(m_tdz, m_tdx);
}

template class Linear<float>;
template class Linear<double>;

}  // namespace karman::nn
