// Threads per rank: with the ranks of a node filling its cores, each rank gets cores /
// ranks-on-node threads (at least one) for its OpenBLAS (never more than an OpenMP execution
// space's threads); OMP_NUM_THREADS chooses the count for both, OPENBLAS_NUM_THREADS for BLAS
// alone, and that choice is kept. Runs at 1 and 2 ranks.
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdlib>
#include <thread>

#include "karman/core/threads.hpp"
#include "karman/nn/gemm.hpp"
#include "support/kokkos_env.hpp"

namespace {

// BLAS gets no more threads than a host-parallel execution space has (Serial: no cap).
int capped(int threads) {
  const int concurrency = Kokkos::DefaultHostExecutionSpace().concurrency();
  return concurrency > 1 ? std::min(threads, concurrency) : threads;
}

}  // namespace

TEST(BlasThreads, CoresAreSharedByTheRanksOfANode) {
  unsetenv("OPENBLAS_NUM_THREADS");
  unsetenv("OMP_NUM_THREADS");
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int ranks_on_node;
  MPI_Comm_size(node, &ranks_on_node);
  MPI_Comm_free(&node);
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  EXPECT_EQ(karman::threads_per_rank(MPI_COMM_WORLD), std::max(1, cores / ranks_on_node));
  const int threads = karman::nn::limit_blas_threads(MPI_COMM_WORLD);
  EXPECT_EQ(threads, capped(std::max(1, cores / ranks_on_node)));
  EXPECT_EQ(karman::nn::blas_threads(), threads);
}

TEST(BlasThreads, OmpNumThreadsChoosesTheThreadsPerRank) {
  unsetenv("OPENBLAS_NUM_THREADS");
  setenv("OMP_NUM_THREADS", "1", 1);
  EXPECT_EQ(karman::threads_per_rank(MPI_COMM_WORLD), 1);
  EXPECT_EQ(karman::nn::limit_blas_threads(MPI_COMM_WORLD), 1);
  EXPECT_EQ(karman::nn::blas_threads(), 1);
  setenv("OMP_NUM_THREADS", "3,2", 1);  // nested levels: the outer one
  EXPECT_EQ(karman::threads_per_rank(MPI_COMM_WORLD), 3);
  unsetenv("OMP_NUM_THREADS");
}

TEST(BlasThreads, OpenblasNumThreadsIsKept) {
  const int before = karman::nn::blas_threads();
  setenv("OPENBLAS_NUM_THREADS", "7", 1);
  // The variable is read by OpenBLAS at load time only; karman must not override the setting.
  EXPECT_EQ(karman::nn::limit_blas_threads(MPI_COMM_WORLD), before);
  EXPECT_EQ(karman::nn::blas_threads(), before);
  unsetenv("OPENBLAS_NUM_THREADS");
}
