#include "karman/core/progress.hpp"

#include <fmt/format.h>
#include <mpi.h>
#include <unistd.h>

#include <cstdio>

#include "karman/core/log.hpp"

namespace karman {
namespace {
bool g_quiet = false;
}

void set_progress_quiet(bool quiet) { g_quiet = quiet; }
bool progress_quiet() { return g_quiet; }

Progress::Progress(std::string label, long total, long every, bool quiet)
    : m_label(std::move(label)),
      m_total(total),
      m_every(every > 0 ? every : 1),
      m_quiet(quiet || g_quiet),
      m_terminal(isatty(fileno(stdout)) != 0) {
  int rank = 0, initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) m_quiet = true, m_terminal = false;
}

Progress::~Progress() {
  if (m_open) std::fputc('\n', stdout);
}

std::string Progress::line(long done, const std::string& figures) const {
  const double elapsed = m_timer.seconds();
  const long counted = done - std::max(m_first, 0L);
  const double rate = elapsed > 0 && counted > 0 ? counted / elapsed : 0.0;
  std::string eta = rate > 0 ? fmt::format("ETA {:.0f} s", (m_total - done) / rate) : "ETA ?";
  return fmt::format("{} {}/{}  {}  {:.1f} steps/s  {}", m_label, done, m_total, figures, rate,
                     eta);
}

void Progress::update(long done, const std::string& figures) {
  if (m_first < 0) m_first = done - 1, m_timer.reset();
  if (m_terminal && !m_quiet) {
    // Redraw at most ~10 times a second; the log file still gets every m_every-th step.
    const double now = m_timer.seconds();
    if (now - m_last_draw >= 0.1 || done == m_total) {
      std::fprintf(stdout, "\r\033[K%s", line(done, figures).c_str());
      std::fflush(stdout);
      m_open = true;
      m_last_draw = now;
    }
  }
  if (done % m_every == 0 || done == m_total) {
    if (m_terminal && !m_quiet) {
      // Terminal already shows it: write only to the log file (level below the console's).
      log().debug("{}", line(done, figures));
    } else {
      log().info("{}", line(done, figures));
    }
  }
}

void Progress::finish(const std::string& figures) {
  if (m_open) {
    std::fputc('\n', stdout);
    m_open = false;
  }
  log().info("{} done: {}, {:.2f} s", m_label, figures, m_timer.seconds());
}

}  // namespace karman
