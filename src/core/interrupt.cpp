#include "karman/core/interrupt.hpp"

#include <signal.h>

#include <csignal>
#include <cstring>

namespace karman {
namespace {

volatile std::sig_atomic_t g_signal = 0;
bool g_enabled = false;
constexpr int kSignals[3] = {SIGTERM, SIGUSR1, SIGINT};

extern "C" void record_signal(int signal) {
  if (g_signal == 0) g_signal = signal;  // the first one names the interruption
}

void catch_signal(int signal, struct sigaction* previous) {
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = record_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: a signal during a write or an MPI wait resumes the call instead of failing it.
  // SA_RESETHAND (SIGINT): the next one takes the default action, so a second Ctrl-C still stops
  // a run at once.
  action.sa_flags = SA_RESTART | (signal == SIGINT ? SA_RESETHAND : 0);
  sigaction(signal, &action, previous);
}

}  // namespace

struct InterruptScope::Saved {
  struct sigaction previous[3];
};

void enable_interrupts() { g_enabled = true; }

InterruptScope::InterruptScope() {
  if (!g_enabled) return;
  m_saved = std::make_unique<Saved>();
  for (int i = 0; i < 3; ++i) catch_signal(kSignals[i], &m_saved->previous[i]);
}

InterruptScope::~InterruptScope() {
  // Once a signal has been received the run is stopping (report, files): the handlers stay, so a
  // repeated SIGTERM cannot kill it half-way through its report.
  if (!m_saved || g_signal != 0) return;
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &m_saved->previous[i], nullptr);
}

void ignore_interrupts() {
  for (int signal : kSignals) std::signal(signal, SIG_IGN);  // process-wide, every thread
}

int interrupt_signal() { return g_signal; }

int interrupt_requested(MPI_Comm comm) {
  int local = g_signal, any = local, size = 1;
  MPI_Comm_size(comm, &size);
  if (size > 1) MPI_Allreduce(&local, &any, 1, MPI_INT, MPI_MAX, comm);
  return any;
}

std::string signal_name(int signal) {
  switch (signal) {
    case SIGTERM:
      return "SIGTERM";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGINT:
      return "SIGINT";
    default:
      return "signal " + std::to_string(signal);
  }
}

void clear_interrupt() { g_signal = 0; }

}  // namespace karman
