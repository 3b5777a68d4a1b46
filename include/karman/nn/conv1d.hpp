#pragma once
// A 1D convolution along the features of each row (PyTorch's nn.Conv1d without padding or
// dilation), e.g. MP-PDE's decoder over the hidden features of every node. Row n of x holds C_in
// channels of L_in values each, channel c at columns [c·L_in, (c+1)·L_in); likewise y:
//
//   y(n, o·L_out + t) = b_o + Σ_c Σ_k w(o, c, k) x(n, c·L_in + t·s + k),  L_out = ⌊(L_in − K)/s⌋ +
//   1 x [N, C_in·L_in], y [N, C_out·L_out] "weight" [C_out, C_in·K] (PyTorch's [C_out, C_in, K] in
//   the same memory order), "bias" [1, C_out]
//
// The convolution is one GEMM: each forward expands the kernel into its Toeplitz matrix
//   M [C_in·L_in, C_out·L_out],  M(c·L_in + t·s + k, o·L_out + t) = w(o, c, k), 0 elsewhere,
// so y = x M + b; the backward is dx = dy Mᵀ, dM = xᵀ dy folded back into the kernel,
// dw(o, c, k) = Σ_t dM(c·L_in + t·s + k, o·L_out + t), and db_o = Σ_n Σ_t dy(n, o·L_out + t).
// For MP-PDE's decoder (L_in = 128; 1 → 8 channels, K = 16, s = 3; then 8 → 1, K = 14) M is
// [128, 304] and [304, 25]: GEMMs over the N nodes, where most of M's zeros cost less than a
// direct loop's scattered reads. conv1d_reference is the direct loop the tests hold it to.
// Initialisation as PyTorch's: weight and bias U(±1/√(C_in·K)) from the counter-based streams.
// Values only; accumulated, overwritten or no parameter gradients.

#include "karman/nn/module.hpp"

namespace karman::nn {

struct Conv1dOptions {
  std::size_t in_channels = 0;   // C_in
  std::size_t out_channels = 0;  // C_out
  std::size_t length = 0;        // L_in: values per input channel
  std::size_t kernel = 0;        // K
  std::size_t stride = 1;        // s

  // L_out = ⌊(L_in − K)/s⌋ + 1; 0 when the kernel does not fit (K > L_in, K = 0 or s = 0).
  std::size_t output_length() const {
    if (kernel == 0 || stride == 0 || kernel > length) return 0;
    return (length - kernel) / stride + 1;
  }
};

template <class T>
class Conv1d : public Module<T> {
 public:
  // InternalError unless the channels are positive and the kernel fits (output_length() > 0):
  // runners check user input (ConfigError) before they build the layer.
  explicit Conv1d(const Conv1dOptions& options);

  std::string kind() const override { return "conv1d"; }
  std::size_t in_features() const override { return m_options.in_channels * m_options.length; }
  std::size_t out_features() const override { return m_options.out_channels * m_length_out; }
  const Conv1dOptions& options() const { return m_options; }
  std::size_t output_length() const { return m_length_out; }  // L_out

  void declare(Parameters<T>& parameters, const std::string& prefix) override;
  void initialize(std::uint64_t seed) override;

  Matrix<T> weight() const { return m_parameters->value(m_weight); }  // [C_out, C_in·K]
  Matrix<T> bias() const { return m_parameters->value(m_bias); }      // [1, C_out]

 protected:
  struct Conv1dContext : Context<T> {
    Matrix<T> toeplitz;   // [C_in·L_in, C_out·L_out] M, the kernel of this forward
    Matrix<T> dtoeplitz;  // [C_in·L_in, C_out·L_out] xᵀ dy
    Matrix<T> ones;       // [N, 1]
    Matrix<T> dy_sums;    // [1, C_out·L_out] Σ_n dy
  };
  std::unique_ptr<Context<T>> make_context() const override {
    return std::make_unique<Conv1dContext>();
  }
  void forward_impl(Context<T>& context, Workspace<T>& workspace) override;
  void backward_impl(Context<T>& context, const Matrix<T>& dy,
                     const Gradient<T>& gradient) override;

 private:
  // M from the current weight (zeros included).
  void expand_kernel(Conv1dContext& c) const;
  // dw (+)= the fold of xᵀ dy, db (+)= Σ_n Σ_t dy.
  void parameter_gradients(Conv1dContext& c, const Matrix<T>& dy, bool accumulate) const;

  Conv1dOptions m_options;
  std::size_t m_length_out;
  Parameters<T>* m_parameters = nullptr;
  std::size_t m_weight = 0, m_bias = 0;
};

// y = the convolution of x by (weight [C_out, C_in·K], bias [1, C_out]) by direct loops
// (y [N, C_out·L_out] is written): the reference twin of Conv1d's GEMM path.
template <class T>
void conv1d_reference(const Conv1dOptions& options, const Matrix<T>& x, const Matrix<T>& weight,
                      const Matrix<T>& bias, const Matrix<T>& y);

}  // namespace karman::nn
