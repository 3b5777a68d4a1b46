#pragma once
// Layer normalisation over the features of each row (Ba, Kiros & Hinton 2016):
//   μ = mean_j x_j,  σ² = mean_j (x_j − μ)²,  x̂ = (x − μ) / √(σ² + ε),  y = γ ∘ x̂ + β
//   x, x̂, y [rows, W];  γ, β [1, W] (γ starts at 1, β at 0).
// Backward, per row with g = dy ∘ γ:
//   dx = (g − mean_j g − x̂ ∘ mean_j(g ∘ x̂)) / √(σ² + ε),  dγ = Σ_rows dy ∘ x̂,  dβ = Σ_rows dy.
// Values only (the statistics mix a row's features, so derivative channels would need their own
// rules), accumulated, overwritten or no parameter gradients.

#include "karman/nn/module.hpp"

namespace karman::nn {

template <class T>
class LayerNorm : public Module<T> {
 public:
  explicit LayerNorm(std::size_t width, double epsilon = 1e-5);

  std::string kind() const override { return "layer_norm"; }
  std::size_t in_features() const override { return m_width; }
  std::size_t out_features() const override { return m_width; }
  double epsilon() const { return m_epsilon; }

  void declare(Parameters<T>& parameters, const std::string& prefix) override;
  // γ = 1, β = 0 (the seed is not needed).
  void initialize(std::uint64_t seed) override;

  Matrix<T> scale() const { return m_parameters->value(m_scale); }  // γ [1, W]
  Matrix<T> shift() const { return m_parameters->value(m_shift); }  // β [1, W]

 protected:
  struct LayerNormContext : Context<T> {
    Matrix<T> normalized;   // [rows, W] x̂
    Matrix<T> inverse_std;  // [rows, 1] 1 / √(σ² + ε)
  };
  std::unique_ptr<Context<T>> make_context() const override {
    return std::make_unique<LayerNormContext>();
  }
  void forward_impl(Context<T>& context, Workspace<T>& workspace) override;
  void backward_impl(Context<T>& context, const Matrix<T>& dy,
                     const Gradient<T>& gradient) override;

 private:
  // dγ (+)= Σ_rows dy ∘ x̂,  dβ (+)= Σ_rows dy: added or written (one thread per feature: no
  // atomics).
  void parameter_gradients(const LayerNormContext& c, const Matrix<T>& dy, bool accumulate) const;

  std::size_t m_width;
  double m_epsilon;
  Parameters<T>* m_parameters = nullptr;
  std::size_t m_scale = 0, m_shift = 0;
};

}  // namespace karman::nn
