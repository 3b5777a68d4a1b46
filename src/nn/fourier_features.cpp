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
    : m_in(in), m_count(options.count), m_kind("fourier_features") {
  KARMAN_VERIFY(in > 0 && options.count > 0 && options.scale > 0.0,
                "FourierFeatures: need inputs, frequencies and a positive scale");
  const std::size_t m = options.count;
  std::vector<double> b(in * m);
  const std::uint64_t stream = mix64(options.seed ^ kFourierStream);
  for (std::size_t k = 0; k < in * m; ++k) b[k] = options.scale * standard_normal(stream, k);
  set_frequencies(b);
  if (options.include_input)
    for (std::size_t c = 0; c < in; ++c) m_pass.push_back(c);
  set_passthrough();
}

template <class T>
FourierFeatures<T>::FourierFeatures(std::size_t in, const std::vector<double>& b, std::size_t m,
                                    std::vector<std::size_t> passthrough, std::string kind)
    : m_in(in), m_count(m), m_pass(std::move(passthrough)), m_kind(std::move(kind)) {
  KARMAN_VERIFY(in > 0 && m > 0 && b.size() == in * m,
                "FourierFeatures: need inputs and an [in, m] frequency matrix");
  for (std::size_t c : m_pass) KARMAN_VERIFY(c < in, "FourierFeatures: no such input column");
  set_frequencies(b);
  set_passthrough();
}

template <class T>
void FourierFeatures<T>::set_frequencies(const std::vector<double>& b) {
  m_frequencies = Matrix<T>("karman::nn::fourier::b", m_in, m_count);
  m_angular = Matrix<T>("karman::nn::fourier::two_pi_b", m_in, m_count);
  auto frequencies = Kokkos::create_mirror_view(m_frequencies);
  auto angular = Kokkos::create_mirror_view(m_angular);
  for (std::size_t i = 0; i < m_in; ++i)
    for (std::size_t j = 0; j < m_count; ++j) {
      frequencies(i, j) = static_cast<T>(b[i * m_count + j]);
      angular(i, j) = static_cast<T>(kTwoPi * b[i * m_count + j]);
    }
  Kokkos::deep_copy(m_frequencies, frequencies);
  Kokkos::deep_copy(m_angular, angular);
}

template <class T>
void FourierFeatures<T>::set_passthrough() {
  m_pass_columns =
      Kokkos::View<std::size_t*, MemorySpace>("karman::nn::fourier::pass", m_pass.size());
  auto host = Kokkos::create_mirror_view(m_pass_columns);
  for (std::size_t q = 0; q < m_pass.size(); ++q) host(q) = m_pass[q];
  Kokkos::deep_copy(m_pass_columns, host);
}

template <class T>
std::size_t FourierFeatures<T>::out_features() const {
  return 2 * m_count + m_pass.size();
}

template <class T>
void FourierFeatures<T>::add_passthrough_gradient(const Matrix<T>& dy, const Matrix<T>& dx) const {
  if (m_pass.empty()) return;
  const std::size_t first = 2 * m_count, count = m_pass.size();
  const auto pass = m_pass_columns;
  Kokkos::parallel_for(
      "karman::nn::fourier::passthrough_backward",
      Kokkos::RangePolicy<ExecutionSpace>(0, dx.extent(0)), KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t q = 0; q < count; ++q) dx(r, pass(q)) += dy(r, first + q);
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
  const std::size_t batch = x.extent(0), m = m_count, count = m_pass.size();
  const auto pass = m_pass_columns;
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
        for (std::size_t q = 0; q < count; ++q) y(i, 2 * m + q) = x(i, pass(q));
      });
}

template <class T>
void FourierFeatures<T>::backward_values(FourierContext& c, const Matrix<T>& dy) const {
  const std::size_t batch = c.rows(), m = m_count;
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
  const std::size_t n = rows / channels, m = m_count, count = m_pass.size();
  const auto pass = m_pass_columns;
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
        for (std::size_t r = i; r < channels * n; r += n)
          for (std::size_t q = 0; q < count; ++q) y(r, 2 * m + q) = x(r, pass(q));
      });
}

template <class T>
void FourierFeatures<T>::backward_derivatives(FourierContext& c, const Matrix<T>& dy) const {
  const std::size_t dims = c.pass.dims, rows = c.rows(), n = c.points(), m = m_count;
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

template <class T>
std::unique_ptr<FourierFeatures<T>> make_periodic_embedding(const std::vector<double>& periods,
                                                            std::size_t modes) {
  const std::size_t in = periods.size();
  std::vector<std::size_t> periodic, pass;
  for (std::size_t a = 0; a < in; ++a) (periods[a] > 0.0 ? periodic : pass).push_back(a);
  KARMAN_VERIFY(!periodic.empty() && modes > 0,
                "make_periodic_embedding: need a periodic input and at least one mode");
  // Column j = (axis p, harmonic k): B(a_p, j) = k / L_{a_p}.
  const std::size_t m = periodic.size() * modes;
  std::vector<double> b(in * m, 0.0);
  for (std::size_t p = 0; p < periodic.size(); ++p)
    for (std::size_t k = 1; k <= modes; ++k)
      b[periodic[p] * m + p * modes + (k - 1)] = static_cast<double>(k) / periods[periodic[p]];
  return std::make_unique<FourierFeatures<T>>(in, b, m, pass, "periodic_embedding");
}

template class FourierFeatures<float>;
template class FourierFeatures<double>;
template std::unique_ptr<FourierFeatures<float>> make_periodic_embedding<float>(
    const std::vector<double>&, std::size_t);
template std::unique_ptr<FourierFeatures<double>> make_periodic_embedding<double>(
    const std::vector<double>&, std::size_t);

}  // namespace karman::nn
