// Operator-learning datasets at 1 and 2 ranks: the file holds exactly the single-process solves
// (bitwise, whatever the rank count), an interrupted generation resumed equals an uninterrupted
// one, the reader rejects bad files naming file and dataset, and the solves are physical (Darcy
// converges under refinement, Burgers keeps its mean, a warm start saves CG iterations).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "karman/config/node.hpp"
#include "karman/core/error.hpp"
#include "karman/data/operator_dataset.hpp"
#include "support/fno_dataset.hpp"

using namespace karman;
using namespace karman::test;
namespace fs = std::filesystem;

namespace {

data::DatasetSpec small_darcy() {
  return spec_from("{problem: darcy, samples: 5, seed: 7, resolution: 33, stride: 2}", "darcy");
}

data::DatasetSpec small_burgers() {
  return spec_from("{problem: burgers, samples: 5, seed: 3, resolution: 256, stride: 4}",
                   "burgers");
}

double relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return norm(d) / norm(b);
}

double mean(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// Generation on all ranks equals, bitwise, a single-process generation (rank 0 alone on
// MPI_COMM_SELF) and each sample's solve_instance; the attributes describe the generation.
void check_against_one_process(const data::DatasetSpec& spec, const std::string& stem) {
  const std::string path = file_name(stem), alone = file_name(stem + "_alone");
  remove_dataset(path);
  remove_dataset(alone);
  data::GenerateOptions options;
  options.quiet = true;
  options.config_yaml = "data: {test: " + stem + "}";
  const auto summary = data::generate_dataset(world(), spec, path, options);
  EXPECT_TRUE(summary.complete);
  EXPECT_EQ(summary.solved, spec.samples);
  EXPECT_GT(summary.mean_iterations, 0.0);
  if (world_rank() == 0) data::generate_dataset(MPI_COMM_SELF, spec, alone, options);
  MPI_Barrier(world());
  EXPECT_FALSE(fs::exists(path + ".partial"));

  const auto data = read_all(path);
  const auto reference = read_all(alone);
  const long m = spec.training_resolution();
  EXPECT_EQ(data.grid, std::vector<long>(spec.dim(), m));
  EXPECT_EQ(data.in_channels, 1);
  EXPECT_EQ(data.out_channels, 1);
  ASSERT_EQ(data.inputs.size(), reference.inputs.size());
  EXPECT_TRUE(data.inputs == reference.inputs) << "inputs differ from a 1-process generation";
  EXPECT_TRUE(data.outputs == reference.outputs) << "outputs differ from a 1-process generation";

  // Each rank re-solves one sample (the last rank the last one) on its own.
  const long k = world_rank() * (spec.samples - 1) / std::max(1, world_size() - 1);
  const auto instance = data::solve_instance(spec, k, spec.resolution);
  EXPECT_TRUE(data::subsample(spec, instance.inputs, spec.resolution, spec.stride) ==
              sample_of(data.inputs, spec.samples, k));
  EXPECT_TRUE(data::subsample(spec, instance.outputs, spec.resolution, spec.stride) ==
              sample_of(data.outputs, spec.samples, k));
  EXPECT_GT(norm(instance.outputs), 0.0);

  const auto info = data::inspect_dataset(world(), path, 1, 1);
  EXPECT_EQ(info.samples, spec.samples);
  EXPECT_EQ(info.problem, data::to_string(spec.problem));
  EXPECT_EQ(info.seed, static_cast<long>(spec.seed));
  EXPECT_EQ(info.resolution, spec.resolution);
  EXPECT_EQ(info.stride, spec.stride);
  EXPECT_EQ(info.generator, data::describe(spec));
  EXPECT_EQ(info.config, options.config_yaml);
}

TEST(FnoDataset, DarcyIsTheSameOnAnyRankCount) {
  check_against_one_process(small_darcy(), "darcy_ranks");
}

TEST(FnoDataset, BurgersIsTheSameOnAnyRankCount) {
  check_against_one_process(small_burgers(), "burgers_ranks");
}

TEST(FnoDataset, DarcyInputIsTheThresholdedFieldAndTheSolutionVanishesOnTheBoundary) {
  const auto spec = small_darcy();
  const auto instance = data::solve_instance(spec, 0, spec.resolution);
  long high = 0;
  for (double a : instance.inputs) {
    EXPECT_TRUE(a == 12.0 || a == 3.0) << a;
    high += a == 12.0;
  }
  EXPECT_GT(high, 0);  // both phases present
  EXPECT_LT(high, static_cast<long>(instance.inputs.size()));
  const long n = spec.resolution;
  double boundary = 0.0, inside = 0.0;
  for (long j = 0; j < n; ++j)
    for (long i = 0; i < n; ++i) {
      const double u = instance.outputs[j * n + i];
      if (i == 0 || j == 0 || i == n - 1 || j == n - 1)
        boundary = std::max(boundary, std::abs(u));
      else
        inside = std::max(inside, u);
    }
  EXPECT_GT(inside, 1e-3);             // f = 1 with a <= 12 on the unit square: u ~ 1e-2
  EXPECT_LT(boundary, 1e-9 * inside);  // the Dirichlet rows, solved to the CG tolerance
}

TEST(FnoDataset, ResumedGenerationEqualsAnUninterruptedOne) {
  const auto spec = small_darcy();
  const std::string whole = file_name("darcy_whole"), resumed = file_name("darcy_resumed");
  remove_dataset(whole);
  remove_dataset(resumed);
  data::GenerateOptions options;
  options.quiet = true;
  data::generate_dataset(world(), spec, whole, options);

  // Interrupted after one round: one sample per rank is in, the file is still .partial.
  options.stop_after = 1;
  auto first = data::generate_dataset(world(), spec, resumed, options);
  EXPECT_FALSE(first.complete);
  EXPECT_EQ(first.solved, world_size());
  EXPECT_FALSE(fs::exists(resumed));
  EXPECT_TRUE(fs::exists(resumed + ".partial"));
  const std::string incomplete =
      config_error([&] { data::inspect_dataset(world(), resumed + ".partial"); });
  EXPECT_TRUE(contains(incomplete, resumed + ".partial: dataset /complete: sample")) << incomplete;
  EXPECT_TRUE(contains(incomplete, "not complete")) << incomplete;

  // Other settings cannot resume it.
  auto other = spec;
  other.seed += 1;
  options.stop_after = -1;
  options.resume = true;
  const std::string mismatch =
      config_error([&] { data::generate_dataset(world(), other, resumed, options); });
  EXPECT_TRUE(contains(mismatch, resumed + ".partial")) << mismatch;
  EXPECT_TRUE(contains(mismatch, "generator")) << mismatch;

  const auto second = data::generate_dataset(world(), spec, resumed, options);
  EXPECT_TRUE(second.complete);
  EXPECT_EQ(second.kept, world_size());
  EXPECT_EQ(second.solved, spec.samples - world_size());
  EXPECT_FALSE(fs::exists(resumed + ".partial"));
  const auto a = read_all(whole), b = read_all(resumed);
  EXPECT_TRUE(a.inputs == b.inputs);
  EXPECT_TRUE(a.outputs == b.outputs);

  // Resuming a finished dataset solves nothing.
  const auto third = data::generate_dataset(world(), spec, resumed, options);
  EXPECT_TRUE(third.complete);
  EXPECT_EQ(third.solved, 0);
  EXPECT_EQ(third.kept, spec.samples);
}

TEST(FnoDataset, ReaderReadsAShareWithAStride) {
  const auto spec = small_darcy();
  const std::string path = file_name("darcy_share");
  remove_dataset(path);
  data::GenerateOptions options;
  options.quiet = true;
  data::generate_dataset(world(), spec, path, options);
  const auto all = read_all(path);
  // Rank r reads sample r + 1 at every second node.
  const long k = 1 + world_rank();
  const auto part = data::read_operator_data(world(), path, k, 1, 2);
  const long m = spec.training_resolution(), coarse = (m - 1) / 2 + 1;
  EXPECT_EQ(part.grid, (std::vector<long>{coarse, coarse}));
  EXPECT_EQ(part.first, k);
  EXPECT_EQ(part.count, 1);
  const auto whole = sample_of(all.outputs, spec.samples, k);
  ASSERT_EQ(part.outputs.size(), static_cast<std::size_t>(coarse * coarse));
  for (long j = 0; j < coarse; ++j)
    for (long i = 0; i < coarse; ++i)
      EXPECT_EQ(part.outputs[j * coarse + i], whole[(2 * j) * m + 2 * i]);
}

// ------------------------------------------------------------------------ bad files

struct Array {
  std::vector<hsize_t> dims;
  std::vector<double> values;
};

Array array(std::vector<hsize_t> dims, double value = 1.0) {
  hsize_t size = 1;
  for (auto n : dims) size *= n;
  return {std::move(dims), std::vector<double>(size, value)};
}

// Rank 0 writes `datasets` (name → array) with serial HDF5; the others wait.
void write_file(const std::string& path, const std::vector<std::pair<std::string, Array>>& sets) {
  if (world_rank() == 0) {
    hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    for (const auto& [name, a] : sets) {
      hid_t space = H5Screate_simple(static_cast<int>(a.dims.size()), a.dims.data(), nullptr);
      hid_t data = H5Dcreate2(file, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT,
                              H5P_DEFAULT);
      H5Dwrite(data, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.values.data());
      H5Dclose(data);
      H5Sclose(space);
    }
    H5Fclose(file);
  }
  MPI_Barrier(world());
}

// The reader's message for a file, checked to name the file.
std::string rejection(const std::string& path, long expected_in = -1) {
  const std::string message =
      config_error([&] { data::read_operator_data(world(), path, 0, 2, 1, expected_in, 1); });
  EXPECT_TRUE(contains(message, path + ": ")) << message;
  return message;
}

TEST(FnoDatasetReader, RejectsBadFilesNamingFileAndDataset) {
  const std::string missing = file_name("no_such_dataset");
  remove_dataset(missing);
  EXPECT_TRUE(contains(rejection(missing), "no such file"));

  const std::string no_outputs = file_name("bad_no_outputs");
  write_file(no_outputs, {{"inputs", array({2, 1, 8})}});
  EXPECT_TRUE(contains(rejection(no_outputs), "dataset /outputs: missing"));

  const std::string flat = file_name("bad_rank");
  write_file(flat, {{"inputs", array({2, 1, 8})}, {"outputs", array({2, 8})}});
  EXPECT_TRUE(contains(rejection(flat),
                       "dataset /outputs: expected 3 dimensions [N, C, n] (as /inputs), found 2"));

  const std::string too_flat = file_name("bad_inputs_rank");
  write_file(too_flat, {{"inputs", array({2, 8})}, {"outputs", array({2, 8})}});
  EXPECT_TRUE(contains(rejection(too_flat), "dataset /inputs: expected 3 to 5 dimensions"));

  const std::string counts = file_name("bad_counts");
  write_file(counts, {{"inputs", array({3, 1, 8})}, {"outputs", array({2, 1, 8})}});
  EXPECT_TRUE(contains(rejection(counts), "dataset /outputs: holds 2 samples but /inputs holds 3"));

  const std::string grids = file_name("bad_grids");
  write_file(grids, {{"inputs", array({2, 1, 8, 8})}, {"outputs", array({2, 1, 8, 9})}});
  EXPECT_TRUE(contains(rejection(grids), "dataset /outputs: grid [8, 9] differs"));

  const std::string channels = file_name("bad_channels");
  write_file(channels, {{"inputs", array({2, 1, 8})}, {"outputs", array({2, 1, 8})}});
  EXPECT_TRUE(
      contains(rejection(channels, 2), "dataset /inputs: expected 2 input channel(s), found 1"));

  const std::string nan = file_name("bad_nan");
  Array outputs = array({2, 1, 8});
  outputs.values[8 + 3] = std::nan("");
  write_file(nan, {{"inputs", array({2, 1, 8})}, {"outputs", outputs}});
  EXPECT_TRUE(
      contains(rejection(nan), "dataset /outputs: non-finite value (NaN or Inf) in sample 1"));

  const std::string inf = file_name("bad_inf");
  Array inputs = array({2, 1, 8});
  inputs.values[2] = INFINITY;
  write_file(inf, {{"inputs", inputs}, {"outputs", array({2, 1, 8})}});
  EXPECT_TRUE(
      contains(rejection(inf), "dataset /inputs: non-finite value (NaN or Inf) in sample 0"));

  const std::string incomplete = file_name("bad_incomplete");
  write_file(incomplete, {{"inputs", array({2, 1, 8})},
                          {"outputs", array({2, 1, 8})},
                          {"complete", {{2}, {1.0, 0.0}}}});
  EXPECT_TRUE(contains(rejection(incomplete), "dataset /complete: sample 1 of 2 is not complete"));

  // A good file of the same shape reads.
  const std::string good = file_name("good_small");
  write_file(good, {{"inputs", array({2, 1, 8})}, {"outputs", array({2, 1, 8}, 2.0)}});
  const auto data = data::read_operator_data(world(), good, 0, 2, 1, 1, 1);
  EXPECT_EQ(data.outputs, std::vector<double>(16, 2.0));
}

TEST(FnoDatasetSpec, BadValuesNameTheirKey) {
  const std::string stride =
      config_error([] { spec_from("{problem: darcy, resolution: 33, stride: 3}", "bad_stride"); });
  EXPECT_TRUE(contains(stride, "data.stride")) << stride;
  const std::string periodic = config_error(
      [] { spec_from("{problem: burgers, resolution: 100, stride: 8}", "bad_periodic"); });
  EXPECT_TRUE(contains(periodic, "data.stride")) << periodic;
  const std::string below =
      config_error([] { spec_from("{problem: darcy, darcy: {below: -1}}", "bad_below"); });
  EXPECT_TRUE(contains(below, "data.darcy.below")) << below;
  const std::string problem = config_error([] { spec_from("{problem: navier}", "bad_problem"); });
  EXPECT_TRUE(contains(problem, "data.problem")) << problem;
  const std::string unknown =
      config_error([] { spec_from("{problem: darcy, sampels: 3}", "bad_key"); });
  EXPECT_TRUE(contains(unknown, "sampels")) << unknown;
}

// ------------------------------------------------------------------------ physics

// The same a (the fine field subsampled) solved at 33, 65 and 129 nodes: the coarse solutions
// approach the fine one at the common nodes as the grid is refined.
TEST(FnoDatasetPhysics, DarcySolutionConvergesUnderRefinement) {
  const auto spec = spec_from("{problem: darcy, samples: 1, seed: 11, resolution: 129}", "conv");
  const auto fine = data::solve_given(spec, data::sample_input(spec, 0, 129), 129);
  const auto at33 = [&](const std::vector<double>& u, long n) {
    return data::subsample(spec, u, n, (n - 1) / 32);
  };
  const auto reference = at33(fine.solution, 129);
  const auto u33 = data::solve_given(spec, data::sample_input(spec, 0, 33), 33);
  const auto u65 = data::solve_given(spec, data::sample_input(spec, 0, 65), 65);
  const double e33 = relative_difference(at33(u33.solution, 33), reference);
  const double e65 = relative_difference(at33(u65.solution, 65), reference);
  EXPECT_LT(e65, 0.7 * e33) << "e33 " << e33 << " e65 " << e65;
  EXPECT_LT(e65, 0.05);
  EXPECT_GT(fine.iterations, 0);
  EXPECT_GT(fine.wall_s, 0.0);
  EXPECT_EQ(fine.stats.ksp, "cg");
  EXPECT_EQ(fine.stats.pc, "gamg");
}

// A good initial guess (the solution of a nearby coefficient) saves CG iterations at the same
// tolerance, and the answer is the same.
TEST(FnoDatasetPhysics, DarcyWarmStartSavesIterations) {
  const auto spec = small_darcy();
  const auto a = data::sample_input(spec, 1, spec.resolution);
  const auto cold = data::solve_given(spec, a, spec.resolution);
  std::vector<double> guess(cold.solution);
  for (double& u : guess) u *= 1.0 + 1e-4;  // a close prediction
  const auto warm = data::solve_given(spec, a, spec.resolution, &guess);
  EXPECT_LT(warm.iterations, cold.iterations);
  EXPECT_LT(relative_difference(warm.solution, cold.solution), 1e-8);
}

// Periodic Burgers in conservation form keeps the mean of u to round-off, while u itself changes.
TEST(FnoDatasetPhysics, BurgersKeepsTheMeanOfU) {
  const auto spec = small_burgers();
  auto u0 = data::sample_input(spec, 2, spec.resolution);
  for (double& u : u0) u += 0.3;  // a non-zero mean, advected
  const auto result = data::solve_given(spec, u0, spec.resolution);
  EXPECT_NEAR(mean(result.solution), mean(u0), 1e-12);
  EXPECT_GT(relative_difference(result.solution, u0), 0.1);
  EXPECT_EQ(result.stats.ts, "rosw");
}

}  // namespace
