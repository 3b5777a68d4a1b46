#pragma once
// The `karman` subcommands. Each returns the process exit status; bad input throws ConfigError.

#include <mpi.h>

#include <string>
#include <vector>

namespace karman::app {

struct RunOptions {
  std::string case_file;
  std::vector<std::string> overrides;
  std::string output;  // empty: the case's `output`, else runs/<name>
  bool resume = false;
  bool quiet = false;
  std::vector<std::string> petsc_options;  // as given ("-ksp_type", "cg", ...): for the resume line
};

int run_case(MPI_Comm comm, const RunOptions& options);
int validate_case(MPI_Comm comm, const std::string& case_file,
                  const std::vector<std::string>& overrides);
int print_info(MPI_Comm comm);
// `karman info --mesh FILE`: the mesh as PETSc reads and partitions it on this run's ranks.
int print_mesh_info(MPI_Comm comm, const std::string& file);
int compare_files(MPI_Comm comm, const std::string& a, const std::string& b,
                  const std::string& field);
int post_run(MPI_Comm comm, const std::string& run_dir);

}  // namespace karman::app
