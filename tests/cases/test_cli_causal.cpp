// Causal training of a time-dependent PINN (training.causal) end to end: cases/pinn/
// allen_cahn1d_causal.yaml shortened reaches an asserted error against the PETSc reference; a
// float64 run has bitwise the same loss and causal-weight history on 2 ranks as on 1 (the bin
// losses are summed along the fixed chunk tree); bad input is one line, exit status 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli.hpp"
#include "support/history.hpp"

namespace {

using namespace karman::test;
using json = nlohmann::json;

const fs::path kCase = source_dir() / "cases" / "pinn" / "allen_cahn1d_causal.yaml";

json report_of(const fs::path& run) { return json::parse(read_text(run / "report.json")); }

std::vector<std::string> run_args(const std::string& output, const std::vector<std::string>& sets) {
  std::vector<std::string> args{"run", kCase.string(), "--output", output, "--quiet"};
  for (const auto& s : sets) args.insert(args.end(), {"--set", s});
  return args;
}

// history.csv's column `name` as its text (bitwise comparisons: written with 17 digits).
std::vector<std::string> column_text(const fs::path& csv, const std::string& name) {
  const auto rows = nonempty_lines(read_text(csv));
  std::vector<std::string> header;
  {
    std::stringstream in(rows.at(0));
    for (std::string cell; std::getline(in, cell, ',');) header.push_back(cell);
  }
  const auto at = std::find(header.begin(), header.end(), name);
  EXPECT_NE(at, header.end()) << name << " is not a column of " << csv;
  const std::size_t column = static_cast<std::size_t>(at - header.begin());
  std::vector<std::string> out;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    std::stringstream in(rows[i]);
    std::string cell;
    for (std::size_t c = 0; c <= column; ++c) std::getline(in, cell, ',');
    out.push_back(cell);
  }
  return out;
}

// A small run: 30 Adam steps then 5 L-BFGS iterations, 512 interior points, a coarse reference.
const std::vector<std::string> kSmall = {
    "samples.interior=512",
    "samples.boundary=64",
    "samples.initial=128",
    "grid.n=128",
    "time.dt=1.0e-2",
    "model.hidden=[16, 16]",
    "training.stages=[{optimizer: adam, steps: 30, lr: 1.0e-2}, "
    "{optimizer: lbfgs, steps: 5}]",
    "training.causal={bins: 8, epsilon: [1.0e-3, 1.0e-2, 1.0e-1], delta: 0.5}"};

}  // namespace

TEST(CliCausal, TwoRanksGiveTheSameLossAndWeightHistory) {
  const fs::path dir = test_folder();
  const CliResult one = run_karman(dir, run_args("one", kSmall));
  ASSERT_EQ(one.status, 0) << one;
  const CliResult two = run_karman(dir, run_args("two", kSmall), /*ranks=*/2);
  ASSERT_EQ(two.status, 0) << two;
  for (const char* column :
       {"loss", "loss_residual", "loss_causal_min_weight", "loss_causal_epsilon"}) {
    const auto a = column_text(dir / "one" / "history.csv", column);
    ASSERT_EQ(a.size(), 35u) << column;
    EXPECT_EQ(a, column_text(dir / "two" / "history.csv", column)) << column;
  }
  // The weights moved: below 1 after the first step, and the schedule left its first ε.
  const auto weights = history_column(dir / "one" / "history.csv", 9);
  const auto epsilon = history_column(dir / "one" / "history.csv", 10);
  EXPECT_EQ(weights.front(), 1.0);
  EXPECT_LT(*std::min_element(weights.begin(), weights.end()), 1.0);
  EXPECT_GT(epsilon.back(), epsilon.front());
}

TEST(CliCausal, BadInputIsOneLine) {
  const fs::path dir = test_folder();
  auto expect_one_line = [&](const std::vector<std::string>& args,
                             const std::vector<std::string>& pieces) {
    const CliResult r = run_karman(dir, args);
    EXPECT_EQ(r.status, 1) << r;
    const auto lines = r.error_lines();
    ASSERT_EQ(lines.size(), 1u) << r;
    for (const auto& piece : pieces)
      EXPECT_NE(lines[0].find(piece), std::string::npos) << "missing '" << piece << "'\n" << r;
  };
  // Causal weights on a steady PDE.
  const fs::path poisson = source_dir() / "cases" / "pinn" / "poisson2d.yaml";
  expect_one_line({"validate", poisson.string(), "--set", "training.causal={bins: 8}"},
                  {"--set training.causal", "time-dependent", "steady"});
  // Tolerances out of order.
  expect_one_line(run_args("bad", {"training.causal={epsilon: [1, 0.1]}"}),
                  {"training.causal.epsilon", "increasing"});
  // A natural-gradient stage.
  expect_one_line(run_args("bad", {"model.architecture=mlp",
                                   "training.stages=[{optimizer: natural_gradient, steps: 2}]"}),
                  {"training.stages[0].optimizer", "training.causal"});
}

// The case on a quarter of its time span (t ≤ 0.25), 512 points, 400 Adam steps: measured
// rel_l2 0.074 at t = 0.25 (the same run without training.causal: 0.072; so short a run does not
// tell the methods apart, the bound guards the causal path's accuracy).
TEST(CliCausal, ShortenedCaseReachesItsBound) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(
      dir, run_args("short", {"samples.interior=512", "samples.boundary=64", "samples.initial=128",
                              "grid.n=128", "time.dt=5.0e-3", "time.t_end=0.25", "time.snapshots=2",
                              "model.hidden=[16, 16, 16]",
                              "training.stages=[{optimizer: adam, steps: 400, lr: 5.0e-3}]"}));
  ASSERT_EQ(r.status, 0) << r;
  const json metrics = report_of(dir / "short")["metrics"];
  EXPECT_LT(metrics["rel_l2"].get<double>(), 0.12) << metrics.dump();
  EXPECT_GT(metrics["loss_causal_min_weight"].get<double>(), 0.0) << metrics.dump();
  std::printf("    allen_cahn1d_causal shortened: rel_l2 %.3e\n", metrics["rel_l2"].get<double>());
}
