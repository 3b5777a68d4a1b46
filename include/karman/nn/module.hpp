#pragma once
// The layer interface of the NN core (shape of llm.c / tiny-cuda-nn):
//   forward(x [batch, in]) -> y [batch, out]   keeps what backward needs
//   backward(dy [batch, out]) -> dx [batch, in] ADDS parameter gradients (zeroing is explicit,
//                                               Parameters::zero_gradients)
// Outputs are buffers owned by the module, allocated once per batch shape and valid until the
// module's next forward/backward; the input x of forward must stay unchanged until backward.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/nn/parameters.hpp"
#include "karman/nn/tensor.hpp"

namespace karman::nn {

template <class T>
class Module {
 public:
  virtual ~Module() = default;
  virtual std::string kind() const = 0;
  virtual std::size_t in_features() const = 0;
  virtual std::size_t out_features() const = 0;

  // Declare parameter tensors, names prefixed by `prefix` ("layers.0."). Before allocation.
  virtual void declare(Parameters<T>& parameters, const std::string& prefix) {
    (void)parameters, (void)prefix;
  }
  // Fill the declared parameters. Values come from a counter-based generator keyed on
  // (seed, parameter index, entry), so they are the same on every rank count.
  virtual void initialize(std::uint64_t seed) { (void)seed; }

  virtual Matrix<T> forward(const Matrix<T>& x) = 0;
  virtual Matrix<T> backward(const Matrix<T>& dy) = 0;

  // Derivative propagation for PINN residuals (collapsed forward-mode Taylor): the activations
  // carry, per point, the value, the first derivatives and the pure second derivatives with
  // respect to `dims` input coordinates, stacked as channel blocks of rows:
  //   x [C·N, in], C = 1 + 2·dims: rows [0, N) values, [(1+k)N, (2+k)N) ∂/∂x_k,
  //   [(1+dims+k)N, (2+dims+k)N) ∂²/∂x_k²,
  // so a layer's product is one GEMM over all C·N rows. backward_taylor takes the loss gradient
  // with respect to every output channel and ADDS the parameter gradients, as backward does.
  virtual Matrix<T> forward_taylor(const Matrix<T>& x, std::size_t dims) {
    (void)x, (void)dims;
    throw_no_taylor();
  }
  virtual Matrix<T> backward_taylor(const Matrix<T>& dy) {
    (void)dy;
    throw_no_taylor();
  }

  // Per-point parameter gradients, for Gauss–Newton / natural-gradient training: the same
  // backward passes, but instead of summing the parameter gradient over the N points, point i's
  // gradient is WRITTEN to row i of `jacobian` [N, P] (column = flat parameter index,
  // Parameters::info(k).offset + entry). Row i is then ∂/∂θ of Σ_{c,o} dy(c·N + i, o)·y(c·N + i,
  // o), i.e. one row of the Jacobian of the per-point residuals when dy holds their linearisation.
  // backward_points follows forward, backward_taylor_points follows forward_taylor.
  virtual Matrix<T> backward_points(const Matrix<T>& dy, const Matrix<T>& jacobian) {
    (void)dy, (void)jacobian;
    throw_no_points();
  }
  virtual Matrix<T> backward_taylor_points(const Matrix<T>& dy, const Matrix<T>& jacobian) {
    (void)dy, (void)jacobian;
    throw_no_points();
  }

 private:
  [[noreturn]] void throw_no_taylor() const;
  [[noreturn]] void throw_no_points() const;
};

template <class T>
void Module<T>::throw_no_taylor() const {
  throw InternalError("module '" + kind() + "' does not propagate input derivatives");
}

template <class T>
void Module<T>::throw_no_points() const {
  throw InternalError("module '" + kind() + "' does not give per-point parameter gradients");
}

// The channel-stacked input of forward_taylor for points x [N, dims]: values x, first
// derivatives scale_k·e_k, second derivatives zero. Shape [(1 + 2·dims)·N, dims]. With x an
// affine image of physical coordinates (x_k = scale_k·ξ_k + shift_k), the network's derivative
// channels are then derivatives with respect to the physical ξ. Empty scales: all 1.
template <class T>
void taylor_input(const Matrix<T>& x, Matrix<T>& stacked, const std::vector<double>& scales = {});

}  // namespace karman::nn
