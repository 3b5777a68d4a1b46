// MP-PDE trajectory datasets (operators/mppde/dataset.hpp) at 1 and 2 ranks: the E-family draws
// stay in the paper's ranges and depend only on (seed, trajectory); the file made on all ranks
// equals, bit for bit, the file made by rank 0 alone; an interrupted generation resumed equals an
// uninterrupted one; the averaged ground truth and the direct coarse solves agree as the
// resolution allows; a resolution the file lacks and an unknown experiment are one ConfigError.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "karman/config/node.hpp"
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

// A DatasetSpec through the case reader (the YAML of a dataset section).
DatasetSpec spec_from(const std::string& yaml, const std::string& stem) {
  const std::string path =
      stem + "_np" + std::to_string(world_size()) + "_" + std::to_string(world_rank()) + ".yaml";
  std::ofstream(path) << "data: " << yaml << "\n";
  auto file = config::CaseFile::load(path);
  DatasetSpec spec = read_dataset_spec(file.root().child("data"));
  file.reject_unknown_keys();
  return spec;
}

// E3 (all three coefficients drawn) on a coarser ground truth to keep the test short; three
// trajectories, so that two ranks get unequal shares.
DatasetSpec small_e3() {
  return spec_from(
      "{experiment: E3, samples: 3, seed: 11, ground_truth: 100, resolutions: [50, 25]}",
      "mppde_e3");
}

void expect_same(const Trajectories& a, const Trajectories& b, const std::string& what) {
  EXPECT_EQ(a.t, b.t) << what;
  EXPECT_EQ(a.x, b.x) << what;
  EXPECT_EQ(a.u, b.u) << what;
  EXPECT_EQ(a.solver, b.solver) << what;
  EXPECT_EQ(a.alpha, b.alpha) << what;
  EXPECT_EQ(a.beta, b.beta) << what;
  EXPECT_EQ(a.gamma, b.gamma) << what;
}

TEST(MppdeExperiment, DrawsStayInThePapersRanges) {
  for (Experiment e : {Experiment::e1, Experiment::e2, Experiment::e3}) {
    const ExperimentRanges r = ranges(e);
    std::set<long> wavenumbers;
    for (long k = 0; k < 200; ++k) {
      const TrajectoryParameters p = sample_trajectory(e, 5, k);
      EXPECT_GE(p.alpha, r.alpha.low);
      EXPECT_LE(p.alpha, r.alpha.high);
      EXPECT_GE(p.beta, r.beta.low);
      EXPECT_LE(p.beta, r.beta.high);
      EXPECT_GE(p.gamma, r.gamma.low);
      EXPECT_LE(p.gamma, r.gamma.high);
      ASSERT_EQ(p.amplitudes.size(), 5u);
      for (int j = 0; j < 5; ++j) {
        EXPECT_LE(std::abs(p.amplitudes[j]), 0.5);
        EXPECT_LE(std::abs(p.omegas[j]), 0.4);
        EXPECT_GE(p.phases[j], 0.0);
        EXPECT_LT(p.phases[j], 2.0 * M_PI);
        wavenumbers.insert(p.wavenumbers[j]);
      }
    }
    EXPECT_EQ(wavenumbers, (std::set<long>{1, 2, 3})) << to_string(e);
  }
  EXPECT_EQ(ranges(Experiment::e1).t_end, 4.0);
  EXPECT_EQ(ranges(Experiment::e3).t_end, 2.0);
  // A pure function of (seed, index); another seed or index draws other values.
  const auto a = sample_trajectory(Experiment::e3, 5, 7),
             b = sample_trajectory(Experiment::e3, 5, 7);
  EXPECT_EQ(a.alpha, b.alpha);
  EXPECT_EQ(a.phases, b.phases);
  EXPECT_NE(a.alpha, sample_trajectory(Experiment::e3, 6, 7).alpha);
  EXPECT_NE(a.alpha, sample_trajectory(Experiment::e3, 5, 8).alpha);
  EXPECT_EQ(experiment_from_string("e2"), Experiment::e2);
  const std::string message = config_error([] { experiment_from_string("E4"); });
  EXPECT_NE(message.find("E1, E2 or E3"), std::string::npos) << message;
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
    const Trajectories all = read_trajectories(world(), path, n, 0, 3, true);
    expect_same(all, read_trajectories(world(), alone, n, 0, 3, true),
                "alone, n " + std::to_string(n));
    expect_same(all, read_trajectories(world(), resumed, n, 0, 3, true),
                "resumed, n " + std::to_string(n));
    ASSERT_EQ(all.u.size(), static_cast<std::size_t>(3 * kOutputs * n));
    EXPECT_EQ(all.t.front(), 0.0);
    EXPECT_EQ(all.t.back(), 2.0);
    EXPECT_EQ(all.experiment, Experiment::e3);
    // Each trajectory's α, β, γ are those of its draw.
    for (long k = 0; k < 3; ++k) {
      const TrajectoryParameters p = sample_trajectory(Experiment::e3, 11, k);
      EXPECT_EQ(all.alpha[k], p.alpha);
      EXPECT_EQ(all.beta[k], p.beta);
      EXPECT_EQ(all.gamma[k], p.gamma);
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
  const TrajectoryData data = solve_trajectory(spec, 1);
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
        data.parameters.alpha, data.parameters.beta, data.parameters.gamma, error[0], error[1]);
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
  // The case reader: resolutions must divide the ground truth; unknown experiments are named.
  EXPECT_NE(config_error([] {
              spec_from("{experiment: E1, ground_truth: 200, resolutions: [64]}", "mppde_bad");
            }).find("divisors of ground_truth 200"),
            std::string::npos);
  EXPECT_NE(config_error([] { spec_from("{experiment: E7}", "mppde_bad"); }).find("E1, E2 or E3"),
            std::string::npos);
}

}  // namespace
