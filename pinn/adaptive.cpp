#include "pinn/adaptive.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "karman/core/error.hpp"
#include "karman/core/random.hpp"

namespace karman::pinn {

std::vector<long> largest_residuals(const std::vector<double>& squares, long count) {
  const long n = static_cast<long>(squares.size());
  KARMAN_VERIFY(count >= 0 && count <= n, "largest_residuals: count must be in [0, size]");
  std::vector<long> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0L);
  std::partial_sort(order.begin(), order.begin() + count, order.end(), [&](long a, long b) {
    return squares[a] != squares[b] ? squares[a] > squares[b] : a < b;
  });
  order.resize(static_cast<std::size_t>(count));
  std::sort(order.begin(), order.end());
  return order;
}

std::vector<double> residual_density(const std::vector<double>& squares, double k, double c) {
  // |r|^k = (|r|²)^(k/2)
  std::vector<double> p(squares.size());
  double mean = 0;
  for (std::size_t i = 0; i < p.size(); ++i) mean += (p[i] = std::pow(squares[i], k / 2));
  mean /= static_cast<double>(p.size());
  double total = 0;
  for (double& x : p) total += (x = (mean > 0 ? x / mean : 0.0) + c);
  KARMAN_VERIFY(total > 0, "residual_density: all residuals zero and c = 0");
  for (double& x : p) x /= total;
  return p;
}

std::vector<long> residual_density_draws(const std::vector<double>& squares, double k, double c,
                                         long count, std::uint64_t seed) {
  const std::vector<double> p = residual_density(squares, k, c);
  std::vector<double> cumulative(p.size());
  std::partial_sum(p.begin(), p.end(), cumulative.begin());
  std::vector<long> draws(static_cast<std::size_t>(count));
  for (long j = 0; j < count; ++j) {
    const double u = uniform01(seed, static_cast<std::uint64_t>(j)) * cumulative.back();
    const auto at = std::upper_bound(cumulative.begin(), cumulative.end(), u);
    draws[j] =
        std::min(static_cast<long>(at - cumulative.begin()), static_cast<long>(p.size()) - 1);
  }
  return draws;
}

}  // namespace karman::pinn
