#pragma once
// The layer interface of the NN core for layers on a graph (message passing, graph kernel
// integrals). Such a layer reads two inputs and writes two outputs, where a Module (module.hpp)
// has one of each:
//
//   GraphContext& c = layer.forward(graph, h [N, W_h], e [E, W_e], pass, workspace)
//                     c.h_out [N, W_h'], c.e_out [E, W_e']
//   layer.backward(c, dh_out [N, W_h'], de_out [E, W_e'], gradient)
//                     c.dh [N, W_h], c.de [E, W_e]
//
// Everything else is Module's: a forward keeps what its backward needs in a context from the
// Workspace (the k-th forward of a layer since the workspace's reset() gets the layer's k-th
// context, so a layer applied T times with the same weights, e.g. in a rollout, has T contexts);
// the layer's inner Modules take their contexts from the same workspace; the gradient modes
// accumulate / overwrite / none treat the parameter gradients as in module.hpp; supports() says
// which passes and modes the layer runs and the public forward and backward check it.

#include <cstdint>
#include <memory>
#include <string>

#include "karman/mesh/graph.hpp"
#include "karman/nn/module.hpp"

namespace karman::nn {

template <class T>
class GraphModule;

// What one forward of a graph layer keeps; layers derive their own. It is a Context so that the
// Workspace can hold it; the base's x, y and dx stay empty (the fields below name both inputs).
template <class T>
class GraphContext : public Context<T> {
 public:
  const GraphModule<T>* layer = nullptr;  // the layer whose forward filled this context
  mesh::Graph graph;                      // the graph of the forward (views: shared, not copied)
  Matrix<T> h, e;                         // [N, W_h], [E, W_e] inputs (the caller's buffers)
  Matrix<T> h_out, e_out;                 // [N, W_h'], [E, W_e'] outputs
  Matrix<T> dh, de;                       // [N, W_h], [E, W_e] input gradients of the last backward
};

template <class T>
class GraphModule {
 public:
  GraphModule() = default;
  // The contexts of a layer are keyed by its address (m_context_key's): no copies.
  GraphModule(const GraphModule&) = delete;
  GraphModule& operator=(const GraphModule&) = delete;
  virtual ~GraphModule() = default;

  virtual std::string kind() const = 0;
  virtual std::size_t node_in_features() const = 0;   // W_h
  virtual std::size_t edge_in_features() const = 0;   // W_e
  virtual std::size_t node_out_features() const = 0;  // W_h'
  virtual std::size_t edge_out_features() const = 0;  // W_e'

  // As Module: declare the parameter tensors (names prefixed), then fill them after allocation.
  virtual void declare(Parameters<T>& parameters, const std::string& prefix) {
    (void)parameters, (void)prefix;
  }
  virtual void initialize(std::uint64_t seed) { (void)seed; }
  // Default: values with accumulated, overwritten or no parameter gradients.
  virtual bool supports(const Pass& pass, GradientMode mode) const {
    return !pass.taylor() && mode != GradientMode::per_point;
  }

  // h [N, W_h], e [E, W_e] on `graph` → the context of this forward (h_out, e_out). The graph,
  // h and e must stay alive and unchanged until the context's backward.
  GraphContext<T>& forward(const mesh::Graph& graph, const Matrix<T>& h, const Matrix<T>& e,
                           const Pass& pass, Workspace<T>& workspace);
  // dh_out [N, W_h'], de_out [E, W_e'] → context.dh [N, W_h], context.de [E, W_e]; parameter
  // gradients as `gradient` says.
  void backward(GraphContext<T>& context, const Matrix<T>& dh_out, const Matrix<T>& de_out,
                const Gradient<T>& gradient = Gradient<T>::accumulate());

 protected:
  virtual std::unique_ptr<GraphContext<T>> make_context() const {
    return std::make_unique<GraphContext<T>>();
  }
  // graph, h, e and pass of the context are set: fill h_out, e_out (and what backward needs).
  virtual void forward_impl(GraphContext<T>& context, Workspace<T>& workspace) = 0;
  // Fill context.dh and context.de; treat the parameter gradients as `gradient` says.
  virtual void backward_impl(GraphContext<T>& context, const Matrix<T>& dh_out,
                             const Matrix<T>& de_out, const Gradient<T>& gradient) = 0;

  template <class C>
  static C& as(GraphContext<T>& context) {
    return static_cast<C&>(context);
  }
};

}  // namespace karman::nn
