// kind mppde and its dataset file (operators/mppde/dataset.hpp) through the CLI: a tiny E1 run
// generates data.file, a second run at another listed resolution reuses it, a run on 2 ranks
// generates bitwise the same trajectories, and a case whose n_x the file lacks fails at
// validation with one line naming the file, exit 1.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "operators/mppde/dataset.hpp"
#include "support/cli.hpp"

namespace {

using namespace karman::test;
using nlohmann::json;

bool contains(const std::string& text, const std::string& piece) {
  return text.find(piece) != std::string::npos;
}

// The E1 case, tiny: 8 + 4 trajectories, one message-passing layer, one training step.
std::vector<std::string> tiny(const std::string& output, const std::vector<std::string>& sets) {
  std::vector<std::string> args{"run", (source_dir() / "cases" / "mppde" / "e1.yaml").string(),
                                "--output", output};
  std::vector<std::string> all{"data.train=8",
                               "data.test=4",
                               "model.layers=1",
                               "training.passes=1",
                               "training.stages=[{optimizer: adamw, epochs: 1, lr: 1.0e-3}]",
                               "evaluation.batch=4",
                               "evaluation.baseline_trajectories=2"};
  all.insert(all.end(), sets.begin(), sets.end());
  for (const auto& s : all) args.insert(args.end(), {"--set", s});
  return args;
}

TEST(CliMppdeData, GeneratedReusedSameOnTwoRanksAndCheckedAtValidation) {
  const fs::path dir = test_folder();
  const std::string file = (dir / "e1.h5").string(), file2 = (dir / "e1_np2.h5").string();
  const CliResult first =
      run_karman(dir, tiny("first", {"data.file=" + file, "data.resolutions=[100, 50]"}));
  ASSERT_EQ(first.status, 0) << first;
  const json r1 = json::parse(read_text(dir / "first" / "report.json"));
  EXPECT_EQ(r1["dataset"].value("generated", false), true) << r1.dump(2);
  EXPECT_EQ(r1["dataset"].value("solved", 0), 12) << r1.dump(2);

  // Another resolution the file holds: reused, nothing solved again.
  const CliResult second = run_karman(
      dir, tiny("second", {"data.file=" + file, "data.resolution=50", "data.resolutions=[50]"}));
  ASSERT_EQ(second.status, 0) << second;
  const json r2 = json::parse(read_text(dir / "second" / "report.json"));
  EXPECT_EQ(r2["dataset"].value("generated", true), false) << r2.dump(2);
  EXPECT_EQ(r2["metrics"].value("nx", 0), 50) << r2.dump(2);

  // Two ranks write bitwise the same trajectories.
  const CliResult two =
      run_karman(dir, tiny("two", {"data.file=" + file2, "data.resolutions=[100, 50]"}), 2);
  ASSERT_EQ(two.status, 0) << two;
  for (long n : {100L, 50L}) {
    const auto a = karman::mppde::read_trajectories(MPI_COMM_SELF, file, n, 0, 12, true);
    const auto b = karman::mppde::read_trajectories(MPI_COMM_SELF, file2, n, 0, 12, true);
    EXPECT_EQ(a.u, b.u) << n;
    EXPECT_EQ(a.solver, b.solver) << n;
    EXPECT_EQ(a.alpha, b.alpha) << n;
  }

  // A resolution the file lacks: one line at validation, exit 1, the file untouched.
  const CliResult bad =
      run_karman(dir, {"validate", (source_dir() / "cases" / "mppde" / "e1.yaml").string(), "--set",
                       "data.file=" + file, "--set", "data.resolution=40"});
  EXPECT_EQ(bad.status, 1) << bad;
  ASSERT_EQ(bad.error_lines().size(), 1u) << bad;
  EXPECT_TRUE(contains(bad.error_lines()[0], "data.file")) << bad;
  EXPECT_TRUE(contains(bad.error_lines()[0], "dataset has n_x 100, 50; case asks 40")) << bad;
}

}  // namespace
