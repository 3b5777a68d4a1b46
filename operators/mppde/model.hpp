#pragma once
// The message-passing neural PDE solver of Brandstetter, Worrall and Welling (ICLR 2022;
// experiments/models_gnn.py of MP-Neural-PDE-Solvers), as one graph layer of the NN core.
//
// On a graph whose node n carries the last K states of the solution, its position and the
// equation's conditions, and whose edge k = (i ← j) carries the relative position of its ends:
//
//   input h [N, K + P + C] = [u^{k−K+1..k} (K) | x / L (P) | c (C)],   c = [t / t_max, θ / θ_max]
//   input e [E, P]         = (x_i − x_j) / L (periodic images reduced)
//   encoder    v⁰ = σ(σ(h W₁ + b₁) W₂ + b₂)                                    [N, H]
//   edges      f_ij = [u_i − u_j, (x_i − x_j)/L]                               [E, K + P]
//   processor  ℓ = 1..layers:  v^ℓ = InstanceNorm(MP_ℓ([v^{ℓ−1} | c], f))       [N, H]
//              MP: m_ij = σ(σ([v_i, c_i, v_j, c_j, f_ij] W + b) W' + b'), mean over the edges i
//              receives, v'_i = v_i + σ(σ([v_i, c_i, m̄_i] W + b) W' + b')  (message_passing.hpp
//              with output_activation and the conditions as its condition_features)
//   decoder    d = Conv1d(8→1, 14)(σ(Conv1d(1→8, 16, stride 3)(v^L)))          [N, K] (K = 25;
//              K = 20 and 50 use the reference's other kernels)
//   output     u^{k+ℓ} = u^k + ℓ·Δt·d_ℓ,  ℓ = 1..K  (temporal bundling)       [N, K]
//
// σ is SiLU (the reference's Swish with β = 1). InstanceNorm normalises each feature over the
// nodes of one sample: the rows of a batch are `instance_nodes` consecutive nodes per sample. The
// parameters are the reference's (H = 128, 6 layers); the conditions enter the messages as
// [c_i, c_j] instead of c_i alone (equal within a sample) — the same information.
//
// Gradients reach every input column (the edge differences' too), so rollouts can be
// back-propagated through (contexts from a Workspace, as every layer of the core).
//
// On a partitioned mesh (set_partition; mesh/distributed_graph.hpp) each rank holds its part of
// every sample: per sample N_local = N_owned + N_halo rows, the halo rows copies of other ranks'
// nodes, and only owned nodes receive edges. The forward then replaces the halo rows of h by
// their owners' rows once (the edge differences read them) and those of [v | c] before every
// message-passing layer, and the instance norm counts each sample's owned rows over all ranks;
// the backward applies the transposes (halo reduces). Owned rows of the output equal the
// unpartitioned model's; halo rows of the output are not meaningful (a loss reads owned rows);
// dh's owned rows are the gradient of the loss summed over ranks, its halo rows 0.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "karman/config/node.hpp"
#include "karman/mesh/distributed_graph.hpp"
#include "karman/nn/conv1d.hpp"
#include "karman/nn/graph_module.hpp"
#include "karman/nn/instance_norm.hpp"
#include "karman/nn/message_passing.hpp"
#include "karman/nn/sequential.hpp"

namespace karman::mppde {

struct MpPdeSpec {
  long time_window = 25;   // K: states in and out (20, 25 or 50: the decoder's kernels)
  long hidden = 128;       // H
  long layers = 6;         // message-passing layers
  long neighbors = 3;      // 1D: edges to the `neighbors` nearest nodes on each side
  std::uint64_t seed = 1;  // initial weights
};

using nn::Matrix;

// The decoder's two convolutions: Conv1d(1 → 8, kernel1, stride1) on the H features, then
// Conv1d(8 → 1, kernel2), whose output length is K.
struct DecoderShape {
  long kernel1 = 16, stride1 = 3, kernel2 = 14;
};
// The reference's kernels for K ∈ {20, 25, 50} at H = 128; other (K, H): kernel1 16, stride 3
// and kernel2 = (H − 16)/3 + 2 − K. Empty when that leaves no kernel of at least 2.
std::optional<DecoderShape> decoder_shape(long time_window, long hidden);

// Reads `model:` of kind mppde (keys in cases/README.md, "MP-PDE"): time_window, hidden, layers,
// neighbors, seed. A time window the decoder cannot produce is a ConfigError at its key.
MpPdeSpec read_mppde_model(const config::Node& model);

template <class T>
class MpPdeModel : public nn::GraphModule<T> {
 public:
  // positions P (1 on a 1D grid, the mesh dimension on meshes), conditions C (time + θ).
  MpPdeModel(const MpPdeSpec& spec, long positions, long conditions);
  ~MpPdeModel() override;

  std::string kind() const override { return "mppde"; }
  std::size_t node_in_features() const override { return m_window + m_positions + m_conditions; }
  std::size_t edge_in_features() const override { return m_positions; }
  std::size_t node_out_features() const override { return m_window; }
  std::size_t edge_out_features() const override { return 0; }
  const MpPdeSpec& spec() const { return m_spec; }
  long window() const { return m_window; }

  // The time between two states (Δt of the output update) and the nodes per sample (the
  // instance norm's groups; every sample of a batch has the same graph size).
  void set_time_step(double dt) { m_dt = dt; }
  void set_instance_nodes(std::size_t nodes);
  // The graph is partitioned: `halo` the batch's halo (mesh::Halo::batched over the samples; its
  // local() rows per sample, owned() of them this rank's). Sets the instance norms' rows, owned
  // rows and communicator; forward and backward become collective over halo.comm(). Called again
  // whenever the batch size changes (the halo is read at each forward).
  void set_partition(const mesh::Halo& halo);

  void declare(nn::Parameters<T>& parameters, const std::string& prefix) override;
  void initialize(std::uint64_t seed) override;

 protected:
  struct MpPdeContext : nn::GraphContext<T> {
    nn::Context<T>* encoder = nullptr;
    nn::Context<T>* decoder = nullptr;
    std::vector<nn::GraphContext<T>*> layers;  // [layers]
    std::vector<nn::Context<T>*> norms;        // [layers]
    Matrix<T> edge_features;                   // [E, K + P]  f
    std::vector<Matrix<T>> conditioned;        // [layers] [N, H + C]  [v^{ℓ−1} | c]
    Matrix<T> zero_messages;                   // [E, H] de_out of the layers (messages unread)
    Matrix<T> dv;                              // [N, H]
    Matrix<T> dedge;                           // [E, K + P] summed over the layers
    Matrix<T> du_row, du_col;                  // [N, K] the edge differences' transposes
    Matrix<T> dd;                              // [N, K] d of the decoder output
    std::optional<mesh::Halo> halo;            // partitioned: the forward's halo
    Matrix<T> exchanged;                       // [N, K + P + C] partitioned: h, halo rows updated
  };
  std::unique_ptr<nn::GraphContext<T>> make_context() const override {
    return std::make_unique<MpPdeContext>();
  }
  void forward_impl(nn::GraphContext<T>& context, nn::Workspace<T>& workspace) override;
  void backward_impl(nn::GraphContext<T>& context, const Matrix<T>& dh_out, const Matrix<T>& de_out,
                     const nn::Gradient<T>& gradient) override;

 private:
  MpPdeSpec m_spec;
  long m_window, m_positions, m_conditions;
  double m_dt = 1.0;
  std::unique_ptr<nn::Sequential<T>> m_encoder, m_decoder;
  std::vector<std::unique_ptr<nn::MessagePassing<T>>> m_layers;
  std::vector<std::unique_ptr<nn::InstanceNorm<T>>> m_norms;
  std::optional<mesh::Halo> m_halo;
};

}  // namespace karman::mppde
