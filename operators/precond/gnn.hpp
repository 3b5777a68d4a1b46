#pragma once
// A graph neural network that predicts a sparse Cholesky-like factor L of an SPD matrix A on the
// pattern of tril(A), used as the preconditioner M = L Lᵀ in conjugate gradients.
//
// Graph: nodes = rows of A, edges = entries of tril(A) (i ≥ j, the diagonal included), each edge
// joining its two rows. Features are scale-free, read from Â = D^{-1/2} A D^{-1/2}:
//   edge [E, 4]: â_ij, |â_ij|, [i = j], l̂_ij = ic0_ij / sqrt(a_ii) (the reference factor of Â;
//                for an FSAI reference ĝ_ij = g_ij sqrt(a_jj), the classical FSAI of Â)
//   node [N, 4]: Σ_j â_ij, Σ_{j≠i} |â_ij|, 1 / nnz(row i), δ_i = dropped_i / a_ii
// where dropped_i = Σ_{j outside the block} |a_ij| is the coupling a partition cut from row i (0
// on one rank): in the block alone a cut row looks like a Dirichlet boundary row, δ tells them
// apart. δ is scaled by a_ii alone, not by sqrt(a_ii a_jj) as Â is, so the PC reads it from the
// rank's off-diagonal block without fetching the neighbours' diagonals (the two agree where the
// diagonal varies smoothly across the cut).
//
// Network (width W, K layers), every step a GEMM over all edges or all nodes at once:
//   e⁰ = tanh(F_e W_e + b),  h⁰ = tanh(F_v W_v + b)                        [E, W], [N, W]
//   layer l = 0..K-1: an nn::MessagePassing layer (karman/nn/message_passing.hpp) on the undirected
//   graph, sum aggregation, no residuals, tanh MLPs with one hidden layer of width W:
//     e^{l+1}_ij = MLP_e^l([e^l_ij, h^l_i, h^l_j])                           [E, 3W] → [E, W]
//     h^{l+1}_i  = MLP_v^l([h^l_i, Σ_{edges ∋ i} e^{l+1}])  (l < K-1 only)    [N, 2W] → [N, W]
//   raw = e^K w_head + b_head                                               [E, 1]
//   c   = β tanh(raw / β)   (a bounded correction, β = correction_bound)
//   L_ij = ic0_ij (1 + c_ij) (i > j; ic0_ij with diagonal_only),   L_ii = ic0_ii exp(c_ii).
// The reference is IC(0) (FactorKind::cholesky) or the classical FSAI G (FactorKind::fsai, M⁻¹ =
// Gᵀ G; the same formulas with G for L, see fsai.hpp).
// The head starts at zero, so an untrained network returns the reference exactly; the diagonal is
// ic0_ii·exp(c) ∈ ic0_ii·[e^{-β}, e^{β}] > 0 whatever the weights, so L Lᵀ is SPD.
// In the layers each message reaches both nodes of its edge (the graph is undirected), and the last
// layer is the edge update alone (MessagePassingOptions::node_update off: nobody reads its h).
// The edge MLP's first Linear is applied without forming [e_ij, h_i, h_j] (the layer's split
// first Linear, weight rows [W_e; W_i; W_j], MessagePassingOptions::edge_first): an edge GEMM
// [E, W]×[W, W] plus two node GEMMs [N, W]×[W, W] (E ≈ 3N in 2D) instead of an edge GEMM
// [E, 3W]×[3W, W] and its [E, 3W] buffer. The parameters are the same, so both paths compute the
// same network up to rounding (FactorGnnOptions::concatenated_edge_input keeps the plain
// concatenation as a reference).
// The graph and its gather / scatter / segment-sum kernels are the core's (karman/mesh/graph.hpp):
// sums over edges are gathered per node through the incidence, no atomics.

#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "karman/mesh/graph.hpp"
#include "karman/nn/linear.hpp"
#include "karman/nn/message_passing.hpp"
#include "karman/nn/parameters.hpp"
#include "operators/precond/fsai.hpp"
#include "operators/precond/relaxed_ic.hpp"
#include "operators/precond/sparse.hpp"

namespace karman::precond {

// tril(A): the entries with col ≤ row, in A's order (values kept).
CsrMatrix lower_triangle(const CsrMatrix& a);

// The graph of one matrix with its features, on the device. Built once per matrix.
struct MatrixGraph {
  static constexpr std::size_t edge_features_count = 4, node_features_count = 4;
  // Undirected: nodes = rows, edge k = entry (row(k) = i, col(k) = j) of tril(A), in A's order.
  mesh::Graph topology;
  nn::Matrix<double> edge_features;              // [E, 4]
  nn::Matrix<double> node_features;              // [N, 4]
  nn::Vector<double> reference;                  // [E] ic0 values
  Kokkos::View<int*, nn::MemorySpace> diagonal;  // [E] 1 on i = j
  // The matrix's relaxed MIC(0) (with the dropped coupling lumped), for the relaxation
  // correction: built when make_matrix_graph is asked for it, else null.
  std::shared_ptr<const RelaxedIc> relaxed;
  // Rows of the whole problem the matrix is a block of (a rank's or an ASM block's: the global
  // matrix's): the relaxation's h = problem_rows^(−1/d).
  std::int64_t problem_rows = 0;
};

// `a`: the full symmetric matrix (both triangles, sorted columns, positive diagonal);
// `reference`: the reference factor's values on lower_triangle(a), in its order (IC(0) or MIC(0)
// of A: reference_values; or its classical FSAI when kind is fsai); `dropped`: [n] the coupling
// cut by the partition (LocalBlock::dropped), empty for none; `relaxed_ic`: also build the
// graph's RelaxedIc (what Correction::relaxation factors with); `problem_rows`: the rows of the
// matrix `a` was cut from (LocalBlock::problem_rows), 0 for a's own.
MatrixGraph make_matrix_graph(const CsrMatrix& a, const std::vector<double>& reference,
                              FactorKind kind = FactorKind::cholesky,
                              const std::vector<double>& dropped = {}, bool relaxed_ic = false,
                              std::int64_t problem_rows = 0);

// The factor the network corrects: IC(0), or modified IC(0) (ω = 1: L Lᵀ keeps A's row sums).
enum class ReferenceFactor { ic0, mic0 };

// The graph for the relaxation correction (reference mic0) on `lower` = lower_pattern(a), as the
// PC's set-up needs it: the RelaxedIc is built once on that pattern, and the MIC(0) reference the
// features read is its factor with ω ≡ 1, δ ≡ 0 (reference_values(a, lower, mic0) bit for bit, the
// dropped coupling lumped alike). make_matrix_graph(a, reference_values(...), cholesky, a.dropped,
// true, a.problem_rows()) builds the same graph with the pattern, the symmetry check and the
// column lists twice.
MatrixGraph make_relaxation_graph(const LocalBlock& a, const LowerPattern& lower);

// The reference factor's values on lower_pattern(a) [nnz_L]; NotSpdError when it breaks down. On
// a rank's block (a.dropped given) MIC(0) factors the block with the cut coupling lumped onto its
// diagonal (a_ii − dropped_i: the global row sums, for M-matrices whose off-diagonal is ≤ 0).
std::vector<double> reference_values(const LocalBlock& a, const LowerPattern& lower,
                                     ReferenceFactor reference);

// How the network's output becomes L:
//   multiplicative: per edge, L_ij = ref_ij (1 + c_ij), L_ii = ref_ii exp(c_ii) (above);
//   relaxation: per ROW, a node head on h^K (every layer then updates h) predicts raw_i [N, 2],
//     ω_i = 1 − h β_ω tanh(r⁺_i0 / β_ω)   (relaxation of the fill MIC(0) lumps onto row i),
//     δ_i = h² β_δ tanh(r⁺_i1 / β_δ)       (diagonal perturbation: a_ii (1 + δ_i) is factored),
//   r⁺ = max(r, 0) (ω ≤ 1, δ ≥ 0: no breakdown on M-matrices), h = N^(−1/d) the whole
//   problem's grid spacing (N = MatrixGraph::problem_rows, the global row count on a rank's or
//   an ASM block; d from the mean row length, 2d + 1), and L = RelaxedIc(A).factor(ω, δ): every
//   value of L follows from the factorisation, so rows with ω_i = 1, δ_i = 0 keep MIC(0)'s row
//   sums. The head starts at zero: MIC(0) exactly (the reference must be mic0). Gradients flow back
//   through RelaxedIc::backward (at r = 0 the ramp's right derivative).
enum class Correction { multiplicative, relaxation };

// The arithmetic of FactorGnn::infer (the PC's set-up): float64 is forward()'s to rounding;
// float32 runs the network's layers in float (twice the SIMD lanes, half the buffer traffic), the
// features and the head's output in double: L moves by float's rounding, ~1e-6 relatively.
enum class InferencePrecision { float64, float32 };

struct FactorGnnOptions {
  ReferenceFactor reference = ReferenceFactor::ic0;
  Correction correction = Correction::multiplicative;
  double relaxation_bound = 4.0;  // β_ω: ω_i ∈ (1 − β_ω h, 1] (relaxation; 0: ω ≡ 1)
  double shift_bound = 32.0;      // β_δ: δ_i ∈ [0, β_δ h²) (relaxation; 0: δ ≡ 0)
  std::size_t width = 16;
  std::size_t layers = 3;
  double correction_bound = 2.0;  // β: |c| < β
  // Correct only the diagonal (L_ij = ic0_ij off it): a learned modified-IC-like row scaling.
  bool diagonal_only = false;
  // Reference path: form [e_ij, h_i, h_j] [E, 3W] and apply the edge MLP as one module (slower;
  // for tests of the split path).
  bool concatenated_edge_input = false;
  // infer()'s precision (forward() and training are double always).
  InferencePrecision inference = InferencePrecision::float32;
};

// Owns its parameters as nn::Network does: its modules declare into one flat buffer (names
// "gnn.edge_encoder.weight", "gnn.layer.0.edge_mlp.0.weight", ...), allocated and initialised from
// `seed` in the constructor. Not copyable or movable (the modules point into the buffer).
class FactorGnn {
 public:
  FactorGnn(const FactorGnnOptions& options, std::uint64_t seed);
  FactorGnn(const FactorGnn&) = delete;
  FactorGnn& operator=(const FactorGnn&) = delete;
  const FactorGnnOptions& options() const { return m_options; }
  nn::Parameters<double>& parameters() { return m_parameters; }
  const nn::Parameters<double>& parameters() const { return m_parameters; }

  // L's values on the graph's edges [E] (a buffer of this object, valid until the next forward).
  // The graph must stay alive and unchanged until backward.
  nn::Vector<double> forward(const MatrixGraph& graph);
  // dL [E] → ADDS the parameter gradients.
  void backward(const nn::Vector<double>& dl);

  // The same L [E] by the inference-only forward (gnn_inference.cpp; forward is its reference
  // twin, equal to rounding): one fused kernel per layer over the edges, one over the nodes, with
  // one edge buffer [E, W] overwritten layer by layer (e⁰ is computed inside layer 0's kernel, e^K
  // and the head inside the last) and three node buffers [N, W] (h, h W_i, h W_j) instead of
  // every layer's activations. The buffers are kept and reused while the sizes do not change, so
  // a refactorisation allocates nothing. No backward may follow. Widths other than 8, 16 and 32
  // run forward(). The relaxation correction: every layer's node kernel updates h, the last one
  // runs the row head on h^K ([N, 2], no h^K stored), then the RelaxedIc factorisation. In the
  // precision options().inference says (float32: L within ~1e-6 relatively of forward's).
  nn::Vector<double> infer(const MatrixGraph& graph);

 private:
  void declare(const std::string& prefix);
  void initialize(std::uint64_t seed);

  FactorGnnOptions m_options;
  nn::Parameters<double> m_parameters;
  std::unique_ptr<nn::Linear<double>> m_edge_encoder, m_node_encoder, m_head;
  std::vector<std::unique_ptr<nn::MessagePassing<double>>> m_layers;  // [K]

  const MatrixGraph* m_graph = nullptr;
  // The contexts of the last forward (in m_workspace, reset by every forward).
  nn::Workspace<double> m_workspace;
  nn::Context<double>* m_edge_encoding = nullptr;
  nn::Context<double>* m_node_encoding = nullptr;
  nn::Context<double>* m_head_output = nullptr;
  std::vector<nn::GraphContext<double>*> m_layer_contexts;  // [K]
  nn::Matrix<double> m_raw;      // [E, 1] head output of the last forward
  nn::Vector<double> m_l;        // [E]
  nn::Matrix<double> m_draw;     // [E, 1]
  nn::Matrix<double> m_dh_last;  // [N, W] zeros: the last layer's h' (= h) is read by nobody
  // Relaxation: the last layer's e' is read by nobody ([E, W] zeros), and the last forward's
  // per-row parameters and L on the host (the reverse pass of the factorisation reads them).
  nn::Matrix<double> m_de_last;
  RowRelaxation m_relaxation;
  std::vector<double> m_l_host;
  double m_spacing = 0.0;  // h of the last forward's graph
  nn::Vector<double> forward_relaxation(const MatrixGraph& graph);
  // ω, δ from the row head's output raw [N, 2] (forward's or infer's), then L = the graph's
  // RelaxedIc factor (kept in m_relaxation, m_l_host, m_l).
  nn::Vector<double> factor_relaxation(const MatrixGraph& graph, const nn::Matrix<double>& raw);
  void backward_relaxation(const nn::Vector<double>& dl);
  // infer()'s buffers in its precision S: e^l [E, W]; h^l, h^l W_i^l, h^l W_j^l [N, W] (W_i, W_j:
  // the next edge MLP's first weight rows for h_i and h_j).
  template <class S>
  struct InferenceBuffers {
    nn::Matrix<S> edge_state, node_state, node_row_term, node_col_term;
  };
  InferenceBuffers<double> m_inference64;
  InferenceBuffers<float> m_inference32;
  template <class S>
  InferenceBuffers<S>& inference_buffers() {
    if constexpr (std::is_same_v<S, float>)
      return m_inference32;
    else
      return m_inference64;
  }
  // Frees the buffers of the precision other than S (a network whose options switched).
  template <class S>
  void release_other_inference_buffers() {
    if constexpr (std::is_same_v<S, float>)
      m_inference64 = {};
    else
      m_inference32 = {};
  }
  nn::Matrix<double> m_node_head;  // [N, 2] the row head's output (relaxation)
  template <class S>
  void infer_in_precision(const MatrixGraph& graph);
  template <int W, class S>
  void infer_with_width(const MatrixGraph& graph);
};

}  // namespace karman::precond
