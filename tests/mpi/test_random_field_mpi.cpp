// Distributed random fields: bitwise the same field on any rank count, and a working set that
// falls with the rank count. Each test compares the field on all ranks of the run (1, 2 or 3, see
// tests/CMakeLists.txt) with the same field computed on each rank alone (a one-rank grid on
// PETSC_COMM_SELF) and with the serial reference twin random_field_global.
#include <gtest/gtest.h>
#include <petscsys.h>

#include <algorithm>
#include <cmath>

#include "karman/pde/random_field.hpp"

using namespace karman;

namespace {

int world_size() {
  int size;
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  return size;
}

// The largest of a value over the ranks of the run.
std::size_t max_over_ranks(std::size_t value) {
  unsigned long in = value, out = 0;
  MPI_Allreduce(&in, &out, 1, MPI_UNSIGNED_LONG, MPI_MAX, PETSC_COMM_WORLD);
  return out;
}

struct Comparison {
  std::size_t peak_all = 0, peak_one = 0;  // the largest working set over the ranks, and alone
};

Comparison expect_same_on_any_rank_count(const mesh::GridShape& shape,
                                         const config::RandomFieldSpec& spec) {
  Comparison c;
  mesh::StructuredGrid grid(PETSC_COMM_WORLD, shape);
  pde::RandomFieldStats all_stats;
  const auto owned = pde::random_field(grid, spec, &all_stats);
  EXPECT_EQ(static_cast<long>(owned.size()), grid.local_size());
  const auto gathered = grid.gather_all(owned);

  mesh::StructuredGrid alone(PETSC_COMM_SELF, shape);
  pde::RandomFieldStats one_stats;
  const auto whole = pde::random_field(alone, spec, &one_stats);
  const auto serial = pde::random_field_global(shape, spec);

  double scale = 0.0;
  for (double v : serial) scale = std::max(scale, std::abs(v));
  EXPECT_GT(scale, 0.1);        // a field, not zeros
  EXPECT_EQ(gathered, whole);   // bitwise: P ranks against one
  EXPECT_EQ(gathered, serial);  // bitwise: against the serial twin
  c.peak_all = max_over_ranks(all_stats.peak_bytes);
  c.peak_one = one_stats.peak_bytes;
  // Alone, the working set holds at least the whole field once.
  EXPECT_GE(c.peak_one, sizeof(double) * static_cast<std::size_t>(shape.size()));
  return c;
}

mesh::GridShape make_shape(int dim, std::array<long, 3> n, bool periodic) {
  mesh::GridShape s;
  s.dim = dim;
  s.n = n;
  s.periodic = periodic;
  return s;
}

config::RandomFieldSpec make_spec(bool periodic, unsigned long seed, double sigma) {
  config::RandomFieldSpec s;
  s.sigma = sigma;
  s.seed = seed;
  s.periodic = periodic;
  return s;
}

}  // namespace

TEST(RandomFieldMpi, Neumann1d) {
  expect_same_on_any_rank_count(make_shape(1, {33, 1, 1}, false), make_spec(false, 6, 3.0));
}

TEST(RandomFieldMpi, Periodic1d) {
  expect_same_on_any_rank_count(make_shape(1, {64, 1, 1}, true),
                                make_spec(true, 3, std::pow(3.0, 1.5)));
}

TEST(RandomFieldMpi, Neumann2d) {
  expect_same_on_any_rank_count(make_shape(2, {33, 17, 1}, false), make_spec(false, 1, 3.0));
}

TEST(RandomFieldMpi, Periodic2dOddSizes) {
  expect_same_on_any_rank_count(make_shape(2, {31, 20, 1}, true), make_spec(true, 7, 3.0));
}

TEST(RandomFieldMpi, Neumann3d) {
  expect_same_on_any_rank_count(make_shape(3, {9, 10, 11}, false),
                                make_spec(false, 2, std::sqrt(3.0)));
}

// Basis and grid disagree on periodicity: a periodic basis on end-inclusive nodes repeats node 0
// at x = upper (so one transform node goes to two ranks); a Neumann basis behind periodic nodes
// has one mode more than nodes.
TEST(RandomFieldMpi, PeriodicBasisOnClosedGrid3d) {
  expect_same_on_any_rank_count(make_shape(3, {9, 8, 7}, false), make_spec(true, 8, 3.0));
}

TEST(RandomFieldMpi, NeumannBasisOnPeriodicGrid2d) {
  expect_same_on_any_rank_count(make_shape(2, {16, 12, 1}, true), make_spec(false, 9, 3.0));
}

// More ranks than modes along the slab axes: some ranks hold no slab (the z axis has 1 mode).
TEST(RandomFieldMpi, FewerModesThanRanks) {
  expect_same_on_any_rank_count(make_shape(3, {4, 3, 2}, false), make_spec(true, 10, 3.0));
  expect_same_on_any_rank_count(make_shape(2, {5, 2, 1}, false), make_spec(false, 11, 3.0));
}

TEST(RandomFieldMpi, Thresholded) {
  config::RandomFieldSpec spec = make_spec(false, 4, 3.0);
  spec.thresholded = true;
  expect_same_on_any_rank_count(make_shape(2, {33, 17, 1}, false), spec);
}

// The largest working set over P ranks is about 1/P of one rank's: at most 1/P of it plus a
// quarter (uneven slabs and owned boxes, exchange buffers), and below it whenever P > 1.
TEST(RandomFieldMpi, WorkingSetFallsWithRankCount) {
  const int ranks = world_size();
  for (const auto& shape : {make_shape(2, {96, 80, 1}, false), make_shape(3, {24, 20, 18}, true)}) {
    const Comparison c = expect_same_on_any_rank_count(shape, make_spec(false, 12, 3.0));
    const double ratio = static_cast<double>(c.peak_all) / static_cast<double>(c.peak_one);
    if (ranks == 1) {
      EXPECT_EQ(c.peak_all, c.peak_one);
    } else {
      EXPECT_LT(c.peak_all, c.peak_one);
    }
    EXPECT_LE(ratio, 1.0 / ranks + 0.25) << "ranks " << ranks;
    int rank;
    MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
    if (rank == 0)
      std::printf("random field %ldx%ldx%ld: peak %zu B on %d ranks, %zu B alone (%.3f)\n",
                  shape.n[0], shape.n[1], shape.n[2], c.peak_all, ranks, c.peak_one, ratio);
  }
}
