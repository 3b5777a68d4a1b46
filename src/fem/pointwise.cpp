#include "pointwise.hpp"

#include "karman/pde/equations.hpp"

namespace karman::fem::detail {

void f0_steady(PetscInt dim, PetscInt, PetscInt, const PetscInt[], const PetscInt uOff_x[],
               const PetscScalar[], const PetscScalar[], const PetscScalar u_x[],
               const PetscInt aOff[], const PetscInt[], const PetscScalar a[], const PetscScalar[],
               const PetscScalar[], PetscReal, const PetscReal[], PetscInt,
               const PetscScalar constants[], PetscScalar f0[]) {
  f0[0] = pde::transport_value_residual<PetscScalar>(static_cast<int>(dim), 0.0, constants,
                                                     &u_x[uOff_x[0]], a[aOff[aux_source]]);
}

void f0_transient(PetscInt dim, PetscInt, PetscInt, const PetscInt uOff[], const PetscInt uOff_x[],
                  const PetscScalar[], const PetscScalar u_t[], const PetscScalar u_x[],
                  const PetscInt aOff[], const PetscInt[], const PetscScalar a[],
                  const PetscScalar[], const PetscScalar[], PetscReal, const PetscReal[], PetscInt,
                  const PetscScalar constants[], PetscScalar f0[]) {
  f0[0] = pde::transport_value_residual<PetscScalar>(static_cast<int>(dim), u_t[uOff[0]], constants,
                                                     &u_x[uOff_x[0]], a[aOff[aux_source]]);
}

void f1_diffusion(PetscInt dim, PetscInt, PetscInt, const PetscInt[], const PetscInt uOff_x[],
                  const PetscScalar[], const PetscScalar[], const PetscScalar u_x[],
                  const PetscInt aOff[], const PetscInt[], const PetscScalar a[],
                  const PetscScalar[], const PetscScalar[], PetscReal, const PetscReal[], PetscInt,
                  const PetscScalar[], PetscScalar f1[]) {
  pde::diffusion_flux<PetscScalar>(static_cast<int>(dim), a[aOff[aux_coefficient]], &u_x[uOff_x[0]],
                                   f1);
}

void g0_transient(PetscInt dim, PetscInt, PetscInt, const PetscInt[], const PetscInt[],
                  const PetscScalar[], const PetscScalar[], const PetscScalar[], const PetscInt[],
                  const PetscInt[], const PetscScalar[], const PetscScalar[], const PetscScalar[],
                  PetscReal, PetscReal u_tShift, const PetscReal[], PetscInt,
                  const PetscScalar constants[], PetscScalar g0[]) {
  PetscScalar unused[3];
  g0[0] = u_tShift *
          pde::transport_value_residual_fwd<PetscScalar>(static_cast<int>(dim), constants, unused);
}

void g1_advection(PetscInt dim, PetscInt, PetscInt, const PetscInt[], const PetscInt[],
                  const PetscScalar[], const PetscScalar[], const PetscScalar[], const PetscInt[],
                  const PetscInt[], const PetscScalar[], const PetscScalar[], const PetscScalar[],
                  PetscReal, PetscReal, const PetscReal[], PetscInt, const PetscScalar constants[],
                  PetscScalar g1[]) {
  pde::transport_value_residual_fwd<PetscScalar>(static_cast<int>(dim), constants, g1);
}

void g3_diffusion(PetscInt dim, PetscInt, PetscInt, const PetscInt[], const PetscInt[],
                  const PetscScalar[], const PetscScalar[], const PetscScalar[],
                  const PetscInt aOff[], const PetscInt[], const PetscScalar a[],
                  const PetscScalar[], const PetscScalar[], PetscReal, PetscReal, const PetscReal[],
                  PetscInt, const PetscScalar[], PetscScalar g3[]) {
  const PetscScalar kappa = pde::diffusion_flux_fwd<PetscScalar>(a[aOff[aux_coefficient]]);
  for (PetscInt i = 0; i < dim; ++i)
    for (PetscInt j = 0; j < dim; ++j) g3[i * dim + j] = i == j ? kappa : 0.0;
}

void f0_neumann(PetscInt, PetscInt, PetscInt, const PetscInt[], const PetscInt[],
                const PetscScalar[], const PetscScalar[], const PetscScalar[],
                const PetscInt aOff[], const PetscInt[], const PetscScalar a[], const PetscScalar[],
                const PetscScalar[], PetscReal, const PetscReal[], const PetscReal[], PetscInt,
                const PetscScalar[], PetscScalar f0[]) {
  f0[0] = pde::neumann_residual<PetscScalar>(a[aOff[aux_neumann]]);
}

}  // namespace karman::fem::detail
