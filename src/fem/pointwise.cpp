#include "pointwise.hpp"

#include <array>
#include <exception>
#include <limits>
#include <utility>

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

NeumannSlots& neumann_slots() {
  thread_local NeumannSlots slots;
  return slots;
}

NeumannSlots::Scope::Scope(bool steady) {
  neumann_slots() = NeumannSlots{};
  neumann_slots().steady = steady;
}

NeumannSlots::Scope::~Scope() { neumann_slots() = NeumannSlots{}; }

namespace {

// g of slot `Slot` at a face quadrature point; an exception cannot cross PETSc's C frames, so it
// is kept for the driver and the value becomes NaN.
template <int Slot>
void f0_neumann(PetscInt, PetscInt, PetscInt, const PetscInt[], const PetscInt[],
                const PetscScalar[], const PetscScalar[], const PetscScalar[], const PetscInt[],
                const PetscInt[], const PetscScalar[], const PetscScalar[], const PetscScalar[],
                PetscReal t, const PetscReal x[], const PetscReal[], PetscInt, const PetscScalar[],
                PetscScalar f0[]) {
  NeumannSlots& slots = neumann_slots();
  const auto* g = slots.g[Slot];
  double value = 0.0;
  try {
    if (g && *g) value = (*g)(x, slots.steady ? 0.0 : t);
  } catch (const std::exception& e) {
    if (slots.error.empty()) slots.error = e.what();
    value = std::numeric_limits<double>::quiet_NaN();
  }
  f0[0] = pde::neumann_residual<PetscScalar>(value);
}

template <int... Slots>
constexpr std::array<BoundaryFunction, sizeof...(Slots)> neumann_table(
    std::integer_sequence<int, Slots...>) {
  return {f0_neumann<Slots>...};
}

}  // namespace

BoundaryFunction neumann_residual(int slot) {
  static constexpr auto table =
      neumann_table(std::make_integer_sequence<int, NeumannSlots::capacity>{});
  return table[static_cast<std::size_t>(slot)];
}

}  // namespace karman::fem::detail
