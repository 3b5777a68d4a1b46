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
  Matrix<T> forward(const Matrix<T>& x) override;
  Matrix<T> backward(const Matrix<T>& dy) override;
  Matrix<T> forward_taylor(const Matrix<T>& x, std::size_t dims) override;
  Matrix<T> backward_taylor(const Matrix<T>& dy) override;
  Matrix<T> backward_points(const Matrix<T>& dy, const Matrix<T>& jacobian) override;
  Matrix<T> backward_taylor_points(const Matrix<T>& dy, const Matrix<T>& jacobian) override;

  Matrix<T> weight() const { return m_parameters->value(m_weight); }  // [in, out]
  // For callers that apply the layer in pieces (e.g. on slices of W): the parameters and their
  // gradients, aliasing the Parameters buffers.
  bool has_bias() const { return m_bias; }
  Matrix<T> bias() const { return m_parameters->value(m_bias_index); }              // [1, out]
  Matrix<T> weight_gradient() const { return m_parameters->gradient(m_weight); }    // [in, out]
  Matrix<T> bias_gradient() const { return m_parameters->gradient(m_bias_index); }  // [1, out]

 private:
  // The bias as it enters Z: b, or ω0·b in the layer's own buffer when ω0 ≠ 1. [1, out]
  Matrix<T> effective_bias();

  std::size_t m_in, m_out;
  LinearOptions m_options;
  bool m_bias;
  Activation m_activation;
  Parameters<T>* m_parameters = nullptr;
  std::size_t m_weight = 0, m_bias_index = 0;
  Matrix<T> m_scaled_bias;  // [1, out] ω0·b (ω0 ≠ 1 only)
  Matrix<T> m_x;            // [batch, in]  input of the last forward (caller's buffer)
  Matrix<T> m_z, m_y;       // [batch, out] pre-activation, output (m_y aliases m_z if σ = id)
  Matrix<T> m_dz, m_dx;     // [batch, out], [batch, in]
  Matrix<T> m_ones;         // [batch, 1]   bias gradient as a product: db = 1ᵀ dZ
  // Derivative propagation (forward_taylor): C = 1 + 2·dims channel blocks of N rows each.
  std::size_t m_dims = 0;
  Matrix<T> m_tx;          // [C·N, in]  input of the last forward_taylor
  Matrix<T> m_tz, m_ty;    // [C·N, out] pre-activation and output channels
  Matrix<T> m_tdz, m_tdx;  // [C·N, out], [C·N, in]
  Matrix<T> m_tjet;        // [3·N, out] σ', σ'', σ''' at the values' pre-activations
  Matrix<T> m_tones;       // [N, 1]

  Matrix<T> activation_backward(const Matrix<T>& dy);    // dZ = dY ∘ σ'(Z)       [batch, out]
  void taylor_activation_backward(const Matrix<T>& dy);  // m_tdz from the channel gradients
  Matrix<T> input_gradient(const Matrix<T>& dz, Matrix<T>& dx);  // dX = dZ Wᵀ  [rows, in]
  // Row i of `jacobian`: Σ_c X(c·N + i)ᵀ dZ(c·N + i) in the weight's columns, dZ(i) (values
  // channel) in the bias's.
  void write_point_gradients(const Matrix<T>& x, const Matrix<T>& dz, std::size_t channels,
                             const Matrix<T>& jacobian) const;
};

}  // namespace karman::nn
