// evaluation.conservation (ProbConserv with an ensemble's variance) through `karman run`: a small
// E1 case (kind mppde) in float32 and float64 reports a conservation error of its corrected
// rollouts at round-off (every predicted state keeps dx Σu = dx Σu(0)) and a far larger one
// without the correction, the data conserving to round-off, both accumulated errors, and its
// first member alone equal to the run's own metrics; a small Burgers FNO (kind fno) the same for
// u(·, 1) against ∫u0 = 0; the MP-PDE figures agree on 2 ranks. A non-Burgers FNO and an empty
// ensemble are refused at validation.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "support/cli.hpp"
#include "support/report_checks.hpp"

using namespace karman::test;

namespace {

// cases/mppde/e1.yaml made tiny: 16 + 4 trajectories of 50 steps on 50 cells, K = 5, a narrow
// two-layer network, 6 training steps, an ensemble of two.
std::vector<std::string> small_e1(const std::string& output, const std::string& precision) {
  return {"run",
          (source_dir() / "cases" / "mppde" / "e1.yaml").string(),
          "--output",
          output,
          "--quiet",
          "--set",
          "precision=" + precision,
          "--set",
          "data={experiment: E1, train: 16, test: 4, resolution: 50, ground_truth: 100, steps: 50}",
          "--set",
          "model={time_window: 5, hidden: 32, layers: 2, neighbors: 2}",
          "--set",
          "training.passes=2",
          "--set",
          "training.stages=[{optimizer: adamw, epochs: 3, lr: 1.0e-3}]",
          "--set",
          "evaluation={batch: 4, baseline: false, conservation: {ensemble: 2}}"};
}

// cases/fno/burgers1d.yaml made tiny: 24 instances on 256 points subsampled to 64, a narrow FNO.
std::vector<std::string> small_burgers(const std::string& output, const std::string& case_file) {
  return {"run",
          case_file,
          "--output",
          output,
          "--quiet",
          "--set",
          "data.samples=24",
          "--set",
          "data.train=20",
          "--set",
          "data.test=4",
          "--set",
          "data.resolution=256",
          "--set",
          "data.stride=4",
          "--set",
          "model={modes: 8, width: 12, layers: 2}",
          "--set",
          "training.batch_size=4",
          "--set",
          "training.stages=[{optimizer: adam, epochs: 5, lr: 1.0e-3}]",
          "--set",
          "evaluation={baseline_samples: 2, fields: 0, conservation: {ensemble: 2}}"};
}

}  // namespace

TEST(CliConservation, MpPdeRolloutsKeepTheIntegralWithTheCorrection) {
  const fs::path dir = test_folder();
  for (const std::string precision : {"float32", "float64"}) {
    SCOPED_TRACE(precision);
    const CliResult r = run_karman(dir, small_e1(precision, precision));
    ASSERT_EQ(r.status, 0) << r;
    const nlohmann::json metrics = report_of(dir / precision)["metrics"];
    const nlohmann::json& c = metrics["conservation"];
    // Round-off of a sum of 50 values |u| ≲ 2 times dx = 0.32 in the model's precision.
    const double round_off = precision == "float32" ? 1e-5 : 1e-12;
    EXPECT_EQ(c["ensemble"].get<long>(), 2);
    EXPECT_LT(c["error_with"].get<double>(), round_off);
    EXPECT_LT(c["equal_variance"]["error"].get<double>(), round_off);
    EXPECT_GT(c["error_without"].get<double>(), 1e-3);
    EXPECT_GT(c["single_model"]["error"].get<double>(), 1e-3);
    EXPECT_LT(c["data_error"].get<double>(), 1e-12);  // WENO5 conserves the integral
    // Both accuracies reported (not asserted to improve: six training steps).
    for (const double e :
         {c["accumulated_error_with"].get<double>(), c["accumulated_error_without"].get<double>(),
          c["equal_variance"]["accumulated_error"].get<double>()}) {
      EXPECT_TRUE(std::isfinite(e));
      EXPECT_GT(e, 0.0);
    }
    // The ensemble's spread weights the correction: not the orthogonal projection's result.
    EXPECT_NE(c["accumulated_error_with"].get<double>(),
              c["equal_variance"]["accumulated_error"].get<double>());
    // The first member rolled out alone is the run's own model: its accumulated error.
    EXPECT_NEAR(c["single_model"]["accumulated_error"].get<double>(),
                metrics["accumulated_error"].get<double>(),
                1e-5 * metrics["accumulated_error"].get<double>());
  }
}

// The metrics reduce over ranks (each holds its share of the test trajectories): 2 ranks give the
// 1-rank figures in float64.
TEST(CliConservation, MpPdeMetricsAgreeOnTwoRanks) {
  const fs::path dir = test_folder();
  ASSERT_EQ(run_karman(dir, small_e1("np1", "float64")).status, 0);
  const CliResult r = run_karman(dir, small_e1("np2", "float64"), 2);
  ASSERT_EQ(r.status, 0) << r;
  const nlohmann::json one = report_of(dir / "np1")["metrics"]["conservation"];
  const nlohmann::json two = report_of(dir / "np2")["metrics"]["conservation"];
  EXPECT_LT(two["error_with"].get<double>(), 1e-12);
  for (const char* key :
       {"error_without", "accumulated_error_with", "accumulated_error_without", "data_error"})
    EXPECT_NEAR(two[key].get<double>(), one[key].get<double>(), 1e-9 * one[key].get<double>())
        << key;
}

TEST(CliConservation, BurgersFnoKeepsTheInitialIntegralWithTheCorrection) {
  const fs::path dir = test_folder();
  const std::string burgers = (source_dir() / "cases" / "fno" / "burgers1d.yaml").string();
  const CliResult r = run_karman(dir, small_burgers("out", burgers));
  ASSERT_EQ(r.status, 0) << r;
  const nlohmann::json metrics = report_of(dir / "out")["metrics"];
  const nlohmann::json& c = metrics["conservation"];
  EXPECT_LT(c["error_with"].get<double>(), 1e-12);  // corrected in double
  EXPECT_GT(c["error_without"].get<double>(), 1e3 * c["error_with"].get<double>());
  EXPECT_GT(c["error_without"].get<double>(), 1e-7);
  EXPECT_LT(c["data_error"].get<double>(), 1e-8);      // the solver keeps ∫u = 0
  EXPECT_GT(c["input_integral"].get<double>(), 1e-6);  // the subsampled u0's aliasing
  EXPECT_TRUE(std::isfinite(c["rel_l2_with"].get<double>()));
  EXPECT_TRUE(std::isfinite(c["rel_l2_without"].get<double>()));
  EXPECT_NEAR(c["single_model"]["rel_l2"].get<double>(), metrics["rel_l2"].get<double>(), 1e-12);
}

TEST(CliConservation, RefusedWhereItDoesNotApply) {
  const fs::path dir = test_folder();
  // Darcy conserves no integral of its output.
  const CliResult darcy =
      run_karman(dir, {"validate", (source_dir() / "cases" / "fno" / "darcy2d.yaml").string(),
                       "--set", "evaluation.conservation={ensemble: 3}"});
  EXPECT_EQ(darcy.status, 1) << darcy;
  ASSERT_EQ(darcy.error_lines().size(), 1u) << darcy;
  EXPECT_NE(darcy.err.find("evaluation.conservation"), std::string::npos) << darcy;
  EXPECT_NE(darcy.err.find("burgers"), std::string::npos) << darcy;
  const CliResult empty =
      run_karman(dir, {"validate", (source_dir() / "cases" / "mppde" / "e1.yaml").string(), "--set",
                       "evaluation.conservation={ensemble: 0}"});
  EXPECT_EQ(empty.status, 1) << empty;
  ASSERT_EQ(empty.error_lines().size(), 1u) << empty;
  EXPECT_NE(empty.err.find("evaluation.conservation.ensemble"), std::string::npos) << empty;
}
