// kind precond through `karman run`: the learned CG preconditioner of cases/precond/poisson2d.yaml,
// trained on 12² and 16², needs fewer CG iterations than PETSc's ICC on every held-out test matrix
// (32², 64²), the report holds every baseline PC, the FSAI variant (model.factor fsai) runs with
// the classical FSAI as a baseline, and bad keys are refused with one line naming the key.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/cli.hpp"

using namespace karman::test;

namespace {

const std::vector<std::string> kBaselines = {"none", "jacobi", "icc", "gamg", "hypre"};

TEST(CliPrecond, LearnedFactorBeatsIccOnHeldOutPoisson) {
  const fs::path dir = test_folder();
  const fs::path out = dir / "poisson2d";
  const fs::path case_file = source_dir() / "cases" / "precond" / "poisson2d.yaml";
  const CliResult r = run_karman(dir, {"run", case_file.string(), "--output", out.string()});
  ASSERT_EQ(r.status, 0) << r;
  const nlohmann::json report = nlohmann::json::parse(read_text(out / "report.json"));
  SCOPED_TRACE(report.dump(2));
  EXPECT_EQ(report.value("status", ""), "ok");
  EXPECT_TRUE(fs::is_regular_file(out / "checkpoint.h5"));

  // The largest held-out matrix (64²): the learned factor against PETSc's ICC.
  const nlohmann::json& metrics = report.at("metrics");
  const nlohmann::json& baselines = report.at("baselines");
  for (const auto& pc : kBaselines) {
    ASSERT_TRUE(baselines.contains(pc)) << pc;
    EXPECT_GT(baselines[pc].value("iterations", -1L), 0) << pc;
    EXPECT_GE(baselines[pc].value("total_s", -1.0), 0.0) << pc;
  }
  EXPECT_GT(metrics.value("iterations", -1L), 0);
  EXPECT_LT(metrics.value("iterations", -1L), baselines["icc"].value("iterations", -1L));
  EXPECT_LE(metrics.value("best_iterations", -1L), metrics.value("initial_iterations", -1L));
  EXPECT_GT(metrics.value("params", 0L), 0);
  EXPECT_GT(metrics.value("setup_s", 0.0), 0.0);

  // Every test matrix: converged with every PC, and fewer iterations than ICC.
  const nlohmann::json& matrices = report.at("matrices");
  ASSERT_EQ(matrices.size(), 2u);
  for (const auto& m : matrices) {
    SCOPED_TRACE(m.value("name", ""));
    const long learned = m.at("learned").value("iterations", -1L);
    EXPECT_GT(learned, 0);
    for (const auto& pc : kBaselines) EXPECT_GT(m.at(pc).value("iterations", -1L), 0) << pc;
    EXPECT_LT(learned, m.at("icc").value("iterations", -1L));
  }
}

// model.factor fsai (cases/precond/poisson2d_fsai.yaml, shortened): the learned sparse approximate
// inverse runs through -pc_karman_type fsai, the classical FSAI is a baseline and lies between
// Jacobi and ICC, and model selection keeps a model no worse than the classical FSAI.
TEST(CliPrecond, FsaiFactorRunsWithTheClassicalFsaiBaseline) {
  const fs::path dir = test_folder();
  const fs::path out = dir / "poisson2d_fsai";
  const fs::path case_file = source_dir() / "cases" / "precond" / "poisson2d_fsai.yaml";
  const CliResult r = run_karman(dir, {"run", case_file.string(), "--output", out.string(), "--set",
                                       "training.steps=50", "--set", "test.sizes=[32]"});
  ASSERT_EQ(r.status, 0) << r;
  const nlohmann::json report = nlohmann::json::parse(read_text(out / "report.json"));
  SCOPED_TRACE(report.dump(2));
  const nlohmann::json& metrics = report.at("metrics");
  const nlohmann::json& baselines = report.at("baselines");
  ASSERT_TRUE(baselines.contains("fsai"));
  const long fsai = baselines["fsai"].value("iterations", -1L);
  EXPECT_GT(fsai, baselines["icc"].value("iterations", -1L));
  EXPECT_LT(fsai, baselines["jacobi"].value("iterations", -1L));
  EXPECT_GT(metrics.value("iterations", -1L), 0);
  EXPECT_LE(metrics.value("best_iterations", -1L), metrics.value("initial_iterations", -1L));
}

// One error line, exit 1, naming the key, for values the case keys cannot take.
TEST(CliPrecond, BadKeysAreRefused) {
  const fs::path dir = test_folder();
  const fs::path case_file = source_dir() / "cases" / "precond" / "poisson2d.yaml";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"test.sizes=[2]", "test.sizes"},      {"problem=foo", "problem"},
      {"train.sizes=[12.5]", "train.sizes"}, {"model.width=0", "model.width"},
      {"model.factor=ilu", "model.factor"},  {"train.partitions=[0]", "train.partitions"}};
  for (const auto& [set, key] : bad) {
    SCOPED_TRACE(set);
    const CliResult r = run_karman(
        dir, {"run", case_file.string(), "--output", (dir / "bad").string(), "--set", set});
    EXPECT_EQ(r.status, 1) << r;
    ASSERT_EQ(r.error_lines().size(), 1u) << r;
    EXPECT_NE(r.error_lines()[0].find(key), std::string::npos) << r;
  }
}

}  // namespace
