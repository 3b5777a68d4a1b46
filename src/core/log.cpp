#include "karman/core/log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <mutex>

#include "karman/core/progress.hpp"

namespace karman {
namespace {

std::shared_ptr<spdlog::logger>& logger_ptr() {
  static std::shared_ptr<spdlog::logger> logger;
  return logger;
}
int g_rank = 0;

// This process's console: log lines and, on a terminal, the progress line kept below them.
struct Console {
  std::mutex mutex;
  std::FILE* out = stdout;
  bool terminal = false;
  bool status_open = false;  // a progress line is on screen (the cursor is at its end)
  std::string status;        // its text
};

Console& console() {
  static Console c;
  return c;
}

// "\r" then ESC[K: back to the start of the line and erase it (what a terminal understands; a
// file must never receive it).
constexpr const char* kClearLine = "\r\033[K";

// Writes log lines to the console. While a progress line is shown, a log line clears it first and
// redraws it after itself, so the two never share a line.
class ConsoleSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t text;
    formatter_->format(msg, text);
    Console& c = console();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.status_open) std::fputs(kClearLine, c.out);
    std::fwrite(text.data(), 1, text.size(), c.out);
    if (c.status_open) std::fputs(c.status.c_str(), c.out);
    std::fflush(c.out);
  }
  void flush_() override { std::fflush(console().out); }
};

// Under mpiexec (Open MPI) a rank's stdout is a pseudo-terminal whether mpiexec's own output is a
// terminal or a file, so isatty cannot tell: a launched process draws no progress line. (Not
// PMIX_RANK: a singleton MPI_Init exports it into the process too.)
bool started_by_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

}  // namespace

void init_logging(int rank, bool quiet) {
  g_rank = rank;
  set_progress_quiet(quiet);  // no progress bar either (the log file still gets its lines)
  {
    Console& c = console();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.terminal = isatty(fileno(stdout)) != 0 && !started_by_launcher();
  }
  auto sink = std::make_shared<ConsoleSink>();
  sink->set_level(quiet || rank != 0 ? spdlog::level::warn : spdlog::level::info);
  sink->set_pattern(rank == 0 ? "%v" : "[rank " + std::to_string(rank) + "] %v");
  auto logger = std::make_shared<spdlog::logger>("karman", sink);
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

bool console_is_terminal() {
  Console& c = console();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.terminal;
}

void set_console(std::FILE* out, bool terminal) {
  Console& c = console();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.out = out;
  c.terminal = terminal;
  c.status_open = false;
  c.status.clear();
}

void draw_status_line(const std::string& text) {
  Console& c = console();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (!c.terminal) return;
  std::fputs(kClearLine, c.out);
  std::fputs(text.c_str(), c.out);
  std::fflush(c.out);
  c.status = text;
  c.status_open = true;
}

void end_status_line() {
  Console& c = console();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (!c.status_open) return;
  std::fputc('\n', c.out);
  std::fflush(c.out);
  c.status_open = false;
  c.status.clear();
}

}  // namespace karman
