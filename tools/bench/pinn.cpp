// bench_pinn: cost of the PINN training step for the Poisson 2D problem, and the time the float64
// PINN needs to reach a relative L2 error of 1e-3, next to PyTorch when tools/bench/pinn ran it in
// the same invocation. Run it through tools/bench/pinn (builds first, runs pinn_torch.py when
// /usr/bin/python3 has torch). Human-readable lines first, then ONE JSON object on the last line.
//
// Problem: -Δu = 2π² sin(πx) sin(πy) on (0,1)², u = 0 on the boundary, exact u = sin(πx) sin(πy).
// Loss: pinn::ResidualLoss exactly as `karman run` (kind pinn) builds it: mean squared
// residual at kInterior = 4096 interior points (uniform, pinn::interior_points, seed 1) with the
// Laplacian by derivative propagation (a derivative pass and its backward), plus 100 × the mean
// squared boundary mismatch at kBoundary = 1024 boundary points (pinn::boundary_points, seed
// mix64(2)), the weights of cases/pinn/poisson2d.yaml. Model: make_mlp({2, 64, 64, 64, 64, 1},
// tanh), Xavier-uniform, model seed 0. Wall clock is std::chrono::steady_clock with
// Kokkos::fence() before each stop.
//
//  1. adam_step_s_f32 / adam_step_s_f64: one step = zero_gradients + loss (interior forward and
//     backward through the derivative propagation, boundary forward and backward) + Adam step
//     (lr 1e-3), what nn::Trainer does at one rank (where it skips the MPI reduction). After
//     kWarmupSteps steps, kSamples steps are timed one by one; the median is reported. The same
//     pieces are then timed one at a time (median of kSamples) to show where the step goes.
//     GFLOP/s counts the GEMM work only: every Linear does 2·rows·in·out per product and three
//     products per step (forward, dW, dX), with rows = 5·4096 (value, 2 first and 2 second
//     derivative channels) in the interior and 1024 on the boundary: 3·2·(20480 + 1024)·12480
//     = 1.61 GFLOP per step.
//  2. time_to_1e-3_s (skipped when KARMAN_BENCH_STEP_ONLY=1): float64 training from the same
//  initial network: kAdamSteps = 500 Adam steps
//     (lr 1e-3, cosine schedule to 1e-5), then L-BFGS (history 100, strong Wolfe): the recipe of
//     cases/pinn/poisson2d.yaml with a shorter Adam stage (the case's 2000 Adam steps would take
//     most of the budget; L-BFGS is what drives the error down). Every kEvalEvery = 100 Adam
//     steps or L-BFGS iterations the relative L2 error against the exact solution on the 65×65
//     nodes of [0,1]² is evaluated (on a second network holding a copy of the weights, so the
//     training buffers keep their shapes). The reported time is the training wall time (error
//     evaluations excluded) at the first evaluation below kTarget = 1e-3, so it is resolved to
//     100 steps; null when not reached within kBudgetS = 120 s of training.
//
// PyTorch: the one JSON line of tools/bench/pinn_torch.py (keys
// torch_adam_step_s_f32, torch_adam_step_s_f64, torch_version, ...) in the environment variable
// KARMAN_BENCH_TORCH; when present the JSON here carries those keys and speedup_f32/f64 =
// torch step time / Karman step time.
// tools/bench/pinn does not set it: it runs this binary at 1 rank x 1 thread and on the
// node and merges both with PyTorch's two thread counts (tools/bench/run_configs.py); the variable
// is for running the binary by hand next to a torch_run line (tools/bench/torch_env).
//
// JSON keys: adam_step_s_f32, adam_step_s_f64, adam_step_gflops_f32, adam_step_gflops_f64,
// time_to_1e-3_s (null if not reached), time_to_1e-3_steps (Adam steps + L-BFGS iterations at
// that point), rel_l2_final (the last evaluated error), [torch_adam_step_s_f32,
// torch_adam_step_s_f64, torch_version, torch_threads, torch_config, speedup_f32, speedup_f64],
// machine, date (UTC).

#include <cblas.h>
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "karman/config/case.hpp"
#include "karman/core/random.hpp"
#include "karman/nn/activation.hpp"
#include "karman/nn/lbfgs.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/optimizer.hpp"
#include "karman/nn/sequential.hpp"
#include "pinn/residual_loss.hpp"
#include "pinn/sampling.hpp"

using namespace karman;

namespace {

using namespace karman::bench;

constexpr int kWarmupSteps = 5;
constexpr int kSamples = 31;
constexpr long kInterior = 4096;
constexpr long kBoundary = 1024;
constexpr std::uint64_t kPointSeed = 1;
constexpr std::uint64_t kModelSeed = 0;
constexpr double kResidualWeight = 1.0;
constexpr double kBoundaryWeight = 100.0;
constexpr double kLr = 1e-3;
constexpr long kAdamSteps = 500;
constexpr long kLbfgsHistory = 100;
constexpr long kLbfgsMaxIterations = 100000;  // the time budget ends it first
constexpr long kEvalEvery = 100;
constexpr long kPrintEvery = 500;
constexpr long kEvalNodes = 65;
constexpr double kTarget = 1e-3;
constexpr double kBudgetS = 120.0;
const std::vector<std::size_t> kWidths = {2, 64, 64, 64, 64, 1};

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// GEMM FLOPs of one step (see the header comment).
double step_flops() {
  double entries = 0;
  for (std::size_t i = 0; i + 1 < kWidths.size(); ++i)
    entries += double(kWidths[i] * kWidths[i + 1]);
  return 3 * 2 * double(5 * kInterior + kBoundary) * entries;
}

// The problem as config::read_problem builds it from cases/pinn/poisson2d.yaml (boundary data
// defaults to the exact solution there, zero on ∂Ω up to round-off).
config::PdeSpec poisson_problem() {
  const Place here{"bench_pinn", 0, 0};
  config::PdeSpec pde;
  pde.type = config::PdeType::poisson;
  pde.source = Expression("2*pi^2*sin(pi*x)*sin(pi*y)", here);
  pde.exact = Expression("sin(pi*x)*sin(pi*y)", here);
  pde.boundary = pde.exact;
  return pde;
}

mesh::GridShape unit_square() {
  mesh::GridShape box;
  box.dim = 2;
  box.n = {kEvalNodes, kEvalNodes, 1};
  return box;
}

// The network and its loss, built as pinn/runner.cpp builds them at one rank.
template <class T>
struct Setup {
  explicit Setup(const config::PdeSpec& pde)
      : box(unit_square()),
        interior(pinn::interior_points(box, 0, kInterior, kPointSeed)),
        boundary(pinn::boundary_points(box, 0, kBoundary, mix64(kPointSeed + 1), box.dim)),
        net(nn::make_mlp<T>(kWidths, nn::Activation::tanh), kModelSeed),
        loss(net, pde, box, pinn::PointSet{interior, kInterior},
             pinn::PointSet{boundary, kBoundary}, pinn::PointSet{},
             pinn::LossWeights{kResidualWeight, kBoundaryWeight, 1.0}) {}
  mesh::GridShape box;
  std::vector<double> interior, boundary;
  nn::Network<T> net;
  pinn::ResidualLoss<T> loss;
};

struct StepResult {
  double step_s = 0, first_loss = 0, last_loss = 0;
  // The pieces, timed one at a time.
  double zero_s = 0, forward_taylor_s = 0, backward_taylor_s = 0, forward_boundary_s = 0,
         backward_boundary_s = 0, adam_s = 0;
};

template <class T>
StepResult time_adam_step(const config::PdeSpec& pde) {
  Setup<T> s(pde);
  nn::Parameters<T>& parameters = s.net.parameters();
  auto optimizer = nn::make_optimizer(nn::OptimizerOptions{}, parameters);
  StepResult r;
  std::vector<double> total;
  for (int k = 0; k < kWarmupSteps + kSamples; ++k) {
    const auto t0 = Clock::now();
    parameters.zero_gradients();
    const double value = nn::total_loss(s.loss());
    optimizer->step(parameters, kLr);
    Kokkos::fence();
    const auto t1 = Clock::now();
    if (k == 0) r.first_loss = value;
    r.last_loss = value;
    if (k >= kWarmupSteps) total.push_back(seconds(t0, t1));
  }
  r.step_s = median(total);

  // The pieces of the same step on the same shapes (the loss's own kernels: the rest).
  const auto map = pinn::InputMap::for_box(s.box);
  nn::Matrix<T> stacked;
  nn::taylor_input(pinn::network_input<T>(map, s.interior), stacked, map.scale);
  const nn::Matrix<T> boundary = pinn::network_input<T>(map, s.boundary);
  nn::Matrix<T> dy("dy", stacked.extent(0), 1), dyb("dyb", boundary.extent(0), 1);
  Kokkos::deep_copy(dy, T(1e-4));
  Kokkos::deep_copy(dyb, T(1e-4));
  std::vector<double> zero, ft, bt, fb, bb, adam;
  nn::Workspace<T> workspace;
  for (int k = 0; k < kWarmupSteps + kSamples; ++k) {
    const auto t0 = Clock::now();
    parameters.zero_gradients();
    Kokkos::fence();
    const auto t1 = Clock::now();
    // Two forwards per step, each with its own context, as the PINN loss runs them.
    workspace.reset();
    nn::Context<T>& interior = s.net.forward(stacked, nn::Pass::derivatives(2), workspace);
    Kokkos::fence();
    const auto t2 = Clock::now();
    s.net.backward(interior, dy);
    Kokkos::fence();
    const auto t3 = Clock::now();
    nn::Context<T>& edge = s.net.forward(boundary, nn::Pass::values(), workspace);
    Kokkos::fence();
    const auto t4 = Clock::now();
    s.net.backward(edge, dyb);
    Kokkos::fence();
    const auto t5 = Clock::now();
    optimizer->step(parameters, 1e-12);  // keep the weights (nearly) where they are
    Kokkos::fence();
    const auto t6 = Clock::now();
    if (k < kWarmupSteps) continue;
    zero.push_back(seconds(t0, t1));
    ft.push_back(seconds(t1, t2));
    bt.push_back(seconds(t2, t3));
    fb.push_back(seconds(t3, t4));
    bb.push_back(seconds(t4, t5));
    adam.push_back(seconds(t5, t6));
  }
  r.zero_s = median(zero);
  r.forward_taylor_s = median(ft);
  r.backward_taylor_s = median(bt);
  r.forward_boundary_s = median(fb);
  r.backward_boundary_s = median(bb);
  r.adam_s = median(adam);
  return r;
}

template <class T>
void print_step(const StepResult& r) {
  const double pieces = r.zero_s + r.forward_taylor_s + r.backward_taylor_s + r.forward_boundary_s +
                        r.backward_boundary_s + r.adam_s;
  std::printf(
      "Adam step %-7s %8.3f ms  %6.1f GFLOP/s  (loss %.4g -> %.4g over %d steps)\n"
      "  pieces: forward_taylor %.3f, backward_taylor %.3f, boundary forward %.3f, boundary "
      "backward %.3f, adam %.3f, zero %.3f, the loss's own kernels (step - pieces) %.3f ms\n",
      precision_name<T>(), r.step_s * 1e3, step_flops() / r.step_s * 1e-9, r.first_loss,
      r.last_loss, kWarmupSteps + kSamples, r.forward_taylor_s * 1e3, r.backward_taylor_s * 1e3,
      r.forward_boundary_s * 1e3, r.backward_boundary_s * 1e3, r.adam_s * 1e3, r.zero_s * 1e3,
      (r.step_s - pieces) * 1e3);
}

// Relative L2 error of a copy of the training network on the 65×65 nodes of the unit square.
class ErrorOnGrid {
 public:
  ErrorOnGrid(const mesh::GridShape& box, const config::PdeSpec& pde)
      : m_net(nn::make_mlp<double>(kWidths, nn::Activation::tanh), kModelSeed) {
    std::vector<double> points;
    for (long j = 0; j < box.n[1]; ++j)
      for (long i = 0; i < box.n[0]; ++i) {
        const double x = box.coordinate(0, i), y = box.coordinate(1, j);
        points.push_back(x);
        points.push_back(y);
        m_exact.push_back((*pde.exact)(x, y));
      }
    m_input = pinn::network_input<double>(pinn::InputMap::for_box(box), points);
  }
  double operator()(const nn::Parameters<double>& trained) {
    Kokkos::deep_copy(m_net.parameters().values(), trained.values());
    auto u = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_net.forward(m_input).y);
    double error = 0, norm = 0;
    for (std::size_t i = 0; i < m_exact.size(); ++i) {
      const double d = u(i, 0) - m_exact[i];
      error += d * d;
      norm += m_exact[i] * m_exact[i];
    }
    return std::sqrt(error / norm);
  }

 private:
  nn::Network<double> m_net;
  nn::Matrix<double> m_input;
  std::vector<double> m_exact;
};

struct AccuracyResult {
  std::optional<double> time_s;  // training wall time at the first error below kTarget
  long steps = 0;                // Adam steps + L-BFGS iterations done (at that point)
  double rel_l2 = 0;             // the last evaluated error
  std::string stop;              // "reached", "budget", or the L-BFGS stop reason
};

struct StopTraining {};  // thrown from L-BFGS's iteration callback to end it

AccuracyResult time_to_accuracy(const config::PdeSpec& pde) {
  Setup<double> s(pde);
  nn::Parameters<double>& parameters = s.net.parameters();
  ErrorOnGrid rel_l2(s.box, pde);
  AccuracyResult r;
  double train_s = 0;  // training time, error evaluations excluded
  auto start = Clock::now();
  // Evaluate after `steps`; true when training should stop.
  auto check = [&](const char* phase, double loss) {
    Kokkos::fence();
    train_s += seconds(start, Clock::now());
    r.rel_l2 = rel_l2(parameters);
    const bool reached = r.rel_l2 < kTarget;
    if (reached) r.time_s = train_s;
    if (reached || r.steps % kPrintEvery == 0 || train_s > kBudgetS)
      std::printf("  %-6s step %5ld  %7.2f s  loss %.3e  rel_l2 %.3e%s\n", phase, r.steps, train_s,
                  loss, r.rel_l2, reached ? "  <- target" : "");
    r.stop = reached ? "reached" : train_s > kBudgetS ? "budget" : "";
    start = Clock::now();
    return !r.stop.empty();
  };

  auto optimizer = nn::make_optimizer(nn::OptimizerOptions{}, parameters);
  nn::Schedule schedule;
  schedule.type = "cosine";
  schedule.base = kLr;
  schedule.min = 1e-5;
  schedule.total = kAdamSteps;
  for (long k = 0; k < kAdamSteps; ++k) {
    parameters.zero_gradients();
    const double loss = nn::total_loss(s.loss());
    optimizer->step(parameters, schedule.at(k));
    ++r.steps;
    if (r.steps % kEvalEvery == 0 && check("adam", loss)) return r;
  }

  nn::LbfgsOptions options;
  options.history = kLbfgsHistory;
  options.max_iterations = kLbfgsMaxIterations;
  auto evaluate = [&] {
    parameters.zero_gradients();
    return nn::total_loss(s.loss());
  };
  auto on_iteration = [&](long, double loss) {
    ++r.steps;
    if (r.steps % kEvalEvery == 0 && check("lbfgs", loss)) throw StopTraining{};
  };
  try {
    const nn::LbfgsResult result =
        nn::lbfgs_minimize<double>(parameters, evaluate, options, on_iteration);
    check("lbfgs", result.loss);  // L-BFGS ended by itself: one last look
    if (r.stop.empty()) r.stop = "lbfgs " + result.stop_reason;
  } catch (const StopTraining&) {
  }
  return r;
}

// The PyTorch figures handed over by tools/bench/pinn, if any (empty object otherwise).
nlohmann::json torch_figures() {
  const char* text = std::getenv("KARMAN_BENCH_TORCH");
  if (text == nullptr || *text == '\0') return nlohmann::json::object();
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (j.is_object() && j.contains("torch_adam_step_s_f32") && j.contains("torch_adam_step_s_f64"))
      return j;
  } catch (const nlohmann::json::exception&) {
  }
  std::fprintf(stderr,
               "bench_pinn: KARMAN_BENCH_TORCH is not the JSON of pinn_torch.py; ignored\n");
  return nlohmann::json::object();
}

int run() {
  const std::string machine = machine_description();
  std::printf("bench_pinn  %s\n%s\n", utc_now().c_str(), machine.c_str());
  std::printf(
      "Poisson 2D PINN: MLP 2-64x4-1 tanh, %ld interior + %ld boundary points, Laplacian by "
      "derivative propagation (%.2f GFLOP of GEMMs per step)\n",
      kInterior, kBoundary, step_flops() * 1e-9);
  const config::PdeSpec pde = poisson_problem();

  const StepResult s32 = time_adam_step<float>(pde);
  print_step<float>(s32);
  const StepResult s64 = time_adam_step<double>(pde);
  print_step<double>(s64);

  // KARMAN_BENCH_STEP_ONLY=1: the step timings only (profiling, A/B runs of a kernel change); the
  // accuracy keys are then null.
  const char* step_only = std::getenv("KARMAN_BENCH_STEP_ONLY");
  const bool measure_accuracy = step_only == nullptr || std::string(step_only) != "1";
  AccuracyResult accuracy;
  if (measure_accuracy) {
    std::printf(
        "Time to rel_l2 < %.0e (float64, Adam %ld steps cosine then L-BFGS, error on %ldx%ld "
        "nodes every %ld steps, budget %.0f s):\n",
        kTarget, kAdamSteps, kEvalNodes, kEvalNodes, kEvalEvery, kBudgetS);
    accuracy = time_to_accuracy(pde);
    if (accuracy.time_s)
      std::printf("reached rel_l2 %.3e after %ld steps in %.2f s of training\n", accuracy.rel_l2,
                  accuracy.steps, *accuracy.time_s);
    else
      std::printf("not reached (%s): rel_l2 %.3e after %ld steps\n", accuracy.stop.c_str(),
                  accuracy.rel_l2, accuracy.steps);
  }

  nlohmann::ordered_json j;
  j["adam_step_s_f32"] = s32.step_s;
  j["adam_step_s_f64"] = s64.step_s;
  j["adam_step_gflops_f32"] = step_flops() / s32.step_s * 1e-9;
  j["adam_step_gflops_f64"] = step_flops() / s64.step_s * 1e-9;
  j["time_to_1e-3_s"] = accuracy.time_s ? nlohmann::json(*accuracy.time_s) : nlohmann::json();
  j["time_to_1e-3_steps"] = accuracy.time_s ? nlohmann::json(accuracy.steps) : nlohmann::json();
  j["rel_l2_final"] = measure_accuracy ? nlohmann::json(accuracy.rel_l2) : nlohmann::json();
  const nlohmann::json torch = torch_figures();
  if (!torch.empty()) {
    const double t32 = torch["torch_adam_step_s_f32"].get<double>();
    const double t64 = torch["torch_adam_step_s_f64"].get<double>();
    j["torch_adam_step_s_f32"] = t32;
    j["torch_adam_step_s_f64"] = t64;
    if (torch.contains("torch_version")) j["torch_version"] = torch["torch_version"];
    if (torch.contains("torch_threads")) j["torch_threads"] = torch["torch_threads"];
    if (torch.contains("torch_config")) j["torch_config"] = torch["torch_config"];
    j["speedup_f32"] = t32 / s32.step_s;
    j["speedup_f64"] = t64 / s64.step_s;
    std::printf(
        "PyTorch %s (same problem, nested autograd): %.3f ms float32, %.3f ms float64 per Adam "
        "step; Karman %.1fx faster float32, %.1fx float64\n",
        torch.value("torch_version", std::string("?")).c_str(), t32 * 1e3, t64 * 1e3,
        t32 / s32.step_s, t64 / s64.step_s);
  } else {
    std::printf("PyTorch: not in KARMAN_BENCH_TORCH (tools/bench/pinn compares after this run)\n");
  }
  j["execution"] = execution_config();
  j["machine"] = machine;
  j["date"] = utc_now();
  std::cout << j.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return karman::bench::bench_main(argc, argv, "bench_pinn", run); }
