#include "karman/solvers/navier_stokes.hpp"

#include <fmt/format.h>
#include <petscdmda.h>
#include <petscsnes.h>

#include <array>
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

// The unknowns at a node, in DMDA dof order. Vectors of the same two-dof DMDA also carry nodal
// vector fields (velocity, pressure gradient) as NodalVector.
struct FlowNode {
  PetscScalar psi, omega;
};
struct NodalVector {
  PetscScalar x, y;
};

// ------------------------------------------------------------------ boundary streamfunction
// ψ on the perimeter from dψ = ψ_x dx + ψ_y dy = −v dx + u dy, integrated counter-clockwise from
// the corner (lower x, lower y) with 5-point Gauss–Legendre on each segment between neighbouring
// nodes: exact to round-off for smooth data, and the velocity is never sampled at a node, so a
// jump at a corner (the cavity's lid) does not enter ψ_b.
class BoundaryStreamfunction {
 public:
  BoundaryStreamfunction(const mesh::GridShape& g, const Expression& u, const Expression& v)
      : m_nx(g.n[0]), m_ny(g.n[1]), m_bottom(m_nx), m_top(m_nx), m_left(m_ny), m_right(m_ny) {
    std::vector<std::array<long, 2>> path;  // perimeter nodes, back to the start
    for (long i = 0; i < m_nx; ++i) path.push_back({i, 0});
    for (long j = 1; j < m_ny; ++j) path.push_back({m_nx - 1, j});
    for (long i = m_nx - 2; i >= 0; --i) path.push_back({i, m_ny - 1});
    for (long j = m_ny - 2; j >= 0; --j) path.push_back({0, j});
    // Gauss–Legendre on [0, 1].
    constexpr std::array<double, 5> xi{0.0, -0.5384693101056831, 0.5384693101056831,
                                       -0.9061798459386640, 0.9061798459386640};
    constexpr std::array<double, 5> w{0.5688888888888889, 0.4786286704993665, 0.4786286704993665,
                                      0.2369268850561891, 0.2369268850561891};
    double psi = 0.0;
    set(path[0], psi);
    for (std::size_t k = 1; k < path.size(); ++k) {
      const double xa = g.coordinate(0, path[k - 1][0]), ya = g.coordinate(1, path[k - 1][1]);
      const double dx = g.coordinate(0, path[k][0]) - xa, dy = g.coordinate(1, path[k][1]) - ya;
      double flux = 0.0, magnitude = 0.0;
      for (std::size_t q = 0; q < xi.size(); ++q) {
        const double s = 0.5 * (1.0 + xi[q]), x = xa + s * dx, y = ya + s * dy;
        const double integrand = -v(x, y) * dx + u(x, y) * dy;  // u·n ds, n outward
        flux += 0.5 * w[q] * integrand;
        magnitude += 0.5 * w[q] * std::abs(integrand);
      }
      psi += flux;
      m_total_flux += magnitude;
      if (k + 1 < path.size()) set(path[k], psi);
    }
    m_net_outflow = psi;  // ∮ u·n ds: the mismatch on returning to the start
  }

  double operator()(long i, long j) const {
    if (j == 0) return m_bottom[i];
    if (j == m_ny - 1) return m_top[i];
    return i == 0 ? m_left[j] : m_right[j];
  }
  double net_outflow() const { return m_net_outflow; }
  double total_flux() const { return m_total_flux; }  // ∮ |u·n| ds

 private:
  void set(const std::array<long, 2>& node, double psi) {
    const auto [i, j] = node;
    if (j == 0) m_bottom[i] = psi;
    if (j == m_ny - 1) m_top[i] = psi;
    if (i == 0) m_left[j] = psi;
    if (i == m_nx - 1) m_right[j] = psi;
  }

  long m_nx, m_ny;
  std::vector<double> m_bottom, m_top, m_left, m_right;
  double m_net_outflow = 0.0, m_total_flux = 0.0;
};

// ---------------------------------------------------------------------------------- residual
// What the residual needs besides the state: the grid, ν, ψ_b and the boundary velocity at the
// owned nodes (owned-box storage order of the grid).
struct FlowContext {
  mesh::GridShape shape;
  double nu;
  BoundaryStreamfunction psi_b;
  std::array<long, 3> start, count;
  std::vector<double> u_b, v_b;

  std::size_t owned_index(PetscInt i, PetscInt j) const {
    return static_cast<std::size_t>((j - start[1]) * count[0] + (i - start[0]));
  }
};

// ψ_ss at a boundary node along a direction s that points into the domain with `side` = ±1 from
// it, by Briley's formula: eliminating ψ_sss from the Taylor expansions of ψ at one and two steps
// in gives the second-order
//   ψ_ss ≈ (8ψ_1 − ψ_2 − 7ψ_0 − 6h ψ_n) / (2h²),  ψ_n = side·ψ_s the inward slope (from the data).
double briley_second_derivative(double psi0, double psi1, double psi2, double inward_slope,
                                double h) {
  return (8.0 * psi1 - psi2 - 7.0 * psi0 - 6.0 * h * inward_slope) / (2.0 * h * h);
}

// ψ_xx and ψ_yy at node (i, j): Briley across a boundary the node lies on, central otherwise.
// ψ_x = −v and ψ_y = u on the boundary come from the data.
std::array<double, 2> streamfunction_curvature(const FlowContext& ctx, const FlowNode* const* x,
                                               PetscInt i, PetscInt j) {
  const long nx = ctx.shape.n[0], ny = ctx.shape.n[1];
  const double hx = ctx.shape.spacing(0), hy = ctx.shape.spacing(1);
  const std::size_t p = ctx.owned_index(i, j);
  const double psi_x = -ctx.v_b[p], psi_y = ctx.u_b[p];
  double xx, yy;
  if (i == 0)
    xx = briley_second_derivative(x[j][i].psi, x[j][i + 1].psi, x[j][i + 2].psi, psi_x, hx);
  else if (i == nx - 1)
    xx = briley_second_derivative(x[j][i].psi, x[j][i - 1].psi, x[j][i - 2].psi, -psi_x, hx);
  else
    xx = (x[j][i + 1].psi - 2.0 * x[j][i].psi + x[j][i - 1].psi) / (hx * hx);
  if (j == 0)
    yy = briley_second_derivative(x[j][i].psi, x[j + 1][i].psi, x[j + 2][i].psi, psi_y, hy);
  else if (j == ny - 1)
    yy = briley_second_derivative(x[j][i].psi, x[j - 1][i].psi, x[j - 2][i].psi, -psi_y, hy);
  else
    yy = (x[j + 1][i].psi - 2.0 * x[j][i].psi + x[j - 1][i].psi) / (hy * hy);
  return {xx, yy};
}

// F(ψ, ω) on the owned nodes; x has ghosts of width 2 (Briley reaches two nodes in). Rows are
// scaled by hx·hy (the ω-transport rows also by 1/ν) so that all have O(1) coefficients.
PetscErrorCode flow_residual(DMDALocalInfo* info, void* x_raw, void* f_raw, void* ctx_raw) {
  const auto& ctx = *static_cast<const FlowContext*>(ctx_raw);
  const auto* const* x = static_cast<const FlowNode* const*>(x_raw);
  auto** f = static_cast<FlowNode**>(f_raw);
  const double hx = ctx.shape.spacing(0), hy = ctx.shape.spacing(1), area = hx * hy;
  for (PetscInt j = info->ys; j < info->ys + info->ym; ++j)
    for (PetscInt i = info->xs; i < info->xs + info->xm; ++i) {
      const FlowNode& c = x[j][i];
      const auto [psi_xx, psi_yy] = streamfunction_curvature(ctx, x, i, j);
      if (ctx.shape.on_boundary(i, j, 0)) {
        f[j][i].psi = c.psi - ctx.psi_b(i, j);
        f[j][i].omega = (c.omega + psi_xx + psi_yy) * area;  // ω = −Δψ with the wall formula
        continue;
      }
      const FlowNode &w = x[j][i - 1], &e = x[j][i + 1], &s = x[j - 1][i], &n = x[j + 1][i];
      const double u = (n.psi - s.psi) / (2.0 * hy), v = -(e.psi - w.psi) / (2.0 * hx);
      const double omega_x = (e.omega - w.omega) / (2.0 * hx);
      const double omega_y = (n.omega - s.omega) / (2.0 * hy);
      const double laplacian_omega = (e.omega - 2.0 * c.omega + w.omega) / (hx * hx) +
                                     (n.omega - 2.0 * c.omega + s.omega) / (hy * hy);
      f[j][i].psi = pde::streamfunction_residual(psi_xx + psi_yy, c.omega) * area;
      f[j][i].omega =
          pde::vorticity_transport_residual(u, v, omega_x, omega_y, ctx.nu, laplacian_omega) *
          area / ctx.nu;
    }
  return 0;
}

// ------------------------------------------------------------------------------------ set-up
FlowContext make_context(const mesh::StructuredGrid& grid, const config::PdeSpec& pde) {
  FlowContext ctx{grid.shape(),
                  pde.nu,
                  BoundaryStreamfunction(grid.shape(), pde.velocity[0], pde.velocity[1]),
                  grid.start(),
                  grid.count(),
                  pde::evaluate(grid, pde.velocity[0]),
                  pde::evaluate(grid, pde.velocity[1])};
  const double net = ctx.psi_b.net_outflow(), total = ctx.psi_b.total_flux();
  if (std::abs(net) > 1e-6 * total)
    throw ConfigError(pde.velocity_place,
                      fmt::format("pde.velocity: the boundary velocity has a net outflow of {:.6g} "
                                  "(of {:.6g} through the boundary); an incompressible flow "
                                  "needs zero",
                                  net, total));
  return ctx;
}

// The grid's decomposition with two dofs and ghosts of width 2, so that every rank owns exactly
// the grid's owned box and fields move between the two DMDAs without communication.
void create_flow_dm(const mesh::StructuredGrid& grid, petsc::DM& dm) {
  DM scalar = detail::dm_of(grid);
  PetscInt ranks_x, ranks_y;
  const PetscInt *nodes_x, *nodes_y;
  KARMAN_PETSC(DMDAGetInfo(scalar, nullptr, nullptr, nullptr, nullptr, &ranks_x, &ranks_y, nullptr,
                           nullptr, nullptr, nullptr, nullptr, nullptr, nullptr));
  KARMAN_PETSC(DMDAGetOwnershipRanges(scalar, &nodes_x, &nodes_y, nullptr));
  KARMAN_PETSC(DMDACreate2d(grid.comm(), DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR,
                            grid.shape().n[0], grid.shape().n[1], ranks_x, ranks_y, 2, 2, nodes_x,
                            nodes_y, dm.out()));
  KARMAN_PETSC(DMSetUp(dm));
  KARMAN_PETSC(DMDASetFieldName(dm, 0, "streamfunction"));
  KARMAN_PETSC(DMDASetFieldName(dm, 1, "vorticity"));
}

// ψ = ψ_b on the boundary, ψ = ω = 0 inside.
void initial_guess(DM dm, const FlowContext& ctx, Vec X) {
  FlowNode** x;
  DMDALocalInfo info;
  KARMAN_PETSC(DMDAGetLocalInfo(dm, &info));
  KARMAN_PETSC(VecSet(X, 0.0));
  KARMAN_PETSC(DMDAVecGetArray(dm, X, &x));
  for (PetscInt j = info.ys; j < info.ys + info.ym; ++j)
    for (PetscInt i = info.xs; i < info.xs + info.xm; ++i)
      if (ctx.shape.on_boundary(i, j, 0)) x[j][i].psi = ctx.psi_b(i, j);
  KARMAN_PETSC(DMDAVecRestoreArray(dm, X, &x));
}

// ------------------------------------------------------------------------ derived fields
// d/ds of a nodal field along one grid line at index k of n: central inside, the second-order
// one-sided difference at the ends. `f(m)` is the field at index m on the line.
template <class F>
double nodal_derivative(F&& f, PetscInt k, long n, double h) {
  if (k == 0) return (-3.0 * f(0) + 4.0 * f(1) - f(2)) / (2.0 * h);
  if (k == n - 1) return (3.0 * f(k) - 4.0 * f(k - 1) + f(k - 2)) / (2.0 * h);
  return (f(k + 1) - f(k - 1)) / (2.0 * h);
}

// Velocity at the owned nodes: the data on the boundary, u = ψ_y, v = −ψ_x (central) inside.
void compute_velocity(DM dm, const FlowContext& ctx, Vec X_local, Vec V) {
  const FlowNode* const* x;
  NodalVector** vel;
  DMDALocalInfo info;
  const double hx = ctx.shape.spacing(0), hy = ctx.shape.spacing(1);
  KARMAN_PETSC(DMDAGetLocalInfo(dm, &info));
  KARMAN_PETSC(DMDAVecGetArrayRead(dm, X_local, &x));
  KARMAN_PETSC(DMDAVecGetArray(dm, V, &vel));
  for (PetscInt j = info.ys; j < info.ys + info.ym; ++j)
    for (PetscInt i = info.xs; i < info.xs + info.xm; ++i) {
      if (ctx.shape.on_boundary(i, j, 0)) {
        vel[j][i] = {ctx.u_b[ctx.owned_index(i, j)], ctx.v_b[ctx.owned_index(i, j)]};
        continue;
      }
      vel[j][i] = {(x[j + 1][i].psi - x[j - 1][i].psi) / (2.0 * hy),
                   -(x[j][i + 1].psi - x[j][i - 1].psi) / (2.0 * hx)};
    }
  KARMAN_PETSC(DMDAVecRestoreArray(dm, V, &vel));
  KARMAN_PETSC(DMDAVecRestoreArrayRead(dm, X_local, &x));
}

// ∇p at the owned nodes from the momentum equation with Δu = −ω_y, Δv = ω_x (equations.hpp).
void compute_pressure_gradient(DM dm, const FlowContext& ctx, Vec X_local, Vec V_local, Vec G) {
  const FlowNode* const* x;
  const NodalVector* const* vel;
  NodalVector** grad;
  DMDALocalInfo info;
  const long nx = ctx.shape.n[0], ny = ctx.shape.n[1];
  const double hx = ctx.shape.spacing(0), hy = ctx.shape.spacing(1);
  KARMAN_PETSC(DMDAGetLocalInfo(dm, &info));
  KARMAN_PETSC(DMDAVecGetArrayRead(dm, X_local, &x));
  KARMAN_PETSC(DMDAVecGetArrayRead(dm, V_local, &vel));
  KARMAN_PETSC(DMDAVecGetArray(dm, G, &grad));
  for (PetscInt j = info.ys; j < info.ys + info.ym; ++j)
    for (PetscInt i = info.xs; i < info.xs + info.xm; ++i) {
      auto along_x = [&](auto field) {
        return nodal_derivative([&](PetscInt m) { return field(m, j); }, i, nx, hx);
      };
      auto along_y = [&](auto field) {
        return nodal_derivative([&](PetscInt m) { return field(i, m); }, j, ny, hy);
      };
      auto u = [&](PetscInt a, PetscInt b) { return vel[b][a].x; };
      auto v = [&](PetscInt a, PetscInt b) { return vel[b][a].y; };
      auto omega = [&](PetscInt a, PetscInt b) { return x[b][a].omega; };
      pde::VelocityJet q;
      q.u = vel[j][i].x;
      q.v = vel[j][i].y;
      q.u_x = along_x(u);
      q.u_y = along_y(u);
      q.v_x = along_x(v);
      q.v_y = along_y(v);
      q.laplacian_u = -along_y(omega);
      q.laplacian_v = along_x(omega);
      grad[j][i] = {-pde::momentum_x_residual(q, 0.0, ctx.nu),
                    -pde::momentum_y_residual(q, 0.0, ctx.nu)};
    }
  KARMAN_PETSC(DMDAVecRestoreArray(dm, G, &grad));
  KARMAN_PETSC(DMDAVecRestoreArrayRead(dm, V_local, &vel));
  KARMAN_PETSC(DMDAVecRestoreArrayRead(dm, X_local, &x));
}

// The pressure-Poisson problem ∇·∇p = ∇·G with ∂p/∂n = G·n, vertex-centred finite volumes: each
// node's dual cell (half or quarter cells at the boundary) balances the fluxes through its faces,
//   Σ_faces len (p_c − p_nb)/h = −Σ_faces len (G_c + G_nb)/2 · e_(c→nb),
// the boundary faces carrying the Neumann data exactly (their flux terms cancel). A is symmetric
// positive semi-definite with the constants as null space; the right-hand side sums to zero.
void assemble_pressure_problem(const mesh::StructuredGrid& grid, DM flow_dm, Vec G_local,
                               petsc::Mat& A, Vec b) {
  DM dm = detail::dm_of(grid);
  const mesh::GridShape& shape = grid.shape();
  const std::array<double, 2> h{shape.spacing(0), shape.spacing(1)};
  const NodalVector* const* grad;
  PetscScalar** rhs;
  KARMAN_PETSC(DMCreateMatrix(dm, A.out()));
  KARMAN_PETSC(DMDAVecGetArrayRead(flow_dm, G_local, &grad));
  KARMAN_PETSC(DMDAVecGetArray(dm, b, &rhs));
  const auto& s = grid.start();
  const auto& c = grid.count();
  for (PetscInt j = s[1]; j < s[1] + c[1]; ++j)
    for (PetscInt i = s[0]; i < s[0] + c[0]; ++i) {
      const std::array<PetscInt, 2> node{i, j};
      MatStencil row{}, cols[5]{};
      PetscScalar vals[5] = {0.0};
      row.i = i, row.j = j;
      cols[0] = row;
      int n = 1;
      rhs[j][i] = 0.0;
      for (int d = 0; d < 2; ++d) {
        const int other = 1 - d;
        const bool on_other_boundary = node[other] == 0 || node[other] == shape.n[other] - 1;
        const double length = h[other] * (on_other_boundary ? 0.5 : 1.0);
        for (int side : {-1, 1}) {
          std::array<PetscInt, 2> nb = node;
          nb[d] += side;
          if (nb[d] < 0 || nb[d] >= shape.n[d]) continue;  // a boundary face: Neumann, no term
          const double a = length / h[d];
          const NodalVector &gc = grad[j][i], &gn = grad[nb[1]][nb[0]];
          const double g_face = 0.5 * (d == 0 ? gc.x + gn.x : gc.y + gn.y);
          vals[0] += a;
          cols[n] = row;
          cols[n].i = nb[0], cols[n].j = nb[1];
          vals[n++] = -a;
          rhs[j][i] -= length * side * g_face;
        }
      }
      KARMAN_PETSC(MatSetValuesStencil(A, 1, &row, n, cols, vals, INSERT_VALUES));
    }
  KARMAN_PETSC(DMDAVecRestoreArray(dm, b, &rhs));
  KARMAN_PETSC(DMDAVecRestoreArrayRead(flow_dm, G_local, &grad));
  KARMAN_PETSC(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  KARMAN_PETSC(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
}

// p with zero node mean; returns the KSP iterations.
long solve_pressure(const mesh::StructuredGrid& grid, DM flow_dm, Vec G_local, double rtol,
                    std::vector<double>& p) {
  DM dm = detail::dm_of(grid);
  petsc::Mat A;
  petsc::Vec b, x;
  petsc::MatNullSpace constants;
  KARMAN_PETSC(DMCreateGlobalVector(dm, b.out()));
  KARMAN_PETSC(VecDuplicate(b, x.out()));
  assemble_pressure_problem(grid, flow_dm, G_local, A, b);
  KARMAN_PETSC(MatNullSpaceCreate(grid.comm(), PETSC_TRUE, 0, nullptr, constants.out()));
  KARMAN_PETSC(MatSetNullSpace(A, constants));
  KARMAN_PETSC(MatNullSpaceRemove(constants, b));
  // CG + GAMG; -pressure_ksp_monitor, -pressure_pc_type hypre and the like reach it.
  petsc::KSP ksp = petsc::make_ksp(grid.comm(), A, petsc::solver(KSPCG, PCGAMG, rtol), "pressure_");
  KARMAN_PETSC(KSPSolve(ksp, b, x));
  KSPConvergedReason reason;
  PetscInt iterations;
  KARMAN_PETSC(KSPGetConvergedReason(ksp, &reason));
  KARMAN_PETSC(KSPGetIterationNumber(ksp, &iterations));
  if (reason < 0)
    throw ExternalError(
        "PETSc", static_cast<int>(reason),
        std::string("pressure solve did not converge: ") + KSPConvergedReasons[reason]);
  PetscScalar sum;
  KARMAN_PETSC(VecSum(x, &sum));
  KARMAN_PETSC(VecShift(x, -sum / static_cast<double>(grid.shape().size())));
  p = detail::from_petsc(x);
  return iterations;
}

// Component `k` of a two-dof global vector as an owned-box vector.
std::vector<double> component(Vec X, int k) {
  const auto both = detail::from_petsc(X);
  std::vector<double> out(both.size() / 2);
  for (std::size_t n = 0; n < out.size(); ++n) out[n] = both[2 * n + k];
  return out;
}

void record_newton(SNES snes, KSP ksp, SolveStats& stats) {
  SNESConvergedReason reason;
  SNESType type;
  PetscInt newton, linear;
  PetscReal norm;
  KARMAN_PETSC(SNESGetConvergedReason(snes, &reason));
  KARMAN_PETSC(SNESGetType(snes, &type));
  KARMAN_PETSC(SNESGetIterationNumber(snes, &newton));
  KARMAN_PETSC(SNESGetLinearSolveIterations(snes, &linear));
  KARMAN_PETSC(SNESGetFunctionNorm(snes, &norm));
  detail::record_ksp(ksp, stats);
  stats.snes = type;
  stats.nonlinear_iterations = newton;
  stats.iterations = linear;
  stats.residual_norm = norm;
  stats.converged = reason > 0;
  stats.reason = SNESConvergedReasons[reason];
}

}  // namespace

NavierStokesResult solve_navier_stokes(const mesh::StructuredGrid& grid, const config::PdeSpec& pde,
                                       const config::SolverSpec& solver) {
  const ScopedStage timed_stage(Stage::baseline, Stage::data);  // data-set solves count as data
  KARMAN_VERIFY(pde.type == config::PdeType::navier_stokes && grid.shape().dim == 2 &&
                    pde.velocity.size() == 2,
                "solve_navier_stokes: a 2D navier_stokes problem is required");
  NavierStokesResult result;
  Timer setup_timer;
  const FlowContext ctx = make_context(grid, pde);
  petsc::DM dm;
  create_flow_dm(grid, dm);

  petsc::SNES snes;
  petsc::Vec X;
  KARMAN_PETSC(SNESCreate(grid.comm(), snes.out()));
  KARMAN_PETSC(SNESSetDM(snes, dm));
  KARMAN_PETSC(
      DMDASNESSetFunctionLocal(dm, INSERT_VALUES, flow_residual, const_cast<FlowContext*>(&ctx)));
  // No Jacobian routine: with a DM, SNES then builds the Jacobian by finite differences, one
  // residual evaluation per colour of the DMDA stencil (SNESComputeJacobianDefaultColor).
  KARMAN_PETSC(SNESSetTolerances(snes, solver.atol, solver.rtol, PETSC_DEFAULT, 50, PETSC_DEFAULT));
  KSP ksp;
  KARMAN_PETSC(SNESGetKSP(snes, &ksp));
  petsc::configure_ksp(ksp, solver);
  detail::prefer_mumps(ksp);
  // Full Newton steps: from rest they converge in about five steps for the Reynolds numbers of
  // the cases (Kovasznay 20, cavity 100), where backtracking on ||F|| only slows the start down.
  // `-snes_linesearch_type bt` restores the safeguard.
  SNESLineSearch line_search;
  KARMAN_PETSC(SNESGetLineSearch(snes, &line_search));
  KARMAN_PETSC(SNESLineSearchSetType(line_search, SNESLINESEARCHBASIC));
  petsc::from_options([&] { KARMAN_PETSC(SNESSetFromOptions(snes)); });
  KARMAN_PETSC(DMCreateGlobalVector(dm, X.out()));
  initial_guess(dm, ctx, X);
  KARMAN_PETSC(SNESSetUp(snes));
  result.stats.setup_s = setup_timer.seconds();

  Timer solve_timer;
  KARMAN_PETSC(SNESSolve(snes, nullptr, X));
  record_newton(snes, ksp, result.stats);
  result.stats.options = solver.options;

  // Velocity, then the pressure gradient (it needs velocity derivatives across rank borders).
  petsc::Vec X_local, V, V_local, G, G_local;
  KARMAN_PETSC(DMCreateLocalVector(dm, X_local.out()));
  KARMAN_PETSC(DMGlobalToLocal(dm, X, INSERT_VALUES, X_local));
  KARMAN_PETSC(DMCreateGlobalVector(dm, V.out()));
  compute_velocity(dm, ctx, X_local, V);
  KARMAN_PETSC(DMCreateLocalVector(dm, V_local.out()));
  KARMAN_PETSC(DMGlobalToLocal(dm, V, INSERT_VALUES, V_local));
  KARMAN_PETSC(VecDuplicate(V, G.out()));
  compute_pressure_gradient(dm, ctx, X_local, V_local, G);
  KARMAN_PETSC(DMCreateLocalVector(dm, G_local.out()));
  KARMAN_PETSC(DMGlobalToLocal(dm, G, INSERT_VALUES, G_local));
  result.pressure_iterations = solve_pressure(grid, dm, G_local, solver.rtol, result.p);
  result.stats.solve_s = solve_timer.seconds();

  result.u = component(V, 0);
  result.v = component(V, 1);
  result.streamfunction = component(X, 0);
  result.vorticity = component(X, 1);
  return result;
}

}  // namespace karman::solvers
