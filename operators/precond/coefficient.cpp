// Random diffusion coefficients (operators/precond/coefficient.hpp).
#include "operators/precond/coefficient.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <stdexcept>

#include "karman/core/error.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/pde/random_field.hpp"

namespace karman::precond {

CoefficientSpec read_random_coefficient(const config::Node& node) {
  CoefficientSpec spec;
  spec.random = true;
  config::RandomFieldSpec& field = spec.field;
  field.seed = static_cast<unsigned long>(node.integer("seed", 0, 0));
  field.alpha = node.number("alpha", 2.0, config::Bounds::positive());
  field.tau = node.number("tau", 3.0, config::Bounds::positive());
  field.sigma =
      node.number("sigma", std::pow(field.tau, field.alpha - 1.0), config::Bounds::positive());
  spec.map = node.choice("map", {"lognormal", "threshold"}, "lognormal");
  spec.low = node.number("low", 3.0, config::Bounds::positive());
  spec.high = node.number("high", 12.0, config::Bounds::positive());
  return spec;
}

std::vector<double> random_kappa_nodes(const CoefficientSpec& spec, long n, std::uint64_t draw) {
  KARMAN_VERIFY(spec.random, "random_kappa_nodes: a random coefficient spec");
  mesh::GridShape nodes;
  nodes.dim = 2;
  nodes.n = {n + 2, n + 2, 1};
  config::RandomFieldSpec field = spec.field;
  field.seed = field.seed * 10007 + draw;
  std::vector<double> kappa = pde::random_field_global(nodes, field);
  for (double& k : kappa)
    k = spec.map == "threshold" ? (k >= 0.0 ? spec.high : spec.low) : std::exp(k);
  return kappa;
}

ObstacleGrid obstacle_diffusion_2d(std::int64_t n, const std::vector<char>& solid,
                                   const std::vector<double>& kappa_nodes) {
  const std::int64_t nodes = n + 2;  // per side, the boundary nodes included
  if (static_cast<std::int64_t>(kappa_nodes.size()) != nodes * nodes)
    throw std::invalid_argument(
        fmt::format("obstacle_diffusion_2d: kappa on {} nodes, the grid has (n + 2)^2 = {}",
                    kappa_nodes.size(), nodes * nodes));
  ObstacleGrid grid = obstacle_poisson_2d(n, solid);  // the pattern; its values are replaced
  CsrMatrix& a = grid.a;
  auto kappa = [&](std::int64_t i, std::int64_t j) { return kappa_nodes[(j + 1) * nodes + i + 1]; };
  // The row's entry in column `col` (rows hold at most 5 sorted entries).
  auto entry = [&](std::int64_t row, std::int64_t col) -> double& {
    for (std::int64_t k = a.row_ptr[row]; k < a.row_ptr[row + 1]; ++k)
      if (a.col[k] == col) return a.values[k];
    throw std::logic_error("obstacle_diffusion_2d: a fluid face without its matrix entry");
  };
  for (std::int64_t c = 0; c < grid.cells(); ++c) {
    const std::int64_t row = grid.row[c];
    if (row < 0) continue;
    const std::int64_t i = c % n, j = c / n;
    const std::array<std::array<std::int64_t, 2>, 4> faces{
        {{i, j - 1}, {i - 1, j}, {i + 1, j}, {i, j + 1}}};
    double diagonal = 0.0;
    for (const auto& [fi, fj] : faces) {
      const bool inside = fi >= 0 && fi < n && fj >= 0 && fj < n;
      if (inside && grid.solid[fj * n + fi]) continue;  // Neumann wall: no flux
      const double face = 0.5 * (kappa(i, j) + kappa(fi, fj));
      diagonal += face;
      if (inside) entry(row, grid.row[fj * n + fi]) = -face;
    }
    entry(row, row) = diagonal;
  }
  return grid;
}

}  // namespace karman::precond
