// bench_fno: cost of a training step and of inference of the 2D Fourier neural operator, next to
// PyTorch when tools/bench/fno ran it in the same invocation. Run it through tools/bench/fno
// (builds first, runs fno_torch.py when /usr/bin/python3 has torch). Human-readable lines first,
// then ONE JSON object on the last line.
//
// Model: fno::FnoModel<float> as fourier_2d.py (Li et al. 2021): 1 input channel + the 2 grid
// coordinates, lift to width 32, 4 Fourier blocks with modes 12 × 12 (two corners), projection
// 32 → 128 → 1 with GELU, no padding (fno_torch.py uses none either), model seed 1. Batch 20,
// float32, grids 64×64 and 128×128; inputs and targets are random normal (timing only).
//
//  1. train_step_s_<n>: one step = zero_gradients + forward + relative L2 loss (per sample
//     ||y − t|| / ||t||, nn::relative_l2_loss) and its gradient + backward + Adam (lr 1e-3, weight
//     decay 1e-4), what the FNO trainer does at one rank. After kWarmup steps, kSamples steps are
//     timed one by one; the median is reported. The pieces (forward, loss, backward, Adam) are
//     timed the same way, and so are the layers of the model on their own (one SpectralConv
//     32→32 forward and backward, one Linear 1×1 32→32, the projection Linear 32→128 + GELU, the
//     FFT pair of one spectral layer) on the same rows, to show where the step goes.
//  2. infer_s_per_sample_<n>: median time of a forward of the batch of 20, divided by 20.
// Wall clock is std::chrono::steady_clock with Kokkos::fence() before each stop.
//
// PyTorch: the one JSON line of tools/bench/fno_torch.py in the
// environment variable KARMAN_BENCH_TORCH; when present the JSON carries its torch_* keys and
// speedup_train_<n> / speedup_infer_<n> = torch time / Karman time; when absent, "torch" says why.
// tools/bench/fno does not set it: it runs this binary at 1 rank x 1 thread and on the
// node and merges both with PyTorch's two thread counts (tools/bench/run_configs.py); the variable
// is for running the binary by hand next to a torch_run line (tools/bench/torch_env).
//
// JSON keys: train_step_s_64, infer_s_per_sample_64, train_step_s_128, infer_s_per_sample_128,
// params, [torch_train_step_s_64, torch_infer_s_per_sample_64, torch_train_step_s_128,
// torch_infer_s_per_sample_128, torch_version, torch_threads, torch_config, speedup_train_64,
// speedup_infer_64, speedup_train_128, speedup_infer_128 | torch], machine, date (UTC).

#include "operators/fno/fno.hpp"

#include <Kokkos_Core.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bench_util.hpp"
#include "karman/core/random.hpp"
#include "karman/nn/linear.hpp"
#include "karman/nn/loss.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/optimizer.hpp"

using namespace karman;

namespace {

using namespace karman::bench;
using T = float;

constexpr int kWarmup = 3;
constexpr int kSamples = 11;
constexpr long kBatch = 20;
constexpr double kLr = 1e-3;
const std::vector<long> kGrids = {64, 128};

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

fno::FnoSpec bench_spec() {
  fno::FnoSpec spec;
  spec.modes = {12, 12};
  spec.width = 32;
  spec.layers = 4;
  spec.projection = 128;
  spec.grid_features = true;
  spec.seed = 1;
  return spec;
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

struct GridResult {
  long n = 0;
  double step_s = 0, infer_s = 0, first_loss = 0, last_loss = 0;
  double forward_s = 0, loss_s = 0, backward_s = 0, adam_s = 0;
  std::size_t params = 0;
  // Layers on their own (forward, backward) and the FFT pair of one spectral layer.
  double spectral_s[2] = {0, 0}, pointwise_s[2] = {0, 0}, projection_s[2] = {0, 0}, fft_s = 0;
};

// The time of `f` (fenced): median over kSamples runs after kWarmup.
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

// Forward and backward time of `module` alone on `rows` rows (its own network, random input).
std::pair<double, double> time_layer(std::unique_ptr<nn::Module<T>> module, std::size_t rows) {
  nn::Module<T>& layer = *module;
  nn::Network<T> net(std::move(module), 1);
  const nn::Matrix<T> x = random_matrix(rows, layer.in_features(), 3);
  const nn::Matrix<T> dy = random_matrix(rows, layer.out_features(), 4);
  nn::Context<T>* context = nullptr;
  const double forward = median_time([&] { context = &net.forward(x); });
  const double backward = median_time([&] { net.backward(*context, dy); });
  return {forward, backward};
}

void time_layers(GridResult& r) {
  const fno::FnoSpec spec = bench_spec();
  const std::size_t rows = kBatch * r.n * r.n;
  auto spectral = std::make_unique<fno::SpectralConv<T>>(spec.width, spec.width, spec.modes);
  spectral->set_grid({r.n, r.n});
  std::tie(r.spectral_s[0], r.spectral_s[1]) = time_layer(std::move(spectral), rows);
  std::tie(r.pointwise_s[0], r.pointwise_s[1]) =
      time_layer(std::make_unique<nn::Linear<T>>(spec.width, spec.width), rows);
  std::tie(r.projection_s[0], r.projection_s[1]) = time_layer(
      std::make_unique<nn::Linear<T>>(spec.width, spec.projection, true, nn::Activation::gelu),
      rows);
  fno::RealFft<T> fft({r.n, r.n}, kBatch, spec.width, spec.modes.back());
  const nn::Matrix<T> x = random_matrix(rows, spec.width, 5);
  nn::Matrix<T> spectrum("spectrum", kBatch * fft.spectrum_points(), 2 * spec.width);
  nn::Matrix<T> y("y", rows, spec.width);
  r.fft_s = median_time([&] {
    fft.forward(x, spectrum);
    fft.inverse(spectrum, y, false);
  });
}

GridResult time_grid(long n) {
  GridResult r;
  r.n = n;
  const long points = n * n;
  auto owned = std::make_unique<fno::FnoModel<T>>(bench_spec(), 1, 1);
  owned->set_grid({n, n});
  nn::Network<T> net(std::move(owned), bench_spec().seed);
  nn::Parameters<T>& parameters = net.parameters();
  r.params = parameters.size();
  nn::OptimizerOptions adam;
  adam.weight_decay = 1e-4;
  auto optimizer = nn::make_optimizer(adam, parameters);

  const nn::Matrix<T> x = random_matrix(kBatch * points, 1, 1);
  const nn::Matrix<T> target = random_matrix(kBatch * points, 1, 2);
  nn::Matrix<T> dy("dy", kBatch * points, 1);
  // One sample per row for the loss: [B·N, 1] channels-last is [B, N] in the same memory.
  const nn::Matrix<T> target_rows(target.data(), kBatch, points),
      dy_rows(dy.data(), kBatch, points);
  auto loss = [&](const nn::Matrix<T>& y) {
    return nn::relative_l2_loss(nn::Matrix<T>(y.data(), kBatch, points), target_rows, dy_rows,
                                static_cast<double>(kBatch));
  };

  std::vector<double> steps;
  for (int k = 0; k < kWarmup + kSamples; ++k) {
    const auto t0 = Clock::now();
    parameters.zero_gradients();
    nn::Context<T>& forward = net.forward(x);
    const double value = loss(forward.y);
    net.backward(forward, dy);
    optimizer->step(parameters, kLr);
    Kokkos::fence();
    const auto t1 = Clock::now();
    if (k == 0) r.first_loss = value;
    r.last_loss = value;
    if (k >= kWarmup) steps.push_back(seconds(t0, t1));
  }
  r.step_s = median(steps);

  nn::Context<T>* forward = nullptr;
  r.forward_s = median_time([&] { forward = &net.forward(x); });
  r.loss_s = median_time([&] { loss(forward->y); });
  r.backward_s = median_time([&] { net.backward(*forward, dy); });
  r.adam_s = median_time([&] { optimizer->step(parameters, 1e-12); });
  r.infer_s = r.forward_s / kBatch;
  time_layers(r);
  return r;
}

void print_grid(const GridResult& r) {
  std::printf(
      "FNO2d %ldx%ld batch %ld float32: train step %8.2f ms, inference %7.3f ms/sample  (loss "
      "%.4g -> %.4g over %d steps)\n"
      "  pieces: forward %.2f, loss %.2f, backward %.2f, adam %.2f ms\n",
      r.n, r.n, kBatch, r.step_s * 1e3, r.infer_s * 1e3, r.first_loss, r.last_loss,
      kWarmup + kSamples, r.forward_s * 1e3, r.loss_s * 1e3, r.backward_s * 1e3, r.adam_s * 1e3);
  const fno::FnoSpec spec = bench_spec();
  std::printf(
      "  layers alone (forward + backward, ms): %ld x SpectralConv %.2f + %.2f (its FFT pair "
      "%.2f), %ld x Linear 1x1 %.2f + %.2f, projection Linear+GELU %.2f + %.2f\n",
      spec.layers, r.spectral_s[0] * 1e3, r.spectral_s[1] * 1e3, r.fft_s * 1e3, spec.layers,
      r.pointwise_s[0] * 1e3, r.pointwise_s[1] * 1e3, r.projection_s[0] * 1e3,
      r.projection_s[1] * 1e3);
}

nlohmann::json torch_figures() {
  const char* text = std::getenv("KARMAN_BENCH_TORCH");
  if (text == nullptr || *text == '\0') return nlohmann::json::object();
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    bool complete = j.is_object();
    for (long n : kGrids)
      complete = complete && j.contains("torch_train_step_s_" + std::to_string(n)) &&
                 j.contains("torch_infer_s_per_sample_" + std::to_string(n));
    if (complete) return j;
  } catch (const nlohmann::json::exception&) {
  }
  std::fprintf(stderr, "bench_fno: KARMAN_BENCH_TORCH is not the JSON of fno_torch.py; ignored\n");
  return nlohmann::json::object();
}

int run() {
  const std::string machine = machine_description();
  std::printf("bench_fno  %s\n%s\n", utc_now().c_str(), machine.c_str());
  std::vector<GridResult> results;
  for (long n : kGrids) {
    results.push_back(time_grid(n));
    print_grid(results.back());
  }

  nlohmann::ordered_json j;
  for (const GridResult& r : results) {
    j["train_step_s_" + std::to_string(r.n)] = r.step_s;
    j["infer_s_per_sample_" + std::to_string(r.n)] = r.infer_s;
  }
  j["params"] = results.front().params;
  const nlohmann::json torch = torch_figures();
  if (!torch.empty()) {
    for (const GridResult& r : results) {
      const std::string n = std::to_string(r.n);
      const double step = torch["torch_train_step_s_" + n].get<double>();
      const double infer = torch["torch_infer_s_per_sample_" + n].get<double>();
      j["torch_train_step_s_" + n] = step;
      j["torch_infer_s_per_sample_" + n] = infer;
      j["speedup_train_" + n] = step / r.step_s;
      j["speedup_infer_" + n] = infer / r.infer_s;
      std::printf(
          "PyTorch %sx%s: train step %.2f ms (Karman %.2fx faster), inference %.3f "
          "ms/sample (%.2fx)\n",
          n.c_str(), n.c_str(), step * 1e3, step / r.step_s, infer * 1e3, infer / r.infer_s);
    }
    if (torch.contains("torch_version")) j["torch_version"] = torch["torch_version"];
    if (torch.contains("torch_threads")) j["torch_threads"] = torch["torch_threads"];
    if (torch.contains("torch_config")) j["torch_config"] = torch["torch_config"];
  } else {
    j["torch"] = "not measured: /usr/bin/python3 cannot import torch or the run failed";
    std::printf("PyTorch: not in KARMAN_BENCH_TORCH (tools/bench/fno compares after this run)\n");
  }
  j["execution"] = execution_config();
  j["machine"] = machine;
  j["date"] = utc_now();
  std::cout << j.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return karman::bench::bench_main(argc, argv, "bench_fno", run); }
