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

  Matrix<T> forward(const Matrix<T>& x) override;
  Matrix<T> backward(const Matrix<T>& dy) override;
  Matrix<T> forward_taylor(const Matrix<T>& x, std::size_t dims) override;
  Matrix<T> backward_taylor(const Matrix<T>& dy) override;

 private:
  // Adds the pass-through columns of dy (the X copy) to dx, channel for channel. [rows, in]
  void add_passthrough_gradient(const Matrix<T>& dy, const Matrix<T>& dx) const;

  std::size_t m_in;
  FourierOptions m_options;
  Matrix<T> m_frequencies;  // B    [in, m]
  Matrix<T> m_angular;      // 2π B [in, m]
  Matrix<T> m_p, m_y;       // [batch, m] phases P = 2π X B, [batch, out]
  Matrix<T> m_dp, m_dx;     // [batch, m], [batch, in]
  // Derivative propagation: C = 1 + 2·dims channel blocks of N rows.
  std::size_t m_dims = 0;
  Matrix<T> m_tp, m_ty;    // [C·N, m] phase channels, [C·N, out]
  Matrix<T> m_tdp, m_tdx;  // [C·N, m], [C·N, in]
};

}  // namespace karman::nn
