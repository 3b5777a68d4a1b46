#pragma once
// A multilevel residual CNN on a structured grid (DCDM's local direction map, issue 19 item 4):
// a U-Net / V-cycle of 3×3 (3×3×3) convolutions whose coarse levels carry the long-range part
// of A⁻¹ that a 3×3 kernel cannot reach, with weights independent of the grid size (Kaneda et
// al. train at 64³ and apply at 256³: locality is what transfers).
//
//   x [B·N, in] ─lift conv→ a [B·N, width]                                      level 0
//   down, level l = 0 … L−1:  blocks × { a ← a + Conv(act(a)) };  skip_l = a;  a ← pool(a)
//   up,   level l = L−2 … 0:  a ← upsample(a) + skip_l;  blocks × { a ← a + Conv(act(a)) }
//   y = Conv(act(a)) [B·N, out]
//
// Level l's grid is the sample grid / 2^l (every extent divisible by 2^(L−1): set_grid checks).
// Layouts as cnn_layers.hpp (channels-last rows b·N + C-order point). Values only, every gradient
// mode but per-point rows.

#include <cstdint>
#include <memory>
#include <vector>

#include "karman/nn/activation.hpp"
#include "operators/precond/cnn_layers.hpp"

namespace karman::precond {

struct CnnSpec {
  int dims = 2;
  long width = 16;  // channels of every level
  long levels = 3;  // L: grids n, n/2, …, n/2^(L−1)
  long blocks = 2;  // residual blocks per level and path
  nn::Activation activation = nn::Activation::gelu;
  std::uint64_t seed = 5;
};

template <class T>
class CnnModel : public nn::Module<T> {
 public:
  CnnModel(const CnnSpec& spec, long in_channels, long out_channels);
  ~CnnModel() override;

  std::string kind() const override { return "cnn"; }
  std::size_t in_features() const override { return m_in; }
  std::size_t out_features() const override { return m_out; }
  const CnnSpec& spec() const { return m_spec; }

  // The grid of one sample for the next forward (dims entries). InternalError unless every
  // extent is divisible by 2^(levels−1) (callers check their sizes as config errors first).
  void set_grid(const std::vector<long>& shape);

  void declare(nn::Parameters<T>& parameters, const std::string& prefix) override;
  void initialize(std::uint64_t seed) override;

 protected:
  // One residual block's forward: out = in + conv.y, conv.x = h = act(in).
  struct BlockRecord {
    Matrix<T> in, h, out, din, dh;  // [B·N_l, width]
    nn::Context<T>* conv = nullptr;
  };
  struct CnnContext : nn::Context<T> {
    nn::Context<T>* lift = nullptr;
    nn::Context<T>* output = nullptr;
    std::vector<BlockRecord> down, up;  // [L·blocks], [(L−1)·blocks], in execution order
    std::vector<nn::Context<T>*> pool, upsample;  // [L−1]
    std::vector<Matrix<T>> skip_sum;              // [L−1] upsample(a) + skip_l
    std::vector<Matrix<T>> skip_gradient;         // [L−1] pool backward + skip gradient
    Matrix<T> a_last, h_last, dh_last;            // [B·N, width] before the output conv
  };
  std::unique_ptr<nn::Context<T>> make_context() const override {
    return std::make_unique<CnnContext>();
  }
  void forward_impl(nn::Context<T>& context, nn::Workspace<T>& workspace) override;
  void backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                     const nn::Gradient<T>& gradient) override;

 private:
  Matrix<T> block_forward(GridConv<T>& conv, BlockRecord& record, const Matrix<T>& a,
                          nn::Workspace<T>& workspace);
  Matrix<T> block_backward(GridConv<T>& conv, BlockRecord& record, const Matrix<T>& dout,
                           const nn::Gradient<T>& gradient);

  CnnSpec m_spec;
  long m_in, m_out;
  std::unique_ptr<GridConv<T>> m_lift, m_output;
  std::vector<std::unique_ptr<GridConv<T>>> m_down, m_up;    // [L·blocks], [(L−1)·blocks]
  std::vector<std::unique_ptr<GridPoolDown<T>>> m_pool;      // [L−1]
  std::vector<std::unique_ptr<GridUpsample<T>>> m_upsample;  // [L−1]
};

}  // namespace karman::precond
