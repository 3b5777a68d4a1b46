#pragma once
// The kernel integral layer of the graph neural operator (graph kernel network: Li et al. 2020,
// "Neural Operator: Graph Kernel Network for PDEs"; Kovachki, Li et al., JMLR 2023) on a directed
// mesh::Graph whose edge k = (i ← j) joins the receiver i = row(k) and the sender j = col(k):
//
//   v'_i = v_i W + b + mean_{k: row(k) = i} κ(e_k) v_j          v [N, w] → v' [N, w]
//   κ(e_k) = reshape([g_k, 1] Θ)                                 [w, w]  (in-major: κ[b][a])
//   (κ(e) v)_a = Σ_b v_b κ[b][a]
//
// The edge input g [E, R] is the kernel network's last hidden layer (the caller runs it once,
// κ_φ's layers before the last: GKN's DenseNet [x_i, x_j, a_i, a_j] → R → R, ReLU), so a GNO
// that applies this layer `depth` times with the same weights (weight tying) computes g once.
// Θ is the kernel network's last Linear, [R + 1, w·w] in GKN (its weight and bias), stored here as
// theta [w, (R + 1)·w] with theta[b][r·w + a] = Θ[r][b·w + a] (r = R: the bias row).
//
// Factored evaluation (the default): never forms κ per edge. Forward, per receiver i, the outer
// products of its senders' features with their edges' g̃ (g̃ = [g, 1]):
//   S_i = (1/deg_i) Σ_{k: row(k) = i} v_j ⊗ g̃_k       [w, R + 1] per node
//   a = S theta'                                       [N, w·(R + 1)] × [w·(R + 1), w]
// with theta' theta's buffer viewed as [w·(R + 1), w]; equivalently, with the node products
//   P = v theta                                  [N, w] × [w, (R + 1)·w] → [N, (R + 1)·w]
// (P_j viewed as [R + 1, w]), the message of edge k is [g_k, 1] P_j and
//   a_i = (1/deg_i) Σ_{k: row(k) = i} Σ_r g̃_kr P_j[r, :].
// S_i is summed per receiver over its edges in a fixed order (no atomics; bitwise reproducible),
// a small dense block in register tiles and cache per node, then one GEMM. The backward keeps
// nothing from the forward: with da_i = dv'_i / deg_i,
//   dP_j = Σ_{k: col(k) = j} g̃_k ⊗ da_i          per sender      [N, (R + 1)·w]
//   dtheta = vᵀ dP,  dv = dP thetaᵀ,  dW = vᵀ dv',  db = 1ᵀ dv'
//   dS = da theta'ᵀ  [N, w·(R + 1)],  dg_kr = Σ_b v_j[b] dS_i[b, r]  per receiver   [E, R]
// (dg_kr = P_j[r, :] · da_i: the sums over a sender's or a receiver's edges run through the
// graph's incidence lists: no atomics). S, dP and dS are filled in blocks of nodes
// (options.node_block, by default ~2²⁴ entries), so the layer's memory is O(E·R + N·w) (de and
// its outputs), no [E, w, w] tensor and no [E, w] message buffer; work O(N·w²·R + E·R·w) instead
// of O(E·R·w²).
//
// Materialised evaluation (options.materialized, the reference the tests compare with): forms
// κ_k = reshape(g̃_k Θ) [E, w, w] and the messages κ_k v_j [E, w] explicitly, as the GKN code
// does (O(E·w²) memory). Same parameters, same results to round-off.
//
// A receiver without edges gets a_i = 0. On a partitioned graph (mesh/distributed_graph.hpp) the
// caller updates v's halo rows first (nn::HaloExchange); every receiver is owned and has all its
// edges, so the owned rows of v' are those of the unpartitioned layer.
//
// Values only; gradient modes accumulate, overwrite and none. Parameters "theta" [w, (R + 1)·w],
// "root.weight" [w, w], "root.bias" [1, w] (with root / bias). edge_out_features() is 0: the
// layer reads g and returns no edge values (e_out empty); backward's de_out is ignored.

#include <memory>

#include "karman/nn/graph_module.hpp"

namespace karman::nn {

struct KernelIntegralOptions {
  std::size_t width = 0;      // w: node features in and out
  std::size_t rank = 0;       // R: the kernel network's last hidden width (edge input g [E, R])
  bool root = true;           // the pointwise term v W
  bool bias = true;           // b
  bool materialized = false;  // reference path: form κ per edge
  bool edge_input_gradient = true;  // false: backward leaves de empty (g is data)
  // Nodes per block of the factored path's node buffers [block, (R + 1)·w] (0: ~2²⁴ entries).
  std::size_t node_block = 0;
};

template <class T>
class KernelIntegral : public GraphModule<T> {
 public:
  explicit KernelIntegral(const KernelIntegralOptions& options);

  std::string kind() const override { return "kernel_integral"; }
  std::size_t node_in_features() const override { return m_options.width; }
  std::size_t edge_in_features() const override { return m_options.rank; }
  std::size_t node_out_features() const override { return m_options.width; }
  std::size_t edge_out_features() const override { return 0; }
  const KernelIntegralOptions& options() const { return m_options; }

  void declare(Parameters<T>& parameters, const std::string& prefix) override;
  // theta: uniform as GKN's last Linear (fan-in R + 1 over each w·w output) scaled by 1/w, so a
  // kernel of O(1) entries does not blow up κ v; root: xavier uniform; bias: zeros.
  void initialize(std::uint64_t seed) override;

  // Bytes of the buffers one forward keeps for its backward plus the largest transient buffer
  // of the forward and backward, for a graph of `nodes` nodes and `edges` edges (the benchmark's
  // memory figure; the materialised path counts its [E, w·w] kernel and [E, w] messages).
  std::size_t working_bytes(std::size_t nodes, std::size_t edges) const;

 protected:
  std::unique_ptr<GraphContext<T>> make_context() const override;
  void forward_impl(GraphContext<T>& context, Workspace<T>& workspace) override;
  void backward_impl(GraphContext<T>& context, const Matrix<T>& dh_out, const Matrix<T>& de_out,
                     const Gradient<T>& gradient) override;

 private:
  // Rows of the factored path's node buffers (S, dS, dP), which it fills block by block.
  std::size_t block_nodes(std::size_t nodes) const;
  // The mean of the messages [N, w] → c.h_out.
  void integral_factored(GraphContext<T>& c);
  void integral_materialized(GraphContext<T>& c);
  // From da = dv' / deg [N, w] (m_scaled): dtheta, c.dh (overwritten), c.de.
  void integral_backward_factored(GraphContext<T>& c, const Gradient<T>& gradient);
  void integral_backward_materialized(GraphContext<T>& c, const Gradient<T>& gradient);
  // h_out += v W + b;  dh += dv' Wᵀ, dW = vᵀ dv', db = 1ᵀ dv'.
  void root_forward(GraphContext<T>& c);
  void root_backward(GraphContext<T>& c, const Matrix<T>& dh_out, const Gradient<T>& gradient);

  KernelIntegralOptions m_options;
  Parameters<T>* m_parameters = nullptr;
  std::size_t m_theta = 0, m_root = 0, m_bias = 0;
  // Transients of one forward or backward, shared by every context of the layer (a weight-tied
  // GNO of depth L keeps L contexts, not L copies of these):
  Matrix<T> m_node_buffer;                      // [block, w·(R + 1)] S (forward) or dS (backward)
  Matrix<T> m_node_gradient;                    // [block, (R + 1)·w] dP
  Matrix<T> m_scaled;                           // [N, w] dv'_i / deg_i
  Matrix<T> m_kernel_table;                     // [R + 1, w·w] Θ (materialised path)
  Matrix<T> m_table_gradient;                   // [R + 1, w·w] dΘ (materialised path)
  Matrix<T> m_edge_gradient;                    // [E, w·w] dκ (materialised path)
  Matrix<T> m_message_gradient, m_edge_vector;  // [E, w] dm and κ dm (materialised path)
  Matrix<T> m_ones;                             // [E, 1] (materialised path: dΘ's bias row)
};

}  // namespace karman::nn
