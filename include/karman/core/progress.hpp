#pragma once
// Progress of long work (training, dataset generation): on a terminal one line redrawn in place
// (count, figures, rate, ETA) that log lines never overwrite (core/log.hpp); otherwise, or with
// --quiet, plain log lines every `every` items. The rate names what is counted ("12.5 steps/s",
// "0.8 samples/s") and is "?" until a second item has finished: the first one is timed from its
// own end, which would give an absurd rate.

#include <string>

#include "karman/core/timer.hpp"

namespace karman {

class Progress {
 public:
  // `unit`: what one item is, plural ("steps", "iterations", "samples").
  Progress(std::string label, long total, long every, bool quiet, std::string unit = "steps");
  ~Progress();
  // Report that `done` of `total` items are finished; `figures` is e.g. "loss 1.2e-3 lr 1e-3".
  void update(long done, const std::string& figures);
  void finish(const std::string& figures);  // final line (always logged)

  // The line shown and logged: "LABEL DONE/TOTAL  FIGURES  RATE UNIT/s  ETA S s" (RATE and the
  // ETA "?" before a rate is known).
  std::string line(long done, const std::string& figures) const;

 private:
  std::string m_label, m_unit;
  long m_total, m_every, m_first = -1;  // m_first: `done` at the first update (the rate's origin)
  bool m_quiet, m_terminal, m_open = false;
  Timer m_timer;  // from the first update
  Timer m_wall;   // from construction: the whole stage, for finish()
  double m_last_draw = -1.0;
};

// Set by main from --quiet (rank 0's terminal only).
void set_progress_quiet(bool quiet);
bool progress_quiet();

}  // namespace karman
