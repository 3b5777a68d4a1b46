#pragma once
// Finite-element reference solvers on a distributed simplicial DMPlex, through PETSc's own FEM
// (PetscFE Lagrange P1/P2, PetscDS pointwise residual and Jacobian, DMPlex SNES/TS local FEM):
//   poisson              −Δu = f
//   diffusion            −∇·(κ∇u) = f            κ(x) > 0, a function or per-cell values
//   heat                 u_t − κΔu = f           PETSc TS: cn | bdf2 | beuler
//   advection_diffusion  −εΔu + b·∇u = f         b constant
// with Dirichlet (essential) and Neumann (natural: κ ∂u/∂n = g) conditions on the parts of the
// boundary named by values of the DM's "Face Sets" label. The pointwise physics is
// karman/pde/equations.hpp's weak-form section.
//
//   fem::Problem p;  p.equation = fem::Equation::poisson;  p.order = 2;
//   p.source = [](const double* x, double) { return 2 * pi * pi * sin(pi * x[0]) * ...; };
//   p.conditions = {{fem::Condition::Kind::dirichlet, {1, 2, 3, 4}, exact}};
//   fem::Result r = fem::solve(dm, p, case.solver);   // r.vertex_values: owned vertices

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "karman/config/case.hpp"
#include "karman/solvers/stats.hpp"

// PETSc's DM handle, declared as petscdmtypes.h does, to keep PETSc out of public headers.
typedef struct _p_DM* DM;

namespace karman::fem {

// A scalar function of the point x (dim entries) and time t.
using Function = std::function<double(const double* x, double t)>;

enum class Equation { poisson, diffusion, heat, advection_diffusion };

// A condition on the boundary faces whose "Face Sets" value is one of face_set_values.
// Dirichlet: u = value (interpolated at the boundary nodes). Neumann: value = g = κ ∂u/∂n, the
// outward flux data (ε ∂u/∂n for advection–diffusion, ∂u/∂n for Poisson), evaluated at the face
// quadrature points (so it may jump where two faces of a part meet); at most 16 Neumann
// conditions.
struct Condition {
  enum class Kind { dirichlet, neumann } kind = Kind::dirichlet;
  std::vector<int> face_set_values;
  Function value;
};

// The source and κ(x) are interpolated in P_order (κ from cell_coefficient in P0), so the
// L2 error keeps its order; heat re-interpolates the source at every time PETSc asks for.
struct Problem {
  Equation equation = Equation::poisson;
  int order = 1;         // Lagrange degree: 1 or 2
  Function source;       // f (empty: 0)
  Function exact;        // exact solution, for Result::l2_error (may be empty)
  Function initial;      // heat: u(x, 0)
  Function coefficient;  // diffusion: κ(x) (empty: 1)
  // Per-cell κ on this rank's local cells, in the DM's cell order (points of height 0); overrides
  // `coefficient` when not empty.
  std::vector<double> cell_coefficient;
  double kappa = 1.0;                 // heat diffusivity
  std::array<double, 3> velocity{};   // advection–diffusion b
  double epsilon = 1.0;               // advection–diffusion ε
  std::vector<Condition> conditions;  // at least one Dirichlet condition
  // Steady equations, P1 only: u at this rank's owned vertices in Result::vertex_values' order
  // (empty: start from 0). The KSP starts from it (a nonzero initial guess) and stops, as from 0,
  // at ||r|| ≤ rtol ||b||, so a good guess saves iterations; the Dirichlet values are imposed
  // whatever the guess says there. With heat or order 2: ConfigError; another size than the
  // owned vertices' count (on any rank): ConfigError on every rank.
  std::vector<double> initial_guess;
  struct Time {
    double t_end = 1.0, dt = 1e-2;
    std::string scheme = "cn";  // cn | bdf2 | beuler
    long snapshots = 0;         // states reported besides the initial one (evenly spaced)
  } time;
};

struct Result {
  // u at this rank's owned vertices (vertex points that are not leaves of the DM's point SF), in
  // increasing local point order; for P2 the nodal values at the vertices.
  std::vector<double> vertex_values;
  double l2_error = -1.0;       // ||u_h − exact||_L2 by quadrature, when exact is given
  double l2_exact_norm = -1.0;  // ||I_h exact||_L2 (its interpolant), when exact is given
  solvers::SolveStats stats;
  double final_time = 0.0;  // heat: the time reached; steady: 0
};

// on_snapshot(index, t, owned vertex values): heat only, index 0 the initial state, then
// time.snapshots evenly spaced states (the last at t_end).
using SnapshotCallback =
    std::function<void(long index, double t, const std::vector<double>& vertex_values)>;

// Solves `problem` on a clone of `dm` (a simplicial DMPlex with coordinates and a "Face Sets"
// label, distributed without overlap, as PETSc 3.18's FEM Jacobian would assemble overlap cells
// twice; the caller's DM is left unchanged) with the KSP of `solver`, which the
// command line's -ksp_type, -pc_type, ... override (-ts_type, -snes_type as well). Throws
// ConfigError for a bad problem (order, no Dirichlet part, scheme, κ ≤ 0 somewhere), and
// ExternalError carrying the message of an exception a Function threw inside PETSc.
Result solve(DM dm, const Problem& problem, const config::SolverSpec& solver,
             const SnapshotCallback& on_snapshot = {});

// The vertex points this rank owns, in increasing local point order (Result::vertex_values'
// order).
std::vector<long> owned_vertices(DM dm);

}  // namespace karman::fem
