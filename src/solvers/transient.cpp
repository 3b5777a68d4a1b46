#include "karman/solvers/transient.hpp"

#include <petscts.h>

#include <algorithm>
#include <cmath>

#include "../petsc/check.hpp"
#include "../petsc/handle.hpp"
#include "karman/core/timer.hpp"
#include "karman/pde/equations.hpp"
#include "karman/pde/fields.hpp"
#include "petsc_solver.hpp"

namespace karman::solvers {
namespace {

// ------------------------------------------------------------------------------------- heat
// Method of lines as an implicit DAE: F(t, u, u_t) = M u_t + K u - b(t) = 0, with
//   interior rows  M = 1, K = -κΔ_h (full stencil),  b = f(t)
//   boundary rows  M = 0, K = 1,                      b = g(t)   (Dirichlet as u - g = 0)
// The problem is linear: each implicit stage is one KSP solve with J = K + shift·M.
struct HeatContext {
  const mesh::StructuredGrid* grid = nullptr;
  const config::PdeSpec* pde = nullptr;
  petsc::Mat K;
  petsc::Vec mass;          // diagonal of M
  petsc::Vec forcing;       // b(t), cached when f and g do not depend on t
  petsc::Vec shifted_mass;  // work vector of the Jacobian: shift·diag(M)
  double forcing_time = NAN;
};

void heat_forcing(HeatContext& ctx, double t) {
  const bool time_dependent = ctx.pde->source->uses_time() || ctx.pde->boundary->uses_time();
  if (!std::isnan(ctx.forcing_time) && (!time_dependent || ctx.forcing_time == t)) return;
  const mesh::StructuredGrid& grid = *ctx.grid;
  const auto f = pde::evaluate(grid, *ctx.pde->source, t);
  const auto g = pde::evaluate(grid, *ctx.pde->boundary, t);
  std::vector<double> b(f.size());
  for (long k = 0, p = 0; k < grid.count()[2]; ++k)
    for (long j = 0; j < grid.count()[1]; ++j)
      for (long i = 0; i < grid.count()[0]; ++i, ++p)
        b[p] =
            grid.shape().on_boundary(grid.start()[0] + i, grid.start()[1] + j, grid.start()[2] + k)
                ? g[p]
                : f[p];
  detail::to_petsc(b, ctx.forcing);
  ctx.forcing_time = t;
}

PetscErrorCode heat_residual(TS, PetscReal t, Vec u, Vec u_t, Vec F, void* raw) {
  auto& ctx = *static_cast<HeatContext*>(raw);
  try {
    heat_forcing(ctx, t);
  } catch (const std::exception&) {
    return PETSC_ERR_LIB;
  }
  PetscCall(VecPointwiseMult(F, ctx.mass, u_t));  // F = M u_t
  PetscCall(MatMultAdd(ctx.K, u, F, F));          // F += K u
  PetscCall(VecAXPY(F, -1.0, ctx.forcing));       // F -= b(t)
  return 0;
}

PetscErrorCode heat_jacobian(TS, PetscReal, Vec, Vec, PetscReal shift, Mat J, Mat P, void* raw) {
  auto& ctx = *static_cast<HeatContext*>(raw);
  PetscCall(MatCopy(ctx.K, P, SAME_NONZERO_PATTERN));
  PetscCall(VecCopy(ctx.mass, ctx.shifted_mass));
  PetscCall(VecScale(ctx.shifted_mass, shift));
  PetscCall(MatDiagonalSet(P, ctx.shifted_mass, ADD_VALUES));
  if (J != P) {
    PetscCall(MatAssemblyBegin(J, MAT_FINAL_ASSEMBLY));
    PetscCall(MatAssemblyEnd(J, MAT_FINAL_ASSEMBLY));
  }
  return 0;
}

// ---------------------------------------------------------------------------------- Burgers
// Conservative central differences on a periodic grid:
//   F_i = u_t,i + (q(u_{i+1}) - q(u_{i-1})) / 2h - ν (u_{i+1} - 2u_i + u_{i-1}) / h²,  q = u²/2.
struct BurgersContext {
  DM dm;
  double h, nu;
};

PetscErrorCode burgers_residual(TS, PetscReal, Vec u, Vec u_t, Vec F, void* raw) {
  auto& ctx = *static_cast<BurgersContext*>(raw);
  Vec local;
  const PetscScalar *x, *xt;
  PetscScalar* f;
  PetscInt xs, xm;
  PetscCall(DMGetLocalVector(ctx.dm, &local));
  PetscCall(DMGlobalToLocalBegin(ctx.dm, u, INSERT_VALUES, local));
  PetscCall(DMGlobalToLocalEnd(ctx.dm, u, INSERT_VALUES, local));
  PetscCall(DMDAVecGetArrayRead(ctx.dm, local, &x));
  PetscCall(DMDAVecGetArrayRead(ctx.dm, u_t, &xt));
  PetscCall(DMDAVecGetArray(ctx.dm, F, &f));
  PetscCall(DMDAGetCorners(ctx.dm, &xs, nullptr, nullptr, &xm, nullptr, nullptr));
  const double inv_2h = 0.5 / ctx.h, nu_h2 = ctx.nu / (ctx.h * ctx.h);
  for (PetscInt i = xs; i < xs + xm; ++i)
    f[i] = xt[i] + (pde::burgers_flux(x[i + 1]) - pde::burgers_flux(x[i - 1])) * inv_2h -
           nu_h2 * (x[i + 1] - 2.0 * x[i] + x[i - 1]);
  PetscCall(DMDAVecRestoreArray(ctx.dm, F, &f));
  PetscCall(DMDAVecRestoreArrayRead(ctx.dm, u_t, &xt));
  PetscCall(DMDAVecRestoreArrayRead(ctx.dm, local, &x));
  PetscCall(DMRestoreLocalVector(ctx.dm, &local));
  return 0;
}

PetscErrorCode burgers_jacobian(TS, PetscReal, Vec u, Vec, PetscReal shift, Mat J, Mat P,
                                void* raw) {
  auto& ctx = *static_cast<BurgersContext*>(raw);
  Vec local;
  const PetscScalar* x;
  PetscInt xs, xm;
  PetscCall(DMGetLocalVector(ctx.dm, &local));
  PetscCall(DMGlobalToLocalBegin(ctx.dm, u, INSERT_VALUES, local));
  PetscCall(DMGlobalToLocalEnd(ctx.dm, u, INSERT_VALUES, local));
  PetscCall(DMDAVecGetArrayRead(ctx.dm, local, &x));
  PetscCall(DMDAGetCorners(ctx.dm, &xs, nullptr, nullptr, &xm, nullptr, nullptr));
  const double inv_2h = 0.5 / ctx.h, nu_h2 = ctx.nu / (ctx.h * ctx.h);
  for (PetscInt i = xs; i < xs + xm; ++i) {
    MatStencil row{}, cols[3]{};
    row.i = i;
    cols[0].i = i - 1, cols[1].i = i, cols[2].i = i + 1;  // wrapped by the periodic DMDA
    // d q(u)/du = u.
    PetscScalar v[3] = {-x[i - 1] * inv_2h - nu_h2, shift + 2.0 * nu_h2, x[i + 1] * inv_2h - nu_h2};
    PetscCall(MatSetValuesStencil(P, 1, &row, 3, cols, v, INSERT_VALUES));
  }
  PetscCall(DMDAVecRestoreArrayRead(ctx.dm, local, &x));
  PetscCall(DMRestoreLocalVector(ctx.dm, &local));
  PetscCall(MatAssemblyBegin(P, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(P, MAT_FINAL_ASSEMBLY));
  if (J != P) {
    PetscCall(MatAssemblyBegin(J, MAT_FINAL_ASSEMBLY));
    PetscCall(MatAssemblyEnd(J, MAT_FINAL_ASSEMBLY));
  }
  return 0;
}

void set_scheme(TS ts, const std::string& scheme) {
  if (scheme == "cn") {
    KARMAN_PETSC(TSSetType(ts, TSCN));
  } else if (scheme == "bdf2") {
    KARMAN_PETSC(TSSetType(ts, TSBDF));
    KARMAN_PETSC(TSBDFSetOrder(ts, 2));
  } else {
    KARMAN_PETSC(TSSetType(ts, TSBEULER));
  }
}

// Snapshot times t_s = s·t_end/S, s = 1..S (just t_end when S = 0).
std::vector<double> snapshot_times(const config::TimeSpec& time) {
  std::vector<double> out;
  const long count = std::max<long>(time.snapshots, 1);
  for (long s = 1; s <= count; ++s) out.push_back(time.t_end * static_cast<double>(s) / count);
  return out;
}

}  // namespace

TransientResult solve_transient(const mesh::StructuredGrid& grid, const config::PdeSpec& pde,
                                const config::TimeSpec& time, const config::SolverSpec& solver,
                                const std::vector<double>& initial,
                                const SnapshotCallback& on_snapshot) {
  KARMAN_VERIFY(pde.time_dependent(), "solve_transient: steady PDE");
  DM dm = detail::dm_of(grid);
  TransientResult result;
  Timer setup_timer;

  petsc::TS ts;
  petsc::Mat J;
  petsc::Vec u;
  KARMAN_PETSC(TSCreate(grid.comm(), ts.out()));
  KARMAN_PETSC(TSSetDM(ts, dm));
  KARMAN_PETSC(DMCreateMatrix(dm, J.out()));
  KARMAN_PETSC(DMCreateGlobalVector(dm, u.out()));
  detail::to_petsc(initial, u);

  HeatContext heat;
  heat.grid = &grid;
  heat.pde = &pde;
  BurgersContext burgers{dm, grid.shape().spacing(0), pde.nu};
  if (pde.type == config::PdeType::heat) {
    detail::assemble_diffusion(
        grid, std::vector<double>(static_cast<std::size_t>(grid.local_size()), pde.kappa), 1.0,
        heat.K);
    std::vector<double> mass(static_cast<std::size_t>(grid.local_size()), 1.0);
    for (long k = 0, p = 0; k < grid.count()[2]; ++k)
      for (long j = 0; j < grid.count()[1]; ++j)
        for (long i = 0; i < grid.count()[0]; ++i, ++p)
          if (grid.shape().on_boundary(grid.start()[0] + i, grid.start()[1] + j,
                                       grid.start()[2] + k))
            mass[p] = 0.0;
    KARMAN_PETSC(VecDuplicate(u, heat.mass.out()));
    KARMAN_PETSC(VecDuplicate(u, heat.forcing.out()));
    KARMAN_PETSC(VecDuplicate(u, heat.shifted_mass.out()));
    detail::to_petsc(mass, heat.mass);
    KARMAN_PETSC(TSSetProblemType(ts, TS_LINEAR));
    KARMAN_PETSC(TSSetIFunction(ts, nullptr, heat_residual, &heat));
    KARMAN_PETSC(TSSetIJacobian(ts, J, J, heat_jacobian, &heat));
  } else {
    KARMAN_PETSC(TSSetProblemType(ts, TS_NONLINEAR));
    KARMAN_PETSC(TSSetIFunction(ts, nullptr, burgers_residual, &burgers));
    KARMAN_PETSC(TSSetIJacobian(ts, J, J, burgers_jacobian, &burgers));
  }
  set_scheme(ts, time.scheme);
  KARMAN_PETSC(TSSetTime(ts, 0.0));
  KARMAN_PETSC(TSSetTimeStep(ts, time.dt));
  KARMAN_PETSC(TSSetExactFinalTime(ts, TS_EXACTFINALTIME_STEPOVER));

  SNES snes;
  KSP ksp;
  KARMAN_PETSC(TSGetSNES(ts, &snes));
  if (pde.type == config::PdeType::heat) KARMAN_PETSC(SNESSetType(snes, SNESKSPONLY));
  KARMAN_PETSC(SNESGetKSP(snes, &ksp));
  detail::configure_ksp(ksp, solver);
  detail::from_options([&] { KARMAN_PETSC(TSSetFromOptions(ts)); });
  KARMAN_PETSC(TSSetUp(ts));
  result.stats.setup_s = setup_timer.seconds();

  if (on_snapshot) on_snapshot(0, 0.0, initial);
  Timer solve_timer;
  // Each snapshot interval takes a whole number of equal steps (dt rounded to fit), and the
  // clock is reset to the snapshot time after it, so no round-off sliver step is ever taken.
  const auto times = snapshot_times(time);
  PetscInt steps_done = 0;
  double t_previous = 0.0;
  for (std::size_t s = 0; s < times.size(); ++s) {
    const double interval = times[s] - t_previous;
    const long steps = std::max<long>(1, std::lround(interval / time.dt));
    steps_done += steps;
    KARMAN_PETSC(TSSetTimeStep(ts, interval / steps));
    KARMAN_PETSC(TSSetMaxSteps(ts, steps_done));
    KARMAN_PETSC(TSSetMaxTime(ts, times[s] + 0.5 * interval / steps));
    KARMAN_PETSC(TSSolve(ts, u));
    TSConvergedReason reason;
    KARMAN_PETSC(TSGetConvergedReason(ts, &reason));
    if (reason < 0) {
      result.stats.converged = false;
      result.stats.reason = TSConvergedReasons[reason];
      break;
    }
    KARMAN_PETSC(TSSetTime(ts, times[s]));
    t_previous = times[s];
    if (on_snapshot && time.snapshots > 0) {
      result.stats.solve_s += solve_timer.seconds();
      on_snapshot(static_cast<long>(s + 1), times[s], detail::from_petsc(u));
      solve_timer.reset();
    }
  }
  result.stats.solve_s += solve_timer.seconds();

  PetscInt steps, linear, nonlinear;
  PetscReal t;
  TSType ts_type;
  KARMAN_PETSC(TSGetStepNumber(ts, &steps));
  KARMAN_PETSC(TSGetKSPIterations(ts, &linear));
  KARMAN_PETSC(TSGetSNESIterations(ts, &nonlinear));
  KARMAN_PETSC(TSGetTime(ts, &t));
  KARMAN_PETSC(TSGetType(ts, &ts_type));
  const bool ts_ok = result.stats.converged;
  const std::string ts_reason = result.stats.reason;
  detail::record_ksp(ksp, result.stats);
  if (!ts_ok) result.stats.converged = false, result.stats.reason = ts_reason;
  result.stats.ts = ts_type;
  result.stats.steps = steps;
  result.stats.iterations = linear;
  result.stats.nonlinear_iterations = nonlinear;
  result.stats.options = solver.options;
  result.time = t;
  result.u = detail::from_petsc(u);
  return result;
}

}  // namespace karman::solvers
