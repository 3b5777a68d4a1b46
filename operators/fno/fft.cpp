// FFTW backend of RealFft (host memory). This file is the only place the Fourier layers hand raw
// pointers to a library: FFTW reads and writes the views' host memory in place. A device build
// (Kokkos CUDA/HIP) replaces this file by a cuFFT/hipFFT one with the same class: each stage
// below is a cufftPlanMany with istride = C and idist = 1 over the channels (the batch and the
// other dimensions as the plan's batch where their distances allow, else one launch each).
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
  static plan r2c(const fftw_iodim64& dim, const std::vector<fftw_iodim64>& loops, double* in,
                  complex* out) {
    return fftw_plan_guru64_dft_r2c(1, &dim, static_cast<int>(loops.size()), loops.data(), in, out,
                                    FFTW_ESTIMATE | FFTW_PRESERVE_INPUT);
  }
  static plan c2r(const fftw_iodim64& dim, const std::vector<fftw_iodim64>& loops, complex* in,
                  double* out) {
    return fftw_plan_guru64_dft_c2r(1, &dim, static_cast<int>(loops.size()), loops.data(), in, out,
                                    FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
  }
  static plan c2c(const fftw_iodim64& dim, const std::vector<fftw_iodim64>& loops, complex* data,
                  int sign) {
    return fftw_plan_guru64_dft(1, &dim, static_cast<int>(loops.size()), loops.data(), data, data,
                                sign, FFTW_ESTIMATE);
  }
  static void execute_r2c(plan p, double* in, complex* out) { fftw_execute_dft_r2c(p, in, out); }
  static void execute_c2r(plan p, complex* in, double* out) { fftw_execute_dft_c2r(p, in, out); }
  static void execute_c2c(plan p, complex* data) { fftw_execute_dft(p, data, data); }
  static void destroy(plan p) { fftw_destroy_plan(p); }
  static int alignment(double* p) { return fftw_alignment_of(p); }
#ifdef KARMAN_FFTW_THREADS
  static void use_threads(int threads) {
    static const bool initialised = fftw_init_threads() != 0;
    if (initialised) fftw_plan_with_nthreads(threads);
  }
#else
  static void use_threads(int) {}
#endif
};

template <>
struct Fftw<float> {
  using plan = fftwf_plan;
  using complex = fftwf_complex;
  static plan r2c(const fftw_iodim64& dim, const std::vector<fftw_iodim64>& loops, float* in,
                  complex* out) {
    return fftwf_plan_guru64_dft_r2c(1, &dim, static_cast<int>(loops.size()), loops.data(), in, out,
                                     FFTW_ESTIMATE | FFTW_PRESERVE_INPUT);
  }
  static plan c2r(const fftw_iodim64& dim, const std::vector<fftw_iodim64>& loops, complex* in,
                  float* out) {
    return fftwf_plan_guru64_dft_c2r(1, &dim, static_cast<int>(loops.size()), loops.data(), in, out,
                                     FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
  }
  static plan c2c(const fftw_iodim64& dim, const std::vector<fftw_iodim64>& loops, complex* data,
                  int sign) {
    return fftwf_plan_guru64_dft(1, &dim, static_cast<int>(loops.size()), loops.data(), data, data,
                                 sign, FFTW_ESTIMATE);
  }
  static void execute_r2c(plan p, float* in, complex* out) { fftwf_execute_dft_r2c(p, in, out); }
  static void execute_c2r(plan p, complex* in, float* out) { fftwf_execute_dft_c2r(p, in, out); }
  static void execute_c2c(plan p, complex* data) { fftwf_execute_dft(p, data, data); }
  static void destroy(plan p) { fftwf_destroy_plan(p); }
  static int alignment(float* p) { return fftwf_alignment_of(p); }
#ifdef KARMAN_FFTW_THREADS
  static void use_threads(int threads) {
    static const bool initialised = fftwf_init_threads() != 0;
    if (initialised) fftwf_plan_with_nthreads(threads);
  }
#else
  static void use_threads(int) {}
#endif
};

constexpr bool kHostMemory =
    Kokkos::SpaceAccessibility<Kokkos::HostSpace, nn::MemorySpace>::accessible;

// The channels-last strides of one transform. A stage is a 1D transform along one dimension;
// every other dimension, the batch and the channels are FFTW "howmany" loops. Distances in
// elements: reals in the real array, complex numbers in the spectrum.
struct Layout {
  std::vector<long> n;               // grid [dim]
  std::vector<long> real, complex;   // stride of dimension d [dim]
  long batch, channels, band;        // B, C, transformed columns k_last < band
  long real_sample, complex_sample;  // N·C, Nc·C

  Layout(const std::vector<long>& shape, long b, long c, long columns)
      : n(shape), real(shape.size()), complex(shape.size()), batch(b), channels(c), band(columns) {
    const std::size_t dim = shape.size();
    long rs = c, cs = c;
    for (std::size_t d = dim; d-- > 0;) {
      real[d] = rs, complex[d] = cs;
      rs *= n[d];
      cs *= d + 1 == dim ? n[d] / 2 + 1 : n[d];
    }
    real_sample = rs, complex_sample = cs;
  }
  std::size_t last() const { return n.size() - 1; }

  // r2c / c2r along the last dimension: loops over the batch, every other dimension, channels.
  fftw_iodim64 last_dim(bool to_complex) const {
    return to_complex ? fftw_iodim64{n[last()], real[last()], complex[last()]}
                      : fftw_iodim64{n[last()], complex[last()], real[last()]};
  }
  std::vector<fftw_iodim64> last_loops(bool to_complex) const {
    std::vector<fftw_iodim64> loops;
    loops.push_back(to_complex ? fftw_iodim64{batch, real_sample, complex_sample}
                               : fftw_iodim64{batch, complex_sample, real_sample});
    for (std::size_t d = 0; d < last(); ++d)
      loops.push_back(to_complex ? fftw_iodim64{n[d], real[d], complex[d]}
                                 : fftw_iodim64{n[d], complex[d], real[d]});
    loops.push_back({channels, 1, 1});
    return loops;
  }
  // In-place complex transform along non-last dimension d, on the columns k_last < band only.
  fftw_iodim64 complex_dim(std::size_t d) const { return {n[d], complex[d], complex[d]}; }
  std::vector<fftw_iodim64> complex_loops(std::size_t d) const {
    std::vector<fftw_iodim64> loops;
    loops.push_back({batch, complex_sample, complex_sample});
    for (std::size_t e = 0; e < last(); ++e)
      if (e != d) loops.push_back({n[e], complex[e], complex[e]});
    loops.push_back({band, complex[last()], complex[last()]});
    loops.push_back({channels, 1, 1});
    return loops;
  }
};

}  // namespace

long half_spectrum_points(const std::vector<long>& shape) {
  long n = 1;
  for (std::size_t d = 0; d < shape.size(); ++d)
    n *= d + 1 == shape.size() ? shape[d] / 2 + 1 : shape[d];
  return n;
}

// The stages of both directions: forward = r2c along the last dimension, then the complex
// transforms along dimensions last-1, ..., 0 (in place on the spectrum); inverse = the complex
// transforms along 0, ..., last-1, then c2r along the last dimension. A plan is only valid for
// arrays with the SIMD alignment it was made for: plan sets are kept per (real alignment,
// spectrum alignment) pair and made on first use with the caller's arrays (FFTW_ESTIMATE never
// reads or writes them while planning). Whole Kokkos views are 64-byte aligned, so in practice
// there is one set.
template <class T>
struct RealFft<T>::Plans {
  using F = Fftw<T>;
  using Key = std::pair<int, int>;
  struct Set {
    typename F::plan r2c = nullptr, c2r = nullptr;
    std::vector<typename F::plan> forward_complex, inverse_complex;  // [dim - 1] in run order
  };
  explicit Plans(Layout l) : layout(std::move(l)) {}
  Layout layout;
  std::map<Key, Set> sets;

  ~Plans() {
    std::lock_guard<std::mutex> lock(planner_mutex());
    for (auto& entry : sets) {
      Set& set = entry.second;
      F::destroy(set.r2c);
      F::destroy(set.c2r);
      for (auto p : set.forward_complex) F::destroy(p);
      for (auto p : set.inverse_complex) F::destroy(p);
    }
  }

  const Set& plans_for(T* real, typename F::complex* spectrum) {
    std::lock_guard<std::mutex> lock(planner_mutex());
    const Key key{F::alignment(real), F::alignment(reinterpret_cast<T*>(spectrum))};
    auto found = sets.find(key);
    if (found != sets.end()) return found->second;
    // FFTW's threads (when linked) split the howmany loops: as many as the execution space has
    // on this rank (1 with Serial), for transforms large enough to pay for the hand-off.
    constexpr long kThreadedReals = 1L << 16;
    const long reals = layout.batch * layout.real_sample;
    F::use_threads(reals >= kThreadedReals ? nn::ExecutionSpace().concurrency() : 1);
    Set set;
    const Layout& l = layout;
    set.r2c = F::r2c(l.last_dim(true), l.last_loops(true), real, spectrum);
    set.c2r = F::c2r(l.last_dim(false), l.last_loops(false), spectrum, real);
    for (std::size_t d = l.last(); d-- > 0;)
      set.forward_complex.push_back(
          F::c2c(l.complex_dim(d), l.complex_loops(d), spectrum, FFTW_FORWARD));
    for (std::size_t d = 0; d < l.last(); ++d)
      set.inverse_complex.push_back(
          F::c2c(l.complex_dim(d), l.complex_loops(d), spectrum, FFTW_BACKWARD));
    bool complete = set.r2c != nullptr && set.c2r != nullptr;
    for (auto p : set.forward_complex) complete = complete && p != nullptr;
    for (auto p : set.inverse_complex) complete = complete && p != nullptr;
    // Back to FFTW's default for any other FFTW user in the process (the random fields plan
    // their own transforms and must not change with the rank count).
    F::use_threads(1);
    KARMAN_VERIFY(complete, "RealFft: FFTW could not plan the transforms");
    return sets.emplace(key, std::move(set)).first->second;
  }
};

template <class T>
RealFft<T>::RealFft(std::vector<long> shape, long batch, long channels, long band)
    : m_shape(std::move(shape)), m_batch(batch), m_channels(channels), m_band(band) {
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
  const long columns = m_shape.back() / 2 + 1;
  KARMAN_VERIFY(band >= 0 && band <= columns, "RealFft: band must be in [0, n_last/2 + 1]");
  if (m_band == 0) m_band = columns;
  m_plans = std::make_unique<Plans>(Layout(m_shape, batch, channels, m_band));
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
  Kokkos::fence();
  auto* out = reinterpret_cast<typename F::complex*>(spectrum.data());
  const auto& plans = m_plans->plans_for(real.data(), out);
  // FFTW_PRESERVE_INPUT: the r2c plan reads `real` only; its API takes a non-const pointer.
  F::execute_r2c(plans.r2c, real.data(), out);
  for (auto p : plans.forward_complex) F::execute_c2c(p, out);
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
  }
  Kokkos::fence();
  auto* in = reinterpret_cast<typename F::complex*>(spectrum.data());
  const auto& plans = m_plans->plans_for(real.data(), in);
  for (auto p : plans.inverse_complex) F::execute_c2c(p, in);
  F::execute_c2r(plans.c2r, in, real.data());
}

template class RealFft<float>;
template class RealFft<double>;

}  // namespace karman::fno
