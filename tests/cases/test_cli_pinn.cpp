// kind pinn through `karman run`: a shortened cases/pinn/poisson2d.yaml learns (the loss and the
// error against the exact solution fall well below their start), reports the PETSc baseline of
// the same case, writes the PINN, reference and error fields, and gives the same loss history,
// Adam and L-BFGS, on two ranks as on one (float64 training is reproducible by default; Poisson
// and heat in space-time, with equal and unequal chunks); fewer
// chunks than ranks is one clear error; an activation without second derivatives is rejected at
// validation.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli.hpp"
#include "support/history.hpp"

using namespace karman::test;

namespace {

const std::string kCase = (source_dir() / "cases" / "pinn" / "poisson2d.yaml").string();

std::vector<std::string> short_run(const std::string& output) {
  return {"run",
          kCase,
          "--output",
          output,
          "--quiet",
          "--set",
          "samples.interior=512",
          "--set",
          "samples.boundary=128",
          "--set",
          "grid.n=33",
          "--set",
          "model.hidden=[32, 32]",
          "--set",
          "training.stages=[{optimizer: adam, steps: 300, lr: 5.0e-3}, "
          "{optimizer: lbfgs, steps: 200, tolerance_change: 0, tolerance_gradient: 0}]"};
}

nlohmann::json report_of(const fs::path& run) {
  return nlohmann::json::parse(read_text(run / "report.json"));
}

}  // namespace

TEST(CliPinn, PoissonLearnsAndIsComparedWithPetsc) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, short_run("one"));
  ASSERT_EQ(r.status, 0) << r;
  const auto report = report_of(dir / "one");
  const auto& m = report["metrics"];
  EXPECT_EQ(report["kind"], "pinn");
  EXPECT_EQ(m["steps"].get<long>(), 500);
  // An untrained network is O(1) wrong; 500 steps must bring it near the solution.
  EXPECT_LT(m["rel_l2_exact"].get<double>(), 0.15) << m.dump();
  EXPECT_LT(m["rel_l2"].get<double>(), 0.15) << m.dump();
  EXPECT_LT(m["final_loss"].get<double>(), 1e-2) << m.dump();
  EXPECT_GT(report["baseline"]["iterations"].get<long>(), 0);
  EXPECT_EQ(report["baseline"]["ksp"], "cg");
  // The PETSc reference itself is second-order accurate on 33²: rel error ~ 8e-4.
  EXPECT_LT(m["reference_rel_l2_exact"].get<double>(), 2e-3);
  const CliResult dump = [&] {
    return run_karman(dir, {"compare", (dir / "one" / "fields.h5").string(),
                            (dir / "one" / "fields.h5").string(), "--field", "pinn"});
  }();
  EXPECT_EQ(dump.status, 0) << dump;
  std::printf("    pinn 500 steps: rel_l2_exact %.3e, vs PETSc %.3e, loss %.3e\n",
              m["rel_l2_exact"].get<double>(), m["rel_l2"].get<double>(),
              m["final_loss"].get<double>());

  // Two ranks: the whole loss history, Adam then 200 L-BFGS iterations, equals one rank's. With
  // one allreduce per step instead (training.reproducible: false) the L-BFGS stage amplifies the
  // round-off of the differently associated sums to a few per cent within ~100 iterations.
  const CliResult two = run_karman(dir, short_run("two"), /*ranks=*/2);
  ASSERT_EQ(two.status, 0) << two;
  const auto one_losses = history_losses(dir / "one" / "history.csv");
  const auto two_losses = history_losses(dir / "two" / "history.csv");
  EXPECT_EQ(one_losses.size(), 500u);
  EXPECT_LE(max_relative_difference(one_losses, two_losses), 1e-12);
  EXPECT_EQ(report_of(dir / "two")["metrics"]["final_loss"], m["final_loss"]);
}

TEST(CliPinn, FewerChunksThanRanksIsOneClearError) {
  const fs::path dir = test_folder();
  auto args = short_run("few");
  args.insert(args.end(), {"--set", "training.chunks=1"});
  const CliResult r = run_karman(dir, args, /*ranks=*/2);
  EXPECT_EQ(r.status, 1) << r;
  ASSERT_FALSE(r.error_lines().empty()) << r;
  EXPECT_NE(r.err.find("training.chunks: 1 chunks cannot be shared by 2 ranks"), std::string::npos)
      << r;
}

TEST(CliPinn, Poisson2dCaseReachesItsAccuracy) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, {"run", kCase, "--output", "full", "--quiet"});
  ASSERT_EQ(r.status, 0) << r;
  const auto report = report_of(dir / "full");
  const auto& m = report["metrics"];
  EXPECT_LE(m["rel_l2_exact"].get<double>(), 1e-4) << m.dump();
  EXPECT_EQ(m["steps"].get<long>(), 4000);
  std::printf("    poisson2d PINN: rel_l2_exact %.3e (PETSc reference on 65²: %.3e), %.1f s\n",
              m["rel_l2_exact"].get<double>(), m["reference_rel_l2_exact"].get<double>(),
              m["train_wall_s"].get<double>());
}

TEST(CliPinn, HeatInSpaceTimeLearnsAndIsComparedAtTheEndTime) {
  const fs::path dir = test_folder();
  const std::string heat = (source_dir() / "cases" / "pinn" / "heat2d.yaml").string();
  // 7 chunks: unequal chunks of 73–74 interior points, 511–518 rows of derivative channels, where
  // OpenBLAS's threaded and serial GEMMs round differently (1 rank has 2 BLAS threads here, 2
  // ranks 1 each).
  auto heat_run = [&](const std::string& output) {
    return std::vector<std::string>{
        "run",
        heat,
        "--output",
        output,
        "--quiet",
        "--set",
        "samples.interior=512",
        "--set",
        "samples.boundary=128",
        "--set",
        "samples.initial=128",
        "--set",
        "grid.n=17",
        "--set",
        "model.hidden=[32, 32]",
        "--set",
        "training.chunks=7",
        "--set",
        "training.stages=[{optimizer: adam, steps: 300, lr: 5.0e-3}, {optimizer: lbfgs, "
        "steps: 200}]"};
  };
  const CliResult r = run_karman(dir, heat_run("heat"));
  ASSERT_EQ(r.status, 0) << r;
  const auto report = report_of(dir / "heat");
  const auto& m = report["metrics"];
  EXPECT_EQ(report["pde"], "heat");
  EXPECT_GT(m["loss_initial"].get<double>(), 0.0);
  EXPECT_EQ(report["baseline"]["ts"], "cn");
  // At t = 0.5 the mode has decayed to e^{-π²/10} ≈ 0.37; an untrained net is O(1) off.
  EXPECT_LT(m["rel_l2_exact"].get<double>(), 0.1) << m.dump();
  std::printf("    heat PINN 500 steps: rel_l2_exact %.3e at t = 0.5\n",
              m["rel_l2_exact"].get<double>());
  const CliResult two = run_karman(dir, heat_run("heat_two"), /*ranks=*/2);
  ASSERT_EQ(two.status, 0) << two;
  const auto one_losses = history_losses(dir / "heat" / "history.csv");
  EXPECT_GE(one_losses.size(), 300u);
  EXPECT_LE(max_relative_difference(one_losses, history_losses(dir / "heat_two" / "history.csv")),
            1e-12);
}

TEST(CliPinn, UnsupportedSetupsFailAtValidation) {
  const fs::path dir = test_folder();
  const std::string heat = (source_dir() / "cases" / "pinn" / "heat2d.yaml").string();
  const CliResult random =
      run_karman(dir, {"validate", heat, "--set", "pde.initial={random: {alpha: 2, tau: 3}}"});
  EXPECT_EQ(random.status, 1) << random;
  EXPECT_NE(random.err.find("pde.initial"), std::string::npos) << random;
  const CliResult burgers = run_karman(
      dir, {"validate", kCase, "--set", "pde={type: burgers, nu: 0.1, initial: 'sin(x)'}", "--set",
            "grid={dim: 1, n: 64}", "--set", "time={t_end: 1, dt: 0.1}"});
  EXPECT_EQ(burgers.status, 1) << burgers;
  EXPECT_NE(burgers.err.find("kind pinn supports poisson and heat"), std::string::npos) << burgers;
}

TEST(CliPinn, ReluCannotGiveALaplacian) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, {"validate", kCase, "--set", "model.activation=relu"});
  EXPECT_EQ(r.status, 1) << r;
  ASSERT_EQ(r.error_lines().size(), 1u) << r;
  EXPECT_NE(r.err.find("model.activation"), std::string::npos) << r;
  EXPECT_NE(r.err.find("second derivatives"), std::string::npos) << r;
}
