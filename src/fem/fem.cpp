#include "karman/fem/fem.hpp"

#include <petscdmplex.h>
#include <petscds.h>
#include <petscfe.h>
#include <petscsf.h>
#include <petscsnes.h>
#include <petscts.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <exception>
#include <string>

#include "../petsc/check.hpp"
#include "../petsc/handle.hpp"
#include "../petsc/ksp.hpp"
#include "../solvers/petsc_solver.hpp"
#include "karman/core/error.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"
#include "pointwise.hpp"

namespace karman::fem {
namespace {

using detail::aux_coefficient;
using detail::aux_count;
using detail::aux_source;

// The label naming boundary parts, as DMPlexCreateGmshFromFile and DMPlexCreateBoxMesh make it.
constexpr const char* face_sets = "Face Sets";

// Runs `body` inside a PETSc callback: a C++ exception must not cross PETSc's C frames, so it
// becomes a PETSc error carrying its message (KARMAN_PETSC at the caller turns it back).
template <class Body>
PetscErrorCode guarded(Body&& body) {
  try {
    body();
    return 0;
  } catch (const std::exception& e) {
    return PetscError(PETSC_COMM_SELF, __LINE__, "karman::fem", __FILE__, PETSC_ERR_USER,
                      PETSC_ERROR_INITIAL, "%s", e.what());
  }
}

// A Function as PETSc's point function; a steady solve evaluates it at t = 0 (PETSc's SNES
// inserts boundary values at t = PETSC_MIN_REAL).
struct FunctionContext {
  Function function;  // empty: 0
  bool steady = false;
  double time(double t) const { return steady ? 0.0 : t; }
};

PetscErrorCode evaluate(PetscInt, PetscReal t, const PetscReal x[], PetscInt, PetscScalar* u,
                        void* ctx) {
  const auto& c = *static_cast<const FunctionContext*>(ctx);
  return guarded([&] { u[0] = c.function ? c.function(x, c.time(t)) : 0.0; });
}

// ∂/∂t by a central difference (Dirichlet data's u_t enters the mass term next to the
// boundary); the error, O(δ²) + O(ε/δ), stays near 1e-10 relative.
PetscErrorCode evaluate_time_derivative(PetscInt, PetscReal t, const PetscReal x[], PetscInt,
                                        PetscScalar* u, void* ctx) {
  const auto& c = *static_cast<const FunctionContext*>(ctx);
  return guarded([&] {
    if (c.steady || !c.function) {
      u[0] = 0.0;
      return;
    }
    const double delta = 1e-5 * std::max(1.0, std::abs(t));
    u[0] = (c.function(x, t + delta) - c.function(x, t - delta)) / (2 * delta);
  });
}

using PointFunction = PetscErrorCode (*)(PetscInt, PetscReal, const PetscReal[], PetscInt,
                                         PetscScalar*, void*);

// The auxiliary DM and vector of pointwise.hpp's fields (source, κ).
struct AuxData {
  petsc::DM dm;
  petsc::Vec volume;
  const FunctionContext* source = nullptr;
  const FunctionContext* coefficient = nullptr;  // null with per-cell values
  double refreshed_at = std::nan("");
};

// Everything one solve owns; contexts live in a deque so PETSc can keep their addresses.
struct Solve {
  petsc::DM dm;
  int dim = 0;
  bool steady = true;
  std::deque<FunctionContext> contexts;
  AuxData aux;
  const FunctionContext* add(Function f) {
    contexts.push_back({std::move(f), steady});
    return &contexts.back();
  }
};

void check_problem(const Problem& problem) {
  if (problem.order != 1 && problem.order != 2)
    throw ConfigError("fem: Lagrange order " + std::to_string(problem.order) +
                      " is not supported (1 or 2)");
  const bool dirichlet =
      std::any_of(problem.conditions.begin(), problem.conditions.end(),
                  [](const Condition& c) { return c.kind == Condition::Kind::dirichlet; });
  if (!dirichlet) throw ConfigError("fem: no Dirichlet condition (the problem would be singular)");
  for (const auto& c : problem.conditions)
    if (c.face_set_values.empty()) throw ConfigError("fem: a boundary condition names no part");
  if (problem.equation == Equation::heat) {
    const auto& s = problem.time.scheme;
    if (s != "cn" && s != "bdf2" && s != "beuler")
      throw ConfigError("fem: time scheme '" + s + "' is not one of cn, bdf2, beuler");
    if (!(problem.time.dt > 0) || !(problem.time.t_end > 0))
      throw ConfigError("fem: time.dt and time.t_end must be positive");
  }
}

MPI_Comm comm_of(DM dm) { return PetscObjectComm(reinterpret_cast<PetscObject>(dm)); }

// Whether any rank has an initial guess (a rank that owns no vertex has an empty one, yet must
// take the same path through the collective calls); one for heat or order 2 is a ConfigError.
bool has_initial_guess(DM dm, const Problem& problem) {
  int any = problem.initial_guess.empty() ? 0 : 1;
  MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, comm_of(dm));
  if (any && problem.equation == Equation::heat)
    throw ConfigError(
        "fem: an initial guess is for the steady equations (heat starts from "
        "`initial`)");
  if (any && problem.order != 1)
    throw ConfigError("fem: an initial guess (vertex values) needs Lagrange order 1, not " +
                      std::to_string(problem.order));
  return any != 0;
}

// κ of the equation as a function (per-cell values are written separately).
Function coefficient_function(const Problem& problem) {
  auto constant = [](double value) { return [value](const double*, double) { return value; }; };
  switch (problem.equation) {
    case Equation::poisson:
      return constant(1.0);
    case Equation::diffusion:
      return problem.coefficient ? problem.coefficient : constant(1.0);
    case Equation::heat:
      return constant(problem.kappa);
    case Equation::advection_diffusion:
      return constant(problem.epsilon);
  }
  return constant(1.0);
}

void clone_simplicial(DM dm, petsc::DM& clone, int& dim) {
  // A rank without cells (a mesh not yet distributed) has no say: DMPlexIsSimplex answers false.
  PetscBool simplex;
  PetscInt c_start, c_end;
  KARMAN_PETSC(DMPlexIsSimplex(dm, &simplex));
  KARMAN_PETSC(DMPlexGetHeightStratum(dm, 0, &c_start, &c_end));
  int other_cells = (c_end > c_start && !simplex) ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &other_cells, 1, MPI_INT, MPI_MAX, comm_of(dm));
  if (other_cells) throw ConfigError("fem: the mesh is not simplicial (triangles or tetrahedra)");
  // PETSc 3.18's FEM residual skips cells labelled "ghost" but its Jacobian does not: overlap
  // cells would be assembled twice.
  PetscInt overlap;
  KARMAN_PETSC(DMPlexGetOverlap(dm, &overlap));
  KARMAN_VERIFY(overlap == 0, "fem::solve: the mesh must be distributed without overlap");
  PetscInt d;
  KARMAN_PETSC(DMGetDimension(dm, &d));
  dim = static_cast<int>(d);
  KARMAN_PETSC(DMClone(dm, clone.out()));
}

// Scalar Lagrange P_degree on simplices (P0: one value per cell), PETSc's default quadrature
// (degree + 1 Gauss–Jacobi points per direction).
PetscFE make_lagrange(int dim, int degree) {
  PetscFE fe;
  KARMAN_PETSC(
      PetscFECreateLagrange(PETSC_COMM_SELF, dim, 1, PETSC_TRUE, degree, PETSC_DETERMINE, &fe));
  return fe;
}

// The solution field u (P_order) and the pointwise residual and Jacobian of the equation.
void set_discretisation(Solve& s, const Problem& problem) {
  PetscFE fe = make_lagrange(s.dim, problem.order);
  KARMAN_PETSC(PetscObjectSetName(reinterpret_cast<PetscObject>(fe), "u"));
  KARMAN_PETSC(DMSetField(s.dm, 0, nullptr, reinterpret_cast<PetscObject>(fe)));
  KARMAN_PETSC(PetscFEDestroy(&fe));
  KARMAN_PETSC(DMCreateDS(s.dm));
  PetscDS ds;
  KARMAN_PETSC(DMGetDS(s.dm, &ds));
  const bool advection = problem.equation == Equation::advection_diffusion;
  if (s.steady) {
    KARMAN_PETSC(PetscDSSetResidual(ds, 0, detail::f0_steady, detail::f1_diffusion));
    KARMAN_PETSC(PetscDSSetJacobian(ds, 0, 0, nullptr, advection ? detail::g1_advection : nullptr,
                                    nullptr, detail::g3_diffusion));
  } else {
    KARMAN_PETSC(PetscDSSetResidual(ds, 0, detail::f0_transient, detail::f1_diffusion));
    KARMAN_PETSC(
        PetscDSSetJacobian(ds, 0, 0, detail::g0_transient, nullptr, nullptr, detail::g3_diffusion));
  }
  PetscScalar velocity[detail::constant_count] = {0, 0, 0};
  if (advection) std::copy(problem.velocity.begin(), problem.velocity.end(), velocity);
  KARMAN_PETSC(PetscDSSetConstants(ds, detail::constant_count, velocity));
}

// Dirichlet conditions as essential boundaries, Neumann ones as natural boundaries with the
// boundary residual −g on each of their face-set values.
void set_conditions(Solve& s, const Problem& problem) {
  DMLabel label;
  KARMAN_PETSC(DMGetLabel(s.dm, face_sets, &label));
  if (!label) throw ConfigError("fem: the mesh has no \"Face Sets\" label (no boundary parts)");
  PetscDS ds;
  KARMAN_PETSC(DMGetDS(s.dm, &ds));
  int neumann_count = 0;
  for (std::size_t i = 0; i < problem.conditions.size(); ++i) {
    const Condition& c = problem.conditions[i];
    const std::vector<PetscInt> values(c.face_set_values.begin(), c.face_set_values.end());
    const PetscInt n = static_cast<PetscInt>(values.size());
    if (c.kind == Condition::Kind::dirichlet) {
      const FunctionContext* data = s.add(c.value);
      const std::string name = "dirichlet_" + std::to_string(i);
      KARMAN_PETSC(DMAddBoundary(s.dm, DM_BC_ESSENTIAL, name.c_str(), label, n, values.data(), 0, 0,
                                 nullptr, reinterpret_cast<void (*)()>(evaluate),
                                 reinterpret_cast<void (*)()>(evaluate_time_derivative),
                                 const_cast<FunctionContext*>(data), nullptr));
      continue;
    }
    const std::string name = "neumann_" + std::to_string(i);
    const int slot = neumann_count++;
    if (slot >= detail::NeumannSlots::capacity)
      throw ConfigError("fem: more than " + std::to_string(detail::NeumannSlots::capacity) +
                        " Neumann conditions");
    detail::neumann_slots().g[slot] = &c.value;
    PetscInt bd;
    PetscWeakForm wf;
    KARMAN_PETSC(DMAddBoundary(s.dm, DM_BC_NATURAL, name.c_str(), label, n, values.data(), 0, 0,
                               nullptr, nullptr, nullptr, nullptr, &bd));
    KARMAN_PETSC(PetscDSGetBoundary(ds, bd, &wf, nullptr, nullptr, nullptr, nullptr, nullptr,
                                    nullptr, nullptr, nullptr, nullptr, nullptr, nullptr));
    for (PetscInt value : values)
      KARMAN_PETSC(PetscWeakFormSetIndexBdResidual(wf, label, value, 0, 0, 0,
                                                   detail::neumann_residual(slot), 0, nullptr));
  }
}

// The auxiliary DM: the source in P_order, κ in P_order or P0 (per-cell values),
// with the solution's quadrature so they are evaluated at the same points.
void create_aux_dm(Solve& s, DM original, const Problem& problem) {
  KARMAN_PETSC(DMClone(original, s.aux.dm.out()));
  PetscDS ds;
  PetscFE u_fe;
  KARMAN_PETSC(DMGetDS(s.dm, &ds));
  KARMAN_PETSC(PetscDSGetDiscretization(ds, 0, reinterpret_cast<PetscObject*>(&u_fe)));
  const bool per_cell = !problem.cell_coefficient.empty();
  const char* names[aux_count] = {"source", "coefficient"};
  for (PetscInt f = 0; f < aux_count; ++f) {
    const int degree = (f == aux_coefficient && per_cell) ? 0 : problem.order;
    PetscFE fe = make_lagrange(s.dim, degree);
    KARMAN_PETSC(PetscFECopyQuadrature(u_fe, fe));
    KARMAN_PETSC(PetscObjectSetName(reinterpret_cast<PetscObject>(fe), names[f]));
    KARMAN_PETSC(DMSetField(s.aux.dm, f, nullptr, reinterpret_cast<PetscObject>(fe)));
    KARMAN_PETSC(PetscFEDestroy(&fe));
  }
  KARMAN_PETSC(DMCreateDS(s.aux.dm));
}

// Per-cell κ into the P0 field of `aux` (one dof per local cell).
void write_cell_coefficient(DM aux_dm, Vec aux, const std::vector<double>& values) {
  PetscInt c_start, c_end;
  KARMAN_PETSC(DMPlexGetHeightStratum(aux_dm, 0, &c_start, &c_end));
  if (static_cast<std::size_t>(c_end - c_start) != values.size())
    throw ConfigError("fem: " + std::to_string(values.size()) + " per-cell coefficients for " +
                      std::to_string(c_end - c_start) + " local cells");
  PetscSection section;
  PetscScalar* array;
  KARMAN_PETSC(DMGetLocalSection(aux_dm, &section));
  KARMAN_PETSC(VecGetArray(aux, &array));
  for (PetscInt c = c_start; c < c_end; ++c) {
    PetscInt offset;
    KARMAN_PETSC(PetscSectionGetFieldOffset(section, c, aux_coefficient, &offset));
    array[offset] = values[static_cast<std::size_t>(c - c_start)];
  }
  KARMAN_PETSC(VecRestoreArray(aux, &array));
}

// Interpolates κ into the volume vector (once: κ does not depend on t; per-cell values are
// written beside it).
void project_coefficient(AuxData& aux) {
  if (!aux.coefficient) return;
  PointFunction funcs[aux_count] = {nullptr, evaluate};
  void* ctxs[aux_count] = {nullptr, const_cast<FunctionContext*>(aux.coefficient)};
  KARMAN_PETSC(DMProjectFunctionLocal(aux.dm, 0.0, funcs, ctxs, INSERT_ALL_VALUES, aux.volume));
}

// Interpolates the source into the volume vector at time t (κ is left as it is); a no-op when
// already done at t.
void refresh_aux(AuxData& aux, double t) {
  if (aux.refreshed_at == t) return;
  PointFunction funcs[aux_count] = {evaluate, nullptr};
  void* ctxs[aux_count] = {const_cast<FunctionContext*>(aux.source), nullptr};
  KARMAN_PETSC(DMProjectFunctionLocal(aux.dm, t, funcs, ctxs, INSERT_ALL_VALUES, aux.volume));
  aux.refreshed_at = t;
}

// Smallest κ dof over all ranks (nodal values for P_k, cell values for P0).
double min_coefficient(const AuxData& aux) {
  PetscSection section;
  PetscInt p_start, p_end;
  const PetscScalar* array;
  KARMAN_PETSC(DMGetLocalSection(aux.dm, &section));
  KARMAN_PETSC(PetscSectionGetChart(section, &p_start, &p_end));
  KARMAN_PETSC(VecGetArrayRead(aux.volume, &array));
  double smallest = PETSC_MAX_REAL;
  for (PetscInt p = p_start; p < p_end; ++p) {
    PetscInt dofs, offset;
    KARMAN_PETSC(PetscSectionGetFieldDof(section, p, aux_coefficient, &dofs));
    KARMAN_PETSC(PetscSectionGetFieldOffset(section, p, aux_coefficient, &offset));
    for (PetscInt k = 0; k < dofs; ++k) smallest = std::min(smallest, array[offset + k]);
  }
  KARMAN_PETSC(VecRestoreArrayRead(aux.volume, &array));
  MPI_Allreduce(MPI_IN_PLACE, &smallest, 1, MPI_DOUBLE, MPI_MIN, comm_of(aux.dm));
  return smallest;
}

// Creates the auxiliary vectors, fills them at t = 0, attaches them to the solution DM and
// checks κ > 0.
void set_aux(Solve& s, DM original, const Problem& problem) {
  s.aux.source = s.add(problem.source);
  const bool per_cell = !problem.cell_coefficient.empty();
  if (!per_cell) s.aux.coefficient = s.add(coefficient_function(problem));
  create_aux_dm(s, original, problem);
  KARMAN_PETSC(DMCreateLocalVector(s.aux.dm, s.aux.volume.out()));
  KARMAN_PETSC(VecZeroEntries(s.aux.volume));
  if (per_cell) write_cell_coefficient(s.aux.dm, s.aux.volume, problem.cell_coefficient);
  project_coefficient(s.aux);
  refresh_aux(s.aux, 0.0);
  const double smallest = min_coefficient(s.aux);
  if (!(smallest > 0))
    throw ConfigError("fem: the coefficient is not positive everywhere on the mesh (min " +
                      std::to_string(smallest) + ")");
  KARMAN_PETSC(DMSetAuxiliaryVec(s.dm, nullptr, 0, 0, s.aux.volume));
}

std::vector<double> owned_vertex_values(DM dm, Vec u, double t) {
  petsc::Vec local;
  KARMAN_PETSC(DMCreateLocalVector(dm, local.out()));
  KARMAN_PETSC(VecZeroEntries(local));
  KARMAN_PETSC(DMPlexInsertBoundaryValues(dm, PETSC_TRUE, local, t, nullptr, nullptr, nullptr));
  KARMAN_PETSC(DMGlobalToLocal(dm, u, INSERT_VALUES, local));
  PetscSection section;
  const PetscScalar* array;
  KARMAN_PETSC(DMGetLocalSection(dm, &section));
  KARMAN_PETSC(VecGetArrayRead(local, &array));
  std::vector<double> values;
  for (long v : owned_vertices(dm)) {
    PetscInt offset;
    KARMAN_PETSC(PetscSectionGetOffset(section, static_cast<PetscInt>(v), &offset));
    values.push_back(array[offset]);
  }
  KARMAN_PETSC(VecRestoreArrayRead(local, &array));
  return values;
}

// The owned vertices' values (owned_vertices' order) into the global vector u, through the
// local vector and its section as owned_vertex_values reads them back; constrained (Dirichlet)
// dofs have no place in u and are dropped. A count that differs from the owned vertices' on any
// rank is a ConfigError on every rank.
void set_owned_vertex_values(DM dm, const std::vector<double>& values, Vec u) {
  const std::vector<long> vertices = owned_vertices(dm);
  int mismatch = values.size() != vertices.size() ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &mismatch, 1, MPI_INT, MPI_MAX, comm_of(dm));
  if (mismatch)
    throw ConfigError("fem: the initial guess has " + std::to_string(values.size()) +
                      " values for " + std::to_string(vertices.size()) +
                      " owned vertices (on this or another rank)");
  petsc::Vec local;
  KARMAN_PETSC(DMCreateLocalVector(dm, local.out()));
  KARMAN_PETSC(VecZeroEntries(local));
  PetscSection section;
  PetscScalar* array;
  KARMAN_PETSC(DMGetLocalSection(dm, &section));
  KARMAN_PETSC(VecGetArray(local, &array));
  for (std::size_t i = 0; i < vertices.size(); ++i) {
    PetscInt offset;
    KARMAN_PETSC(PetscSectionGetOffset(section, static_cast<PetscInt>(vertices[i]), &offset));
    array[offset] = values[i];
  }
  KARMAN_PETSC(VecRestoreArray(local, &array));
  KARMAN_PETSC(DMLocalToGlobal(dm, local, INSERT_VALUES, u));
}

// ||u − exact|| and ||I_h exact|| in L2, by PETSc's quadrature.
void measure_error(Solve& s, const Problem& problem, Vec u, double t, Result& result) {
  if (!problem.exact) return;
  const FunctionContext* exact = s.add(problem.exact);
  const FunctionContext* zero = s.add({});
  PointFunction funcs[1] = {evaluate};
  void* exact_ctx[1] = {const_cast<FunctionContext*>(exact)};
  void* zero_ctx[1] = {const_cast<FunctionContext*>(zero)};
  PetscReal error, norm;
  KARMAN_PETSC(DMComputeL2Diff(s.dm, t, funcs, exact_ctx, u, &error));
  petsc::Vec interpolant;
  KARMAN_PETSC(VecDuplicate(u, interpolant.out()));
  KARMAN_PETSC(DMProjectFunction(s.dm, t, funcs, exact_ctx, INSERT_ALL_VALUES, interpolant));
  KARMAN_PETSC(DMComputeL2Diff(s.dm, t, funcs, zero_ctx, interpolant, &norm));
  result.l2_error = error;
  result.l2_exact_norm = norm;
}

// An exception a Neumann function threw inside PETSc (its faces got NaN), on any rank: every
// rank throws, so none is left in a collective call.
void check_neumann_errors(MPI_Comm comm) {
  const std::string& error = detail::neumann_slots().error;
  int failed = error.empty() ? 0 : 1;
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, comm);
  if (failed)
    throw ExternalError("PETSc", PETSC_ERR_USER,
                        "a Neumann condition's function failed: " +
                            (error.empty() ? std::string("on another rank") : error));
}

// The KSP of a SNES/TS from the case's solver section and the command line (-ksp_*, -pc_*).
KSP configure_linear_solver(SNES snes, const config::SolverSpec& solver) {
  KSP ksp;
  KARMAN_PETSC(SNESSetType(snes, SNESKSPONLY));  // linear problems: one Newton step is exact
  KARMAN_PETSC(SNESGetKSP(snes, &ksp));
  petsc::configure_ksp(ksp, solver);
  return ksp;
}

// The KSP's types, residual and reason, the linear iterations (summed over time steps) and the
// options the case set.
void record(KSP ksp, const config::SolverSpec& solver, long iterations, Result& result) {
  solvers::detail::record_ksp(ksp, result.stats);
  result.stats.iterations = iterations;
  result.stats.options = solver.options;
}

// The steady problems are affine, F(u) = J u + F(0): J u = b with b = −F(0) by the SNES's KSP,
// started from u (a nonzero initial guess). Its convergence test, ||r|| ≤ rtol ||b||, is the one
// of the cold solve (SNES's Newton step from 0 solves J y = F(0) from y = 0), so the iterations
// compare; a Newton step from the guess would measure rtol against the guess's own residual
// instead, and iterate about as long as from 0.
void solve_from_guess(SNES snes, KSP ksp, Vec u) {
  petsc::Vec zero, b;
  KARMAN_PETSC(VecDuplicate(u, zero.out()));
  KARMAN_PETSC(VecZeroEntries(zero));
  KARMAN_PETSC(VecDuplicate(u, b.out()));
  KARMAN_PETSC(SNESComputeFunction(snes, zero, b));
  KARMAN_PETSC(VecScale(b, -1.0));
  Mat jacobian, preconditioner;
  KARMAN_PETSC(SNESGetJacobian(snes, &jacobian, &preconditioner, nullptr, nullptr));
  KARMAN_PETSC(SNESComputeJacobian(snes, u, jacobian, preconditioner));
  KARMAN_PETSC(KSPSetOperators(ksp, jacobian, preconditioner));
  KARMAN_PETSC(KSPSetInitialGuessNonzero(ksp, PETSC_TRUE));
  KARMAN_PETSC(KSPSolve(ksp, b, u));
}

Result solve_steady(Solve& s, const Problem& problem, bool warm, const config::SolverSpec& solver,
                    const Timer& setup_timer) {
  Result result;
  petsc::SNES snes;
  KARMAN_PETSC(SNESCreate(comm_of(s.dm), snes.out()));
  KARMAN_PETSC(SNESSetDM(snes, s.dm));
  KARMAN_PETSC(DMPlexSetSNESLocalFEM(s.dm, nullptr, nullptr, nullptr));
  KSP ksp = configure_linear_solver(snes, solver);
  petsc::from_options([&] { KARMAN_PETSC(SNESSetFromOptions(snes)); });
  solvers::detail::prefer_mumps(ksp);
  petsc::Vec u;
  KARMAN_PETSC(DMCreateGlobalVector(s.dm, u.out()));
  KARMAN_PETSC(VecZeroEntries(u));
  if (warm) set_owned_vertex_values(s.dm, problem.initial_guess, u);
  KARMAN_PETSC(SNESSetUp(snes));
  result.stats.setup_s = setup_timer.seconds();

  Timer solve_timer;  // from the guess: the residual and Jacobian assembly, as SNESSolve's
  if (warm)
    solve_from_guess(snes, ksp, u);
  else
    KARMAN_PETSC(SNESSolve(snes, nullptr, u));
  result.stats.solve_s = solve_timer.seconds();
  check_neumann_errors(comm_of(s.dm));
  SNESConvergedReason reason;
  SNESType type;
  KARMAN_PETSC(SNESGetConvergedReason(snes, &reason));
  KARMAN_PETSC(SNESGetType(snes, &type));
  PetscInt iterations;
  KARMAN_PETSC(KSPGetIterationNumber(ksp, &iterations));
  record(ksp, solver, iterations, result);
  result.stats.snes = type;
  if (reason < 0)
    result.stats.converged = false, result.stats.reason = SNESConvergedReasons[reason];
  result.vertex_values = owned_vertex_values(s.dm, u, 0.0);
  measure_error(s, problem, u, 0.0, result);
  return result;
}

// The heat IFunction: the time-dependent source and Neumann data are re-interpolated at the
// time PETSc evaluates the residual, then PETSc's FEM residual runs.
PetscErrorCode heat_ifunction(DM dm, PetscReal t, Vec x, Vec x_t, Vec f, void* ctx) {
  PetscErrorCode code = guarded([&] { refresh_aux(static_cast<Solve*>(ctx)->aux, t); });
  if (code) return code;
  return DMPlexTSComputeIFunctionFEM(dm, t, x, x_t, f, nullptr);
}

// The heat IJacobian, shift·M + K, depends on nothing but the shift (κ is fixed, and nothing
// else writes into the matrix): it is assembled again only when the shift changes (the first
// step, BDF2's start, a step rounded to fit a snapshot), so the unchanged matrix also keeps its
// preconditioner. A matrix-free operator (J ≠ P) is always handed on.
PetscErrorCode heat_ijacobian(DM dm, PetscReal t, Vec x, Vec x_t, PetscReal shift, Mat J, Mat P,
                              void* ctx) {
  auto& assembled_shift = *static_cast<PetscReal*>(ctx);
  if (J == P && shift == assembled_shift) return 0;
  PetscErrorCode code = DMPlexTSComputeIJacobianFEM(dm, t, x, x_t, shift, J, P, nullptr);
  if (!code) assembled_shift = shift;
  return code;
}

Result solve_heat(Solve& s, const Problem& problem, const config::SolverSpec& solver,
                  const SnapshotCallback& on_snapshot, const Timer& setup_timer) {
  Result result;
  const auto& time = problem.time;
  petsc::TS ts;
  KARMAN_PETSC(TSCreate(comm_of(s.dm), ts.out()));
  KARMAN_PETSC(TSSetDM(ts, s.dm));
  KARMAN_PETSC(DMTSSetBoundaryLocal(s.dm, DMPlexTSComputeBoundary, nullptr));
  KARMAN_PETSC(DMTSSetIFunctionLocal(s.dm, heat_ifunction, &s));
  PetscReal assembled_shift = -1.0;  // none yet
  KARMAN_PETSC(DMTSSetIJacobianLocal(s.dm, heat_ijacobian, &assembled_shift));
  KARMAN_PETSC(TSSetProblemType(ts, TS_LINEAR));
  solvers::detail::set_ts_scheme(ts, time.scheme);
  KARMAN_PETSC(TSSetTime(ts, 0.0));
  KARMAN_PETSC(TSSetTimeStep(ts, time.dt));
  KARMAN_PETSC(TSSetExactFinalTime(ts, TS_EXACTFINALTIME_STEPOVER));
  SNES snes;
  KARMAN_PETSC(TSGetSNES(ts, &snes));
  KSP ksp = configure_linear_solver(snes, solver);
  petsc::from_options([&] { KARMAN_PETSC(TSSetFromOptions(ts)); });
  solvers::detail::prefer_mumps(ksp);

  petsc::Vec u;
  KARMAN_PETSC(DMCreateGlobalVector(s.dm, u.out()));
  const FunctionContext* initial = s.add(problem.initial ? problem.initial : problem.exact);
  PointFunction funcs[1] = {evaluate};
  void* ctxs[1] = {const_cast<FunctionContext*>(initial)};
  KARMAN_PETSC(DMProjectFunction(s.dm, 0.0, funcs, ctxs, INSERT_ALL_VALUES, u));
  KARMAN_PETSC(TSSetUp(ts));
  result.stats.setup_s = setup_timer.seconds();
  if (on_snapshot) on_snapshot(0, 0.0, owned_vertex_values(s.dm, u, 0.0));

  // Each snapshot interval in whole equal steps (solvers::detail::advance_ts).
  Timer solve_timer;
  const long count = std::max<long>(time.snapshots, 1);
  PetscInt steps_done = 0;
  double t_previous = 0.0;
  for (long k = 1; k <= count; ++k) {
    const double t_k = time.t_end * static_cast<double>(k) / static_cast<double>(count);
    const bool advanced =
        solvers::detail::advance_ts(ts, u, t_previous, t_k, time.dt, steps_done, result.stats);
    check_neumann_errors(comm_of(s.dm));  // before anything else, also after a failure
    if (!advanced) break;
    t_previous = t_k;
    if (on_snapshot && time.snapshots > 0) {
      result.stats.solve_s += solve_timer.seconds();
      on_snapshot(k, t_k, owned_vertex_values(s.dm, u, t_k));
      solve_timer.reset();
    }
  }
  result.stats.solve_s += solve_timer.seconds();

  const double t = solvers::detail::record_ts(ts, ksp, solver, result.stats);
  result.final_time = t;
  result.vertex_values = owned_vertex_values(s.dm, u, t);
  measure_error(s, problem, u, t, result);
  return result;
}

}  // namespace

std::vector<long> owned_vertices(DM dm) {
  PetscInt v_start, v_end, leaves;
  const PetscInt* local = nullptr;
  PetscSF sf;
  KARMAN_PETSC(DMPlexGetDepthStratum(dm, 0, &v_start, &v_end));
  KARMAN_PETSC(DMGetPointSF(dm, &sf));
  KARMAN_PETSC(PetscSFGetGraph(sf, nullptr, &leaves, &local, nullptr));
  std::vector<char> is_leaf(static_cast<std::size_t>(v_end - v_start), 0);
  for (PetscInt i = 0; i < std::max<PetscInt>(leaves, 0); ++i) {
    const PetscInt p = local ? local[i] : i;
    if (p >= v_start && p < v_end) is_leaf[static_cast<std::size_t>(p - v_start)] = 1;
  }
  std::vector<long> owned;
  for (PetscInt v = v_start; v < v_end; ++v)
    if (!is_leaf[static_cast<std::size_t>(v - v_start)]) owned.push_back(static_cast<long>(v));
  return owned;
}

Result solve(DM dm, const Problem& problem, const config::SolverSpec& solver,
             const SnapshotCallback& on_snapshot) {
  const ScopedStage timed_stage(Stage::baseline, Stage::data);  // data-set solves count as data
  check_problem(problem);
  const bool warm = has_initial_guess(dm, problem);
  Timer setup_timer;
  Solve s;
  s.steady = problem.equation != Equation::heat;
  detail::NeumannSlots::Scope neumann_slots(s.steady);
  clone_simplicial(dm, s.dm, s.dim);
  set_discretisation(s, problem);
  set_conditions(s, problem);
  set_aux(s, dm, problem);
  if (s.steady) return solve_steady(s, problem, warm, solver, setup_timer);
  return solve_heat(s, problem, solver, on_snapshot, setup_timer);
}

}  // namespace karman::fem
