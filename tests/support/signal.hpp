#pragma once
// Interrupting a run the way a batch system does before a time limit: start `karman ARGS...`
// (under mpiexec when ranks > 0), wait until its log shows some progress, send it a signal
// (SIGTERM, SIGUSR1), twice, and wait for it to end on its own.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <functional>
#include <thread>

#include "support/cli.hpp"

namespace karman::test {

// The last "LABEL K/" count of a log file being written (0 when there is none yet).
inline long logged_count(const fs::path& log, const std::string& label) {
  if (!fs::exists(log)) return 0;
  const std::string text = read_text(log);
  const auto at = text.rfind(label + " ");
  if (at == std::string::npos) return 0;
  try {
    return std::stol(text.substr(at + label.size() + 1));
  } catch (const std::exception&) {
    return 0;
  }
}

// The processes whose parent is `pid` (the ranks mpiexec started).
inline std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = read_text(entry.path() / "stat");
    const auto close = stat.rfind(')');  // "pid (comm) state ppid ..."
    if (close == std::string::npos) continue;
    char state;
    long parent;
    if (std::sscanf(stat.c_str() + close + 1, " %c %ld", &state, &parent) == 2 && parent == pid)
      out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

enum class SignalTarget {
  process,  // the process started: karman itself, or mpiexec (which forwards SIGUSR1)
  ranks,    // every rank directly, as Slurm's srun and scancel --signal do
};

// Runs `karman ARGS...` in `dir` (on `ranks` ranks under mpiexec when ranks > 0); once `ready()`
// holds, sends `signal` to `target` twice and waits for the run to end. A run that ends before it
// is ready is a test failure (its result is returned as it is).
inline CliResult signal_when(const fs::path& dir, const std::vector<std::string>& args, int ranks,
                             int signal, SignalTarget target, const std::function<bool()>& ready) {
  static int counter = 0;
  const fs::path out = dir / ".captured" / ("signalled" + std::to_string(++counter) + ".out");
  const fs::path err = fs::path(out).replace_extension(".err");
  fs::create_directories(out.parent_path());
  std::string command;
  if (ranks > 0)
    command += std::string(KARMAN_MPIEXEC) + " --oversubscribe -n " + std::to_string(ranks) + " ";
  command += shell_quote(KARMAN_BINARY);
  for (const auto& a : args) command += " " + shell_quote(a);
  // `exec env ... COMMAND`: env execs in turn, so the pid is karman's (or mpiexec's) own.
  const std::string script =
      "cd " + shell_quote(dir.string()) + " && exec " + clean_environment_prefix() + " " + command +
      " >" + shell_quote(out.string()) + " 2>" + shell_quote(err.string()) + " </dev/null";
  CliResult r;
  r.command = command;
  const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv), environ)) {
    ADD_FAILURE() << "cannot start " << script;
    return r;
  }
  int raw = 0;
  bool ended = false;
  for (int i = 0; i < 12000 && !ready(); ++i) {  // at most 2 minutes
    if (waitpid(pid, &raw, WNOHANG) == pid) {
      ended = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (ended) {
    ADD_FAILURE() << "the run ended before it could be signalled";
  } else {
    // Twice, as an impatient user or a scheduler repeating itself: the second one, arriving
    // during the step or the checkpoint, must change nothing.
    for (int time = 0; time < 2; ++time) {
      if (target == SignalTarget::ranks && ranks > 0)
        for (pid_t rank : children_of(pid)) kill(rank, signal);
      else
        kill(pid, signal);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    waitpid(pid, &raw, 0);
  }
  if (WIFEXITED(raw)) {
    r.status = WEXITSTATUS(raw);
  } else if (WIFSIGNALED(raw)) {
    r.signalled = true;
    r.status = 128 + WTERMSIG(raw);
  }
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

// No carriage return and no escape sequence: what a log file or a pipe must receive.
inline bool plain_text(const std::string& text) {
  return text.find('\r') == std::string::npos && text.find('\033') == std::string::npos;
}

}  // namespace karman::test
