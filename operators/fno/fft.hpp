#pragma once
// Batched real-to-complex / complex-to-real FFTs of every channel of B samples, the one place the
// Fourier layers meet an FFT library. Host builds use FFTW (float: fftw3f, double: fftw3); a
// device build would swap fft.cpp for a cuFFT/hipFFT version behind the same interface (the
// views already live in the default memory space).
//
// Layouts (N = n0·n1·…, C order with the last dimension fastest; Nc = n0·…·(n_last/2 + 1)):
//   real      [B·N,  C]   row b·N + flat point index, one column per channel (channels-last)
//   spectrum  [B·Nc, 2C]  the rfft half spectrum, row b·Nc + flat wavenumber index, columns
//                         (re, im) of channel 0, (re, im) of channel 1, ...
// forward:  spectrum = Σ_x real(x) e^{-2πi k·x/n}           (unnormalised)
// inverse:  real     = (1/N) Σ_k c_k Re(spectrum(k) e^{2πi k·x/n})   (c_k Hermitian weights)
// The transform is planned once per (shape, batch, channels, band) with FFTW's guru interface:
// the batch and channel loops are FFTW "howmany" loops over the views as they are, no copies or
// transposes. It runs dimension by dimension (r2c along the last dimension, then complex
// transforms along the others), which lets a spectral layer prune it: with `band` < n_last/2 + 1
// the complex transforms only run on the columns k_last < band, the only ones a Fourier layer
// keeps (at 128×128 with 12 modes: 12 of 65 columns).

#include <memory>
#include <vector>

#include "karman/nn/tensor.hpp"

namespace karman::fno {

using nn::Matrix;

template <class T>
class RealFft {
 public:
  // shape: the grid of one sample (1 to 3 dimensions, each ≥ 1); batch B ≥ 1; channels C ≥ 1;
  // band: the columns k_last < band are the ones transformed exactly (0: all, n_last/2 + 1).
  RealFft(std::vector<long> shape, long batch, long channels, long band = 0);
  ~RealFft();
  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;

  const std::vector<long>& shape() const { return m_shape; }
  long batch() const { return m_batch; }
  long channels() const { return m_channels; }
  long points() const { return m_points; }                    // N
  long spectrum_points() const { return m_spectrum_points; }  // Nc
  long band() const { return m_band; }

  // real [B·N, C] -> spectrum [B·Nc, 2C], unnormalised. `real` is not modified. With a band,
  // the entries with k_last ≥ band are left partially transformed (unspecified).
  void forward(const Matrix<T>& real, const Matrix<T>& spectrum) const;
  // spectrum [B·Nc, 2C] -> real [B·N, C], scaled by 1/N unless `normalise` is false (for
  // callers that fold 1/N into an earlier product). With a band, the entries with k_last ≥ band
  // must be zero. `spectrum` is OVERWRITTEN (the transforms run in place on it).
  void inverse(const Matrix<T>& spectrum, const Matrix<T>& real, bool normalise = true) const;

 private:
  struct Plans;  // the FFTW plans (precision-specific, defined in fft.cpp)
  void check(const Matrix<T>& real, const Matrix<T>& spectrum) const;

  std::vector<long> m_shape;
  long m_batch, m_channels, m_band, m_points, m_spectrum_points;
  std::unique_ptr<Plans> m_plans;
};

// Nc of a grid: n0·…·(n_last/2 + 1).
long half_spectrum_points(const std::vector<long>& shape);

}  // namespace karman::fno
