// Distributed random fields equal the serial field exactly, whatever the rank count.
#include <gtest/gtest.h>
#include <petscsys.h>

#include <algorithm>
#include <cmath>

#include "karman/pde/random_field.hpp"

using namespace karman;

namespace {

void expect_matches_serial(const mesh::GridShape& shape, const config::RandomFieldSpec& spec) {
  mesh::StructuredGrid grid(PETSC_COMM_WORLD, shape);
  auto owned = pde::random_field(grid, spec);
  ASSERT_EQ(static_cast<long>(owned.size()), grid.local_size());
  auto gathered = grid.gather_all(owned);
  auto serial = pde::random_field_global(shape, spec);
  ASSERT_EQ(gathered.size(), serial.size());
  double diff = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < serial.size(); ++i) {
    diff = std::max(diff, std::abs(gathered[i] - serial[i]));
    scale = std::max(scale, std::abs(serial[i]));
  }
  EXPECT_GT(scale, 0.1);
  EXPECT_LE(diff, 1e-14);
  EXPECT_EQ(gathered, serial);  // bitwise: one deterministic transform, then a copy
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

TEST(RandomFieldMpi, Neumann2dMatchesSerial) {
  expect_matches_serial(make_shape(2, {33, 17, 1}, false), make_spec(false, 1, 3.0));
}

TEST(RandomFieldMpi, Neumann3dMatchesSerial) {
  expect_matches_serial(make_shape(3, {9, 9, 9}, false), make_spec(false, 2, std::sqrt(3.0)));
}

TEST(RandomFieldMpi, Periodic1dMatchesSerial) {
  expect_matches_serial(make_shape(1, {64, 1, 1}, true), make_spec(true, 3, std::pow(3.0, 1.5)));
}

TEST(RandomFieldMpi, ThresholdedMatchesSerial) {
  config::RandomFieldSpec spec = make_spec(false, 4, 3.0);
  spec.thresholded = true;
  expect_matches_serial(make_shape(2, {33, 17, 1}, false), spec);
}
