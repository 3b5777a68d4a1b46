#pragma once
// The PetscDS pointwise functions of the finite-element solvers (fem.hpp), thin adapters from
// PETSc's calling convention to karman/pde/equations.hpp's weak-form terms. PETSc gives them no
// user context, so the data arrive as auxiliary fields and constants:
//   aux field 0  f   source          (P_k, refreshed at every residual time for heat)
//   aux field 1  κ   coefficient     (P_k from a function, or P0 from per-cell values)
//   constants    b_0, b_1, b_2       advection velocity (zero unless advection–diffusion)
// The Neumann data g are evaluated at the face quadrature points themselves (an interpolant
// would smear g where two faces of one part meet at an angle, as ∂u/∂n does): each Neumann
// condition gets a slot, one boundary function per slot, and the slots point at the solve's
// functions while it runs (NeumannSlots::Scope).

#include <petscds.h>

#include <functional>
#include <string>

namespace karman::fem::detail {

enum AuxField : PetscInt { aux_source = 0, aux_coefficient = 1, aux_count = 2 };
constexpr PetscInt constant_count = 3;

using BoundaryFunction = void (*)(PetscInt, PetscInt, PetscInt, const PetscInt[], const PetscInt[],
                                  const PetscScalar[], const PetscScalar[], const PetscScalar[],
                                  const PetscInt[], const PetscInt[], const PetscScalar[],
                                  const PetscScalar[], const PetscScalar[], PetscReal,
                                  const PetscReal[], const PetscReal[], PetscInt,
                                  const PetscScalar[], PetscScalar[]);

// The Neumann data of the solve under way on this thread.
struct NeumannSlots {
  static constexpr int capacity = 16;  // Neumann conditions per problem
  const std::function<double(const double*, double)>* g[capacity] = {};  // empty function: 0
  bool steady = false;  // evaluate at t = 0 (PETSc's SNES passes t = PETSC_MIN_REAL)
  std::string error;    // the first exception a g threw (its face values become NaN)

  // Fills the slots for one solve and empties them after it.
  class Scope {
   public:
    explicit Scope(bool steady);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
  };
};
NeumannSlots& neumann_slots();

// The natural boundary residual f0_Γ = −g(x, t) of slot `slot` (< NeumannSlots::capacity).
BoundaryFunction neumann_residual(int slot);

// Volume residual: f0 = b·∇u − f (steady) or u_t + b·∇u − f (transient), f1 = κ∇u.
void f0_steady(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[],
               const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[],
               const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[],
               const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[], PetscReal t,
               const PetscReal x[], PetscInt numConstants, const PetscScalar constants[],
               PetscScalar f0[]);
void f0_transient(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[],
                  const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[],
                  const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[],
                  const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[],
                  PetscReal t, const PetscReal x[], PetscInt numConstants,
                  const PetscScalar constants[], PetscScalar f0[]);
void f1_diffusion(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[],
                  const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[],
                  const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[],
                  const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[],
                  PetscReal t, const PetscReal x[], PetscInt numConstants,
                  const PetscScalar constants[], PetscScalar f1[]);

// Jacobian: g0 = shift ∂f0/∂u_t (transient only), g1 = ∂f0/∂∇u = b, g3 = κ I.
void g0_transient(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[],
                  const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[],
                  const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[],
                  const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[],
                  PetscReal t, PetscReal u_tShift, const PetscReal x[], PetscInt numConstants,
                  const PetscScalar constants[], PetscScalar g0[]);
void g1_advection(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[],
                  const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[],
                  const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[],
                  const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[],
                  PetscReal t, PetscReal u_tShift, const PetscReal x[], PetscInt numConstants,
                  const PetscScalar constants[], PetscScalar g1[]);
void g3_diffusion(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[],
                  const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[],
                  const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[],
                  const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[],
                  PetscReal t, PetscReal u_tShift, const PetscReal x[], PetscInt numConstants,
                  const PetscScalar constants[], PetscScalar g3[]);

}  // namespace karman::fem::detail
