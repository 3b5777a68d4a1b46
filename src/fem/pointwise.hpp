#pragma once
// The PetscDS pointwise functions of the finite-element solvers (fem.hpp), thin adapters from
// PETSc's calling convention to karman/pde/equations.hpp's weak-form terms. PETSc gives them no
// user context, so the data arrive as auxiliary fields and constants:
//   aux field 0  f   source          (P_k, refreshed at every residual time for heat)
//   aux field 1  κ   coefficient     (P_k from a function, or P0 from per-cell values)
//   aux field 2  g   Neumann data    (P_k; one auxiliary vector per Neumann face-set value)
//   constants    b_0, b_1, b_2       advection velocity (zero unless advection–diffusion)

#include <petscds.h>

namespace karman::fem::detail {

enum AuxField : PetscInt { aux_source = 0, aux_coefficient = 1, aux_neumann = 2, aux_count = 3 };
constexpr PetscInt constant_count = 3;

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

// Natural boundary residual f0_Γ = −g (g from aux field 2 of the face's auxiliary vector).
void f0_neumann(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[],
                const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[],
                const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[],
                const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[],
                PetscReal t, const PetscReal x[], const PetscReal n[], PetscInt numConstants,
                const PetscScalar constants[], PetscScalar f0[]);

}  // namespace karman::fem::detail
