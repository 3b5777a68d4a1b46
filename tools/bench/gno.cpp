// bench_gno: cost of one training step of the graph neural operator's kernel integral layer
// (nn::KernelIntegral: Li et al. 2020's graph kernel network layer) on the GKN Darcy graph, one
// variant per process so that the process's peak RSS is the variant's. Run it through
// tools/bench/gno (builds first, runs every variant and PyTorch's, prints the comparison).
// Human-readable lines first, then ONE JSON object on the last line.
//
// Workload: a side × side grid on [0, 1]² (61 × 61 = 3,721 nodes in GKN's Darcy benchmark), its
// radius graph at radius 0.1 (mesh::radius_graph: directed, both directions, no self-loops),
// width w = 64, kernel rank R (GKN's ker_width: the kernel network's last hidden width, 1024 in
// the reference code), float32. The layer's inputs are random: v [N, 64] and g [E, R] (the
// kernel network's last hidden layer, as ReLU outputs: |N(0, 1)|), model seed 1.
// One training step = forward (v' = v W + b + mean_j κ(e_ij) v_j) + MSE loss of v' against a
// random target + backward (dv, dg and the parameter gradients, accumulated). After kWarmup
// steps, `--repeats` steps are timed one by one (steady_clock, Kokkos::fence before each stop);
// the median is reported, with the forward and the backward timed the same way.
//
// Variants: --path factored (the default evaluation) or materialized (κ [E, w·w] formed per edge,
// as the GKN code). A variant whose working_bytes (the layer's own buffers, what
// nn::KernelIntegral::working_bytes counts) plus the inputs v, g exceed --budget-gb is not run:
// its JSON carries the bytes it would need and "skipped".
//
// Usage: bench_gno --side 61 --rank 64 --path factored [--repeats 5] [--budget-gb 6]
// JSON keys: side, nodes, edges, width, rank, path, working_bytes, input_bytes, step_s,
// forward_s, backward_s, peak_rss_bytes, blas_threads, kokkos, skipped (when not run), machine,
// date (UTC).

#include <sys/resource.h>

#include <Kokkos_Core.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "karman/core/error.hpp"
#include "karman/core/random.hpp"
#include "karman/mesh/radius_graph.hpp"
#include "karman/nn/gemm.hpp"
#include "karman/nn/kernel_integral.hpp"
#include "karman/nn/loss.hpp"

using namespace karman;

namespace {

using namespace karman::bench;
using T = float;
using Clock = std::chrono::steady_clock;

constexpr int kWarmup = 1;
constexpr std::size_t kWidth = 64;
constexpr double kRadius = 0.1;

struct Arguments {
  long side = 61;
  std::size_t rank = 64;
  bool materialized = false;
  int repeats = 5;
  double budget_gb = 6.0;
};

Arguments parse(int argc, char** argv) {
  Arguments a;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    const auto value = [&]() -> std::string {
      KARMAN_VERIFY(i + 1 < argc, "bench_gno: " + key + " needs a value");
      return argv[++i];
    };
    if (key == "--side")
      a.side = std::stol(value());
    else if (key == "--rank")
      a.rank = std::stoul(value());
    else if (key == "--path") {
      const std::string path = value();
      KARMAN_VERIFY(path == "factored" || path == "materialized",
                    "bench_gno: --path is factored or materialized, not " + path);
      a.materialized = path == "materialized";
    } else if (key == "--repeats")
      a.repeats = std::stoi(value());
    else if (key == "--budget-gb")
      a.budget_gb = std::stod(value());
    // Anything else (Kokkos options) is Kokkos's.
  }
  return a;
}

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// side × side grid points on [0, 1]², row-major (x fastest).
std::vector<double> grid_points(long side) {
  std::vector<double> x;
  for (long r = 0; r < side; ++r)
    for (long c = 0; c < side; ++c) {
      x.push_back(static_cast<double>(c) / static_cast<double>(side - 1));
      x.push_back(static_cast<double>(r) / static_cast<double>(side - 1));
    }
  return x;
}

nn::Matrix<T> random_matrix(std::size_t rows, std::size_t cols, std::uint64_t seed,
                            bool absolute = false) {
  nn::Matrix<T> m("m", rows, cols);
  auto h = Kokkos::create_mirror_view(m);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) {
      const double z = standard_normal(seed, i * cols + j);
      h(i, j) = static_cast<T>(absolute ? std::abs(z) : z);
    }
  Kokkos::deep_copy(m, h);
  return m;
}

std::size_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::size_t>(usage.ru_maxrss) * 1024;  // Linux: kB
}

int run(const Arguments& a) {
  const std::string machine = machine_description();
  const mesh::Graph graph = mesh::radius_graph(grid_points(a.side), 2, kRadius);
  const std::size_t nodes = graph.nodes, edges = graph.edges;
  nn::KernelIntegralOptions o;
  o.width = kWidth;
  o.rank = a.rank;
  o.materialized = a.materialized;
  nn::KernelIntegral<T> layer(o);
  const std::size_t working = layer.working_bytes(nodes, edges);
  // v, target, dy [N, w] and g [E, R]: the caller's buffers.
  const std::size_t inputs = (3 * nodes * kWidth + edges * a.rank) * sizeof(T);

  nlohmann::ordered_json j;
  j["side"] = a.side;
  j["nodes"] = nodes;
  j["edges"] = edges;
  j["width"] = kWidth;
  j["rank"] = a.rank;
  j["path"] = a.materialized ? "materialized" : "factored";
  j["working_bytes"] = working;
  j["input_bytes"] = inputs;
  j["blas_threads"] = nn::blas_threads();
  j["kokkos"] = Kokkos::DefaultExecutionSpace::name();
  std::printf(
      "bench_gno  %s\n%s\n%ld x %ld grid, radius %.2f: %zu nodes, %zu edges; width %zu, "
      "rank %zu, %s: working memory %.3f GB (+ inputs %.3f GB)\n",
      utc_now().c_str(), machine.c_str(), a.side, a.side, kRadius, nodes, edges, kWidth, a.rank,
      a.materialized ? "materialized" : "factored", working / 1e9, inputs / 1e9);
  if ((working + inputs) / 1e9 > a.budget_gb) {
    j["skipped"] = "needs " + std::to_string((working + inputs) / 1e9) + " GB, above the budget " +
                   std::to_string(a.budget_gb) + " GB (--budget-gb)";
    std::printf("  skipped: above the memory budget of %.1f GB\n", a.budget_gb);
  } else {
    nn::Parameters<T> parameters;
    layer.declare(parameters, "kernel.");
    parameters.allocate();
    layer.initialize(1);
    const nn::Matrix<T> v = random_matrix(nodes, kWidth, 11);
    const nn::Matrix<T> g = random_matrix(edges, a.rank, 12, true);
    const nn::Matrix<T> target = random_matrix(nodes, kWidth, 13);
    const nn::Matrix<T> dy("dy", nodes, kWidth), de_out("de_out", edges, 0);
    nn::Workspace<T> workspace;
    std::vector<double> steps, forwards, backwards;
    double loss = 0;
    for (int k = 0; k < kWarmup + a.repeats; ++k) {
      const auto t0 = Clock::now();
      workspace.reset();
      nn::GraphContext<T>& c = layer.forward(graph, v, g, nn::Pass::values(), workspace);
      loss = nn::mse_loss(c.h_out, target, dy, nodes);
      Kokkos::fence();
      const auto t1 = Clock::now();
      layer.backward(c, dy, de_out);
      Kokkos::fence();
      const auto t2 = Clock::now();
      if (k < kWarmup) continue;
      steps.push_back(seconds(t0, t2));
      forwards.push_back(seconds(t0, t1));
      backwards.push_back(seconds(t1, t2));
    }
    j["step_s"] = median(steps);
    j["forward_s"] = median(forwards);
    j["backward_s"] = median(backwards);
    j["loss"] = loss;
    std::printf("  training step %.1f ms (forward + loss %.1f, backward %.1f), median of %d\n",
                median(steps) * 1e3, median(forwards) * 1e3, median(backwards) * 1e3, a.repeats);
  }
  j["peak_rss_bytes"] = peak_rss_bytes();
  std::printf("  peak RSS %.3f GB\n", peak_rss_bytes() / 1e9);
  j["execution"] = execution_config();
  j["machine"] = machine;
  j["date"] = utc_now();
  std::cout << j.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench_main(argc, argv, "bench_gno", [&] { return run(parse(argc, argv)); });
}
