#pragma once
// Test helper: a ProblemSpec from YAML text, read through the same schema as `karman run`.

#include <mpi.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "karman/config/case.hpp"
#include "karman/config/node.hpp"

namespace karman::testing {

inline config::ProblemSpec problem_from_yaml(const std::string& yaml,
                                             const std::vector<std::string>& overrides = {}) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  static int counter = 0;
  // One file per process, rank and call: neither the ranks nor the test executables ctest runs
  // side by side in the same folder race on a shared file.
  const std::string file = "problem_" + std::to_string(getpid()) + "_" + std::to_string(rank) +
                           "_" + std::to_string(counter++) + ".yaml";
  std::ofstream(file) << yaml;
  auto doc = config::CaseFile::load(file, overrides);
  auto problem = config::read_problem(doc.root());
  doc.reject_unknown_keys();
  return problem;
}

}  // namespace karman::testing
