// bench_nn_core: throughput of the NN core's training step on this machine, next to the BLAS peak
// measured in the same run. Run it through tools/bench/nn_core (builds first). Human-readable
// lines first, then ONE JSON object on the last line.
//
// What is measured (wall clock, std::chrono::steady_clock, Kokkos::fence() before each stop):
//
//  1. MLP step: make_mlp({2, 64, 64, 64, 64, 1}, tanh) (Linear+tanh hidden layers, plain Linear
//     output, biases) in a Network, on N = 4096 points x ∈ [-1, 1]², target sin(πx)sin(πy). One
//     step = zero_gradients + forward + mse_loss + backward + Adam step (make_optimizer "adam",
//     lr 1e-3), exactly what the trainer does. float32 and float64. After kWarmupSteps steps,
//     kSamples steps are timed one by one; the reported time is the median step. Phases (zero,
//     forward, loss, backward, adam) are timed inside the same steps and printed as medians.
//  2. The same step for one Linear 32->32 (bias, no activation: GEMMs, bias, loss and Adam only)
//     on N = 20·64·64 = 81920 points (a 20-sample batch of 64×64 grids with 32 channels, the shape
//     of a neural operator's lifting/projection layer). float32 and float64.
//  3. BLAS peak: cblas_sgemm / cblas_dgemm, row-major 2048×2048×2048, OpenBLAS with its default
//     threading (all cores unless OPENBLAS_NUM_THREADS says otherwise); one warm-up call, the
//     median of kBlasRuns calls.
//  4. Element-wise cost: Linear 64->64 forward on 4096 rows (one libxsmm GEMM + the fused
//     bias/activation kernel) for every activation, median of kSamples calls; the identity row is
//     the GEMM + bias alone, so the difference is the activation's cost.
//  5. FMA peak of one core: a loop of kFmaChains independent vector FMA chains (AVX-512 when the
//     build targets it, else AVX2/FMA, else scalar std::fma) on one thread, 2 FLOPs per lane per
//     FMA; the best of kFmaRuns runs. mlp_f32_fraction_of_fma_peak = mlp_f32_gflops / (the
//     per-core peak × the host execution space's threads).
//
// FLOP count (the GEMM work only; bias, activation, loss and optimizer flops are not counted):
//   forward  = 2·N·Σ_layers in·out
//   backward = 2 × forward: dW = Xᵀ dZ and dX = dZ Wᵀ for every layer, including the first
//              layer's dX (which a trainer does not need but Network::backward computes).
//   step     = 3 × forward.  MLP: Σ in·out = 2·64 + 3·64·64 + 64·1 = 12480, so 2·4096·12480·3 =
//   306.7 MFLOP per step;  Linear 32->32: 6·81920·1024 = 503.3 MFLOP per step.
//   GFLOP/s = step FLOPs / median step time.  BLAS: 2·n³ / median call time.
//   mlp_f32_fraction_of_peak = mlp_f32_gflops / blas_peak_f32_gflops (same run).
//
// JSON keys: mlp_f32_gflops, mlp_f64_gflops, blas_peak_f32_gflops, blas_peak_f64_gflops,
// fma_peak_f32_gflops_per_core, fma_peak_f64_gflops_per_core, fma_isa, threads,
// mlp_f32_fraction_of_fma_peak, mlp_f64_fraction_of_fma_peak,
// mlp_f32_step_s, mlp_f64_step_s, linear32_{f32,f64}_{gflops,step_s}, mlp_f32_fraction_of_peak,
// linear64_forward_{f32,f64}_s (item 4: seconds per forward, by activation), date (UTC), machine
// (CPU, cores, OpenBLAS build/core/threads, Kokkos backend, compiler). Results move by ±10-40%
// when anything else runs on the two cores (the backward GEMMs are threaded): compare runs made
// side by side on an idle machine.

#include <cblas.h>
#include <immintrin.h>
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "karman/core/random.hpp"
#include "karman/nn/activation.hpp"
#include "karman/nn/linear.hpp"
#include "karman/nn/loss.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/optimizer.hpp"
#include "karman/nn/sequential.hpp"

using namespace karman;
using namespace karman::nn;

namespace {

using namespace karman::bench;

constexpr int kWarmupSteps = 5;
constexpr int kSamples = 31;
constexpr int kBlasRuns = 5;
constexpr std::size_t kBlasSize = 2048;
constexpr std::size_t kMlpPoints = 4096;
constexpr std::size_t kLinearPoints = 20 * 64 * 64;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---------------------------------------------------------------------------- FMA peak
constexpr int kFmaChains = 16;  // independent accumulators: latency (4) × ports (2), twice over
constexpr long kFmaIterations = 2'000'000;
constexpr int kFmaRuns = 30;  // short runs, the best: one is likely to run undisturbed

#if defined(__AVX512F__)
constexpr const char* kFmaIsa = "avx512";
// Vector type, lanes and one FMA per precision.
struct F32 {
  using V = __m512;
  static constexpr int lanes = 16;
  static V set(float x) { return _mm512_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static float sum(V v) {
    alignas(64) float x[16];
    _mm512_store_ps(x, v);
    float s = 0;
    for (float e : x) s += e;
    return s;
  }
};
struct F64 {
  using V = __m512d;
  static constexpr int lanes = 8;
  static V set(double x) { return _mm512_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static double sum(V v) {
    alignas(64) double x[8];
    _mm512_store_pd(x, v);
    double s = 0;
    for (double e : x) s += e;
    return s;
  }
};
#elif defined(__FMA__)
constexpr const char* kFmaIsa = "avx2";
struct F32 {
  using V = __m256;
  static constexpr int lanes = 8;
  static V set(float x) { return _mm256_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static float sum(V v) {
    alignas(32) float x[8];
    _mm256_store_ps(x, v);
    return x[0] + x[1] + x[2] + x[3] + x[4] + x[5] + x[6] + x[7];
  }
};
struct F64 {
  using V = __m256d;
  static constexpr int lanes = 4;
  static V set(double x) { return _mm256_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static double sum(V v) {
    alignas(32) double x[4];
    _mm256_store_pd(x, v);
    return x[0] + x[1] + x[2] + x[3];
  }
};
#else
constexpr const char* kFmaIsa = "scalar";
template <class T>
struct Scalar {
  using V = T;
  static constexpr int lanes = 1;
  static V set(T x) { return x; }
  static V fma(V a, V b, V c) { return std::fma(a, b, c); }
  static T sum(V v) { return v; }
};
using F32 = Scalar<float>;
using F64 = Scalar<double>;
#endif

// GFLOP/s of kFmaChains independent chains acc ← acc·a + b on this thread (best of kFmaRuns).
template <class Isa>
double fma_peak_gflops() {
  using V = typename Isa::V;
  double best = 0, sink = 0;
  for (int run = 0; run < kFmaRuns; ++run) {
    V acc[kFmaChains];
    for (int c = 0; c < kFmaChains; ++c) acc[c] = Isa::set(1.0 + 1e-3 * c);
    const V a = Isa::set(0.999999), b = Isa::set(1e-7);
    const auto start = Clock::now();
    for (long i = 0; i < kFmaIterations; ++i) {
#pragma GCC unroll 16
      for (int c = 0; c < kFmaChains; ++c) acc[c] = Isa::fma(acc[c], a, b);
    }
    const double s = seconds_since(start);
    // One vector of the chains' sum keeps the loop alive (a horizontal sum per chain made GCC
    // keep the float accumulators in memory inside the loop).
    V total = acc[0];
    for (int c = 1; c < kFmaChains; ++c) total = Isa::fma(acc[c], Isa::set(1), total);
    sink += Isa::sum(total);
    best = std::max(best, 2.0 * Isa::lanes * kFmaChains * double(kFmaIterations) / s * 1e-9);
  }
  if (sink == 0) std::printf("(fma sink %g)\n", sink);
  return best;
}

// Σ in·out over the Linear layers of a width list.
double weight_entries(const std::vector<std::size_t>& widths) {
  double s = 0;
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) s += double(widths[i]) * widths[i + 1];
  return s;
}

// x uniform in [-1, 1]^in; target column j: sin(π x_0 (j+1)) · sin(π x_1) (x_1 = x_0 if in = 1).
template <class T>
void make_data(std::size_t n, std::size_t in, std::size_t out, Matrix<T>& x, Matrix<T>& target) {
  constexpr double kPi = 3.14159265358979323846;
  x = Matrix<T>("x", n, in);
  target = Matrix<T>("target", n, out);
  auto hx = Kokkos::create_mirror_view(x);
  auto ht = Kokkos::create_mirror_view(target);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < in; ++j) hx(i, j) = T(2 * uniform01(17, i * in + j) - 1);
    const double x0 = double(hx(i, 0)), x1 = double(hx(i, in > 1 ? 1 : 0));
    for (std::size_t j = 0; j < out; ++j)
      ht(i, j) = T(std::sin(kPi * x0 * double(j + 1)) * std::sin(kPi * x1));
  }
  Kokkos::deep_copy(x, hx);
  Kokkos::deep_copy(target, ht);
}

struct StepResult {
  double step_s = 0, gflops = 0, first_loss = 0, last_loss = 0;
  double zero_s = 0, forward_s = 0, loss_s = 0, backward_s = 0, adam_s = 0;
};

// Median time of one training step of `root` on n points (see the header comment).
template <class T>
StepResult time_training_step(std::unique_ptr<Module<T>> root, std::size_t n, double step_flops) {
  const std::size_t in = root->in_features(), out = root->out_features();
  Network<T> net(std::move(root), 7);
  Matrix<T> x, target;
  make_data(n, in, out, x, target);
  Matrix<T> dy("dy", n, out);
  OptimizerOptions options;
  options.type = "adam";
  auto optimizer = make_optimizer(options, net.parameters());

  std::vector<double> total, zero, forward, loss, backward, adam;
  StepResult r;
  for (int s = 0; s < kWarmupSteps + kSamples; ++s) {
    const auto t0 = Clock::now();
    net.parameters().zero_gradients();
    Kokkos::fence();
    const auto t1 = Clock::now();
    Context<T>& pass = net.forward(x);
    const Matrix<T> y = pass.y;
    Kokkos::fence();
    const auto t2 = Clock::now();
    const double value = double(mse_loss(y, target, dy, double(n)));
    Kokkos::fence();
    const auto t3 = Clock::now();
    net.backward(pass, dy);
    Kokkos::fence();
    const auto t4 = Clock::now();
    optimizer->step(net.parameters(), 1e-3);
    Kokkos::fence();
    const auto t5 = Clock::now();
    if (s == 0) r.first_loss = value;
    r.last_loss = value;
    if (s < kWarmupSteps) continue;
    auto d = [](Clock::time_point a, Clock::time_point b) {
      return std::chrono::duration<double>(b - a).count();
    };
    total.push_back(d(t0, t5));
    zero.push_back(d(t0, t1));
    forward.push_back(d(t1, t2));
    loss.push_back(d(t2, t3));
    backward.push_back(d(t3, t4));
    adam.push_back(d(t4, t5));
  }
  r.step_s = median(total);
  r.gflops = step_flops / r.step_s * 1e-9;
  r.zero_s = median(zero);
  r.forward_s = median(forward);
  r.loss_s = median(loss);
  r.backward_s = median(backward);
  r.adam_s = median(adam);
  return r;
}

template <class T>
void print_step(const char* name, const StepResult& r, double step_flops) {
  std::printf(
      "%-26s %-7s step %8.3f ms  %7.1f GFLOP/s  (%.1f MFLOP/step; zero %.3f, forward %.3f, "
      "loss %.3f, backward %.3f, adam %.3f ms; loss %.4g -> %.4g)\n",
      name, precision_name<T>(), r.step_s * 1e3, r.gflops, step_flops * 1e-6, r.zero_s * 1e3,
      r.forward_s * 1e3, r.loss_s * 1e3, r.backward_s * 1e3, r.adam_s * 1e3, r.first_loss,
      r.last_loss);
}

void gemm_call(std::size_t n, const float* a, const float* b, float* c) {
  const int m = static_cast<int>(n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, m, m, 1.0f, a, m, b, m, 0.0f, c, m);
}
void gemm_call(std::size_t n, const double* a, const double* b, double* c) {
  const int m = static_cast<int>(n);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, m, m, 1.0, a, m, b, m, 0.0, c, m);
}

// GFLOP/s of a large square GEMM: 2n³ over the median of kBlasRuns calls after one warm-up.
template <class T>
double blas_peak_gflops() {
  const std::size_t n = kBlasSize;
  std::vector<T> a(n * n), b(n * n), c(n * n);
  for (std::size_t i = 0; i < n * n; ++i) {
    a[i] = T(uniform01(1, i) - 0.5);
    b[i] = T(uniform01(2, i) - 0.5);
  }
  gemm_call(n, a.data(), b.data(), c.data());
  std::vector<double> times;
  for (int r = 0; r < kBlasRuns; ++r) {
    const auto t0 = Clock::now();
    gemm_call(n, a.data(), b.data(), c.data());
    times.push_back(seconds_since(t0));
  }
  const double gflops = 2.0 * double(n) * double(n) * double(n) / median(times) * 1e-9;
  std::printf("%-26s %-7s %zu^3           %7.1f GFLOP/s  (median of %d, %d threads)\n",
              "BLAS gemm peak", precision_name<T>(), n, gflops, kBlasRuns,
              openblas_get_num_threads());
  return gflops;
}

// Median time of Linear 64->64 forward (with activation a) on kMlpPoints rows; inputs uniform in
// [-1, 1], so the pre-activations have a standard deviation of about 0.6 (Xavier weights).
template <class T>
double linear_forward_seconds(Activation a) {
  Network<T> net(std::make_unique<Linear<T>>(64, 64, true, a), 3);
  Matrix<T> x, target;
  make_data(kMlpPoints, 64, 1, x, target);
  std::vector<double> times;
  for (int s = 0; s < kWarmupSteps + kSamples; ++s) {
    const auto t0 = Clock::now();
    net.forward(x);
    Kokkos::fence();
    if (s >= kWarmupSteps) times.push_back(seconds_since(t0));
  }
  return median(times);
}

template <class T>
nlohmann::ordered_json activation_table() {
  nlohmann::ordered_json table;
  const double elements = double(kMlpPoints) * 64;
  double identity = 0;
  for (const auto& name : activation_names()) {
    const Activation a = activation_from_name(name);
    const double t = linear_forward_seconds<T>(a);
    if (a == Activation::identity) identity = t;
    std::printf("%-26s %-7s forward %7.3f ms  (activation %6.2f ns/element)\n",
                ("linear 64->64 " + name).c_str(), precision_name<T>(), t * 1e3,
                (t - identity) / elements * 1e9);
    table[name] = t;
  }
  return table;
}

int run() {
  const std::vector<std::size_t> mlp_widths = {2, 64, 64, 64, 64, 1};
  const double mlp_flops = 3 * 2 * double(kMlpPoints) * weight_entries(mlp_widths);
  const double linear_flops = 3 * 2 * double(kLinearPoints) * weight_entries({32, 32});
  const std::string machine = machine_description();
  std::printf("bench_nn_core  %s\n%s\n", utc_now().c_str(), machine.c_str());

  const double peak32 = blas_peak_gflops<float>();
  const double peak64 = blas_peak_gflops<double>();

  const auto mlp32 = time_training_step<float>(make_mlp<float>(mlp_widths, Activation::tanh),
                                               kMlpPoints, mlp_flops);
  print_step<float>("MLP 2-64x4-1 tanh, 4096", mlp32, mlp_flops);
  const auto mlp64 = time_training_step<double>(make_mlp<double>(mlp_widths, Activation::tanh),
                                                kMlpPoints, mlp_flops);
  print_step<double>("MLP 2-64x4-1 tanh, 4096", mlp64, mlp_flops);

  const auto lin32 = time_training_step<float>(std::make_unique<Linear<float>>(32, 32),
                                               kLinearPoints, linear_flops);
  print_step<float>("Linear 32->32, 81920", lin32, linear_flops);
  const auto lin64 = time_training_step<double>(std::make_unique<Linear<double>>(32, 32),
                                                kLinearPoints, linear_flops);
  print_step<double>("Linear 32->32, 81920", lin64, linear_flops);

  const auto act32 = activation_table<float>();
  const auto act64 = activation_table<double>();

  std::printf("MLP float32 at %.1f%% of the BLAS float32 peak, float64 at %.1f%%\n",
              100 * mlp32.gflops / peak32, 100 * mlp64.gflops / peak64);
  const double fma32 = fma_peak_gflops<F32>(), fma64 = fma_peak_gflops<F64>();
  const int threads = Kokkos::DefaultHostExecutionSpace().concurrency();
  std::printf(
      "FMA peak (%s) per core: %.1f GFLOP/s float32, %.1f float64; MLP at %.1f%% (float32) and "
      "%.1f%% (float64) of it on %d thread(s)\n",
      kFmaIsa, fma32, fma64, 100 * mlp32.gflops / (fma32 * threads),
      100 * mlp64.gflops / (fma64 * threads), threads);

  nlohmann::ordered_json j;
  j["mlp_f32_gflops"] = mlp32.gflops;
  j["mlp_f64_gflops"] = mlp64.gflops;
  j["blas_peak_f32_gflops"] = peak32;
  j["blas_peak_f64_gflops"] = peak64;
  j["mlp_f32_step_s"] = mlp32.step_s;
  j["mlp_f64_step_s"] = mlp64.step_s;
  j["linear32_f32_gflops"] = lin32.gflops;
  j["linear32_f64_gflops"] = lin64.gflops;
  j["linear32_f32_step_s"] = lin32.step_s;
  j["linear32_f64_step_s"] = lin64.step_s;
  j["mlp_f32_fraction_of_peak"] = mlp32.gflops / peak32;
  j["fma_peak_f32_gflops_per_core"] = fma32;
  j["fma_peak_f64_gflops_per_core"] = fma64;
  j["fma_isa"] = kFmaIsa;
  j["threads"] = threads;
  j["mlp_f32_fraction_of_fma_peak"] = mlp32.gflops / (fma32 * threads);
  j["mlp_f64_fraction_of_fma_peak"] = mlp64.gflops / (fma64 * threads);
  j["linear64_forward_f32_s"] = act32;
  j["linear64_forward_f64_s"] = act64;
  j["date"] = utc_now();
  j["execution"] = execution_config();
  j["machine"] = machine;
  std::cout << j.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return karman::bench::bench_main(argc, argv, "bench_nn_core", run);
}
