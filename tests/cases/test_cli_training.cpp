// Training through `karman run` (kind fit): the fit2d case reaches its accuracy, a run killed with
// SIGKILL and resumed with --resume ends with exactly the weights of an uninterrupted run, two
// ranks give the same final loss as one (and, with training.reproducible, the same loss history
// through L-BFGS and with mini-batches; the default in float64), and an absurd learning rate ends
// in one clear line, exit status 1 and a readable last good checkpoint.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "karman/core/error.hpp"
#include "karman/nn/checkpoint.hpp"
#include "support/checkpoints.hpp"
#include "support/cli.hpp"
#include "support/history.hpp"
#include "support/report_checks.hpp"

using namespace karman;
using namespace karman::test;

namespace {

const std::string kFit = (source_dir() / "cases" / "nn" / "fit2d.yaml").string();

// A shortened fit2d: fewer samples, Adam then L-BFGS, a checkpoint every 50 steps.
std::vector<std::string> short_fit(const std::string& output, long adam_steps, long lbfgs_steps) {
  return {"run",
          kFit,
          "--output",
          output,
          "--quiet",
          "--set",
          "samples.train=512",
          "--set",
          "samples.test=512",
          "--set",
          "evaluation.n=17",
          "--set",
          "training.checkpoint_every=50",
          "--set",
          "training.stages=[{optimizer: adam, steps: " + std::to_string(adam_steps) +
              ", lr: 1.0e-2, schedule: cosine}, {optimizer: lbfgs, steps: " +
              std::to_string(lbfgs_steps) + ", tolerance_change: 0, tolerance_gradient: 0}]"};
}

}  // namespace

TEST(CliTraining, Fit2dReachesItsAccuracyWithTheSameLossOnTwoRanks) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, {"run", kFit, "--output", "fit", "--quiet"});
  ASSERT_EQ(r.status, 0) << r;
  const auto report = report_of(dir / "fit");
  EXPECT_EQ(report["status"], "ok");
  EXPECT_EQ(report["kind"], "fit");
  const auto& m = report["metrics"];
  EXPECT_LT(m["rel_l2"].get<double>(), 1e-3) << m.dump();
  EXPECT_GT(m["final_loss"].get<double>(), 0.0);
  EXPECT_EQ(m["steps"].get<long>(), 6000);
  EXPECT_GT(m["train_wall_s"].get<double>(), 0.0);
  EXPECT_TRUE(fs::is_regular_file(dir / "fit" / "checkpoint.h5"));
  EXPECT_TRUE(fs::is_regular_file(dir / "fit" / "history.csv"));
  EXPECT_TRUE(fs::is_regular_file(dir / "fit" / "fields.h5"));
  std::printf("    fit2d: rel_l2 %.3e, final_loss %.3e, %.1f s of training\n",
              m["rel_l2"].get<double>(), m["final_loss"].get<double>(),
              m["train_wall_s"].get<double>());

  // The case as a user runs it, on two ranks: float64 training sums its gradients in fixed-order
  // chunks by default (training.reproducible), so 6000 steps of Adam and L-BFGS end on the
  // one-rank loss (before that default, 5.05e-8 on one rank and 6.76e-8 on two).
  const CliResult two = run_karman(dir, {"run", kFit, "--output", "two", "--quiet"}, /*ranks=*/2);
  ASSERT_EQ(two.status, 0) << two;
  const double one_rank = m["final_loss"],
               two_ranks = report_of(dir / "two")["metrics"]["final_loss"];
  EXPECT_EQ(report_of(dir / "two")["ranks"], 2);
  EXPECT_NEAR(two_ranks, one_rank, 1e-10 * one_rank);
  std::printf("    fit2d final_loss: 1 rank %.17g, 2 ranks %.17g\n", one_rank, two_ranks);
}

TEST(CliTraining, KilledRunResumesToTheSameWeights) {
  // Killed once it has checkpointed past step 100, i.e. somewhere inside the Adam stage.
  expect_killed_run_resumes(
      test_folder(), [](const std::string& run) { return short_fit(run, 600, 30); }, 100, 600,
      "final_loss");
}

TEST(CliTraining, ReproducibleTrainingGivesTheOneRankHistoryOnTwoRanks) {
  const fs::path dir = test_folder();
  auto reproducible = [](std::vector<std::string> args, const std::string& batch) {
    args.insert(args.end(),
                {"--set", "training.reproducible=true", "--set", "training.batch_size=" + batch});
    return args;
  };
  // Full batch, Adam then 200 L-BFGS iterations; then mini-batches of 96 (chunks of 6 rows).
  for (const std::string batch : {"0", "96"}) {
    const std::string one = "one_" + batch, two = "two_" + batch;
    const long lbfgs = batch == "0" ? 200 : 0;
    const CliResult a = run_karman(dir, reproducible(short_fit(one, 200, lbfgs), batch));
    ASSERT_EQ(a.status, 0) << a;
    const CliResult b = run_karman(dir, reproducible(short_fit(two, 200, lbfgs), batch), 2);
    ASSERT_EQ(b.status, 0) << b;
    const auto losses = history_losses(dir / one / "history.csv");
    EXPECT_GE(losses.size(), 200u + lbfgs);
    EXPECT_LT(losses.back(), 0.3 * losses.front()) << "batch " << batch;  // it did learn
    EXPECT_LE(max_relative_difference(losses, history_losses(dir / two / "history.csv")), 1e-12)
        << "batch " << batch;
  }
}

TEST(CliTraining, AbsurdLearningRateStopsWithOneLine) {
  const fs::path dir = test_folder();
  const CliResult r =
      run_karman(dir, {"run", kFit, "--output", "nan", "--quiet", "--set", "samples.train=256",
                       "--set", "training.checkpoint_every=1", "--set",
                       "training.stages=[{optimizer: sgd, steps: 500, lr: 1.0e+3}]"});
  EXPECT_EQ(r.status, 1) << r;
  const auto lines = r.error_lines();
  ASSERT_EQ(lines.size(), 1u) << r;
  EXPECT_NE(lines[0].find("karman: error: training stopped at step"), std::string::npos) << r;
  EXPECT_NE(lines[0].find("last good checkpoint"), std::string::npos) << r;
  EXPECT_EQ(report_of(dir / "nan")["status"], "diverged");
  const auto parameters = parameters_of(dir / "nan" / "checkpoint.h5");
  EXPECT_FALSE(parameters.empty());
  for (const auto& [name, values] : parameters)
    for (double v : values) ASSERT_TRUE(std::isfinite(v)) << name;
}
