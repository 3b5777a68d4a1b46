#pragma once
// The spectral convolution of a Fourier neural operator (Li et al. 2021, SpectralConv1d/2d/3d of
// the reference scripts): per sample and output channel o,
//   y(·, o) = irfft( Σ_i  P_K[x̂(·, i)] W(·, i, o) ),   x̂ = rfft(x)
// where P_K keeps the low wavenumbers K: 0 ≤ k_d < modes[d] and -modes[d] ≤ k_d < 0 in the
// non-last dimensions (both signs: 2 corners of the half spectrum in 2D, 4 in 3D, as the
// reference's out_ft[:, :, :m1] and [-m1:]) and 0 ≤ k_last < modes[last]; every kept mode
// k has its own complex [in, out] weight matrix W(k); the other modes are zero.
//
// Layouts (see fft.hpp): x [B·N, in] and y [B·N, out] channels-last, N the points of one sample
// (set_grid), B = rows / N. The M kept modes are gathered into [M·B, 2C] buffers (mode-major,
// interleaved re/im), so the mixing is one complex GEMM per mode, [B, in] × [in, out].
// Parameter "weight": [M·in, 2·out], the rows of mode m are [m·in, (m+1)·in) (complex [in, out],
// row-major, interleaved re/im); modes are ordered corner by corner (corner bits: bit d set = the
// negative wavenumbers of non-last dimension d), C order within a corner.

#include <memory>
#include <vector>

#include "karman/nn/module.hpp"
#include "operators/fno/fft.hpp"
#include "operators/fno/truncated_dft.hpp"

namespace karman::fno {

using nn::Matrix;

// Per mode m of `modes`: C[m] = alpha·op_a(A[m])·op_b(B[m]) + beta·C[m], complex matrices stored
// mode-major with interleaved re/im: X[m] is rows [m·r, (m+1)·r) of X [modes·r, 2·c].
// conj_transpose is the Hermitian adjoint. BLAS (cblas_cgemm / zgemm), one call per mode.
enum class ComplexOp { none, conj_transpose };
template <class T>
void mode_gemm(ComplexOp op_a, ComplexOp op_b, std::size_t modes, T alpha, const Matrix<T>& A,
               const Matrix<T>& B, T beta, const Matrix<T>& C);
// The same with plain loops (tests compare mode_gemm against it).
template <class T>
void mode_gemm_reference(ComplexOp op_a, ComplexOp op_b, std::size_t modes, T alpha,
                         const Matrix<T>& A, const Matrix<T>& B, T beta, const Matrix<T>& C);

// Empty when `modes` fit the grid `shape` (same length), else what is wrong, for the caller to
// raise at the right place: the non-last dimensions need n ≥ 2·modes (the positive and negative
// corners must not overlap), the last n/2 + 1 ≥ modes.
std::string modes_fit_error(const std::vector<long>& modes, const std::vector<long>& shape);

// How a spectral layer computes its kept modes: direct DFTs of the kept wavenumbers only
// (TruncatedDft, the default: faster at the FNO's mode counts, on the execution space's threads)
// or FFTW's batched FFT and a gather (RealFft, the reference twin).
enum class SpectralTransform { dft, fft };

template <class T>
class SpectralConv : public nn::Module<T> {
 public:
  // modes.size() = dim ∈ {1, 2, 3}, every entry ≥ 1.
  SpectralConv(long in_channels, long out_channels, std::vector<long> modes);

  std::string kind() const override { return "spectral_conv"; }
  std::size_t in_features() const override { return m_in; }
  std::size_t out_features() const override { return m_out; }
  long dimension() const { return static_cast<long>(m_modes.size()); }
  const std::vector<long>& modes() const { return m_modes; }
  long kept_modes() const { return m_kept; }  // M

  // The grid of one sample for the next forward (size = dim). ConfigError if the modes do not
  // fit it. May change between calls (the weights do not depend on the grid).
  void set_grid(const std::vector<long>& shape);
  const std::vector<long>& grid() const { return m_shape; }
  // The transform of the next forward and its backward (same results to rounding).
  void set_transform(SpectralTransform transform) { m_transform = transform; }
  SpectralTransform transform() const { return m_transform; }

  void declare(nn::Parameters<T>& parameters, const std::string& prefix) override;
  // Real and imaginary parts U[0, 1/(in·out)), as the reference (torch.rand · scale).
  void initialize(std::uint64_t seed) override;

 protected:
  // x [B·N, in] -> y [B·N, out] on the current grid; values only, every gradient mode but
  // per-point rows (a point's output depends on every point of its sample).
  struct SpectralContext : nn::Context<T> {
    std::vector<long> shape;  // the grid of this forward
    long batch = 0;
    Matrix<T> x_modes;  // [M·B, 2·in] the input's kept modes, for dW
  };
  std::unique_ptr<nn::Context<T>> make_context() const override {
    return std::make_unique<SpectralContext>();
  }
  void forward_impl(nn::Context<T>& context, nn::Workspace<T>& workspace) override;
  void backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                     const nn::Gradient<T>& gradient) override;

 private:
  void prepare(long batch);  // plans and scratch buffers for this batch on the current grid
  void build_mode_table();   // m_mode_index, m_mode_weight for the current grid

  long m_in, m_out, m_kept;
  std::vector<long> m_modes, m_shape;
  long m_points = 0, m_batch = 0;
  SpectralTransform m_transform = SpectralTransform::dft;
  nn::Parameters<T>* m_parameters = nullptr;
  std::size_t m_weight = 0;

  // Transforms of the current (grid, batch) for in and out channels, made on first use (FFTs
  // only with SpectralTransform::fft); earlier ones are kept so a model that alternates grids
  // or batch sizes (training, evaluation, super-resolution) does not replan.
  struct Transforms {
    std::vector<long> shape;
    long batch;
    std::unique_ptr<RealFft<T>> in, out;
    std::unique_ptr<TruncatedDft<T>> dft_in, dft_out;
  };
  std::vector<Transforms> m_transforms;
  Transforms* m_current = nullptr;

  // Kept mode m: its flat index in one sample's half spectrum and its Hermitian multiplicity
  // (1 on the k_last = 0 and k_last = n/2 columns, 2 elsewhere). [M]
  Kokkos::View<long*, nn::MemorySpace> m_mode_index;
  Kokkos::View<T*, nn::MemorySpace> m_mode_weight;

  // Scratch of one forward or backward (what the backward needs is in the context).
  Matrix<T> m_x_hat, m_y_hat;  // [B·Nc, 2·in], [B·Nc, 2·out] spectra (FFT path only)
  Matrix<T> m_y_modes;         // [M·B, 2·out] kept modes of ŷ (forward) or of g_Ŷ (backward)
  Matrix<T> m_dx_modes;        // [M·B, 2·in] kept modes of the input gradient
};

}  // namespace karman::fno
