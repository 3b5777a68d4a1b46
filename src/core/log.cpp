#include "karman/core/log.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <memory>

#include "karman/core/progress.hpp"

namespace karman {
namespace {

std::shared_ptr<spdlog::logger>& logger_ptr() {
  static std::shared_ptr<spdlog::logger> logger;
  return logger;
}
int g_rank = 0;

}  // namespace

void init_logging(int rank, bool quiet) {
  g_rank = rank;
  set_progress_quiet(quiet);  // no progress bar either (the log file still gets its lines)
  auto console = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  console->set_level(quiet || rank != 0 ? spdlog::level::warn : spdlog::level::info);
  console->set_pattern(rank == 0 ? "%v" : "[rank " + std::to_string(rank) + "] %v");
  auto logger = std::make_shared<spdlog::logger>("karman", console);
  // The file sink takes debug lines too (progress already drawn on the terminal).
  logger->set_level(spdlog::level::debug);
  logger->flush_on(spdlog::level::info);
  logger_ptr() = logger;
}

void log_to_file(const std::string& path) {
  if (g_rank != 0) return;
  close_log_file();
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/true);
  file->set_pattern("[%Y-%m-%d %H:%M:%S.%e] %v");
  file->set_level(spdlog::level::debug);
  log().sinks().push_back(file);
}

void close_log_file() {
  auto& sinks = log().sinks();
  if (sinks.size() > 1) {
    sinks.back()->flush();
    sinks.resize(1);
  }
}

spdlog::logger& log() {
  if (!logger_ptr()) init_logging(0, true);
  return *logger_ptr();
}

}  // namespace karman
