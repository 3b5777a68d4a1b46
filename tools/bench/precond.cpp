// Learned CG preconditioner benchmark (issue 6): where the learned factor's set-up time goes,
// beside the set-up of PETSc's IC(0) and GAMG on the same matrix, on one rank.
//
// For the 2D 5-point Poisson matrix at each n (default 128, 256, 512, 1024; KARMAN_BENCH_SIZES
// overrides), with an untrained GNN of the default shape (width 16, 3 layers: the set-up cost does
// not depend on the weights), the median over repeats of:
//   block_s     local_diagonal_block (AIJ → CSR copy)
//   pattern_s   lower_pattern (tril(A) with its map into A)
//   ic0_s       ic0_values (the reference factor the GNN corrects)
//   graph_s     make_matrix_graph (features, incidence lists, device copies)
//   forward_s   FactorGnn::forward (the training forward, every activation kept: the reference)
//   infer_s     FactorGnn::infer (the inference-only forward the PC's set-up runs)
//   learned_setup_s  KSPSetUp with -pc_type karman and the GNN provider (all of the above + copies)
//   learned_setup_first_s  the same, the first call of a fresh network (its buffers allocated)
//   icc_setup_s, gamg_setup_s   KSPSetUp with -pc_type icc / gamg
//   learned_over_gamg, learned_first_over_gamg   learned set-up (steady, first) / GAMG's set-up
// KARMAN_BENCH_CG=0 skips the CG solves (IC(0) and MIC(0) iterations), which dominate at 1024².
// Human-readable lines, then ONE JSON object on the last line of stdout:
//   tools/bench/precond | tail -n 1 > precond.json
#include <petscksp.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "karman/core/timer.hpp"
#include "operators/precond/training.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"

namespace {

using namespace karman;
using namespace karman::precond;

std::vector<long> sizes_from_environment() {
  const char* text = std::getenv("KARMAN_BENCH_SIZES");
  if (!text) return {128, 256, 512, 1024};
  std::vector<long> sizes;
  std::istringstream in(text);
  for (long n; in >> n;) sizes.push_back(n);
  return sizes;
}

// Median wall seconds of `body` over `repeats` calls.
double time_median(int repeats, const std::function<void()>& body) {
  std::vector<double> seconds;
  for (int r = 0; r < repeats; ++r) {
    Timer timer;
    body();
    seconds.push_back(timer.seconds());
  }
  return bench::median(seconds);
}

// KSPSetUp of CG on `a` with the PC `configure` sets up; a fresh KSP each call.
double setup_seconds(Mat a, const std::function<void(PC)>& configure) {
  petsc::KSP ksp;
  KARMAN_PETSC(KSPCreate(PETSC_COMM_SELF, ksp.out()));
  KARMAN_PETSC(KSPSetOperators(ksp, a, a));
  KARMAN_PETSC(KSPSetType(ksp, KSPCG));
  PC pc;
  KARMAN_PETSC(KSPGetPC(ksp, &pc));
  configure(pc);
  Timer timer;
  KARMAN_PETSC(KSPSetUp(ksp));
  return timer.seconds();
}

nlohmann::json measure(long n, FactorGnn& gnn, int repeats) {
  petsc::Mat a;
  create_poisson_2d(PETSC_COMM_SELF, n, a.out());
  CsrMatrix block;
  LowerPattern lower;
  std::vector<double> ic0;
  MatrixGraph graph;
  nlohmann::json r = {{"n", n}, {"rows", n * n}};
  // The first set-up at a new size, before anything else touches that much memory: a fresh
  // network allocates its buffers (what a run pays once per matrix); learned_setup_s below is the
  // steady cost of a refactorisation.
  r["learned_setup_first_s"] = time_median(1, [&] {
    FactorGnn fresh(FactorGnnOptions{}, 7);
    setup_seconds(a, [&](PC pc) {
      KARMAN_PETSC(PCSetType(pc, "karman"));
      pc_karman_set_factor_provider(pc, gnn_factor_provider(fresh));
    });
  });
  r["block_s"] = time_median(repeats, [&] { block = local_diagonal_block(a); });
  r["pattern_s"] = time_median(repeats, [&] { lower = lower_pattern(block); });
  r["ic0_s"] = time_median(repeats, [&] { ic0 = ic0_values(block, lower); });
  r["graph_s"] = time_median(repeats, [&] { graph = make_matrix_graph(block, ic0); });
  r["forward_s"] = time_median(repeats, [&] {
    gnn.forward(graph);
    Kokkos::fence();
  });
  r["infer_s"] = time_median(repeats, [&] {
    gnn.infer(graph);
    Kokkos::fence();
  });
  const FactorProvider provider = gnn_factor_provider(gnn);
  r["learned_setup_s"] = time_median(repeats, [&] {
    setup_seconds(a, [&](PC pc) {
      KARMAN_PETSC(PCSetType(pc, "karman"));
      pc_karman_set_factor_provider(pc, provider);
    });
  });
  for (const char* pc_type : {"icc", "gamg"})
    r[std::string(pc_type) + "_setup_s"] = time_median(repeats, [&] {
      setup_seconds(a, [pc_type](PC pc) { KARMAN_PETSC(PCSetType(pc, pc_type)); });
    });
  const double gamg = r["gamg_setup_s"].get<double>();
  r["learned_over_gamg"] = r["learned_setup_s"].get<double>() / gamg;
  r["learned_first_over_gamg"] = r["learned_setup_first_s"].get<double>() / gamg;
  std::printf(
      "n %5ld: block %.4f pattern %.4f ic0 %.4f graph %.4f forward %.4f infer %.4f | learned "
      "setup %.4f (first %.4f), icc %.4f, gamg %.4f s | learned / gamg %.3f (first %.3f)\n",
      n, r["block_s"].get<double>(), r["pattern_s"].get<double>(), r["ic0_s"].get<double>(),
      r["graph_s"].get<double>(), r["forward_s"].get<double>(), r["infer_s"].get<double>(),
      r["learned_setup_s"].get<double>(), r["learned_setup_first_s"].get<double>(),
      r["icc_setup_s"].get<double>(), gamg, r["learned_over_gamg"].get<double>(),
      r["learned_first_over_gamg"].get<double>());
  std::fflush(stdout);
  const char* cg = std::getenv("KARMAN_BENCH_CG");
  if (cg && std::string(cg) == "0") return r;
  // CG (rtol 1e-8, the cases' settings) with PETSc's IC(0) and Karman's MIC(0) on the same pattern.
  const CgRun icc = timed_cg(a, "icc");
  const CgRun mic0 = timed_cg(a, [](const CsrMatrix& block, const LowerPattern& pattern) {
    return mic0_values(block, pattern);
  });
  r["icc"] = {{"iterations", icc.iterations}, {"setup_s", icc.setup_s}, {"solve_s", icc.solve_s}};
  r["mic0"] = {
      {"iterations", mic0.iterations}, {"setup_s", mic0.setup_s}, {"solve_s", mic0.solve_s}};
  std::printf("n %5ld: CG iterations IC(0) %ld (solve %.3f s), MIC(0) %ld (solve %.3f s)\n", n,
              icc.iterations, icc.solve_s, mic0.iterations, mic0.solve_s);
  return r;
}

int run() {
  register_karman_pc();
  FactorGnnOptions options;  // width 16, 3 layers: the precond cases' model
  FactorGnn gnn(options, 7);
  nlohmann::json results = nlohmann::json::array();
  for (long n : sizes_from_environment()) results.push_back(measure(n, gnn, n >= 1024 ? 3 : 5));
  const nlohmann::json out = {{"benchmark", "precond_setup"},
                              {"execution", bench::execution_config()},
                              {"machine", bench::machine_description()},
                              {"utc", bench::utc_now()},
                              {"gnn", {{"width", options.width}, {"layers", options.layers}}},
                              {"results", results}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return karman::bench::bench_main(argc, argv, "bench_precond", [&] {
    if (PetscInitialize(&argc, &argv, nullptr, nullptr)) return 1;
    karman::petsc::install_error_handler();
    const int status = run();
    PetscFinalize();
    return status;
  });
}
