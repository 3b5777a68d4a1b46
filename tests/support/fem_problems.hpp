#pragma once
// The manufactured solution and solver the finite-element tests share:
//   u = sin(2x + 1/2) cos(y) [× e^z in 3D], so Δu = −5u in 2D and −4u in 3D;
// its x and y derivatives (for Neumann data) and a direct solve (LU; MUMPS on several ranks, see
// solvers::detail::prefer_mumps), so that the measured errors are the discretisation's alone.
#include <cmath>

#include "karman/config/case.hpp"

namespace karman::test {

inline double fem_exact(const double* x, int dim) {
  const double u = std::sin(2 * x[0] + 0.5) * std::cos(x[1]);
  return dim == 3 ? u * std::exp(x[2]) : u;
}
inline double fem_exact_x(const double* x) { return 2 * std::cos(2 * x[0] + 0.5) * std::cos(x[1]); }
inline double fem_exact_y(const double* x) { return -std::sin(2 * x[0] + 0.5) * std::sin(x[1]); }

inline config::SolverSpec direct_solver() {
  config::SolverSpec spec;
  spec.ksp = "preonly";
  spec.pc = "lu";
  return spec;
}

}  // namespace karman::test
