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
};

}  // namespace karman::nn
