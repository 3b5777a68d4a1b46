#pragma once
// A multilevel residual CNN on a structured grid (DCDM's local direction map, issue 19 item 4):
// a U-Net / V-cycle of 3×3 (3×3×3) convolutions whose coarse levels carry the long-range part
// of A⁻¹ that a 3×3 kernel cannot reach. Kaneda et al. train at 64³ and apply at 256³: locality
// is what transfers across sizes, so nothing here depends on the grid size, and the depth of the
// V-cycle follows the grid as a multigrid cycle does:
//
//   x [B·N, in] ─lift conv→ a [B·N, width]                                      level 0
//   down, level l = 0 … D−1:  blocks × { a ← a + Conv(act(a)) };  skip_l = a;  a ← pool(a)
//   up,   level l = D−2 … 0:  a ← upsample(a) + skip_l;  blocks × { a ← a + Conv(act(a)) }
//   y = Conv(act(a)) [B·N, out]
//
// Level l's grid is the sample grid / 2^l. The depth D is the number of levels down to the
// first grid with an extent ≤ `coarsest` or odd (set_grid), so it grows by one per doubling of
// the grid. Levels 0 … L−2 (L = spec.levels) have their own convolutions; every level from L−1
// down shares level L−1's, so one set of weights serves every depth a larger grid adds (train
// on a grid deeper than L so that the shared set is trained at more than one depth).
// The default activation is the identity: the map is then linear in r (affine with the mask
// channel), a learned linear V-cycle, and it is what transfers across sizes — measured on the
// 2D obstacle problem trained at 16² (README, "Deep Conjugate Direction Method"), GELU and
// tanh nets beat it at the training size and stop converging two doublings later.
// mask_features (model.mask: multiply): the last input channel is the fluid mask m (a cell is
// fluid where it is ≥ 1/2); the lift sees the other channels only and every convolution's output
// is multiplied by the level's mask (level 0: the 0/1 indicator, level l: its 2^l-mean, the fluid
// fraction), so solid cells carry no signal at any depth and the mask shapes the operator instead
// of entering as a channel, which under the identity activation could only add a constant. Its
// convolutions have no bias: with the identity activation the map is then exactly linear in r,
// q = M(m) r. The mask's own gradient is 0 (a step function of the channel).
// symmetric (model.symmetric): the up path is the down path's transpose, so q = M r with M
// symmetric positive semi-definite by construction, for which DCDM's iteration is PCG:
//   B: r → (s_0, …, s_{D−1})   a = Conv_lift(m ∘ r); level l: blocks × { a ← a + Conv(a) };
//                              s_l = a; a ← pool(a)                     (the down path above)
//   M r = m ∘ Bᵀ_γ B r,        Bᵀ_γ: h = s_{D−1}; level l = D−1 … 0: blocks in reverse ×
//                              { h ← h + Convᵀ(h) }; h ← s_{l−1} + γ·upsample(h); q = Conv_liftᵀ h
// with the same weights both ways (GridConvTranspose), m the 0/1 fluid indicator of the last input
// channel (so M is symmetric on the whole grid, not only on the fluid cells). upsample is
// 2^d·poolᵀ, so M = Σ_l (γ 2^d)^l B_lᵀ B_l, B_l = B's level-l part: symmetric PSD. γ = 4 is the
// factor by which a coarse grid's inverse outgrows the fine one's (R A P = A_2h / 4 for the
// mean R and the copy P with h² scaled out, in 2D and 3D), so a shared coarse block can be the
// same local smoother at every depth. Identity activation, no bias, no mask_features; the output
// has in − 1 channels (the mask channel is not a signal).
// Layouts as cnn_layers.hpp (channels-last rows b·N + C-order point). Values only, every
// gradient mode but per-point rows.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "karman/nn/activation.hpp"
#include "operators/precond/cnn_layers.hpp"

namespace karman::precond {

struct CnnSpec {
  int dims = 2;
  long width = 16;    // channels of every level
  long levels = 3;    // L: levels with their own weights (deeper ones share the last)
  long blocks = 2;    // residual blocks per level and path
  long coarsest = 4;  // the V-cycle stops at the first grid with an extent ≤ this (or odd)
  nn::Activation activation = nn::Activation::identity;
  bool mask_features = false;  // the last input channel multiplies the features (see above)
  bool symmetric = false;      // the up path is the down path's transpose (see above)
  std::uint64_t seed = 5;
};

// The grids of a V-cycle from `shape` (level 0) down: halved while every extent is even and
// above `coarsest`. Size ≥ 1.
std::vector<std::vector<long>> cnn_level_shapes(const std::vector<long>& shape, long coarsest);

template <class T>
class CnnModel : public nn::Module<T> {
 public:
  CnnModel(const CnnSpec& spec, long in_channels, long out_channels);
  ~CnnModel() override;

  std::string kind() const override { return "cnn"; }
  std::size_t in_features() const override { return m_in; }
  std::size_t out_features() const override { return m_out; }
  const CnnSpec& spec() const { return m_spec; }

  // The grid of one sample for the next forward (dims entries); sets the depth D.
  void set_grid(const std::vector<long>& shape);
  long depth() const { return static_cast<long>(m_shapes.size()); }

  void declare(nn::Parameters<T>& parameters, const std::string& prefix) override;
  void initialize(std::uint64_t seed) override;

 protected:
  // One residual block's forward: out = in + m_l ∘ conv.y, conv.x = h = act(in). conv is a
  // GridConv or (symmetric, up path) a GridConvTranspose.
  struct BlockRecord {
    Matrix<T> in, h, out, din, dconv;  // [B·N_l, width]
    Matrix<T> mask;                    // [B·N_l, 1] the level's mask, empty without mask_features
    nn::Context<T>* conv = nullptr;
    nn::Module<T>* module = nullptr;
  };
  struct CnnContext : nn::Context<T> {
    std::vector<std::vector<long>> shapes;  // [D] the level grids of this forward
    nn::Context<T>* lift = nullptr;
    nn::Context<T>* output = nullptr;
    std::vector<BlockRecord> down, up;            // [D·blocks], [(D−1)·blocks], level-major
    std::vector<nn::Context<T>*> pool, upsample;  // [D−1]
    std::vector<Matrix<T>> skip;                  // [D] the down path's a after level l's blocks
    std::vector<Matrix<T>> skip_sum;              // [D−1] upsample(a) + skip_l
    std::vector<Matrix<T>> skip_gradient;         // [D−1] pool backward + skip gradient
    std::vector<Matrix<T>> dskip;                 // [D] the gradient at skip_l
    Matrix<T> a_last, h_last, dh_last;            // [B·N, width] before the output conv
    // mask_features only: the level masks, the lift's input (the channels but the mask) and the
    // masked lift and output.
    std::vector<Matrix<T>> masks;                // [D] [B·N_l, 1]
    std::vector<nn::Context<T>*> mask_pool;      // [D−1]
    Matrix<T> lift_x, lift_dx;                   // [B·N, in − 1]
    Matrix<T> lifted, dlift, masked_y, doutput;  // [B·N, width], [B·N, width], [B·N, out]
    // symmetric only: the lift's masked input [B·N, in − 1].
    Matrix<T> masked_x;
  };
  std::unique_ptr<nn::Context<T>> make_context() const override {
    return std::make_unique<CnnContext>();
  }
  void forward_impl(nn::Context<T>& context, nn::Workspace<T>& workspace) override;
  void backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                     const nn::Gradient<T>& gradient) override;

 private:
  // The index into m_down / m_up of block j at level l (levels from L−1 on share L−1's).
  long weight_set(long level, long block) const {
    return std::min(level, m_spec.levels - 1) * m_spec.blocks + block;
  }
  // The convolution of block j at level l on the down or the up path (shared from L−1 on).
  GridConv<T>& conv(bool up, long level, long block);
  // The block's forward with `module` (conv, or symmetric's transpose of conv) on conv's grid.
  Matrix<T> block_forward(GridConv<T>& conv, nn::Module<T>& module, const std::vector<long>& shape,
                          BlockRecord& record, const Matrix<T>& a, const Matrix<T>& mask,
                          nn::Workspace<T>& workspace);
  // The down path from the lifted a: fills c.down, c.pool and c.skip; returns the coarsest a.
  void down_forward(CnnContext& c, Matrix<T> a, nn::Workspace<T>& workspace);
  // The down path's backward from the skips' gradients c.dskip (the coarsest a's included);
  // returns the gradient at the lift's y.
  Matrix<T> down_backward(CnnContext& c, const nn::Gradient<T>& gradient);
  void forward_symmetric(CnnContext& c, nn::Workspace<T>& workspace);
  void backward_symmetric(CnnContext& c, const Matrix<T>& dy, const nn::Gradient<T>& gradient);
  // mask_features: the level masks of x's last channel and the lift's input (the other channels).
  void split_mask(CnnContext& c, nn::Workspace<T>& workspace);
  Matrix<T> block_backward(BlockRecord& record, const Matrix<T>& dout,
                           const nn::Gradient<T>& gradient);

  CnnSpec m_spec;
  long m_in, m_out;
  std::vector<std::vector<long>> m_shapes;  // [D] level grids of the current set_grid
  nn::Parameters<T>* m_parameters = nullptr;
  std::size_t m_first_parameter = 0, m_end_parameter = 0;  // the model's parameter indices
  std::unique_ptr<GridConv<T>> m_lift, m_output;
  std::vector<std::unique_ptr<GridConv<T>>> m_down, m_up;  // [L·blocks] each, level-major
  // symmetric: the transposes of m_lift and m_down (m_up and m_output are not made).
  std::unique_ptr<GridConvTranspose<T>> m_lift_transpose;
  std::vector<std::unique_ptr<GridConvTranspose<T>>> m_down_transpose;
  // Parameter-free, re-gridded before every call (each context keeps the grids of its call).
  std::unique_ptr<GridPoolDown<T>> m_pool;
  std::unique_ptr<GridUpsample<T>> m_upsample;
  std::unique_ptr<GridPoolDown<T>> m_mask_pool;  // one channel: the fluid fraction per level
};

}  // namespace karman::precond
