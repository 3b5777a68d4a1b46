#pragma once
// The resume tests of the CLI: the weights a run folder's checkpoint.h5 holds, and the whole
// check that a run killed mid-training resumes to exactly the uninterrupted run.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "karman/nn/checkpoint.hpp"
#include "support/cli.hpp"
#include "support/kill.hpp"

namespace karman::test {

// name → values of every "parameters/..." array of a checkpoint.
inline std::map<std::string, std::vector<double>> parameters_of(
    const std::filesystem::path& checkpoint) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, values] : nn::load_checkpoint(MPI_COMM_SELF, checkpoint.string()).arrays)
    if (name.rfind("parameters/", 0) == 0) out[name] = values;
  return out;
}

// `args(folder)` is the command line of a run into `folder` (relative to `dir`). Runs it to the
// end ("full"); runs it again ("killed") and kills it (SIGKILL) once its checkpoint holds a step
// in [kill_from, steps); resumes that with --resume. The resumed run must end with bitwise the
// weights of the full one, no report before the resume, and the same report.json
// metrics.`metric`. Returns the step the run was killed at.
inline double expect_killed_run_resumes(
    const std::filesystem::path& dir,
    const std::function<std::vector<std::string>(const std::string&)>& args, double kill_from,
    double steps, const std::string& metric) {
  const CliResult full = run_karman(dir, args("full"));
  EXPECT_EQ(full.status, 0) << full;
  if (full.status != 0) return -1;
  const std::filesystem::path checkpoint = dir / "killed" / "checkpoint.h5";
  const double killed_at = kill_after_checkpoint(dir, args("killed"), checkpoint, kill_from);
  EXPECT_GE(killed_at, kill_from);
  EXPECT_LT(killed_at, steps);
  EXPECT_FALSE(std::filesystem::exists(dir / "killed" / "report.json"));
  auto resume = args("killed");
  resume.push_back("--resume");
  const CliResult resumed = run_karman(dir, resume);
  EXPECT_EQ(resumed.status, 0) << resumed;
  if (resumed.status != 0) return killed_at;
  EXPECT_NE(read_text(dir / "killed" / "log.txt").find("resuming at step"), std::string::npos);
  const auto a = parameters_of(dir / "full" / "checkpoint.h5");
  const auto b = parameters_of(checkpoint);
  EXPECT_EQ(a.size(), b.size());
  for (const auto& [name, values] : a)
    EXPECT_TRUE(b.count(name) && values == b.at(name)) << name << " differs";
  const auto report = [&](const char* run) {
    return nlohmann::json::parse(read_text(dir / run / "report.json"))["metrics"][metric];
  };
  EXPECT_EQ(report("full"), report("killed")) << metric;
  std::printf("    killed at step %.0f of %.0f, resumed: weights identical\n", killed_at, steps);
  return killed_at;
}

}  // namespace karman::test
