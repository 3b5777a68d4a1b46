// The progress line and the log share the console: on a terminal a log line clears the progress
// line first and the progress line is redrawn below it; on a file or pipe there is never a "\r" or
// an escape sequence. The rate names its unit and is "?" until it can be measured.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "karman/core/log.hpp"
#include "karman/core/progress.hpp"

using namespace karman;

namespace {

// The console captured in a temporary file for the duration of a test.
class CapturedConsole {
 public:
  explicit CapturedConsole(bool terminal) : m_file(std::tmpfile()) {
    init_logging(0, /*quiet=*/false);
    set_console(m_file, terminal);
  }
  ~CapturedConsole() {
    set_console(stdout, false);
    std::fclose(m_file);
  }
  std::string text() const {
    std::fflush(m_file);
    std::rewind(m_file);
    std::string out;
    for (int c; (c = std::fgetc(m_file)) != EOF;) out += static_cast<char>(c);
    return out;
  }

 private:
  std::FILE* m_file;
};

const std::string kClear = "\r\033[K";

}  // namespace

TEST(Progress, OnATerminalALogLineClearsTheBarAndTheBarIsRedrawnBelowIt) {
  CapturedConsole console(/*terminal=*/true);
  {
    Progress progress("adam stage 1", 3000, 500, /*quiet=*/false);
    progress.update(470, "loss 4.1128e-03");
    log().info("step 500: validation {:.4e}", 8.6312e-02);
    progress.finish("loss 4.1e-03");
  }
  const std::string bar = "adam stage 1 470/3000  loss 4.1128e-03  ? steps/s  ETA ?";
  const std::string expected = kClear + bar +                                  // the bar drawn
                               kClear + "step 500: validation 8.6312e-02\n" +  // line cleared
                               bar +                                           // bar redrawn below
                               "\n";                                           // finish ends it
  const std::string text = console.text();
  ASSERT_GE(text.size(), expected.size()) << text;
  EXPECT_EQ(text.substr(0, expected.size()), expected);
  // After the bar is finished, log lines are plain again.
  EXPECT_EQ(text.find('\r', expected.size()), std::string::npos) << text;
  EXPECT_NE(text.find("adam stage 1 done: loss 4.1e-03", expected.size()), std::string::npos);
}

TEST(Progress, OnAFileThereAreOnlyPlainLines) {
  CapturedConsole console(/*terminal=*/false);
  {
    Progress progress("dataset darcy", 4, 2, /*quiet=*/false, "samples");
    for (long done = 1; done <= 4; ++done) {
      progress.update(done, "0.100 s/sample");
      log().info("a log line after sample {}", done);
    }
    progress.finish("4 solved");
  }
  const std::string text = console.text();
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_EQ(text.find('\033'), std::string::npos) << text;
  // Every `every`-th item and the last are logged, each on its own line.
  EXPECT_NE(text.find("\ndataset darcy 2/4  0.100 s/sample  "), std::string::npos) << text;
  EXPECT_NE(text.find("\ndataset darcy 4/4  0.100 s/sample  "), std::string::npos) << text;
  EXPECT_EQ(text.find("dataset darcy 3/4"), std::string::npos) << text;
  EXPECT_NE(text.find("samples/s"), std::string::npos) << text;
  EXPECT_EQ(text.find("steps/s"), std::string::npos) << text;
}

TEST(Progress, TheRateIsUnknownAtFirstThenCountsFromTheFirstItem) {
  Progress progress("dataset darcy", 30, 1, /*quiet=*/true, "samples");
  // Resumed with 10 samples already there, 2 ranks: each update adds 2 samples.
  progress.update(12, "");
  EXPECT_NE(progress.line(12, "").find("? samples/s  ETA ?"), std::string::npos)
      << progress.line(12, "");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  progress.update(14, "");
  // 2 samples in at least 50 ms: at most 40 samples/s (the old rate counted the 10 kept ones
  // over the time of one round, or one sample over ~0 s).
  const std::string line = progress.line(14, "");
  const auto at = line.find("  ", line.find("14/30") + 5);
  ASSERT_NE(at, std::string::npos) << line;
  const double rate = std::stod(line.substr(at + 2));
  EXPECT_GT(rate, 0.0) << line;
  EXPECT_LE(rate, 40.0) << line;
  EXPECT_NE(line.find(" samples/s  ETA "), std::string::npos) << line;
}
