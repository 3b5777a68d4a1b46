#include "karman/nn/graph_module.hpp"

#include "karman/core/error.hpp"

namespace karman::nn {

namespace {

std::string shape(std::size_t rows, std::size_t cols) {
  return "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]";
}

// InternalError unless m is [rows, cols].
template <class T>
void verify_shape(const std::string& layer, const char* what, const Matrix<T>& m, std::size_t rows,
                  std::size_t cols) {
  KARMAN_VERIFY(m.extent(0) == rows && m.extent(1) == cols, layer + ": " + what + " is " +
                                                                shape(m.extent(0), m.extent(1)) +
                                                                ", expected " + shape(rows, cols));
}

}  // namespace

template <class T>
GraphContext<T>& GraphModule<T>::forward(const mesh::Graph& graph, const Matrix<T>& h,
                                         const Matrix<T>& e, const Pass& pass,
                                         Workspace<T>& workspace) {
  require_support(*this, "graph layer", pass);
  const std::size_t nodes = graph.nodes, edges = graph.edges;
  verify_shape(kind(), "h", h, nodes, node_in_features());
  verify_shape(kind(), "e", e, edges, edge_in_features());
  auto& context =
      workspace.template acquire<GraphContext<T>>(this, [this] { return make_context(); });
  context.layer = this;
  context.pass = pass;
  context.graph = graph;
  context.h = h;
  context.e = e;
  forward_impl(context, workspace);
  return context;
}

template <class T>
void GraphModule<T>::backward(GraphContext<T>& context, const Matrix<T>& dh_out,
                              const Matrix<T>& de_out, const Gradient<T>& gradient) {
  KARMAN_VERIFY(context.layer == this, kind() + ": backward of another layer's context");
  require_support(*this, "graph layer", context.pass, &gradient.mode);
  verify_shape(kind(), "dh_out", dh_out, context.h_out.extent(0), node_out_features());
  verify_shape(kind(), "de_out", de_out, context.e_out.extent(0), edge_out_features());
  backward_impl(context, dh_out, de_out, gradient);
}

template class GraphModule<float>;
template class GraphModule<double>;

}  // namespace karman::nn
