#pragma once
// Internal helpers shared by the PETSc reference solvers: reading back what ran, MUMPS for direct
// solves, and the DMDA diffusion operator. A case's `solver` section is applied to a KSP by
// petsc::configure_ksp (src/petsc/ksp.hpp).

#include <petscdmda.h>
#include <petscksp.h>
#include <petscts.h>

#include <vector>

#include "../petsc/handle.hpp"
#include "karman/config/case.hpp"
#include "karman/core/timer.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/solvers/stats.hpp"

namespace karman::solvers::detail {

inline DM dm_of(const mesh::StructuredGrid& grid) { return static_cast<DM>(grid.dm()); }

// A direct solve (pc lu or cholesky) factors with MUMPS unless the options chose a solver:
// PETSc's own LU runs on one rank only. Call after petsc::configure_ksp.
void prefer_mumps(KSP ksp);

// ksp/pc types, final residual and convergence reason of the last solve.
void record_ksp(KSP ksp, SolveStats& stats);

// A case's time.scheme on a TS: cn (TSCN), bdf2 (TSBDF order 2), rosw (Rosenbrock-W RA34PW2),
// anything else backward Euler; BDF2 and Rosenbrock-W with fixed steps.
void set_ts_scheme(TS ts, const std::string& scheme);

// Advances `ts` (state u) from t_from to t_to in a whole number of equal steps (dt rounded to
// fit; steps_done counts them over the run) and sets its clock to t_to after it, so no round-off
// sliver step is ever taken. False when the TS failed; stats then say why.
bool advance_ts(TS ts, Vec u, double t_from, double t_to, double dt, PetscInt& steps_done,
                SolveStats& stats);

// After a time integration: the TS type, its steps, linear and nonlinear iterations, the case's
// options and the KSP's record; a TS that failed (stats.converged false on entry) stays failed
// with its reason. Returns the time reached.
double record_ts(TS ts, KSP ksp, const config::SolverSpec& solver, SolveStats& stats);

// The diagonal 2 Σ_d 1/h_d² given to eliminated Dirichlet rows: the interior rows' scale, so that
// the eliminated operator stays well conditioned for AMG.
double dirichlet_diagonal(const mesh::StructuredGrid& grid);

// The operator -∇·(a∇u) with a two-point flux (harmonic-mean face coefficients), 2nd order on a
// uniform grid. Interior rows hold the full stencil (including Dirichlet-node columns); boundary
// rows are `boundary_diagonal` × identity. `coefficient` is the owned box of a (empty: a ≡ 1).
// The matrix is preallocated by the DMDA.
void assemble_diffusion(const mesh::StructuredGrid& grid, const std::vector<double>& coefficient,
                        double boundary_diagonal, petsc::Mat& A);

// Rows of the Dirichlet nodes this rank owns, as DMDA stencils.
std::vector<MatStencil> boundary_rows(const mesh::StructuredGrid& grid);

// Copy between a PETSc global vector of the grid and an owned-box std::vector.
void to_petsc(const std::vector<double>& owned, Vec v);
std::vector<double> from_petsc(Vec v);

// Solve the assembled A u = b (u holds the initial guess) with the case's KSP/PC, MUMPS for LU on
// several ranks; stats gets setup_s (since `setup`, which started before the assembly), solve_s,
// iterations, the KSP's record and the options. Returns u as this rank's owned values.
std::vector<double> solve_assembled(MPI_Comm comm, Mat A, Vec b, Vec u,
                                    const config::SolverSpec& solver, const Timer& setup,
                                    SolveStats& stats);

}  // namespace karman::solvers::detail
