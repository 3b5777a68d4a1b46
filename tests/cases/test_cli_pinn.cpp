// kind pinn through `karman run`: a shortened cases/pinn/poisson2d.yaml learns (the loss and the
// error against the exact solution fall well below their start), reports the PETSc baseline of
// the same case, writes the PINN, reference and error fields, and gives the same loss history,
// Adam and L-BFGS, on two ranks as on one (float64 training is reproducible by default; Poisson
// and heat in space-time, with equal and unequal chunks); fewer
// chunks than ranks is one clear error; an activation without second derivatives is rejected at
// validation.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli.hpp"
#include "support/history.hpp"
#include "support/report_checks.hpp"

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

}  // namespace

TEST(CliPinn, PoissonLearnsAndIsComparedWithPetsc) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, short_run("one"));
  ASSERT_EQ(r.status, 0) << r;
  const auto report = report_of(dir / "one");
  const auto& m = report["metrics"];
  EXPECT_EQ(report["kind"], "pinn");
  EXPECT_EQ(m["steps"].get<long>(), 500);
  // Each stage says how many steps it ran and why it ended: L-BFGS with its tolerances at 0
  // runs exactly its 200 iterations and says so.
  ASSERT_EQ(m["stages"].size(), 2u) << m.dump();
  EXPECT_EQ(m["stages"][0]["optimizer"], "adam");
  EXPECT_EQ(m["stages"][0]["steps"].get<long>(), 300);
  EXPECT_EQ(m["stages"][0]["stop_reason"], "max_steps");
  EXPECT_EQ(m["stages"][1]["optimizer"], "lbfgs");
  EXPECT_EQ(m["stages"][1]["steps"].get<long>(), 200);
  EXPECT_EQ(m["stages"][1]["stop_reason"], "max_iterations");
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
  // The Gramian and gradient are summed over fixed chunks in a fixed order: 2 ranks take the
  // very steps of 1 rank (loss and step size in every row).
  const auto one = nonempty_lines(read_text(dir / "natgrad1" / "history.csv"));
  const auto two = nonempty_lines(read_text(dir / "natgrad2" / "history.csv"));
  ASSERT_EQ(one.size(), two.size());
  for (std::size_t i = 1; i < one.size(); ++i) {
    auto cells = [](const std::string& row) {
      std::stringstream in(row);
      std::string step, stage, lr, loss;
      std::getline(in, step, ','), std::getline(in, stage, ','), std::getline(in, lr, ',');
      std::getline(in, loss, ',');
      return std::pair(std::stod(lr), std::stod(loss));
    };
    const auto [lr1, loss1] = cells(one[i]);
    const auto [lr2, loss2] = cells(two[i]);
    EXPECT_EQ(lr1, lr2) << "row " << i;
    EXPECT_NEAR(loss2, loss1, 1e-12 * loss1) << "row " << i;
  }
}

// A CSG geometry (the L-shape) with its conditions: a soft and a hard Dirichlet condition both
// learn in a short run, compared on the L's nodes only (NaN outside) with the masked PETSc
// reference; the same losses on 2 ranks as on 1.
TEST(CliPinn, LShapeLearnsWithSoftAndHardConditions) {
  const fs::path dir = test_folder();
  const std::string lshape = (source_dir() / "cases" / "pinn" / "poisson_lshape.yaml").string();
  auto short_lshape = [&](const std::string& out, const std::string& conditions) {
    return std::vector<std::string>{
        "run",
        lshape,
        "--output",
        out,
        "--quiet",
        "--set",
        "samples.interior=512",
        "--set",
        "samples.boundary=256",
        "--set",
        "grid.n=33",
        "--set",
        "model.hidden=[32, 32]",
        "--set",
        "conditions=" + conditions,
        "--set",
        "training.stages=[{optimizer: adam, steps: 300, lr: 5.0e-3}, {optimizer: lbfgs, steps: "
        "200}]"};
  };
  for (const std::string enforce : {"soft", "hard"}) {
    const std::string conditions =
        "[{on: [outer, notch], value: '0', enforce: " + enforce + ", weight: 100}]";
    const CliResult r = run_karman(dir, short_lshape(enforce, conditions));
    ASSERT_EQ(r.status, 0) << r;
    const auto m = report_of(dir / enforce)["metrics"];
    EXPECT_LT(m["rel_l2_exact"].get<double>(), 0.1) << enforce << " " << m.dump();
    // The masked reference is second order on the L: ~3e-3 on 33².
    EXPECT_LT(m["reference_rel_l2_exact"].get<double>(), 1e-2) << m.dump();
    EXPECT_EQ(m.contains("loss_dirichlet[0]"), enforce == "soft") << m.dump();
    std::printf("    L-shape, %s condition, 500 steps: rel_l2_exact %.3e (reference %.3e)\n",
                enforce.c_str(), m["rel_l2_exact"].get<double>(),
                m["reference_rel_l2_exact"].get<double>());
  }
  const CliResult two = run_karman(
      dir, short_lshape("two", "[{on: [outer, notch], value: '0', weight: 100}]"), /*ranks=*/2);
  ASSERT_EQ(two.status, 0) << two;
  const auto one_rows = nonempty_lines(read_text(dir / "soft" / "history.csv"));
  const auto two_rows = nonempty_lines(read_text(dir / "two" / "history.csv"));
  ASSERT_GT(one_rows.size(), 300u);
  for (std::size_t i = 1; i <= 300; ++i) {
    auto loss = [](const std::string& row) {
      std::stringstream in(row);
      std::string cell;
      for (int c = 0; c < 4; ++c) std::getline(in, cell, ',');
      return std::stod(cell);
    };
    EXPECT_NEAR(loss(two_rows[i]), loss(one_rows[i]), 1e-9 * loss(one_rows[i])) << "row " << i;
  }
}

TEST(CliPinn, GeometryAndConditionErrorsNameTheirPlace) {
  const fs::path dir = test_folder();
  const std::string lshape = (source_dir() / "cases" / "pinn" / "poisson_lshape.yaml").string();
  struct Case {
    std::string set, expected;
  };
  const std::vector<Case> cases{
      {"conditions=[{on: [outer, nothc]}]", "did you mean 'notch'"},
      {"conditions=[{on: outer}]", "'notch.left' has none"},
      {"conditions=[{on: [outer, notch]}, {on: notch}]", "already has conditions[0]"},
      {"conditions=[{on: [outer, notch], type: neumann}]",
       "conditions[0].on: parts that are whole faces of the grid's box ('notch.left' is not)"},
      {"geometry={type: disk, center: [0, 0], radius: 2}", "inside the grid's box"},
      {"conditions=[{on: outer, enforce: hard}, {on: notch, enforce: hard}]",
       "at most one condition can be hard"},
  };
  for (const Case& c : cases) {
    const CliResult r = run_karman(dir, {"validate", lshape, "--set", c.set});
    EXPECT_EQ(r.status, 1) << c.set << "\n" << r;
    ASSERT_EQ(r.error_lines().size(), 1u) << r;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.set << "\n" << r;
    // The place: the case file (line:column of the override's text) or the --set argument.
    EXPECT_TRUE(r.err.find("poisson_lshape.yaml") != std::string::npos ||
                r.err.find("--set") != std::string::npos)
        << r;
  }
  const std::string heat = (source_dir() / "cases" / "pinn" / "heat2d.yaml").string();
  const CliResult r = run_karman(
      dir, {"validate", heat, "--set", "geometry={type: disk, center: [0.5, 0.5], radius: 0.5}"});
  EXPECT_EQ(r.status, 1) << r;
  EXPECT_NE(r.err.find("steady poisson"), std::string::npos) << r;
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

// The wave equation is second order in time: the loss has an initial-velocity term (∂u/∂t at
// t = 0 through the derivative channels); a short run learns both standing modes.
TEST(CliPinn, WaveLearnsWithItsInitialVelocity) {
  const fs::path dir = test_folder();
  const std::string wave = (source_dir() / "cases" / "pinn" / "wave1d.yaml").string();
  const CliResult r = run_karman(
      dir, {"run", wave, "--output", "wave", "--quiet", "--set", "samples.interior=1024", "--set",
            "samples.initial=256", "--set", "model.hidden=[32, 32, 32]", "--set",
            "training.stages=[{optimizer: adam, steps: 600, lr: 2.0e-3}, {optimizer: lbfgs, "
            "steps: 600}]"});
  ASSERT_EQ(r.status, 0) << r;
  const auto m = report_of(dir / "wave")["metrics"];
  ASSERT_TRUE(m.contains("loss_initial_velocity")) << m.dump();
  EXPECT_LT(m["loss_initial_velocity"].get<double>(), 1e-2) << m.dump();
  // At t = 2 the exact state is sin(πx) again; an untrained network is O(1) off.
  EXPECT_LT(m["rel_l2_exact"].get<double>(), 0.2) << m.dump();
  std::printf("    wave PINN 1200 steps: rel_l2_exact %.3e at t = 2 (reference %.3e)\n",
              m["rel_l2_exact"].get<double>(), m["reference_rel_l2_exact"].get<double>());
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
  EXPECT_NE(darcy.err.find("kind pinn supports poisson, heat, burgers, allen_cahn"),
            std::string::npos)
      << darcy;
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

// The inverse problem: κ starts at 0.3 and is learned from observations of u at t = 0.5 (the
// PETSc solve with κ = 0.1) through the residual's ∂r/∂κ = −Δu, within a few per cent of the
// network's own error after a short run. Observations read from a file give the same κ on 1 and 2
// ranks to round-off (from the in-run reference they would inherit the PETSc solve's rank-count
// round-off, which L-BFGS amplifies).
TEST(CliPinn, InverseHeatLearnsTheDiffusivity) {
  const fs::path dir = test_folder();
  const std::string inverse = (source_dir() / "cases" / "pinn" / "inverse_heat.yaml").string();
  auto short_inverse = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args{
        "run",
        inverse,
        "--output",
        out,
        "--quiet",
        "--set",
        "samples.interior=1024",
        "--set",
        "model.hidden=[32, 32]",
        "--set",
        "training.stages=[{optimizer: adam, steps: 500, lr: 2.0e-3}, {optimizer: lbfgs, steps: "
        "300}]"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const CliResult r = run_karman(dir, short_inverse("inverse", {}));
  ASSERT_EQ(r.status, 0) << r;
  const auto m = report_of(dir / "inverse")["metrics"];
  EXPECT_LT(m["kappa_rel_error"].get<double>(), 0.1) << m.dump();
  EXPECT_GT(m["loss_observations"].get<double>(), 0.0) << m.dump();
  std::printf("    inverse heat: kappa %.6f (true 0.1, from 0.3), rel_l2 %.3e\n",
              m["kappa"].get<double>(), m["rel_l2"].get<double>());

  // Observations from a file (the reference run's final field), on 1 and 2 ranks.
  const std::string heat = (source_dir() / "cases" / "reference" / "heat2d.yaml").string();
  const CliResult ref =
      run_karman(dir, {"run", heat, "--output", "heat_ref", "--quiet", "--set", "grid.n=33"});
  ASSERT_EQ(ref.status, 0) << ref;
  double kappa[2] = {0, 0};
  for (int ranks : {1, 2}) {
    const std::string out = "from_file" + std::to_string(ranks);
    const CliResult f = run_karman(
        dir,
        short_inverse(out, {"--set",
                            "inverse.observations={from: file, file: heat_ref/fields.h5, "
                            "dataset: /fields/reference, count: 256}"}),
        ranks);
    ASSERT_EQ(f.status, 0) << f;
    const auto mf = report_of(dir / out)["metrics"];
    EXPECT_LT(mf["kappa_rel_error"].get<double>(), 0.1) << mf.dump();
    kappa[ranks - 1] = mf["kappa"].get<double>();
  }
  EXPECT_NEAR(kappa[1], kappa[0], 1e-12 * kappa[0]);

  // Only heat has an inverse form so far: one clear line.
  const CliResult poisson = run_karman(
      dir, {"validate", kCase, "--set", "inverse={kappa: {initial: 1}, observations: {}}"});
  EXPECT_EQ(poisson.status, 1) << poisson;
  EXPECT_NE(poisson.err.find("inverse problems are supported for heat"), std::string::npos)
      << poisson;
}

// samples.resample_every: fresh collocation points every N first-order steps — the history equals
// the fixed-point run's up to step N and departs from it after; 2 ranks draw the same points.
TEST(CliPinn, ResamplingRedrawsPointsAndStaysReproducible) {
  const fs::path dir = test_folder();
  auto losses = [&](const std::string& out) {
    std::vector<double> values;
    const auto rows = nonempty_lines(read_text(dir / out / "history.csv"));
    for (std::size_t i = 1; i < rows.size(); ++i) {
      std::stringstream in(rows[i]);
      std::string cell;
      for (int c = 0; c < 4; ++c) std::getline(in, cell, ',');
      values.push_back(std::stod(cell));
    }
    return values;
  };
  auto run = [&](const std::string& out, bool resample, int ranks) {
    auto args = short_run(out);
    if (resample) args.insert(args.end(), {"--set", "samples.resample_every=100"});
    const CliResult r = run_karman(dir, args, ranks);
    EXPECT_EQ(r.status, 0) << r;
    return losses(out);
  };
  const auto fixed = run("fixed", false, 1), resampled = run("resampled", true, 1);
  ASSERT_EQ(fixed.size(), 500u);
  ASSERT_EQ(resampled.size(), 500u);
  for (std::size_t i = 0; i < 100; ++i) EXPECT_EQ(resampled[i], fixed[i]) << "step " << i + 1;
  EXPECT_NE(resampled[100], fixed[100]);  // step 101 sees the second point set
  const auto m = report_of(dir / "resampled")["metrics"];
  EXPECT_LT(m["rel_l2_exact"].get<double>(), 0.15) << m.dump();
  const auto two = run("resampled2", true, 2);
  ASSERT_EQ(two.size(), resampled.size());
  for (std::size_t i = 0; i < two.size(); ++i)
    EXPECT_NEAR(two[i], resampled[i], 1e-12 * resampled[i]) << "step " << i + 1;
}

// model.periodic on Allen–Cahn's periodic grid: the network is periodic by construction, so the
// periodic boundary term (u and u_x matched across the faces) is zero to round-off at every step,
// where the plain network leaves it well above; on a grid that is not periodic the key is one
// clear error.
TEST(CliPinn, PeriodicEmbeddingMakesTheNetworkPeriodic) {
  const fs::path dir = test_folder();
  const std::string allen_cahn = (source_dir() / "cases" / "pinn" / "allen_cahn1d.yaml").string();
  auto run = [&](const std::string& out, bool periodic) {
    std::vector<std::string> args{"run",
                                  allen_cahn,
                                  "--output",
                                  out,
                                  "--quiet",
                                  "--set",
                                  "grid.n=128",
                                  "--set",
                                  "time.dt=0.01",
                                  "--set",
                                  "samples={interior: 256, boundary: 32, initial: 64, seed: 1}",
                                  "--set",
                                  "model.hidden=[16, 16]",
                                  "--set",
                                  "training.stages=[{optimizer: adam, steps: 40, lr: 1.0e-3}]"};
    if (periodic) args.insert(args.end(), {"--set", "model.periodic={modes: 2}"});
    const CliResult r = run_karman(dir, args);
    EXPECT_EQ(r.status, 0) << r;
    return report_of(dir / out)["metrics"];
  };
  const auto plain = run("plain", false), periodic = run("periodic", true);
  EXPECT_GT(plain["loss_periodic"].get<double>(), 1e-8) << plain.dump();
  EXPECT_LT(periodic["loss_periodic"].get<double>(), 1e-24) << periodic.dump();
  EXPECT_LT(periodic["loss_initial"].get<double>(), 10 * plain["loss_initial"].get<double>());

  const CliResult bad = run_karman(dir, {"validate", kCase, "--set", "model.periodic={modes: 2}"});
  EXPECT_EQ(bad.status, 1) << bad;
  ASSERT_EQ(bad.error_lines().size(), 1u) << bad;
  EXPECT_NE(bad.err.find("model.periodic"), std::string::npos) << bad;
  EXPECT_NE(bad.err.find("periodic grid"), std::string::npos) << bad;
}
