// `karman run` of a dataset case killed (SIGKILL) half-way and rerun with --resume ends with
// exactly the file of an uninterrupted run.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "karman/data/operator_dataset.hpp"
#include "support/cli.hpp"
#include "support/kill.hpp"

namespace {

using namespace karman::test;

const fs::path& darcy_case() {
  static const fs::path path = source_dir() / "cases" / "fno" / "darcy_dataset.yaml";
  return path;
}

// 30 samples on a 129² fine grid: long enough to be killed in the middle, a few seconds in all.
constexpr long kSamples = 30;

std::vector<std::string> run_args(const std::string& output) {
  return {"run",   darcy_case().string(), "--output", output,          "--set", "data.samples=30",
          "--set", "data.resolution=129", "--set",    "data.stride=2", "--set", "data.seed=5"};
}

// Samples logged as done by a running generation ("dataset darcy K/24" lines of its log).
long logged_samples(const fs::path& log) {
  if (!fs::exists(log)) return 0;
  const std::string text = read_text(log);
  const auto at = text.rfind("dataset darcy ");
  if (at == std::string::npos) return 0;
  try {
    return std::stol(text.substr(at + 14));
  } catch (const std::exception&) {
    return 0;
  }
}

TEST(CliDataset, KilledGenerationResumesToTheSameFile) {
  const fs::path dir = test_folder();
  const CliResult full = run_karman(dir, run_args("full"));
  ASSERT_EQ(full.status, 0) << full;

  // Start the same run in the background and kill it (SIGKILL) once a third of the samples are
  // logged as done.
  std::string command = "cd " + shell_quote(dir.string()) + " && " + clean_environment_prefix() +
                        " " + shell_quote(KARMAN_BINARY);
  for (const auto& a : run_args("killed")) command += " " + shell_quote(a);
  command += " >/dev/null 2>&1 </dev/null & echo $! > " + shell_quote((dir / "pid").string());
  ASSERT_EQ(std::system(command.c_str()), 0);
  const long pid = std::stol(read_text(dir / "pid"));
  const fs::path log = dir / "killed" / ".log.txt.tmp";
  for (int i = 0; i < 3000 && logged_samples(log) < kSamples / 3 && process_alive(pid); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(process_alive(pid)) << "the run ended before it could be killed";
  kill(static_cast<pid_t>(pid), SIGKILL);
  while (process_alive(pid)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(fs::exists(dir / "killed" / "dataset.h5.partial"));
  EXPECT_FALSE(fs::exists(dir / "killed" / "dataset.h5"));

  auto args = run_args("killed");
  args.push_back("--resume");
  const CliResult resumed = run_karman(dir, args);
  ASSERT_EQ(resumed.status, 0) << resumed;
  const auto report = nlohmann::json::parse(read_text(dir / "killed" / "report.json"));
  const long kept = report["metrics"]["kept"].get<long>();
  EXPECT_GE(kept, kSamples / 3) << report.dump(2);
  EXPECT_LT(kept, kSamples) << report.dump(2);
  EXPECT_EQ(kept + report["metrics"]["solved"].get<long>(), kSamples) << report.dump(2);
  EXPECT_NE(read_text(dir / "killed" / "log.txt").find("resuming"), std::string::npos);

  const auto read = [&](const char* run) {
    return karman::data::read_operator_data(MPI_COMM_SELF, (dir / run / "dataset.h5").string(), 0,
                                            kSamples);
  };
  const auto a = read("full"), b = read("killed");
  EXPECT_TRUE(a.inputs == b.inputs);
  EXPECT_TRUE(a.outputs == b.outputs);
  std::printf("    killed with %ld of %ld samples complete, resumed: identical\n", kept, kSamples);
}

}  // namespace
