#pragma once
// kind: reference on an unstructured mesh (`mesh:` instead of `grid:`): the finite-element solve
// of karman/fem/ on the case's Gmsh mesh, its fields, XDMF sidecar and report.

#include <string>

#include "karman/config/case.hpp"
#include "karman/run/method.hpp"

namespace karman::run {

// Returns the run's status ("ok" or "diverged"); fills ctx.report.
std::string run_fem_reference(RunContext& ctx, const config::ProblemSpec& problem);

// One line for `karman validate`.
std::string fem_reference_summary(const config::ProblemSpec& problem);

}  // namespace karman::run
