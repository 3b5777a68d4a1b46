#include "karman/solvers/masked_poisson.hpp"

#include "../petsc/check.hpp"
#include "../petsc/handle.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"
#include "petsc_solver.hpp"

namespace karman::solvers {

namespace {

// Owned nodes (storage order) that are Dirichlet rows: inactive or on the box boundary.
std::vector<char> dirichlet_mask(const mesh::StructuredGrid& grid,
                                 const std::vector<char>& active) {
  std::vector<char> fixed(active.size());
  const auto& s = grid.start();
  const auto& c = grid.count();
  long p = 0;
  for (long k = s[2]; k < s[2] + c[2]; ++k)
    for (long j = s[1]; j < s[1] + c[1]; ++j)
      for (long i = s[0]; i < s[0] + c[0]; ++i, ++p)
        fixed[p] = !active[p] || grid.shape().on_boundary(i, j, k);
  return fixed;
}

// The DMDA stencils of the rows marked in `fixed`.
std::vector<MatStencil> dirichlet_rows(const mesh::StructuredGrid& grid,
                                       const std::vector<char>& fixed) {
  std::vector<MatStencil> rows;
  const auto& s = grid.start();
  const auto& c = grid.count();
  long p = 0;
  for (PetscInt k = s[2]; k < s[2] + c[2]; ++k)
    for (PetscInt j = s[1]; j < s[1] + c[1]; ++j)
      for (PetscInt i = s[0]; i < s[0] + c[0]; ++i, ++p)
        if (fixed[p]) {
          MatStencil row{};
          row.i = i, row.j = j, row.k = k;
          rows.push_back(row);
        }
  return rows;
}

}  // namespace

SteadyResult solve_poisson_masked(const mesh::StructuredGrid& grid, const std::vector<char>& active,
                                  const std::vector<double>& source,
                                  const std::vector<double>& dirichlet,
                                  const config::SolverSpec& solver) {
  const ScopedStage timed_stage(Stage::baseline, Stage::data);  // data-set solves count as data
  const auto n = static_cast<std::size_t>(grid.local_size());
  KARMAN_VERIFY(active.size() == n && source.size() == n && dirichlet.size() == n,
                "solve_poisson_masked: vectors must be the owned box");
  DM dm = detail::dm_of(grid);
  SteadyResult result;
  Timer setup_timer;

  // The box operator, then the Dirichlet rows and columns eliminated symmetrically (as in
  // solve_elliptic, with inactive nodes added to the row set): the matrix stays SPD for CG, and
  // the diagonal of the identity rows matches the interior scale 2 Σ 1/h² for AMG.
  const double diagonal = detail::dirichlet_diagonal(grid);
  petsc::Mat A;
  detail::assemble_diffusion(grid, {}, diagonal, A);
  petsc::Vec u, b;
  KARMAN_PETSC(DMCreateGlobalVector(dm, u.out()));
  KARMAN_PETSC(VecDuplicate(u, b.out()));
  detail::to_petsc(source, b);
  // g at the Dirichlet nodes, 0 (the initial guess) at the unknowns.
  const std::vector<char> fixed = dirichlet_mask(grid, active);
  std::vector<double> lifted(n, 0.0);
  for (std::size_t p = 0; p < n; ++p)
    if (fixed[p]) lifted[p] = dirichlet[p];
  const auto rows = dirichlet_rows(grid, fixed);
  detail::to_petsc(lifted, u);
  KARMAN_PETSC(MatZeroRowsColumnsStencil(A, static_cast<PetscInt>(rows.size()), rows.data(),
                                         diagonal, u, b));

  result.u = detail::solve_assembled(grid.comm(), A, b, u, solver, setup_timer, result.stats);
  // The identity rows hold g only to the solver tolerance: give back g itself there.
  for (std::size_t p = 0; p < n; ++p)
    if (fixed[p]) result.u[p] = dirichlet[p];
  return result;
}

}  // namespace karman::solvers
