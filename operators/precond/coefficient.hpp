#pragma once
// The random diffusion coefficients of the learned solvers' 2D problems: kind precond's
// `problem: diffusion2d` with `coefficient:` and kind dcdm's `problem.coefficient:`. κ comes from a
// Gaussian random field u on the unit square's nodes (pde::random_field_global, Neumann basis),
// mapped to κ = exp(u) (log-normal) or to κ = high where u ≥ 0 and low elsewhere (thresholded:
// the FNO benchmark's Darcy coefficient, a piecewise-constant κ with sharp jumps). Both kinds read
// the same keys and draw the same field for the same seed, size and draw index.

#include <cstdint>
#include <string>
#include <vector>

#include "karman/config/case.hpp"
#include "karman/config/node.hpp"
#include "operators/precond/dcdm.hpp"

namespace karman::precond {

struct CoefficientSpec {
  bool random = false;  // κ from the GRF u (below); otherwise the reader's own default
  config::RandomFieldSpec field;
  std::string map = "lognormal";  // lognormal: κ = exp(u); threshold: high / low by the sign of u
  double low = 3.0, high = 12.0;
};

// The keys seed, alpha (2), tau (3), sigma (τ^(α − 1), the FNO benchmark's 2D convention), map
// (lognormal | threshold), low (3), high (12) of `node`; random = true. A bad value is one error
// line naming the key (config::Node).
CoefficientSpec read_random_coefficient(const config::Node& node);

// κ on the (n + 2)² nodes of the unit square, x fastest (create_diffusion_2d's layout: unknown
// (i, j), 0 ≤ i, j < n, sits on node (i + 1, j + 1)), from the field's draw `draw` (GRF seed
// field.seed · 10007 + draw: a different coefficient for every matrix of a case). spec.random must
// be true.
std::vector<double> random_kappa_nodes(const CoefficientSpec& spec, long n, std::uint64_t draw);

// DCDM's obstacle problem with a coefficient: −∇·(κ∇p) on the fluid cells of the n×n grid
// `solid` (obstacle_poisson_2d's pattern, Neumann walls, Dirichlet outer box), κ on the (n + 2)²
// nodes as above, a face's coefficient the mean of its two cells' nodes (the outer box's: of the
// cell's node and the boundary node beyond it). With no solid cell this is create_diffusion_2d's
// matrix for the same κ. Throws std::invalid_argument on a size mismatch (and as
// obstacle_poisson_2d).
ObstacleGrid obstacle_diffusion_2d(std::int64_t n, const std::vector<char>& solid,
                                   const std::vector<double>& kappa_nodes);

}  // namespace karman::precond
