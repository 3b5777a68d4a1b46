// PETSc reference with Neumann and Robin faces (solvers::solve_poisson_faces): with the
// manufactured solution u = sin(a·x + 0.3) (−Δu = |a|² u) and mixed Dirichlet, Neumann and Robin
// faces, the ghost-node scheme converges at second order in the max norm in 2D and 3D, with CG +
// GAMG (the matrix is symmetric), at 1 and 2 ranks; a Robin-and-Neumann box without any
// Dirichlet face is well posed and second order too; Neumann on every face is refused.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstdio>

#include "karman/core/error.hpp"
#include "karman/solvers/face_conditions.hpp"

using namespace karman;
using solvers::FaceCondition;
using Type = FaceCondition::Type;

namespace {

template <class... Args>
void log0(const char* format, Args... args) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) std::printf(format, args...);
}

constexpr double a[3] = {1.0, 2.0, 0.5};
double phase(double x, double y, double z) { return a[0] * x + a[1] * y + a[2] * z + 0.3; }
double exact(double x, double y, double z) { return std::sin(phase(x, y, z)); }

// Max |u_h − u| over all nodes of the box [0, 1] × [0, 2] (× [0, 1.5]) with n nodes per unit.
double max_error(int dim, long n, const std::array<FaceCondition, 6>& faces) {
  mesh::GridShape shape;
  shape.dim = dim;
  shape.lower = {0, 0, 0};
  shape.upper = {1, 2, dim == 3 ? 1.5 : 1.0};
  for (int d = 0; d < 3; ++d)
    shape.n[d] = d < dim ? static_cast<long>(std::lround((n - 1) * shape.upper[d])) + 1 : 1;
  mesh::StructuredGrid grid(MPI_COMM_WORLD, shape);
  double a2 = 0;
  for (int d = 0; d < dim; ++d) a2 += a[d] * a[d];
  const auto f =
      grid.sample([&](double x, double y, double z) { return a2 * exact(x, y, dim == 3 ? z : 0); });
  // ∂u/∂n + α u on face 2d + s, n = (2s − 1) e_d.
  const solvers::FaceData data = [&](int face, double x, double y, double z) {
    if (dim == 2) z = 0;
    const double sign = face % 2 ? 1.0 : -1.0;
    const FaceCondition& c = faces[face];
    if (c.type == Type::dirichlet) return exact(x, y, z);
    return sign * a[face / 2] * std::cos(phase(x, y, z)) + c.alpha * exact(x, y, z);
  };
  config::SolverSpec solver;
  solver.ksp = "cg";
  solver.pc = "gamg";
  solver.rtol = 1e-13;
  const auto result = solvers::solve_poisson_faces(grid, faces, f, data, solver);
  EXPECT_TRUE(result.stats.converged) << result.stats.reason;
  const auto u =
      grid.sample([&](double x, double y, double z) { return exact(x, y, dim == 3 ? z : 0); });
  double error = 0;
  for (std::size_t p = 0; p < u.size(); ++p) error = std::max(error, std::abs(result.u[p] - u[p]));
  MPI_Allreduce(MPI_IN_PLACE, &error, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return error;
}

void expect_second_order(int dim, const std::array<FaceCondition, 6>& faces,
                         std::initializer_list<long> sizes) {
  double previous = 0;
  for (long n : sizes) {
    const double e = max_error(dim, n, faces);
    log0("  %dD, %ld nodes per unit length: max error %.3e%s\n", dim, n - 1, e,
         previous > 0 ? (", ratio " + std::to_string(previous / e)).c_str() : "");
    if (previous > 0) {
      EXPECT_GT(previous / e, 3.5) << dim << "D at n = " << n;
    }
    previous = e;
  }
  EXPECT_LT(previous, 2e-3);
}

}  // namespace

TEST(FaceConditions, MixedFacesAreSecondOrderIn2D) {
  const std::array<FaceCondition, 6> faces{
      {{Type::neumann, 0}, {Type::robin, 2.0}, {Type::dirichlet, 0}, {Type::neumann, 0}, {}, {}}};
  expect_second_order(2, faces, {17, 33, 65});
}

TEST(FaceConditions, RobinAndNeumannWithoutDirichletAreSecondOrder) {
  const std::array<FaceCondition, 6> faces{
      {{Type::robin, 1.0}, {Type::neumann, 0}, {Type::neumann, 0}, {Type::robin, 0.5}, {}, {}}};
  expect_second_order(2, faces, {17, 33, 65});
}

TEST(FaceConditions, MixedFacesAreSecondOrderIn3D) {
  const std::array<FaceCondition, 6> faces{{{Type::neumann, 0},
                                            {Type::robin, 2.0},
                                            {Type::dirichlet, 0},
                                            {Type::neumann, 0},
                                            {Type::robin, 1.0},
                                            {Type::neumann, 0}}};
  expect_second_order(3, faces, {5, 9, 17});
}

TEST(FaceConditions, NeumannOnEveryFaceIsRefused) {
  std::array<FaceCondition, 6> faces{};
  for (auto& f : faces) f.type = Type::neumann;
  EXPECT_THROW(max_error(2, 9, faces), ConfigError);
}
