#pragma once
// kind: reference for pde combined (u_t + (α u²/2)_x = β u_xx − γ u_xxx + δ, 1D periodic): the
// WENO5 + SSP-RK3 finite-volume solve of karman/solvers/weno.hpp on its own, with its fields,
// XDMF sidecar and report.

#include <string>

#include "karman/config/case.hpp"
#include "karman/run/method.hpp"

namespace karman::run {

// Returns the run's status ("ok", or "diverged" when the state stops being finite); fills
// ctx.report.
std::string run_weno_reference(RunContext& ctx, const config::ProblemSpec& problem);

// One line for `karman validate`.
std::string weno_reference_summary(const config::ProblemSpec& problem);

}  // namespace karman::run
