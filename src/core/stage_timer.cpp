#include "karman/core/stage_timer.hpp"

namespace karman {

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::setup:
      return "setup";
    case Stage::data:
      return "data";
    case Stage::training:
      return "training";
    case Stage::evaluation:
      return "evaluation";
    case Stage::baseline:
      return "baseline";
    case Stage::io:
      return "io";
  }
  return "?";
}

StageClock& StageClock::instance() {
  static StageClock clock;
  return clock;
}

void StageClock::reset() {
  m_seconds.fill(0.0);
  m_since = Clock::now();
}

void StageClock::charge_open(Clock::time_point now) {
  if (!m_open.empty())
    m_seconds[static_cast<std::size_t>(m_open.back())] +=
        std::chrono::duration<double>(now - m_since).count();
  m_since = now;
}

void StageClock::push(Stage stage) {
  charge_open(Clock::now());
  m_open.push_back(stage);
}

void StageClock::pop() noexcept {
  if (m_open.empty()) return;  // only ScopedStage pops, after its push
  charge_open(Clock::now());
  m_open.pop_back();
}

double StageClock::seconds(Stage stage) const {
  double s = m_seconds[static_cast<std::size_t>(stage)];
  if (!m_open.empty() && m_open.back() == stage)
    s += std::chrono::duration<double>(Clock::now() - m_since).count();
  return s;
}

double StageClock::total() const {
  double sum = 0.0;
  for (Stage s : all_stages) sum += seconds(s);
  return sum;
}

}  // namespace karman
