#pragma once
// Residual-based adaptive collocation points (Wu et al. 2023, "A comprehensive study of
// non-adaptive and residual-based adaptive sampling for physics-informed neural networks"), run
// every `every` steps of the leading first-order stages on fresh uniform candidates:
//   RAR  (refinement): the `add` candidates of largest squared residual join the interior set;
//   RAD  (distribution): the interior set is redrawn from the candidates with density
//        p(x) ∝ |r(x)|^k / mean |r|^k + c.
// The selections are pure functions of the candidates' residuals and a counter-based stream, so
// every rank (holding all candidates' residuals) selects the same points.

#include <cstdint>
#include <vector>

namespace karman::pinn {

enum class AdaptiveMethod { rar, rad };

struct AdaptiveOptions {
  AdaptiveMethod method = AdaptiveMethod::rar;
  long every = 500;         // steps between adaptations
  long candidates = 4096;   // fresh uniform candidates per adaptation
  long add = 64;            // rar: points added per adaptation
  double k = 1.0, c = 1.0;  // rad: p ∝ |r|^k / mean |r|^k + c
};

// rar: the indices of the `count` largest `squares` (ties: the lower index first), ascending.
std::vector<long> largest_residuals(const std::vector<double>& squares, long count);

// rad: `count` indices drawn with replacement, P(i) ∝ |r_i|^k / mean |r|^k + c for |r_i|² =
// squares[i]; draw j inverts the cumulative sum (in index order) at uniform01(seed, j).
std::vector<long> residual_density_draws(const std::vector<double>& squares, double k, double c,
                                         long count, std::uint64_t seed);

// The probabilities P(i) of residual_density_draws.
std::vector<double> residual_density(const std::vector<double>& squares, double k, double c);

}  // namespace karman::pinn
