#include "karman/nn/linear.hpp"

#include "karman/core/error.hpp"
#include "karman/nn/gemm.hpp"

namespace karman::nn {

template <class T>
Linear<T>::Linear(std::size_t in, std::size_t out, bool bias, Activation activation, Init init,
                  double gain)
    : m_in(in), m_out(out), m_bias(bias), m_activation(activation), m_init(init), m_gain(gain) {}

template <class T>
void Linear<T>::declare(Parameters<T>& parameters, const std::string& prefix) {
  m_parameters = &parameters;
  m_weight = parameters.declare(prefix + "weight", m_in, m_out);
  if (m_bias) m_bias_index = parameters.declare(prefix + "bias", 1, m_out);
}

template <class T>
void Linear<T>::initialize(std::uint64_t seed) {
  initialize_parameter(*m_parameters, m_weight, m_init, m_in, m_out, m_gain, seed);
  if (m_bias)
    initialize_parameter(*m_parameters, m_bias_index, Init::zeros, m_in, m_out, 0.0, seed);
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

  gemm(Transpose::no, Transpose::no, T(1), x, m_parameters->value(m_weight), T(0), m_z);
  if (!m_bias && m_activation == Activation::identity) return m_y;
  const Matrix<T> z = m_z, y = m_y;
  const Matrix<T> b = m_bias ? m_parameters->value(m_bias_index) : Matrix<T>();
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
Matrix<T> Linear<T>::backward(const Matrix<T>& dy) {
  const std::size_t batch = m_x.extent(0);
  KARMAN_VERIFY(dy.extent(0) == batch && dy.extent(1) == m_out, "Linear: dy has the wrong shape");
  // dZ = dY ∘ σ'(Z)
  Matrix<T> dz = dy;
  if (m_activation != Activation::identity) {
    ensure_shape(m_dz, "karman::nn::linear::dz", batch, m_out);
    dz = m_dz;
    const Matrix<T> z = m_z, y = m_y;
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
  }
  // dW += Xᵀ dZ,  db += 1ᵀ dZ,  dX = dZ Wᵀ
  gemm(Transpose::yes, Transpose::no, T(1), m_x, dz, T(1), m_parameters->gradient(m_weight));
  if (m_bias) {
    if (m_ones.extent(0) != batch) {
      ensure_shape(m_ones, "karman::nn::linear::ones", batch, 1);
      Kokkos::deep_copy(m_ones, T(1));
    }
    gemm(Transpose::yes, Transpose::no, T(1), m_ones, dz, T(1),
         m_parameters->gradient(m_bias_index));
  }
  ensure_shape(m_dx, "karman::nn::linear::dx", batch, m_in);
  gemm(Transpose::no, Transpose::yes, T(1), dz, m_parameters->value(m_weight), T(0), m_dx);
  return m_dx;
}

template class Linear<float>;
template class Linear<double>;

}  // namespace karman::nn
