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

// `karman validate --keys CASE...`: validates each case (with the same overrides) and prints,
// per kind, every key the schema read for them (absent keys too, with their defaults): the
// union over the cases, in the order first read. `format` is "text", "json" or "markdown"
// (the tables of cases/README.md's key reference).
int list_case_keys(MPI_Comm comm, const std::vector<std::string>& case_files,
                   const std::vector<std::string>& overrides, const std::string& format);
int print_info(MPI_Comm comm, bool json = false);
// `karman info --mesh FILE`: the mesh as PETSc reads and partitions it on this run's ranks.
int print_mesh_info(MPI_Comm comm, const std::string& file);
int compare_files(MPI_Comm comm, const std::string& a, const std::string& b,
                  const std::string& field);
// `karman post RUN_DIR...`: each run's report as a table, then tools/post/karman_post.py draws
// RUN_DIR/post/ (figures and index.html) and, for several runs, their comparison in `output`
// (default: the first run's post/compare/).
int post_runs(MPI_Comm comm, const std::vector<std::string>& run_dirs, const std::string& output);

}  // namespace karman::app
