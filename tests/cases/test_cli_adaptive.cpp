// Adaptive collocation points (samples.adaptive) end to end: RAR and RAD runs of a small Poisson
// PINN have bitwise the same float64 loss history on 2 ranks as on 1 (the candidates' residuals
// evaluated in the loss's fixed chunks, the selection a pure function of them), and their
// histories differ from the same run without adaptation after the first adaptation (the points
// did change); bad input is one line, exit status 1.
#include <gtest/gtest.h>

#include <sstream>

#include "support/cli.hpp"
#include "support/history.hpp"

namespace {

using namespace karman::test;

const fs::path kCase = source_dir() / "cases" / "pinn" / "poisson2d.yaml";

std::vector<std::string> run_args(const std::string& output, const std::vector<std::string>& sets) {
  std::vector<std::string> args{"run",
                                kCase.string(),
                                "--output",
                                output,
                                "--quiet",
                                "--set",
                                "samples.interior=256",
                                "--set",
                                "samples.boundary=64",
                                "--set",
                                "grid.n=17",
                                "--set",
                                "model.hidden=[16, 16]",
                                "--set",
                                "training.stages=[{optimizer: adam, steps: 30, lr: 1.0e-2}, "
                                "{optimizer: lbfgs, steps: 5}]"};
  for (const auto& s : sets) args.insert(args.end(), {"--set", s});
  return args;
}

// The loss column as text (written with 17 digits: equal text is equal bits).
std::vector<std::string> loss_text(const fs::path& csv) {
  std::vector<std::string> out;
  const auto rows = nonempty_lines(read_text(csv));
  for (std::size_t i = 1; i < rows.size(); ++i) {
    std::stringstream in(rows[i]);
    std::string cell;
    for (int c = 0; c <= 3; ++c) std::getline(in, cell, ',');
    out.push_back(cell);
  }
  return out;
}

}  // namespace

TEST(CliAdaptive, RarAndRadGiveTheSameHistoryOnTwoRanks) {
  const fs::path dir = test_folder();
  const CliResult plain = run_karman(dir, run_args("plain", {}));
  ASSERT_EQ(plain.status, 0) << plain;
  const auto reference = loss_text(dir / "plain" / "history.csv");
  for (const std::string method : {"rar", "rad"}) {
    const std::string keys = method == "rar"
                                 ? "samples.adaptive={method: rar, every: 10, candidates: 500, "
                                   "add: 32}"
                                 : "samples.adaptive={method: rad, every: 10, candidates: 500, "
                                   "k: 2, c: 0.5}";
    const CliResult one = run_karman(dir, run_args(method + "1", {keys}));
    ASSERT_EQ(one.status, 0) << one;
    const CliResult two = run_karman(dir, run_args(method + "2", {keys}), /*ranks=*/2);
    ASSERT_EQ(two.status, 0) << two;
    const auto a = loss_text(dir / (method + "1") / "history.csv");
    ASSERT_EQ(a.size(), 35u) << method;
    EXPECT_EQ(a, loss_text(dir / (method + "2") / "history.csv")) << method;
    // Steps 1–10 ran on the initial points, as without adaptation; step 11 on the new set.
    EXPECT_EQ(std::vector<std::string>(a.begin(), a.begin() + 10),
              std::vector<std::string>(reference.begin(), reference.begin() + 10))
        << method;
    EXPECT_NE(a[10], reference[10]) << method;
    EXPECT_NE(read_text(dir / (method + "1") / "log.txt")
                  .find("adaptive points (" + method + "): step 10"),
              std::string::npos)
        << one;
  }
}

TEST(CliAdaptive, BadInputIsOneLine) {
  const fs::path dir = test_folder();
  auto expect_one_line = [&](const std::vector<std::string>& sets,
                             const std::vector<std::string>& pieces) {
    const CliResult r = run_karman(dir, run_args("bad", sets));
    EXPECT_EQ(r.status, 1) << r;
    const auto lines = r.error_lines();
    ASSERT_EQ(lines.size(), 1u) << r;
    for (const auto& piece : pieces)
      EXPECT_NE(lines[0].find(piece), std::string::npos) << "missing '" << piece << "'\n" << r;
  };
  expect_one_line({"samples.adaptive={method: refine}"}, {"samples.adaptive.method", "rar", "rad"});
  expect_one_line({"samples.adaptive={method: rar}", "samples.resample_every=10"},
                  {"samples.adaptive", "resample_every"});
  expect_one_line({"samples.adaptive={method: rar}",
                   "training.stages=[{optimizer: natural_gradient, steps: 2}]"},
                  {"samples.adaptive.method", "natural_gradient"});
}
