// The architectures of `model` through `karman run` on a shortened cases/pinn/poisson2d.yaml: a
// modified MLP behind Fourier features and a SIREN are built as the keys say (their parameter
// counts) and learn the solution (500 steps bring the error against the exact solution from
// O(1) to a few percent at most).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/cli.hpp"

using namespace karman::test;

namespace {

const std::string kCase = (source_dir() / "cases" / "pinn" / "poisson2d.yaml").string();

nlohmann::json short_run(const fs::path& dir, const std::string& output,
                         const std::vector<std::string>& model) {
  std::vector<std::string> args{"run",
                                kCase,
                                "--output",
                                output,
                                "--quiet",
                                "--set",
                                "samples.interior=512",
                                "--set",
                                "samples.boundary=128",
                                "--set",
                                "grid.n=33",
                                "--set",
                                "model.hidden=[32, 32]",
                                "--set",
                                "training.stages=[{optimizer: adam, steps: 300, lr: 5.0e-3}, "
                                "{optimizer: lbfgs, steps: 200, tolerance_change: 0, "
                                "tolerance_gradient: 0}]"};
  for (const std::string& set : model) args.insert(args.end(), {"--set", set});
  const CliResult r = run_karman(dir, args);
  EXPECT_EQ(r.status, 0) << r;
  return nlohmann::json::parse(read_text(dir / output / "report.json"))["metrics"];
}

}  // namespace

TEST(CliArchitectures, ModifiedMlpBehindFourierFeaturesLearns) {
  const auto m = short_run(test_folder(), "modified",
                           {"model.architecture=modified_mlp",
                            "model.fourier_features={count: 8, scale: 0.5, include_input: true}"});
  // γ(x) has 2·8 + 2 = 18 features; U, V, H_1: 3·(18·32 + 32), one gate 32·32 + 32, output 33.
  EXPECT_EQ(m["params"].get<long>(), 3 * (18 * 32 + 32) + (32 * 32 + 32) + 33);
  EXPECT_LT(m["rel_l2_exact"].get<double>(), 0.05) << m.dump();
  EXPECT_LT(m["final_loss"].get<double>(), 2e-2) << m.dump();
  std::printf("    modified_mlp + fourier features, 500 steps: rel_l2_exact %.3e\n",
              m["rel_l2_exact"].get<double>());
}

TEST(CliArchitectures, SirenLearns) {
  const auto m = short_run(test_folder(), "siren",
                           {"model.architecture=siren", "model.activation=sin", "model.omega0=3",
                            "model.hidden_omega0=1"});
  EXPECT_EQ(m["params"].get<long>(), (2 * 32 + 32) + (32 * 32 + 32) + 33);
  EXPECT_LT(m["rel_l2_exact"].get<double>(), 0.05) << m.dump();
  EXPECT_LT(m["final_loss"].get<double>(), 2e-2) << m.dump();
  std::printf("    siren (omega0 3), 500 steps: rel_l2_exact %.3e\n",
              m["rel_l2_exact"].get<double>());
}
