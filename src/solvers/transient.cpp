#include "karman/solvers/transient.hpp"

#include <petscts.h>

#include <algorithm>
#include <cmath>

#include "../petsc/check.hpp"
#include "../petsc/handle.hpp"
#include "../petsc/ksp.hpp"
#include "karman/core/stage_timer.hpp"
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

// Close the assembly of a TS Jacobian: the preconditioning matrix P, and the operator J when it
// is a different matrix (a matrix-free or -snes_mf_operator J only needs the call).
PetscErrorCode finish_jacobian(Mat J, Mat P, bool assemble_p = true) {
  if (assemble_p) {
    PetscCall(MatAssemblyBegin(P, MAT_FINAL_ASSEMBLY));
    PetscCall(MatAssemblyEnd(P, MAT_FINAL_ASSEMBLY));
  }
  if (J != P) {
    PetscCall(MatAssemblyBegin(J, MAT_FINAL_ASSEMBLY));
    PetscCall(MatAssemblyEnd(J, MAT_FINAL_ASSEMBLY));
  }
  return 0;
}

PetscErrorCode heat_jacobian(TS, PetscReal, Vec, Vec, PetscReal shift, Mat J, Mat P, void* raw) {
  auto& ctx = *static_cast<HeatContext*>(raw);
  PetscCall(MatCopy(ctx.K, P, SAME_NONZERO_PATTERN));
  PetscCall(VecCopy(ctx.mass, ctx.shifted_mass));
  PetscCall(VecScale(ctx.shifted_mass, shift));
  PetscCall(MatDiagonalSet(P, ctx.shifted_mass, ADD_VALUES));  // P is assembled already
  return finish_jacobian(J, P, /*assemble_p=*/false);
}

// ---------------------------------------------------------------------------------- Burgers
// Conservative central differences on a periodic grid:
//   F_i = u_t,i + (q(u_{i+1}) - q(u_{i-1})) / 2h - ν (u_{i+1} - 2u_i + u_{i-1}) / h²,  q = u²/2.
struct BurgersContext {
  DM dm;
  double h, nu;
};

// The scaffolding of a 1D DMDA residual F(u, u_t): u with its ghost points (neighbours across
// ranks and the periodic wrap), u_t and F as arrays over global indices, and this rank's nodes
// [xs, xs + xm); `body(x, xt, f, xs, xm)` fills F. Node is PetscScalar, or a struct of the dofs.
template <class Node, class Body>
PetscErrorCode residual_1d(DM dm, Vec u, Vec u_t, Vec F, Body&& body) {
  Vec local;
  const Node *x, *xt;
  Node* f;
  PetscInt xs, xm;
  PetscCall(DMGetLocalVector(dm, &local));
  PetscCall(DMGlobalToLocalBegin(dm, u, INSERT_VALUES, local));
  PetscCall(DMGlobalToLocalEnd(dm, u, INSERT_VALUES, local));
  PetscCall(DMDAVecGetArrayRead(dm, local, &x));
  PetscCall(DMDAVecGetArrayRead(dm, u_t, &xt));
  PetscCall(DMDAVecGetArray(dm, F, &f));
  PetscCall(DMDAGetCorners(dm, &xs, nullptr, nullptr, &xm, nullptr, nullptr));
  body(x, xt, f, xs, xm);
  PetscCall(DMDAVecRestoreArray(dm, F, &f));
  PetscCall(DMDAVecRestoreArrayRead(dm, u_t, &xt));
  PetscCall(DMDAVecRestoreArrayRead(dm, local, &x));
  PetscCall(DMRestoreLocalVector(dm, &local));
  return 0;
}

PetscErrorCode burgers_residual(TS, PetscReal, Vec u, Vec u_t, Vec F, void* raw) {
  auto& ctx = *static_cast<BurgersContext*>(raw);
  const double inv_2h = 0.5 / ctx.h, nu_h2 = ctx.nu / (ctx.h * ctx.h);
  return residual_1d<PetscScalar>(
      ctx.dm, u, u_t, F,
      [&](const PetscScalar* x, const PetscScalar* xt, PetscScalar* f, PetscInt xs, PetscInt xm) {
        for (PetscInt i = xs; i < xs + xm; ++i)
          f[i] = xt[i] + (pde::burgers_flux(x[i + 1]) - pde::burgers_flux(x[i - 1])) * inv_2h -
                 nu_h2 * (x[i + 1] - 2.0 * x[i] + x[i - 1]);
      });
}

// The Jacobian of a periodic 1D residual whose row i couples nodes i - 1, i, i + 1:
// `row_values(x, i, v)` writes dF_i/du_{i-1}, dF_i/du_i + shift·dF_i/du_t,i, dF_i/du_{i+1} into
// v[3], with x the state and its ghosts (global indices; the periodic DMDA wraps i ± 1).
template <class RowValues>
PetscErrorCode periodic_tridiagonal_jacobian(DM dm, Vec u, Mat J, Mat P, RowValues&& row_values) {
  Vec local;
  const PetscScalar* x;
  PetscInt xs, xm;
  PetscCall(DMGetLocalVector(dm, &local));
  PetscCall(DMGlobalToLocalBegin(dm, u, INSERT_VALUES, local));
  PetscCall(DMGlobalToLocalEnd(dm, u, INSERT_VALUES, local));
  PetscCall(DMDAVecGetArrayRead(dm, local, &x));
  PetscCall(DMDAGetCorners(dm, &xs, nullptr, nullptr, &xm, nullptr, nullptr));
  for (PetscInt i = xs; i < xs + xm; ++i) {
    MatStencil row{}, cols[3]{};
    row.i = i;
    cols[0].i = i - 1, cols[1].i = i, cols[2].i = i + 1;
    PetscScalar v[3];
    row_values(x, i, v);
    PetscCall(MatSetValuesStencil(P, 1, &row, 3, cols, v, INSERT_VALUES));
  }
  PetscCall(DMDAVecRestoreArrayRead(dm, local, &x));
  PetscCall(DMRestoreLocalVector(dm, &local));
  return finish_jacobian(J, P);
}

PetscErrorCode burgers_jacobian(TS, PetscReal, Vec u, Vec, PetscReal shift, Mat J, Mat P,
                                void* raw) {
  auto& ctx = *static_cast<BurgersContext*>(raw);
  const double inv_2h = 0.5 / ctx.h, nu_h2 = ctx.nu / (ctx.h * ctx.h);
  // d q(u)/du = u.
  return periodic_tridiagonal_jacobian(ctx.dm, u, J, P,
                                       [&](const PetscScalar* x, PetscInt i, PetscScalar* v) {
                                         v[0] = -x[i - 1] * inv_2h - nu_h2;
                                         v[1] = shift + 2.0 * nu_h2;
                                         v[2] = x[i + 1] * inv_2h - nu_h2;
                                       });
}

// ------------------------------------------------------------------------------ convection
// Linear convection–diffusion with central differences on a periodic grid:
//   F_i = u_t,i + c (u_{i+1} − u_{i−1}) / 2h − ν (u_{i+1} − 2u_i + u_{i−1}) / h².
// Central (not upwind) differences: no numerical diffusion, so a smooth wave keeps its
// amplitude; the phase error (kh)²/6 per unit of c k t sets the grid the cases use.
struct ConvectionContext {
  DM dm;
  double h, speed, nu;
};

PetscErrorCode convection_residual(TS, PetscReal, Vec u, Vec u_t, Vec F, void* raw) {
  auto& ctx = *static_cast<ConvectionContext*>(raw);
  const double inv_2h = 0.5 / ctx.h, inv_h2 = 1.0 / (ctx.h * ctx.h);
  return residual_1d<PetscScalar>(
      ctx.dm, u, u_t, F,
      [&](const PetscScalar* x, const PetscScalar* xt, PetscScalar* f, PetscInt xs, PetscInt xm) {
        for (PetscInt i = xs; i < xs + xm; ++i)
          f[i] = pde::convection_residual(xt[i], ctx.speed, (x[i + 1] - x[i - 1]) * inv_2h, ctx.nu,
                                          (x[i + 1] - 2.0 * x[i] + x[i - 1]) * inv_h2);
      });
}

// The tridiagonal [−c/2h − ν/h², shift + 2ν/h², c/2h − ν/h²] (constant: the problem is linear).
PetscErrorCode convection_jacobian(TS, PetscReal, Vec u, Vec, PetscReal shift, Mat J, Mat P,
                                   void* raw) {
  auto& ctx = *static_cast<ConvectionContext*>(raw);
  const double c_2h = 0.5 * ctx.speed / ctx.h, nu_h2 = ctx.nu / (ctx.h * ctx.h);
  return periodic_tridiagonal_jacobian(ctx.dm, u, J, P,
                                       [&](const PetscScalar*, PetscInt, PetscScalar* v) {
                                         v[0] = -c_2h - nu_h2;
                                         v[1] = shift + 2.0 * nu_h2;
                                         v[2] = c_2h - nu_h2;
                                       });
}

// ------------------------------------------------------------------------------ Allen–Cahn
// Central differences on a periodic grid, the reaction taken pointwise:
//   F_i = u_t,i - ε (u_{i+1} - 2u_i + u_{i-1}) / h² + r (u_i³ - u_i) - f_i(t).
// The source f (zero for the benchmark, non-zero for manufactured solutions) is re-evaluated
// only when it depends on t.
struct AllenCahnContext {
  DM dm;
  const mesh::StructuredGrid* grid = nullptr;
  const config::PdeSpec* pde = nullptr;
  std::vector<double> source;  // owned box of f at source_time
  double source_time = NAN;

  const std::vector<double>& source_at(double t) {
    if (std::isnan(source_time) || (pde->source->uses_time() && source_time != t)) {
      source = pde::evaluate(*grid, *pde->source, t);
      source_time = t;
    }
    return source;
  }
};

PetscErrorCode allen_cahn_residual(TS, PetscReal t, Vec u, Vec u_t, Vec F, void* raw) {
  auto& ctx = *static_cast<AllenCahnContext*>(raw);
  const std::vector<double>* source = nullptr;
  try {
    source = &ctx.source_at(t);
  } catch (const std::exception&) {
    return PETSC_ERR_LIB;
  }
  const double h = ctx.grid->shape().spacing(0), inv_h2 = 1.0 / (h * h);
  return residual_1d<PetscScalar>(
      ctx.dm, u, u_t, F,
      [&](const PetscScalar* x, const PetscScalar* xt, PetscScalar* f, PetscInt xs, PetscInt xm) {
        for (PetscInt i = xs; i < xs + xm; ++i) {
          const double u_xx = (x[i + 1] - 2.0 * x[i] + x[i - 1]) * inv_h2;
          f[i] = pde::allen_cahn_residual(xt[i], x[i], ctx.pde->epsilon, u_xx, ctx.pde->reaction,
                                          (*source)[i - xs]);
        }
      });
}

// dF_i/du_j + shift dF_i/du_t,j: the tridiagonal [-ε/h², shift + 2ε/h² + r(3u_i² - 1), -ε/h²].
PetscErrorCode allen_cahn_jacobian(TS, PetscReal, Vec u, Vec, PetscReal shift, Mat J, Mat P,
                                   void* raw) {
  auto& ctx = *static_cast<AllenCahnContext*>(raw);
  const double h = ctx.grid->shape().spacing(0), eps_h2 = ctx.pde->epsilon / (h * h);
  return periodic_tridiagonal_jacobian(
      ctx.dm, u, J, P, [&](const PetscScalar* x, PetscInt i, PetscScalar* v) {
        // ∂r/∂u of the pointwise residual (its u_xx and u_t partials are the stencil and shift).
        const double reaction =
            pde::allen_cahn_residual_fwd(x[i], ctx.pde->epsilon, ctx.pde->reaction).u;
        v[0] = -eps_h2;
        v[1] = shift + 2.0 * eps_h2 + reaction;
        v[2] = -eps_h2;
      });
}

// ------------------------------------------------------------------------------------- wave
// u_tt = c² u_xx + f as a first-order system in (u, v = u_t), two dofs per node of a DMDA with
// the grid's decomposition:
//   interior  F_u = u_t - v,   F_v = v_t - c² (u_{i+1} - 2u_i + u_{i-1}) / h² - f_i(t)
//   ends      F_u = u - g(t),  F_v = v - u_t    (Dirichlet; v follows the boundary data)
// Linear: each implicit stage is one KSP solve. Crank–Nicolson conserves the discrete energy.
struct WaveNode {
  PetscScalar u, v;
};

struct WaveContext {
  petsc::DM dm;  // dof 2, same ownership as the grid's DMDA
  const mesh::StructuredGrid* grid = nullptr;
  const config::PdeSpec* pde = nullptr;
  std::vector<double> source, boundary;  // owned boxes of f and g at data_time
  double data_time = NAN;

  void data_at(double t) {
    const bool time_dependent = pde->source->uses_time() || pde->boundary->uses_time();
    if (!std::isnan(data_time) && (!time_dependent || data_time == t)) return;
    source = pde::evaluate(*grid, *pde->source, t);
    boundary = pde::evaluate(*grid, *pde->boundary, t);
    data_time = t;
  }
  bool on_boundary(PetscInt i) const { return grid->shape().on_boundary(i, 0, 0); }
};

void create_wave_dm(const mesh::StructuredGrid& grid, petsc::DM& dm) {
  const PetscInt* owned;
  KARMAN_PETSC(DMDAGetOwnershipRanges(detail::dm_of(grid), &owned, nullptr, nullptr));
  KARMAN_PETSC(
      DMDACreate1d(grid.comm(), DM_BOUNDARY_NONE, grid.shape().n[0], 2, 1, owned, dm.out()));
  KARMAN_PETSC(DMSetUp(dm));
}

PetscErrorCode wave_residual(TS, PetscReal t, Vec U, Vec U_t, Vec F, void* raw) {
  auto& ctx = *static_cast<WaveContext*>(raw);
  try {
    ctx.data_at(t);
  } catch (const std::exception&) {
    return PETSC_ERR_LIB;
  }
  const double h = ctx.grid->shape().spacing(0), inv_h2 = 1.0 / (h * h);
  return residual_1d<WaveNode>(
      ctx.dm, U, U_t, F,
      [&](const WaveNode* x, const WaveNode* xt, WaveNode* f, PetscInt xs, PetscInt xm) {
        for (PetscInt i = xs; i < xs + xm; ++i) {
          if (ctx.on_boundary(i)) {
            f[i].u = x[i].u - ctx.boundary[i - xs];
            f[i].v = x[i].v - xt[i].u;
            continue;
          }
          const double u_xx = (x[i + 1].u - 2.0 * x[i].u + x[i - 1].u) * inv_h2;
          f[i].u = xt[i].u - x[i].v;
          f[i].v = pde::wave_residual(xt[i].v, ctx.pde->speed, u_xx, ctx.source[i - xs]);
        }
      });
}

PetscErrorCode wave_jacobian(TS, PetscReal, Vec, Vec, PetscReal shift, Mat J, Mat P, void* raw) {
  auto& ctx = *static_cast<WaveContext*>(raw);
  PetscInt xs, xm;
  PetscCall(DMDAGetCorners(ctx.dm, &xs, nullptr, nullptr, &xm, nullptr, nullptr));
  const double h = ctx.grid->shape().spacing(0);
  const double c2_h2 = ctx.pde->speed * ctx.pde->speed / (h * h);
  constexpr PetscInt U = 0, V = 1;
  auto node = [](PetscInt i, PetscInt c) {
    MatStencil s{};
    s.i = i, s.c = c;
    return s;
  };
  for (PetscInt i = xs; i < xs + xm; ++i) {
    const MatStencil row_u = node(i, U), row_v = node(i, V);
    if (ctx.on_boundary(i)) {
      const MatStencil cols_v[2] = {node(i, U), node(i, V)};
      const PetscScalar one = 1.0, vals_v[2] = {-shift, 1.0};
      PetscCall(MatSetValuesStencil(P, 1, &row_u, 1, &row_u, &one, INSERT_VALUES));
      PetscCall(MatSetValuesStencil(P, 1, &row_v, 2, cols_v, vals_v, INSERT_VALUES));
      continue;
    }
    const MatStencil cols_u[2] = {node(i, U), node(i, V)};
    const PetscScalar vals_u[2] = {shift, -1.0};
    const MatStencil cols_v[4] = {node(i - 1, U), node(i, U), node(i + 1, U), node(i, V)};
    const PetscScalar vals_v[4] = {-c2_h2, 2.0 * c2_h2, -c2_h2, shift};
    PetscCall(MatSetValuesStencil(P, 1, &row_u, 2, cols_u, vals_u, INSERT_VALUES));
    PetscCall(MatSetValuesStencil(P, 1, &row_v, 4, cols_v, vals_v, INSERT_VALUES));
  }
  return finish_jacobian(J, P);
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
  const ScopedStage timed_stage(Stage::baseline, Stage::data);  // data-set solves count as data
  KARMAN_VERIFY(pde.time_dependent(), "solve_transient: steady PDE");
  // Second order in time (the wave equation): the state is (u, u_t) at every node.
  const bool wave = config::traits(pde.type).second_order_in_time;
  DM dm = detail::dm_of(grid);
  TransientResult result;
  Timer setup_timer;

  // The TS state lives on the grid's DMDA, except for the wave equation's (u, u_t) pairs.
  WaveContext wave_ctx;
  wave_ctx.grid = &grid;
  wave_ctx.pde = &pde;
  if (wave) create_wave_dm(grid, wave_ctx.dm);
  DM state_dm = wave ? static_cast<DM>(wave_ctx.dm) : dm;

  petsc::TS ts;
  petsc::Mat J;
  petsc::Vec u, field;  // the TS state; u alone on the grid's DMDA
  KARMAN_PETSC(TSCreate(grid.comm(), ts.out()));
  KARMAN_PETSC(TSSetDM(ts, state_dm));
  KARMAN_PETSC(DMCreateMatrix(state_dm, J.out()));
  KARMAN_PETSC(DMCreateGlobalVector(state_dm, u.out()));
  KARMAN_PETSC(DMCreateGlobalVector(dm, field.out()));
  detail::to_petsc(initial, field);
  if (wave) {
    KARMAN_PETSC(VecStrideScatter(field, 0, u, INSERT_VALUES));
    detail::to_petsc(pde::evaluate(grid, *pde.initial_velocity), field);
    KARMAN_PETSC(VecStrideScatter(field, 1, u, INSERT_VALUES));
  } else {
    KARMAN_PETSC(VecCopy(field, u));
  }
  // u(·, t) out of the state, as an owned box.
  auto state_field = [&]() {
    if (!wave) return detail::from_petsc(u);
    KARMAN_PETSC(VecStrideGather(u, 0, field, INSERT_VALUES));
    return detail::from_petsc(field);
  };

  HeatContext heat;
  heat.grid = &grid;
  heat.pde = &pde;
  BurgersContext burgers{dm, grid.shape().spacing(0), pde.nu};
  ConvectionContext convection{dm, grid.shape().spacing(0), pde.speed, pde.nu};
  AllenCahnContext allen_cahn;
  allen_cahn.dm = dm;
  allen_cahn.grid = &grid;
  allen_cahn.pde = &pde;
  const bool linear = config::traits(pde.type).linear;
  KARMAN_PETSC(TSSetProblemType(ts, linear ? TS_LINEAR : TS_NONLINEAR));
  switch (pde.type) {
    case config::PdeType::heat: {
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
      KARMAN_PETSC(TSSetIFunction(ts, nullptr, heat_residual, &heat));
      KARMAN_PETSC(TSSetIJacobian(ts, J, J, heat_jacobian, &heat));
      break;
    }
    case config::PdeType::burgers:
      KARMAN_PETSC(TSSetIFunction(ts, nullptr, burgers_residual, &burgers));
      KARMAN_PETSC(TSSetIJacobian(ts, J, J, burgers_jacobian, &burgers));
      break;
    case config::PdeType::convection:
      KARMAN_PETSC(TSSetIFunction(ts, nullptr, convection_residual, &convection));
      KARMAN_PETSC(TSSetIJacobian(ts, J, J, convection_jacobian, &convection));
      break;
    case config::PdeType::allen_cahn:
      KARMAN_PETSC(TSSetIFunction(ts, nullptr, allen_cahn_residual, &allen_cahn));
      KARMAN_PETSC(TSSetIJacobian(ts, J, J, allen_cahn_jacobian, &allen_cahn));
      break;
    case config::PdeType::wave:
      KARMAN_PETSC(TSSetIFunction(ts, nullptr, wave_residual, &wave_ctx));
      KARMAN_PETSC(TSSetIJacobian(ts, J, J, wave_jacobian, &wave_ctx));
      break;
    default:
      KARMAN_VERIFY(false, std::string("solve_transient: no time stepper for ") +
                               config::to_string(pde.type));
  }
  detail::set_ts_scheme(ts, time.scheme);
  KARMAN_PETSC(TSSetTime(ts, 0.0));
  KARMAN_PETSC(TSSetTimeStep(ts, time.dt));
  KARMAN_PETSC(TSSetExactFinalTime(ts, TS_EXACTFINALTIME_STEPOVER));

  SNES snes;
  KSP ksp;
  KARMAN_PETSC(TSGetSNES(ts, &snes));
  if (linear) KARMAN_PETSC(SNESSetType(snes, SNESKSPONLY));
  KARMAN_PETSC(SNESGetKSP(snes, &ksp));
  petsc::configure_ksp(ksp, solver);
  petsc::from_options([&] { KARMAN_PETSC(TSSetFromOptions(ts)); });
  detail::prefer_mumps(ksp);
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
    if (!detail::advance_ts(ts, u, t_previous, times[s], time.dt, steps_done, result.stats)) break;
    t_previous = times[s];
    if (on_snapshot && time.snapshots > 0) {
      result.stats.solve_s += solve_timer.seconds();
      on_snapshot(static_cast<long>(s + 1), times[s], state_field());
      solve_timer.reset();
    }
  }
  result.stats.solve_s += solve_timer.seconds();

  const double t = detail::record_ts(ts, ksp, solver, result.stats);
  result.time = t;
  result.u = state_field();
  return result;
}

}  // namespace karman::solvers
