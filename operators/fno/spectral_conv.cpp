#include "operators/fno/spectral_conv.hpp"

#include <cblas.h>

#include <algorithm>
#include <complex>
#include <string>

#include "karman/core/error.hpp"
#include "karman/core/extents.hpp"
#include "karman/core/random.hpp"

namespace karman::fno {
namespace {

constexpr bool kHostMemory =
    Kokkos::SpaceAccessibility<Kokkos::HostSpace, nn::MemorySpace>::accessible;

CBLAS_TRANSPOSE cblas_of(ComplexOp op) {
  return op == ComplexOp::none ? CblasNoTrans : CblasConjTrans;
}

void complex_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
                  std::complex<float> alpha, const float* a, int lda, const float* b, int ldb,
                  std::complex<float> beta, float* c, int ldc) {
  cblas_cgemm(CblasRowMajor, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc);
}

void complex_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
                  std::complex<double> alpha, const double* a, int lda, const double* b, int ldb,
                  std::complex<double> beta, double* c, int ldc) {
  cblas_zgemm(CblasRowMajor, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc);
}

// Shapes of one mode's matrices: X [modes·rows, 2·cols] holds `modes` complex rows×cols blocks.
struct ModeShapes {
  long m, n, k;                 // C[m] is m×n, the product sums over k
  long rows_a, rows_b, rows_c;  // stored rows per mode
};

template <class T>
ModeShapes mode_shapes(ComplexOp op_a, ComplexOp op_b, std::size_t modes, const Matrix<T>& A,
                       const Matrix<T>& B, const Matrix<T>& C) {
  KARMAN_VERIFY(modes > 0 && A.extent(0) % modes == 0 && B.extent(0) % modes == 0 &&
                    C.extent(0) % modes == 0 && A.extent(1) % 2 == 0 && B.extent(1) % 2 == 0 &&
                    C.extent(1) % 2 == 0,
                "mode_gemm: arrays must be [modes·rows, 2·cols]");
  ModeShapes s{};
  const auto per_mode = [modes](std::size_t rows) { return static_cast<long>(rows / modes); };
  s.rows_a = per_mode(A.extent(0)), s.rows_b = per_mode(B.extent(0)),
  s.rows_c = per_mode(C.extent(0));
  const long cols_a = static_cast<long>(A.extent(1) / 2),
             cols_b = static_cast<long>(B.extent(1) / 2);
  s.m = op_a == ComplexOp::none ? s.rows_a : cols_a;
  s.k = op_a == ComplexOp::none ? cols_a : s.rows_a;
  s.n = op_b == ComplexOp::none ? cols_b : s.rows_b;
  const long k_b = op_b == ComplexOp::none ? s.rows_b : cols_b;
  KARMAN_VERIFY(k_b == s.k && s.rows_c == s.m && static_cast<long>(C.extent(1) / 2) == s.n,
                "mode_gemm: the per-mode shapes do not match");
  return s;
}

}  // namespace

template <class T>
void mode_gemm(ComplexOp op_a, ComplexOp op_b, std::size_t modes, T alpha, const Matrix<T>& A,
               const Matrix<T>& B, T beta, const Matrix<T>& C) {
  const ModeShapes s = mode_shapes(op_a, op_b, modes, A, B, C);
  KARMAN_VERIFY(kHostMemory, "mode_gemm: the BLAS path needs host memory");
  Kokkos::fence();
  const int lda = static_cast<int>(A.extent(1) / 2), ldb = static_cast<int>(B.extent(1) / 2),
            ldc = static_cast<int>(C.extent(1) / 2);
  for (std::size_t mode = 0; mode < modes; ++mode)
    complex_gemm(cblas_of(op_a), cblas_of(op_b), static_cast<int>(s.m), static_cast<int>(s.n),
                 static_cast<int>(s.k), std::complex<T>(alpha), &A(mode * s.rows_a, 0), lda,
                 &B(mode * s.rows_b, 0), ldb, std::complex<T>(beta), &C(mode * s.rows_c, 0), ldc);
}

template <class T>
void mode_gemm_reference(ComplexOp op_a, ComplexOp op_b, std::size_t modes, T alpha,
                         const Matrix<T>& A, const Matrix<T>& B, T beta, const Matrix<T>& C) {
  const ModeShapes s = mode_shapes(op_a, op_b, modes, A, B, C);
  const bool conj_a = op_a == ComplexOp::conj_transpose, conj_b = op_b == ComplexOp::conj_transpose;
  Kokkos::parallel_for(
      "karman::fno::mode_gemm_reference",
      Kokkos::MDRangePolicy<nn::ExecutionSpace, Kokkos::Rank<3>, Kokkos::IndexType<long>>(
          {0, 0, 0}, {static_cast<long>(modes), s.m, s.n}),
      KOKKOS_LAMBDA(const long mode, const long i, const long j) {
        // Element (i, l) of op_a(A[mode]) and (l, j) of op_b(B[mode]), as (re, im).
        T re = 0, im = 0;
        for (long l = 0; l < s.k; ++l) {
          const long ar = mode * s.rows_a + (conj_a ? l : i), ac = conj_a ? i : l;
          const long br = mode * s.rows_b + (conj_b ? j : l), bc = conj_b ? l : j;
          const T a_re = A(ar, 2 * ac), a_im = conj_a ? -A(ar, 2 * ac + 1) : A(ar, 2 * ac + 1);
          const T b_re = B(br, 2 * bc), b_im = conj_b ? -B(br, 2 * bc + 1) : B(br, 2 * bc + 1);
          re += a_re * b_re - a_im * b_im;
          im += a_re * b_im + a_im * b_re;
        }
        const long row = mode * s.rows_c + i;
        const T c_re = beta == T(0) ? T(0) : beta * C(row, 2 * j);
        const T c_im = beta == T(0) ? T(0) : beta * C(row, 2 * j + 1);
        C(row, 2 * j) = alpha * re + c_re;
        C(row, 2 * j + 1) = alpha * im + c_im;
      });
}

std::string modes_fit_error(const std::vector<long>& modes, const std::vector<long>& shape) {
  if (modes.size() != shape.size())
    return "the grid has " + std::to_string(shape.size()) + " dimensions, the modes " +
           std::to_string(modes.size());
  for (std::size_t d = 0; d < modes.size(); ++d) {
    const bool last = d + 1 == modes.size();
    const long needed = last ? 2 * (modes[d] - 1) : 2 * modes[d];
    if (shape[d] < needed)
      return std::to_string(modes[d]) + " modes in grid dimension " + std::to_string(d) +
             " need at least " + std::to_string(needed) + " points (with padding), the grid has " +
             std::to_string(shape[d]);
  }
  return {};
}

template <class T>
SpectralConv<T>::SpectralConv(long in_channels, long out_channels, std::vector<long> modes)
    : m_in(in_channels), m_out(out_channels), m_modes(std::move(modes)) {
  KARMAN_VERIFY(m_in >= 1 && m_out >= 1, "SpectralConv: channels must be positive");
  KARMAN_VERIFY(!m_modes.empty() && m_modes.size() <= 3, "SpectralConv: 1 to 3 dimensions");
  m_kept = 1L << (m_modes.size() - 1);  // corners
  for (long m : m_modes) {
    KARMAN_VERIFY(m >= 1, "SpectralConv: modes must be positive");
    m_kept *= m;
  }
}

template <class T>
void SpectralConv<T>::set_grid(const std::vector<long>& shape) {
  const std::string error = modes_fit_error(m_modes, shape);
  if (!error.empty()) throw ConfigError("Fourier layer: " + error);
  if (shape == m_shape) return;
  m_shape = shape;
  m_points = product(shape);
  m_current = nullptr;
  build_mode_table();
}

template <class T>
void SpectralConv<T>::build_mode_table() {
  const std::size_t dim = m_modes.size();
  // Strides of the half spectrum [n0, ..., n_last/2 + 1] of one sample.
  std::vector<long> extent(m_shape), stride(dim);
  extent[dim - 1] = m_shape[dim - 1] / 2 + 1;
  long s = 1;
  for (std::size_t d = dim; d-- > 0;) stride[d] = s, s *= extent[d];

  auto index = Kokkos::View<long*, Kokkos::HostSpace>("karman::fno::mode_index", m_kept);
  auto weight = Kokkos::View<T*, Kokkos::HostSpace>("karman::fno::mode_weight", m_kept);
  const long per_corner = m_kept >> (dim - 1);
  for (long corner = 0; corner < (1L << (dim - 1)); ++corner)
    for (long j = 0; j < per_corner; ++j) {
      // j in C order over the modes box; non-last dimension d takes the negative wavenumbers
      // -modes[d] .. -1 (stored at n - modes[d] .. n - 1) when bit d of the corner is set.
      long rest = j, flat = 0, k_last = 0;
      for (std::size_t d = dim; d-- > 0;) {
        const long jd = rest % m_modes[d];
        rest /= m_modes[d];
        const bool negative = d + 1 < dim && ((corner >> d) & 1);
        const long k = negative ? m_shape[d] - m_modes[d] + jd : jd;
        flat += k * stride[d];
        if (d + 1 == dim) k_last = k;
      }
      const long mode = corner * per_corner + j;
      index(mode) = flat;
      weight(mode) = (k_last == 0 || 2 * k_last == m_shape[dim - 1]) ? T(1) : T(2);
    }
  m_mode_index = Kokkos::create_mirror_view_and_copy(nn::MemorySpace(), index);
  m_mode_weight = Kokkos::create_mirror_view_and_copy(nn::MemorySpace(), weight);
}

template <class T>
void SpectralConv<T>::prepare(long batch) {
  if (m_current == nullptr || m_current->batch != batch) {
    auto same = [&](const Transforms& t) { return t.shape == m_shape && t.batch == batch; };
    auto found = std::find_if(m_transforms.begin(), m_transforms.end(), same);
    if (found == m_transforms.end()) {
      m_transforms.push_back({m_shape, batch, nullptr, nullptr, nullptr, nullptr});
      found = std::prev(m_transforms.end());
    }
    m_current = &*found;
  }
  m_batch = batch;
  const std::size_t mode_rows = m_kept * batch;
  if (m_transform == SpectralTransform::dft) {
    if (!m_current->dft_in) {
      m_current->dft_in = std::make_unique<TruncatedDft<T>>(m_shape, m_modes, batch, m_in);
      m_current->dft_out = std::make_unique<TruncatedDft<T>>(m_shape, m_modes, batch, m_out);
    }
  } else {
    if (!m_current->in) {
      // Only the columns k_last < modes[last] are kept: the transforms skip the others.
      const long band = m_modes.back();
      m_current->in = std::make_unique<RealFft<T>>(m_shape, batch, m_in, band);
      m_current->out = std::make_unique<RealFft<T>>(m_shape, batch, m_out, band);
    }
    const std::size_t spectrum_rows = batch * m_current->in->spectrum_points();
    nn::ensure_shape(m_x_hat, "karman::fno::spectral::x_hat", spectrum_rows, 2 * m_in);
    nn::ensure_shape(m_y_hat, "karman::fno::spectral::y_hat", spectrum_rows, 2 * m_out);
  }
  nn::ensure_shape(m_y_modes, "karman::fno::spectral::y_modes", mode_rows, 2 * m_out);
  nn::ensure_shape(m_dx_modes, "karman::fno::spectral::dx_modes", mode_rows, 2 * m_in);
}

template <class T>
void SpectralConv<T>::declare(nn::Parameters<T>& parameters, const std::string& prefix) {
  m_parameters = &parameters;
  m_weight = parameters.declare(prefix + "weight", m_kept * m_in, 2 * m_out);
}

template <class T>
void SpectralConv<T>::initialize(std::uint64_t seed) {
  Matrix<T> value = m_parameters->value(m_weight);
  auto host = Kokkos::create_mirror_view(value);
  // One counter-based stream per parameter tensor (as nn::initialize_parameter): the same seed
  // gives the same weights on any rank count.
  const std::uint64_t stream = mix64(seed ^ mix64(0x6b61726d616e + m_weight));
  const double scale = 1.0 / static_cast<double>(m_in * m_out);
  std::uint64_t e = 0;
  for (std::size_t i = 0; i < host.extent(0); ++i)
    for (std::size_t j = 0; j < host.extent(1); ++j, ++e)
      host(i, j) = static_cast<T>(scale * uniform01(stream, e));
  Kokkos::deep_copy(value, host);
}

namespace {

// to[m·B + b, :] = factor · scale_m · from[b·Nc + index_m, :] for every kept mode m and sample b,
// with scale_m = mode_weight(m) (power +1), 1/mode_weight(m) (power -1) or 1 (power 0).
template <class T>
void gather_modes(const Matrix<T>& from, const Matrix<T>& to,
                  const Kokkos::View<long*, nn::MemorySpace>& index,
                  const Kokkos::View<T*, nn::MemorySpace>& weight, long batch, long spectrum_points,
                  int power, T factor) {
  const long kept = static_cast<long>(index.extent(0));
  const std::size_t cols = to.extent(1);
  Kokkos::parallel_for(
      "karman::fno::gather_modes", Kokkos::RangePolicy<nn::ExecutionSpace>(0, kept * batch),
      KOKKOS_LAMBDA(const long row) {
        const long mode = row / batch, b = row % batch;
        const T s = power == 0 ? factor : power > 0 ? factor * weight(mode) : factor / weight(mode);
        const T* KOKKOS_RESTRICT src = &from(b * spectrum_points + index(mode), 0);
        T* KOKKOS_RESTRICT dst = &to(row, 0);
#pragma omp simd
        for (std::size_t c = 0; c < cols; ++c) dst[c] = s * src[c];
      });
}

// The inverse of gather_modes onto a zeroed spectrum: the other modes stay zero.
template <class T>
void scatter_modes(const Matrix<T>& from, const Matrix<T>& to,
                   const Kokkos::View<long*, nn::MemorySpace>& index,
                   const Kokkos::View<T*, nn::MemorySpace>& weight, long batch,
                   long spectrum_points, int power) {
  Kokkos::deep_copy(to, T(0));
  const long kept = static_cast<long>(index.extent(0));
  const std::size_t cols = to.extent(1);
  Kokkos::parallel_for(
      "karman::fno::scatter_modes", Kokkos::RangePolicy<nn::ExecutionSpace>(0, kept * batch),
      KOKKOS_LAMBDA(const long row) {
        const long mode = row / batch, b = row % batch;
        const T s = power == 0 ? T(1) : power > 0 ? weight(mode) : T(1) / weight(mode);
        const T* KOKKOS_RESTRICT src = &from(row, 0);
        T* KOKKOS_RESTRICT dst = &to(b * spectrum_points + index(mode), 0);
#pragma omp simd
        for (std::size_t c = 0; c < cols; ++c) dst[c] = s * src[c];
      });
}

// modes[m·B + b, :] *= factor · scale_m in place, scale_m as in gather_modes.
template <class T>
void scale_modes(const Matrix<T>& modes, const Kokkos::View<T*, nn::MemorySpace>& weight,
                 long batch, int power, T factor) {
  const std::size_t cols = modes.extent(1);
  Kokkos::parallel_for(
      "karman::fno::scale_modes", Kokkos::RangePolicy<nn::ExecutionSpace>(0, modes.extent(0)),
      KOKKOS_LAMBDA(const long row) {
        const long mode = row / batch;
        const T s = power == 0 ? factor : power > 0 ? factor * weight(mode) : factor / weight(mode);
        T* KOKKOS_RESTRICT m = &modes(row, 0);
#pragma omp simd
        for (std::size_t c = 0; c < cols; ++c) m[c] *= s;
      });
}

}  // namespace

// y = irfft(P_K[x̂] W):  x̂ = rfft(x) (unnormalised), gather the kept modes, per mode
// Ŷ[m] = (1/N) X̂[m] W[m], scatter, unnormalised c2r.
template <class T>
void SpectralConv<T>::forward_impl(nn::Context<T>& context, nn::Workspace<T>&) {
  auto& c = this->template as<SpectralContext>(context);
  const Matrix<T> x = c.x;
  KARMAN_VERIFY(!m_shape.empty(), "SpectralConv: set_grid before forward");
  KARMAN_VERIFY(x.extent(1) == static_cast<std::size_t>(m_in) && m_points > 0 &&
                    x.extent(0) % m_points == 0 && x.extent(0) > 0,
                "SpectralConv: input must be [B·N, in] with N = " + std::to_string(m_points) +
                    ", got [" + std::to_string(x.extent(0)) + ", " + std::to_string(x.extent(1)) +
                    "]");
  prepare(static_cast<long>(x.extent(0)) / m_points);
  c.shape = m_shape;
  c.batch = m_batch;
  nn::ensure_shape(c.y, "karman::fno::spectral::y", x.extent(0), m_out);
  nn::ensure_shape(c.x_modes, "karman::fno::spectral::x_modes", m_kept * m_batch, 2 * m_in);
  const bool fft = m_transform == SpectralTransform::fft;
  if (fft) {
    m_current->in->forward(x, m_x_hat);
    gather_modes(m_x_hat, c.x_modes, m_mode_index, m_mode_weight, m_batch,
                 m_current->in->spectrum_points(), 0, T(1));
  } else {
    m_current->dft_in->forward(x, c.x_modes);
  }
  mode_gemm(ComplexOp::none, ComplexOp::none, m_kept, T(1) / static_cast<T>(m_points), c.x_modes,
            m_parameters->value(m_weight), T(0), m_y_modes);
  if (fft) {
    scatter_modes(m_y_modes, m_y_hat, m_mode_index, m_mode_weight, m_batch,
                  m_current->in->spectrum_points(), 0);
    m_current->out->inverse(m_y_hat, c.y, /*normalise=*/false);
  } else {
    m_current->dft_out->inverse(m_y_modes, c.y);
  }
}

// Adjoints, with complex gradients g = ∂L/∂Re + i ∂L/∂Im:
//  - y = (1/N) Σ_k c_k Re(Ŷ_k e^{iθ}) over the half spectrum (c_k the Hermitian multiplicity)
//    gives g_Ŷ = (c_k / N) rfft(dy);
//  - Ŷ[m] = X̂[m] W[m] gives g_W[m] = X̂[m]ᴴ g_Ŷ[m] and g_X̂[m] = g_Ŷ[m] W[m]ᴴ;
//  - X̂ = rfft(x) gives dx = Σ_k Re(g_X̂,k e^{iθ}) = c2r(g_X̂ / c_k) (c2r doubles the interior
//    columns, the gradient must not).
template <class T>
void SpectralConv<T>::backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                                    const nn::Gradient<T>& gradient) {
  auto& c = this->template as<SpectralContext>(context);
  // The plans and mode tables are the current grid's: the context must be of the same grid.
  KARMAN_VERIFY(c.shape == m_shape, "SpectralConv: backward on another grid than its forward");
  prepare(c.batch);
  nn::ensure_shape(c.dx, "karman::fno::spectral::dx", dy.extent(0), m_in);
  const bool fft = m_transform == SpectralTransform::fft;
  const long nc = fft ? m_current->in->spectrum_points() : 0;

  if (fft) {
    m_current->out->forward(dy, m_y_hat);
    gather_modes(m_y_hat, m_y_modes, m_mode_index, m_mode_weight, m_batch, nc, +1,
                 T(1) / static_cast<T>(m_points));
  } else {
    m_current->dft_out->forward(dy, m_y_modes);
    scale_modes(m_y_modes, m_mode_weight, m_batch, +1, T(1) / static_cast<T>(m_points));
  }
  if (gradient.parameters())
    mode_gemm(ComplexOp::conj_transpose, ComplexOp::none, m_kept, T(1), c.x_modes, m_y_modes,
              gradient.keep(), m_parameters->gradient(m_weight));
  mode_gemm(ComplexOp::none, ComplexOp::conj_transpose, m_kept, T(1), m_y_modes,
            m_parameters->value(m_weight), T(0), m_dx_modes);
  if (fft) {
    scatter_modes(m_dx_modes, m_x_hat, m_mode_index, m_mode_weight, m_batch, nc, -1);
    m_current->in->inverse(m_x_hat, c.dx, /*normalise=*/false);
  } else {
    scale_modes(m_dx_modes, m_mode_weight, m_batch, -1, T(1));
    m_current->dft_in->inverse(m_dx_modes, c.dx);
  }
}

#define KARMAN_FNO_INSTANTIATE(T)                                                              \
  template void mode_gemm<T>(ComplexOp, ComplexOp, std::size_t, T, const Matrix<T>&,           \
                             const Matrix<T>&, T, const Matrix<T>&);                           \
  template void mode_gemm_reference<T>(ComplexOp, ComplexOp, std::size_t, T, const Matrix<T>&, \
                                       const Matrix<T>&, T, const Matrix<T>&);                 \
  template class SpectralConv<T>;
KARMAN_FNO_INSTANTIATE(float)
KARMAN_FNO_INSTANTIATE(double)
#undef KARMAN_FNO_INSTANTIATE

}  // namespace karman::fno
