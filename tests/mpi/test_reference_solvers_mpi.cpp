// PETSc reference solvers: second-order convergence against manufactured solutions, exact
// solutions of the time-dependent problems, and agreement of the distributed solve (all ranks of
// MPI_COMM_WORLD) with a one-rank solve (MPI_COMM_SELF) to 1e-10 relative. Run at 1 and 2 ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numeric>

#include "karman/core/norms.hpp"
#include "karman/pde/fields.hpp"
#include "karman/solvers/elliptic.hpp"
#include "karman/solvers/transient.hpp"
#include "support/problems.hpp"

using namespace karman;
using karman::testing::problem_from_yaml;

namespace {

const char* kPoisson2d = R"yaml(
pde:
  type: poisson
  source: "2*pi^2*sin(pi*x)*sin(pi*y)"
  exact: "sin(pi*x)*sin(pi*y)"
grid: {dim: 2, n: 17}
solver: {ksp: cg, pc: gamg, rtol: 1e-13}
)yaml";

const char* kPoisson3d = R"yaml(
pde:
  type: poisson
  source: "3*pi^2*sin(pi*x)*sin(pi*y)*sin(pi*z)"
  exact: "sin(pi*x)*sin(pi*y)*sin(pi*z)"
grid: {dim: 3, n: 9}
solver: {ksp: cg, pc: gamg, rtol: 1e-13}
)yaml";

// -div(a grad u) = f with a = 1 + x y and u = sin(pi x) sin(pi y):
// f = a 2pi^2 u - pi (y cos(pi x) sin(pi y) + x sin(pi x) cos(pi y)).
const char* kDarcySmooth = R"yaml(
pde:
  type: darcy
  coefficient: "1 + x*y"
  source: "(1 + x*y)*2*pi^2*sin(pi*x)*sin(pi*y) - pi*(y*cos(pi*x)*sin(pi*y) + x*sin(pi*x)*cos(pi*y))"
  exact: "sin(pi*x)*sin(pi*y)"
grid: {dim: 2, n: 17, upper: [1, 1]}
solver: {ksp: cg, pc: gamg, rtol: 1e-13}
)yaml";

const char* kDarcyRandom = R"yaml(
pde:
  type: darcy
  coefficient:
    random: {alpha: 2, tau: 3, seed: 5, threshold: {value: 0, above: 12, below: 3}}
grid: {dim: 2, n: 49}
solver: {ksp: cg, pc: gamg, rtol: 1e-13}
)yaml";

const char* kHeat = R"yaml(
pde:
  type: heat
  kappa: 0.1
  exact: "exp(-2*pi^2*0.1*t)*sin(pi*x)*sin(pi*y)"
grid: {dim: 2, n: 33}
time: {t_end: 0.2, dt: 0.005, scheme: cn, snapshots: 2}
solver: {ksp: gmres, pc: gamg, rtol: 1e-13}
)yaml";

// Cole–Hopf: phi = 1 + a exp(-nu k^2 t) cos(k x) gives the periodic Burgers solution
// u = -2 nu phi_x / phi (k = 2 pi on (0, 1), nu = 0.1, a = 0.5).
const char* kBurgers = R"yaml(
pde:
  type: burgers
  nu: 0.1
  exact: "0.2*0.5*2*pi*exp(-0.1*4*pi^2*t)*sin(2*pi*x)/(1 + 0.5*exp(-0.1*4*pi^2*t)*cos(2*pi*x))"
grid: {n: 64}
time: {t_end: 0.25, dt: 0.0005, scheme: cn, snapshots: 1}
solver: {ksp: gmres, pc: bjacobi, rtol: 1e-12}
)yaml";

std::vector<double> coefficient_of(const mesh::StructuredGrid& grid, const config::PdeSpec& pde) {
  return pde.coefficient ? pde::evaluate(grid, *pde.coefficient) : std::vector<double>{};
}

std::vector<double> solve_steady(MPI_Comm comm, const config::ProblemSpec& p) {
  mesh::StructuredGrid grid(comm, p.grid);
  auto result = solvers::solve_elliptic(grid, p.pde, p.solver, coefficient_of(grid, p.pde));
  EXPECT_TRUE(result.stats.converged) << result.stats.reason;
  return grid.gather_all(result.u);
}

std::vector<double> solve_time(MPI_Comm comm, const config::ProblemSpec& p,
                               double* t_final = nullptr) {
  mesh::StructuredGrid grid(comm, p.grid);
  auto result =
      solvers::solve_transient(grid, p.pde, *p.time, p.solver, pde::evaluate(grid, *p.pde.initial));
  EXPECT_TRUE(result.stats.converged) << result.stats.reason;
  if (t_final) *t_final = result.time;
  return grid.gather_all(result.u);
}

// Max-norm error against the exact solution at time t, on the whole grid.
double exact_error(const config::ProblemSpec& p, const std::vector<double>& u, double t = 0.0) {
  mesh::StructuredGrid grid(MPI_COMM_SELF, p.grid);
  return error_norms(MPI_COMM_SELF, u, pde::evaluate(grid, *p.pde.exact, t)).max_abs;
}

// Observed orders log2(e_h / e_{h/2}) over successive refinements of grid.n (n-1 doubles).
std::vector<double> observed_orders(const char* yaml, std::vector<long> sizes) {
  std::vector<double> errors, orders;
  for (long n : sizes) {
    auto p = problem_from_yaml(yaml, {"grid.n=" + std::to_string(n)});
    double t = 0.0;
    auto u = p.pde.time_dependent() ? solve_time(MPI_COMM_WORLD, p, &t)
                                    : solve_steady(MPI_COMM_WORLD, p);
    errors.push_back(exact_error(p, u, t));
  }
  for (std::size_t i = 1; i < errors.size(); ++i)
    orders.push_back(std::log2(errors[i - 1] / errors[i]));
  return orders;
}

void expect_second_order(const std::vector<double>& orders) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    std::printf("    observed orders:");
    for (double order : orders) std::printf(" %.3f", order);
    std::printf("\n");
  }
  for (double order : orders) {
    EXPECT_GE(order, 1.8);
    EXPECT_LE(order, 2.2);
  }
}

// Distributed solve against a one-rank solve of the same problem.
void expect_rank_independent(const std::vector<double>& world, const std::vector<double>& self) {
  ErrorNorms e = error_norms(MPI_COMM_SELF, world, self);
  EXPECT_LT(e.rel_l2, 1e-10) << "max_abs " << e.max_abs;
}

}  // namespace

TEST(ReferenceSolvers, Poisson2dIsSecondOrder) {
  expect_second_order(observed_orders(kPoisson2d, {17, 33, 65}));
}

TEST(ReferenceSolvers, Poisson3dIsSecondOrder) {
  expect_second_order(observed_orders(kPoisson3d, {9, 17, 33}));
}

TEST(ReferenceSolvers, DarcyVariableCoefficientIsSecondOrder) {
  expect_second_order(observed_orders(kDarcySmooth, {17, 33, 65}));
}

TEST(ReferenceSolvers, HeatCrankNicolsonIsSecondOrderInSpaceAndTime) {
  // dt halves with h, so both error terms fall by 4.
  std::vector<double> errors;
  for (auto [n, dt] : {std::pair<long, double>{17, 0.02}, {33, 0.01}, {65, 0.005}}) {
    auto p =
        problem_from_yaml(kHeat, {"grid.n=" + std::to_string(n), "time.dt=" + std::to_string(dt)});
    double t = 0.0;
    auto u = solve_time(MPI_COMM_WORLD, p, &t);
    EXPECT_NEAR(t, 0.2, 1e-12);
    errors.push_back(exact_error(p, u, t));
  }
  expect_second_order({std::log2(errors[0] / errors[1]), std::log2(errors[1] / errors[2])});
}

TEST(ReferenceSolvers, BurgersMatchesColeHopfAndConservesMass) {
  auto p = problem_from_yaml(kBurgers);
  double t = 0.0;
  auto u = solve_time(MPI_COMM_WORLD, p, &t);
  mesh::StructuredGrid grid(MPI_COMM_SELF, p.grid);
  auto u0 = pde::evaluate(grid, *p.pde.initial);
  auto exact = pde::evaluate(grid, *p.pde.exact, t);
  EXPECT_LT(error_norms(MPI_COMM_SELF, u, exact).rel_l2, 5e-3);
  // The conservative periodic scheme keeps sum(u) to round-off.
  const double mass0 = std::accumulate(u0.begin(), u0.end(), 0.0);
  const double mass = std::accumulate(u.begin(), u.end(), 0.0);
  EXPECT_NEAR(mass, mass0, 1e-10);
  // Second order in space (dt small enough that the time error is negligible).
  auto orders = observed_orders(kBurgers, {32, 64, 128});
  expect_second_order(orders);
}

TEST(ReferenceSolvers, Poisson2dAgreesAcrossRankCounts) {
  auto p = problem_from_yaml(kPoisson2d, {"grid.n=[41, 29]"});
  expect_rank_independent(solve_steady(MPI_COMM_WORLD, p), solve_steady(MPI_COMM_SELF, p));
}

TEST(ReferenceSolvers, Poisson3dAgreesAcrossRankCounts) {
  auto p = problem_from_yaml(kPoisson3d, {"grid.n=17"});
  expect_rank_independent(solve_steady(MPI_COMM_WORLD, p), solve_steady(MPI_COMM_SELF, p));
}

TEST(ReferenceSolvers, DarcyRandomCoefficientAgreesAcrossRankCounts) {
  auto p = problem_from_yaml(kDarcyRandom);
  expect_rank_independent(solve_steady(MPI_COMM_WORLD, p), solve_steady(MPI_COMM_SELF, p));
}

TEST(ReferenceSolvers, HeatAgreesAcrossRankCounts) {
  auto p = problem_from_yaml(kHeat);
  expect_rank_independent(solve_time(MPI_COMM_WORLD, p), solve_time(MPI_COMM_SELF, p));
}

TEST(ReferenceSolvers, BurgersAgreesAcrossRankCounts) {
  auto p = problem_from_yaml(kBurgers, {"time.t_end=0.05"});
  expect_rank_independent(solve_time(MPI_COMM_WORLD, p), solve_time(MPI_COMM_SELF, p));
}
