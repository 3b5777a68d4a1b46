#pragma once
// Linear layer with an optional fused activation: Z = X W + b, Y = σ(Z).
//   X [batch, in], W [in, out], b [1, out], Z and Y [batch, out].
// The product goes to gemm(); bias and activation are one kernel over the output.
// A SIREN layer (Sitzmann et al. 2020) scales the pre-activation by a frequency ω0:
// Z = ω0 (X W + b), Y = sin(Z). ω0 rides on the GEMMs' alpha and on a scaled copy of b, so the
// activation's jet is the plain one in Z and the ω0 = 1 path is untouched.

#include "karman/nn/activation.hpp"
#include "karman/nn/init.hpp"
#include "karman/nn/module.hpp"

namespace karman::nn {

struct LinearOptions {
  bool bias = true;
  Activation activation = Activation::identity;
  Init init = Init::xavier_uniform;  // weights
  double gain = 1.0;
  Init bias_init = Init::zeros;
  double bias_gain = 0.0;
  double frequency = 1.0;  // ω0 in Z = ω0 (X W + b)
};

template <class T>
class Linear : public Module<T> {
 public:
  Linear(std::size_t in, std::size_t out, bool bias = true,
         Activation activation = Activation::identity, Init init = Init::xavier_uniform,
         double gain = 1.0);
  Linear(std::size_t in, std::size_t out, const LinearOptions& options);

  std::string kind() const override { return "linear"; }
  std::size_t in_features() const override { return m_in; }
  std::size_t out_features() const override { return m_out; }
  Activation activation() const { return m_activation; }
  double frequency() const { return m_options.frequency; }

  void declare(Parameters<T>& parameters, const std::string& prefix) override;
  void initialize(std::uint64_t seed) override;
  // Values and derivative passes, every gradient mode.
  bool supports(const Pass&, GradientMode) const override { return true; }

  Matrix<T> weight() const { return m_parameters->value(m_weight); }  // [in, out]
  // For callers that apply the layer in pieces (e.g. on slices of W): the parameters and their
  // gradients, aliasing the Parameters buffers.
  bool has_bias() const { return m_bias; }
  Matrix<T> bias() const { return m_parameters->value(m_bias_index); }              // [1, out]
  Matrix<T> weight_gradient() const { return m_parameters->gradient(m_weight); }    // [in, out]
  Matrix<T> bias_gradient() const { return m_parameters->gradient(m_bias_index); }  // [1, out]

 protected:
  // What a forward keeps; rows = batch (values) or C·N (derivatives, C = 1 + 2·dims).
  struct LinearContext : Context<T> {
    Matrix<T> z;     // [rows, out] pre-activation (y aliases it when σ = id)
    Matrix<T> dz;    // [rows, out]
    Matrix<T> jet;   // [3·N, out] σ', σ'', σ''' at the values' pre-activations (derivatives)
    Matrix<T> ones;  // [N, 1]     the bias gradient as a product: db = 1ᵀ dZ (values rows)
  };
  std::unique_ptr<Context<T>> make_context() const override {
    return std::make_unique<LinearContext>();
  }
  void forward_impl(Context<T>& context, Workspace<T>& workspace) override;
  void backward_impl(Context<T>& context, const Matrix<T>& dy,
                     const Gradient<T>& gradient) override;

 private:
  // The bias as it enters Z: b, or ω0·b in the layer's own buffer when ω0 ≠ 1. [1, out]
  Matrix<T> effective_bias();
  void forward_values(LinearContext& c);
  void forward_derivatives(LinearContext& c);
  // dZ = dY ∘ σ'(Z) (values), or the derivative channels' adjoint (derivatives). c.dz
  const Matrix<T>& activation_backward(LinearContext& c, const Matrix<T>& dy);
  void derivative_activation_backward(LinearContext& c, const Matrix<T>& dy);
  // dW = keep·dW + ω0 Xᵀ dZ, db = keep·db + ω0 1ᵀ dZ_values.
  void parameter_gradients(LinearContext& c, const Matrix<T>& dz, T keep);
  // Row i of `jacobian`: Σ_c X(c·N + i)ᵀ dZ(c·N + i) in the weight's columns, dZ(i) (values
  // channel) in the bias's.
  void write_point_gradients(const LinearContext& c, const Matrix<T>& dz,
                             const Matrix<T>& jacobian) const;

  std::size_t m_in, m_out;
  LinearOptions m_options;
  bool m_bias;
  Activation m_activation;
  Parameters<T>* m_parameters = nullptr;
  std::size_t m_weight = 0, m_bias_index = 0;
  Matrix<T> m_scaled_bias;  // [1, out] ω0·b (ω0 ≠ 1 only)
};

}  // namespace karman::nn
