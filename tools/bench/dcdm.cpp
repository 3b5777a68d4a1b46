// Deep Conjugate Direction Method benchmark (issue 19, items 4-5), on one rank: DCDM with the
// trained CNN direction maps of the cases (kind-dcdm checkpoint.h5 files: the 2D obstacle model
// of cases/precond/dcdm_cnn_obstacles2d.yaml, the 3D one of dcdm_poisson3d.yaml) at large grids
// (default 1024² and 128³) beside PETSc's CG with none, icc (IC(0)), MIC(0) (the karman PC with
// the modified factor), gamg and hypre, at every tolerance. Each solve: x0 = 0, b = 1 on the fluid
// cells, unpreconditioned residual norm; setup_s = KSPSetUp, solve_s = KSPSolve, total = both,
// the best of KARMAN_BENCH_REPEATS side by side (DCDM: of KARMAN_BENCH_DCDM_REPEATS, each of its
// iterations being a network forward on the whole grid). DCDM's set-up is nothing per matrix (the
// network was trained once, by the case). A DCDM solve that misses a tolerance within
// KARMAN_BENCH_DCDM_MAX iterations is not run at a tighter one (the same iterates: it misses it
// too; reported as iterations −1 and "implied": true).
//
// The problem is the cases' (6 obstacles, seed 4; KARMAN_BENCH_OBSTACLES, KARMAN_BENCH_SEED).
// Environment: KARMAN_BENCH_MODEL_2D / KARMAN_BENCH_MODEL_3D (checkpoint files; a dimension
// without one is skipped), KARMAN_BENCH_SIZES_2D ("1024"), KARMAN_BENCH_SIZES_3D ("128"),
// KARMAN_BENCH_RTOLS ("1e-4 1e-8"), KARMAN_BENCH_DCDM_RTOLS (the tolerances DCDM is run at, by
// default all; at the others its row says "skipped": true), KARMAN_BENCH_REPEATS (3),
// KARMAN_BENCH_DCDM_REPEATS (1), KARMAN_BENCH_DCDM_MAX (300).
// Human-readable lines on stderr, ONE JSON object on the last line of stdout.
#include <petscksp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "karman/nn/checkpoint.hpp"
#include "operators/precond/dcdm_network.hpp"
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

template <class T>
std::vector<T> env_list(const char* name, const char* fallback) {
  const char* text = std::getenv(name);
  std::istringstream in(text ? text : fallback);
  std::vector<T> values;
  for (T v; in >> v;) values.push_back(v);
  return values;
}

// The CNN of a kind-dcdm checkpoint.h5 (its architecture from the stored model_* scalars).
std::unique_ptr<DcdmNetwork> load_cnn(const std::string& file) {
  const nn::Checkpoint c = nn::load_checkpoint(MPI_COMM_SELF, file);
  const auto type = c.strings.find("model_type");
  if (c.strings.count("kind") == 0 || c.strings.at("kind") != "dcdm" || type == c.strings.end() ||
      type->second != "cnn")
    throw std::runtime_error(file + ": not a kind-dcdm checkpoint of a CNN direction map");
  const auto scalar = [&](const std::string& key) {
    const auto it = c.scalars.find(key);
    if (it == c.scalars.end()) throw std::runtime_error(file + ": no " + key);
    return it->second;
  };
  CnnSpec spec;
  spec.dims = static_cast<int>(scalar("model_dims"));
  spec.width = static_cast<long>(scalar("model_width"));
  spec.levels = static_cast<long>(scalar("model_levels"));
  spec.blocks = static_cast<long>(scalar("model_blocks"));
  spec.coarsest = static_cast<long>(scalar("model_coarsest"));
  spec.activation = static_cast<nn::Activation>(static_cast<int>(scalar("model_activation")));
  spec.mask_features = scalar("model_mask_features") != 0.0;
  // Checkpoints written before the symmetric map existed have no model_symmetric: a plain map.
  const auto symmetric = c.scalars.find("model_symmetric");
  spec.symmetric = symmetric != c.scalars.end() && symmetric->second != 0.0;
  // The bench feeds the network A itself; a map trained on D^-1/2 A D^-1/2 would be misused.
  const auto scaling = c.strings.find("model_scaling");
  if (scaling != c.strings.end() && scaling->second != "none")
    throw std::runtime_error(file + ": model_scaling " + scaling->second +
                             " (the bench runs maps trained with scaling none)");
  auto network = std::make_unique<DcdmNetwork>(spec);
  nn::restore_parameters(c, network->parameters(), file);
  std::fprintf(stderr, "%dD CNN loaded from %s (%zu parameters)\n", spec.dims, file.c_str(),
               network->parameters().size());
  return network;
}

// Every solver on the obstacle problem of `dims` at each size and tolerance, appended to `rows`.
void bench_dimension(int dims, DcdmNetwork& network, const std::vector<long>& sizes,
                     nlohmann::ordered_json& rows) {
  const std::int64_t shapes = env_long("KARMAN_BENCH_OBSTACLES", 6);
  const std::uint64_t seed = static_cast<std::uint64_t>(env_long("KARMAN_BENCH_SEED", 4));
  const int repeats = static_cast<int>(env_long("KARMAN_BENCH_REPEATS", 3));
  const int dcdm_repeats = static_cast<int>(env_long("KARMAN_BENCH_DCDM_REPEATS", 1));
  const long dcdm_max = env_long("KARMAN_BENCH_DCDM_MAX", 300);
  for (long n : sizes) {
    const ObstacleGrid grid = dims == 3 ? obstacle_poisson_3d(n, obstacles_3d(n, shapes, seed))
                                        : obstacle_poisson_2d(n, obstacles_2d(n, shapes, seed));
    petsc::Mat a;
    create_seq_aij(grid.a, a.out());
    bool dcdm_missed = false;  // at a looser tolerance: the tighter ones are missed too
    const std::vector<double> rtols = env_list<double>("KARMAN_BENCH_RTOLS", "1e-4 1e-8");
    const char* dcdm_rtols_text = std::getenv("KARMAN_BENCH_DCDM_RTOLS");
    const std::vector<double> dcdm_rtols =
        dcdm_rtols_text ? env_list<double>("KARMAN_BENCH_DCDM_RTOLS", "") : rtols;
    for (double rtol : rtols) {
      const auto cg = [&](std::function<void(PC)> pc) {
        return [&a, rtol, repeats, pc] { return timed_solve(a, KSPCG, rtol, 10000, repeats, pc); };
      };
      const std::vector<std::pair<std::string, std::function<TimedSolve()>>> methods = {
          {"none", cg(pc_of_type(PCNONE))},
          {"icc", cg(pc_of_type(PCICC))},
          {"mic0", cg(mic0_pc)},
          {"gamg", cg(pc_of_type(PCGAMG))},
          {"hypre", cg(pc_of_type(PCHYPRE))},
          {"dcdm", [&] {
             return timed_solve(a, "dcdm", rtol, dcdm_max, dcdm_repeats,
                                [&](PC pc) { set_network_pc(pc, network, grid); });
           }}};
      for (const auto& [name, method] : methods) {
        const bool implied = name == "dcdm" && dcdm_missed;
        const bool skipped = name == "dcdm" && std::find(dcdm_rtols.begin(), dcdm_rtols.end(),
                                                         rtol) == dcdm_rtols.end();
        TimedSolve t;
        if (implied || skipped)
          t.iterations = -1;
        else
          t = method();
        if (name == "dcdm" && t.iterations < 0) dcdm_missed = true;
        std::fprintf(stderr, "%3dD %6ld %9ld %6.0e %8s %6ld %10.4f %10.4f %10.4f%s\n", dims, n,
                     static_cast<long>(grid.a.rows), rtol, name.c_str(), t.iterations, t.setup_s,
                     t.solve_s, t.setup_s + t.solve_s,
                     implied   ? " (implied)"
                     : skipped ? " (skipped)"
                               : "");
        rows.push_back({{"dim", dims},
                        {"n", n},
                        {"rows", grid.a.rows},
                        {"rtol", rtol},
                        {"method", name},
                        {"iterations", t.iterations},
                        {"implied", implied},
                        {"skipped", skipped},
                        {"setup_s", t.setup_s},
                        {"solve_s", t.solve_s},
                        {"total_s", t.setup_s + t.solve_s}});
      }
    }
  }
}

void run(nlohmann::ordered_json& out) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  std::fprintf(stderr, "%4s %6s %9s %6s %8s %6s %10s %10s %10s\n", "dim", "n", "rows", "rtol",
               "method", "iters", "setup_s", "solve_s", "total_s");
  const std::vector<std::pair<int, const char*>> dimensions = {{2, "KARMAN_BENCH_MODEL_2D"},
                                                               {3, "KARMAN_BENCH_MODEL_3D"}};
  for (const auto& [dims, variable] : dimensions) {
    const char* file = std::getenv(variable);
    if (!file) {
      std::fprintf(stderr, "%s not set: %dD skipped\n", variable, dims);
      continue;
    }
    const std::unique_ptr<DcdmNetwork> network = load_cnn(file);
    out["models"][std::to_string(dims) + "d"] = file;
    bench_dimension(dims, *network,
                    env_list<long>(dims == 3 ? "KARMAN_BENCH_SIZES_3D" : "KARMAN_BENCH_SIZES_2D",
                                   dims == 3 ? "128" : "1024"),
                    rows);
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
