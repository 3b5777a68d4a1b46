#pragma once
// A general message-passing layer (Battaglia et al. 2018; MeshGraphNets, Pfaff et al. 2021;
// MP-PDE, Brandstetter et al. 2022) on node features h [N, W_h] and edge features e [E, W_e] of a
// mesh::Graph (karman/mesh/graph.hpp) whose edge k joins i = row(k) and j = col(k):
//
//   m_ij  = MLP_e([h_i, h_j, e_ij])                 [E, 2W_h + W_e] → [E, W]   edge update
//   a_i   = Σ_{k aggregated at i} m_k  (sum)        [E, W] → [N, W]            aggregation
//           or that sum / degree_i (mean; 0 at a node without edges)
//   h'_i  = h_i[:W_h'] + MLP_v([h_i, a_i])          [N, W_h + W] → [N, W_h']   node update
//   e'_ij = e_ij + m_ij                                                         [E, W]
// With condition_features W_c > 0, the last W_c columns of h are a per-node condition (MP-PDE's
// θ = [t, α, β, γ]): MLP_e and MLP_v read them as part of h_i, h_j, but the layer does not
// update them: W_h' defaults to W_h − W_c and the residual adds h's first W_h' columns only (the
// caller appends the condition again to h' before the next layer). The condition columns of dh
// get the MLPs' gradient alone.
// A directed graph aggregates at i the edges it receives (row(k) = i: j sends, i receives); an
// undirected one every edge touching i, so a message reaches both ends of its edge (a self-loop
// once), as in the learned preconditioner's GNN on tril(A). The edge update reads h_i = h_row(k)
// and h_j = h_col(k) in that order either way.
// The residual terms (h_i[:W_h'], e_ij) are there when `residual` is set and the widths match
// (W_h' = W_h − W_c, resp. W = W_e). With `output_activation`, MLP_e and MLP_v end with the
// activation too (MP-PDE's message and update nets end with Swish). With `layer_norm`, MLP_v ends
// with a LayerNorm of its output (the MeshGraphNets placement: the residual stream itself is not
// normalised).
//
// MLP_e's first Linear is applied without forming [h_i, h_j, e_ij]: with its weight split into
// row blocks W = [W_i; W_j; W_e] ([2W_h + W_e, H]; [W_e; W_i; W_j] with edge_first),
//   z_ij = (h W_i)_i + (h W_j)_j + e_ij W_e + b,   y = σ(z)                    [E, H]
// two node GEMMs [N, W_h]×[W_h, H] and an edge GEMM [E, W_e]×[W_e, H] instead of an edge GEMM
// over an [E, 2W_h + W_e] buffer (mesh::gather_add adds the node terms, bias and σ in one pass).
// The parameters are those of the plain MLP on the concatenation, which the tests' reference
// uses. Sums over edges into nodes (the aggregation, and the backward of h_i, h_j in z) are the
// graph core's kernels (per node over the incidence lists, no atomics).
//
// Without node_update the layer is the edge update alone: h' = h (the last layer of a network that
// reads only edges).
//
// Values only; gradient modes accumulate, overwrite and none.

#include <memory>
#include <vector>

#include "karman/nn/activation.hpp"
#include "karman/nn/graph_module.hpp"
#include "karman/nn/linear.hpp"
#include "karman/nn/sequential.hpp"

namespace karman::nn {

enum class Aggregation { sum, mean };

struct MessagePassingOptions {
  std::size_t node_features = 0;             // W_h: width of h
  std::size_t edge_features = 0;             // W_e: width of e
  std::size_t message_width = 0;             // W: width of m and e' (0: W_e)
  std::size_t node_out_features = 0;         // W_h': width of h' (0: W_h − W_c)
  std::size_t condition_features = 0;        // W_c: h's last columns, read but not updated
  std::vector<std::size_t> hidden = {};      // hidden widths of MLP_e and MLP_v (none: one Linear)
  Activation activation = Activation::silu;  // of the hidden layers
  bool output_activation = false;            // MLP_e and MLP_v end with the activation too
  Aggregation aggregation = Aggregation::sum;
  bool residual = true;     // h' = h + ..., e' = e + m where the widths match
  bool layer_norm = false;  // MLP_v ends with a LayerNorm
  // MLP_e reads [e_ij, h_i, h_j] (the learned preconditioner's layout) instead of [h_i, h_j, e_ij].
  bool edge_first = false;
  // false: no MLP_v and no aggregation, h' = h (a last layer whose node features nobody reads).
  bool node_update = true;
  // Reference path: form the [E, 2W_h + W_e] edge input and run MLP_e on it as one module (slower;
  // for tests of the split first Linear).
  bool concatenated_edge_input = false;
  // false: the backward leaves de empty, for edge features that are data (MP-PDE's
  // [u_i − u_j, x_i − x_j], the same in every layer): one [E, H]·[H, W_e] product fewer.
  bool edge_input_gradient = true;
};

template <class T>
class MessagePassing : public GraphModule<T> {
 public:
  explicit MessagePassing(const MessagePassingOptions& options);

  std::string kind() const override { return "message_passing"; }
  std::size_t node_in_features() const override { return m_options.node_features; }
  std::size_t edge_in_features() const override { return m_options.edge_features; }
  std::size_t node_out_features() const override { return m_options.node_out_features; }
  std::size_t edge_out_features() const override { return m_options.message_width; }
  const MessagePassingOptions& options() const { return m_options; }  // widths resolved
  bool node_residual() const { return m_node_residual; }
  bool edge_residual() const { return m_edge_residual; }

  // MLP_e [2W_h + W_e → W] (parameters "edge_mlp.*") and MLP_v [W_h + W → W_h'] ("node_mlp.*";
  // InternalError without node update).
  Sequential<T>& edge_mlp() { return *m_edge_mlp; }
  Sequential<T>& node_mlp();

  void declare(Parameters<T>& parameters, const std::string& prefix) override;
  void initialize(std::uint64_t seed) override;

 protected:
  struct MessagePassingContext : GraphContext<T> {
    // The split first Linear of MLP_e (H = its width).
    Matrix<T> hw_i, hw_j;  // [N, H] h W_i, h W_j
    Matrix<T> z, y;        // [E, H] pre-activation and output (y = z for tanh)
    Matrix<T> dz;          // [E, H]
    Matrix<T> dz_i, dz_j;  // [N, H] dz summed over the edges whose row / col is i
    std::vector<Context<T>*>
        edge_steps;                   // contexts of MLP_e's modules after the first (or MLP_e's)
    Matrix<T> edge_input;             // [E, 2W_h + W_e] (concatenated path only)
    Matrix<T> messages;               // [E, W] m (aliases y when MLP_e is one Linear)
    Matrix<T> dm;                     // [E, W]
    Matrix<T> node_input;             // [N, W_h + W] [h_i, a_i]
    Context<T>* node_step = nullptr;  // MLP_v's context
  };
  std::unique_ptr<GraphContext<T>> make_context() const override {
    return std::make_unique<MessagePassingContext>();
  }
  void forward_impl(GraphContext<T>& context, Workspace<T>& workspace) override;
  void backward_impl(GraphContext<T>& context, const Matrix<T>& dh_out, const Matrix<T>& de_out,
                     const Gradient<T>& gradient) override;

 private:
  // m = MLP_e([h_i, h_j, e_ij]) → c.messages.
  void edge_update(MessagePassingContext& c, Workspace<T>& workspace);
  // The same on the formed edge input (options().concatenated_edge_input).
  void edge_update_concatenated(MessagePassingContext& c, Workspace<T>& workspace);
  // c.node_input = [h_i, a_i] (a by sum or mean over the messages aggregated at i).
  void aggregate(MessagePassingContext& c) const;
  // out = x + f, or f when there is no residual (then out aliases f).
  void add_residual(bool residual, const Matrix<T>& x, const Matrix<T>& f, Matrix<T>& out,
                    const char* label) const;

  // c.dm = de_out + the aggregation's transpose of d a (the node input's second block).
  void aggregate_backward(MessagePassingContext& c, const Matrix<T>& de_out,
                          const Matrix<T>& dnode_input) const;
  // dm → parameter gradients of MLP_e; adds d h to c.dh, writes d e (+ de_out) to c.de (empties
  // c.de without edge_input_gradient).
  void edge_update_backward(MessagePassingContext& c, const Matrix<T>& de_out,
                            const Gradient<T>& gradient);
  // The split first Linear's backward from dy [E, H]: dz, its per-node sums, parameter gradients.
  void first_linear_backward(MessagePassingContext& c, const Matrix<T>& dy,
                             const Gradient<T>& gradient);

  Linear<T>& first_linear() const;

  MessagePassingOptions m_options;
  bool m_node_residual, m_edge_residual;
  std::size_t m_offset_i, m_offset_j, m_offset_e;  // rows of W_i, W_j, W_e in MLP_e's first weight
  std::unique_ptr<Sequential<T>> m_edge_mlp, m_node_mlp;
};

}  // namespace karman::nn
