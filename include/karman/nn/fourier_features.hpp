#pragma once
// Random Fourier feature embedding (Tancik et al. 2020):
//   γ(X) = [sin(2π X B), cos(2π X B), X]   X [batch, in], B [in, m], γ [batch, 2m (+ in)]
// B is fixed (not trained): B_ij = scale · N(0, 1), entry i·m + j of the counter-based stream of
// `seed` (karman/core/random.hpp), so it is the same on every rank count and depends on nothing
// else in the model. The trailing copy of X is optional (`include_input`).

#include <cstdint>

#include "karman/nn/module.hpp"

namespace karman::nn {

struct FourierOptions {
  std::size_t count = 0;  // m, frequencies (0: no embedding)
  double scale = 1.0;     // σ, standard deviation of the entries of B
  std::uint64_t seed = 0;
  bool include_input = false;
};

template <class T>
class FourierFeatures : public Module<T> {
 public:
  FourierFeatures(std::size_t in, const FourierOptions& options);

  std::string kind() const override { return "fourier_features"; }
  std::size_t in_features() const override { return m_in; }
  std::size_t out_features() const override;
  Matrix<T> frequencies() const { return m_frequencies; }  // B [in, m], without the 2π

  // Values and derivatives (B is fixed: no parameter gradients to give per point).
  bool supports(const Pass&, GradientMode mode) const override {
    return mode != GradientMode::per_point;
  }

 protected:
  // Rows are batch (values) or C·N (derivatives, C = 1 + 2·dims).
  struct FourierContext : Context<T> {
    Matrix<T> p, dp;  // [rows, m] phases P = 2π X B (every channel), their gradient
  };
  std::unique_ptr<Context<T>> make_context() const override {
    return std::make_unique<FourierContext>();
  }
  void forward_impl(Context<T>& context, Workspace<T>& workspace) override;
  void backward_impl(Context<T>& context, const Matrix<T>& dy,
                     const Gradient<T>& gradient) override;

 private:
  // Adds the pass-through columns of dy (the X copy) to dx, channel for channel. [rows, in]
  void add_passthrough_gradient(const Matrix<T>& dy, const Matrix<T>& dx) const;

  std::size_t m_in;
  FourierOptions m_options;
  Matrix<T> m_frequencies;  // B    [in, m]
  Matrix<T> m_angular;      // 2π B [in, m]

  void forward_values(FourierContext& c) const;
  void forward_derivatives(FourierContext& c) const;
  void backward_values(FourierContext& c, const Matrix<T>& dy) const;
  void backward_derivatives(FourierContext& c, const Matrix<T>& dy) const;
};

}  // namespace karman::nn
