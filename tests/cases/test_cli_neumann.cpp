// Neumann and Robin conditions through `karman run`: a shortened cases/pinn/poisson_neumann.yaml
// (Dirichlet, Neumann and Robin parts, manufactured solution) learns the solution to an asserted
// error against both the exact solution and the PETSc reference (which is itself second-order
// accurate), reports one loss term per condition, and gives bitwise the same loss history on 2
// ranks as on 1. Bad input ends in one line naming the key, exit status 1: a condition on a part
// that does not exist (the line lists the parts), robin without alpha, Neumann on every part,
// Neumann on a curved part, a hard Neumann condition.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/cli.hpp"

using namespace karman::test;

namespace {

const std::string kCase = (source_dir() / "cases" / "pinn" / "poisson_neumann.yaml").string();

std::vector<std::string> short_run(const std::string& output) {
  return {"run",
          kCase,
          "--output",
          output,
          "--quiet",
          "--set",
          "samples.interior=400",
          "--set",
          "samples.boundary=40",
          "--set",
          "grid.n=33",
          "--set",
          "training.stages=[{optimizer: natural_gradient, steps: 50, linear_solver: svd, "
          "svd_rcond: 1.0e-12}]"};
}

// One error line containing every piece of `expected`, exit status 1.
void expect_rejected(const fs::path& dir, const std::string& text,
                     const std::vector<std::string>& expected) {
  write_text(dir / "bad.yaml", text);
  const CliResult r = run_karman(dir, {"run", "bad.yaml", "--output", "bad", "--quiet"});
  EXPECT_FALSE(r.signalled) << r;
  EXPECT_EQ(r.status, 1) << r;
  const auto lines = r.error_lines();
  ASSERT_EQ(lines.size(), 1u) << r;
  for (const auto& piece : expected)
    EXPECT_NE(lines.front().find(piece), std::string::npos) << "missing '" << piece << "'\n" << r;
  EXPECT_FALSE(fs::exists(dir / "bad" / "report.json"));
}

// The case with its conditions (and anything after them up to `grid:`) replaced.
std::string with_conditions(const std::string& conditions) {
  const std::string text = read_text(kCase);
  const auto from = text.find("conditions:"), to = text.find("grid:");
  return text.substr(0, from) + conditions + text.substr(to);
}

}  // namespace

TEST(CliNeumann, PoissonWithNeumannAndRobinPartsLearns) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, short_run("one"));
  ASSERT_EQ(r.status, 0) << r;
  const auto report = nlohmann::json::parse(read_text(dir / "one" / "report.json"));
  const auto& m = report["metrics"];
  for (const char* term :
       {"loss_dirichlet[0]", "loss_neumann[1]", "loss_robin[2]", "loss_neumann[3]"})
    EXPECT_TRUE(m.contains(term)) << term << "\n" << m.dump();
  // An untrained network is O(1) off; 50 natural-gradient steps bring it within 2e-4 of the
  // exact solution (3.6e-5 measured), the Neumann and Robin data included.
  EXPECT_LT(m["rel_l2_exact"].get<double>(), 2e-4) << m.dump();
  // The reference is second order: 3.5e-4 on 33² (8.6e-5 on 65²), so against it the PINN's
  // error is the reference's own.
  EXPECT_LT(m["reference_rel_l2_exact"].get<double>(), 1e-3) << m.dump();
  EXPECT_LT(m["rel_l2"].get<double>(), 1e-3) << m.dump();
  EXPECT_EQ(report["baseline"]["ksp"], "cg");
  std::printf("    poisson_neumann shortened: rel_l2_exact %.3e, vs PETSc %.3e, reference %.3e\n",
              m["rel_l2_exact"].get<double>(), m["rel_l2"].get<double>(),
              m["reference_rel_l2_exact"].get<double>());
  // Reproducible sums: 2 ranks give the same history.csv (loss column bitwise).
  const CliResult two = run_karman(dir, short_run("two"), /*ranks=*/2);
  ASSERT_EQ(two.status, 0) << two;
  auto losses = [&](const std::string& run) {
    std::vector<std::string> out;
    const auto rows = nonempty_lines(read_text(dir / run / "history.csv"));
    for (const auto& row : rows) {
      std::string cells[4];
      std::size_t at = 0;
      for (auto& cell : cells) {
        const std::size_t next = row.find(',', at);
        cell = row.substr(at, next - at);
        at = next + 1;
      }
      out.push_back(cells[3]);
    }
    return out;
  };
  EXPECT_GT(losses("one").size(), 10u);
  EXPECT_EQ(losses("one"), losses("two"));
}

TEST(CliNeumann, BadConditionsAreOneLine) {
  const fs::path dir = test_folder();
  expect_rejected(dir,
                  with_conditions("conditions:\n"
                                  "  - {type: dirichlet, on: [left, right, bottom]}\n"
                                  "  - {type: neumann, on: [lid], value: \"0\"}\n"),
                  {"bad.yaml:", "on", "no boundary part 'lid'", "parts: left, right, bottom, top"});
  expect_rejected(dir,
                  with_conditions("conditions:\n"
                                  "  - {type: dirichlet, on: [left, right, bottom]}\n"
                                  "  - {type: robin, on: [top], value: \"0\"}\n"),
                  {"bad.yaml:", "alpha"});
  expect_rejected(dir,
                  with_conditions("conditions:\n"
                                  "  - {type: neumann, value: \"0\"}\n"),
                  {"bad.yaml:", "conditions", "up to a constant"});
  expect_rejected(dir,
                  with_conditions("conditions:\n"
                                  "  - {type: dirichlet, on: [left, right, bottom]}\n"
                                  "  - {type: neumann, on: [top], enforce: hard}\n"),
                  {"bad.yaml:", "enforce", "only dirichlet conditions can be hard"});
  expect_rejected(dir,
                  with_conditions("geometry: {type: disk, center: [0.5, 0.5], radius: 0.5}\n"
                                  "conditions:\n"
                                  "  - {type: neumann, on: [outer], value: \"0\"}\n"),
                  {"bad.yaml:", "on", "'outer' is not", "meshes"});
}
