// `karman run` of kind mppde on a mesh (operators/mppde/mesh_runner.cpp): a small heat case on
// meshes/square.msh trains end to end and its accumulated error on held-out trajectories is below
// that of "no change" by the factor asserted; at 2 ranks (the mesh graph partitioned, the halo
// exchanged) the data are the same (the no-change errors to round-off) and the trained model's
// rollout errors agree with the 1-rank run in float64. Bad keys of the mesh case fail at
// validation with one line naming the key.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "support/cli.hpp"

namespace {

using namespace karman::test;

// K = 4 states per step, 20 steps after the first state; 8 training and 4 test trajectories.
std::string heat_mesh_case(const std::string& mesh) {
  return "name: heat_mesh_small\n"
         "kind: mppde\n"
         "precision: float64\n"
         "mesh:\n"
         "  file: " +
         mesh +
         "\n"
         "data: {equation: heat, train: 8, test: 4, steps: 21, t_end: 1.0, kappa: 0.05,\n"
         "       kappa_log_std: 0.5, modes: 2, seed: 3}\n"
         "model: {time_window: 4, hidden: 32, layers: 2, seed: 2}\n"
         "training:\n"
         "  batch_size: 4\n"
         "  passes: 4\n"
         "  unrolling: 1\n"
         "  stages:\n"
         "    - {optimizer: adamw, epochs: 8, lr: 3.0e-3, weight_decay: 0.01, schedule: "
         "multistep,\n"
         "       milestones: [4, 6], gamma: 0.4}\n"
         "evaluation: {ground_truth_windows: 1, batch: 4, timing_trajectories: 1}\n";
}

nlohmann::json metrics_of(const fs::path& run) {
  return nlohmann::json::parse(read_text(run / "report.json")).at("metrics");
}

double relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double difference = 0, scale = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    difference = std::max(difference, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return difference / scale;
}

}  // namespace

TEST(CliMppdeMesh, TrainsBeatsNoChangeAndMatchesAcrossRanks) {
  const fs::path dir = test_folder();
  write_text(dir / "heat.yaml", heat_mesh_case((source_dir() / "meshes" / "square.msh").string()));
  const CliResult one = run_karman(dir, {"run", "heat.yaml", "--output", "one", "--quiet"});
  ASSERT_EQ(one.status, 0) << one;
  const nlohmann::json m1 = metrics_of(dir / "one");
  const double network = m1.at("accumulated_error").get<double>();
  const double unchanged = m1.at("no_change_accumulated_error").get<double>();
  std::cout << "[ measured ] accumulated error " << network << ", no change " << unchanged << " ("
            << unchanged / network << "x)\n";
  EXPECT_LT(network * 4.0, unchanged);

  const CliResult two = run_karman(dir, {"run", "heat.yaml", "--output", "two", "--quiet"}, 2);
  ASSERT_EQ(two.status, 0) << two;
  const nlohmann::json report2 = nlohmann::json::parse(read_text(dir / "two" / "report.json"));
  EXPECT_GT(report2.at("mesh").at("halo_copies").get<long>(), 0);
  const nlohmann::json m2 = report2.at("metrics");
  const double data =
      std::abs(m2.at("no_change_accumulated_error").get<double>() - unchanged) / unchanged;
  const double rollout =
      relative_difference(m2.at("accumulated_error_per_trajectory").get<std::vector<double>>(),
                          m1.at("accumulated_error_per_trajectory").get<std::vector<double>>());
  std::cout << "[ measured ] 2 ranks against 1: no-change error " << data
            << ", accumulated errors per trajectory " << rollout << " (relative)\n";
  EXPECT_LT(data, 1e-13);
  EXPECT_LT(rollout, 1e-10);
}

TEST(CliMppdeMesh, BadInputFailsAtValidationWithOneLine) {
  const fs::path dir = test_folder();
  write_text(dir / "heat.yaml", heat_mesh_case((source_dir() / "meshes" / "square.msh").string()));
  // Each: an override and what the one error line names.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"mesh.overlap=2", "mesh.overlap"},
      {"model.time_window=8", "model.time_window"},  // three windows of 8 exceed 21 steps
      {"training.unrolling=4", "training.unrolling"},
      {"data.equation=wave", "data.equation"},
      {"data.kappa=0", "data.kappa"}};
  for (const auto& [set, key] : cases) {
    const CliResult r = run_karman(dir, {"validate", "heat.yaml", "--set", set});
    EXPECT_EQ(r.status, 1) << r;
    const auto lines = r.error_lines();
    ASSERT_EQ(lines.size(), 1u) << r;
    EXPECT_NE(lines[0].find(key), std::string::npos) << lines[0];
  }
}
