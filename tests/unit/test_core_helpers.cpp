// The small shared helpers of the core: product() of extents and the local relative_l2 of
// core/norms.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/core/extents.hpp"
#include "karman/core/norms.hpp"

using namespace karman;

namespace {

TEST(Extents, ProductOfExtents) {
  EXPECT_EQ(product(std::vector<long>{}), 1);
  EXPECT_EQ(product(std::vector<long>{7}), 7);
  EXPECT_EQ(product(std::vector<long>{3, 5, 7}), 105);
  EXPECT_EQ(product(std::vector<long>{4, 0, 9}), 0);
  // HDF5 dims keep their unsigned type.
  const hsize_t dims = product(std::vector<hsize_t>{2, 3, 4});
  EXPECT_EQ(dims, 24u);
}

TEST(Norms, RelativeL2OfARange) {
  const std::vector<double> approx = {9.0, 3.0, 4.0, 9.0};
  const std::vector<double> reference = {0.0, 3.0, 0.0, 9.0};
  // Values 1..2: ||(0, 4)|| / ||(3, 0)|| = 4 / 3.
  EXPECT_DOUBLE_EQ(relative_l2(approx, reference, 1, 2), 4.0 / 3.0);
  // All four: sqrt(81 + 16) / sqrt(9 + 81).
  EXPECT_DOUBLE_EQ(relative_l2(approx, reference, 0, 4), std::sqrt(97.0 / 90.0));
  // ||b|| = 0: the absolute L2 (value 0 alone: |9 - 0|).
  EXPECT_DOUBLE_EQ(relative_l2(approx, reference, 0, 1), 9.0);
  EXPECT_DOUBLE_EQ(relative_l2(approx, reference, 2, 0), 0.0);
  EXPECT_THROW(relative_l2(approx, reference, 3, 2), InternalError);
}

}  // namespace
