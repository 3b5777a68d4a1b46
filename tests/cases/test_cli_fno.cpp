// kind fno through `karman run`, on small Darcy and Burgers datasets made by the run itself: the
// operator learns (test error falls), the report compares it with PETSc on the same instances
// (speedup, warm-start CG iterations), float64 training with training.reproducible gives the same
// loss history on 2 ranks as on 1, a run killed mid-training resumes to exactly the weights of an
// uninterrupted one, and a dataset with a NaN is refused with one line naming file and dataset.
// Navier–Stokes: the autoregressive (rolled-out) and space-time models learn on a tiny dataset and
// are compared with the pseudo-spectral solver continued from the same given states.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "karman/nn/checkpoint.hpp"
#include "support/checkpoints.hpp"
#include "support/cli.hpp"
#include "support/history.hpp"
#include "support/report_checks.hpp"
#include "support/small_fno.hpp"

using namespace karman;
using namespace karman::test;

namespace {

TEST(CliFno, DarcyLearnsAndIsComparedWithPetscOnTheSameInstances) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, small_darcy("darcy", 15));
  ASSERT_EQ(r.status, 0) << r;
  const auto report = report_of(dir / "darcy");
  const auto m = report["metrics"];
  const auto b = report["baseline"];
  EXPECT_EQ(report["precision"], "float32");
  // It learned: the test error fell well below its value after the first epoch.
  const auto test_errors = history_validations(dir / "darcy" / "history.csv");
  ASSERT_GE(test_errors.size(), 10u);
  EXPECT_LT(m["rel_l2"].get<double>(), 0.7 * test_errors.front()) << m.dump();
  EXPECT_LT(m["rel_l2"].get<double>(), 0.25) << m.dump();
  EXPECT_GE(m["rel_l2_max"].get<double>(), m["rel_l2"].get<double>());
  // The baseline solved the same 4 instances at 33² with CG + GAMG; its own error against the
  // 65² solution is a discretisation error, far below the FNO's here.
  EXPECT_EQ(b["samples"], 4);
  EXPECT_EQ(b["ksp"], "cg");
  EXPECT_EQ(b["pc"], "gamg");
  EXPECT_LT(b["rel_l2"].get<double>(), 0.05) << b.dump();
  EXPECT_NEAR(report["speedup"].get<double>(),
              b["solve_s_per_sample"].get<double>() / m["infer_s_per_sample"].get<double>(),
              1e-9 * report["speedup"].get<double>());
  // The hybrid solve: CG from the FNO's prediction takes no more iterations than from zero.
  EXPECT_LE(m["warm_start_iterations"].get<double>(), b["iterations"].get<double>()) << m.dump();
  EXPECT_TRUE(fs::is_regular_file(dir / "darcy" / "fields.h5"));
  EXPECT_TRUE(fs::is_regular_file(dir / "darcy" / "dataset.h5"));
  std::printf(
      "    darcy 33²: rel_l2 %.3e (first epoch %.3e), PETSc %.2e s/sample, FNO %.2e "
      "s/sample, CG iterations %.1f cold, %.1f warm\n",
      m["rel_l2"].get<double>(), test_errors.front(), b["solve_s_per_sample"].get<double>(),
      m["infer_s_per_sample"].get<double>(), b["iterations"].get<double>(),
      m["warm_start_iterations"].get<double>());
}

TEST(CliFno, BurgersLearnsAndEvaluatesOnAFinerGrid) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(
      dir, {"run", (source_dir() / "cases" / "fno" / "burgers1d.yaml").string(), "--output",
            "burgers", "--quiet", "--set",
            "data={problem: burgers, samples: 60, train: 52, test: 8, resolution: 256, stride: 4}",
            "--set", "model={modes: 12, width: 16, layers: 2, projection: 32}", "--set",
            "training.stages=[{optimizer: adam, epochs: 30, lr: 3.0e-3}]", "--set",
            "training.batch_size=13", "--set",
            "evaluation={baseline_samples: 4, super_resolution: 2, super_samples: 4}"});
  ASSERT_EQ(r.status, 0) << r;
  const auto report = report_of(dir / "burgers");
  const auto m = report["metrics"];
  EXPECT_LT(m["rel_l2"].get<double>(), 0.3) << m.dump();
  EXPECT_EQ(m["resolution"], nlohmann::json::array({64}));
  // The same weights on the twice finer grid: the error stays of the same size.
  EXPECT_EQ(m["super_resolution"]["resolution"], nlohmann::json::array({128}));
  EXPECT_LT(m["super_resolution"]["rel_l2"].get<double>(), 2.0 * m["rel_l2"].get<double>() + 0.02)
      << m.dump();
  EXPECT_FALSE(report["baseline"]["ts"].get<std::string>().empty());
  std::printf("    burgers 64: rel_l2 %.3e, at 128 %.3e; speedup %.2f\n", m["rel_l2"].get<double>(),
              m["super_resolution"]["rel_l2"].get<double>(), report["speedup"].get<double>());
}

TEST(CliFno, Float64TrainingHasTheSameHistoryOnTwoRanks) {
  const fs::path dir = test_folder();
  const std::vector<std::string> reproducible = {"--set", "precision=float64",
                                                 "--set", "training.reproducible=true",
                                                 "--set", "training.chunks=4"};
  const CliResult one = run_karman(dir, small_darcy("one", 4, reproducible));
  ASSERT_EQ(one.status, 0) << one;
  const CliResult two = run_karman(dir, small_darcy("two", 4, reproducible), /*ranks=*/2);
  ASSERT_EQ(two.status, 0) << two;
  const auto a = history_losses(dir / "one" / "history.csv");
  ASSERT_EQ(a.size(), 20u);  // 4 epochs of 40 / 8 batches
  EXPECT_LT(a.back(), a.front());
  EXPECT_LE(max_relative_difference(a, history_losses(dir / "two" / "history.csv")), 1e-12);
  // Both generated their own dataset: the same bits (the test metrics then agree as well).
  EXPECT_NEAR(report_of(dir / "two")["metrics"]["rel_l2"].get<double>(),
              report_of(dir / "one")["metrics"]["rel_l2"].get<double>(), 1e-12);
}

// A batch smaller than the rank count leaves a rank without a sample: it adds nothing to the
// summed gradient, so two ranks train exactly as one does (x + 0 is x).
TEST(CliFno, ABatchSmallerThanTheRankCountTrainsAsOnOneRank) {
  const fs::path dir = test_folder();
  const std::vector<std::string> one_sample = {
      "--set", "precision=float64", "--set", "training.batch_size=1", "--set", "data.train=6"};
  const CliResult one = run_karman(dir, small_darcy("one", 1, one_sample));
  ASSERT_EQ(one.status, 0) << one;
  const CliResult two = run_karman(dir, small_darcy("two", 1, one_sample), /*ranks=*/2);
  ASSERT_EQ(two.status, 0) << two;
  const auto a = history_losses(dir / "one" / "history.csv");
  ASSERT_EQ(a.size(), 6u);  // 1 epoch of 6 batches of 1
  EXPECT_LE(max_relative_difference(a, history_losses(dir / "two" / "history.csv")), 1e-12);
}

TEST(CliFno, KilledTrainingResumesToTheSameWeights) {
  const std::vector<std::string> every_epoch = {"--set", "training.checkpoint_every=1"};
  expect_killed_run_resumes(
      test_folder(), [&](const std::string& run) { return small_darcy(run, 12, every_epoch); }, 15,
      60, "rel_l2");
}

// cases/fno/navier_stokes2d.yaml made tiny: 24 trajectories on 32², 10 given states, T = 3.
std::vector<std::string> small_navier_stokes(const std::string& output, const std::string& time,
                                             const std::string& model, long epochs, long batch) {
  return {"run",
          (source_dir() / "cases" / "fno" / "navier_stokes2d.yaml").string(),
          "--output",
          output,
          "--quiet",
          "--set",
          "data={problem: navier_stokes, samples: 24, train: 20, test: 4, resolution: 32, "
          "stride: 1, navier_stokes: {t_end: 13}}",
          "--set",
          "model={time: " + time + ", " + model + "}",
          "--set",
          "training.batch_size=" + std::to_string(batch),
          "--set",
          "training.validate_every=1",
          "--set",
          "training.stages=[{optimizer: adam, epochs: " + std::to_string(epochs) +
              ", lr: 3.0e-3, schedule: step, every: 10, gamma: 0.5}]",
          "--set",
          "evaluation={baseline_samples: 2, fields: 1}"};
}

// The test error fell below its value after the first epoch and below `bound`; the baseline is the
// solver on the same instances, timed, and the speedup is its time over the FNO's.
nlohmann::json expect_learned_and_compared(const fs::path& run, const std::string& time,
                                           double bound) {
  const auto report = report_of(run);
  const auto m = report["metrics"];
  const auto b = report["baseline"];
  EXPECT_EQ(m["time"], time);
  EXPECT_EQ(m["resolution"], nlohmann::json::array({32, 32}));
  const auto test_errors = history_validations(run / "history.csv");
  EXPECT_GE(test_errors.size(), 5u);
  if (test_errors.empty()) return m;
  EXPECT_LT(m["rel_l2"].get<double>(), 0.8 * test_errors.front()) << m.dump();
  EXPECT_LT(m["rel_l2"].get<double>(), bound) << m.dump();
  EXPECT_GT(m["rel_l2_last"].get<double>(), 0.0) << m.dump();
  EXPECT_LE(m["rel_l2"].get<double>(), m["rel_l2_max"].get<double>()) << m.dump();
  EXPECT_EQ(b["samples"], 2);
  EXPECT_GT(b["solve_s_per_sample"].get<double>(), 0.0);
  EXPECT_LT(b["rel_l2"].get<double>(), 1e-4) << b.dump();  // the dataset's own solver
  EXPECT_NEAR(report["speedup"].get<double>(),
              b["solve_s_per_sample"].get<double>() / m["infer_s_per_sample"].get<double>(),
              1e-9 * report["speedup"].get<double>());
  EXPECT_TRUE(fs::is_regular_file(run / "fields.h5"));
  std::printf(
      "    navier_stokes 32², %s: rel_l2 %.3e (first epoch %.3e, last time %.3e), solver "
      "%.2e s/sample, FNO %.2e s/sample\n",
      time.c_str(), m["rel_l2"].get<double>(), test_errors.front(), m["rel_l2_last"].get<double>(),
      b["solve_s_per_sample"].get<double>(), m["infer_s_per_sample"].get<double>());
  return m;
}

TEST(CliFno, NavierStokesAutoregressiveLearnsAndRollsOut) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(
      dir, small_navier_stokes("autoregressive", "autoregressive",
                               "modes: 8, width: 12, layers: 2, projection: 32", 12, 20));
  ASSERT_EQ(r.status, 0) << r;
  // 20 trajectories give 20 · 3 one-step examples: 3 batches of 20 per epoch.
  EXPECT_EQ(history_losses(dir / "autoregressive" / "history.csv").size(), 36u);
  const auto m = expect_learned_and_compared(dir / "autoregressive", "autoregressive", 0.25);
  // Rolled out on its own predictions, the error grows: the last time is worse than the mean.
  EXPECT_GT(m["rel_l2_last"].get<double>(), m["rel_l2"].get<double>()) << m.dump();
}

TEST(CliFno, NavierStokesSpaceTimeLearns) {
  const fs::path dir = test_folder();
  const CliResult r =
      run_karman(dir, small_navier_stokes("space_time", "space_time",
                                          "modes: [8, 8, 2], width: 12, layers: 2, projection: 32, "
                                          "padding: [0, 0, 2]",
                                          15, 5));
  ASSERT_EQ(r.status, 0) << r;
  expect_learned_and_compared(dir / "space_time", "space_time", 0.15);
}

TEST(CliFno, TimeTreatmentIsForNavierStokesOnly) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, small_darcy("darcy", 1, {"--set", "model.time=direct"}));
  EXPECT_EQ(r.status, 1) << r;
  const auto lines = r.error_lines();
  ASSERT_EQ(lines.size(), 1u) << r;
  EXPECT_NE(lines[0].find("time"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("navier_stokes"), std::string::npos) << lines[0];
  // The autoregressive model feeds its predictions back: per-point statistics are refused.
  auto args = small_navier_stokes("per_point", "autoregressive", "modes: 4", 1, 4);
  args.insert(args.end(), {"--set", "data.normalize=per_point"});
  const CliResult p = run_karman(dir, args);
  EXPECT_EQ(p.status, 1) << p;
  ASSERT_EQ(p.error_lines().size(), 1u) << p;
  EXPECT_NE(p.error_lines()[0].find("normalize"), std::string::npos) << p.error_lines()[0];
}

// Trained through its whole rollout (training.rollout: full, T = 3): every trajectory is one
// window of K + 3 states, so 20 trajectories in batches of 5 give 4 steps per epoch; the report
// states the rollout, and the test error falls as with teacher forcing.
TEST(CliFno, NavierStokesTrainsThroughItsRollout) {
  const fs::path dir = test_folder();
  auto args = small_navier_stokes("rollout", "autoregressive",
                                  "modes: 8, width: 12, layers: 2, projection: 32", 12, 5);
  args.insert(args.end(), {"--set", "training.rollout=full"});
  const CliResult r = run_karman(dir, args);
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_EQ(history_losses(dir / "rollout" / "history.csv").size(), 48u);
  const auto m = expect_learned_and_compared(dir / "rollout", "autoregressive", 0.25);
  EXPECT_EQ(m["rollout"], 3) << m.dump();
  EXPECT_EQ(m["teacher_forcing"], false) << m.dump();
}

// training.rollout is for the autoregressive model, and at most T steps.
TEST(CliFno, RolloutOutsideTheAutoregressiveModelIsRefused) {
  const fs::path dir = test_folder();
  auto args =
      small_navier_stokes("space_time", "space_time", "modes: [4, 4, 2], padding: [0, 0, 2]", 1, 4);
  args.insert(args.end(), {"--set", "training.rollout=2"});
  const CliResult r = run_karman(dir, args);
  EXPECT_EQ(r.status, 1) << r;
  ASSERT_EQ(r.error_lines().size(), 1u) << r;
  EXPECT_NE(r.error_lines()[0].find("training.rollout"), std::string::npos) << r.error_lines()[0];
  EXPECT_NE(r.error_lines()[0].find("autoregressive"), std::string::npos) << r.error_lines()[0];
  auto longer = small_navier_stokes("longer", "autoregressive", "modes: 4", 1, 4);
  longer.insert(longer.end(), {"--set", "training.rollout=4"});  // T = 3
  const CliResult l = run_karman(dir, longer);
  EXPECT_EQ(l.status, 1) << l;
  ASSERT_EQ(l.error_lines().size(), 1u) << l;
  EXPECT_NE(l.error_lines()[0].find("training.rollout"), std::string::npos) << l.error_lines()[0];
  EXPECT_FALSE(fs::exists(dir / "space_time" / "report.json"));
  EXPECT_FALSE(fs::exists(dir / "longer" / "report.json"));
}

// One value of /outputs set to NaN in place.
void poison(const fs::path& file) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t d = H5Dopen2(f, "/outputs", H5P_DEFAULT);
  hid_t space = H5Dget_space(d);
  const hsize_t at[4] = {3, 0, 5, 7}, one[4] = {1, 1, 1, 1};
  H5Sselect_hyperslab(space, H5S_SELECT_SET, at, nullptr, one, nullptr);
  hid_t memory = H5Screate_simple(1, one, nullptr);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_GE(H5Dwrite(d, H5T_NATIVE_DOUBLE, memory, space, H5P_DEFAULT, &nan), 0);
  H5Sclose(memory), H5Sclose(space), H5Dclose(d), H5Fclose(f);
}

TEST(CliFno, ADatasetWithANanIsRefusedNamingFileAndDataset) {
  const fs::path dir = test_folder();
  const CliResult made = run_karman(dir, small_darcy("made", 1));
  ASSERT_EQ(made.status, 0) << made;
  fs::copy_file(dir / "made" / "dataset.h5", dir / "bad.h5");
  poison(dir / "bad.h5");
  // The same settings as the file's: a finished dataset is reused as a cache, so its values are
  // validated when they are read.
  const CliResult r = run_karman(dir, small_darcy("bad", 1, {"--set", "data.file=bad.h5"}));
  EXPECT_EQ(r.status, 1) << r;
  const auto lines = r.error_lines();
  ASSERT_EQ(lines.size(), 1u) << r;
  EXPECT_NE(lines[0].find("bad.h5"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("/outputs"), std::string::npos) << lines[0];
  EXPECT_FALSE(fs::exists(dir / "bad" / "report.json"));
}

}  // namespace
