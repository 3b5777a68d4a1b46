// Finite-element reference solvers (fem::solve) on split-box simplicial meshes, refined by
// halving h: L2-error orders of P1 (within 1.8–2.2) and P2 (2.7–3.3) with manufactured
// solutions for Poisson (2D, 3D, with a Neumann part), variable-coefficient diffusion (Neumann
// flux κ ∂u/∂n) and advection–diffusion; per-cell κ equals the function κ when constant; the
// field on a distributed mesh equals the one on an undistributed mesh (1 vs 2 ranks).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/fem/fem.hpp"
#include "support/fem_problems.hpp"
#include "support/mpi_world.hpp"
#include "support/simplex_mesh.hpp"

using namespace karman;

namespace {

// The manufactured solution u = sin(2x + 1/2) cos(y) [e^z in 3D] (support/fem_problems.hpp).
constexpr auto exact = test::fem_exact;
constexpr auto exact_x = test::fem_exact_x;
constexpr auto exact_y = test::fem_exact_y;
using test::direct_solver;
double kappa(const double* x) { return 1 + x[0] * x[0] + x[1]; }  // ∇κ = (2x, 1)

fem::Condition dirichlet(std::vector<int> values, int dim) {
  return {fem::Condition::Kind::dirichlet, std::move(values),
          [dim](const double* x, double) { return exact(x, dim); }};
}

// −Δu = f with Dirichlet data on every face, or with the face x = 1 (value 2) Neumann.
fem::Problem poisson(int dim, int order, bool neumann) {
  fem::Problem p;
  p.equation = fem::Equation::poisson;
  p.order = order;
  const double laplacian_factor = dim == 3 ? 4.0 : 5.0;
  p.source = [=](const double* x, double) { return laplacian_factor * exact(x, dim); };
  p.exact = [dim](const double* x, double) { return exact(x, dim); };
  std::vector<int> faces =
      dim == 3 ? std::vector<int>{1, 2, 3, 4, 5, 6} : std::vector<int>{1, 2, 3, 4};
  if (neumann) {
    faces.erase(faces.begin() + 1);  // face 2: x = 1, outward normal +x
    p.conditions.push_back({fem::Condition::Kind::neumann, {2}, [dim](const double* x, double) {
                              return dim == 3 ? exact_x(x) * std::exp(x[2]) : exact_x(x);
                            }});
  }
  p.conditions.push_back(dirichlet(faces, dim));
  return p;
}

// −∇·(κ∇u) = f = 5κu − ∇κ·∇u, flux data κ ∂u/∂y on the top face y = 1 (value 3).
fem::Problem diffusion(int order) {
  fem::Problem p;
  p.equation = fem::Equation::diffusion;
  p.order = order;
  p.coefficient = [](const double* x, double) { return kappa(x); };
  p.source = [](const double* x, double) {
    return 5 * kappa(x) * exact(x, 2) - (2 * x[0] * exact_x(x) + exact_y(x));
  };
  p.exact = [](const double* x, double) { return exact(x, 2); };
  p.conditions = {dirichlet({1, 2, 4}, 2),
                  {fem::Condition::Kind::neumann, {3}, [](const double* x, double) {
                     return kappa(x) * exact_y(x);
                   }}};
  return p;
}

// −εΔu + b·∇u = f, ε = 0.1, b = (1, 0.5): f = 5εu + u_x + 0.5 u_y.
fem::Problem advection_diffusion(int order) {
  fem::Problem p;
  p.equation = fem::Equation::advection_diffusion;
  p.order = order;
  p.epsilon = 0.1;
  p.velocity = {1.0, 0.5, 0.0};
  p.source = [](const double* x, double) {
    return 5 * 0.1 * exact(x, 2) + exact_x(x) + 0.5 * exact_y(x);
  };
  p.exact = [](const double* x, double) { return exact(x, 2); };
  p.conditions = {dirichlet({1, 2, 3, 4}, 2)};
  return p;
}

// L2 errors on the meshes of n cells per side (h = 1/n); checks each observed order
// log(e_previous / e) / log(n / n_previous).
void expect_orders(const char* name, int dim, const std::vector<int>& sizes,
                   const fem::Problem& problem) {
  const double low = problem.order == 1 ? 1.8 : 2.7, high = problem.order == 1 ? 2.2 : 3.3;
  double previous = 0;
  int previous_n = 0;
  for (int n : sizes) {
    auto dm = test::make_simplex_box(test::world(), dim, n);
    const auto result = fem::solve(dm, problem, direct_solver());
    ASSERT_TRUE(result.stats.converged) << result.stats.reason;
    ASSERT_GT(result.l2_exact_norm, 0.1);
    if (previous > 0) {
      const double order =
          std::log(previous / result.l2_error) / std::log(static_cast<double>(n) / previous_n);
      if (test::world_rank() == 0)
        std::printf("%s P%d n = %d: L2 error %.3e, order %.3f\n", name, problem.order, n,
                    result.l2_error, order);
      EXPECT_GT(order, low) << name << " n = " << n;
      EXPECT_LT(order, high) << name << " n = " << n;
    } else if (test::world_rank() == 0) {
      std::printf("%s P%d n = %d: L2 error %.3e\n", name, problem.order, n, result.l2_error);
    }
    previous = result.l2_error;
    previous_n = n;
  }
}

// (coordinates → value) of every owned vertex on every rank, gathered on all ranks; the keys are
// the vertex's grid indices (i, j, k) on the n-box.
std::map<std::array<long, 3>, double> gather_by_position(DM dm, int n,
                                                         const std::vector<double>& values) {
  const auto vertices = fem::owned_vertices(dm);
  EXPECT_EQ(vertices.size(), values.size());
  PetscInt dim;
  KARMAN_PETSC(DMGetCoordinateDim(dm, &dim));
  const auto xyz = test::point_coordinates(dm, vertices);
  std::vector<double> mine;  // (i, j, k, value) per owned vertex
  for (std::size_t v = 0; v < vertices.size(); ++v) {
    for (PetscInt d = 0; d < 3; ++d)
      mine.push_back(
          d < dim
              ? std::round(xyz[v * static_cast<std::size_t>(dim) + static_cast<std::size_t>(d)] * n)
              : 0);
    mine.push_back(values[v]);
  }
  int count = static_cast<int>(mine.size()), size = test::world_size();
  std::vector<int> counts(static_cast<std::size_t>(size)), offsets(static_cast<std::size_t>(size));
  MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, test::world());
  int total = 0;
  for (int r = 0; r < size; ++r) offsets[static_cast<std::size_t>(r)] = total, total += counts[r];
  std::vector<double> all(static_cast<std::size_t>(total));
  MPI_Allgatherv(mine.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(),
                 MPI_DOUBLE, test::world());
  std::map<std::array<long, 3>, double> out;
  for (std::size_t p = 0; p < all.size(); p += 4) {
    const std::array<long, 3> key = {std::lround(all[p]), std::lround(all[p + 1]),
                                     std::lround(all[p + 2])};
    EXPECT_EQ(out.count(key), 0u) << "a vertex owned twice";
    out[key] = all[p + 3];
  }
  return out;
}

}  // namespace

TEST(FemConvergence, Poisson2D) {
  expect_orders("poisson 2D", 2, {8, 16, 32}, poisson(2, 1, false));
  expect_orders("poisson 2D", 2, {4, 8, 16}, poisson(2, 2, false));
}

TEST(FemConvergence, Poisson2DWithNeumannPart) {
  expect_orders("poisson 2D neumann", 2, {8, 16, 32}, poisson(2, 1, true));
  expect_orders("poisson 2D neumann", 2, {4, 8, 16}, poisson(2, 2, true));
}

TEST(FemConvergence, Poisson3D) {
  expect_orders("poisson 3D", 3, {4, 6, 9}, poisson(3, 1, true));
  expect_orders("poisson 3D", 3, {3, 4, 6}, poisson(3, 2, true));
}

TEST(FemConvergence, VariableCoefficientDiffusion) {
  expect_orders("diffusion", 2, {8, 16, 32}, diffusion(1));
  expect_orders("diffusion", 2, {4, 8, 16}, diffusion(2));
}

TEST(FemConvergence, AdvectionDiffusion) {
  expect_orders("advection-diffusion", 2, {8, 16, 32}, advection_diffusion(1));
  expect_orders("advection-diffusion", 2, {4, 8, 16}, advection_diffusion(2));
}

TEST(FemCoefficient, ConstantPerCellValuesEqualTheConstantFunction) {
  auto dm = test::make_simplex_box(test::world(), 2, 8);
  fem::Problem p = diffusion(2);
  p.coefficient = [](const double*, double) { return 3.0; };
  p.source = [](const double* x, double) { return 15 * exact(x, 2); };
  p.conditions = {dirichlet({1, 2, 3, 4}, 2)};
  const auto by_function = fem::solve(dm, p, direct_solver());
  PetscInt c_start, c_end;
  KARMAN_PETSC(DMPlexGetHeightStratum(dm, 0, &c_start, &c_end));
  p.cell_coefficient.assign(static_cast<std::size_t>(c_end - c_start), 3.0);
  const auto by_cell = fem::solve(dm, p, direct_solver());
  ASSERT_EQ(by_function.vertex_values.size(), by_cell.vertex_values.size());
  for (std::size_t v = 0; v < by_cell.vertex_values.size(); ++v)
    EXPECT_NEAR(by_cell.vertex_values[v], by_function.vertex_values[v], 1e-12);
  EXPECT_NEAR(by_cell.l2_error, by_function.l2_error, 1e-14);
  EXPECT_LT(by_cell.l2_error, 1e-3);
}

TEST(FemCoefficient, NonPositiveCoefficientIsAConfigError) {
  auto dm = test::make_simplex_box(test::world(), 2, 4);
  fem::Problem p = diffusion(1);
  p.coefficient = [](const double* x, double) { return x[0] - 0.5; };
  EXPECT_THROW(fem::solve(dm, p, direct_solver()), ConfigError);
  p = diffusion(1);
  PetscInt c_start, c_end;
  KARMAN_PETSC(DMPlexGetHeightStratum(dm, 0, &c_start, &c_end));
  p.cell_coefficient.assign(static_cast<std::size_t>(c_end - c_start), 1.0);
  if (test::world_rank() == 0 && c_end > c_start) p.cell_coefficient.back() = 0.0;
  EXPECT_THROW(fem::solve(dm, p, direct_solver()), ConfigError);  // on every rank
  p = diffusion(1);
  p.conditions.erase(p.conditions.begin());  // Neumann only: singular
  EXPECT_THROW(fem::solve(dm, p, direct_solver()), ConfigError);
}

// The case's solver section sets the KSP; the command line (-ksp_type, -pc_type) overrides it.
TEST(FemSolver, CommandLineOverridesTheCase) {
  auto dm = test::make_simplex_box(test::world(), 2, 8);
  config::SolverSpec spec;
  spec.ksp = "cg";
  spec.pc = "jacobi";
  spec.rtol = 1e-12;
  const auto from_case = fem::solve(dm, poisson(2, 1, false), spec);
  EXPECT_EQ(from_case.stats.ksp, "cg");
  EXPECT_EQ(from_case.stats.pc, "jacobi");
  EXPECT_GT(from_case.stats.iterations, 1);
  KARMAN_PETSC(PetscOptionsSetValue(nullptr, "-ksp_type", "gmres"));
  KARMAN_PETSC(PetscOptionsSetValue(nullptr, "-pc_type", "bjacobi"));
  const auto overridden = fem::solve(dm, poisson(2, 1, false), spec);
  KARMAN_PETSC(PetscOptionsClearValue(nullptr, "-ksp_type"));
  KARMAN_PETSC(PetscOptionsClearValue(nullptr, "-pc_type"));
  EXPECT_EQ(overridden.stats.ksp, "gmres");
  EXPECT_EQ(overridden.stats.pc, "bjacobi");
  EXPECT_NEAR(overridden.l2_error, from_case.l2_error, 1e-9);
}

// The same P2 problem (with a Neumann part) on a distributed and an undistributed mesh: at 2
// ranks the two fields agree vertex by vertex, matched by position, to 1e-10 relative.
TEST(FemRanks, DistributedEqualsUndistributed) {
  const int n = 8;
  auto whole = test::make_simplex_box(test::world(), 2, n, false);
  auto split = test::make_simplex_box(test::world(), 2, n, true);
  const auto p = poisson(2, 2, true);
  const auto a = fem::solve(whole, p, direct_solver());
  const auto b = fem::solve(split, p, direct_solver());
  const auto field_a = gather_by_position(whole, n, a.vertex_values);
  const auto field_b = gather_by_position(split, n, b.vertex_values);
  ASSERT_EQ(field_a.size(), static_cast<std::size_t>((n + 1) * (n + 1)));
  ASSERT_EQ(field_b.size(), field_a.size());
  double scale = 0, difference = 0;
  for (const auto& [key, value] : field_a) {
    ASSERT_EQ(field_b.count(key), 1u);
    scale = std::max(scale, std::abs(value));
    difference = std::max(difference, std::abs(value - field_b.at(key)));
    const double x[2] = {key[0] / static_cast<double>(n), key[1] / static_cast<double>(n)};
    EXPECT_NEAR(value, exact(x, 2), 1e-3);  // the nodal values are the solution's
  }
  if (test::world_rank() == 0)
    std::printf("distributed vs undistributed: max difference %.2e (max |u| %.3f)\n", difference,
                scale);
  EXPECT_LT(difference, 1e-10 * scale);
  EXPECT_NEAR(a.l2_error, b.l2_error, 1e-12);
}

// PETSc's FEM Jacobian would assemble overlap cells twice: a mesh with overlap is refused.
TEST(FemRanks, OverlappedMeshIsRefused) {
  auto whole = test::make_simplex_box(test::world(), 2, 4, false);
  petsc::DM overlapped;
  KARMAN_PETSC(DMPlexDistribute(whole, 1, nullptr, overlapped.out()));
  if (!overlapped) GTEST_SKIP() << "one rank: nothing to overlap";
  EXPECT_THROW(fem::solve(overlapped, poisson(2, 1, false), direct_solver()), InternalError);
}

// An exception from a user Function inside a PETSc callback comes back as an ExternalError that
// carries its message (it must not unwind through PETSc's C frames).
TEST(FemErrors, FunctionErrorsReachTheCaller) {
  auto dm = test::make_simplex_box(test::world(), 2, 4);
  fem::Problem p = poisson(2, 1, false);
  p.source = [](const double*, double) -> double { throw ConfigError("no source here"); };
  try {
    fem::solve(dm, p, direct_solver());
    ADD_FAILURE() << "no exception";
  } catch (const ExternalError& e) {
    EXPECT_NE(std::string(e.what()).find("no source here"), std::string::npos) << e.what();
  }
}

TEST(FemErrors, NeumannFunctionErrorsReachTheCaller) {
  auto dm = test::make_simplex_box(test::world(), 2, 4);
  fem::Problem p = poisson(2, 1, true);
  p.conditions[0].value = [](const double*, double) -> double {
    throw ConfigError("no flux here");
  };
  try {
    fem::solve(dm, p, direct_solver());
    ADD_FAILURE() << "no exception";
  } catch (const ExternalError& e) {
    // The rank whose faces threw names the message; the others say another rank failed.
    EXPECT_NE(std::string(e.what()).find("Neumann"), std::string::npos) << e.what();
  }
}

// Per-cell κ with a jump on the mesh line x = 1/2 (κ = 1 left, 10 right), u = 0 at x = 0, 1 at
// x = 1, no flux through y = 0 and y = 1: the exact u is piecewise linear in x with a continuous
// flux κ u_x = 10/11, which P1 and P2 reproduce to round-off.
TEST(FemCoefficient, PerCellJumpGivesThePiecewiseLinearSolution) {
  auto dm = test::make_simplex_box(test::world(), 2, 6);
  PetscInt c_start, c_end;
  KARMAN_PETSC(DMPlexGetHeightStratum(dm, 0, &c_start, &c_end));
  fem::Problem p;
  p.equation = fem::Equation::diffusion;
  for (PetscInt c = c_start; c < c_end; ++c) {
    PetscReal volume, centroid[3];
    KARMAN_PETSC(DMPlexComputeCellGeometryFVM(dm, c, &volume, centroid, nullptr));
    p.cell_coefficient.push_back(centroid[0] < 0.5 ? 1.0 : 10.0);
  }
  const double flux = 10.0 / 11.0;  // u(1/2) = flux / 1 · 1/2, u(1) = u(1/2) + flux / 10 · 1/2
  p.exact = [=](const double* x, double) {
    return x[0] < 0.5 ? flux * x[0] : flux * 0.5 + flux / 10 * (x[0] - 0.5);
  };
  p.conditions = {{fem::Condition::Kind::dirichlet, {2, 4}, p.exact},
                  {fem::Condition::Kind::neumann, {1, 3}, {}}};
  for (int order : {1, 2}) {
    p.order = order;
    const auto result = fem::solve(dm, p, direct_solver());
    if (test::world_rank() == 0)
      std::printf("per-cell jump P%d: L2 error %.2e\n", order, result.l2_error);
    EXPECT_LT(result.l2_error, 1e-12) << "P" << order;
  }
}
