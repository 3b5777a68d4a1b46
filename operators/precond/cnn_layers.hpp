#pragma once
// Layers of a convolutional network on a structured grid (DCDM's CNN direction map, issue 19):
//
//   GridConv          y(p, o) = bias(o) + Σ_k Σ_i W(k, i, o) x(p + offset_k, i)   3×3 (2D), 3×3×3
//   GridConvTranspose y = Cᵀ x, C a bias-free GridConv whose weights it shares (tied weights)
//   GridPoolDown      y(P, c) = mean of x over the 2^d fine points of coarse point P   (n → n/2)
//   GridUpsample      y(p, c) = scale · x(parent(p), c)   piecewise-constant prolongation
// The pools run on one pair of kernels (restrict, prolong): GridUpsample with scale 1/2^d is
// GridPoolDown's adjoint, and each one's backward is the other's forward.
//
// Layouts as the FNO's (operators/fno/): x [B·N, C] channels-last, N the points of one sample
// (set_grid), row b·N + the C-order point index (the last dimension fastest), B = rows / N.
// The convolution pads with zeros outside the box: a point next to the boundary sees 0 beyond it.
// Offsets k run over {-1, 0, 1}^d in C order (k = Σ_d (offset_d + 1)·3^(dim−1−d)).
// Parameters of GridConv: "weight" [K·in, out] (rows [k·in, (k+1)·in) are offset k's [in, out]
// matrix), "bias" [1, out]. The pools have none. Every kernel has a plain reference twin
// (grid_conv_reference, ...) that the tests hold it equal to.

#include <memory>
#include <vector>

#include "karman/nn/module.hpp"

namespace karman::precond {

using nn::Matrix;

// One sample's grid: 1 to 3 dimensions, C order. Device-callable.
struct GridShape {
  int dims = 0;
  long n[3] = {1, 1, 1};
  long points = 1;

  static GridShape of(const std::vector<long>& shape);  // InternalError unless 1 ≤ dims ≤ 3
  // Point p's index i_d along every dimension.
  KOKKOS_INLINE_FUNCTION void index(long p, long i[3]) const {
    for (int d = dims - 1; d >= 0; --d) i[d] = p % n[d], p /= n[d];
  }
  // The point at index i, or −1 outside the box.
  KOKKOS_INLINE_FUNCTION long point(const long i[3]) const {
    long p = 0;
    for (int d = 0; d < dims; ++d) {
      if (i[d] < 0 || i[d] >= n[d]) return -1;
      p = p * n[d] + i[d];
    }
    return p;
  }
  // The neighbour of point index i at stencil offset k ∈ [0, 3^dims), or −1 outside the box.
  KOKKOS_INLINE_FUNCTION long neighbour(const long i[3], long k) const {
    long j[3] = {0, 0, 0};
    for (int d = dims - 1; d >= 0; --d) j[d] = i[d] + k % 3 - 1, k /= 3;
    return point(j);
  }
  long stencil() const { return dims == 1 ? 3 : dims == 2 ? 9 : 27; }  // K
};

// The coarse grid of GridPoolDown: every extent halved. InternalError unless every extent is even.
std::vector<long> coarse_shape(const std::vector<long>& fine);

template <class T>
class GridConv : public nn::Module<T> {
 public:
  GridConv(long in_channels, long out_channels, int dims, bool bias = true);

  std::string kind() const override { return "grid_conv"; }
  std::size_t in_features() const override { return m_in; }
  std::size_t out_features() const override { return m_out; }
  // The grid of one sample for the next forward (dims entries). May change between forwards.
  void set_grid(const std::vector<long>& shape);

  void declare(nn::Parameters<T>& parameters, const std::string& prefix) override;
  // PyTorch's Conv default: weight and bias U(±1/sqrt(K·in)).
  void initialize(std::uint64_t seed) override;

 protected:
  struct ConvContext : nn::Context<T> {
    GridShape grid;  // of this forward (the backward uses it, not the current one)
  };
  std::unique_ptr<nn::Context<T>> make_context() const override {
    return std::make_unique<ConvContext>();
  }
  void forward_impl(nn::Context<T>& context, nn::Workspace<T>& workspace) override;
  void backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                     const nn::Gradient<T>& gradient) override;

 private:
  template <class>
  friend class GridConvTranspose;
  long m_in, m_out;
  int m_dims;
  bool m_bias;
  GridShape m_grid;
  nn::Parameters<T>* m_parameters = nullptr;
  std::size_t m_weight = 0, m_bias_index = 0;
};

// The transpose Cᵀ of a bias-free GridConv C (in → out channels): out → in channels, on C's current
// grid (C.set_grid). No parameters of its own: its backward adds to C's weight gradient, so C
// and Cᵀ in one network train one set of weights (M = Cᵀ C is symmetric by construction).
template <class T>
class GridConvTranspose : public nn::Module<T> {
 public:
  explicit GridConvTranspose(GridConv<T>& conv);

  std::string kind() const override { return "grid_conv_transpose"; }
  std::size_t in_features() const override { return m_conv.m_out; }
  std::size_t out_features() const override { return m_conv.m_in; }

 protected:
  std::unique_ptr<nn::Context<T>> make_context() const override {
    return std::make_unique<typename GridConv<T>::ConvContext>();
  }
  void forward_impl(nn::Context<T>& context, nn::Workspace<T>& workspace) override;
  void backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                     const nn::Gradient<T>& gradient) override;

 private:
  GridConv<T>& m_conv;
};

// Average pooling 2× (set_grid takes the FINE grid; y has the coarse grid's rows).
template <class T>
class GridPoolDown : public nn::Module<T> {
 public:
  GridPoolDown(long channels, int dims) : m_channels(channels), m_dims(dims) {}
  std::string kind() const override { return "grid_pool_down"; }
  std::size_t in_features() const override { return m_channels; }
  std::size_t out_features() const override { return m_channels; }
  void set_grid(const std::vector<long>& fine);

 protected:
  struct PoolContext : nn::Context<T> {
    GridShape fine, coarse;
  };
  std::unique_ptr<nn::Context<T>> make_context() const override {
    return std::make_unique<PoolContext>();
  }
  void forward_impl(nn::Context<T>& context, nn::Workspace<T>& workspace) override;
  void backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                     const nn::Gradient<T>& gradient) override;

 private:
  long m_channels;
  int m_dims;
  GridShape m_fine, m_coarse;
};

// Piecewise-constant up-sampling 2× times `scale` (set_grid takes the FINE grid; x has the coarse
// grid's rows).
template <class T>
class GridUpsample : public nn::Module<T> {
 public:
  GridUpsample(long channels, int dims, T scale = T(1))
      : m_channels(channels), m_dims(dims), m_scale(scale) {}
  std::string kind() const override { return "grid_upsample"; }
  std::size_t in_features() const override { return m_channels; }
  std::size_t out_features() const override { return m_channels; }
  void set_grid(const std::vector<long>& fine);

 protected:
  struct UpContext : nn::Context<T> {
    GridShape fine, coarse;
  };
  std::unique_ptr<nn::Context<T>> make_context() const override {
    return std::make_unique<UpContext>();
  }
  void forward_impl(nn::Context<T>& context, nn::Workspace<T>& workspace) override;
  void backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                     const nn::Gradient<T>& gradient) override;

 private:
  long m_channels;
  int m_dims;
  T m_scale;
  GridShape m_fine, m_coarse;
};

// ---- Plain reference loops (host Views), the twins the tests compare the kernels with.
// x [B·N, in], weight [K·in, out], bias [1, out] (empty: none) → y [B·N, out].
template <class T>
void grid_conv_reference(const GridShape& grid, const Matrix<T>& x, const Matrix<T>& weight,
                         const Matrix<T>& bias, const Matrix<T>& y);
// fine x [B·Nf, C] → coarse y [B·Nc, C]; coarse x → fine y.
template <class T>
void grid_pool_down_reference(const GridShape& fine, const Matrix<T>& x, const Matrix<T>& y);
template <class T>
void grid_upsample_reference(const GridShape& fine, const Matrix<T>& x, const Matrix<T>& y);

}  // namespace karman::precond
