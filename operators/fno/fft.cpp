// FFTW backend of RealFft (host memory). This file is the only place the Fourier layers hand raw
// pointers to a library: FFTW reads and writes the views' host memory in place. A device build
// (Kokkos CUDA/HIP) replaces this file by a cuFFT/hipFFT one with the same class: cufftPlanMany
// takes the same strides and distances (howmany = B·C with the channels-last layout needs the
// batch and channel loops folded into one, which the channels-last distances allow as
// idist = 1, istride = C, one plan per sample or a transposed copy).
#include "operators/fno/fft.hpp"

#include <fftw3.h>

#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "karman/core/error.hpp"

namespace karman::fno {
namespace {

// FFTW's planner is not thread safe (execution is): every plan creation and destruction in the
// process goes through this lock.
std::mutex& planner_mutex() {
  static std::mutex mutex;
  return mutex;
}

// The precision-specific FFTW names behind one interface.
template <class T>
struct Fftw;

template <>
struct Fftw<double> {
  using plan = fftw_plan;
  using complex = fftw_complex;
  static plan r2c(int rank, const fftw_iodim64* dims, int howmany_rank, const fftw_iodim64* howmany,
                  double* in, complex* out, unsigned flags) {
    return fftw_plan_guru64_dft_r2c(rank, dims, howmany_rank, howmany, in, out, flags);
  }
  static plan c2r(int rank, const fftw_iodim64* dims, int howmany_rank, const fftw_iodim64* howmany,
                  complex* in, double* out, unsigned flags) {
    return fftw_plan_guru64_dft_c2r(rank, dims, howmany_rank, howmany, in, out, flags);
  }
  static void execute(plan p, double* in, complex* out) { fftw_execute_dft_r2c(p, in, out); }
  static void execute(plan p, complex* in, double* out) { fftw_execute_dft_c2r(p, in, out); }
  static void destroy(plan p) { fftw_destroy_plan(p); }
  static int alignment(double* p) { return fftw_alignment_of(p); }
};

template <>
struct Fftw<float> {
  using plan = fftwf_plan;
  using complex = fftwf_complex;
  static plan r2c(int rank, const fftw_iodim64* dims, int howmany_rank, const fftw_iodim64* howmany,
                  float* in, complex* out, unsigned flags) {
    return fftwf_plan_guru64_dft_r2c(rank, dims, howmany_rank, howmany, in, out, flags);
  }
  static plan c2r(int rank, const fftw_iodim64* dims, int howmany_rank, const fftw_iodim64* howmany,
                  complex* in, float* out, unsigned flags) {
    return fftwf_plan_guru64_dft_c2r(rank, dims, howmany_rank, howmany, in, out, flags);
  }
  static void execute(plan p, float* in, complex* out) { fftwf_execute_dft_r2c(p, in, out); }
  static void execute(plan p, complex* in, float* out) { fftwf_execute_dft_c2r(p, in, out); }
  static void destroy(plan p) { fftwf_destroy_plan(p); }
  static int alignment(float* p) { return fftwf_alignment_of(p); }
};

constexpr bool kHostMemory =
    Kokkos::SpaceAccessibility<Kokkos::HostSpace, nn::MemorySpace>::accessible;

// Strides of the transform: per grid dimension d (in elements: reals for the real array,
// complex numbers for the spectrum), the channels-last distance between neighbours along d.
struct Geometry {
  std::vector<fftw_iodim64> real_to_complex, complex_to_real;  // [rank]
  std::vector<fftw_iodim64> batch_r2c, batch_c2r;              // [2]: batch, channel loops
};

Geometry geometry(const std::vector<long>& shape, long batch, long channels) {
  const int rank = static_cast<int>(shape.size());
  Geometry g;
  g.real_to_complex.resize(rank);
  g.complex_to_real.resize(rank);
  long real_stride = channels, complex_stride = channels;
  for (int d = rank - 1; d >= 0; --d) {
    g.real_to_complex[d] = {shape[d], real_stride, complex_stride};
    g.complex_to_real[d] = {shape[d], complex_stride, real_stride};
    real_stride *= shape[d];
    complex_stride *= d == rank - 1 ? shape[d] / 2 + 1 : shape[d];
  }
  // After the loop the strides are N·C and Nc·C: the distances between samples.
  g.batch_r2c = {{batch, real_stride, complex_stride}, {channels, 1, 1}};
  g.batch_c2r = {{batch, complex_stride, real_stride}, {channels, 1, 1}};
  return g;
}

}  // namespace

long half_spectrum_points(const std::vector<long>& shape) {
  long n = 1;
  for (std::size_t d = 0; d < shape.size(); ++d)
    n *= d + 1 == shape.size() ? shape[d] / 2 + 1 : shape[d];
  return n;
}

// A plan is only valid for arrays with the SIMD alignment it was made for: plans are kept per
// (input alignment, output alignment) pair and made on first use with the caller's arrays
// (FFTW_ESTIMATE never reads or writes them while planning). Whole Kokkos views are all
// 64-byte aligned, so in practice there is one plan per direction.
template <class T>
struct RealFft<T>::Plans {
  using F = Fftw<T>;
  using Key = std::pair<int, int>;
  Geometry geometry;
  std::map<Key, typename F::plan> forward, inverse;

  ~Plans() {
    std::lock_guard<std::mutex> lock(planner_mutex());
    for (auto& entry : forward) F::destroy(entry.second);
    for (auto& entry : inverse) F::destroy(entry.second);
  }

  typename F::plan forward_plan(T* in, typename F::complex* out) {
    std::lock_guard<std::mutex> lock(planner_mutex());
    const Key key{F::alignment(in), F::alignment(reinterpret_cast<T*>(out))};
    auto found = forward.find(key);
    if (found != forward.end()) return found->second;
    auto plan =
        F::r2c(static_cast<int>(geometry.real_to_complex.size()), geometry.real_to_complex.data(),
               2, geometry.batch_r2c.data(), in, out, FFTW_ESTIMATE | FFTW_PRESERVE_INPUT);
    KARMAN_VERIFY(plan != nullptr, "RealFft: FFTW could not plan the forward transform");
    return forward.emplace(key, plan).first->second;
  }

  typename F::plan inverse_plan(typename F::complex* in, T* out) {
    std::lock_guard<std::mutex> lock(planner_mutex());
    const Key key{F::alignment(reinterpret_cast<T*>(in)), F::alignment(out)};
    auto found = inverse.find(key);
    if (found != inverse.end()) return found->second;
    auto plan =
        F::c2r(static_cast<int>(geometry.complex_to_real.size()), geometry.complex_to_real.data(),
               2, geometry.batch_c2r.data(), in, out, FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
    KARMAN_VERIFY(plan != nullptr, "RealFft: FFTW could not plan the inverse transform");
    return inverse.emplace(key, plan).first->second;
  }
};

template <class T>
RealFft<T>::RealFft(std::vector<long> shape, long batch, long channels)
    : m_shape(std::move(shape)), m_batch(batch), m_channels(channels) {
  KARMAN_VERIFY(kHostMemory,
                "RealFft: the FFTW backend needs host-accessible views (a device "
                "build must use the cuFFT backend)");
  KARMAN_VERIFY(!m_shape.empty() && m_shape.size() <= 3, "RealFft: 1 to 3 dimensions");
  KARMAN_VERIFY(batch >= 1 && channels >= 1, "RealFft: batch and channels must be positive");
  m_points = 1;
  for (long n : m_shape) {
    KARMAN_VERIFY(n >= 1, "RealFft: every grid size must be positive");
    m_points *= n;
  }
  m_spectrum_points = half_spectrum_points(m_shape);
  m_plans = std::make_unique<Plans>();
  m_plans->geometry = geometry(m_shape, batch, channels);
}

template <class T>
RealFft<T>::~RealFft() = default;

template <class T>
void RealFft<T>::check(const Matrix<T>& real, const Matrix<T>& spectrum) const {
  const auto rows = [](long n) { return static_cast<std::size_t>(n); };
  KARMAN_VERIFY(real.extent(0) == rows(m_batch * m_points) && real.extent(1) == rows(m_channels),
                "RealFft: the real array must be [B·N, C] = [" +
                    std::to_string(m_batch * m_points) + ", " + std::to_string(m_channels) +
                    "], got [" + std::to_string(real.extent(0)) + ", " +
                    std::to_string(real.extent(1)) + "]");
  KARMAN_VERIFY(
      spectrum.extent(0) == rows(m_batch * m_spectrum_points) &&
          spectrum.extent(1) == rows(2 * m_channels),
      "RealFft: the spectrum must be [B·Nc, 2C] = [" + std::to_string(m_batch * m_spectrum_points) +
          ", " + std::to_string(2 * m_channels) + "], got [" + std::to_string(spectrum.extent(0)) +
          ", " + std::to_string(spectrum.extent(1)) + "]");
  KARMAN_VERIFY(real.span_is_contiguous() && spectrum.span_is_contiguous(),
                "RealFft: the arrays must be contiguous");
}

template <class T>
void RealFft<T>::forward(const Matrix<T>& real, const Matrix<T>& spectrum) const {
  using F = Fftw<T>;
  check(real, spectrum);
  auto* out = reinterpret_cast<typename F::complex*>(spectrum.data());
  // FFTW_PRESERVE_INPUT: the plan reads `real` only; its API takes a non-const pointer.
  F::execute(m_plans->forward_plan(real.data(), out), real.data(), out);
}

template <class T>
void RealFft<T>::inverse(const Matrix<T>& spectrum, const Matrix<T>& real, bool normalise) const {
  using F = Fftw<T>;
  check(real, spectrum);
  if (normalise) {
    // Scale the half spectrum (fewer entries than the output).
    const T scale = T(1) / static_cast<T>(m_points);
    const std::size_t cols = spectrum.extent(1);
    Kokkos::parallel_for(
        "karman::fno::fft::normalise",
        Kokkos::RangePolicy<nn::ExecutionSpace>(0, spectrum.extent(0)),
        KOKKOS_LAMBDA(const std::size_t r) {
          for (std::size_t c = 0; c < cols; ++c) spectrum(r, c) *= scale;
        });
    Kokkos::fence();
  }
  auto* in = reinterpret_cast<typename F::complex*>(spectrum.data());
  F::execute(m_plans->inverse_plan(in, real.data()), in, real.data());
}

template class RealFft<float>;
template class RealFft<double>;

}  // namespace karman::fno
