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
  // Any mode will do for the forward; the backward checks its own.
  if (!supports(pass, GradientMode::none) && !supports(pass, GradientMode::accumulate))
    throw_unsupported(pass, GradientMode::none);
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
  if (!supports(context.pass, gradient.mode)) throw_unsupported(context.pass, gradient.mode);
  KARMAN_VERIFY(dy.extent(0) == context.y.extent(0) && dy.extent(1) == out_features(),
                kind() + ": dy must have the forward's output shape");
  KARMAN_VERIFY(
      gradient.mode != GradientMode::per_point || gradient.jacobian.extent(0) == context.points(),
      kind() + ": the per-point Jacobian needs one row per point");
  backward_impl(context, dy, gradient);
  return context.dx;
}

template <class T>
void Module<T>::throw_unsupported(const Pass& pass, GradientMode mode) const {
  throw InternalError("module '" + kind() + "' does not support " + describe(pass, mode));
}

template class Module<float>;
template class Module<double>;

}  // namespace karman::nn
