#pragma once
// Where a run's wall time goes, by stage, for report.json's `timings`: set-up, data, training,
// evaluation, baseline (the PETSc reference solve) and io. A ScopedStage charges the time from its
// construction to its destruction to one stage. Stages nest without double counting: an inner
// stage pauses the outer one (the outer is charged its own time only), so the stages never overlap
// and their sum never exceeds the wall time; what no stage covers is reported as `other`.
//
// The clock is process-wide rather than a member of run::RunContext because the stages are marked
// where the work is done, deep in the core (the PETSc solvers, the HDF5 writers, the trainer),
// where no run context reaches. Each rank has its own clock; report.json shows rank 0's. Not
// thread-safe: stages are marked by the host thread that drives the run, never inside kernels.

#include <array>
#include <chrono>
#include <vector>

namespace karman {

enum class Stage { setup, data, training, evaluation, baseline, io };
inline constexpr std::array<Stage, 6> all_stages = {
    Stage::setup, Stage::data, Stage::training, Stage::evaluation, Stage::baseline, Stage::io};
// The stage's key in report.json's `timings`: "setup", "data", ...
const char* stage_name(Stage stage);

class StageClock {
 public:
  // The process's clock.
  static StageClock& instance();
  // Forget every stage's seconds (the start of a run). Open stages stay open.
  void reset();
  // Start charging `stage`, pausing the stage open until now (if any).
  void push(Stage stage);
  // Stop charging the innermost stage and resume the one it paused.
  void pop() noexcept;
  // Seconds charged to `stage` so far, the innermost open stage's running time included.
  double seconds(Stage stage) const;
  // Whether `stage` is the innermost open stage.
  bool innermost_is(Stage stage) const { return !m_open.empty() && m_open.back() == stage; }
  // The sum over every stage.
  double total() const;

 private:
  using Clock = std::chrono::steady_clock;
  void charge_open(Clock::time_point now);
  std::array<double, all_stages.size()> m_seconds{};
  std::vector<Stage> m_open;
  Clock::time_point m_since = Clock::now();
};

// Charges its lifetime to `stage` of the process's clock, unless the innermost open stage is
// `yield_to`: then the open stage goes on being charged. The PETSc solvers mark themselves
// `baseline` yielding to `data`, so that the solves that generate a data set count as data.
class ScopedStage {
 public:
  explicit ScopedStage(Stage stage) : m_pushed(true) { StageClock::instance().push(stage); }
  ScopedStage(Stage stage, Stage yield_to)
      : m_pushed(!StageClock::instance().innermost_is(yield_to)) {
    if (m_pushed) StageClock::instance().push(stage);
  }
  ~ScopedStage() {
    if (m_pushed) StageClock::instance().pop();
  }
  ScopedStage(const ScopedStage&) = delete;
  ScopedStage& operator=(const ScopedStage&) = delete;

 private:
  bool m_pushed;
};

// Consecutive stages of one function body: each enter() ends the stage entered before (scopes
// opened in between must have closed), leave() or the destructor ends the last.
//   StagePhases phase;
//   phase.enter(Stage::data);  load_samples();
//   phase.enter(Stage::setup); build_model();
class StagePhases {
 public:
  StagePhases() = default;
  explicit StagePhases(Stage first) { enter(first); }
  ~StagePhases() { leave(); }
  StagePhases(const StagePhases&) = delete;
  StagePhases& operator=(const StagePhases&) = delete;
  void enter(Stage stage) {
    leave();
    StageClock::instance().push(stage);
    m_open = true;
  }
  void leave() noexcept {
    if (m_open) StageClock::instance().pop();
    m_open = false;
  }

 private:
  bool m_open = false;
};

}  // namespace karman
