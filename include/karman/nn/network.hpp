#pragma once
// A trainable network: a root module and the one flat parameter buffer it declared.
//   Network<double> net(make_mlp<double>({2, 64, 64, 1}, Activation::tanh), /*seed=*/7);

#include <memory>
#include <string>
#include <vector>

#include "karman/nn/module.hpp"

namespace karman::nn {

// A trainable scalar learned beside the weights (an inverse problem's PDE coefficient): one more
// entry of the flat parameter buffer, so optimizers, checkpoints and the MPI sums treat it like a
// weight. The loss that uses it adds its gradient itself.
struct Coefficient {
  std::string name;  // parameter name, e.g. "inverse.kappa"
  double initial = 0.0;
};

template <class T>
class Network {
 public:
  Network(std::unique_ptr<Module<T>> root, std::uint64_t seed,
          const std::vector<Coefficient>& coefficients = {})
      : m_root(std::move(root)) {
    m_root->declare(m_parameters, "");
    for (const auto& c : coefficients) m_coefficients.push_back(m_parameters.declare(c.name, 1, 1));
    m_parameters.allocate();
    m_root->initialize(seed);
    for (std::size_t k = 0; k < coefficients.size(); ++k)
      Kokkos::deep_copy(m_parameters.value(m_coefficients[k]),
                        static_cast<T>(coefficients[k].initial));
  }
  // Parameter index of coefficient k (in the order given to the constructor).
  std::size_t coefficient(std::size_t k) const { return m_coefficients.at(k); }
  Parameters<T>& parameters() { return m_parameters; }
  const Parameters<T>& parameters() const { return m_parameters; }
  Module<T>& module() { return *m_root; }
  Workspace<T>& workspace() { return m_workspace; }

  // The step's one forward: the network's workspace is reset first, so the returned context
  // (c.y [rows, out]) is valid until the next forward. For several forwards before their
  // backwards (a rollout), call module().forward with a workspace of your own, reset once per step.
  Context<T>& forward(const Matrix<T>& x, const Pass& pass = Pass::values()) {
    m_workspace.reset();
    return m_root->forward(x, pass, m_workspace);
  }
  // One of several forwards in `workspace` (no reset: the caller resets it once per step).
  Context<T>& forward(const Matrix<T>& x, const Pass& pass, Workspace<T>& workspace) {
    return m_root->forward(x, pass, workspace);
  }
  // dy [rows, out] → dx [rows, in]; parameter gradients as `gradient` says (Module::backward).
  Matrix<T> backward(Context<T>& context, const Matrix<T>& dy,
                     const Gradient<T>& gradient = Gradient<T>::accumulate()) {
    return m_root->backward(context, dy, gradient);
  }

 private:
  std::unique_ptr<Module<T>> m_root;
  Parameters<T> m_parameters;
  std::vector<std::size_t> m_coefficients;
  Workspace<T> m_workspace;
};

}  // namespace karman::nn
