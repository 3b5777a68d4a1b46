// MP-PDE trajectory datasets (operators/mppde/dataset.hpp) at 1 and 2 ranks: the file made on all
// ranks equals, bit for bit, the file made by rank 0 alone; an interrupted generation resumed
// equals an uninterrupted one; the averaged ground truth and the direct coarse solves agree as the
// resolution allows; a resolution the file lacks is one ConfigError.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "operators/mppde/dataset.hpp"
#include "support/mpi_world.hpp"

using namespace karman;
using namespace karman::mppde;
using namespace karman::test;
namespace fs = std::filesystem;

namespace {

void remove_dataset(const std::string& path) {
  if (world_rank() == 0) {
    fs::remove(path);
    fs::remove(path + ".partial");
  }
  MPI_Barrier(world());
}

template <class F>
std::string config_error(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// E3 (all three coefficients drawn) on a coarser ground truth to keep the test short; three
// trajectories, so that two ranks get unequal shares.
DatasetSpec small_e3() {
  DatasetSpec spec;
  spec.experiment = Experiment::e3;
  spec.samples = 3;
  spec.seed = 11;
  spec.ground_truth = 100;
  spec.resolutions = {50, 25};
  return spec;
}

void expect_same(const StoredTrajectories& a, const StoredTrajectories& b,
                 const std::string& what) {
  EXPECT_EQ(a.t, b.t) << what;
  EXPECT_EQ(a.x, b.x) << what;
  EXPECT_EQ(a.u, b.u) << what;
  EXPECT_EQ(a.solver, b.solver) << what;
  EXPECT_EQ(a.alpha, b.alpha) << what;
  EXPECT_EQ(a.beta, b.beta) << what;
  EXPECT_EQ(a.gamma, b.gamma) << what;
}

TEST(MppdeDataset, SameBitsOnAnyRankCountAndResumed) {
  const DatasetSpec spec = small_e3();
  const std::string path = file_name("mppde_e3"), alone = file_name("mppde_e3_alone"),
                    resumed = file_name("mppde_e3_resumed");
  for (const auto& p : {path, alone, resumed}) remove_dataset(p);
  GenerateOptions options;
  options.quiet = true;
  options.config_yaml = "data: {test: mppde}";
  const GenerateSummary summary = generate_dataset(world(), spec, path, options);
  EXPECT_TRUE(summary.complete);
  EXPECT_EQ(summary.solved, 3);
  EXPECT_GT(summary.ground_truth_steps, 0);
  if (world_rank() == 0) generate_dataset(MPI_COMM_SELF, spec, alone, options);
  MPI_Barrier(world());

  // Interrupted after one round, then resumed.
  GenerateOptions interrupted = options;
  interrupted.stop_after = 1;
  const GenerateSummary first = generate_dataset(world(), spec, resumed, interrupted);
  EXPECT_FALSE(first.complete);
  EXPECT_TRUE(fs::exists(resumed + ".partial"));
  EXPECT_FALSE(fs::exists(resumed));
  GenerateOptions resume = options;
  resume.resume = true;
  const GenerateSummary second = generate_dataset(world(), spec, resumed, resume);
  EXPECT_TRUE(second.complete);
  EXPECT_EQ(second.kept, first.solved);
  EXPECT_EQ(second.kept + second.solved, 3);
  EXPECT_FALSE(fs::exists(resumed + ".partial"));

  for (long n : {50L, 25L}) {
    const StoredTrajectories all = read_trajectories(world(), path, n, 0, 3, true);
    expect_same(all, read_trajectories(world(), alone, n, 0, 3, true),
                "alone, n " + std::to_string(n));
    expect_same(all, read_trajectories(world(), resumed, n, 0, 3, true),
                "resumed, n " + std::to_string(n));
    ASSERT_EQ(all.u.size(), static_cast<std::size_t>(3 * spec.steps * n));
    EXPECT_EQ(all.t.front(), 0.0);
    EXPECT_EQ(all.t.back(), 2.0);
    EXPECT_EQ(all.experiment, Experiment::e3);
    // Each trajectory's α, β, γ are those of its draw.
    for (long k = 0; k < 3; ++k) {
      const auto c = sample_trajectory(experiment_spec(Experiment::e3), 11, k).coefficients;
      EXPECT_EQ(all.alpha[k], c.alpha);
      EXPECT_EQ(all.beta[k], c.beta);
      EXPECT_EQ(all.gamma[k], c.gamma);
    }
  }
  const DatasetInfo info = inspect_dataset(world(), path);
  EXPECT_EQ(info.resolutions, (std::vector<long>{50, 25}));
  EXPECT_EQ(info.ground_truth, 100);
  EXPECT_EQ(info.generator, describe(spec));

  // A finished dataset with the same settings is kept; another seed cannot resume it.
  EXPECT_EQ(generate_dataset(world(), spec, path, resume).solved, 0);
  DatasetSpec other = spec;
  other.seed = 12;
  const std::string message = config_error([&] { generate_dataset(world(), other, path, resume); });
  EXPECT_NE(message.find("cannot resume"), std::string::npos) << message;
}

// The averaged ground truth (n = 100 → 50) and the direct solve at 50 start from the same cell
// averages and stay close (E3 is smooth: β ≥ 0.1), closer than at 25.
TEST(MppdeDataset, CoarseSolvesApproachTheAveragedGroundTruth) {
  const DatasetSpec spec = small_e3();
  const TrajectoryData data = dataset_trajectory(spec, 1);
  ASSERT_EQ(data.ground_truth.size(), 2u);
  std::vector<double> error(2);
  for (std::size_t r = 0; r < 2; ++r) {
    const long n = spec.resolutions[r];
    const auto& truth = data.ground_truth[r];
    const auto& coarse = data.solver[r];
    for (long i = 0; i < n; ++i) EXPECT_NEAR(coarse[i], truth[i], 1e-14);  // t = 0
    double sum = 0.0, norm = 0.0;
    for (std::size_t i = 0; i < truth.size(); ++i) {
      sum += (coarse[i] - truth[i]) * (coarse[i] - truth[i]);
      norm += truth[i] * truth[i];
    }
    error[r] = std::sqrt(sum / norm);
  }
  if (world_rank() == 0)
    std::printf(
        "E3 trajectory 1 (alpha %.3f, beta %.3f, gamma %.3f): relative L2 of the direct "
        "solve vs the averaged ground truth: n 50 %.2e, n 25 %.2e\n",
        data.parameters.coefficients.alpha, data.parameters.coefficients.beta,
        data.parameters.coefficients.gamma, error[0], error[1]);
  EXPECT_LT(error[0], error[1]);
  EXPECT_LT(error[0], 1e-2);
}

TEST(MppdeDataset, ResolutionTheFileLacksIsOneConfigError) {
  const DatasetSpec spec = small_e3();
  const std::string path = file_name("mppde_e3_bad");
  remove_dataset(path);
  GenerateOptions options;
  options.quiet = true;
  generate_dataset(world(), spec, path, options);
  const std::string message = config_error([&] { read_trajectories(world(), path, 64, 0, 1); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("dataset has n_x 50, 25; case asks 64"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  // Resolutions must divide the ground truth.
  DatasetSpec bad = spec;
  bad.resolutions = {64};
  EXPECT_NE(config_error([&] { check_dataset_spec(bad); }).find("divisor of the ground truth"),
            std::string::npos);
}

}  // namespace
