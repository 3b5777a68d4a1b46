#pragma once
// A trainable network: a root module and the one flat parameter buffer it declared.
//   Network<double> net(make_mlp<double>({2, 64, 64, 1}, Activation::tanh), /*seed=*/7);

#include <memory>

#include "karman/nn/module.hpp"

namespace karman::nn {

template <class T>
class Network {
 public:
  Network(std::unique_ptr<Module<T>> root, std::uint64_t seed) : m_root(std::move(root)) {
    m_root->declare(m_parameters, "");
    m_parameters.allocate();
    m_root->initialize(seed);
  }
  Parameters<T>& parameters() { return m_parameters; }
  const Parameters<T>& parameters() const { return m_parameters; }
  Module<T>& module() { return *m_root; }
  Matrix<T> forward(const Matrix<T>& x) { return m_root->forward(x); }
  Matrix<T> backward(const Matrix<T>& dy) { return m_root->backward(dy); }
  // Derivative propagation (see Module::forward_taylor).
  Matrix<T> forward_taylor(const Matrix<T>& x, std::size_t dims) {
    return m_root->forward_taylor(x, dims);
  }
  Matrix<T> backward_taylor(const Matrix<T>& dy) { return m_root->backward_taylor(dy); }
  // Per-point parameter gradients (see Module::backward_points), jacobian [N, parameters].
  Matrix<T> backward_points(const Matrix<T>& dy, const Matrix<T>& jacobian) {
    return m_root->backward_points(dy, jacobian);
  }
  Matrix<T> backward_taylor_points(const Matrix<T>& dy, const Matrix<T>& jacobian) {
    return m_root->backward_taylor_points(dy, jacobian);
  }

 private:
  std::unique_ptr<Module<T>> m_root;
  Parameters<T> m_parameters;
};

}  // namespace karman::nn
