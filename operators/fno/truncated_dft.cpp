#include "operators/fno/truncated_dft.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "karman/core/error.hpp"
#include "karman/core/extents.hpp"

namespace karman::fno {
namespace {

using nn::ExecutionSpace;

// Channels per accumulator block: the sums of one output row stay in registers (2·kChunk values).
constexpr long kChunk = 32;

// y [outer·kept, 2C] (split rows [re | im]) = F x along the middle index of x real [outer·n, C]:
// y(o, q) = Σ_j (F_re + i F_im)(q, j) x(o, j).
template <class T>
void real_to_complex(const Matrix<T>& x, const Matrix<T>& f_re, const Matrix<T>& f_im,
                     const Matrix<T>& y, long outer) {
  const long kept = static_cast<long>(f_re.extent(0)), n = static_cast<long>(f_re.extent(1));
  const long channels = static_cast<long>(x.extent(1));
  Kokkos::parallel_for(
      "karman::fno::dft::real_forward", Kokkos::RangePolicy<ExecutionSpace>(0, outer * kept),
      KOKKOS_LAMBDA(const long row) {
        const long o = row / kept, q = row % kept;
        T* KOKKOS_RESTRICT out = &y(row, 0);
        for (long c0 = 0; c0 < channels; c0 += kChunk) {
          const long w = channels - c0 < kChunk ? channels - c0 : kChunk;
          T re[kChunk] = {}, im[kChunk] = {};
          for (long j = 0; j < n; ++j) {
            const T a = f_re(q, j), b = f_im(q, j);
            const T* KOKKOS_RESTRICT in = &x(o * n + j, c0);
#pragma omp simd
            for (long c = 0; c < w; ++c) re[c] += a * in[c], im[c] += b * in[c];
          }
          for (long c = 0; c < w; ++c) out[c0 + c] = re[c], out[channels + c0 + c] = im[c];
        }
      });
}

// y [outer·rows_out·inner, 2C] = M x along the middle index of x [outer·rows_in·inner, 2C], both
// split complex, M = M_re + i M_im [rows_out, rows_in].
template <class T>
void complex_stage(const Matrix<T>& x, const Matrix<T>& m_re, const Matrix<T>& m_im,
                   const Matrix<T>& y, long outer, long inner) {
  const long rows_out = static_cast<long>(m_re.extent(0)),
             rows_in = static_cast<long>(m_re.extent(1));
  const long channels = static_cast<long>(x.extent(1) / 2);
  Kokkos::parallel_for(
      "karman::fno::dft::complex", Kokkos::RangePolicy<ExecutionSpace>(0, outer * rows_out * inner),
      KOKKOS_LAMBDA(const long row) {
        const long r = row % inner, q = (row / inner) % rows_out, o = row / (inner * rows_out);
        T* KOKKOS_RESTRICT out = &y(row, 0);
        for (long c0 = 0; c0 < channels; c0 += kChunk) {
          const long w = channels - c0 < kChunk ? channels - c0 : kChunk;
          T re[kChunk] = {}, im[kChunk] = {};
          for (long j = 0; j < rows_in; ++j) {
            const T a = m_re(q, j), b = m_im(q, j);
            const T* KOKKOS_RESTRICT in_re = &x((o * rows_in + j) * inner + r, c0);
            const T* KOKKOS_RESTRICT in_im = in_re + channels;
#pragma omp simd
            for (long c = 0; c < w; ++c) {
              re[c] += a * in_re[c] - b * in_im[c];
              im[c] += a * in_im[c] + b * in_re[c];
            }
          }
          for (long c = 0; c < w; ++c) out[c0 + c] = re[c], out[channels + c0 + c] = im[c];
        }
      });
}

// y real [outer·n, C] = Re(G x) along the middle index of x split [outer·kept, 2C], G [n, kept].
template <class T>
void complex_to_real(const Matrix<T>& x, const Matrix<T>& g_re, const Matrix<T>& g_im,
                     const Matrix<T>& y, long outer) {
  const long n = static_cast<long>(g_re.extent(0)), kept = static_cast<long>(g_re.extent(1));
  const long channels = static_cast<long>(y.extent(1));
  Kokkos::parallel_for(
      "karman::fno::dft::real_inverse", Kokkos::RangePolicy<ExecutionSpace>(0, outer * n),
      KOKKOS_LAMBDA(const long row) {
        const long o = row / n, j = row % n;
        T* KOKKOS_RESTRICT out = &y(row, 0);
        for (long c0 = 0; c0 < channels; c0 += kChunk) {
          const long w = channels - c0 < kChunk ? channels - c0 : kChunk;
          T sum[kChunk] = {};
          for (long q = 0; q < kept; ++q) {
            const T a = g_re(j, q), b = g_im(j, q);
            const T* KOKKOS_RESTRICT in_re = &x(o * kept + q, c0);
            const T* KOKKOS_RESTRICT in_im = in_re + channels;
#pragma omp simd
            for (long c = 0; c < w; ++c) sum[c] += a * in_re[c] - b * in_im[c];
          }
          for (long c = 0; c < w; ++c) out[c0 + c] = sum[c];
        }
      });
}

// Between the box [B·box, 2C] (split rows, C order over the kept indices) and the mode-major
// interleaved modes [M·B, 2C]: box_row(m) is mode m's row in one sample's box.
template <class T>
void box_to_modes(const Matrix<T>& box, const Matrix<T>& modes,
                  const Kokkos::View<long*, nn::MemorySpace>& box_row, long batch, long box_size,
                  bool to_modes) {
  const long kept = static_cast<long>(box_row.extent(0));
  const long channels = static_cast<long>(modes.extent(1) / 2);
  Kokkos::parallel_for(
      to_modes ? "karman::fno::dft::box_to_modes" : "karman::fno::dft::modes_to_box",
      Kokkos::RangePolicy<ExecutionSpace>(0, kept * batch), KOKKOS_LAMBDA(const long row) {
        const long m = row / batch, b = row % batch;
        T* KOKKOS_RESTRICT split = &box(b * box_size + box_row(m), 0);
        T* KOKKOS_RESTRICT interleaved = &modes(row, 0);
        if (to_modes) {
          for (long c = 0; c < channels; ++c)
            interleaved[2 * c] = split[c], interleaved[2 * c + 1] = split[channels + c];
        } else {
          for (long c = 0; c < channels; ++c)
            split[c] = interleaved[2 * c], split[channels + c] = interleaved[2 * c + 1];
        }
      });
}

// Wavenumber of kept index q of a dimension of n points with `modes` kept: the last dimension
// keeps 0 … modes-1, the others also the negative -modes … -1 (stored at n - modes … n - 1).
long wavenumber(long q, long n, long modes, bool last) {
  return last || q < modes ? q : n - 2 * modes + q;
}

}  // namespace

template <class T>
TruncatedDft<T>::TruncatedDft(std::vector<long> shape, std::vector<long> modes, long batch,
                              long channels)
    : m_shape(std::move(shape)), m_modes(std::move(modes)), m_batch(batch), m_channels(channels) {
  const long dim = static_cast<long>(m_shape.size());
  KARMAN_VERIFY(dim >= 1 && dim <= 3 && m_modes.size() == m_shape.size(),
                "TruncatedDft: 1 to 3 dimensions, one mode count per dimension");
  KARMAN_VERIFY(batch >= 1 && channels >= 1, "TruncatedDft: batch and channels must be positive");
  for (long d = 0; d < dim; ++d) {
    const bool last = d + 1 == dim;
    KARMAN_VERIFY(
        m_modes[d] >= 1 && (last ? m_shape[d] / 2 + 1 >= m_modes[d] : m_shape[d] >= 2 * m_modes[d]),
        "TruncatedDft: the modes of dimension " + std::to_string(d) + " do not fit its " +
            std::to_string(m_shape[d]) + " points");
    m_points *= m_shape[d];
    m_stages.push_back(make_stage(d));
    m_box *= m_stages.back().kept;
  }
  m_kept_modes = m_box;
  m_box_rows = box_rows();
  // The largest intermediate: the forward's first stage [outer·kept_last] or an inverse
  // stage's output [outer(d)·n_d·inner(d)] (the box is smaller than both).
  long rows = outer(dim - 1) * m_stages[dim - 1].kept;
  for (long d = 0; d + 1 < dim; ++d) rows = std::max(rows, outer(d) * m_shape[d] * inner(d));
  for (auto& buffer : m_scratch)
    buffer = Kokkos::View<T*, nn::MemorySpace>(
        Kokkos::view_alloc("karman::fno::dft::scratch", Kokkos::WithoutInitializing),
        rows * 2 * m_channels);
}

template <class T>
Matrix<T> TruncatedDft<T>::scratch(int which, long rows) const {
  return Matrix<T>(m_scratch[which].data(), rows, 2 * m_channels);
}

template <class T>
typename TruncatedDft<T>::Stage TruncatedDft<T>::make_stage(long d) const {
  const bool last = d + 1 == static_cast<long>(m_shape.size());
  Stage s;
  s.n = m_shape[d];
  s.kept = last ? m_modes[d] : 2 * m_modes[d];
  Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::HostSpace> f_re("f_re", s.kept, s.n),
      f_im("f_im", s.kept, s.n), g_re("g_re", s.n, s.kept), g_im("g_im", s.n, s.kept);
  constexpr double kTwoPi = 6.283185307179586476925;
  for (long q = 0; q < s.kept; ++q) {
    const long k = wavenumber(q, s.n, m_modes[d], last);
    // The real inverse counts a column and its conjugate (absent from the half spectrum) once
    // each, but for k = 0 and the Nyquist column, their own conjugates.
    const double multiplicity = !last || k == 0 || 2 * k == s.n ? 1.0 : 2.0;
    for (long j = 0; j < s.n; ++j) {
      // (k·j) mod n keeps the angle exact for large grids.
      const double angle = kTwoPi * static_cast<double>((k * j) % s.n) / static_cast<double>(s.n);
      f_re(q, j) = static_cast<T>(std::cos(angle));
      f_im(q, j) = static_cast<T>(-std::sin(angle));
      g_re(j, q) = static_cast<T>(multiplicity * std::cos(angle));
      g_im(j, q) = static_cast<T>(multiplicity * std::sin(angle));
    }
  }
  s.forward_re = Kokkos::create_mirror_view_and_copy(nn::MemorySpace(), f_re);
  s.forward_im = Kokkos::create_mirror_view_and_copy(nn::MemorySpace(), f_im);
  s.inverse_re = Kokkos::create_mirror_view_and_copy(nn::MemorySpace(), g_re);
  s.inverse_im = Kokkos::create_mirror_view_and_copy(nn::MemorySpace(), g_im);
  return s;
}

template <class T>
long TruncatedDft<T>::outer(long d) const {
  long o = m_batch;
  for (long e = 0; e < d; ++e) o *= m_shape[e];
  return o;
}

template <class T>
long TruncatedDft<T>::inner(long d) const {
  long i = 1;
  for (std::size_t e = d + 1; e < m_stages.size(); ++e) i *= m_stages[e].kept;
  return i;
}

// Mode m's row in one sample's box: corner bit d of m selects the negative half of dimension d.
template <class T>
Kokkos::View<long*, nn::MemorySpace> TruncatedDft<T>::box_rows() const {
  const std::size_t dim = m_shape.size();
  Kokkos::View<long*, Kokkos::HostSpace> rows("karman::fno::dft::box_rows", m_kept_modes);
  const long per_corner = m_kept_modes >> (dim - 1);
  for (long m = 0; m < m_kept_modes; ++m) {
    const long corner = m / per_corner;
    long rest = m % per_corner, flat = 0, stride = 1;
    for (std::size_t d = dim; d-- > 0;) {
      const long j = rest % m_modes[d];
      rest /= m_modes[d];
      const bool negative = d + 1 < dim && ((corner >> d) & 1);
      flat += (negative ? m_modes[d] + j : j) * stride;
      stride *= m_stages[d].kept;
    }
    rows(m) = flat;
  }
  return Kokkos::create_mirror_view_and_copy(nn::MemorySpace(), rows);
}

template <class T>
void TruncatedDft<T>::check(const Matrix<T>& real, const Matrix<T>& modes) const {
  const auto size = [](long n) { return static_cast<std::size_t>(n); };
  KARMAN_VERIFY(real.extent(0) == size(m_batch * m_points) && real.extent(1) == size(m_channels),
                "TruncatedDft: the real array must be [B·N, C] = [" +
                    std::to_string(m_batch * m_points) + ", " + std::to_string(m_channels) + "]");
  KARMAN_VERIFY(
      modes.extent(0) == size(m_kept_modes * m_batch) && modes.extent(1) == size(2 * m_channels),
      "TruncatedDft: the modes must be [M·B, 2C] = [" + std::to_string(m_kept_modes * m_batch) +
          ", " + std::to_string(2 * m_channels) + "]");
}

// Last dimension first (real -> complex), then the others from the last-but-one to the first;
// each stage's output is the next one's input (scratch 0, 1, 0, ...), the last one is the box.
template <class T>
void TruncatedDft<T>::forward(const Matrix<T>& real, const Matrix<T>& modes) {
  check(real, modes);
  const long dim = static_cast<long>(m_stages.size());
  const Stage& last = m_stages[dim - 1];
  int which = 0;
  Matrix<T> out = scratch(which, outer(dim - 1) * last.kept);
  real_to_complex(real, last.forward_re, last.forward_im, out, outer(dim - 1));
  for (long d = dim - 2; d >= 0; --d) {
    const Stage& s = m_stages[d];
    const Matrix<T> in = out;
    which = 1 - which;
    out = scratch(which, outer(d) * s.kept * inner(d));
    complex_stage(in, s.forward_re, s.forward_im, out, outer(d), inner(d));
  }
  box_to_modes(out, modes, m_box_rows, m_batch, m_box, true);
}

// The adjoint order: the box, the complex stages from the first dimension to the last-but-one,
// then complex -> real along the last.
template <class T>
void TruncatedDft<T>::inverse(const Matrix<T>& modes, const Matrix<T>& real) {
  check(real, modes);
  const long dim = static_cast<long>(m_stages.size());
  int which = 0;
  Matrix<T> out = scratch(which, m_batch * m_box);
  box_to_modes(out, modes, m_box_rows, m_batch, m_box, false);
  for (long d = 0; d + 1 < dim; ++d) {
    const Stage& s = m_stages[d];
    const Matrix<T> in = out;
    which = 1 - which;
    out = scratch(which, outer(d) * s.n * inner(d));
    complex_stage(in, s.inverse_re, s.inverse_im, out, outer(d), inner(d));
  }
  const Stage& last = m_stages[dim - 1];
  complex_to_real(out, last.inverse_re, last.inverse_im, real, outer(dim - 1));
}

template class TruncatedDft<float>;
template class TruncatedDft<double>;

}  // namespace karman::fno
