// kind dcdm through `karman run`: cases/precond/dcdm_obstacles2d.yaml shortened to a 16² obstacle
// grid (train and test there). Asserted: the trained FNO direction map makes -ksp_type dcdm
// converge with fewer iterations than plain CG on that grid; dcdm with -pc_type none (the
// identity map) takes CG's iteration count; every PETSc baseline converges; the run's
// checkpoint.h5 reused through model.file gives the same DCDM iterations without training. Bad
// input (a missing, corrupt, foreign or mismatched model.file, bad keys) is one error line, exit 1.
// The CNN direction map (dcdm_cnn_obstacles2d.yaml) trained at 16² beats CG at 16² and 32², and
// on 2 ranks takes the 1-rank DCDM iterations. On variable coefficients
// (dcdm_cnn_diffusion2d.yaml) the CNN trained on one κ draw beats CG on held-out draws.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/cli.hpp"

using namespace karman::test;

namespace {

const std::vector<std::string> kSolvers = {"none",  "icc",           "mic0", "gamg",
                                           "hypre", "dcdm_identity", "dcdm"};

// The case at 16² (train and test), `sets` after the shortening ones.
std::vector<std::string> small_run(const fs::path& out, std::vector<std::string> sets = {}) {
  const fs::path case_file = source_dir() / "cases" / "precond" / "dcdm_obstacles2d.yaml";
  std::vector<std::string> args = {"run", case_file.string(), "--output", out.string()};
  // The recipe of test_dcdm_network (16 DCDM iterations against CG's 41 there): 4 shapes, 64
  // training vectors from 80 Ritz pairs, 400 Adam steps, 8 modes.
  sets.insert(sets.begin(),
              {"problem.obstacles=4", "problem.seed=3", "training.size=16",
               "training.ritz_steps=80", "training.vectors=64", "training.steps=400",
               "model.modes=8", "model.projection=24", "test.sizes=[16]", "test.repeats=1"});
  for (const std::string& set : sets) args.insert(args.end(), {"--set", set});
  return args;
}

nlohmann::json report_of(const fs::path& out) {
  return nlohmann::json::parse(read_text(out / "report.json"));
}

long iterations(const nlohmann::json& result, const std::string& solver) {
  return result.at("solvers").at(solver).value("iterations", -2L);
}

void expect_one_error_line(const CliResult& r, const std::vector<std::string>& fragments) {
  EXPECT_EQ(r.status, 1) << r;
  ASSERT_EQ(r.error_lines().size(), 1u) << r;
  for (const std::string& fragment : fragments)
    EXPECT_NE(r.error_lines()[0].find(fragment), std::string::npos) << fragment << "\n" << r;
}

TEST(CliDcdm, TrainedMapBeatsCgAndIdentityMapIsCg) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, small_run(dir / "trained"));
  ASSERT_EQ(r.status, 0) << r;
  const nlohmann::json report = report_of(dir / "trained");
  SCOPED_TRACE(report.dump(2));
  EXPECT_EQ(report.value("status", ""), "ok");
  EXPECT_TRUE(fs::is_regular_file(dir / "trained" / "checkpoint.h5"));
  const nlohmann::json& metrics = report.at("metrics");
  EXPECT_LT(metrics.value("train_loss", 1.0), metrics.value("initial_loss", 0.0));
  const nlohmann::json& results = report.at("results");
  ASSERT_EQ(results.size(), 2u);  // 16² at rtol 1e-4 and 1e-8
  for (const nlohmann::json& result : results) {
    SCOPED_TRACE(result.dump());
    for (const std::string& solver : kSolvers) EXPECT_GT(iterations(result, solver), 0) << solver;
    // The trained map converges, in fewer iterations than CG without a preconditioner.
    EXPECT_LT(iterations(result, "dcdm"), iterations(result, "none"));
    // The identity map: DCDM is CG in exact arithmetic (16² is far from round-off trouble).
    EXPECT_EQ(iterations(result, "dcdm_identity"), iterations(result, "none"));
  }
  EXPECT_EQ(report.at("baseline").value("iterations", -1L), iterations(results.back(), "gamg"));

  // The checkpoint reused: no training, the same DCDM iterations.
  const fs::path checkpoint = dir / "trained" / "checkpoint.h5";
  const CliResult loaded =
      run_karman(dir, small_run(dir / "loaded", {"model.file=" + checkpoint.string()}));
  ASSERT_EQ(loaded.status, 0) << loaded;
  EXPECT_NE(loaded.out.find("training skipped"), std::string::npos) << loaded;
  const nlohmann::json again = report_of(dir / "loaded");
  EXPECT_EQ(again.at("metrics").value("train_wall_s", -1.0), 0.0);
  for (std::size_t i = 0; i < results.size(); ++i)
    EXPECT_EQ(iterations(again.at("results")[i], "dcdm"), iterations(results[i], "dcdm")) << i;

  // A network of another shape (model.modes differs from the checkpoint's): one line.
  const CliResult other = run_karman(
      dir, small_run(dir / "other", {"model.file=" + checkpoint.string(), "model.modes=6"}));
  expect_one_error_line(other, {"checkpoint.h5", "model.modes", "8", "6"});
  EXPECT_FALSE(fs::exists(dir / "other" / "report.json"));
}

TEST(CliDcdm, BadModelFilesAndKeysAreOneErrorLine) {
  const fs::path dir = test_folder();
  const CliResult missing =
      run_karman(dir, small_run(dir / "missing", {"model.file=absent.h5", "training.steps=0"}));
  expect_one_error_line(missing, {"absent.h5"});

  {
    std::ofstream corrupt(dir / "corrupt.h5");
    corrupt << "not an HDF5 file\n";
  }
  const CliResult corrupt =
      run_karman(dir, small_run(dir / "corrupt", {"model.file=corrupt.h5", "training.steps=0"}));
  expect_one_error_line(corrupt, {"corrupt.h5"});

  // A kind-precond checkpoint (another network entirely): refused by its kind.
  const fs::path precond_out = dir / "precond";
  const fs::path precond_case = source_dir() / "cases" / "precond" / "poisson2d.yaml";
  const CliResult precond =
      run_karman(dir, {"run", precond_case.string(), "--output", precond_out.string(), "--set",
                       "train.sizes=[6, 8]", "--set", "train.rhs=4", "--set", "validation.size=8",
                       "--set", "test.sizes=[12]", "--set", "training.steps=0"});
  ASSERT_EQ(precond.status, 0) << precond;
  const CliResult foreign = run_karman(
      dir, small_run(dir / "foreign", {"model.file=" + (precond_out / "checkpoint.h5").string()}));
  expect_one_error_line(foreign, {"checkpoint.h5", "kind-dcdm", "precond"});

  // Keys: one line naming the key and what was expected.
  expect_one_error_line(run_karman(dir, small_run(dir / "k1", {"test.sizes=[4]"})),
                        {"test.sizes", "8 <= n"});
  expect_one_error_line(run_karman(dir, small_run(dir / "k2", {"test.rtols=[2]"})),
                        {"test.rtols", "(0, 1)"});
  expect_one_error_line(run_karman(dir, small_run(dir / "k3", {"training.batch=1000"})),
                        {"training.batch", "training.vectors"});
  // A grid too small for the network's modes (8 modes need 16 cells per side): a size mismatch.
  expect_one_error_line(run_karman(dir, small_run(dir / "k4", {"test.sizes=[12, 16]"})),
                        {"model.modes", "at most 6", "n = 12"});
  // training.sizes replaces training.size (small_run sets it): both is one error line.
  expect_one_error_line(run_karman(dir, small_run(dir / "k5", {"training.sizes=[16, 32]"})),
                        {"training.sizes", "either training.size or training.sizes"});
}

// cases/precond/dcdm_cnn_obstacles2d.yaml shortened: the CNN trained at 16², tested at 16² and
// 32² (the size transfer the FNO lacks), `sets` after the shortening ones.
std::vector<std::string> cnn_run(const fs::path& out, std::vector<std::string> sets = {}) {
  const fs::path case_file = source_dir() / "cases" / "precond" / "dcdm_cnn_obstacles2d.yaml";
  std::vector<std::string> args = {"run", case_file.string(), "--output", out.string()};
  sets.insert(sets.begin(), {"problem.obstacles=4", "problem.seed=3", "training.size=16",
                             "training.ritz_steps=80", "training.vectors=64", "training.steps=200",
                             "test.sizes=[16, 32]", "test.rtols=[1.0e-4]", "test.repeats=1"});
  for (const std::string& set : sets) args.insert(args.end(), {"--set", set});
  return args;
}

TEST(CliDcdm, CnnTrainedAt16BeatsCgAt16And32) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, cnn_run(dir / "cnn"));
  ASSERT_EQ(r.status, 0) << r;
  const nlohmann::json report = report_of(dir / "cnn");
  SCOPED_TRACE(report.dump(2));
  const nlohmann::json& results = report.at("results");
  ASSERT_EQ(results.size(), 2u);
  for (const nlohmann::json& result : results) {
    SCOPED_TRACE(result.dump());
    EXPECT_GT(iterations(result, "dcdm"), 0);
    EXPECT_LT(iterations(result, "dcdm"), iterations(result, "none"));
  }
  // The checkpoint reused: the same iterations; a CNN of other levels, or an FNO case, refused.
  const fs::path checkpoint = dir / "cnn" / "checkpoint.h5";
  const CliResult loaded =
      run_karman(dir, cnn_run(dir / "loaded", {"model.file=" + checkpoint.string()}));
  ASSERT_EQ(loaded.status, 0) << loaded;
  for (std::size_t i = 0; i < results.size(); ++i)
    EXPECT_EQ(iterations(report_of(dir / "loaded").at("results")[i], "dcdm"),
              iterations(results[i], "dcdm"));
  expect_one_error_line(
      run_karman(dir,
                 cnn_run(dir / "levels", {"model.file=" + checkpoint.string(), "model.levels=1"})),
      {"checkpoint.h5", "model.levels", "2", "1"});
  expect_one_error_line(
      run_karman(dir, small_run(dir / "fno", {"model.file=" + checkpoint.string()})),
      {"checkpoint.h5", "cnn", "model.type fno"});
}

TEST(CliDcdm, BadCnnKeysAreOneErrorLine) {
  const fs::path dir = test_folder();
  // 16² has a V-cycle depth of 3 (16, 8, 4): at most 2 levels of own weights.
  expect_one_error_line(run_karman(dir, cnn_run(dir / "c1", {"model.levels=3"})),
                        {"model.levels", "at most 2"});
  expect_one_error_line(run_karman(dir, cnn_run(dir / "c2", {"model.activation=swish"})),
                        {"model.activation", "identity"});
  expect_one_error_line(run_karman(dir, cnn_run(dir / "c3", {"model.type=gnn"})),
                        {"model.type", "cnn"});
  expect_one_error_line(run_karman(dir, small_run(dir / "c4", {"problem.dim=3"})),
                        {"model.type", "problem.dim 3"});
  expect_one_error_line(run_karman(dir, cnn_run(dir / "c5", {"problem.dim=4"})), {"problem.dim"});
  // A symmetric map is linear: no nonlinear activation, no mask multiplying the features.
  expect_one_error_line(
      run_karman(dir, cnn_run(dir / "c6", {"model.symmetric=true", "model.activation=tanh"})),
      {"model.activation", "model.symmetric"});
  expect_one_error_line(
      run_karman(dir, cnn_run(dir / "c7", {"model.symmetric=true", "model.mask=multiply"})),
      {"model.mask", "model.symmetric"});
  expect_one_error_line(run_karman(dir, cnn_run(dir / "c8", {"model.symmetric=maybe"})),
                        {"model.symmetric"});
}

// cases/precond/dcdm_cnn_diffusion2d.yaml shortened: the CNN trained at 16² on one draw of the
// log-normal κ (contrast ~30-150), tested at 16² and 32² on draws it never saw.
std::vector<std::string> diffusion_run(const fs::path& out, std::vector<std::string> sets = {}) {
  const fs::path case_file = source_dir() / "cases" / "precond" / "dcdm_cnn_diffusion2d.yaml";
  std::vector<std::string> args = {"run", case_file.string(), "--output", out.string()};
  sets.insert(sets.begin(), {"training.size=16", "training.ritz_steps=80", "training.vectors=64",
                             "training.steps=200", "test.sizes=[16, 32]", "test.rtols=[1.0e-4]",
                             "test.repeats=1"});
  for (const std::string& set : sets) args.insert(args.end(), {"--set", set});
  return args;
}

// Variable coefficients: the Jacobi-scaled map (model.scaling jacobi) trained on one κ beats CG on
// held-out κ draws at 16² and 32² (measured 11 against 57 and 144); the identity map is CG up to
// round-off (a contrast of ~60-170: ±1 iteration); every baseline converges. Without the scaling
// the same map does not converge in 300 iterations (README, "DCDM coverage").
TEST(CliDcdm, CnnOnHeldOutCoefficientsBeatsCg) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, diffusion_run(dir / "kappa"));
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_NE(r.out.find("coefficient draw 1000"), std::string::npos) << r;  // a held-out draw
  const nlohmann::json report = report_of(dir / "kappa");
  SCOPED_TRACE(report.dump(2));
  const nlohmann::json& results = report.at("results");
  ASSERT_EQ(results.size(), 2u);
  for (const nlohmann::json& result : results) {
    SCOPED_TRACE(result.dump());
    for (const std::string& solver : kSolvers) EXPECT_GT(iterations(result, solver), 0) << solver;
    EXPECT_LT(iterations(result, "dcdm"), iterations(result, "none") / 4);
    EXPECT_LE(std::abs(iterations(result, "dcdm_identity") - iterations(result, "none")), 1);
  }
}

// baselines.learned_factor: a kind-precond checkpoint's GNN factor joins the table as `learned`.
// An untrained relaxation model (training.steps 0: its row head starts at zero) is MIC(0) exactly,
// so its CG iterations are MIC(0)'s at every size; a kind-dcdm checkpoint there is one error line.
TEST(CliDcdm, LearnedFactorRowOfAnUntrainedRelaxationModelIsMic0) {
  const fs::path dir = test_folder();
  const fs::path precond_case = source_dir() / "cases" / "precond" / "diffusion2d_grf.yaml";
  const CliResult factor = run_karman(
      dir, {"run", precond_case.string(), "--output", (dir / "factor").string(), "--set",
            "training.steps=0", "--set", "test.sizes=[16]", "--set", "validation.size=16"});
  ASSERT_EQ(factor.status, 0) << factor;
  const std::string checkpoint = (dir / "factor" / "checkpoint.h5").string();
  const CliResult r = run_karman(
      dir, diffusion_run(dir / "learned",
                         {"training.steps=20", "baselines.learned_factor=" + checkpoint}));
  ASSERT_EQ(r.status, 0) << r;
  const nlohmann::json report = report_of(dir / "learned");
  SCOPED_TRACE(report.dump(2));
  ASSERT_EQ(report.at("results").size(), 2u);
  for (const nlohmann::json& result : report.at("results")) {
    EXPECT_GT(iterations(result, "learned"), 0);
    EXPECT_EQ(iterations(result, "learned"), iterations(result, "mic0"));
  }
  const std::string dcdm_checkpoint = (dir / "learned" / "checkpoint.h5").string();
  expect_one_error_line(
      run_karman(dir,
                 diffusion_run(dir / "foreign", {"baselines.learned_factor=" + dcdm_checkpoint})),
      {"checkpoint.h5", "not a kind-precond checkpoint"});
}

TEST(CliDcdm, BadCoefficientKeysAreOneErrorLine) {
  const fs::path dir = test_folder();
  expect_one_error_line(
      run_karman(dir, diffusion_run(dir / "b1", {"problem.coefficient.map=smooth"})),
      {"problem.coefficient.map", "lognormal"});
  expect_one_error_line(
      run_karman(dir, diffusion_run(dir / "b2", {"problem.coefficient.sigma=-1"})),
      {"problem.coefficient.sigma"});
  expect_one_error_line(
      run_karman(dir, diffusion_run(dir / "b3", {"problem.coefficient.colour=2"})),
      {"problem.coefficient.colour"});
  expect_one_error_line(run_karman(dir, diffusion_run(dir / "b4", {"problem.dim=3"})),
                        {"problem.coefficient", "problem.dim 3"});
  expect_one_error_line(run_karman(dir, diffusion_run(dir / "b5", {"model.scaling=diagonal"})),
                        {"model.scaling", "jacobi"});
}

// The shortened CNN case on 2 ranks (issue 19 acceptance: DCDM under mpiexec -n 2): the matrix
// split by rows, every rank training the same CNN, the map gathered to rank 0
// (dcdm_parallel.hpp). DCDM takes exactly the 1-rank iterations at every size (the same map on
// the same vectors; only A's products and the dot products are distributed) and fewer than CG;
// the identity map is still CG; every baseline converges at 2 ranks.
TEST(CliDcdm, CnnCaseOnTwoRanksMatchesOneRank) {
  const fs::path dir = test_folder();
  const std::vector<std::string> sets = {"training.steps=100"};
  const CliResult one = run_karman(dir, cnn_run(dir / "one", sets));
  ASSERT_EQ(one.status, 0) << one;
  const CliResult two = run_karman(dir, cnn_run(dir / "two", sets), /*ranks=*/2);
  ASSERT_EQ(two.status, 0) << two;
  const nlohmann::json serial = report_of(dir / "one").at("results");
  const nlohmann::json parallel = report_of(dir / "two").at("results");
  ASSERT_EQ(serial.size(), 2u);
  ASSERT_EQ(parallel.size(), serial.size());
  for (std::size_t i = 0; i < serial.size(); ++i) {
    SCOPED_TRACE(serial[i].dump() + "\n" + parallel[i].dump());
    for (const std::string& solver : kSolvers)
      EXPECT_GT(iterations(parallel[i], solver), 0) << solver;
    EXPECT_EQ(iterations(parallel[i], "dcdm"), iterations(serial[i], "dcdm"));
    EXPECT_LT(iterations(parallel[i], "dcdm"), iterations(parallel[i], "none"));
    EXPECT_EQ(iterations(parallel[i], "dcdm_identity"), iterations(parallel[i], "none"));
  }
}

}  // namespace

TEST(CliDcdm, CnnTrainedOnTwoSizesLowersTheHeldOutLossAtBoth) {
  // training.sizes: Adam steps on 16² and 32² in turn. The held-out DCDM loss starts near 1 (an
  // untrained map is no better than q ∝ r) and must fall well below it at both training sizes;
  // the test size's held-out loss is reported beside its solves. (A case of its own: the CNN
  // case sets training.size, which training.sizes replaces.)
  const fs::path dir = test_folder();
  const fs::path case_file = dir / "two_sizes.yaml";
  {
    std::ofstream out(case_file);
    out << "name: two_sizes\nkind: dcdm\nproblem: {obstacles: 4, seed: 3}\n"
           "training: {sizes: [16, 32], ritz_steps: 80, vectors: 64, batch: 8, steps: 120}\n"
           "model: {type: cnn, width: 8, levels: 2, blocks: 1, coarsest: 4}\n"
           "test: {sizes: [16], rtols: [1.0e-4], repeats: 1}\n";
  }
  const CliResult r =
      run_karman(dir, {"run", case_file.string(), "--output", (dir / "two").string()});
  ASSERT_EQ(r.status, 0) << r;
  const nlohmann::json report = report_of(dir / "two");
  SCOPED_TRACE(report.dump(2));
  const nlohmann::json& metrics = report.at("metrics");
  EXPECT_EQ(metrics.at("train_sizes"), nlohmann::json({16, 32}));
  ASSERT_EQ(metrics.at("train_losses").size(), 2u);
  for (const nlohmann::json& loss : metrics.at("train_losses")) EXPECT_LT(loss.get<double>(), 0.5);
  const double test_loss = report.at("results")[0].at("held_out_loss").get<double>();
  EXPECT_GT(test_loss, 0.0);
  EXPECT_LT(test_loss, 0.5);
}
