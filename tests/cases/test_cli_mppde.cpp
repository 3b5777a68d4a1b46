// kind mppde through `karman validate` and `karman run`: a small E1 case (cases/mppde/e1.yaml made
// small) trains end to end, its accumulated error on held-out trajectories is well below that of
// predicting "no change", and the report carries the paper's metric, the rollout times, the
// WENO5 baseline at equal accumulated error and the speedup against it; bad cases (an unknown
// experiment, a time window the decoder cannot produce, a resolution that is not a cell average
// of the ground truth) are one line naming the key, exit status 1.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "karman/nn/checkpoint.hpp"
#include "support/checkpoints.hpp"
#include "support/cli.hpp"
#include "support/report_checks.hpp"

using namespace karman::test;

namespace {

std::string e1_case() { return (source_dir() / "cases" / "mppde" / "e1.yaml").string(); }

// A tiny E1 run (2 layers of width 96 on 50 nodes) of `epochs` epochs of 5 steps, a checkpoint
// after each, into `output`.
std::vector<std::string> tiny_e1(const std::string& output, long epochs) {
  return {"run",
          e1_case(),
          "--output",
          output,
          "--quiet",
          "--set",
          "data={experiment: E1, train: 16, test: 4, resolution: 50}",
          "--set",
          "model={hidden: 96, layers: 2}",
          "--set",
          "training.batch_size=8",
          "--set",
          "training.passes=5",
          "--set",
          "training.checkpoint_every=1",
          "--set",
          "training.stages=[{optimizer: adamw, epochs: " + std::to_string(epochs) +
              ", lr: 1.0e-3, schedule: multistep, milestones: [2], gamma: 0.4}]",
          "--set",
          "evaluation={batch: 4, timing_trajectories: 1, baseline: false}"};
}

// The one error line of a bad `karman validate` of cases/mppde/e1.yaml with `set`.
void expect_bad(const std::string& set, const std::string& key, const std::string& expected) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, {"validate", e1_case(), "--set", set});
  EXPECT_EQ(r.status, 1) << r;
  const auto lines = r.error_lines();
  ASSERT_EQ(lines.size(), 1u) << r;
  EXPECT_NE(lines[0].find(key), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find(expected), std::string::npos) << lines[0];
}

}  // namespace

TEST(CliMppde, SmallE1TrainsAndIsComparedWithWenoAtEqualError) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(
      dir, {"run", e1_case(), "--output", "e1", "--quiet", "--set",
            "data={experiment: E1, train: 96, test: 8, resolution: 50}", "--set",
            "model={hidden: 96, layers: 2}", "--set", "training.batch_size=8", "--set",
            "training.passes=10", "--set",
            "training.stages=[{optimizer: adamw, epochs: 6, lr: 1.0e-3, weight_decay: 0.01, "
            "schedule: multistep, milestones: [3, 5], gamma: 0.4}]",
            "--set", "evaluation={batch: 8, timing_trajectories: 2, baseline_trajectories: 4}"});
  ASSERT_EQ(r.status, 0) << r;
  const auto report = report_of(dir / "e1");
  const auto m = report["metrics"];
  const double error = m["accumulated_error"].get<double>();
  const double no_change = m["no_change_accumulated_error"].get<double>();
  // It learned: the rollout of 8 windows beats holding the last true state by a wide margin.
  EXPECT_LT(error, no_change / 2.0) << m.dump();
  EXPECT_EQ(m["windows"], 8);  // steps 50..249 in windows of 25
  EXPECT_EQ(m["nx"], 50);
  EXPECT_EQ(m["paper"]["mppde"], 1.67);
  EXPECT_GT(m["rollout_s_per_trajectory"].get<double>(), 0.0);
  // The equal-error baseline: the coarsest WENO5 grid at or below the network's error.
  const auto b = report["baseline"];
  EXPECT_LE(b["accumulated_error"].get<double>(), b["network_accumulated_error"].get<double>())
      << b.dump();
  EXPECT_EQ(200 % b["n_x"].get<long>(), 0);
  EXPECT_NEAR(report["speedup"].get<double>(),
              b["wall_s"].get<double>() / m["rollout_s_per_trajectory"].get<double>(),
              1e-9 * report["speedup"].get<double>());
  std::printf(
      "    E1 n_x 50: accumulated error %.2f (no change %.2f, WENO5 at 50: %.3f); equal "
      "error WENO5 at n_x %ld, speedup %.3g\n",
      error, no_change, m["weno5_same_grid_accumulated_error"].get<double>(), b["n_x"].get<long>(),
      report["speedup"].get<double>());
}

// The pushforward's draws (trajectories, unroll counts, starts) are functions of the step, so a run
// killed after a checkpoint and resumed takes exactly the steps of an uninterrupted one.
TEST(CliMppde, KilledTrainingResumesToTheSameWeights) {
  expect_killed_run_resumes(
      test_folder(), [](const std::string& run) { return tiny_e1(run, 8); }, 10, 40,
      "accumulated_error");
}

TEST(CliMppde, UnknownExperimentIsOneLine) {
  expect_bad("data.experiment=E4", "data.experiment", "E1, E2 or E3");
}

TEST(CliMppde, TimeWindowTheDecoderCannotProduceIsOneLine) {
  expect_bad("model.time_window=40", "model.time_window", "produces at most 37 time steps");
}

TEST(CliMppde, ResolutionThatIsNotACellAverageIsOneLine) {
  expect_bad("data.resolution=64", "data.resolution", "must divide data.ground_truth = 200");
}
