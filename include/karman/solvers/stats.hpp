#pragma once
// What a PETSc reference solve reports (report.json `baseline`).

#include <string>
#include <utility>
#include <vector>

namespace karman::solvers {

struct SolveStats {
  std::string ksp, pc;            // types actually used (after command-line options)
  std::string ts;                 // time stepper, transient solves only
  std::string snes;               // nonlinear solver of a steady nonlinear solve (Navier–Stokes)
  long iterations = 0;            // linear iterations (summed over time steps / Newton steps)
  long nonlinear_iterations = 0;  // Newton iterations (Burgers, Navier–Stokes)
  long steps = 0;                 // time steps
  double residual_norm = 0.0;     // final linear residual (last solve); SNES: final ||F||
  bool converged = true;
  std::string reason;  // PETSc's converged/diverged reason
  double setup_s = 0.0, solve_s = 0.0;
  std::vector<std::pair<std::string, std::string>> options;  // options set from the case
  // ||r|| before the first iteration and after each, of the last linear solve (steady solves
  // only; report.json baseline.residual_history, drawn by `karman post`).
  std::vector<double> residual_history;
};

}  // namespace karman::solvers
