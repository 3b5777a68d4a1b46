#pragma once
// history.csv of a training run (step, stage, lr, loss, gradient_norm, wall_s, validation):
// one column as numbers, and the largest relative difference between two runs' columns.
#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "support/cli.hpp"

namespace karman::test {

inline std::vector<double> history_column(const fs::path& csv, int column) {
  std::vector<double> values;
  const auto rows = nonempty_lines(read_text(csv));
  for (std::size_t i = 1; i < rows.size(); ++i) {  // row 0: the header
    std::stringstream in(rows[i]);
    std::string cell;
    for (int c = 0; c <= column; ++c) std::getline(in, cell, ',');
    values.push_back(std::stod(cell));
  }
  return values;
}

inline std::vector<double> history_losses(const fs::path& csv) { return history_column(csv, 3); }

// The validation column (7th): only the rows where the validation ran.
inline std::vector<double> history_validations(const fs::path& csv) {
  std::vector<double> values;
  const auto rows = nonempty_lines(read_text(csv));
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const std::string cell = rows[i].substr(rows[i].rfind(',') + 1);
    if (!cell.empty()) values.push_back(std::stod(cell));
  }
  return values;
}

// max_i |a_i - b_i| / |a_i| over rows present in both (NaN when the lengths differ).
inline double max_relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return NAN;
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]) / std::abs(a[i]));
  return worst;
}

}  // namespace karman::test
