// BLAS threading per rank: with the ranks of a node filling its cores, each rank gets
// cores / ranks-on-node OpenBLAS threads (at least one); a user's explicit choice is kept.
// Runs at 1 and 2 ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "karman/nn/gemm.hpp"

TEST(BlasThreads, CoresAreSharedByTheRanksOfANode) {
  unsetenv("OPENBLAS_NUM_THREADS");
  unsetenv("OMP_NUM_THREADS");
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int ranks_on_node;
  MPI_Comm_size(node, &ranks_on_node);
  MPI_Comm_free(&node);
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int threads = karman::nn::limit_blas_threads(MPI_COMM_WORLD);
  EXPECT_EQ(threads, std::max(1, cores / ranks_on_node));
  EXPECT_EQ(karman::nn::blas_threads(), threads);
}

TEST(BlasThreads, AnExplicitChoiceIsKept) {
  const int before = karman::nn::blas_threads();
  setenv("OMP_NUM_THREADS", "7", 1);
  // The variable is read by OpenBLAS at load time only; karman must not override the setting.
  EXPECT_EQ(karman::nn::limit_blas_threads(MPI_COMM_WORLD), before);
  EXPECT_EQ(karman::nn::blas_threads(), before);
  unsetenv("OMP_NUM_THREADS");
}
