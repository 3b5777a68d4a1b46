#pragma once
// MPI_COMM_WORLD for the tests under tests/mpi (run at 1 and 2 ranks), and per-rank-count file
// names: ctest may run the 1- and 2-rank executables of a test at the same time.
#include <mpi.h>

#include <string>

namespace karman::test {

inline MPI_Comm world() { return MPI_COMM_WORLD; }

inline int world_rank() {
  int rank;
  MPI_Comm_rank(world(), &rank);
  return rank;
}

inline int world_size() {
  int size;
  MPI_Comm_size(world(), &size);
  return size;
}

inline std::string file_name(const std::string& stem) {
  return stem + "_np" + std::to_string(world_size()) + ".h5";
}

}  // namespace karman::test
