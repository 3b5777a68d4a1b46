// kind reference with pde combined (the MP-PDE equation family, WENO5 + SSP-RK3): the two cases
// run through the CLI; the manufactured case's error and mass drift in report.json, the same
// fields on 1 and 2 ranks (karman compare: 0), and bad combined input as one line, exit 1.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli.hpp"

namespace {

using namespace karman::test;
using nlohmann::json;

fs::path case_path(const char* name) { return source_dir() / "cases" / "reference" / name; }

json read_report(const fs::path& run_dir) {
  return json::parse(read_text(run_dir / "report.json"));
}

bool contains(const std::string& text, const std::string& piece) {
  return text.find(piece) != std::string::npos;
}

class CliWeno : public ::testing::Test {
 protected:
  void SetUp() override { dir = test_folder(); }
  fs::path dir;
};

TEST_F(CliWeno, ManufacturedCaseReportsItsErrorOnOneAndTwoRanks) {
  const fs::path one = dir / "np1", two = dir / "np2";
  for (const auto& [out, ranks] : {std::pair{one, 0}, std::pair{two, 2}}) {
    const CliResult r = run_karman(
        dir, {"run", case_path("combined_weno.yaml").string(), "--output", out.string()}, ranks);
    ASSERT_EQ(r.status, 0) << r;
  }
  const json report = read_report(one);
  ASSERT_EQ(report.value("status", ""), "ok") << report.dump(2);
  const json& m = report["metrics"];
  // n = 100, t = 2: fifth order gives about 2e-8 (the solver's convergence test has the orders).
  EXPECT_LT(m.value("rel_l2", 1.0), 1e-7) << m.dump(2);
  EXPECT_GT(m.value("rel_l2", 0.0), 0.0) << m.dump(2);
  EXPECT_GT(m.value("steps", 0L), 100) << m.dump(2);
  EXPECT_LT(std::abs(m.value("mass_drift", 1.0)), 1e-12) << m.dump(2);
  EXPECT_EQ(report["baseline"].value("solver", ""), "weno5");
  EXPECT_EQ(report["baseline"].value("steps", 0L), m.value("steps", -1L));

  // Rank-count independence: the same steps, total variation and fields.
  const json m2 = read_report(two)["metrics"];
  EXPECT_EQ(m2.value("steps", 0L), m.value("steps", -1L));
  EXPECT_EQ(m2.value("total_variation_final", 0.0), m.value("total_variation_final", 1.0));
  const CliResult r =
      run_karman(dir, {"compare", (two / "fields.h5").string(), (one / "fields.h5").string()});
  ASSERT_EQ(r.status, 0) << r;
  bool found = false;
  for (const auto& line : nonempty_lines(r.out)) {
    std::istringstream in(line);
    std::string name, shape, rel_l2;
    in >> name >> shape >> rel_l2;
    if (name != "reference") continue;
    found = true;
    EXPECT_EQ(shape, "100") << r;
    EXPECT_EQ(std::stod(rel_l2), 0.0) << r;
  }
  EXPECT_TRUE(found) << r;
}

TEST_F(CliWeno, ShockCaseKeepsItsMass) {
  const fs::path out = dir / "shock";
  const CliResult r =
      run_karman(dir, {"run", case_path("burgers_shock_weno.yaml").string(), "--output",
                       out.string(), "--set", "time.t_end=2", "--set", "time.snapshots=20"});
  ASSERT_EQ(r.status, 0) << r;
  const json m = read_report(out)["metrics"];
  EXPECT_LT(std::abs(m.value("mass_drift", 1.0)), 1e-12) << m.dump(2);
  EXPECT_GT(m.value("steps", 0L), 20) << m.dump(2);
}

TEST_F(CliWeno, BadCombinedInputIsOneLine) {
  const std::string base =
      "name: bad\n"                      // 1
      "pde:\n"                           // 2
      "  type: combined\n"               // 3
      "  initial: \"sin(2*pi/16*x)\"\n"  // 4
      "grid:\n"                          // 5
      "  n: 64\n"                        // 6
      "time:\n"                          // 7
      "  t_end: 1\n";                    // 8
  struct Bad {
    std::string text, place, says;
  };
  const Bad cases[] = {
      {base + "  dt: 0.01\n", "bad.yaml:9:", "time.dt"},  // explicit steps: no dt
      {base + "solver: {cfl: 2}\n", "bad.yaml:9:", "at most 1"},
      {base + "solver: {ksp: cg}\n", "bad.yaml:9:", "solver.ksp"},
      {"name: bad\npde: {type: combined, initial: \"1\"}\ngrid: {n: 5}\ntime: {t_end: 1}\n",
       "bad.yaml:3:", "at least 6 cells"},
  };
  for (const Bad& bad : cases) {
    write_text(dir / "bad.yaml", bad.text);
    const CliResult r = run_karman(dir, {"validate", "bad.yaml"});
    EXPECT_EQ(r.status, 1) << r;
    ASSERT_EQ(r.error_lines().size(), 1u) << r;
    EXPECT_TRUE(contains(r.error_lines()[0], bad.place)) << r;
    EXPECT_TRUE(contains(r.error_lines()[0], bad.says)) << r;
  }
}

}  // namespace
