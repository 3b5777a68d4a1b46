#pragma once
// The run directory: every output is written under a temporary name and renamed into place only
// when the run has finished, so a failed or killed run never leaves a torn file and never
// overwrites an earlier run's outputs half-way.

#include <mpi.h>

#include <string>
#include <vector>

namespace karman::run {

class RunDirectory {
 public:
  // Creates `path` if needed and checks it is writable (collective; ConfigError if not).
  RunDirectory(MPI_Comm comm, const std::string& path);
  ~RunDirectory();  // removes temporary files of a run that did not commit

  const std::string& path() const { return m_path; }
  // Path to write `name` to (a temporary name); the file becomes `name` at commit().
  std::string staged(const std::string& name);
  // Names of the files staged so far ("report.json", "fields.h5", ...), in staging order.
  const std::vector<std::string>& staged_names() const { return m_staged; }
  // Rename every staged file into place (rank 0; collective barrier first).
  void commit();

 private:
  MPI_Comm m_comm;
  int m_rank = 0;
  std::string m_path;
  std::vector<std::string> m_staged;
  bool m_committed = false;
};

}  // namespace karman::run
