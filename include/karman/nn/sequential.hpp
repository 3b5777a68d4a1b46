#pragma once
// Modules in a chain, and the networks built from them: an MLP from a list of widths, and a
// residual wrapper y = x + f(x).

#include <memory>
#include <vector>

#include "karman/nn/activation.hpp"
#include "karman/nn/init.hpp"
#include "karman/nn/module.hpp"

namespace karman::nn {

template <class T>
class Sequential : public Module<T> {
 public:
  Sequential& add(std::unique_ptr<Module<T>> module);
  std::string kind() const override { return "sequential"; }
  std::size_t in_features() const override;
  std::size_t out_features() const override;
  std::size_t size() const { return m_modules.size(); }
  Module<T>& operator[](std::size_t i) { return *m_modules.at(i); }

  void declare(Parameters<T>& parameters, const std::string& prefix) override;
  void initialize(std::uint64_t seed) override;
  Matrix<T> forward(const Matrix<T>& x) override;
  Matrix<T> backward(const Matrix<T>& dy) override;
  Matrix<T> forward_taylor(const Matrix<T>& x, std::size_t dims) override;
  Matrix<T> backward_taylor(const Matrix<T>& dy) override;
  Matrix<T> backward_points(const Matrix<T>& dy, const Matrix<T>& jacobian) override;
  Matrix<T> backward_taylor_points(const Matrix<T>& dy, const Matrix<T>& jacobian) override;

 private:
  std::vector<std::unique_ptr<Module<T>>> m_modules;
};

// y = x + f(x); f must keep the width.
template <class T>
class Residual : public Module<T> {
 public:
  explicit Residual(std::unique_ptr<Module<T>> inner);
  std::string kind() const override { return "residual"; }
  std::size_t in_features() const override { return m_inner->in_features(); }
  std::size_t out_features() const override { return m_inner->out_features(); }
  void declare(Parameters<T>& parameters, const std::string& prefix) override;
  void initialize(std::uint64_t seed) override { m_inner->initialize(seed); }
  Matrix<T> forward(const Matrix<T>& x) override;
  Matrix<T> backward(const Matrix<T>& dy) override;
  // Every channel is a sum too: (x + f)_k = x_k + f_k, (x + f)_kk = x_kk + f_kk.
  Matrix<T> forward_taylor(const Matrix<T>& x, std::size_t dims) override;
  Matrix<T> backward_taylor(const Matrix<T>& dy) override;

 private:
  std::unique_ptr<Module<T>> m_inner;
  Matrix<T> m_y, m_dx;    // [batch, width]
  Matrix<T> m_ty, m_tdx;  // [C·N, width]
};

// σ(x) on its own (when it cannot be fused into the Linear before it).
template <class T>
class Pointwise : public Module<T> {
 public:
  Pointwise(std::size_t width, Activation activation) : m_width(width), m_activation(activation) {}
  std::string kind() const override { return "activation"; }
  std::size_t in_features() const override { return m_width; }
  std::size_t out_features() const override { return m_width; }
  Matrix<T> forward(const Matrix<T>& x) override;
  Matrix<T> backward(const Matrix<T>& dy) override;

 private:
  std::size_t m_width;
  Activation m_activation;
  Matrix<T> m_x, m_y, m_dx;
};

// widths = {in, h1, ..., out}: Linear+σ for every hidden layer, a plain Linear at the end.
template <class T>
std::unique_ptr<Sequential<T>> make_mlp(const std::vector<std::size_t>& widths, Activation hidden,
                                        bool bias = true, Init init = Init::xavier_uniform);

}  // namespace karman::nn
