#pragma once
// Logging: spdlog, rank 0 only. Info lines go to the terminal (unless --quiet) and to the run's
// log.txt; other ranks report warnings and errors only, prefixed with their rank.

#include <spdlog/spdlog.h>

#include <string>

namespace karman {

void init_logging(int rank, bool quiet);
// Add (or replace) the file sink; lines logged before this call are not repeated into the file.
void log_to_file(const std::string& path);
void close_log_file();
spdlog::logger& log();

}  // namespace karman
