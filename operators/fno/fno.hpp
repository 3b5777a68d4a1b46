#pragma once
// The Fourier neural operator of the reference scripts (fourier_1d/2d/3d.py, Li et al. 2021):
//
//   x [B·N, in] ─(+ grid coordinates)→ [B·N, in + dim] ─lift→ [B·N, width] ─zero pad→ [B·Np, width]
//   ─ layers × { a ← GELU(SpectralConv(a) + Linear1×1(a)) }  (no GELU after the last block)
//   ─ crop→ [B·N, width] ─Linear + GELU→ [B·N, projection] ─Linear→ y [B·N, out]
//
// Rows are the grid points of B samples (channels-last, row b·N + C-order point index); every
// pointwise layer is one GEMM over all B·N rows. The grid may change between forwards (set_grid):
// the weights do not depend on it, which is what zero-shot super-resolution evaluates.

#include <cstdint>
#include <memory>
#include <vector>

#include "karman/config/node.hpp"
#include "karman/nn/linear.hpp"
#include "karman/nn/module.hpp"
#include "operators/fno/spectral_conv.hpp"

namespace karman::fno {

struct FnoSpec {
  std::vector<long> modes;    // kept wavenumbers per dimension (size = dim ∈ {1, 2, 3})
  long width = 32;            // channels of the Fourier blocks
  long layers = 4;            // Fourier blocks
  long projection = 128;      // hidden width of the projection
  std::vector<long> padding;  // per dimension, zeros at the far end (cropped); empty = none
  bool grid_features = true;  // append linspace(0, 1, n_d) per dimension to the inputs
  std::uint64_t seed = 1;     // initial weights (nn::Network's seed)
};

template <class T>
class FnoModel : public nn::Module<T> {
 public:
  FnoModel(const FnoSpec& spec, long in_channels, long out_channels);
  ~FnoModel() override;

  std::string kind() const override { return "fno"; }
  std::size_t in_features() const override { return m_in; }
  std::size_t out_features() const override { return m_out; }
  const FnoSpec& spec() const { return m_spec; }

  // The grid of one sample for the next forward (size = dim; the padding is added to it).
  // ConfigError if the modes do not fit the padded grid.
  void set_grid(const std::vector<long>& shape);
  const std::vector<long>& grid() const { return m_shape; }

  void declare(nn::Parameters<T>& parameters, const std::string& prefix) override;
  void initialize(std::uint64_t seed) override;

 protected:
  // x [B·N, in] -> y [B·N, out] on the current grid; values only, every gradient mode but
  // per-point rows. B·N = rows, Np the padded grid's points.
  struct FnoContext : nn::Context<T> {
    nn::Context<T>*lift = nullptr, *projection = nullptr, *output = nullptr;
    std::vector<nn::Context<T>*> spectral, pointwise;  // [layers]
    Matrix<T> features;                                // [B·N, in + dim]
    Matrix<T> lifted_padded;                           // [B·Np, width]
    std::vector<Matrix<T>> z;  // [layers] [B·Np, width] block pre-activations
    std::vector<Matrix<T>> a;  // [layers] [B·Np, width] block outputs (a[last] = z[last])
    Matrix<T> cropped;         // [B·N, width]
    Matrix<T> da, dz;          // [B·Np, width] gradients inside the blocks
    Matrix<T> dlift;           // [B·N, width]
  };
  std::unique_ptr<nn::Context<T>> make_context() const override {
    return std::make_unique<FnoContext>();
  }
  void forward_impl(nn::Context<T>& context, nn::Workspace<T>& workspace) override;
  void backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                     const nn::Gradient<T>& gradient) override;

 private:
  long dimension() const { return static_cast<long>(m_spec.modes.size()); }
  bool padded() const { return m_padded_points != m_points; }
  Matrix<T> with_grid_features(FnoContext& c) const;  // [B·N, in + dim]

  FnoSpec m_spec;
  long m_in, m_out;
  std::vector<long> m_shape, m_padded_shape;
  long m_points = 0, m_padded_points = 0;

  std::unique_ptr<nn::Linear<T>> m_lift, m_projection, m_output;
  std::vector<std::unique_ptr<SpectralConv<T>>> m_spectral;  // [layers]
  std::vector<std::unique_ptr<nn::Linear<T>>> m_pointwise;   // [layers] the 1×1 convolutions
};

// The FNO model section of a case (`model:` of kind fno), for a `dim`-dimensional problem:
//   modes (integer or list of dim; default 16 in 1D, 12 in 2D, 8 in 3D), width (32), layers (4),
//   projection (128), padding (integer or list of dim, default none), grid_features (true),
//   seed (1). Ranges are checked with Node::fail (a ConfigError naming the key).
FnoSpec read_fno(const config::Node& model, int dim);

}  // namespace karman::fno
