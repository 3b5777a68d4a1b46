#include "karman/core/progress.hpp"

#include <fmt/format.h>
#include <mpi.h>

#include "karman/core/log.hpp"

namespace karman {
namespace {
bool g_quiet = false;
}

void set_progress_quiet(bool quiet) { g_quiet = quiet; }
bool progress_quiet() { return g_quiet; }

Progress::Progress(std::string label, long total, long every, bool quiet, std::string unit)
    : m_label(std::move(label)),
      m_unit(std::move(unit)),
      m_total(total),
      m_every(every > 0 ? every : 1),
      m_quiet(quiet || g_quiet),
      m_terminal(console_is_terminal()) {
  int rank = 0, initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) m_quiet = true, m_terminal = false;
}

Progress::~Progress() {
  if (m_open) end_status_line();
}

std::string Progress::line(long done, const std::string& figures) const {
  const long counted = m_first < 0 ? 0 : done - m_first;
  const double elapsed = m_timer.seconds();
  if (counted <= 0 || elapsed <= 0)
    return fmt::format("{} {}/{}  {}  ? {}/s  ETA ?", m_label, done, m_total, figures, m_unit);
  const double rate = counted / elapsed;
  return fmt::format("{} {}/{}  {}  {:.3g} {}/s  ETA {:.0f} s", m_label, done, m_total, figures,
                     rate, m_unit, (m_total - done) / rate);
}

void Progress::update(long done, const std::string& figures) {
  // The rate counts from the end of the first reported item: the time before it includes the
  // setup, and what came before it in a resumed run was not timed at all.
  if (m_first < 0) m_first = done, m_timer.reset();
  if (m_terminal && !m_quiet) {
    // Redraw at most ~10 times a second; the log file still gets every m_every-th item.
    const double now = m_timer.seconds();
    if (now - m_last_draw >= 0.1 || done == m_total) {
      draw_status_line(line(done, figures));
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
    end_status_line();
    m_open = false;
  }
  log().info("{} done: {}, {:.2f} s", m_label, figures, m_wall.seconds());
}

}  // namespace karman
