#include "karman/nn/conv1d.hpp"

#include <cmath>

#include "karman/core/error.hpp"
#include "karman/nn/gemm.hpp"
#include "karman/nn/init.hpp"

namespace karman::nn {

namespace {
using Range = Kokkos::RangePolicy<ExecutionSpace>;
}  // namespace

template <class T>
Conv1d<T>::Conv1d(const Conv1dOptions& options)
    : m_options(options), m_length_out(options.output_length()) {
  KARMAN_VERIFY(options.in_channels > 0 && options.out_channels > 0,
                "Conv1d: the channel counts must be positive");
  KARMAN_VERIFY(m_length_out > 0, "Conv1d: a kernel of " + std::to_string(options.kernel) +
                                      " with stride " + std::to_string(options.stride) +
                                      " does not fit " + std::to_string(options.length) +
                                      " input values");
}

template <class T>
void Conv1d<T>::declare(Parameters<T>& parameters, const std::string& prefix) {
  m_parameters = &parameters;
  const Conv1dOptions& o = m_options;
  m_weight = parameters.declare(prefix + "weight", o.out_channels, o.in_channels * o.kernel);
  m_bias = parameters.declare(prefix + "bias", 1, o.out_channels);
}

template <class T>
void Conv1d<T>::initialize(std::uint64_t seed) {
  // PyTorch's default: U(±1/√fan_in) for both, fan_in = C_in·K.
  const std::size_t fan_in = m_options.in_channels * m_options.kernel;
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  initialize_parameter(*m_parameters, m_weight, Init::uniform, fan_in, m_options.out_channels,
                       bound, seed);
  initialize_parameter(*m_parameters, m_bias, Init::uniform, fan_in, m_options.out_channels, bound,
                       seed);
}

template <class T>
void Conv1d<T>::expand_kernel(Conv1dContext& c) const {
  const std::size_t in = in_features(), out = out_features();
  ensure_shape(c.toeplitz, "karman::nn::conv1d::toeplitz", in, out);
  Kokkos::deep_copy(c.toeplitz, T(0));
  const Matrix<T> m = c.toeplitz, w = weight();
  const std::size_t channels_in = m_options.in_channels, length_in = m_options.length;
  const std::size_t kernel = m_options.kernel, stride = m_options.stride;
  const std::size_t length_out = m_length_out;
  // One thread per (o, c): its entries (t·s + k, t) are distinct, so no two threads write one.
  Kokkos::parallel_for(
      "karman::nn::conv1d::expand_kernel", Range(0, m_options.out_channels * channels_in),
      KOKKOS_LAMBDA(const std::size_t oc) {
        const std::size_t o = oc / channels_in, ci = oc % channels_in;
        for (std::size_t t = 0; t < length_out; ++t)
          for (std::size_t k = 0; k < kernel; ++k)
            m(ci * length_in + t * stride + k, o * length_out + t) = w(o, ci * kernel + k);
      });
}

template <class T>
void Conv1d<T>::forward_impl(Context<T>& context, Workspace<T>&) {
  auto& c = this->template as<Conv1dContext>(context);
  const std::size_t rows = c.rows(), out = out_features(), length_out = m_length_out;
  expand_kernel(c);
  ensure_shape(c.y, "karman::nn::conv1d::y", rows, out);
  // y = b (broadcast over t), then y += x M.
  const Matrix<T> y = c.y, b = bias();
  Kokkos::parallel_for(
      "karman::nn::conv1d::bias", Range(0, rows), KOKKOS_LAMBDA(const std::size_t n) {
        for (std::size_t j = 0; j < out; ++j) y(n, j) = b(0, j / length_out);
      });
  gemm(Transpose::no, Transpose::no, T(1), c.x, c.toeplitz, T(1), c.y);
}

template <class T>
void Conv1d<T>::backward_impl(Context<T>& context, const Matrix<T>& dy,
                              const Gradient<T>& gradient) {
  auto& c = this->template as<Conv1dContext>(context);
  if (gradient.parameters()) parameter_gradients(c, dy, gradient.mode == GradientMode::accumulate);
  ensure_shape(c.dx, "karman::nn::conv1d::dx", c.rows(), in_features());
  gemm(Transpose::no, Transpose::yes, T(1), dy, c.toeplitz, T(0), c.dx);  // dx = dy Mᵀ
}

template <class T>
void Conv1d<T>::parameter_gradients(Conv1dContext& c, const Matrix<T>& dy, bool accumulate) const {
  const std::size_t rows = c.rows(), in = in_features(), out = out_features();
  // xᵀ dy [C_in·L_in, C_out·L_out] and 1ᵀ dy [1, C_out·L_out]: the GEMMs over the rows.
  ensure_shape(c.dtoeplitz, "karman::nn::conv1d::dtoeplitz", in, out);
  gemm(Transpose::yes, Transpose::no, T(1), c.x, dy, T(0), c.dtoeplitz);
  if (c.ones.extent(0) != rows) {
    ensure_shape(c.ones, "karman::nn::conv1d::ones", rows, 1);
    Kokkos::deep_copy(c.ones, T(1));
  }
  ensure_shape(c.dy_sums, "karman::nn::conv1d::dy_sums", 1, out);
  gemm(Transpose::yes, Transpose::no, T(1), c.ones, dy, T(0), c.dy_sums);

  // Fold M's gradient back into the kernel: dw(o, c, k) = Σ_t dM(c·L_in + t·s + k, o·L_out + t).
  const Matrix<T> dm = c.dtoeplitz, sums = c.dy_sums;
  const Matrix<T> dw = m_parameters->gradient(m_weight), db = m_parameters->gradient(m_bias);
  const std::size_t channels_in = m_options.in_channels, length_in = m_options.length;
  const std::size_t kernel = m_options.kernel, stride = m_options.stride;
  const std::size_t length_out = m_length_out;
  Kokkos::parallel_for(
      "karman::nn::conv1d::fold_weight_gradient",
      Range(0, m_options.out_channels * channels_in * kernel), KOKKOS_LAMBDA(const std::size_t e) {
        const std::size_t o = e / (channels_in * kernel), ck = e % (channels_in * kernel);
        const std::size_t ci = ck / kernel, k = ck % kernel;
        T sum = 0;
        for (std::size_t t = 0; t < length_out; ++t)
          sum += dm(ci * length_in + t * stride + k, o * length_out + t);
        // Overwriting never reads the old gradient (it may hold anything, NaN included).
        dw(o, ck) = accumulate ? dw(o, ck) + sum : sum;
      });
  Kokkos::parallel_for(
      "karman::nn::conv1d::fold_bias_gradient", Range(0, m_options.out_channels),
      KOKKOS_LAMBDA(const std::size_t o) {
        T sum = 0;
        for (std::size_t t = 0; t < length_out; ++t) sum += sums(0, o * length_out + t);
        db(0, o) = accumulate ? db(0, o) + sum : sum;
      });
}

template <class T>
void conv1d_reference(const Conv1dOptions& options, const Matrix<T>& x, const Matrix<T>& weight,
                      const Matrix<T>& bias, const Matrix<T>& y) {
  const std::size_t length_out = options.output_length();
  KARMAN_VERIFY(length_out > 0, "conv1d_reference: the kernel does not fit the input");
  KARMAN_VERIFY(x.extent(1) == options.in_channels * options.length &&
                    y.extent(1) == options.out_channels * length_out && y.extent(0) == x.extent(0),
                "conv1d_reference: x or y has the wrong shape");
  const std::size_t channels_in = options.in_channels, channels_out = options.out_channels;
  const std::size_t length_in = options.length, kernel = options.kernel, stride = options.stride;
  Kokkos::parallel_for(
      "karman::nn::conv1d::reference", Range(0, x.extent(0)), KOKKOS_LAMBDA(const std::size_t n) {
        for (std::size_t o = 0; o < channels_out; ++o)
          for (std::size_t t = 0; t < length_out; ++t) {
            T sum = bias(0, o);
            for (std::size_t ci = 0; ci < channels_in; ++ci)
              for (std::size_t k = 0; k < kernel; ++k)
                sum += weight(o, ci * kernel + k) * x(n, ci * length_in + t * stride + k);
            y(n, o * length_out + t) = sum;
          }
      });
}

template class Conv1d<float>;
template class Conv1d<double>;
template void conv1d_reference<float>(const Conv1dOptions&, const Matrix<float>&,
                                      const Matrix<float>&, const Matrix<float>&,
                                      const Matrix<float>&);
template void conv1d_reference<double>(const Conv1dOptions&, const Matrix<double>&,
                                       const Matrix<double>&, const Matrix<double>&,
                                       const Matrix<double>&);

}  // namespace karman::nn
