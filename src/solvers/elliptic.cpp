#include "karman/solvers/elliptic.hpp"

#include "../petsc/check.hpp"
#include "../petsc/handle.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"
#include "karman/pde/fields.hpp"
#include "petsc_solver.hpp"

namespace karman::solvers {

void check_solver_names(const config::SolverSpec& solver) {
  petsc::KSP ksp;
  PC pc;
  KARMAN_PETSC(KSPCreate(PETSC_COMM_SELF, ksp.out()));
  KARMAN_PETSC(KSPGetPC(ksp, &pc));
  auto try_set = [&](auto set, const std::string& name, const Place& place, const char* key,
                     const char* what) {
    try {
      KARMAN_PETSC(set(name.c_str()));
    } catch (const ExternalError&) {
      throw ConfigError(place, std::string("solver.") + key + ": this PETSc has no " + what +
                                   " type '" + name + "'");
    }
  };
  try_set([&](const char* n) { return KSPSetType(ksp, n); }, solver.ksp, solver.ksp_place, "ksp",
          "KSP");
  try_set([&](const char* n) { return PCSetType(pc, n); }, solver.pc, solver.pc_place, "pc", "PC");
}

SteadyResult solve_elliptic(const mesh::StructuredGrid& grid, const config::PdeSpec& pde,
                            const config::SolverSpec& solver,
                            const std::vector<double>& coefficient,
                            const std::vector<double>* initial_guess) {
  const ScopedStage timed_stage(Stage::baseline, Stage::data);  // data-set solves count as data
  DM dm = detail::dm_of(grid);
  SteadyResult result;
  Timer setup_timer;

  // A u = f with Dirichlet rows; the boundary diagonal matches the interior scale (2 Σ 1/h²) so
  // that eliminating those rows keeps the operator well conditioned for AMG.
  const double diagonal = detail::dirichlet_diagonal(grid);
  petsc::Mat A;
  detail::assemble_diffusion(grid, coefficient, diagonal, A);
  // Helmholtz: -Δ_h - k² I. The shift also lands on the boundary rows, whose diagonal the
  // elimination below resets; the operator stays symmetric but is indefinite once k² exceeds
  // the smallest eigenvalue of -Δ_h (hence GMRES, not CG, by default).
  if (pde.type == config::PdeType::helmholtz)
    KARMAN_PETSC(MatShift(A, -pde.wavenumber * pde.wavenumber));
  petsc::Vec u, b;
  KARMAN_PETSC(DMCreateGlobalVector(dm, u.out()));
  KARMAN_PETSC(VecDuplicate(u, b.out()));
  detail::to_petsc(pde::evaluate(grid, *pde.source), b);
  // Dirichlet data in u's boundary entries; inside, the initial guess (zero unless given).
  const auto g = pde::evaluate(grid, *pde.boundary);
  KARMAN_VERIFY(!initial_guess || initial_guess->size() == g.size(),
                "solve_elliptic: the initial guess does not have the owned box's size");
  std::vector<double> lifted = initial_guess ? *initial_guess : std::vector<double>(g.size(), 0.0);
  for (long k = 0, p = 0; k < grid.count()[2]; ++k)
    for (long j = 0; j < grid.count()[1]; ++j)
      for (long i = 0; i < grid.count()[0]; ++i, ++p)
        if (grid.shape().on_boundary(grid.start()[0] + i, grid.start()[1] + j, grid.start()[2] + k))
          lifted[p] = g[p];
  detail::to_petsc(lifted, u);
  // Symmetric elimination: zero the Dirichlet rows and columns, move their known values to the
  // right-hand side. The operator stays symmetric (SPD unless shifted), so CG applies.
  const auto rows = detail::boundary_rows(grid);
  KARMAN_PETSC(MatZeroRowsColumnsStencil(A, static_cast<PetscInt>(rows.size()), rows.data(),
                                         diagonal, u, b));

  result.u = detail::solve_assembled(grid.comm(), A, b, u, solver, setup_timer, result.stats);
  return result;
}

}  // namespace karman::solvers
