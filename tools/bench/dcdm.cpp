// Deep Conjugate Direction Method benchmark (issue 19, item 4; a first 2D slice), on one rank:
// the FNO direction map (operators/precond/dcdm_network.hpp) trained on Ritz vectors of the
// obstacle problem at n_train, then -ksp_type dcdm with it beside PETSc's CG with none, icc
// (IC(0)), MIC(0) (the karman PC with the modified factor), gamg and hypre at every test size and
// tolerance. Each solve: x0 = 0, b = 1 on the fluid cells, unpreconditioned residual norm;
// setup_s = KSPSetUp, solve_s = KSPSolve, best of KARMAN_BENCH_REPEATS (default 3) side by side.
// DCDM's set-up is nothing per matrix (the network is trained once: train_s, reported apart).
//
// Environment: KARMAN_BENCH_SIZES (default "64 128 256"), KARMAN_BENCH_TRAIN_N (64),
// KARMAN_BENCH_STEPS (400), KARMAN_BENCH_RITZ (200 Lanczos steps), KARMAN_BENCH_MODES (16),
// KARMAN_BENCH_REPEATS (3), KARMAN_BENCH_DCDM_MAX (1000 DCDM iterations; each is an FNO forward).
// Human-readable lines on stderr, ONE JSON object on the last line of stdout.
#include <petscksp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "karman/core/timer.hpp"
#include "operators/precond/dcdm_network.hpp"
#include "operators/precond/gnn.hpp"
#include "operators/precond/petsc_factor.hpp"
#include "operators/precond/timed_solve.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"

namespace {

using namespace karman;
using namespace karman::precond;

long env_long(const char* name, long fallback) {
  const char* text = std::getenv(name);
  return text ? std::atol(text) : fallback;
}

std::vector<long> env_sizes() {
  const char* text = std::getenv("KARMAN_BENCH_SIZES");
  std::istringstream in(text ? text : "64 128 256");
  std::vector<long> sizes;
  for (long n; in >> n;) sizes.push_back(n);
  return sizes;
}

void run(nlohmann::ordered_json& out) {
  const long train_n = env_long("KARMAN_BENCH_TRAIN_N", 64);
  const long steps = env_long("KARMAN_BENCH_STEPS", 400);
  const long ritz_steps = env_long("KARMAN_BENCH_RITZ", 200);
  const long modes = env_long("KARMAN_BENCH_MODES", 16);
  const int repeats = static_cast<int>(env_long("KARMAN_BENCH_REPEATS", 3));
  const long dcdm_max = env_long("KARMAN_BENCH_DCDM_MAX", 1000);
  const std::int64_t shapes = 6;
  const std::uint64_t shape_seed = 4;

  // Training: Ritz vectors of the n_train matrix, 400 Adam steps of batch 8 (the unit test's
  // recipe at a larger size).
  Timer train_timer;
  const ObstacleGrid train_grid =
      obstacle_poisson_2d(train_n, obstacles_2d(train_n, shapes, shape_seed));
  const RitzPairs ritz = lanczos_ritz_pairs(train_grid.a, ritz_steps, 1);
  const auto vectors = ritz_training_vectors(ritz, 512, 0, 9.0, 2);
  const auto held_out = ritz_training_vectors(ritz, 32, 0, 9.0, 3);
  const double ritz_s = train_timer.seconds();
  fno::FnoSpec spec;
  spec.modes = {modes, modes};
  spec.width = 16;
  spec.layers = 3;
  spec.projection = 32;
  spec.padding = {0, 0};
  spec.seed = 5;
  DcdmNetwork network(spec);
  nn::OptimizerOptions adam;
  auto optimizer = nn::make_optimizer<double>(adam, network.parameters());
  const double loss_before = network.mean_loss(train_grid, held_out);
  const std::size_t batch = 8;
  for (long step = 0; step < steps; ++step) {
    const std::size_t first = (step * batch) % vectors.size();
    network.train_step(train_grid, {vectors.begin() + first, vectors.begin() + first + batch},
                       *optimizer, 3e-3);
  }
  const double loss_after = network.mean_loss(train_grid, held_out);
  const double train_s = train_timer.seconds();
  std::fprintf(stderr,
               "trained at %ld^2 (%ld fluid cells): Ritz %.2f s, %ld steps, total %.2f s; held-out "
               "loss %.4g -> %.4g; %zu parameters\n",
               train_n, static_cast<long>(train_grid.a.rows), ritz_s, steps, train_s, loss_before,
               loss_after, network.parameters().size());
  out["training"] = {{"n", train_n},
                     {"ritz_steps", ritz_steps},
                     {"steps", steps},
                     {"modes", modes},
                     {"ritz_s", ritz_s},
                     {"train_s", train_s},
                     {"loss_before", loss_before},
                     {"loss_after", loss_after},
                     {"params", network.parameters().size()}};

  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  std::fprintf(stderr, "%6s %9s %6s %8s %6s %10s %10s %10s\n", "n", "rows", "rtol", "method",
               "iters", "setup_s", "solve_s", "total_s");
  for (long n : env_sizes()) {
    const ObstacleGrid grid = obstacle_poisson_2d(n, obstacles_2d(n, shapes, shape_seed));
    petsc::Mat a;
    create_seq_aij(grid.a, a.out());
    for (double rtol : {1e-4, 1e-8}) {
      const std::vector<std::pair<std::string, std::function<TimedSolve()>>> methods = {
          {"none", [&] { return timed_solve(a, KSPCG, rtol, 10000, repeats, pc_of_type(PCNONE)); }},
          {"icc", [&] { return timed_solve(a, KSPCG, rtol, 10000, repeats, pc_of_type(PCICC)); }},
          {"mic0", [&] { return timed_solve(a, KSPCG, rtol, 10000, repeats, mic0_pc); }},
          {"gamg", [&] { return timed_solve(a, KSPCG, rtol, 10000, repeats, pc_of_type(PCGAMG)); }},
          {"hypre",
           [&] { return timed_solve(a, KSPCG, rtol, 10000, repeats, pc_of_type(PCHYPRE)); }},
          {"dcdm", [&] {
             return timed_solve(a, "dcdm", rtol, dcdm_max, repeats,
                                [&](PC pc) { set_network_pc(pc, network, grid); });
           }}};
      for (const auto& [name, method] : methods) {
        const TimedSolve t = method();
        std::fprintf(stderr, "%6ld %9ld %6.0e %8s %6ld %10.4f %10.4f %10.4f\n", n,
                     static_cast<long>(grid.a.rows), rtol, name.c_str(), t.iterations, t.setup_s,
                     t.solve_s, t.setup_s + t.solve_s);
        rows.push_back({{"n", n},
                        {"rows", grid.a.rows},
                        {"rtol", rtol},
                        {"method", name},
                        {"iterations", t.iterations},
                        {"setup_s", t.setup_s},
                        {"solve_s", t.solve_s},
                        {"total_s", t.setup_s + t.solve_s}});
      }
    }
  }
  out["solves"] = rows;
}

}  // namespace

int main(int argc, char** argv) {
  return karman::bench::bench_main(argc, argv, "bench_dcdm", [&] {
    if (PetscInitialize(&argc, &argv, nullptr, nullptr)) return 1;
    karman::petsc::install_error_handler();
    register_karman_pc();
    register_dcdm_ksp();
    nlohmann::ordered_json out;
    out["benchmark"] = "dcdm";
    out["machine"] = karman::bench::machine_description();
    out["date"] = karman::bench::utc_now();
    run(out);
    std::printf("%s\n", out.dump().c_str());
    PetscFinalize();
    return 0;
  });
}
