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
  // What every module in the chain supports.
  bool supports(const Pass& pass, GradientMode mode) const override;

 protected:
  struct SequentialContext : Context<T> {
    std::vector<Context<T>*> steps;  // the modules' contexts, in order (owned by the workspace)
  };
  std::unique_ptr<Context<T>> make_context() const override {
    return std::make_unique<SequentialContext>();
  }
  void forward_impl(Context<T>& context, Workspace<T>& workspace) override;
  void backward_impl(Context<T>& context, const Matrix<T>& dy,
                     const Gradient<T>& gradient) override;

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
  // Every channel is a sum too: (x + f)_k = x_k + f_k, (x + f)_kk = x_kk + f_kk; so whatever f
  // supports, but no per-point rows (f's rows are not the sum's).
  bool supports(const Pass& pass, GradientMode mode) const override {
    return mode != GradientMode::per_point && m_inner->supports(pass, mode);
  }

 protected:
  struct ResidualContext : Context<T> {
    Context<T>* inner = nullptr;  // f's context
  };
  std::unique_ptr<Context<T>> make_context() const override {
    return std::make_unique<ResidualContext>();
  }
  void forward_impl(Context<T>& context, Workspace<T>& workspace) override;
  void backward_impl(Context<T>& context, const Matrix<T>& dy,
                     const Gradient<T>& gradient) override;

 private:
  std::unique_ptr<Module<T>> m_inner;
};

// σ(x) on its own (when it cannot be fused into the Linear before it).
template <class T>
class Pointwise : public Module<T> {
 public:
  Pointwise(std::size_t width, Activation activation) : m_width(width), m_activation(activation) {}
  std::string kind() const override { return "activation"; }
  std::size_t in_features() const override { return m_width; }
  std::size_t out_features() const override { return m_width; }
  // No parameters: every mode is the same backward; values only.
  bool supports(const Pass& pass, GradientMode) const override { return !pass.taylor(); }

 protected:
  void forward_impl(Context<T>& context, Workspace<T>& workspace) override;
  void backward_impl(Context<T>& context, const Matrix<T>& dy,
                     const Gradient<T>& gradient) override;

 private:
  std::size_t m_width;
  Activation m_activation;
};

// widths = {in, h1, ..., out}: Linear+σ for every hidden layer, a plain Linear at the end.
template <class T>
std::unique_ptr<Sequential<T>> make_mlp(const std::vector<std::size_t>& widths, Activation hidden,
                                        bool bias = true, Init init = Init::xavier_uniform);

}  // namespace karman::nn
