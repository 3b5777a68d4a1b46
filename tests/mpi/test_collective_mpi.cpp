// Collective helpers of core/collective.hpp at 1 and 2 ranks: rank 0's view of the file system
// decides exists_on_rank0 on every rank.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "karman/core/collective.hpp"
#include "support/mpi_world.hpp"

using namespace karman;
using namespace karman::test;

namespace {

// A file name of this rank and this rank count.
std::string probe(const std::string& stem, int rank) {
  return stem + "_r" + std::to_string(rank) + "_np" + std::to_string(world_size());
}

TEST(Collective, ExistsOnRank0IsRank0sAnswerEverywhere) {
  const int rank = world_rank();
  // Only rank 0's own file exists: every rank, asking about its own name, hears "yes".
  const std::string mine = probe("exists_rank0_only", rank);
  if (rank == 0) std::ofstream(mine) << "x";
  MPI_Barrier(world());
  EXPECT_TRUE(exists_on_rank0(world(), mine));
  // A name rank 0 does not see: "no" on every rank, even where it exists.
  const std::string others = probe("exists_not_rank0", rank);
  if (rank != 0) std::ofstream(others) << "x";
  MPI_Barrier(world());
  EXPECT_FALSE(exists_on_rank0(world(), others));
  MPI_Barrier(world());
  std::remove(mine.c_str());
  std::remove(others.c_str());
}

}  // namespace
