// PETSc reference solvers of Allen–Cahn (1D periodic, TS), Helmholtz (2D/3D, KSP on the shifted
// Laplacian) and the wave equation (1D Dirichlet, TS on (u, u_t)): second-order convergence
// against manufactured solutions, and agreement of the distributed solve (all ranks of
// MPI_COMM_WORLD) with a one-rank solve (MPI_COMM_SELF) to 1e-10 relative. Run at 1 and 2 ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "karman/core/norms.hpp"
#include "karman/pde/fields.hpp"
#include "karman/solvers/elliptic.hpp"
#include "karman/solvers/transient.hpp"
#include "support/problems.hpp"

using namespace karman;
using karman::testing::problem_from_yaml;

namespace {

// Manufactured u = sin(πx) cos(t) on the periodic [-1, 1), ε = 0.01, r = 5:
// f = u_t - ε u_xx + r (u³ - u).
const char* kAllenCahn = R"yaml(
pde:
  type: allen_cahn
  epsilon: 0.01
  reaction: 5
  source: "-sin(pi*x)*sin(t) + 0.01*pi^2*sin(pi*x)*cos(t) + 5*((sin(pi*x)*cos(t))^3 - sin(pi*x)*cos(t))"
  exact: "sin(pi*x)*cos(t)"
grid: {n: 32, lower: [-1], upper: [1]}
time: {t_end: 0.5, dt: 0.02, scheme: cn, snapshots: 1}
solver: {rtol: 1e-12}
)yaml";

// Manufactured u = sin(2πx) cos(πy) (non-zero Dirichlet data) at k = 4π, past the first nine
// Dirichlet eigenvalues of -Δ: f = (5π² - 16π²) u. The default solver (GMRES + LU, MUMPS).
const char* kHelmholtz2d = R"yaml(
pde:
  type: helmholtz
  wavenumber: 4*pi
  source: "-11*pi^2*sin(2*pi*x)*cos(pi*y)"
  exact: "sin(2*pi*x)*cos(pi*y)"
grid: {dim: 2, n: 17}
solver: {rtol: 1e-12}
)yaml";

// u = sin(πx) sin(πy) cos(πz) at k = 2π: f = (3π² - 4π²) u.
const char* kHelmholtz3d = R"yaml(
pde:
  type: helmholtz
  wavenumber: 2*pi
  source: "-pi^2*sin(pi*x)*sin(pi*y)*cos(pi*z)"
  exact: "sin(pi*x)*sin(pi*y)*cos(pi*z)"
grid: {dim: 3, n: 9}
solver: {rtol: 1e-12}
)yaml";

// u = sin(2πx) cos(2πt) + x (t + t²) with c = 1: u_t(x, 0) = x, f = u_tt - u_xx = 2x, and the
// end x = 1 moves (g = t + t²). t_end = 3/8, not a half period: there cos(2πt) is extremal and
// the schemes' phase error would show up only squared (an apparent fourth order).
const char* kWave = R"yaml(
pde:
  type: wave
  speed: 1
  source: "2*x"
  initial_velocity: "x"
  exact: "sin(2*pi*x)*cos(2*pi*t) + x*(t + t^2)"
grid: {n: 33}
time: {t_end: 0.375, dt: 0.03125, scheme: cn, snapshots: 1}
solver: {rtol: 1e-12}
)yaml";

struct Solution {
  std::vector<double> u;  // whole grid, natural order
  double time = 0.0;
  solvers::SolveStats stats;
};

Solution solve(MPI_Comm comm, const config::ProblemSpec& p) {
  mesh::StructuredGrid grid(comm, p.grid);
  Solution out;
  if (p.pde.time_dependent()) {
    auto r = solvers::solve_transient(grid, p.pde, *p.time, p.solver,
                                      pde::evaluate(grid, *p.pde.initial));
    out.u = grid.gather_all(r.u), out.time = r.time, out.stats = r.stats;
  } else {
    auto r = solvers::solve_elliptic(grid, p.pde, p.solver);
    out.u = grid.gather_all(r.u), out.stats = r.stats;
  }
  EXPECT_TRUE(out.stats.converged) << out.stats.reason;
  return out;
}

// Max-norm error against the exact solution at the final time, on the whole grid.
double exact_error(const config::ProblemSpec& p, const Solution& s) {
  mesh::StructuredGrid grid(MPI_COMM_SELF, p.grid);
  return error_norms(MPI_COMM_SELF, s.u, pde::evaluate(grid, *p.pde.exact, s.time)).max_abs;
}

// log2(e_h / e_{h/2}) over runs whose overrides halve h (and dt with it).
std::vector<double> observed_orders(const char* yaml,
                                    const std::vector<std::vector<std::string>>& refinements) {
  std::vector<double> errors, orders;
  for (const auto& overrides : refinements) {
    auto p = problem_from_yaml(yaml, overrides);
    const Solution s = solve(MPI_COMM_WORLD, p);
    if (p.time) {
      EXPECT_NEAR(s.time, p.time->t_end, 1e-12);
    }
    errors.push_back(exact_error(p, s));
  }
  for (std::size_t i = 1; i < errors.size(); ++i)
    orders.push_back(std::log2(errors[i - 1] / errors[i]));
  return orders;
}

void expect_second_order(const char* what, const std::vector<double>& orders) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    std::printf("    %s observed orders:", what);
    for (double order : orders) std::printf(" %.3f", order);
    std::printf("\n");
  }
  for (double order : orders) {
    EXPECT_GE(order, 1.8) << what;
    EXPECT_LE(order, 2.2) << what;
  }
}

void expect_rank_independent(const config::ProblemSpec& p) {
  const Solution world = solve(MPI_COMM_WORLD, p), self = solve(MPI_COMM_SELF, p);
  ErrorNorms e = error_norms(MPI_COMM_SELF, world.u, self.u);
  EXPECT_LT(e.rel_l2, 1e-10) << "max_abs " << e.max_abs;
}

}  // namespace

TEST(ReferencePdes, AllenCahnCrankNicolsonIsSecondOrderInSpaceAndTime) {
  expect_second_order("allen_cahn cn",
                      observed_orders(kAllenCahn, {{"grid.n=32", "time.dt=0.02"},
                                                   {"grid.n=64", "time.dt=0.01"},
                                                   {"grid.n=128", "time.dt=0.005"}}));
}

TEST(ReferencePdes, AllenCahnBdf2IsSecondOrderInSpaceAndTime) {
  expect_second_order(
      "allen_cahn bdf2",
      observed_orders(kAllenCahn, {{"grid.n=64", "time.dt=0.01", "time.scheme=bdf2"},
                                   {"grid.n=128", "time.dt=0.005", "time.scheme=bdf2"},
                                   {"grid.n=256", "time.dt=0.0025", "time.scheme=bdf2"}}));
}

TEST(ReferencePdes, Helmholtz2dIsSecondOrderPastResonances) {
  expect_second_order("helmholtz2d",
                      observed_orders(kHelmholtz2d, {{"grid.n=17"}, {"grid.n=33"}, {"grid.n=65"}}));
}

TEST(ReferencePdes, Helmholtz3dIsSecondOrder) {
  expect_second_order("helmholtz3d",
                      observed_orders(kHelmholtz3d, {{"grid.n=9"}, {"grid.n=17"}, {"grid.n=33"}}));
}

TEST(ReferencePdes, WaveCrankNicolsonIsSecondOrderInSpaceAndTime) {
  // dt = h: Courant number 1 on every grid.
  expect_second_order("wave cn", observed_orders(kWave, {{"grid.n=33", "time.dt=0.03125"},
                                                         {"grid.n=65", "time.dt=0.015625"},
                                                         {"grid.n=129", "time.dt=0.0078125"}}));
}

TEST(ReferencePdes, WaveBdf2IsSecondOrderInSpaceAndTime) {
  expect_second_order(
      "wave bdf2",
      observed_orders(kWave, {{"grid.n=65", "time.dt=0.015625", "time.scheme=bdf2"},
                              {"grid.n=129", "time.dt=0.0078125", "time.scheme=bdf2"},
                              {"grid.n=257", "time.dt=0.00390625", "time.scheme=bdf2"}}));
}

TEST(ReferencePdes, AllenCahnAgreesAcrossRankCounts) {
  expect_rank_independent(problem_from_yaml(kAllenCahn, {"grid.n=64"}));
}

TEST(ReferencePdes, Helmholtz2dAgreesAcrossRankCounts) {
  expect_rank_independent(problem_from_yaml(kHelmholtz2d, {"grid.n=[41, 29]"}));
}

TEST(ReferencePdes, WaveAgreesAcrossRankCounts) {
  expect_rank_independent(problem_from_yaml(kWave, {"grid.n=65"}));
}
