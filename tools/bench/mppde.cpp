// bench_mppde: cost of one training step and one inference of MP-PDE's processor (Brandstetter et
// al. 2022), next to PyTorch when tools/bench/mppde ran it in the same invocation. Run it through
// tools/bench/mppde (builds first, runs mppde_torch.py when /usr/bin/python3 has torch).
// Human-readable lines first, then ONE JSON object on the last line.
//
// Processor: 6 nn::MessagePassing layers (node features [h (128), θ (4)] with θ the condition
// columns, edge features e = [u_i − u_j (25), x_i − x_j (2)] the same for every layer and without
// gradient, messages and hidden widths 128, SiLU, output activation, mean aggregation, residual
// h' = h + MLP_v), each followed by an nn::InstanceNorm per sample (4096 rows); float32, model
// seed 1. Graph: a 64 × 64 periodic grid whose nodes each receive from their 8 Moore neighbours
// (directed edges both ways), batch 4: 16,384 nodes, 131,072 edges. h_0, u, θ (per sample) and
// the target are random normal (timing only).
//
//  1. train_step_s: zero_gradients + forward + MSE loss against the target + backward + AdamW
//     (lr 1e-4, weight decay 1e-2). After kWarmup steps, kSamples steps are timed one by one;
//     the median is reported. The step's pieces are timed the same way, the layers' too (one
//     MessagePassing forward and backward, one InstanceNorm forward and backward), to show where
//     the step goes.
//  2. infer_s: median time of the forward alone.
// Wall clock is std::chrono::steady_clock with Kokkos::fence() before each stop. Karman runs at one
// rank (Kokkos as built: Serial here), first with OpenBLAS at its default threads (cores) for the
// products libxsmm does not take, then with OpenBLAS at 1 thread (keys *_1thread).
//
// PyTorch: the JSON line of tools/bench/mppde_torch.py (the same network
// with index_add_ scatter, at threads = cores and at 1 thread, two formulations of the first edge
// Linear, the faster reported) in KARMAN_BENCH_TORCH; the JSON then carries its torch_* keys and
// speedup_train = torch_train_step_s / train_step_s, speedup_infer likewise, the same at 1 thread
// on both sides (_1thread), and speedup_*_best = PyTorch's faster thread count against Karman's.
// tools/bench/mppde does not set it: it runs this binary at 1 rank x 1 thread and on the
// node and merges both with PyTorch's two thread counts (tools/bench/run_configs.py); the variable
// is for running the binary by hand next to a torch_run line (tools/bench/torch_env).
//
// JSON keys: train_step_s, infer_s, forward_s, loss_s, backward_s, adamw_s, mp_forward_s,
// mp_backward_s, norm_forward_s, norm_backward_s, blas_threads, the same with _1thread, params,
// nodes, edges, [torch_* keys, speedup_train, speedup_infer, speedup_train_1thread,
// speedup_infer_1thread, speedup_train_best, speedup_infer_best | torch], machine, date (UTC).

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "karman/core/random.hpp"
#include "karman/mesh/graph.hpp"
#include "karman/nn/gemm.hpp"
#include "karman/nn/instance_norm.hpp"
#include "karman/nn/loss.hpp"
#include "karman/nn/message_passing.hpp"
#include "karman/nn/optimizer.hpp"

using namespace karman;

namespace {

using namespace karman::bench;
using T = float;

constexpr int kWarmup = 2;
constexpr int kSamples = 5;
constexpr long kSide = 64, kBatch = 4;
constexpr std::size_t kHidden = 128, kLayers = 6, kCondition = 4, kTimeWindow = 25, kDims = 2;
constexpr std::size_t kEdgeFeatures = kTimeWindow + kDims;
constexpr double kLr = 1e-4;

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

template <class F>
double median_time(F&& f) {
  std::vector<double> times;
  for (int k = 0; k < kWarmup + kSamples; ++k) {
    const auto t0 = Clock::now();
    f();
    Kokkos::fence();
    const auto t1 = Clock::now();
    if (k >= kWarmup) times.push_back(seconds(t0, t1));
  }
  return median(times);
}

nn::Matrix<T> random_matrix(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  nn::Matrix<T> m("m", rows, cols);
  auto h = Kokkos::create_mirror_view(m);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j)
      h(i, j) = static_cast<T>(standard_normal(seed, i * cols + j));
  Kokkos::deep_copy(m, h);
  return m;
}

// The batch of periodic 64 × 64 grids, node (b, y, x) = b·4096 + 64y + x receiving from its 8
// Moore neighbours; the edge features [u_i − u_j, x_i − x_j] (minimum image, spacing 1/64).
struct GridGraph {
  mesh::Graph graph;
  nn::Matrix<T> edge_features;  // [E, 27]
};

GridGraph grid_graph() {
  const long per_sample = kSide * kSide, nodes = kBatch * per_sample;
  std::vector<long> receivers, senders;
  std::vector<double> offsets;  // x_i − x_j per edge
  for (int dy = -1; dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx) {
      if (dx == 0 && dy == 0) continue;
      for (long b = 0; b < kBatch; ++b)
        for (long y = 0; y < kSide; ++y)
          for (long x = 0; x < kSide; ++x) {
            const long sy = (y + dy + kSide) % kSide, sx = (x + dx + kSide) % kSide;
            receivers.push_back(b * per_sample + y * kSide + x);
            senders.push_back(b * per_sample + sy * kSide + sx);
            offsets.push_back(-static_cast<double>(dx) / kSide);
            offsets.push_back(-static_cast<double>(dy) / kSide);
          }
    }
  GridGraph g;
  g.graph = mesh::make_graph(nodes, receivers, senders, mesh::Edges::directed);
  const nn::Matrix<T> u = random_matrix(nodes, kTimeWindow, 11);
  const auto uh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), u);
  g.edge_features = nn::Matrix<T>("edge_features", receivers.size(), kEdgeFeatures);
  auto eh = Kokkos::create_mirror_view(g.edge_features);
  for (std::size_t k = 0; k < receivers.size(); ++k) {
    for (std::size_t a = 0; a < kTimeWindow; ++a)
      eh(k, a) = uh(receivers[k], a) - uh(senders[k], a);
    for (std::size_t d = 0; d < kDims; ++d)
      eh(k, kTimeWindow + d) = static_cast<T>(offsets[2 * k + d]);
  }
  Kokkos::deep_copy(g.edge_features, eh);
  return g;
}

// Seconds spent in each kind of piece of the processor (filled when timing is on).
struct PieceTimes {
  double mp_forward = 0, mp_backward = 0, norm_forward = 0, norm_backward = 0, copies = 0;
};

// The processor: [h, θ] → MessagePassing → InstanceNorm, 6 times; h_0 [N, 128] → h_6 [N, 128].
class Processor {
 public:
  Processor(const GridGraph& grid, const nn::Matrix<T>& theta) : m_grid(grid), m_theta(theta) {
    nn::MessagePassingOptions o;
    o.node_features = kHidden + kCondition;
    o.edge_features = kEdgeFeatures;
    o.message_width = kHidden;
    o.condition_features = kCondition;
    o.hidden = {kHidden};
    o.activation = nn::Activation::silu;
    o.output_activation = true;
    o.aggregation = nn::Aggregation::mean;
    o.edge_input_gradient = false;  // e is data (PyTorch computes no gradient for it either)
    for (std::size_t l = 0; l < kLayers; ++l) {
      m_layers.push_back(std::make_unique<nn::MessagePassing<T>>(o));
      m_layers.back()->declare(m_parameters, "layers." + std::to_string(l) + ".");
      m_norms.push_back(std::make_unique<nn::InstanceNorm<T>>(nn::InstanceNormOptions{kHidden}));
      m_norms.back()->set_instance_rows(kSide * kSide);
    }
    m_parameters.allocate();
    for (auto& layer : m_layers) layer->initialize(1);
    const std::size_t nodes = grid.graph.nodes;
    for (std::size_t l = 0; l < kLayers; ++l)
      m_inputs.emplace_back("input", nodes, kHidden + kCondition);
    m_dh = nn::Matrix<T>("dh", nodes, kHidden);
    m_de = nn::Matrix<T>("de", grid.graph.edges, kHidden);  // e' is not read: zero gradient
  }

  nn::Parameters<T>& parameters() { return m_parameters; }
  void set_timing(PieceTimes* times) { m_times = times; }

  const nn::Matrix<T>& forward(const nn::Matrix<T>& h0) {
    m_workspace.reset();
    m_mp.clear();
    m_norm.clear();
    nn::Matrix<T> h = h0;
    for (std::size_t l = 0; l < kLayers; ++l) {
      timed(m_times ? &m_times->copies : nullptr, [&] { append_condition(h, m_inputs[l]); });
      timed(m_times ? &m_times->mp_forward : nullptr, [&] {
        m_mp.push_back(&m_layers[l]->forward(m_grid.graph, m_inputs[l], m_grid.edge_features,
                                             nn::Pass::values(), m_workspace));
      });
      timed(m_times ? &m_times->norm_forward : nullptr, [&] {
        m_norm.push_back(&m_norms[l]->forward(m_mp.back()->h_out, nn::Pass::values(), m_workspace));
      });
      h = m_norm.back()->y;
    }
    return m_norm.back()->y;
  }

  // dy [N, 128] → the parameter gradients (accumulated); θ and h_0 get none.
  void backward(const nn::Matrix<T>& dy) {
    nn::Matrix<T> g = dy;
    for (std::size_t l = kLayers; l-- > 0;) {
      nn::Matrix<T> dnorm;
      timed(m_times ? &m_times->norm_backward : nullptr,
            [&] { dnorm = m_norms[l]->backward(*m_norm[l], g); });
      timed(m_times ? &m_times->mp_backward : nullptr,
            [&] { m_layers[l]->backward(*m_mp[l], dnorm, m_de); });
      if (l == 0) break;
      timed(m_times ? &m_times->copies : nullptr, [&] { first_columns(m_mp[l]->dh, m_dh); });
      g = m_dh;
    }
  }

 private:
  template <class F>
  static void timed(double* total, F&& f) {
    if (!total) return f();
    Kokkos::fence();
    const auto t0 = Clock::now();
    f();
    Kokkos::fence();
    *total += seconds(t0, Clock::now());
  }

  // out = [h, θ]  [N, 128 + 4]
  void append_condition(const nn::Matrix<T>& h, const nn::Matrix<T>& out) const {
    const nn::Matrix<T> theta = m_theta;
    Kokkos::parallel_for(
        "karman::bench::mppde::append_condition",
        Kokkos::RangePolicy<nn::ExecutionSpace>(0, h.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          for (std::size_t a = 0; a < kHidden; ++a) out(i, a) = h(i, a);
          for (std::size_t a = 0; a < kCondition; ++a) out(i, kHidden + a) = theta(i, a);
        });
  }

  // out = dh[:, :128] (the condition's gradient is dropped)
  static void first_columns(const nn::Matrix<T>& dh, const nn::Matrix<T>& out) {
    Kokkos::parallel_for(
        "karman::bench::mppde::first_columns",
        Kokkos::RangePolicy<nn::ExecutionSpace>(0, out.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          for (std::size_t a = 0; a < kHidden; ++a) out(i, a) = dh(i, a);
        });
  }

  const GridGraph& m_grid;
  nn::Matrix<T> m_theta;
  nn::Parameters<T> m_parameters;
  std::vector<std::unique_ptr<nn::MessagePassing<T>>> m_layers;
  std::vector<std::unique_ptr<nn::InstanceNorm<T>>> m_norms;
  std::vector<nn::Matrix<T>> m_inputs;
  nn::Matrix<T> m_dh, m_de;
  nn::Workspace<T> m_workspace;
  std::vector<nn::GraphContext<T>*> m_mp;
  std::vector<nn::Context<T>*> m_norm;
  PieceTimes* m_times = nullptr;
};

// θ [N, 4]: one random value per sample and column, the same at every node of the sample.
nn::Matrix<T> per_sample_condition(long nodes) {
  nn::Matrix<T> theta("theta", nodes, kCondition);
  auto h = Kokkos::create_mirror_view(theta);
  for (long i = 0; i < nodes; ++i)
    for (std::size_t a = 0; a < kCondition; ++a)
      h(i, a) = static_cast<T>(standard_normal(12, (i / (kSide * kSide)) * kCondition + a));
  Kokkos::deep_copy(theta, h);
  return theta;
}

struct Result {
  double step_s = 0, infer_s = 0, first_loss = 0, last_loss = 0;
  double forward_s = 0, loss_s = 0, backward_s = 0, adamw_s = 0;
  PieceTimes per_step;  // summed over the layers, per step
  int blas_threads = 0;
  std::size_t params = 0;
  long nodes = 0, edges = 0;
};

Result measure() {
  Result r;
  r.blas_threads = nn::blas_threads();
  const GridGraph grid = grid_graph();
  r.nodes = grid.graph.nodes;
  r.edges = grid.graph.edges;
  Processor processor(grid, per_sample_condition(r.nodes));
  nn::Parameters<T>& parameters = processor.parameters();
  r.params = parameters.size();
  nn::OptimizerOptions adamw;
  adamw.type = "adamw";
  adamw.weight_decay = 1e-2;
  auto optimizer = nn::make_optimizer(adamw, parameters);
  const nn::Matrix<T> h0 = random_matrix(r.nodes, kHidden, 13);
  const nn::Matrix<T> target = random_matrix(r.nodes, kHidden, 14);
  nn::Matrix<T> dy("dy", r.nodes, kHidden);

  std::vector<double> steps;
  for (int k = 0; k < kWarmup + kSamples; ++k) {
    const auto t0 = Clock::now();
    parameters.zero_gradients();
    const double value = nn::mse_loss(processor.forward(h0), target, dy, r.nodes);
    processor.backward(dy);
    optimizer->step(parameters, kLr);
    Kokkos::fence();
    const auto t1 = Clock::now();
    if (k == 0) r.first_loss = value;
    r.last_loss = value;
    if (k >= kWarmup) steps.push_back(seconds(t0, t1));
  }
  r.step_s = median(steps);

  const nn::Matrix<T>* out = nullptr;
  r.forward_s = median_time([&] { out = &processor.forward(h0); });
  r.infer_s = r.forward_s;
  r.loss_s = median_time([&] { nn::mse_loss(*out, target, dy, r.nodes); });
  r.backward_s = median_time([&] { processor.backward(dy); });
  r.adamw_s = median_time([&] { optimizer->step(parameters, 1e-12); });

  // One more step with every piece fenced and timed.
  processor.set_timing(&r.per_step);
  processor.forward(h0);
  processor.backward(dy);
  processor.set_timing(nullptr);
  return r;
}

void print(const Result& r) {
  std::printf(
      "MP-PDE processor (6 layers, hidden 128, batch %ld of %ldx%ld, %ld nodes, %ld edges, "
      "float32, %zu parameters), OpenBLAS %d thread(s):\n  train step %8.1f ms, inference %8.1f "
      "ms  (loss %.4g -> %.4g over %d steps)\n  pieces: forward %.1f, loss %.1f, backward %.1f, "
      "adamw %.1f ms\n  layers (6 each, one step): MessagePassing forward %.1f + backward %.1f "
      "ms, InstanceNorm forward %.1f + backward %.1f ms, [h, θ] copies %.1f ms\n",
      kBatch, kSide, kSide, r.nodes, r.edges, r.params, r.blas_threads, r.step_s * 1e3,
      r.infer_s * 1e3, r.first_loss, r.last_loss, kWarmup + kSamples, r.forward_s * 1e3,
      r.loss_s * 1e3, r.backward_s * 1e3, r.adamw_s * 1e3, r.per_step.mp_forward * 1e3,
      r.per_step.mp_backward * 1e3, r.per_step.norm_forward * 1e3, r.per_step.norm_backward * 1e3,
      r.per_step.copies * 1e3);
}

nlohmann::json torch_figures() {
  const char* text = std::getenv("KARMAN_BENCH_TORCH");
  if (text == nullptr || *text == '\0') return nlohmann::json::object();
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (j.is_object() && j.contains("torch_train_step_s") && j.contains("torch_infer_s")) return j;
  } catch (const nlohmann::json::exception&) {
  }
  std::fprintf(stderr,
               "bench_mppde: KARMAN_BENCH_TORCH is not the JSON of mppde_torch.py; ignored\n");
  return nlohmann::json::object();
}

void add_torch(nlohmann::ordered_json& j, const Result& cores, const Result& single) {
  const nlohmann::json torch = torch_figures();
  if (torch.empty()) {
    j["torch"] = "not measured: /usr/bin/python3 cannot import torch or the run failed";
    std::printf("PyTorch: not in KARMAN_BENCH_TORCH (tools/bench/mppde compares after this run)\n");
    return;
  }
  for (const auto& [key, value] : torch.items()) j[key] = value;
  double best_step = 1e300, best_infer = 1e300;
  for (const std::string suffix : {"", "_1thread"}) {
    if (!torch.contains("torch_train_step_s" + suffix)) continue;
    const Result& r = suffix.empty() ? cores : single;
    const double step = torch["torch_train_step_s" + suffix].get<double>();
    const double infer = torch["torch_infer_s" + suffix].get<double>();
    best_step = std::min(best_step, step);
    best_infer = std::min(best_infer, infer);
    j["speedup_train" + suffix] = step / r.step_s;
    j["speedup_infer" + suffix] = infer / r.infer_s;
    std::printf(
        "PyTorch (%s thread(s), %s first Linear): train step %.1f ms (Karman %.2fx faster), "
        "inference %.1f ms (%.2fx)\n",
        suffix.empty() ? torch.value("torch_threads", nlohmann::json(0)).dump().c_str() : "1",
        torch.value("torch_variant" + suffix, std::string("?")).c_str(), step * 1e3,
        step / r.step_s, infer * 1e3, infer / r.infer_s);
  }
  const double step = std::min(cores.step_s, single.step_s);
  const double infer = std::min(cores.infer_s, single.infer_s);
  j["speedup_train_best"] = best_step / step;
  j["speedup_infer_best"] = best_infer / infer;
  std::printf(
      "Faster thread count against faster thread count: training step %.2fx, inference "
      "%.2fx\n",
      best_step / step, best_infer / infer);
}

int run() {
  const std::string machine = machine_description();
  std::printf("bench_mppde  %s\n%s\n", utc_now().c_str(), machine.c_str());
  const Result cores = measure();
  print(cores);
  const int previous = nn::set_blas_threads(1);
  const Result single = measure();
  nn::set_blas_threads(previous);
  print(single);

  nlohmann::ordered_json j;
  for (const std::string suffix : {"", "_1thread"}) {
    const Result& r = suffix.empty() ? cores : single;
    j["train_step_s" + suffix] = r.step_s;
    j["infer_s" + suffix] = r.infer_s;
    j["forward_s" + suffix] = r.forward_s;
    j["loss_s" + suffix] = r.loss_s;
    j["backward_s" + suffix] = r.backward_s;
    j["adamw_s" + suffix] = r.adamw_s;
    j["mp_forward_s" + suffix] = r.per_step.mp_forward;
    j["mp_backward_s" + suffix] = r.per_step.mp_backward;
    j["norm_forward_s" + suffix] = r.per_step.norm_forward;
    j["norm_backward_s" + suffix] = r.per_step.norm_backward;
    j["blas_threads" + suffix] = r.blas_threads;
  }
  j["params"] = cores.params;
  j["nodes"] = cores.nodes;
  j["edges"] = cores.edges;
  add_torch(j, cores, single);
  j["execution"] = execution_config();
  j["machine"] = machine;
  j["date"] = utc_now();
  std::cout << j.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return karman::bench::bench_main(argc, argv, "bench_mppde", run);
}
