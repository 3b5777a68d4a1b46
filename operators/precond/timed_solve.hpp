#pragma once
// One linear solve timed as the precond comparisons time it (kind dcdm and tools/bench/dcdm): a
// KSP of `ksp_type` on A with the PC `configure` sets, b = 1, x0 = 0, the unpreconditioned
// residual norm, rtol and an iteration limit; the best of `repeats` for set-up (KSPSetUp) and
// solve (KSPSolve) apart. A solve that does not converge is not repeated.

#include <petscksp.h>

#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

namespace karman::precond {

struct TimedSolve {
  long iterations = -1;  // -1: not converged within the limit
  double setup_s = std::numeric_limits<double>::infinity();
  double solve_s = std::numeric_limits<double>::infinity();
  double total_s() const { return setup_s + solve_s; }
  nlohmann::json json() const;  // {iterations, setup_s, solve_s, total_s}
};

TimedSolve timed_solve(Mat a, const char* ksp_type, double rtol, long max_iterations, int repeats,
                       const std::function<void(PC)>& configure);

// PC configurations: a PETSc PC type by name; modified IC(0) (the karman PC with the MIC(0)
// factor on tril(A)).
std::function<void(PC)> pc_of_type(const char* type);
void mic0_pc(PC pc);

}  // namespace karman::precond
