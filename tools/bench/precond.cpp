// Learned CG preconditioner benchmark (issues 6 and 19): where the learned factor's set-up time
// goes, beside the set-up of PETSc's IC(0), GAMG and hypre on the same matrix, and CG with every
// preconditioner side by side, on one rank.
//
// Matrices: the 2D 5-point Poisson matrix at n² (KARMAN_BENCH_SIZES_2D, default "512 1024") and
// the 3D 7-point one at n³ (KARMAN_BENCH_SIZES_3D, default "64 128"). The GNN is MIC(0) with a
// learned per-row perturbation (model.correction relaxation), width 16, 3 layers, untrained (its
// factor is then MIC(0) exactly; the set-up cost does not depend on the weights), unless
// KARMAN_BENCH_MODEL_2D / KARMAN_BENCH_MODEL_3D name a kind-precond checkpoint.h5: its width,
// layers, correction and bounds then replace these (the JSON's "gnn" records the shapes).
// FactorGnn::infer runs in float32 (the set-up's default) or, with KARMAN_BENCH_INFERENCE=float64,
// in double (the A/B of the two).
//
// Set-up, per matrix, best of KARMAN_BENCH_REPEATS (default 3) of each stage the PC's set-up runs
// (gnn_factor_provider and PC karman's setup, in order):
//   block_s      local_block (the AIJ diagonal block → CSR, with the dropped coupling)
//   pattern_s    lower_pattern (tril(A) with its map into A)
//   reference_s  reference_values (MIC(0), the factor the GNN corrects; the relaxation model's
//                set-up takes it from its RelaxedIc inside graph_s instead, so there it is only
//                the figure to compare with)
//   graph_s      make_matrix_graph (features, incidence lists); for relaxation
//                make_relaxation_graph (also the RelaxedIc and its MIC(0) reference)
//   infer_s      FactorGnn::infer (the inference-only forward; for relaxation with the RelaxedIc
//                factorisation of the predicted ω, δ), to the fence
//   relaxed_factor_s  RelaxedIc::factor alone (relaxation; 0 otherwise)
//   copy_s       the factor's values to the host (std::vector)
//   factor_s     require_positive_diagonal + FactorSolver (the compact L the PC applies)
//   learned_setup_first_s   KSPSetUp with -pc_type karman and the GNN provider, the first call of
//                           a fresh network at this size (its buffers allocated and first touched)
//   learned_setup_s         the same, steady (the network's buffers exist: a refactorisation)
//   {icc,mic0,gamg,hypre}_setup_s   KSPSetUp with that PC (mic0: -pc_type karman, MIC(0) factor)
//   gamg_square_setup_s (_cpu_s)  GAMG with one level of aggressive coarsening (below), the
//                           cheaper GAMG set-up; learned_over_gamg_square_cpu
//   learned_over_gamg (steady), learned_first_over_gamg: the target is ≤ 0.25
//   infer_cpu_s, learned_setup_cpu_s, gamg_setup_cpu_s, learned_over_gamg_cpu: the same as process
//   CPU seconds (one thread: less disturbed by other jobs on a shared machine than wall time)
// Solves (KARMAN_BENCH_SOLVES_2D default "1024", _3D default "128"; KARMAN_BENCH_CG=0 skips them):
// CG, unpreconditioned residual norm, b = 1, x0 = 0, rtol 1e-8, with none, jacobi, icc, mic0,
// learned, gamg (PETSc's defaults: smoothed aggregation), gamg_agg0 (-pc_gamg_agg_nsmooths 0),
// gamg_square (one level of aggressive coarsening, -pc_gamg_square_graph 1) and hypre: iterations,
// set-up (KSPSetUp), inference (the learned provider's own time within set-up), solve (KSPSolve)
// and total, each time the best of the repeats (timed_solve.hpp; a solve that does not converge
// within 20000 iterations is not repeated). KARMAN_BENCH_PCS (e.g. "none jacobi") runs only those
// PCs (the slow unpreconditioned solves can then run with fewer repeats in a process of their own;
// "repeats" in the JSON says how many). Human-readable lines on stderr, then ONE JSON object on the
// last line of stdout:
//   tools/bench/precond | tail -n 1 > precond.json
#include <petscksp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "karman/core/timer.hpp"
#include "karman/nn/checkpoint.hpp"
#include "operators/precond/timed_solve.hpp"
#include "operators/precond/training.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"

namespace {

using namespace karman;
using namespace karman::precond;
using Json = nlohmann::ordered_json;

constexpr double kRtol = 1e-8;
constexpr long kMaxIterations = 20000;

std::vector<long> env_sizes(const char* name, const char* fallback) {
  const char* text = std::getenv(name);
  std::istringstream in(text ? text : fallback);
  std::vector<long> sizes;
  for (long n; in >> n;) sizes.push_back(n);
  return sizes;
}

// The words of an environment variable (empty when unset).
std::vector<std::string> env_words(const char* name) {
  const char* text = std::getenv(name);
  std::istringstream in(text ? text : "");
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

int env_int(const char* name, int fallback) {
  const char* text = std::getenv(name);
  return text ? std::atoi(text) : fallback;
}

// Best (minimum) wall seconds of `body` over `repeats` calls; `cpu_s`, when given, receives the
// best process CPU seconds (std::clock) of the calls: on a machine shared with other jobs the CPU
// time of a single-threaded body is the less disturbed figure.
double time_best(int repeats, const std::function<void()>& body, double* cpu_s = nullptr) {
  double best = std::numeric_limits<double>::infinity();
  double best_cpu = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeats; ++r) {
    const std::clock_t cpu_start = std::clock();
    Timer timer;
    body();
    best = std::min(best, timer.seconds());
    best_cpu = std::min(best_cpu, static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC);
  }
  if (cpu_s) *cpu_s = best_cpu;
  return best;
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

// Width 16, 3 layers, MIC(0) with a learned per-row perturbation (model.correction relaxation,
// relaxation_bound 0); a checkpoint's width, layers, correction and bounds, when it records them,
// replace these.
FactorGnnOptions bench_model(const nn::Checkpoint* checkpoint) {
  FactorGnnOptions options;
  options.reference = ReferenceFactor::mic0;
  options.correction = Correction::relaxation;
  options.relaxation_bound = 0.0;
  const char* inference = std::getenv("KARMAN_BENCH_INFERENCE");
  if (inference && std::string(inference) == "float64")
    options.inference = InferencePrecision::float64;
  if (!checkpoint) return options;
  const auto correction = checkpoint->strings.find("correction");
  if (correction != checkpoint->strings.end())
    options.correction =
        correction->second == "relaxation" ? Correction::relaxation : Correction::multiplicative;
  const auto scalar = [checkpoint](const char* name, double& value) {
    const auto it = checkpoint->scalars.find(name);
    if (it != checkpoint->scalars.end()) value = it->second;
  };
  double width = static_cast<double>(options.width), layers = static_cast<double>(options.layers);
  scalar("model_width", width);
  scalar("model_layers", layers);
  options.width = static_cast<std::size_t>(width);
  options.layers = static_cast<std::size_t>(layers);
  scalar("correction_bound", options.correction_bound);
  scalar("relaxation_bound", options.relaxation_bound);
  scalar("shift_bound", options.shift_bound);
  return options;
}

// A network of bench_model()'s shape, with the parameters of `checkpoint` when one is given.
std::unique_ptr<FactorGnn> make_gnn(const std::string& checkpoint) {
  if (checkpoint.empty()) return std::make_unique<FactorGnn>(bench_model(nullptr), 7);
  const nn::Checkpoint c = nn::load_checkpoint(PETSC_COMM_SELF, checkpoint);
  auto gnn = std::make_unique<FactorGnn>(bench_model(&c), 7);
  nn::restore_parameters(c, gnn->parameters(), checkpoint);
  return gnn;
}

// GAMG with plain (unsmoothed) aggregation, -pc_gamg_agg_nsmooths 0: a cheaper set-up (no
// prolongator smoothing, sparser coarse operators) for more iterations; beside PETSc's default
// (PETSc 3.18: smoothed aggregation, nsmooths 1, threshold −1, no squared graph; the 5-point
// Laplacian's equal couplings leave no edge for a threshold to filter), so that the learned PC
// meets GAMG's cheaper configurations too.
void gamg_unsmoothed_pc(PC pc) {
  KARMAN_PETSC(PCSetType(pc, PCGAMG));
  KARMAN_PETSC(PCGAMGSetNSmooths(pc, 0));
}

// GAMG with aggressive coarsening on the finest level (-pc_gamg_aggressive_coarsening 1, 3.18's
// -pc_gamg_square_graph 1: aggregates of A², PETSc 3.18's default being 0 levels): lower grid and
// operator complexity, a cheaper set-up.
void gamg_square_graph_pc(PC pc) {
  KARMAN_PETSC(PCSetType(pc, PCGAMG));
  KARMAN_PETSC(PCGAMGSetAggressiveLevels(pc, 1));
}

std::function<void(PC)> learned_pc(const FactorProvider& provider) {
  return [provider](PC pc) {
    KARMAN_PETSC(PCSetType(pc, "karman"));
    pc_karman_set_factor_provider(pc, provider);
  };
}

struct Problem {
  std::string name;  // "poisson2d" or "poisson3d"
  long n = 0;
  std::string model;  // checkpoint file or ""
};

void create(const Problem& p, Mat* out) {
  if (p.name == "poisson2d") return create_poisson_2d(PETSC_COMM_SELF, p.n, out);
  create_poisson_3d(PETSC_COMM_SELF, p.n, out);
}

Json measure_setup(const Problem& problem, int repeats) {
  petsc::Mat a;
  create(problem, a.out());
  PetscInt rows = 0;
  KARMAN_PETSC(MatGetSize(a, &rows, nullptr));
  Json r = {{"problem", problem.name}, {"n", problem.n}, {"rows", rows}};
  // The first set-up at this size, before anything else touches that much memory: a fresh network
  // allocates its buffers (what a run pays once per matrix size).
  {
    const std::unique_ptr<FactorGnn> fresh = make_gnn(problem.model);
    r["learned_setup_first_s"] = setup_seconds(a, learned_pc(gnn_factor_provider(*fresh)));
  }
  const std::unique_ptr<FactorGnn> gnn = make_gnn(problem.model);
  LocalBlock block;
  LowerPattern lower;
  std::vector<double> reference, l;
  MatrixGraph graph;
  nn::Vector<double> device_l;
  FactorSolver solver;
  r["block_s"] = time_best(repeats, [&] { block = local_block(a); });
  r["pattern_s"] = time_best(repeats, [&] { lower = lower_pattern(block); });
  r["reference_s"] = time_best(
      repeats, [&] { reference = reference_values(block, lower, gnn->options().reference); });
  const bool relaxation = gnn->options().correction == Correction::relaxation;
  r["graph_s"] = time_best(repeats, [&] {
    graph = relaxation ? make_relaxation_graph(block, lower)
                       : make_matrix_graph(block, reference, FactorKind::cholesky, block.dropped);
  });
  // Relaxation: infer_s includes the RelaxedIc factorisation (ω, δ → L), timed alone here.
  r["relaxed_factor_s"] =
      relaxation
          ? time_best(repeats, [&] { graph.relaxed->factor(RowRelaxation::mic0(block.rows)); })
          : 0.0;
  double infer_cpu_s = 0.0;
  r["infer_s"] = time_best(
      repeats,
      [&] {
        device_l = gnn->infer(graph);
        Kokkos::fence();
      },
      &infer_cpu_s);
  r["infer_cpu_s"] = infer_cpu_s;
  r["copy_s"] = time_best(repeats, [&] {
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), device_l);
    l.assign(host.data(), host.data() + host.extent(0));
  });
  r["factor_s"] = time_best(repeats, [&] {
    require_positive_diagonal(lower, l);
    solver = FactorSolver(lower, l);
  });
  graph = MatrixGraph();  // release before the PC's own set-ups
  double learned_cpu_s = 0.0, gamg_cpu_s = 0.0;
  r["learned_setup_s"] = time_best(
      repeats, [&] { setup_seconds(a, learned_pc(gnn_factor_provider(*gnn))); }, &learned_cpu_s);
  r["learned_setup_cpu_s"] = learned_cpu_s;
  r["icc_setup_s"] = time_best(repeats, [&] { setup_seconds(a, pc_of_type(PCICC)); });
  r["mic0_setup_s"] = time_best(repeats, [&] { setup_seconds(a, mic0_pc); });
  r["gamg_setup_s"] = time_best(
      repeats, [&] { setup_seconds(a, pc_of_type(PCGAMG)); }, &gamg_cpu_s);
  r["gamg_setup_cpu_s"] = gamg_cpu_s;
  double gamg_square_cpu_s = 0.0;
  r["gamg_square_setup_s"] = time_best(
      repeats, [&] { setup_seconds(a, gamg_square_graph_pc); }, &gamg_square_cpu_s);
  r["gamg_square_setup_cpu_s"] = gamg_square_cpu_s;
  r["learned_over_gamg_square_cpu"] = learned_cpu_s / gamg_square_cpu_s;
  r["hypre_setup_s"] = time_best(repeats, [&] { setup_seconds(a, pc_of_type(PCHYPRE)); });
  const double gamg = r["gamg_setup_s"].get<double>();
  r["learned_over_gamg"] = r["learned_setup_s"].get<double>() / gamg;
  r["learned_first_over_gamg"] = r["learned_setup_first_s"].get<double>() / gamg;
  r["learned_over_gamg_cpu"] = learned_cpu_s / gamg_cpu_s;
  std::fprintf(
      stderr,
      "%s n %4ld: block %.4f pattern %.4f mic0 %.4f graph %.4f infer %.4f (relaxed factor "
      "%.4f) copy %.4f "
      "factor %.4f | learned set-up %.4f (first %.4f) | icc %.4f mic0 %.4f gamg %.4f "
      "hypre %.4f s | learned / gamg %.3f (first %.3f) | CPU s: infer %.4f, learned set-up "
      "%.4f, gamg set-up %.4f, gamg_square set-up %.4f\n",
      problem.name.c_str(), problem.n, r["block_s"].get<double>(), r["pattern_s"].get<double>(),
      r["reference_s"].get<double>(), r["graph_s"].get<double>(), r["infer_s"].get<double>(),
      r["relaxed_factor_s"].get<double>(), r["copy_s"].get<double>(), r["factor_s"].get<double>(),
      r["learned_setup_s"].get<double>(), r["learned_setup_first_s"].get<double>(),
      r["icc_setup_s"].get<double>(), r["mic0_setup_s"].get<double>(), gamg,
      r["hypre_setup_s"].get<double>(), r["learned_over_gamg"].get<double>(),
      r["learned_first_over_gamg"].get<double>(), infer_cpu_s, learned_cpu_s, gamg_cpu_s,
      gamg_square_cpu_s);
  return r;
}

// CG with every PC on one matrix, side by side.
Json measure_solves(const Problem& problem, int repeats) {
  petsc::Mat a;
  create(problem, a.out());
  PetscInt rows = 0;
  KARMAN_PETSC(MatGetSize(a, &rows, nullptr));
  const std::unique_ptr<FactorGnn> gnn = make_gnn(problem.model);
  const FactorProvider provider = gnn_factor_provider(*gnn);
  double inference_s = std::numeric_limits<double>::infinity();
  const FactorProvider timed_provider = [&](const LocalBlock& block, const LowerPattern& lower) {
    Timer timer;
    std::vector<double> l = provider(block, lower);
    inference_s = std::min(inference_s, timer.seconds());
    return l;
  };
  const std::vector<std::pair<std::string, std::function<void(PC)>>> pcs = {
      {"none", pc_of_type(PCNONE)},
      {"jacobi", pc_of_type(PCJACOBI)},
      {"icc", pc_of_type(PCICC)},
      {"mic0", mic0_pc},
      {"learned", learned_pc(timed_provider)},
      {"gamg", pc_of_type(PCGAMG)},
      {"gamg_agg0", gamg_unsmoothed_pc},
      {"gamg_square", gamg_square_graph_pc},
      {"hypre", pc_of_type(PCHYPRE)}};
  Json out = {{"problem", problem.name}, {"n", problem.n}, {"rows", rows}, {"rtol", kRtol}};
  const std::vector<std::string> chosen = env_words("KARMAN_BENCH_PCS");
  for (const auto& [name, configure] : pcs) {
    if (!chosen.empty() && std::find(chosen.begin(), chosen.end(), name) == chosen.end()) continue;
    const TimedSolve t = timed_solve(a, KSPCG, kRtol, kMaxIterations, repeats, configure);
    Json entry = t.json();
    if (name == "learned") entry["inference_s"] = inference_s;
    std::fprintf(stderr, "%s n %4ld: %8s %6ld its, set-up %.4f, solve %.4f, total %.4f s\n",
                 problem.name.c_str(), problem.n, name.c_str(), t.iterations, t.setup_s, t.solve_s,
                 t.total_s());
    out[name] = entry;
  }
  return out;
}

int run() {
  register_karman_pc();
  const int repeats = env_int("KARMAN_BENCH_REPEATS", 3);
  const char* model_2d = std::getenv("KARMAN_BENCH_MODEL_2D");
  const char* model_3d = std::getenv("KARMAN_BENCH_MODEL_3D");
  const auto problems = [&](const char* sizes_2d, const char* default_2d, const char* sizes_3d,
                            const char* default_3d) {
    std::vector<Problem> list;
    for (long n : env_sizes(sizes_2d, default_2d))
      list.push_back({"poisson2d", n, model_2d ? model_2d : ""});
    for (long n : env_sizes(sizes_3d, default_3d))
      list.push_back({"poisson3d", n, model_3d ? model_3d : ""});
    return list;
  };
  Json setup = Json::array(), solves = Json::array();
  for (const Problem& p :
       problems("KARMAN_BENCH_SIZES_2D", "512 1024", "KARMAN_BENCH_SIZES_3D", "64 128"))
    setup.push_back(measure_setup(p, repeats));
  const char* cg = std::getenv("KARMAN_BENCH_CG");
  if (!cg || std::string(cg) != "0")
    for (const Problem& p :
         problems("KARMAN_BENCH_SOLVES_2D", "1024", "KARMAN_BENCH_SOLVES_3D", "128"))
      solves.push_back(measure_solves(p, repeats));
  // The networks' shapes as the bench builds them (a checkpoint's, or the default).
  const auto shape = [](const char* file) {
    if (!file) return bench_model(nullptr);
    const nn::Checkpoint c = nn::load_checkpoint(PETSC_COMM_SELF, file);
    return bench_model(&c);
  };
  const FactorGnnOptions shape_2d = shape(model_2d), shape_3d = shape(model_3d);
  const Json out = {
      {"benchmark", "precond"},
      {"execution", bench::execution_config()},
      {"machine", bench::machine_description()},
      {"utc", bench::utc_now()},
      {"repeats", repeats},
      {"gnn",
       {{"width_2d", shape_2d.width},
        {"layers_2d", shape_2d.layers},
        {"width_3d", shape_3d.width},
        {"layers_3d", shape_3d.layers},
        {"inference", shape_2d.inference == InferencePrecision::float32 ? "float32" : "float64"},
        {"reference", "mic0"},
        {"correction", "relaxation (or the checkpoints')"},
        {"model_2d", model_2d ? model_2d : "untrained"},
        {"model_3d", model_3d ? model_3d : "untrained"}}},
      {"setup", setup},
      {"solves", solves}};
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
