#pragma once
// Helpers for the end-to-end tests of the `karman` command line (tests/cases/test_cli_*.cpp):
// run the binary (optionally under mpiexec) in a per-test folder with stdout and stderr captured
// separately, and snapshot a folder to prove that a failed run left it untouched.
//
// The test executable has initialised MPI as a singleton, and Open MPI exports the singleton's
// job (OMPI_*, PMIX_*, ...) into this process's environment. A child `karman` or `mpiexec` that
// inherits it joins that job or fails to start, so every command runs with those variables unset.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace karman::test {

namespace fs = std::filesystem;

inline const fs::path& source_dir() {
  static const fs::path dir = KARMAN_SOURCE_DIR;
  return dir;
}

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out) << "cannot write " << path;
}

// A fresh, empty folder for the current test: <ctest working dir>/cli-work/<Suite>.<Test>.
inline fs::path test_folder() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::absolute(fs::path("cli-work") /
                                    (std::string(info->test_suite_name()) + "." + info->name()));
  fs::remove_all(dir);
  fs::create_directories(dir / ".captured");
  return dir;
}

inline std::string shell_quote(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// `env -u NAME ...` for every MPI launcher variable inherited from the singleton MPI_Init.
inline std::string clean_environment_prefix() {
  std::string prefix = "env";
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    if (name.find("ALLOW_RUN_AS_ROOT") != std::string::npos) continue;
    for (const char* p : {"OMPI_", "PMIX_", "ORTE_", "OPAL_", "PRTE_", "HYDRA_", "PMI_"})
      if (name.rfind(p, 0) == 0) {
        prefix += " -u " + shell_quote(name);
        break;
      }
  }
  return prefix + " OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1";
}

inline std::vector<std::string> nonempty_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
  return lines;
}

// Open MPI's mpiexec reports a non-zero exit of any rank in help blocks framed by lines of dashes
// ("Primary job terminated normally, but 1 process returned a non-zero exit code..."). Those
// are the launcher's, not karman's: drop them.
inline std::vector<std::string> without_launcher_blocks(const std::vector<std::string>& lines) {
  auto is_rule = [](const std::string& l) {
    return l.size() >= 10 && l.find_first_not_of('-') == std::string::npos;
  };
  std::vector<std::string> out;
  bool inside = false;
  for (const auto& l : lines) {
    if (is_rule(l))
      inside = !inside;
    else if (!inside)
      out.push_back(l);
  }
  return out;
}

struct CliResult {
  int status = -1;  // exit status; 128 + signal if killed
  bool signalled = false;
  std::string out, err, command;
  std::vector<std::string> error_lines() const {
    return without_launcher_blocks(nonempty_lines(err));
  }
};

inline std::ostream& operator<<(std::ostream& os, const CliResult& r) {
  return os << "command: " << r.command << "\nexit status: " << r.status << "\n--- stdout\n"
            << r.out << "--- stderr\n"
            << r.err << "---";
}

// Runs `karman ARGS...` in `cwd` (on `ranks` MPI ranks under mpiexec when ranks > 0).
inline CliResult run_karman(const fs::path& cwd, const std::vector<std::string>& args,
                            int ranks = 0) {
  static int counter = 0;
  const fs::path captured = cwd / ".captured";
  fs::create_directories(captured);
  const std::string stem = std::to_string(++counter);
  const fs::path out = captured / (stem + ".out"), err = captured / (stem + ".err");
  std::string command;
  if (ranks > 0)
    command += std::string(KARMAN_MPIEXEC) + " --oversubscribe -n " + std::to_string(ranks) + " ";
  command += shell_quote(KARMAN_BINARY);
  for (const auto& a : args) command += " " + shell_quote(a);
  const std::string full = "cd " + shell_quote(cwd.string()) + " && " + clean_environment_prefix() +
                           " " + command + " >" + shell_quote(out.string()) + " 2>" +
                           shell_quote(err.string()) + " </dev/null";
  CliResult r;
  r.command = command;
  const int raw = std::system(full.c_str());
  if (raw != -1 && WIFEXITED(raw)) {
    r.status = WEXITSTATUS(raw);
  } else if (raw != -1 && WIFSIGNALED(raw)) {
    r.signalled = true;
    r.status = 128 + WTERMSIG(raw);
  }
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

// Every entry under `dir` (hidden ones included), relative path -> size, mtime and contents.
using FolderSnapshot = std::map<std::string, std::string>;

inline FolderSnapshot snapshot(const fs::path& dir) {
  FolderSnapshot out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string name = fs::relative(entry.path(), dir).string();
    if (entry.is_regular_file()) {
      const auto mtime = entry.last_write_time().time_since_epoch().count();
      out[name] = "file size " + std::to_string(entry.file_size()) + " mtime " +
                  std::to_string(mtime) + " contents " + read_text(entry.path());
    } else {
      out[name] = entry.is_directory() ? "folder" : "other";
    }
  }
  return out;
}

// Names present in one snapshot and not the other, or whose size, mtime or contents differ.
inline std::vector<std::string> differences(const FolderSnapshot& before,
                                            const FolderSnapshot& after) {
  std::vector<std::string> out;
  for (const auto& [name, what] : before) {
    auto it = after.find(name);
    if (it == after.end())
      out.push_back("removed: " + name);
    else if (it->second != what)
      out.push_back("changed: " + name);
  }
  for (const auto& [name, what] : after)
    if (!before.count(name)) out.push_back("new: " + name);
  return out;
}

// Every *.yaml under cases/, found when the test runs so that new cases are covered.
inline std::vector<fs::path> case_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(source_dir() / "cases"))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml")
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace karman::test
