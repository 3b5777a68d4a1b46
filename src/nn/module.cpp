#include "karman/nn/module.hpp"

namespace karman::nn {

std::string describe(const Pass& pass, GradientMode mode) {
  static const char* const modes[] = {"accumulate", "overwrite", "none", "per_point"};
  const std::string what =
      pass.taylor() ? "derivatives of " + std::to_string(pass.dims) + " coordinates" : "values";
  return what + ", gradient mode " + modes[static_cast<int>(mode)];
}

template <class T>
Context<T>& Module<T>::forward(const Matrix<T>& x, const Pass& pass, Workspace<T>& workspace) {
  require_support(*this, "module", pass);
  KARMAN_VERIFY(x.extent(1) == in_features(),
                kind() + ": input has " + std::to_string(x.extent(1)) + " features, expected " +
                    std::to_string(in_features()));
  KARMAN_VERIFY(x.extent(0) % pass.channels() == 0,
                kind() + ": a derivative pass needs [C·N, in] rows");
  auto& context = workspace.template acquire<Context<T>>(this, [this] { return make_context(); });
  context.module = this;
  context.pass = pass;
  context.x = x;
  forward_impl(context, workspace);
  return context;
}

template <class T>
Matrix<T> Module<T>::backward(Context<T>& context, const Matrix<T>& dy,
                              const Gradient<T>& gradient) {
  KARMAN_VERIFY(context.module == this, kind() + ": backward of another module's context");
  require_support(*this, "module", context.pass, &gradient.mode);
  KARMAN_VERIFY(dy.extent(0) == context.y.extent(0) && dy.extent(1) == out_features(),
                kind() + ": dy must have the forward's output shape");
  KARMAN_VERIFY(
      gradient.mode != GradientMode::per_point || gradient.jacobian.extent(0) == context.points(),
      kind() + ": the per-point Jacobian needs one row per point");
  backward_impl(context, dy, gradient);
  return context.dx;
}

template class Module<float>;
template class Module<double>;

}  // namespace karman::nn
