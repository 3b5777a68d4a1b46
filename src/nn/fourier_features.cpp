#include "karman/nn/fourier_features.hpp"

#include <cmath>

#include "karman/core/error.hpp"
#include "karman/core/random.hpp"
#include "karman/nn/gemm.hpp"
#include "karman/nn/taylor_rules.hpp"

namespace karman::nn {
namespace {

constexpr double kTwoPi = 6.283185307179586476925;
constexpr std::uint64_t kFourierStream = 0x666f7572696572;  // "fourier": B's own stream

}  // namespace

template <class T>
FourierFeatures<T>::FourierFeatures(std::size_t in, const FourierOptions& options)
    : m_in(in), m_options(options) {
  KARMAN_VERIFY(in > 0 && options.count > 0 && options.scale > 0.0,
                "FourierFeatures: need inputs, frequencies and a positive scale");
  const std::size_t m = options.count;
  m_frequencies = Matrix<T>("karman::nn::fourier::b", in, m);
  m_angular = Matrix<T>("karman::nn::fourier::two_pi_b", in, m);
  auto b = Kokkos::create_mirror_view(m_frequencies);
  auto angular = Kokkos::create_mirror_view(m_angular);
  const std::uint64_t stream = mix64(options.seed ^ kFourierStream);
  for (std::size_t i = 0; i < in; ++i)
    for (std::size_t j = 0; j < m; ++j) {
      const double bij = options.scale * standard_normal(stream, i * m + j);
      b(i, j) = static_cast<T>(bij);
      angular(i, j) = static_cast<T>(kTwoPi * bij);
    }
  Kokkos::deep_copy(m_frequencies, b);
  Kokkos::deep_copy(m_angular, angular);
}

template <class T>
std::size_t FourierFeatures<T>::out_features() const {
  return 2 * m_options.count + (m_options.include_input ? m_in : 0);
}

template <class T>
void FourierFeatures<T>::add_passthrough_gradient(const Matrix<T>& dy, const Matrix<T>& dx) const {
  if (!m_options.include_input) return;
  const std::size_t first = 2 * m_options.count, in = m_in;
  Kokkos::parallel_for(
      "karman::nn::fourier::passthrough_backward",
      Kokkos::RangePolicy<ExecutionSpace>(0, dx.extent(0)), KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t c = 0; c < in; ++c) dx(r, c) += dy(r, first + c);
      });
}

template <class T>
void FourierFeatures<T>::forward_impl(Context<T>& context, Workspace<T>&) {
  auto& c = this->template as<FourierContext>(context);
  if (c.pass.taylor())
    forward_derivatives(c);
  else
    forward_values(c);
}

template <class T>
void FourierFeatures<T>::backward_impl(Context<T>& context, const Matrix<T>& dy,
                                       const Gradient<T>&) {
  auto& c = this->template as<FourierContext>(context);
  if (c.pass.taylor())
    backward_derivatives(c, dy);
  else
    backward_values(c, dy);
  add_passthrough_gradient(dy, c.dx);
}

template <class T>
void FourierFeatures<T>::forward_values(FourierContext& c) const {
  const Matrix<T> x = c.x;
  const std::size_t batch = x.extent(0), m = m_options.count, in = m_in;
  const bool pass = m_options.include_input;
  ensure_shape(c.p, "karman::nn::fourier::p", batch, m);
  ensure_shape(c.y, "karman::nn::fourier::y", batch, out_features());
  gemm(Transpose::no, Transpose::no, T(1), x, m_angular, T(0), c.p);
  const Matrix<T> p = c.p, y = c.y;
  Kokkos::parallel_for(
      "karman::nn::fourier::forward", Kokkos::RangePolicy<ExecutionSpace>(0, batch),
      KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t j = 0; j < m; ++j) {
          y(i, j) = std::sin(p(i, j));
          y(i, m + j) = std::cos(p(i, j));
        }
        if (pass)
          for (std::size_t c = 0; c < in; ++c) y(i, 2 * m + c) = x(i, c);
      });
}

template <class T>
void FourierFeatures<T>::backward_values(FourierContext& c, const Matrix<T>& dy) const {
  const std::size_t batch = c.rows(), m = m_options.count;
  ensure_shape(c.dp, "karman::nn::fourier::dp", batch, m);
  ensure_shape(c.dx, "karman::nn::fourier::dx", batch, m_in);
  // dP = dS ∘ cos P − dC ∘ sin P (sin P and cos P are the outputs), dX = dP (2πB)ᵀ.
  const Matrix<T> y = c.y, dp = c.dp;
  Kokkos::parallel_for(
      "karman::nn::fourier::backward", Kokkos::RangePolicy<ExecutionSpace>(0, batch),
      KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t j = 0; j < m; ++j)
          dp(i, j) = dy(i, j) * y(i, m + j) - dy(i, m + j) * y(i, j);
      });
  gemm(Transpose::no, Transpose::yes, T(1), c.dp, m_angular, T(0), c.dx);
}

// The phases are linear in X, so every channel of P = 2π X B is one GEMM over all C·N rows; sin
// and cos then follow the chain rule with the jets (cos, −sin, −cos) and (−sin, −cos, sin).
template <class T>
void FourierFeatures<T>::forward_derivatives(FourierContext& c) const {
  const Matrix<T> x = c.x;
  const std::size_t dims = c.pass.dims, channels = c.pass.channels(), rows = x.extent(0);
  const std::size_t n = rows / channels, m = m_options.count, in = m_in;
  const bool pass = m_options.include_input;
  ensure_shape(c.p, "karman::nn::fourier::taylor_p", rows, m);
  ensure_shape(c.y, "karman::nn::fourier::taylor_y", rows, out_features());
  gemm(Transpose::no, Transpose::no, T(1), x, m_angular, T(0), c.p);
  const Matrix<T> p = c.p, y = c.y;
  Kokkos::parallel_for(
      "karman::nn::fourier::taylor_forward", Kokkos::RangePolicy<ExecutionSpace>(0, n),
      KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t j = 0; j < m; ++j) {
          const T s = std::sin(p(i, j)), c = std::cos(p(i, j));
          y(i, j) = s;
          y(i, m + j) = c;
          for (std::size_t k = 0; k < dims; ++k) {
            const std::size_t rk = (1 + k) * n + i, rkk = (1 + dims + k) * n + i;
            taylor::chain(c, -s, p(rk, j), p(rkk, j), y(rk, j), y(rkk, j));
            taylor::chain(-s, -c, p(rk, j), p(rkk, j), y(rk, m + j), y(rkk, m + j));
          }
        }
        if (pass)
          for (std::size_t r = i; r < channels * n; r += n)
            for (std::size_t c = 0; c < in; ++c) y(r, 2 * m + c) = x(r, c);
      });
}

template <class T>
void FourierFeatures<T>::backward_derivatives(FourierContext& c, const Matrix<T>& dy) const {
  const std::size_t dims = c.pass.dims, rows = c.rows(), n = c.points(), m = m_options.count;
  ensure_shape(c.dp, "karman::nn::fourier::taylor_dp", rows, m);
  ensure_shape(c.dx, "karman::nn::fourier::taylor_dx", rows, m_in);
  const Matrix<T> p = c.p, y = c.y, dp = c.dp;
  Kokkos::parallel_for(
      "karman::nn::fourier::taylor_backward", Kokkos::RangePolicy<ExecutionSpace>(0, n),
      KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t j = 0; j < m; ++j) {
          const T s = y(i, j), c = y(i, m + j);
          T p_bar = dy(i, j) * c - dy(i, m + j) * s;
          for (std::size_t k = 0; k < dims; ++k) {
            const std::size_t rk = (1 + k) * n + i, rkk = (1 + dims + k) * n + i;
            T sin_k, sin_kk, cos_k, cos_kk;
            taylor::chain_adjoint(c, -s, -c, p(rk, j), p(rkk, j), dy(rk, j), dy(rkk, j), p_bar,
                                  sin_k, sin_kk);
            taylor::chain_adjoint(-s, -c, s, p(rk, j), p(rkk, j), dy(rk, m + j), dy(rkk, m + j),
                                  p_bar, cos_k, cos_kk);
            dp(rk, j) = sin_k + cos_k;
            dp(rkk, j) = sin_kk + cos_kk;
          }
          dp(i, j) = p_bar;
        }
      });
  gemm(Transpose::no, Transpose::yes, T(1), c.dp, m_angular, T(0), c.dx);
}

template class FourierFeatures<float>;
template class FourierFeatures<double>;

}  // namespace karman::nn
