#pragma once
// The kept Fourier modes of a spectral layer by direct (matrix) DFTs, dimension by dimension: the
// transform a Fourier layer needs without the full FFT. A layer keeps M = 2^(dim-1)·Π modes
// wavenumbers of N points; the FFT computes all N/2 of the last dimension's columns and all n_d
// rows of the others, then throws most away. Here every dimension is one small dense product:
// along the last, a real [modes_last, n_last] DFT matrix applied to every row, then along each
// other dimension d a complex [2·modes_d, n_d] one (the positive and negative corners). Each is
// a Kokkos kernel over (row, output wavenumber) vectorised over the channels, on the execution
// space's threads; at 64² to 128² with 12 modes it is several times faster than FFTW's strided
// r2c (which has no SIMD codelets), and n = 2·47 (the Darcy benchmark's 85 + 9 padding) costs no
// more than n = 96.
//
// Layouts (as RealFft + the spectral layer's gather; see spectral_conv.hpp):
//   real   [B·N, C]   channels-last, row b·N + C-order point index
//   modes  [M·B, 2C]  mode-major, row m·B + b, (re, im) of channel 0, (re, im) of channel 1, ...;
//                     modes ordered corner by corner (corner bit d set = the negative
//                     wavenumbers of non-last dimension d), C order within a corner.
// forward:  modes(k) = Σ_x real(x) e^{-2πi k·x/n}                      (unnormalised)
// inverse:  real(x)  = Σ_kept c_k Re(modes(k) e^{2πi k·x/n}),  c_k = 1 on the k_last = 0 and
//           n_last/2 columns, 2 elsewhere: RealFft::inverse(normalise = false) of the half
//           spectrum that is zero outside the kept modes.
// RealFft followed by a gather of the kept modes is the reference twin (tests compare them).

#include <vector>

#include "karman/nn/tensor.hpp"

namespace karman::fno {

using nn::Matrix;

template <class T>
class TruncatedDft {
 public:
  // shape: the grid of one sample (1 to 3 dimensions); modes: kept wavenumbers per dimension
  // (the non-last need n ≥ 2·modes, the last n/2 + 1 ≥ modes); batch B ≥ 1; channels C ≥ 1.
  TruncatedDft(std::vector<long> shape, std::vector<long> modes, long batch, long channels);

  const std::vector<long>& shape() const { return m_shape; }
  long batch() const { return m_batch; }
  long channels() const { return m_channels; }
  long kept_modes() const { return m_kept_modes; }  // M

  // real [B·N, C] -> modes [M·B, 2C]. `real` is not modified.
  void forward(const Matrix<T>& real, const Matrix<T>& modes);
  // modes [M·B, 2C] -> real [B·N, C]. `modes` is not modified.
  void inverse(const Matrix<T>& modes, const Matrix<T>& real);

 private:
  // One dimension's DFT matrices, split re/im: forward [kept, n], inverse [n, kept].
  struct Stage {
    long n = 0, kept = 0;
    Matrix<T> forward_re, forward_im, inverse_re, inverse_im;
  };
  Stage make_stage(long d) const;
  long outer(long d) const;  // B·n_0·…·n_{d-1}
  long inner(long d) const;  // kept_{d+1}·…·kept_last
  Kokkos::View<long*, nn::MemorySpace> box_rows() const;
  void check(const Matrix<T>& real, const Matrix<T>& modes) const;
  // Scratch buffer `which` (0, 1) seen as [rows, 2C].
  Matrix<T> scratch(int which, long rows) const;

  std::vector<long> m_shape, m_modes;
  long m_batch, m_channels, m_points = 1, m_kept_modes = 1, m_box = 1;  // box: Π kept_d
  std::vector<Stage> m_stages;                                          // [dim]
  Kokkos::View<long*, nn::MemorySpace> m_box_rows;  // [M] mode m's row in one sample's box
  // Two buffers for the intermediate arrays (split complex: rows [re C | im C]), sized for the
  // largest stage, one stage's output the next one's input.
  Kokkos::View<T*, nn::MemorySpace> m_scratch[2];
};

}  // namespace karman::fno
