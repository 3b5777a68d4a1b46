// kind pinn through `karman run`: a shortened cases/pinn/poisson2d.yaml learns (the loss and the
// error against the exact solution fall well below their start), reports the PETSc baseline of
// the same case, writes the PINN, reference and error fields, and gives the same losses on two
// ranks as on one; an activation without second derivatives is rejected at validation.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli.hpp"

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

  // Two ranks: the Adam stage's loss history equals one rank's to round-off. (L-BFGS afterwards
  // amplifies the round-off of the differently ordered sums: it drifts apart within ~100
  // iterations, as it would between two BLAS builds.)
  const CliResult two = run_karman(dir, short_run("two"), /*ranks=*/2);
  ASSERT_EQ(two.status, 0) << two;
  const auto one_rows = nonempty_lines(read_text(dir / "one" / "history.csv"));
  const auto two_rows = nonempty_lines(read_text(dir / "two" / "history.csv"));
  ASSERT_EQ(one_rows.size(), two_rows.size());
  int compared = 0;
  for (std::size_t i = 1; i < one_rows.size(); ++i) {
    auto field = [](const std::string& row, int k) {
      std::stringstream in(row);
      std::string cell;
      for (int c = 0; c <= k; ++c) std::getline(in, cell, ',');
      return cell;
    };
    if (field(one_rows[i], 1) != "1") continue;  // stage 1: Adam
    const double a = std::stod(field(one_rows[i], 3)), b = std::stod(field(two_rows[i], 3));
    EXPECT_NEAR(b, a, 1e-9 * a) << "step " << field(one_rows[i], 0);
    ++compared;
  }
  EXPECT_EQ(compared, 300);
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

// The energy natural gradient (Gauss–Newton, PETSc SVD solve of the Gramian) takes the same
// Poisson problem to the 1e-6 level that Adam and L-BFGS do not reach, on 1 and on 2 ranks.
TEST(CliPinn, NaturalGradientCaseReachesOneInAMillion) {
  const fs::path dir = test_folder();
  const std::string natgrad = (source_dir() / "cases" / "pinn" / "poisson2d_natgrad.yaml").string();
  for (int ranks : {1, 2}) {
    const std::string out = "natgrad" + std::to_string(ranks);
    const CliResult r = run_karman(dir, {"run", natgrad, "--output", out, "--quiet"}, ranks);
    ASSERT_EQ(r.status, 0) << r;
    const auto m = report_of(dir / out)["metrics"];
    EXPECT_LE(m["rel_l2_exact"].get<double>(), 1e-6) << m.dump();
    EXPECT_LT(m["final_loss"].get<double>(), 1e-9) << m.dump();
    EXPECT_LE(m["steps"].get<long>(), 200);
    // Step sizes in history.csv's lr column come from the grid 2^-k.
    const auto rows = nonempty_lines(read_text(dir / out / "history.csv"));
    ASSERT_GT(rows.size(), 10u);
    for (std::size_t i = 1; i < rows.size(); ++i) {
      std::stringstream in(rows[i]);
      std::string step, stage, lr;
      std::getline(in, step, ','), std::getline(in, stage, ','), std::getline(in, lr, ',');
      const double k = -std::log2(std::stod(lr));
      EXPECT_NEAR(k, std::round(k), 1e-6) << rows[i];
    }
    std::printf("    natural gradient, %d rank(s): rel_l2_exact %.3e in %ld iterations, %.2f s\n",
                ranks, m["rel_l2_exact"].get<double>(), m["steps"].get<long>(),
                m["train_wall_s"].get<double>());
  }
}

TEST(CliPinn, HeatInSpaceTimeLearnsAndIsComparedAtTheEndTime) {
  const fs::path dir = test_folder();
  const std::string heat = (source_dir() / "cases" / "pinn" / "heat2d.yaml").string();
  const CliResult r = run_karman(
      dir, {"run", heat, "--output", "heat", "--quiet", "--set", "samples.interior=512", "--set",
            "samples.boundary=128", "--set", "samples.initial=128", "--set", "grid.n=17", "--set",
            "model.hidden=[32, 32]", "--set",
            "training.stages=[{optimizer: adam, steps: 300, lr: 5.0e-3}, {optimizer: lbfgs, "
            "steps: 200}]"});
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
}

TEST(CliPinn, UnsupportedSetupsFailAtValidation) {
  const fs::path dir = test_folder();
  const std::string heat = (source_dir() / "cases" / "pinn" / "heat2d.yaml").string();
  const CliResult random =
      run_karman(dir, {"validate", heat, "--set", "pde.initial={random: {alpha: 2, tau: 3}}"});
  EXPECT_EQ(random.status, 1) << random;
  EXPECT_NE(random.err.find("pde.initial"), std::string::npos) << random;
  const CliResult darcy =
      run_karman(dir, {"validate", kCase, "--set", "pde={type: darcy, coefficient: '1 + x*y'}"});
  EXPECT_EQ(darcy.status, 1) << darcy;
  EXPECT_NE(darcy.err.find("kind pinn supports poisson, heat and burgers"), std::string::npos)
      << darcy;
  // Helmholtz has a residual kernel but no loss wiring yet: one line, not an internal error.
  const CliResult helmholtz =
      run_karman(dir, {"validate", kCase, "--set", "pde={type: helmholtz, wavenumber: 2}"});
  EXPECT_EQ(helmholtz.status, 1) << helmholtz;
  ASSERT_EQ(helmholtz.error_lines().size(), 1u) << helmholtz;
  EXPECT_NE(helmholtz.err.find("kind pinn does not train helmholtz yet"), std::string::npos)
      << helmholtz;
  // Gauss–Newton needs residuals: a plain fit case cannot ask for it.
  const std::string fit = (source_dir() / "cases" / "nn" / "fit2d.yaml").string();
  const CliResult natgrad = run_karman(
      dir, {"validate", fit, "--set", "training.stages=[{optimizer: natural_gradient, steps: 5}]"});
  EXPECT_EQ(natgrad.status, 1) << natgrad;
  ASSERT_EQ(natgrad.error_lines().size(), 1u) << natgrad;
  EXPECT_NE(natgrad.err.find("training.stages[0].optimizer"), std::string::npos) << natgrad;
}

TEST(CliPinn, ReluCannotGiveALaplacian) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, {"validate", kCase, "--set", "model.activation=relu"});
  EXPECT_EQ(r.status, 1) << r;
  ASSERT_EQ(r.error_lines().size(), 1u) << r;
  EXPECT_NE(r.err.find("model.activation"), std::string::npos) << r;
  EXPECT_NE(r.err.find("second derivatives"), std::string::npos) << r;
}
