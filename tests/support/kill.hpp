#pragma once
// Interrupting a run for the resume tests: start `karman ARGS...` in the background and kill it
// with SIGKILL (no chance to clean up, as a crashed node or a scheduler's hard limit) once its
// checkpoint has reached a given step.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "karman/core/error.hpp"
#include "karman/nn/checkpoint.hpp"
#include "support/cli.hpp"

namespace karman::test {

inline bool process_alive(long pid) { return fs::exists("/proc/" + std::to_string(pid)); }

// The step stored in `checkpoint` once it is at least `min_step`; the process is then killed.
// Returns the step the killed run's checkpoint holds, or -1 (with a test failure) when the run
// ended before it could be killed.
inline double kill_after_checkpoint(const fs::path& dir, const std::vector<std::string>& args,
                                    const fs::path& checkpoint, double min_step) {
  std::string command = "cd " + shell_quote(dir.string()) + " && " + clean_environment_prefix() +
                        " " + shell_quote(KARMAN_BINARY);
  for (const auto& a : args) command += " " + shell_quote(a);
  command += " >/dev/null 2>&1 </dev/null & echo $! > " + shell_quote((dir / "pid").string());
  if (std::system(command.c_str()) != 0) {
    ADD_FAILURE() << "cannot start " << command;
    return -1;
  }
  const long pid = std::stol(read_text(dir / "pid"));
  double step = 0;
  for (int i = 0; i < 6000 && step < min_step && process_alive(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    try {
      if (fs::exists(checkpoint))
        step = nn::load_checkpoint(MPI_COMM_SELF, checkpoint.string()).scalar("step");
    } catch (const ConfigError&) {
    }
  }
  if (!process_alive(pid)) {
    ADD_FAILURE() << "the run ended before it could be killed";
    return -1;
  }
  kill(static_cast<pid_t>(pid), SIGKILL);
  while (process_alive(pid)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return nn::load_checkpoint(MPI_COMM_SELF, checkpoint.string()).scalar("step");
}

}  // namespace karman::test
