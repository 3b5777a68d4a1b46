#pragma once
// What PETSc's own logging (the figures of -log_view) attributes to the solver events of a run:
// KSPSolve, PCSetUp, PCApply, MatMult, ... with their time, call count and flops, for report.json's
// timings.petsc.

#include <nlohmann/json.hpp>

namespace karman::petsc {

// Turn on PETSc's default event logging unless it is on already (-log_view, -log_summary), whose
// output is then unchanged. Its cost is two clock reads and a few additions per PETSc event.
void start_event_logging();

// {"KSPSolve": {"s": seconds, "count": calls, "flops": flops}, ...}: this rank's totals in PETSc's
// main stage for the events that ran; empty when logging is off.
nlohmann::json solver_events();

}  // namespace karman::petsc
