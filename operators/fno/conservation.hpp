#pragma once
// Conservation by construction for the Burgers FNO (issue 14, point 6): ProbConserv's update
// (karman/nn/conservation.hpp) on the predicted u(·, 1).
//
// The balance. u_t + (u²/2)_x = ν u_xx on the periodic (0, 1) has no source, and both flux terms
// integrate to zero over the period, so ∫u(·, 1) dx = ∫u0 dx. Karman's Burgers datasets draw u0
// from a Gaussian random field whose mean mode is dropped (pde/random_field.hpp), so ∫u0 = 0
// exactly on the generation grid, and the solver keeps the grid sum (the outputs' dx Σ u(·, 1) is
// ~1e-9). The constraint on a prediction is therefore dx Σ_i û_i = 0 (dx = 1/n, x_i = i/n).
// Not dx Σ u0 on the subsampled grid: u0 is rough (coefficients ~ k⁻² · 25/(4π²)), and
// subsampling folds its modes at multiples of n onto the mean, ~1e-4 at n = 64 — an error of the
// data's quadrature, not a mass change (the report's `input_integral` shows it); u(·, 1) is
// smooth (ν = 0.1 damps those modes), so its subsampled sum is accurate (`data_error`).
//
// The variance: an ensemble of M FNOs trained alike from the initial weights of seeds
// model.seed, model.seed + 1, … (the first is the run's own model); their mean is μ, their biased
// variance σ². The cost is M times the training and M inferences per instance.

#include <mpi.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "karman/config/node.hpp"

namespace karman::fno {

// evaluation.conservation: {ensemble: M} (M ≥ 1; default 3). Absent: off (ensemble 0).
struct ConservationSpec {
  long ensemble = 0;
  bool enabled() const { return ensemble > 0; }
};
ConservationSpec read_conservation(const config::Node& evaluation);

// metrics.conservation (collective over `comm`): this rank's `count` test instances of `points`
// grid points, inputs u0 and reference outputs u(·, 1) [count, points], the conserved integrals
// ∫u0 dx [count] (the constraint's right side), and each member's
// predictions [M][count, points] with the seconds each member's inference took; `total` the test
// instances over all ranks. The ensemble mean without and with the correction: error_without /
// error_with (max over the instances of |dx Σ û − dx Σ u0|), rel_l2_without / rel_l2_with (mean
// relative L2 against the reference), the first member alone (`single_model`), the data's own
// conservation error and the inference time per instance with the correction (M inferences).
nlohmann::json conservation_metrics(MPI_Comm comm, const std::vector<double>& inputs,
                                    const std::vector<double>& outputs,
                                    const std::vector<double>& integrals,
                                    const std::vector<std::vector<double>>& members,
                                    const std::vector<double>& member_seconds, long count,
                                    long points, long total);

}  // namespace karman::fno
