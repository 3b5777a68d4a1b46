#include "karman/solvers/face_conditions.hpp"

#include <fmt/format.h>

#include "../petsc/check.hpp"
#include "../petsc/handle.hpp"
#include "karman/core/error.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"
#include "petsc_solver.hpp"

namespace karman::solvers {

namespace {

using Type = FaceCondition::Type;

void check_faces(const mesh::GridShape& shape, const std::array<FaceCondition, 6>& faces) {
  if (shape.periodic) throw ConfigError("Neumann and Robin faces need a grid that is not periodic");
  bool anchored = false;  // a Dirichlet or Robin face fixes the constant
  for (int f = 0; f < 2 * shape.dim; ++f) {
    anchored = anchored || faces[f].type != Type::neumann;
    if (faces[f].type != Type::dirichlet && shape.n[f / 2] < 3)
      throw ConfigError(fmt::format(
          "a Neumann or Robin face needs at least 3 grid nodes across it (axis {} has {})", f / 2,
          shape.n[f / 2]));
  }
  if (!anchored)
    throw ConfigError(
        "Neumann conditions on every face leave u defined up to a constant: give at least one "
        "part a dirichlet or robin condition");
}

// The faces of the box that node idx lies on, as a bit set over face numbers.
unsigned faces_of(const mesh::GridShape& shape, const PetscInt idx[3]) {
  unsigned on = 0;
  for (int d = 0; d < shape.dim; ++d) {
    if (idx[d] == 0) on |= 1u << (2 * d);
    if (idx[d] == shape.n[d] - 1) on |= 1u << (2 * d + 1);
  }
  return on;
}

// First Dirichlet face in `on`, or −1.
int dirichlet_face(unsigned on, const std::array<FaceCondition, 6>& faces) {
  for (int f = 0; f < 6; ++f)
    if ((on >> f & 1u) && faces[f].type == Type::dirichlet) return f;
  return -1;
}

}  // namespace

SteadyResult solve_poisson_faces(const mesh::StructuredGrid& grid,
                                 const std::array<FaceCondition, 6>& faces,
                                 const std::vector<double>& source, const FaceData& data,
                                 const config::SolverSpec& solver) {
  const ScopedStage timed_stage(Stage::baseline, Stage::data);
  const mesh::GridShape& shape = grid.shape();
  check_faces(shape, faces);
  const auto n = static_cast<std::size_t>(grid.local_size());
  KARMAN_VERIFY(source.size() == n, "solve_poisson_faces: source must be the owned box");
  DM dm = detail::dm_of(grid);
  SteadyResult result;
  Timer setup_timer;

  const double diagonal = detail::dirichlet_diagonal(grid);
  petsc::Mat A;
  KARMAN_PETSC(DMCreateMatrix(dm, A.out()));
  KARMAN_PETSC(MatSetOption(A, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE));
  std::vector<double> rhs(n, 0.0), lifted(n, 0.0);
  std::vector<char> fixed(n, 0);
  std::vector<MatStencil> fixed_rows;
  const auto& s = grid.start();
  const auto& c = grid.count();
  std::size_t p = 0;
  for (PetscInt k = s[2]; k < s[2] + c[2]; ++k)
    for (PetscInt j = s[1]; j < s[1] + c[1]; ++j)
      for (PetscInt i = s[0]; i < s[0] + c[0]; ++i, ++p) {
        MatStencil row{};
        row.i = i, row.j = j, row.k = k;
        const PetscInt idx[3] = {i, j, k};
        const double x = shape.coordinate(0, i), y = shape.coordinate(1, j),
                     z = shape.coordinate(2, k);
        const unsigned on = faces_of(shape, idx);
        if (const int f = dirichlet_face(on, faces); f >= 0) {
          fixed[p] = 1;
          lifted[p] = data(f, x, y, z);
          fixed_rows.push_back(row);
          KARMAN_PETSC(MatSetValuesStencil(A, 1, &row, 1, &row, &diagonal, ADD_VALUES));
          continue;
        }
        // −Σ_d (u_{+d} − 2u_0 + u_{−d}) / h_d², a ghost neighbour replaced by its mirror image
        // through the condition; then the row scaled by 1/2 per face the node lies on.
        MatStencil cols[7];
        PetscScalar vals[7];
        int m = 1;
        cols[0] = row;
        vals[0] = 0.0;
        double weight = 1.0, b = source[p];
        for (int d = 0; d < shape.dim; ++d) {
          const double h = shape.spacing(d), inv_h2 = 1.0 / (h * h);
          vals[0] += 2.0 * inv_h2;
          for (int side : {-1, 1}) {
            PetscInt nb[3] = {idx[0], idx[1], idx[2]};
            nb[d] += side;
            if (nb[d] < 0 || nb[d] >= shape.n[d]) {  // ghost: u_ghost = u_mirror + 2h(g − αu_0)
              const int f = 2 * d + (side > 0 ? 1 : 0);
              nb[d] -= 2 * side;
              weight *= 0.5;
              vals[0] += 2.0 * faces[f].alpha / h;
              b += 2.0 * data(f, x, y, z) / h;
            }
            cols[m] = row;
            cols[m].i = nb[0], cols[m].j = nb[1], cols[m].k = nb[2];
            vals[m++] = -inv_h2;
          }
        }
        for (int e = 0; e < m; ++e) vals[e] *= weight;
        rhs[p] = weight * b;
        KARMAN_PETSC(MatSetValuesStencil(A, 1, &row, m, cols, vals, ADD_VALUES));
      }
  KARMAN_PETSC(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  KARMAN_PETSC(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));

  petsc::Vec u, rhs_vec;
  KARMAN_PETSC(DMCreateGlobalVector(dm, u.out()));
  KARMAN_PETSC(VecDuplicate(u, rhs_vec.out()));
  detail::to_petsc(rhs, rhs_vec);
  detail::to_petsc(lifted, u);
  // Dirichlet rows and columns eliminated symmetrically: g moves into the right-hand side.
  KARMAN_PETSC(MatZeroRowsColumnsStencil(A, static_cast<PetscInt>(fixed_rows.size()),
                                         fixed_rows.data(), diagonal, u, rhs_vec));
  result.u = detail::solve_assembled(grid.comm(), A, rhs_vec, u, solver, setup_timer, result.stats);
  for (std::size_t q = 0; q < n; ++q)
    if (fixed[q]) result.u[q] = lifted[q];
  return result;
}

}  // namespace karman::solvers
