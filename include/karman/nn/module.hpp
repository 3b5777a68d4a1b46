#pragma once
// The layer interface of the NN core (the shape of tiny-cuda-nn's object.h and llm.c):
//
//   Context& c = module.forward(x [rows, in], pass, workspace)   c.y [rows, out]
//   Matrix dx  = module.backward(c, dy [rows, out], gradient)     dx  [rows, in]
//
// A forward keeps what its backward needs in a Context, not in the module, so the same weights
// can run many forwards before their backwards: an autoregressive rollout, the pushforward trick,
// weight-tied layers. Contexts come from a Workspace: the k-th forward of a module since the
// workspace's last reset() gets the module's k-th context, made on first use and reused (with its
// buffers) by every later step, so a rollout of T steps allocates T contexts once (DESIGN.md,
// "allocate once"). A context's buffers keep the shape of its last forward and are reallocated
// only when that shape changes.
//
// The pass says what flows forward:
//   Pass::values()           rows = N points, plain activations;
//   Pass::derivatives(d)     collapsed forward-mode Taylor propagation for PINN residuals: every
//                            activation carries, per point, its value, its first and its pure
//                            second derivatives with respect to d input coordinates, stacked as
//                            C = 1 + 2d channel blocks of N rows:
//                              rows [0, N) values, [(1+k)N, (2+k)N) ∂/∂x_k,
//                              [(1+d+k)N, (2+d+k)N) ∂²/∂x_k²,
//                            so a layer's product is one GEMM over all C·N rows.
// Backward takes the loss gradient with respect to every row of y (every channel in a derivative
// pass) and, by the gradient mode, treats the parameter gradients:
//   accumulate   ADD to Parameters::gradients() (zeroing is explicit: Parameters::zero_gradients)
//   overwrite    WRITE the module's parameter gradients (the module's own entries only)
//   none         leave them alone (only dx: input sensitivities of a frozen network)
//   per_point    Gauss–Newton Jacobian rows: point i's gradient is WRITTEN to row i of
//                `jacobian` [N, P] (column = flat parameter index, Parameters::info(k).offset +
//                entry). Row i is ∂/∂θ of Σ_{c,o} dy(c·N + i, o)·y(c·N + i, o), one row of the
//                Jacobian of the per-point residuals when dy holds their linearisation.
// A module says which passes and modes it supports (supports()); the public forward and backward
// check them, and the runners ask at validation, so an unsupported combination is a one-line
// error before anything runs, never a failure deep inside a run.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/nn/parameters.hpp"
#include "karman/nn/tensor.hpp"

namespace karman::nn {

// What a forward propagates: values only (dims = 0) or values with derivative channels.
struct Pass {
  std::size_t dims = 0;  // input coordinates differentiated (0: values only)

  static Pass values() { return Pass{0}; }
  static Pass derivatives(std::size_t dims) { return Pass{dims}; }
  bool taylor() const { return dims > 0; }
  std::size_t channels() const { return 1 + 2 * dims; }  // C: row blocks per point
  bool operator==(const Pass& other) const { return dims == other.dims; }
};

enum class GradientMode { accumulate, overwrite, none, per_point };

// How a backward treats the parameter gradients; per_point writes into `jacobian` [N, P].
template <class T>
struct Gradient {
  GradientMode mode = GradientMode::accumulate;
  Matrix<T> jacobian = {};

  static Gradient accumulate() { return {GradientMode::accumulate, {}}; }
  static Gradient overwrite() { return {GradientMode::overwrite, {}}; }
  static Gradient none() { return {GradientMode::none, {}}; }
  static Gradient per_point(const Matrix<T>& jacobian) {
    return {GradientMode::per_point, jacobian};
  }
  // The factor of the existing gradient in a GEMM that adds this backward's part: 1 or 0.
  T keep() const { return mode == GradientMode::accumulate ? T(1) : T(0); }
  bool parameters() const {
    return mode == GradientMode::accumulate || mode == GradientMode::overwrite;
  }
};

template <class T>
class Module;

// Base of whatever a workspace keeps: the contexts of layers and of graph layers.
class ContextBase {
 public:
  virtual ~ContextBase() = default;
};

// What one forward keeps for its backward. Modules derive their own (the buffers they need); the
// base holds what every module has.
template <class T>
class Context : public ContextBase {
 public:
  const Module<T>* module = nullptr;  // the module whose forward filled this context
  Pass pass;
  Matrix<T> x;   // [rows, in]  the input (the caller's buffer: unchanged until the backward)
  Matrix<T> y;   // [rows, out] the output
  Matrix<T> dx;  // [rows, in]  the input gradient of the last backward
  std::size_t rows() const { return x.extent(0); }
  std::size_t points() const { return x.extent(0) / pass.channels(); }  // N
};

// The contexts of a sequence of forwards (a training step, a rollout). Not thread-safe.
template <class T>
class Workspace {
 public:
  // Start a new sequence: every context is free again (and keeps its buffers).
  void reset() {
    for (auto& [module, slots] : m_slots) slots.used = 0;
  }
  // The next free context of `owner` (a module; made by make() the first time).
  template <class Context_, class Make>
  Context_& acquire(const void* owner, Make&& make) {
    auto& slots = m_slots[owner];
    if (slots.used == slots.contexts.size()) slots.contexts.push_back(make());
    return static_cast<Context_&>(*slots.contexts[slots.used++]);
  }
  // Drop every context of every module (their memory too).
  void clear() { m_slots.clear(); }

 private:
  // The owner's make() decides its contexts' type, so the cast in acquire holds.
  struct Slots {
    std::vector<std::unique_ptr<ContextBase>> contexts;
    std::size_t used = 0;
  };
  std::unordered_map<const void*, Slots> m_slots;
};

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

  // Whether the module can run `pass` forward and then backward in `mode`. The default: values
  // with accumulated, overwritten or no parameter gradients.
  virtual bool supports(const Pass& pass, GradientMode mode) const {
    return !pass.taylor() && mode != GradientMode::per_point;
  }

  // x [rows, in] → the context of this forward (y [rows, out]). rows = C·N in a derivative pass.
  Context<T>& forward(const Matrix<T>& x, const Pass& pass, Workspace<T>& workspace);
  // dy [rows, out] → dx [rows, in] (context.dx); parameter gradients as `gradient` says. A
  // context may be back-propagated several times (e.g. once per residual component).
  Matrix<T> backward(Context<T>& context, const Matrix<T>& dy,
                     const Gradient<T>& gradient = Gradient<T>::accumulate());

 protected:
  // A fresh context of the module's own type (buffers empty until its first forward).
  virtual std::unique_ptr<Context<T>> make_context() const {
    return std::make_unique<Context<T>>();
  }
  // context.x and context.pass are set: fill context.y (and what the backward needs).
  virtual void forward_impl(Context<T>& context, Workspace<T>& workspace) = 0;
  // Fill context.dx from dy and treat the parameter gradients as `gradient` says.
  virtual void backward_impl(Context<T>& context, const Matrix<T>& dy,
                             const Gradient<T>& gradient) = 0;

  // The module's context of its own type (contexts are made by make_context, so the cast holds).
  template <class C>
  static C& as(Context<T>& context) {
    return static_cast<C&>(context);
  }
};

// One line naming the pass and mode ("values, per_point"), for error messages.
std::string describe(const Pass& pass, GradientMode mode);

// The check every layer's public forward (backward: `mode` the backward's) makes before it runs:
// InternalError "<what> '<kind>' does not support <pass, mode>" unless `layer` supports it. A
// forward needs some mode to follow it: none, or one that keeps parameter gradients.
template <class Layer>
void require_support(const Layer& layer, const char* what, const Pass& pass,
                     const GradientMode* backward_mode = nullptr) {
  const bool supported = backward_mode ? layer.supports(pass, *backward_mode)
                                       : layer.supports(pass, GradientMode::none) ||
                                             layer.supports(pass, GradientMode::accumulate);
  if (!supported)
    throw InternalError(std::string(what) + " '" + layer.kind() + "' does not support " +
                        describe(pass, backward_mode ? *backward_mode : GradientMode::none));
}

// The channel-stacked input of a derivative pass for points x [N, dims]: values x, first
// derivatives scale_k·e_k, second derivatives zero. Shape [(1 + 2·dims)·N, dims]. With x an
// affine image of physical coordinates (x_k = scale_k·ξ_k + shift_k), the network's derivative
// channels are then derivatives with respect to the physical ξ. Empty scales: all 1.
template <class T>
void taylor_input(const Matrix<T>& x, Matrix<T>& stacked, const std::vector<double>& scales = {});

}  // namespace karman::nn
