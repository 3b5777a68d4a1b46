#include "karman/run/run_directory.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "karman/core/collective.hpp"
#include "karman/core/error.hpp"

namespace fs = std::filesystem;

namespace karman::run {
namespace {

std::string temporary_name(const std::string& name) { return "." + name + ".tmp"; }

// Rank 0's verdict on the folder: empty if usable, otherwise why not.
std::string check_writable(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return "cannot create output folder '" + path + "': " + ec.message();
  if (!fs::is_directory(path)) return "output path '" + path + "' exists and is not a folder";
  const std::string probe =
      (fs::path(path) / (".karman-write-check-" + std::to_string(getpid()))).string();
  {
    std::ofstream out(probe);
    if (!out) return "output folder '" + path + "' is not writable";
  }
  fs::remove(probe, ec);
  return {};
}

}  // namespace

RunDirectory::RunDirectory(MPI_Comm comm, const std::string& path) : m_comm(comm), m_path(path) {
  MPI_Comm_rank(comm, &m_rank);
  run_on_rank0(comm, [&] {
    const std::string problem = check_writable(path);
    if (!problem.empty()) throw ConfigError(problem);
  });
}

RunDirectory::~RunDirectory() {
  if (m_committed || m_rank != 0) return;
  std::error_code ec;
  for (const auto& name : m_staged) fs::remove(fs::path(m_path) / temporary_name(name), ec);
}

std::string RunDirectory::staged(const std::string& name) {
  m_staged.push_back(name);
  return (fs::path(m_path) / temporary_name(name)).string();
}

void RunDirectory::commit() {
  MPI_Barrier(m_comm);
  if (m_rank == 0) {
    for (const auto& name : m_staged) {
      const fs::path from = fs::path(m_path) / temporary_name(name), to = fs::path(m_path) / name;
      if (std::rename(from.c_str(), to.c_str()) != 0)
        throw ExternalError("filesystem", errno,
                            "cannot rename '" + from.string() + "' to '" + to.string() + "'");
    }
  }
  m_committed = true;
  MPI_Barrier(m_comm);
}

}  // namespace karman::run
