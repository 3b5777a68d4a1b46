#pragma once
// Logging: spdlog, rank 0 only. Info lines go to the terminal (unless --quiet) and to the run's
// log.txt; other ranks report warnings and errors only, prefixed with their rank.
//
// The console also carries the progress line (core/progress.hpp) when it is a terminal: a log
// line printed while the progress line is shown clears it first ("\r" ESC[K) and redraws it
// below itself. A console that is not a terminal (a file, a pipe, any process started by
// mpiexec) gets plain lines only: no "\r", no escape sequences, no colours.

#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>

namespace karman {

void init_logging(int rank, bool quiet);
// Add (or replace) the file sink; lines logged before this call are not repeated into the file.
void log_to_file(const std::string& path);
void close_log_file();
spdlog::logger& log();

// Whether the console may show a progress line redrawn in place: stdout is a terminal and the
// process was not started by mpiexec (whose ranks write to a pseudo-terminal even when mpiexec's
// output goes to a file).
bool console_is_terminal();
// Tests: the console writes to `out`, as on a terminal (`terminal`) or as into a file.
void set_console(std::FILE* out, bool terminal);
// The progress line: drawn in place on a terminal console, nothing otherwise. end_status_line
// leaves it on screen and moves to the next line.
void draw_status_line(const std::string& text);
void end_status_line();

}  // namespace karman
