// The small shared helpers of the core: product() of extents.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <vector>

#include "karman/core/extents.hpp"

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

}  // namespace
