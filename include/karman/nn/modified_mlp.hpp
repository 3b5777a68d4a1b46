#pragma once
// The modified (gated) MLP of Wang, Teng & Perdikaris 2021 ("Understanding and mitigating
// gradient pathologies in physics-informed neural networks"), as used by jaxpi and PirateNets:
//   U = σ(X W_u + b_u),  V = σ(X W_v + b_v),  H_1 = σ(X W_1 + b_1),
//   Z_k = σ(H_k W_k + b_k),  H_{k+1} = (1 − Z_k) ⊙ U + Z_k ⊙ V = U + Z_k ⊙ (V − U),  k = 1..L,
//   y = H_{L+1} W + b.
// X [batch, in], U, V, H_k, Z_k [batch, h], y [batch, out]. widths = {in, h, ..., h, out} with
// L + 1 equal hidden widths: hidden layer 0 is H_1, each later one a gate Z_k (so a plain MLP
// with the same widths has the same depth and two layers fewer).

#include <memory>
#include <vector>

#include "karman/nn/activation.hpp"
#include "karman/nn/init.hpp"
#include "karman/nn/linear.hpp"

namespace karman::nn {

template <class T>
class ModifiedMlp : public Module<T> {
 public:
  ModifiedMlp(const std::vector<std::size_t>& widths, Activation hidden,
              Init init = Init::xavier_uniform);

  std::string kind() const override { return "modified_mlp"; }
  std::size_t in_features() const override { return m_first->in_features(); }
  std::size_t out_features() const override { return m_output->out_features(); }

  void declare(Parameters<T>& parameters, const std::string& prefix) override;
  void initialize(std::uint64_t seed) override;
  Matrix<T> forward(const Matrix<T>& x) override;
  Matrix<T> backward(const Matrix<T>& dy) override;
  Matrix<T> forward_taylor(const Matrix<T>& x, std::size_t dims) override;
  Matrix<T> backward_taylor(const Matrix<T>& dy) override;

 private:
  // What one pass keeps: forward and forward_taylor each have their own (a PINN interleaves a
  // plain pass on boundary points with a Taylor pass on interior points before the backwards).
  // Rows are batch (plain) or C·N (Taylor, C = 1 + 2·dims); the plain pass is dims = 0.
  struct Pass {
    std::size_t dims = 0;
    Matrix<T> u, v;            // [rows, h] encoder outputs (owned by m_u, m_v)
    std::vector<Matrix<T>> z;  // Z_k [rows, h] (owned by the gates)
    std::vector<Matrix<T>> h;  // H_{k+1} [rows, h] gated states (owned here)
    Matrix<T> du, dv, dz, dx;  // [rows, h] ×3 (dU, dV accumulate over the gates), [rows, in]
  };
  Matrix<T> forward_pass(Pass& pass, const Matrix<T>& x, bool taylor);
  Matrix<T> backward_pass(Pass& pass, const Matrix<T>& dy, bool taylor);

  std::unique_ptr<Linear<T>> m_u, m_v, m_first, m_output;
  std::vector<std::unique_ptr<Linear<T>>> m_gates;  // Z_1 .. Z_L
  Pass m_plain, m_taylor;
};

}  // namespace karman::nn
