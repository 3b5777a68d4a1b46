// The Navier–Stokes vorticity dataset at 1 and 2 ranks: the file is bitwise the single-process
// generation, its channels are the solver's records t = 1 … input_steps (inputs) and
// input_steps + 1 … t_end (outputs) of the solve from vorticity_initial, the baseline solve from
// the inputs reproduces the outputs, and bad keys are rejected at their key. Small: 32², t_end 12.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "karman/config/node.hpp"
#include "karman/core/error.hpp"
#include "karman/core/random.hpp"
#include "karman/data/operator_dataset.hpp"
#include "karman/solvers/vorticity.hpp"
#include "support/fno_dataset.hpp"

using namespace karman;
using namespace karman::test;
namespace fs = std::filesystem;

namespace {

// 32² (fine 32 or 64), records t = 1 … 12: 10 input channels, 2 output channels.
data::DatasetSpec small_ns(long resolution, long stride, const std::string& stem) {
  return spec_from(
      "{problem: navier_stokes, samples: 4, seed: 5, resolution: " + std::to_string(resolution) +
          ", stride: " + std::to_string(stride) + ", navier_stokes: {t_end: 12}}",
      "ns_" + stem);
}

double relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return norm(d) / norm(b);
}

// Records [first, first + count) of a solve, as [count, n*n] channels.
std::vector<double> records(const solvers::VorticityResult& result, long first, long count) {
  std::vector<double> out;
  for (long r = first; r < first + count; ++r)
    out.insert(out.end(), result.snapshots[r].begin(), result.snapshots[r].end());
  return out;
}

TEST(FnoNavierStokesDataset, IsTheSameOnAnyRankCount) {
  const auto spec = small_ns(64, 2, "ranks");
  const std::string path = file_name("ns_ranks"), alone = file_name("ns_ranks_alone");
  remove_dataset(path);
  remove_dataset(alone);
  data::GenerateOptions options;
  options.quiet = true;
  options.config_yaml = "data: {test: ns_ranks}";
  const auto summary = data::generate_dataset(world(), spec, path, options);
  EXPECT_TRUE(summary.complete);
  EXPECT_EQ(summary.solved, spec.samples);
  EXPECT_EQ(summary.mean_iterations, 12 * 50);  // time steps: dt = 1.28 / 64 = 0.02
  EXPECT_EQ(summary.stats.ts, "pseudo-spectral CN/AB2");
  if (world_rank() == 0) data::generate_dataset(MPI_COMM_SELF, spec, alone, options);
  MPI_Barrier(world());

  const auto data = read_all(path);
  const auto reference = read_all(alone);
  EXPECT_EQ(data.grid, (std::vector<long>{32, 32}));
  EXPECT_EQ(data.in_channels, 10);
  EXPECT_EQ(data.out_channels, 2);
  EXPECT_EQ(data.inputs.size(), static_cast<std::size_t>(spec.samples * 10 * 32 * 32));
  EXPECT_TRUE(data.inputs == reference.inputs) << "inputs differ from a 1-process generation";
  EXPECT_TRUE(data.outputs == reference.outputs) << "outputs differ from a 1-process generation";

  // Each rank re-makes one sample on its own, at the training resolution.
  const long k = world_rank() * (spec.samples - 1) / std::max(1, world_size() - 1);
  const auto instance = data::solve_instance(spec, k, 32);
  EXPECT_TRUE(instance.inputs == sample_of(data.inputs, spec.samples, k));
  EXPECT_TRUE(instance.outputs == sample_of(data.outputs, spec.samples, k));
  EXPECT_TRUE(data::sample_input(spec, k, 32) == instance.inputs);

  const auto info = data::inspect_dataset(world(), path, 10, 2);
  EXPECT_EQ(info.problem, "navier_stokes");
  EXPECT_EQ(info.grid, (std::vector<long>{32, 32}));
  EXPECT_EQ(info.resolution, 64);
  EXPECT_EQ(info.stride, 2);
  EXPECT_EQ(info.generator, data::describe(spec));
}

// An interrupted generation resumed ends with the uninterrupted file (the multi-channel 2D layout
// through the generic resume path).
TEST(FnoNavierStokesDataset, ResumedGenerationEqualsAnUninterruptedOne) {
  const auto spec = small_ns(32, 1, "resume");
  const std::string whole = file_name("ns_whole"), resumed = file_name("ns_resumed");
  remove_dataset(whole);
  remove_dataset(resumed);
  data::GenerateOptions options;
  options.quiet = true;
  data::generate_dataset(world(), spec, whole, options);
  options.stop_after = 1;
  EXPECT_FALSE(data::generate_dataset(world(), spec, resumed, options).complete);
  options.stop_after = -1;
  options.resume = true;
  const auto second = data::generate_dataset(world(), spec, resumed, options);
  EXPECT_TRUE(second.complete);
  EXPECT_EQ(second.kept, world_size());
  const auto a = read_all(whole), b = read_all(resumed);
  EXPECT_TRUE(a.inputs == b.inputs);
  EXPECT_TRUE(a.outputs == b.outputs);
}

// Sample k's channels are the records of the vorticity solver run directly from
// vorticity_initial(n, mix(seed, k)): t = 1 … 10 in, t = 11, 12 out.
TEST(FnoNavierStokesDataset, ChannelsAreTheSolverRecordsFromTheFnoInitialField) {
  const auto spec = small_ns(32, 1, "records");
  ASSERT_EQ(spec.in_channels(), 10);
  ASSERT_EQ(spec.out_channels(), 2);
  ASSERT_EQ(spec.dim(), 2);
  const long k = 1 + world_rank();
  const auto instance = data::solve_instance(spec, k, 32);

  solvers::VorticitySpec direct;
  direct.n = 32;
  direct.nu = 1e-3;
  direct.dt = 0.04;  // 1.28 / 32
  direct.t_end = 12.0;
  direct.record_interval = 1.0;
  const auto w0 = solvers::vorticity_initial(32, mix64(mix64(spec.seed) + k));
  const auto result = solvers::solve_vorticity(direct, w0);
  EXPECT_TRUE(instance.inputs == records(result, 0, 10));
  EXPECT_TRUE(instance.outputs == records(result, 10, 2));
  EXPECT_EQ(instance.iterations, result.steps);
  // A flow, not a constant: the records change over the output window.
  EXPECT_GT(relative_difference(records(result, 11, 1), records(result, 9, 1)), 1e-3);
  // The subsampled inputs are the fine records subsampled (a stride of 2 from 32).
  EXPECT_TRUE(data::sample_input(spec, k, 16) == data::subsample(spec, instance.inputs, 32, 2));
}

// The baseline continues from the last input record: at the data's resolution it reproduces the
// outputs up to the restart of the two-step scheme (one CN–Heun step instead of CN–AB2); at half
// the resolution it is worse (the baseline at the test grid is an honest, less accurate solve).
TEST(FnoNavierStokesDataset, BaselineFromTheInputsReproducesTheOutputs) {
  const auto spec = small_ns(32, 1, "baseline");
  const long k = world_rank();
  const auto instance = data::solve_instance(spec, k, 32);
  const auto fine = data::solve_given(spec, instance.inputs, 32);
  const double fine_error = relative_difference(fine.solution, instance.outputs);
  EXPECT_LT(fine_error, 2e-6);  // measured 1e-7 to 2e-7
  EXPECT_EQ(fine.stats.ts, "pseudo-spectral CN/AB2");
  EXPECT_EQ(fine.stats.steps, 2 * 25);  // two time units at dt = 0.04
  EXPECT_EQ(fine.iterations, fine.stats.steps);
  EXPECT_GT(fine.wall_s, 0.0);
  ASSERT_EQ(fine.stats.options.size(), 2u);
  EXPECT_EQ(fine.stats.options[0].first, "dt");
  EXPECT_DOUBLE_EQ(std::stod(fine.stats.options[0].second), 0.04);

  const auto coarse_inputs = data::subsample(spec, instance.inputs, 32, 2);
  const auto coarse = data::solve_given(spec, coarse_inputs, 16);
  EXPECT_EQ(coarse.stats.steps, 2 * 13);  // dt scales with h: 0.08, reduced to 1/13
  const double coarse_error =
      relative_difference(coarse.solution, data::subsample(spec, instance.outputs, 32, 2));
  EXPECT_GT(coarse_error, 10.0 * fine_error);
  EXPECT_LT(coarse_error, 0.5);
  std::printf("    baseline vs data: %.2e at 32^2, %.2e at 16^2\n", fine_error, coarse_error);
}

// A step too large for the grid is refused by the solver's CFL check, naming the case's key.
TEST(FnoNavierStokesDataset, AnUnstableStepNamesTheDtKey) {
  const auto spec = spec_from(
      "{problem: navier_stokes, samples: 1, resolution: 32, navier_stokes: {t_end: 12, dt: 1}}",
      "unstable");
  const std::string message = config_error([&] { data::solve_instance(spec, 0, 32); });
  EXPECT_TRUE(contains(message, "data.navier_stokes.dt: sample 0:")) << message;
  EXPECT_TRUE(contains(message, "unstable")) << message;
}

TEST(FnoNavierStokesDatasetSpec, DefaultsAreTheFnoBenchmark) {
  const auto spec = spec_from("{problem: navier_stokes}", "defaults");
  EXPECT_EQ(spec.resolution, 64);
  EXPECT_EQ(spec.stride, 1);
  EXPECT_EQ(spec.training_resolution(), 64);
  EXPECT_DOUBLE_EQ(spec.navier_stokes.nu, 1e-3);
  EXPECT_DOUBLE_EQ(spec.navier_stokes.dt, 0.02);
  EXPECT_EQ(spec.in_channels(), 10);
  EXPECT_EQ(spec.out_channels(), 10);
  const auto law = solvers::vorticity_initial_field(0);
  EXPECT_EQ(spec.navier_stokes.initial.alpha, law.alpha);
  EXPECT_EQ(spec.navier_stokes.initial.tau, law.tau);
  EXPECT_EQ(spec.navier_stokes.initial.sigma, law.sigma);
  const auto fine = spec_from("{problem: navier_stokes, resolution: 256, stride: 4}", "fine");
  EXPECT_DOUBLE_EQ(fine.navier_stokes.dt, 0.005);
  EXPECT_EQ(fine.training_resolution(), 64);
}

TEST(FnoNavierStokesDatasetSpec, BadValuesNameTheirKey) {
  const auto rejected = [](const std::string& yaml, const std::string& key) {
    const std::string message = config_error([&] { spec_from(yaml, "bad"); });
    EXPECT_TRUE(contains(message, key)) << yaml << " → " << message;
  };
  rejected("{problem: navier_stokes, navier_stokes: {t_end: 10}}", "data.navier_stokes.t_end");
  rejected("{problem: navier_stokes, navier_stokes: {t_end: 5, input_steps: 5}}",
           "data.navier_stokes.t_end");
  rejected("{problem: navier_stokes, navier_stokes: {input_steps: 0}}",
           "data.navier_stokes.input_steps");
  rejected("{problem: navier_stokes, navier_stokes: {nu: -1}}", "data.navier_stokes.nu");
  rejected("{problem: navier_stokes, navier_stokes: {dt: 2}}", "data.navier_stokes.dt");
  rejected("{problem: navier_stokes, navier_stokes: {alpha: 1}}", "data.navier_stokes.alpha");
  rejected("{problem: navier_stokes, navier_stokes: {forcing: maybe}}",
           "data.navier_stokes.forcing");
  rejected("{problem: navier_stokes, navier_stokes: {nux: 1}}", "nux");
  rejected("{problem: navier_stokes, resolution: 63}", "data.resolution");
  rejected("{problem: navier_stokes, resolution: 64, stride: 3}", "data.stride");
  rejected("{problem: navier_stokes, resolution: 40, stride: 8}", "data.stride");  // 5: odd
}

}  // namespace
