// PETSc reference on a non-box domain (solvers::solve_poisson_masked with pinn::active_nodes):
// second-order convergence on the L-shape [-1, 1]² \ (0, 1]² whose re-entrant edges lie on grid
// lines, with a smooth manufactured solution; the same errors at 1 and 2 ranks. A disk, with g the
// exact solution at the staircase of nodes just outside it, is second order too.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstdio>

#include "karman/solvers/masked_poisson.hpp"
#include "pinn/geometry.hpp"

using namespace karman;

namespace {

constexpr double pi = 3.141592653589793;

template <class... Args>
void log0(const char* format, Args... args) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) std::printf(format, args...);
}

// u = e^x sin(πy/2) + x y, −Δu = (π²/4 − 1) e^x sin(πy/2).
double exact(double x, double y) { return std::exp(x) * std::sin(pi * y / 2) + x * y; }
double source(double x, double y) { return (pi * pi / 4 - 1) * std::exp(x) * std::sin(pi * y / 2); }

// Max |u_h − u| over the domain's active nodes, and their global count.
std::pair<double, long> solve_error(const pinn::Geometry& geometry, long n) {
  mesh::GridShape shape;
  shape.dim = 2;
  shape.n = {n, n, 1};
  shape.lower = {-1, -1, 0};
  shape.upper = {1, 1, 1};
  mesh::StructuredGrid grid(MPI_COMM_WORLD, shape);
  const auto active = pinn::active_nodes(grid, geometry);
  const auto f = grid.sample([](double x, double y, double) { return source(x, y); });
  const auto g = grid.sample([](double x, double y, double) { return exact(x, y); });
  config::SolverSpec solver;
  solver.ksp = "cg";
  solver.pc = "gamg";
  solver.rtol = 1e-13;
  const auto result = solvers::solve_poisson_masked(grid, active, f, g, solver);
  EXPECT_TRUE(result.stats.converged) << result.stats.reason;
  double error = 0;
  long count = 0;
  for (std::size_t p = 0; p < g.size(); ++p) {
    if (!active[p]) {
      EXPECT_EQ(result.u[p], g[p]);  // Dirichlet rows keep g exactly
      continue;
    }
    error = std::max(error, std::abs(result.u[p] - g[p]));
    ++count;
  }
  MPI_Allreduce(MPI_IN_PLACE, &error, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &count, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  return {error, count};
}

}  // namespace

TEST(MaskedPoisson, SecondOrderOnTheLShape) {
  const pinn::Geometry l_shape(pinn::make_csg(pinn::CsgOperation::difference,
                                              pinn::make_rectangle({-1, -1, 0}, {1, 1, 0}),
                                              pinn::make_rectangle({0, 0, 0}, {1, 1, 0})));
  double previous = 0;
  for (long n : {17L, 33L, 65L}) {
    const auto [error, count] = solve_error(l_shape, n);
    // Unknowns: the (n−2)² box interior minus the notch's ((n−1)/2)² nodes with x, y ≥ 0.
    EXPECT_EQ(count, (n - 2) * (n - 2) - (n - 1) / 2 * ((n - 1) / 2));
    if (previous > 0) {
      const double rate = std::log2(previous / error);
      log0("L-shape n = %ld: max error %.3e, rate %.3f\n", n, error, rate);
      EXPECT_GT(rate, 1.9);
      EXPECT_LT(rate, 2.1);
    } else {
      log0("L-shape n = %ld: max error %.3e\n", n, error);
    }
    previous = error;
  }
}

TEST(MaskedPoisson, StaircaseDiskConverges) {
  const pinn::Geometry disk(pinn::make_disk({0, 0, 0}, 0.9));
  const double coarse = solve_error(disk, 33).first, fine = solve_error(disk, 129).first;
  log0("disk: max error %.3e (33²) -> %.3e (129²), rate %.2f\n", coarse, fine,
       std::log2(coarse / fine) / 2);
  EXPECT_GT(std::log2(coarse / fine) / 2, 1.8);
}
