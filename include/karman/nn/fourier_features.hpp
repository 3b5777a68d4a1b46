#pragma once
// Fourier feature embeddings with fixed frequencies B [in, m] (not trained):
//   γ(X) = [sin(2π X B), cos(2π X B), X_pass]   X [batch, in], γ [batch, 2m + |pass|]
// where X_pass are the input columns copied through (none, all, or a chosen few).
//   - random Fourier features (Tancik et al. 2020): B_ij = scale · N(0, 1), entry i·m + j of the
//     counter-based stream of `seed` (karman/core/random.hpp), so it is the same on every rank
//     count and depends on nothing else in the model; X copied through when `include_input`;
//   - the periodic embedding (make_periodic_embedding): for each periodic input a with period
//     L_a and k = 1..modes, the column B_·j = (k / L_a) e_a, so the features sin(2πk x_a / L_a),
//     cos(2πk x_a / L_a) make the network exactly periodic in x_a; the other inputs are copied
//     through (Dong & Ni 2021; the periodic layer of the TENG and causal-training references).
// No parameters: the layer supports every pass and gradient mode, per_point included (its
// backward only gives the input sensitivities).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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
  // Given frequencies `b` (row-major [in, m], without the 2π) and the input columns copied
  // through after the features, in that order.
  FourierFeatures(std::size_t in, const std::vector<double>& b, std::size_t m,
                  std::vector<std::size_t> passthrough, std::string kind);

  std::string kind() const override { return m_kind; }
  std::size_t in_features() const override { return m_in; }
  std::size_t out_features() const override;
  Matrix<T> frequencies() const { return m_frequencies; }  // B [in, m], without the 2π

  bool supports(const Pass&, GradientMode) const override { return true; }

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

  void set_frequencies(const std::vector<double>& b);  // B (row-major [in, m]) and 2πB
  void set_passthrough();                              // m_pass_columns from m_pass

  std::size_t m_in, m_count;        // inputs, frequencies m
  std::vector<std::size_t> m_pass;  // input columns copied through, in output order
  Kokkos::View<std::size_t*, MemorySpace> m_pass_columns;  // the same, for kernels
  std::string m_kind;
  Matrix<T> m_frequencies;  // B    [in, m]
  Matrix<T> m_angular;      // 2π B [in, m]

  void forward_values(FourierContext& c) const;
  void forward_derivatives(FourierContext& c) const;
  void backward_values(FourierContext& c, const Matrix<T>& dy) const;
  void backward_derivatives(FourierContext& c, const Matrix<T>& dy) const;
};

// The periodic embedding for inputs with `periods` (one per input, in the network's coordinates;
// 0: not periodic), `modes` ≥ 1 harmonics each: InternalError without a periodic input.
template <class T>
std::unique_ptr<FourierFeatures<T>> make_periodic_embedding(const std::vector<double>& periods,
                                                            std::size_t modes);

}  // namespace karman::nn
