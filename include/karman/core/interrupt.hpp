#pragma once
// Stopping a run cleanly on a signal: what a batch system sends before a time limit (Slurm
// `--signal=USR1@120`, `scancel --signal=TERM`) or a Ctrl-C at the terminal.
//
// Only the loops that can stop cleanly listen: an InterruptScope (held by Trainer::run and the
// dataset generators) catches SIGTERM, SIGUSR1 and SIGINT while it lives, and restores the
// previous handlers after (PETSc's, which abort the run), so a signal elsewhere — a reference
// solve, the evaluation after training — still ends the process as before. The handler only
// records the signal (a volatile std::sig_atomic_t: all an async-signal-safe handler may touch).
// The loops ask interrupt_requested(comm) between items: one MPI_Allreduce(MAX) of an int, so
// every rank sees the signal at the same item even when only one of them received it. They then
// finish the item, write their checkpoint or flush their file, and throw Interrupted; `karman
// run` writes report.json with status "interrupted", prints how to resume and exits with status 1.
//
// SIGTERM and SIGUSR1 are caught for the whole scope: a second one changes nothing (the
// checkpoint being written is finished, then the run stops). SIGINT is caught once: the first
// Ctrl-C stops as SIGTERM does, a second one ends the process at once (the default action).

#include <mpi.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace karman {

// Let InterruptScopes catch signals (main; a test). Off by default, so that a library user's own
// handlers are never replaced.
void enable_interrupts();

// While alive (and interrupts are enabled): SIGTERM, SIGUSR1 and SIGINT are recorded instead of
// taking their previous action; after, the previous handlers are back, unless a signal was
// received (the run is then stopping, and further signals are recorded until it exits). Scopes
// may nest.
class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  struct Saved;
  std::unique_ptr<Saved> m_saved;  // the handlers to restore; null when interrupts are off
};

// After a run stopped by a signal (main, before finalising): SIGTERM, SIGUSR1 and SIGINT are
// ignored from then on, so a repeated signal cannot turn the exit status 1 of a run that has
// saved everything into death by signal.
void ignore_interrupts();

// The signal received by this process since the start (or the last clear_interrupt), or 0.
int interrupt_signal();

// Collective over `comm`: the signal any rank received, or 0. The same value on every rank.
int interrupt_requested(MPI_Comm comm);

// "SIGTERM", "SIGUSR1", "SIGINT", or "signal N".
std::string signal_name(int signal);

// Forget a received signal (tests; a library embedding Karman between runs).
void clear_interrupt();

// A run stopped by a signal after saving what it had: the message says where ("interrupted by
// SIGTERM at step 120"); `karman run` adds the command that resumes it.
class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace karman
