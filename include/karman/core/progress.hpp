#pragma once
// Progress of long work (training, time stepping): on a terminal one line redrawn in place
// (step, figures, rate, ETA); otherwise, or with --quiet, plain log lines every `every` steps.

#include <string>

#include "karman/core/timer.hpp"

namespace karman {

class Progress {
 public:
  Progress(std::string label, long total, long every, bool quiet);
  ~Progress();
  // Report that `done` of `total` steps are finished; `figures` is e.g. "loss 1.2e-3 lr 1e-3".
  void update(long done, const std::string& figures);
  void finish(const std::string& figures);  // final line (always logged)

 private:
  std::string line(long done, const std::string& figures) const;
  std::string m_label;
  long m_total, m_every, m_first = -1;
  bool m_quiet, m_terminal, m_open = false;
  Timer m_timer;
  double m_last_draw = -1.0;
};

// Set by main from --quiet (rank 0's terminal only).
void set_progress_quiet(bool quiet);
bool progress_quiet();

}  // namespace karman
