// Runs that survive a time limit: a PINN and an FNO training, at 1 and 2 ranks, and a dataset
// generation, each sent the signal a batch system sends before its limit (SIGTERM, or SIGUSR1 as
// Slurm's --signal=USR1@120 and mpiexec's forwarding), finish the step in progress, write their
// checkpoint and report.json with status "interrupted", print one line naming the command that
// resumes them and exit with status 1; that command then ends with bitwise the result of an
// uninterrupted run. Their output, sent to files, has no "\r" and no escape sequence.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "karman/data/operator_dataset.hpp"
#include "karman/nn/checkpoint.hpp"
#include "support/checkpoints.hpp"
#include "support/cli.hpp"
#include "support/report_checks.hpp"
#include "support/signal.hpp"
#include "support/small_fno.hpp"

using namespace karman;
using namespace karman::test;

namespace {

// cases/pinn/poisson2d.yaml made small: 1500 Adam steps (~1 ms each) then 20 L-BFGS iterations,
// every step logged (the test waits for some), no checkpoint_every (the signal's step is
// checkpointed).
std::vector<std::string> small_pinn(const std::string& output) {
  return {"run",
          (source_dir() / "cases" / "pinn" / "poisson2d.yaml").string(),
          "--output",
          output,
          "--set",
          "samples.interior=256",
          "--set",
          "samples.boundary=64",
          "--set",
          "grid.n=17",
          "--set",
          "model.hidden=[16, 16]",
          "--set",
          "training.log_every=1",
          "--set",
          "training.checkpoint_every=0",
          "--set",
          "training.stages=[{optimizer: adam, steps: 1500, lr: 5.0e-3}, "
          "{optimizer: lbfgs, steps: 20, tolerance_change: 0, tolerance_gradient: 0}]",
          "-ksp_type",  // a PETSc option: the resume command must carry it too
          "cg"};
}

// The small Darcy FNO of test_cli_fno for 12 epochs of 5 batches, every step logged.
std::vector<std::string> small_fno(const std::string& output) {
  return small_darcy(
      output, 12,
      {"--set", "training.log_every=1", "--set", "evaluation={baseline_samples: 2, fields: 1}"});
}

// Runs the command an interrupted run printed ("[mpiexec -n N] karman run ... --resume") as a
// shell reads it, in `dir`, with this build's karman (and mpiexec): the message must be the
// exact command, quoting included.
int run_printed_command(const fs::path& dir, const std::string& message) {
  const std::string marker = "resume with: ";
  const auto at = message.find(marker);
  EXPECT_NE(at, std::string::npos) << message;
  if (at == std::string::npos) return -1;
  std::string command = message.substr(at + marker.size());
  const std::string launcher = "mpiexec -n ", karman = "karman run ";
  if (command.rfind(launcher, 0) == 0)
    command.replace(0, launcher.size(), std::string(KARMAN_MPIEXEC) + " --oversubscribe -n ");
  const auto k = command.find(karman);
  EXPECT_NE(k, std::string::npos) << command;
  if (k == std::string::npos) return -1;
  command.replace(k, karman.size(), shell_quote(KARMAN_BINARY) + " run ");
  const std::string full = "cd " + shell_quote(dir.string()) + " && " + clean_environment_prefix() +
                           " " + command + " >/dev/null 2>&1 </dev/null";
  const int raw = std::system(full.c_str());
  return raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

// The interrupted run's report, one-line message and checkpoint; returns the step it stopped at.
long expect_interrupted(const fs::path& run, const CliResult& r, const std::string& signal,
                        long total_steps, int ranks) {
  EXPECT_EQ(r.status, 1) << r;
  EXPECT_FALSE(r.signalled) << r;
  const auto report = report_of(run);
  EXPECT_EQ(report["status"], "interrupted") << report.dump(2);
  EXPECT_EQ(report["metrics"]["stop_reason"], "interrupted") << report.dump(2);
  const long steps = report["metrics"]["steps"].get<long>();
  EXPECT_GT(steps, 0);
  EXPECT_LT(steps, total_steps);
  const std::string message = report["message"];
  const std::string resume = ranks > 1 ? "mpiexec -n " + std::to_string(ranks) + " karman run "
                                       : std::string("karman run ");
  EXPECT_NE(message.find("interrupted by " + signal + " at step " + std::to_string(steps) +
                         "; resume with: " + resume),
            std::string::npos)
      << message;
  EXPECT_NE(message.find(" --output " + run.filename().string() + " --resume"), std::string::npos)
      << message;
  // --quiet and PETSc options given to the run are in it too (r.command quotes every word).
  for (const std::string option : {"--quiet", "-ksp_type"})
    if (r.command.find(" '" + option + "'") != std::string::npos) {
      EXPECT_NE(message.find(" " + option), std::string::npos) << message;
    }
  // One line on stderr (mpiexec's own notices about the exit status and the forwarded signal
  // aside): the message.
  std::vector<std::string> lines;
  for (const auto& line : r.error_lines())
    if (line.rfind("mpiexec: Forwarding signal", 0) != 0) lines.push_back(line);
  EXPECT_EQ(lines.size(), 1u) << r;
  if (!lines.empty()) {
    EXPECT_EQ(lines[0], "karman: " + message);
  }
  // The checkpoint is the one the message names, readable.
  EXPECT_EQ(nn::load_checkpoint(MPI_COMM_SELF, (run / "checkpoint.h5").string()).scalar("step"),
            static_cast<double>(steps));
  // Output to files: plain lines only, on every stream and in the log.
  EXPECT_TRUE(plain_text(r.out)) << r;
  EXPECT_TRUE(plain_text(r.err)) << r;
  EXPECT_TRUE(plain_text(read_text(run / "log.txt")));
  return steps;
}

// Runs `args("full")`; runs `args("cut")`, signals it once `label` has logged `after` steps,
// checks it stopped as it should, resumes it with the command it printed and compares its weights
// with the full run's.
void expect_signalled_run_resumes(
    const std::function<std::vector<std::string>(const std::string&)>& args, int ranks, int signal,
    const std::string& signal_name, SignalTarget target, const std::string& label, long after,
    long total_steps, const std::string& metric) {
  const fs::path dir = test_folder();
  const CliResult full = run_karman(dir, args("full"), ranks);
  ASSERT_EQ(full.status, 0) << full;
  EXPECT_TRUE(plain_text(full.out)) << full;

  const fs::path log = dir / "cut" / ".log.txt.tmp";
  const CliResult cut = signal_when(dir, args("cut"), ranks, signal, target,
                                    [&] { return logged_count(log, label) >= after; });
  const long steps = expect_interrupted(dir / "cut", cut, signal_name, total_steps, ranks);

  ASSERT_EQ(run_printed_command(dir, report_of(dir / "cut")["message"]), 0);
  EXPECT_EQ(report_of(dir / "cut")["status"], "ok");
  EXPECT_NE(read_text(dir / "cut" / "log.txt").find("resuming at step " + std::to_string(steps)),
            std::string::npos);
  const auto a = parameters_of(dir / "full" / "checkpoint.h5");
  const auto b = parameters_of(dir / "cut" / "checkpoint.h5");
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a.size(), b.size());
  for (const auto& [name, values] : a)
    EXPECT_TRUE(b.count(name) && values == b.at(name)) << name << " differs";
  EXPECT_EQ(report_of(dir / "full")["metrics"][metric], report_of(dir / "cut")["metrics"][metric]);
  std::printf("    %s at step %ld of %ld on %d rank(s), resumed: weights identical\n",
              signal_name.c_str(), steps, total_steps, std::max(ranks, 1));
}

}  // namespace

TEST(CliInterrupt, PinnSigtermResumesToTheSameWeights) {
  expect_signalled_run_resumes(small_pinn, 0, SIGTERM, "SIGTERM", SignalTarget::process,
                               "adam stage 1", 20, 1520, "rel_l2");
}

TEST(CliInterrupt, PinnSigtermToBothRanksResumesToTheSameWeights) {
  // As Slurm delivers it (srun's tasks, scancel --signal=TERM): to every rank.
  expect_signalled_run_resumes(small_pinn, 2, SIGTERM, "SIGTERM", SignalTarget::ranks,
                               "adam stage 1", 20, 1520, "rel_l2");
}

TEST(CliInterrupt, FnoSigtermResumesMidEpochToTheSameWeights) {
  expect_signalled_run_resumes(small_fno, 0, SIGTERM, "SIGTERM", SignalTarget::process,
                               "adam stage 1", 7, 60, "rel_l2");
}

TEST(CliInterrupt, FnoSigusr1ToMpiexecResumesToTheSameWeights) {
  // mpiexec forwards SIGUSR1 to its ranks (its SIGTERM kills them a second later).
  expect_signalled_run_resumes(small_fno, 2, SIGUSR1, "SIGUSR1", SignalTarget::process,
                               "adam stage 1", 7, 60, "rel_l2");
}

TEST(CliInterrupt, DatasetGenerationStopsAfterItsSampleAndResumes) {
  const fs::path dir = test_folder();
  const auto args = [](const std::string& output) {
    return std::vector<std::string>{
        "run",      (source_dir() / "cases" / "fno" / "darcy_dataset.yaml").string(),
        "--output", output,
        "--set",    "data.samples=20",
        "--set",    "data.resolution=129",
        "--set",    "data.stride=2",
        "--set",    "data.seed=5"};
  };
  const CliResult full = run_karman(dir, args("full"));
  ASSERT_EQ(full.status, 0) << full;
  const fs::path log = dir / "cut" / ".log.txt.tmp";
  const CliResult cut = signal_when(dir, args("cut"), 0, SIGTERM, SignalTarget::process,
                                    [&] { return logged_count(log, "dataset darcy") >= 4; });
  ASSERT_EQ(cut.status, 1) << cut;
  const auto report = report_of(dir / "cut");
  EXPECT_EQ(report["status"], "interrupted");
  const std::string message = report["message"];
  EXPECT_EQ(message.rfind("interrupted by SIGTERM with ", 0), 0u) << message;
  const long complete = std::stol(message.substr(28));
  EXPECT_GE(complete, 4);
  EXPECT_LT(complete, 20);
  EXPECT_NE(message.find("of 20 samples complete; resume with: karman run "), std::string::npos)
      << message;
  EXPECT_TRUE(fs::exists(dir / "cut" / "dataset.h5.partial"));
  EXPECT_FALSE(fs::exists(dir / "cut" / "dataset.h5"));
  EXPECT_TRUE(plain_text(cut.out) && plain_text(cut.err)) << cut;

  ASSERT_EQ(run_printed_command(dir, message), 0);
  EXPECT_EQ(report_of(dir / "cut")["metrics"]["kept"].get<long>(), complete);
  const auto read = [&](const char* run) {
    return data::read_operator_data(MPI_COMM_SELF, (dir / run / "dataset.h5").string(), 0, 20);
  };
  const auto a = read("full"), b = read("cut");
  EXPECT_TRUE(a.inputs == b.inputs);
  EXPECT_TRUE(a.outputs == b.outputs);
  std::printf("    SIGTERM with %ld of 20 samples complete, resumed: identical\n", complete);
}
