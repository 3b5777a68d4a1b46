#include "karman/core/threads.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

namespace karman {
namespace {

int ranks_on_my_node(MPI_Comm comm) {
  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int ranks = 1;
  MPI_Comm_size(node, &ranks);
  MPI_Comm_free(&node);
  return ranks;
}

// OMP_NUM_THREADS's first entry (the outer level of a nested list "4,2"), 0 when unset or invalid.
int omp_num_threads() {
  const char* value = std::getenv("OMP_NUM_THREADS");
  if (!value) return 0;
  try {
    return std::max(0, std::stoi(value));
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

int threads_per_rank(MPI_Comm comm) {
  if (const int requested = omp_num_threads(); requested > 0) return requested;
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return std::max(1, cores / ranks_on_my_node(comm));
}

void initialize_kokkos(int threads) {
  setenv("OMP_PROC_BIND", "false", /*overwrite=*/0);
#if KOKKOS_VERSION >= 30700
  Kokkos::InitializationSettings settings;
  if (threads > 0) settings.set_num_threads(threads);
  Kokkos::initialize(settings);
#else
  Kokkos::InitArguments arguments;
  if (threads > 0) arguments.num_threads = threads;
  Kokkos::initialize(arguments);
#endif
}

}  // namespace karman
