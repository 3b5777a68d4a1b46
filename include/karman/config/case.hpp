#pragma once
// The typed, validated form of a case file. Readers here are shared by every method: the
// reference runner reads `pde`, `grid`, `time` and `solver`; later methods (PINN, FNO, ...) read
// the same sections so that the learned and the classical solver see the same problem.
// Every key, its default and its meaning is listed in cases/README.md.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "karman/config/node.hpp"
#include "karman/config/pde_traits.hpp"
#include "karman/core/expression.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/mesh/plex.hpp"

namespace karman::config {

// PdeType and the table of what each PDE is: karman/config/pde_traits.hpp.
const char* to_string(PdeType type);

// A Gaussian random field with covariance sigma^2 (-Δ + tau^2 I)^-alpha on the grid's box,
// zero mean; optionally thresholded into a two-valued field (the Darcy benchmark's a = 12 / 3).
struct RandomFieldSpec {
  double alpha = 2.0;
  double tau = 3.0;
  double sigma = -1.0;  // set by the reader; default tau^(alpha - dim/2) (FNO GRF.m convention)
  unsigned long seed = 0;
  bool periodic = false;  // periodic (Fourier) basis; otherwise Neumann (cosine) basis
  bool thresholded = false;
  double threshold = 0.0, above = 12.0, below = 3.0;  // value >= threshold ? above : below
};

// A scalar field given as an expression, a dataset in an HDF5 file, or a random field.
struct FieldSpec {
  enum class Source { expression, file, random } source = Source::expression;
  std::optional<Expression> expression;
  std::string file, dataset;  // Source::file
  RandomFieldSpec random;     // Source::random
  Place place;                // where the case file defines it
};

struct PdeSpec {
  PdeType type = PdeType::poisson;
  std::optional<Expression> source;            // f(x, y, z, t)
  std::optional<Expression> exact;             // exact / manufactured solution, if known
  std::optional<Expression> boundary;          // Dirichlet data (defaults: exact, else 0)
  std::optional<FieldSpec> coefficient;        // Darcy a(x)
  std::optional<FieldSpec> initial;            // heat, Burgers, Allen–Cahn, wave: u(x, 0)
  std::optional<Expression> initial_velocity;  // wave: u_t(x, 0)
  double kappa = 1.0;                          // heat diffusivity
  double nu = 0.0;          // viscosity: Burgers ν, Navier–Stokes kinematic ν
  double epsilon = 1e-4;    // Allen–Cahn diffusion ε
  double reaction = 5.0;    // Allen–Cahn coefficient of u³ − u
  double wavenumber = 0.0;  // Helmholtz k
  double speed = 1.0;       // wave speed c
  // combined (code form, α u²/2 the convective flux): convection α, diffusion β, dispersion γ.
  double alpha = 1.0, beta = 0.0, gamma = 0.0;
  // Steady incompressible Navier–Stokes (2D): Dirichlet velocity (u, v) on the whole boundary,
  // optionally the exact velocity and pressure (the pressure's constant is free: compared after
  // removing the mean of each).
  std::vector<Expression> velocity;        // [u, v], empty unless navier_stokes
  std::vector<Expression> exact_velocity;  // [u, v] or empty
  std::vector<double> advection;           // advection_diffusion: the constant velocity b [dim]
  std::optional<Expression> exact_pressure;
  Place velocity_place;
  bool time_dependent() const { return traits(type).time_dependent; }
  // Solved on a 1D grid: periodic (Burgers, Allen–Cahn, combined) or with Dirichlet ends (wave).
  static bool one_dimensional(PdeType t) { return traits(t).max_dim == 1; }
  static bool periodic(PdeType t) { return traits(t).boundary == BoundaryKind::periodic; }
};

struct TimeSpec {
  double t_end = 1.0;
  double dt = 1e-2;  // implicit steppers; the explicit WENO solver takes its steps from solver.cfl
  std::string scheme = "cn";  // cn | bdf2 | beuler | rosw (Rosenbrock-W, L-stable, 3rd order)
  long snapshots = 10;        // stored states besides the initial one (evenly spaced)
};

struct SolverSpec {
  std::string ksp, pc;
  double rtol = 1e-10, atol = 1e-50;
  long max_it = 10000;
  std::vector<std::pair<std::string, std::string>> options;  // extra PETSc options, no dash
  Place ksp_place, pc_place;
  // The explicit WENO solver (pde combined) instead of ksp/pc: its CFL number and the order of
  // its diffusive and dispersive face fluxes (solvers::WenoOptions).
  double cfl = 0.4;
  int derivative_order = 4;
};

// A boundary condition on named parts of a mesh's boundary (its Gmsh physical groups of
// dimension dim − 1): u = value (dirichlet) or the outward flux κ ∂u/∂n = value (neumann).
struct MeshCondition {
  enum class Kind { dirichlet, neumann } kind = Kind::dirichlet;
  std::vector<std::string> parts;
  std::vector<int> tags;  // the parts' physical tags: values of the DMPlex label "Face Sets"
  std::optional<Expression> value;  // always set by the reader
  Place place;
};

// An unstructured mesh problem (`mesh:` instead of `grid:`): the mesh, the finite-element order
// and a condition on every boundary part.
struct MeshProblem {
  mesh::MeshSpec mesh;
  mesh::GmshHeader header;
  int order = 1;  // Lagrange P1 or P2
  std::vector<MeshCondition> conditions;
};

// The sections shared by all methods.
struct ProblemSpec {
  PdeSpec pde;
  mesh::GridShape grid;             // a structured box (unless `mesh` is set)
  std::optional<MeshProblem> mesh;  // an unstructured mesh instead of the grid
  std::optional<TimeSpec> time;
  SolverSpec solver;
};

ProblemSpec read_problem(const Node& root);
PdeSpec read_pde(const Node& pde, int dim);
mesh::GridShape read_grid(const Node& grid, PdeType type);
// The `conditions` of a case on an unstructured mesh into `problem` (its mesh already read),
// checked against the mesh file's boundary parts: each named once, typos with a suggestion.
void read_mesh_conditions(const Node& root, const PdeSpec& pde, MeshProblem& problem);
// The mesh section alone (file resolved against the case file's folder, then the working
// directory; the file's header read and checked).
mesh::MeshSpec read_mesh(const Node& mesh, mesh::GmshHeader& header);
TimeSpec read_time(const Node& time);
// An explicit solver's `time`: t_end and snapshots only (its steps come from the CFL condition).
TimeSpec read_output_times(const Node& time);
SolverSpec read_solver(const Node& solver, const PdeSpec& pde);
FieldSpec read_field(const Node& parent, std::string_view key, int dim);

}  // namespace karman::config
