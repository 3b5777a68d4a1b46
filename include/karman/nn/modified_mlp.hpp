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
  // Values and derivatives; no per-point rows (U and V feed every gate).
  bool supports(const Pass&, GradientMode mode) const override {
    return mode != GradientMode::per_point;
  }

 protected:
  // What one forward keeps. Rows are batch (values) or C·N (derivatives, C = 1 + 2·dims).
  struct ModifiedMlpContext : Context<T> {
    Context<T>*u = nullptr, *v = nullptr, *first = nullptr, *output = nullptr;
    std::vector<Context<T>*> z;  // the gates' contexts, Z_k = z[k]->y [rows, h]
    std::vector<Matrix<T>> h;    // H_{k+1} [rows, h] gated states
    Matrix<T> du, dv, dz;        // [rows, h] (dU, dV accumulate over the gates)
  };
  std::unique_ptr<Context<T>> make_context() const override {
    return std::make_unique<ModifiedMlpContext>();
  }
  void forward_impl(Context<T>& context, Workspace<T>& workspace) override;
  void backward_impl(Context<T>& context, const Matrix<T>& dy,
                     const Gradient<T>& gradient) override;

 private:
  std::unique_ptr<Linear<T>> m_u, m_v, m_first, m_output;
  std::vector<std::unique_ptr<Linear<T>>> m_gates;  // Z_1 .. Z_L
};

}  // namespace karman::nn
