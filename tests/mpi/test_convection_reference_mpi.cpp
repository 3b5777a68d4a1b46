// PETSc reference of the convection–diffusion equation u_t + c u_x = ν u_xx (1D periodic, TS,
// central differences): second-order convergence to the exact solution e^{−νt} sin(x − ct) of
// u0 = sin x on [0, 2π), and agreement of the distributed solve (all ranks of MPI_COMM_WORLD)
// with a one-rank solve (MPI_COMM_SELF) to 1e-10 relative. Run at 1 and 2 ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "karman/core/norms.hpp"
#include "karman/pde/fields.hpp"
#include "karman/solvers/transient.hpp"
#include "support/problems.hpp"

using namespace karman;
using karman::testing::problem_from_yaml;

namespace {

// c = 5, ν = 0.05 to t = 0.5 (2.5 units of convection): the wave travels 0.4 of the period.
const char* kConvection = R"yaml(
pde:
  type: convection
  speed: 5
  nu: 0.05
  exact: "exp(-0.05*t)*sin(x - 5*t)"
grid: {n: 32, lower: [0], upper: [2*pi]}
time: {t_end: 0.5, dt: 0.02, scheme: cn, snapshots: 1}
solver: {rtol: 1e-12}
)yaml";

std::vector<double> solve(MPI_Comm comm, const config::ProblemSpec& p, double& time) {
  mesh::StructuredGrid grid(comm, p.grid);
  auto r =
      solvers::solve_transient(grid, p.pde, *p.time, p.solver, pde::evaluate(grid, *p.pde.initial));
  EXPECT_TRUE(r.stats.converged) << r.stats.reason;
  time = r.time;
  return grid.gather_all(r.u);
}

double exact_error(const config::ProblemSpec& p) {
  double time = 0;
  const std::vector<double> u = solve(MPI_COMM_WORLD, p, time);
  EXPECT_NEAR(time, p.time->t_end, 1e-12);
  mesh::StructuredGrid grid(MPI_COMM_SELF, p.grid);
  return error_norms(MPI_COMM_SELF, u, pde::evaluate(grid, *p.pde.exact, time)).rel_l2;
}

}  // namespace

TEST(ConvectionReference, CrankNicolsonConvergesAtSecondOrderToTheExactWave) {
  std::vector<double> errors;
  for (const auto& [n, dt] : std::vector<std::pair<std::string, std::string>>{
           {"32", "0.02"}, {"64", "0.01"}, {"128", "0.005"}, {"256", "0.0025"}})
    errors.push_back(exact_error(problem_from_yaml(kConvection, {"grid.n=" + n, "time.dt=" + dt})));
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (std::size_t i = 1; i < errors.size(); ++i) {
    const double order = std::log2(errors[i - 1] / errors[i]);
    if (rank == 0)
      std::printf("    rel_l2 %.3e -> %.3e: order %.3f\n", errors[i - 1], errors[i], order);
    EXPECT_GE(order, 1.8);
    EXPECT_LE(order, 2.2);
  }
  EXPECT_LT(errors.back(), 5e-3);
}

TEST(ConvectionReference, AgreesAcrossRankCounts) {
  const auto p = problem_from_yaml(kConvection, {"grid.n=64"});
  double t_world = 0, t_self = 0;
  const auto world = solve(MPI_COMM_WORLD, p, t_world), self = solve(MPI_COMM_SELF, p, t_self);
  EXPECT_LT(error_norms(MPI_COMM_SELF, world, self).rel_l2, 1e-10);
}
