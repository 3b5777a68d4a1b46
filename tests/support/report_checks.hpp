#pragma once
// Checks of report.json shared by the end-to-end tests.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/cli.hpp"

namespace karman::test {

// The run folder's report.json, parsed.
inline nlohmann::json report_of(const fs::path& run) {
  return nlohmann::json::parse(read_text(run / "report.json"));
}

// report.json's `timings`: every stage's seconds present and non-negative, their sum (with
// `other`) within 5% of metrics.wall_s, and each of `expected` (the stages this kind of run must
// go through, e.g. "training") given a positive time.
inline void expect_timings_cover_wall(const nlohmann::json& report,
                                      const std::vector<std::string>& expected) {
  ASSERT_TRUE(report.contains("timings") && report["timings"].is_object()) << report.dump(2);
  const nlohmann::json& timings = report["timings"];
  double sum = 0.0;
  for (const char* stage : {"setup", "data", "training", "evaluation", "baseline", "io", "other"}) {
    ASSERT_TRUE(timings.contains(stage) && timings[stage].is_number())
        << "no timings." << stage << "\n"
        << timings.dump(2);
    EXPECT_GE(timings[stage].get<double>(), 0.0) << stage;
    sum += timings[stage].get<double>();
  }
  for (const auto& stage : expected)
    EXPECT_GT(timings.value(stage, 0.0), 0.0) << "no time in " << stage << "\n" << timings.dump(2);
  ASSERT_TRUE(timings.contains("petsc") && timings["petsc"].is_object()) << timings.dump(2);
  const double wall = report.value("metrics", nlohmann::json::object()).value("wall_s", 0.0);
  ASSERT_GT(wall, 0.0) << report.dump(2);
  EXPECT_NEAR(sum, wall, 0.05 * wall) << timings.dump(2);
}

}  // namespace karman::test
