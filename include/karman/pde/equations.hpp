#pragma once
// Pointwise definitions of Karman's equations, written once and used by every consumer: the
// PETSc finite-difference discretisations (fluxes), the PINN residuals (strong form in terms of
// u, grad u, Laplacian) and the dataset generators. Loops live in the drivers, never here.
//
//   poisson  -Δu = f
//   darcy    -∇·(a ∇u) = f
//   heat     u_t - κ Δu = f
//   burgers  u_t + (u²/2)_x = ν u_xx + f
//   allen_cahn  u_t − ε u_xx + r (u³ − u) = f   (1D; r the reaction coefficient)
//   helmholtz   −Δu − k² u = f
//   wave        u_tt = c² u_xx + f               (1D)
//   convection  u_t + c u_x = ν u_xx              (1D periodic)
//   navier_stokes (steady, incompressible, 2D; velocity (u, v), kinematic pressure p)
//            (u·∇)u + ∇p − νΔu = 0,  ∇·u = 0
//
// Every function is templated on the scalar T (float, double, or any type with the arithmetic
// operators) and callable on a Kokkos device: plain operators only, no <cmath>. As libCEED's
// QFunctions, each residual `name_residual` has its twin `name_residual_fwd` beside it: the
// linearisation, ∂r/∂(each field argument: u, its derivatives, Δu) at the same point. A PINN's
// Gauss–Newton Jacobian and loss gradient, and a PETSc Jacobian, are built from these partials,
// so a residual and its derivative cannot drift apart. The twins take only the arguments the
// derivatives depend on.

#include <Kokkos_Macros.hpp>

namespace karman::pde {

// ∂r/∂(field argument) of a scalar residual; zero for the arguments an equation does not take.
// The PINN maps each entry to the network channel it is the derivative of.
template <class T>
struct ScalarLinearisation {
  T u = T(0);            // ∂r/∂u
  T u_t = T(0);          // ∂r/∂u_t
  T u_tt = T(0);         // ∂r/∂u_tt
  T u_x = T(0);          // ∂r/∂u_x (1D equations)
  T u_xx = T(0);         // ∂r/∂u_xx (1D equations)
  T laplacian_u = T(0);  // ∂r/∂Δu, hence ∂r/∂(∂²u/∂x_k²) for every space direction k
  T grad_a_dot_grad_u = T(0);  // Darcy: ∂r/∂(∇a·∇u)
};

// ------------------------------------------------------------------- Poisson: −Δu − f
template <class T>
KOKKOS_INLINE_FUNCTION T poisson_residual(T laplacian_u, T f) {
  return -laplacian_u - f;
}
template <class T>
KOKKOS_INLINE_FUNCTION ScalarLinearisation<T> poisson_residual_fwd() {
  ScalarLinearisation<T> d;
  d.laplacian_u = T(-1);
  return d;
}

// ------------------------------------------------------------------- Darcy: −∇·(a∇u) − f
// div(a grad u) = a Δu + grad a · grad u.
template <class T>
KOKKOS_INLINE_FUNCTION T darcy_residual(T a, T grad_a_dot_grad_u, T laplacian_u, T f) {
  return -(a * laplacian_u + grad_a_dot_grad_u) - f;
}
template <class T>
KOKKOS_INLINE_FUNCTION ScalarLinearisation<T> darcy_residual_fwd(T a) {
  ScalarLinearisation<T> d;
  d.laplacian_u = -a;
  d.grad_a_dot_grad_u = T(-1);
  return d;
}

// ------------------------------------------------------------------- heat: u_t − κΔu − f
template <class T>
KOKKOS_INLINE_FUNCTION T heat_residual(T u_t, T kappa, T laplacian_u, T f) {
  return u_t - kappa * laplacian_u - f;
}
template <class T>
KOKKOS_INLINE_FUNCTION ScalarLinearisation<T> heat_residual_fwd(T kappa) {
  ScalarLinearisation<T> d;
  d.u_t = T(1);
  d.laplacian_u = -kappa;
  return d;
}

// ------------------------------------------------------------------- Burgers: u_t + u u_x − ν u_xx
// − f
template <class T>
KOKKOS_INLINE_FUNCTION T burgers_residual(T u_t, T u, T u_x, T nu, T u_xx, T f) {
  return u_t + u * u_x - nu * u_xx - f;
}
template <class T>
KOKKOS_INLINE_FUNCTION ScalarLinearisation<T> burgers_residual_fwd(T u, T u_x, T nu) {
  ScalarLinearisation<T> d;
  d.u = u_x;
  d.u_x = u;
  d.u_t = T(1);
  d.u_xx = -nu;
  return d;
}

// Flux of the conservative Burgers form (u²/2)_x.
template <class T>
KOKKOS_INLINE_FUNCTION T burgers_flux(T u) {
  return T(0.5) * u * u;
}

// ------------------------------------------------------------------- Allen–Cahn (1D)
// The reaction r (u³ − u) (a double-well potential's gradient) and its derivative in u.
template <class T>
KOKKOS_INLINE_FUNCTION T allen_cahn_reaction(T u, T reaction) {
  return reaction * (u * u * u - u);
}
template <class T>
KOKKOS_INLINE_FUNCTION T allen_cahn_reaction_derivative(T u, T reaction) {
  return reaction * (T(3) * u * u - T(1));
}

// u_t − ε u_xx + r (u³ − u) − f
template <class T>
KOKKOS_INLINE_FUNCTION T allen_cahn_residual(T u_t, T u, T epsilon, T u_xx, T reaction, T f) {
  return u_t - epsilon * u_xx + allen_cahn_reaction(u, reaction) - f;
}
template <class T>
KOKKOS_INLINE_FUNCTION ScalarLinearisation<T> allen_cahn_residual_fwd(T u, T epsilon, T reaction) {
  ScalarLinearisation<T> d;
  d.u = allen_cahn_reaction_derivative(u, reaction);
  d.u_t = T(1);
  d.u_xx = -epsilon;
  return d;
}

// ------------------------------------------------------------------- Helmholtz: −Δu − k²u − f
template <class T>
KOKKOS_INLINE_FUNCTION T helmholtz_residual(T laplacian_u, T u, T wavenumber, T f) {
  return -laplacian_u - wavenumber * wavenumber * u - f;
}
template <class T>
KOKKOS_INLINE_FUNCTION ScalarLinearisation<T> helmholtz_residual_fwd(T wavenumber) {
  ScalarLinearisation<T> d;
  d.u = -wavenumber * wavenumber;
  d.laplacian_u = T(-1);
  return d;
}

// ------------------------------------------------------------------- wave (1D): u_tt − c²u_xx − f
template <class T>
KOKKOS_INLINE_FUNCTION T wave_residual(T u_tt, T speed, T u_xx, T f) {
  return u_tt - speed * speed * u_xx - f;
}
template <class T>
KOKKOS_INLINE_FUNCTION ScalarLinearisation<T> wave_residual_fwd(T speed) {
  ScalarLinearisation<T> d;
  d.u_xx = -speed * speed;
  d.u_tt = T(1);
  return d;
}

// ------------------------------------------------------------------- convection (1D): u_t + c u_x
// − ν u_xx
template <class T>
KOKKOS_INLINE_FUNCTION T convection_residual(T u_t, T speed, T u_x, T nu, T u_xx) {
  return u_t + speed * u_x - nu * u_xx;
}
template <class T>
KOKKOS_INLINE_FUNCTION ScalarLinearisation<T> convection_residual_fwd(T speed, T nu) {
  ScalarLinearisation<T> d;
  d.u_t = T(1);
  d.u_x = speed;
  d.u_xx = -nu;
  return d;
}

// ------------------------------------------------------------------- Navier–Stokes (2D, steady)
// A velocity field's value, first derivatives and Laplacians at one point; the linearisations
// below use the same layout for ∂r/∂(each entry).
template <class T = double>
struct VelocityJet {
  T u = T(0), v = T(0);
  T u_x = T(0), u_y = T(0), v_x = T(0), v_y = T(0);
  T laplacian_u = T(0), laplacian_v = T(0);
};

// ∂r/∂(velocity jet entry) and ∂r/∂(∂p/∂x, ∂p/∂y) of one flow residual.
template <class T>
struct FlowLinearisation {
  VelocityJet<T> velocity;
  T p_x = T(0), p_y = T(0);
};

// Momentum: (u·∇)u + ∇p − νΔu, by component.
template <class T>
KOKKOS_INLINE_FUNCTION T momentum_x_residual(const VelocityJet<T>& q, T p_x, T nu) {
  return q.u * q.u_x + q.v * q.u_y + p_x - nu * q.laplacian_u;
}
template <class T>
KOKKOS_INLINE_FUNCTION FlowLinearisation<T> momentum_x_residual_fwd(const VelocityJet<T>& q, T nu) {
  FlowLinearisation<T> d;
  d.velocity.u = q.u_x, d.velocity.v = q.u_y;
  d.velocity.u_x = q.u, d.velocity.u_y = q.v;
  d.velocity.laplacian_u = -nu;
  d.p_x = T(1);
  return d;
}

template <class T>
KOKKOS_INLINE_FUNCTION T momentum_y_residual(const VelocityJet<T>& q, T p_y, T nu) {
  return q.u * q.v_x + q.v * q.v_y + p_y - nu * q.laplacian_v;
}
template <class T>
KOKKOS_INLINE_FUNCTION FlowLinearisation<T> momentum_y_residual_fwd(const VelocityJet<T>& q, T nu) {
  FlowLinearisation<T> d;
  d.velocity.u = q.v_x, d.velocity.v = q.v_y;
  d.velocity.v_x = q.u, d.velocity.v_y = q.v;
  d.velocity.laplacian_v = -nu;
  d.p_y = T(1);
  return d;
}

// Continuity: ∇·u.
template <class T>
KOKKOS_INLINE_FUNCTION T continuity_residual(const VelocityJet<T>& q) {
  return q.u_x + q.v_y;
}
template <class T>
KOKKOS_INLINE_FUNCTION FlowLinearisation<T> continuity_residual_fwd() {
  FlowLinearisation<T> d;
  d.velocity.u_x = T(1), d.velocity.v_y = T(1);
  return d;
}

// The same flow in streamfunction–vorticity form, u = ψ_y, v = −ψ_x, ω = v_x − u_y (continuity
// holds by construction; the curl of the momentum equation removes p):
//   −Δψ = ω,   u ω_x + v ω_y − νΔω = 0.
// For a divergence-free field Δu = −ω_y and Δv = ω_x, which gives ∇p back from (u, ω):
//   p_x = −momentum_x_residual(q, 0, ν) with q.laplacian_u = −ω_y, and likewise p_y.
template <class T>
KOKKOS_INLINE_FUNCTION T streamfunction_residual(T laplacian_psi, T omega) {
  return -laplacian_psi - omega;
}

// ∂r/∂(Δψ, ω) of the streamfunction residual.
template <class T>
struct StreamfunctionLinearisation {
  T laplacian_psi = T(0), omega = T(0);
};
template <class T>
KOKKOS_INLINE_FUNCTION StreamfunctionLinearisation<T> streamfunction_residual_fwd() {
  return {T(-1), T(-1)};
}

template <class T>
KOKKOS_INLINE_FUNCTION T vorticity_transport_residual(T u, T v, T omega_x, T omega_y, T nu,
                                                      T laplacian_omega) {
  return u * omega_x + v * omega_y - nu * laplacian_omega;
}

// ∂r/∂(u, v, ω_x, ω_y, Δω) of the vorticity transport residual.
template <class T>
struct VorticityLinearisation {
  T u = T(0), v = T(0), omega_x = T(0), omega_y = T(0), laplacian_omega = T(0);
};
template <class T>
KOKKOS_INLINE_FUNCTION VorticityLinearisation<T> vorticity_transport_residual_fwd(T u, T v,
                                                                                  T omega_x,
                                                                                  T omega_y, T nu) {
  return {omega_x, omega_y, u, v, -nu};
}

// ------------------------------------------------------------------- weak forms (finite elements)
// Scalar second-order equations in the weak form of PETSc's PetscDS, r(u; v) = ∫ f0 v + f1·∇v
// (+ ∫_Γ f0_Γ v on natural boundaries), one family for every finite-element reference solver:
//   c u_t − ∇·(κ∇u) + b·∇u − f = 0,   κ ∂u/∂n = g on Neumann parts,
// with c = 1 (heat) or 0 (steady: Poisson κ = 1, Darcy κ(x), advection–diffusion κ = ε, b ≠ 0).
// The `_fwd` twins give the Jacobian pieces: ∂f0/∂u_t (PETSc scales it by the shift a of
// u_t = a u + ...), ∂f0/∂∇u (a vector) and ∂f1/∂∇u (κ times the identity, returned as κ).

// f0 = c u_t + b·∇u − f; `velocity` and `grad_u` have `dim` entries.
template <class T>
KOKKOS_INLINE_FUNCTION T transport_value_residual(int dim, T u_t, const T* velocity,
                                                  const T* grad_u, T f) {
  T advection = T(0);
  for (int d = 0; d < dim; ++d) advection += velocity[d] * grad_u[d];
  return u_t + advection - f;
}
// ∂f0/∂u_t and ∂f0/∂(∂u/∂x_d) (= b_d, written into d_grad_u[dim]).
template <class T>
KOKKOS_INLINE_FUNCTION T transport_value_residual_fwd(int dim, const T* velocity, T* d_grad_u) {
  for (int d = 0; d < dim; ++d) d_grad_u[d] = velocity[d];
  return T(1);
}

// f1 = κ∇u, the diffusive flux (with the sign of −∇·(κ∇u) after integration by parts).
template <class T>
KOKKOS_INLINE_FUNCTION void diffusion_flux(int dim, T kappa, const T* grad_u, T* flux) {
  for (int d = 0; d < dim; ++d) flux[d] = kappa * grad_u[d];
}
// ∂f1_i/∂(∂u/∂x_j) = κ δ_ij.
template <class T>
KOKKOS_INLINE_FUNCTION T diffusion_flux_fwd(T kappa) {
  return kappa;
}

// Natural boundary term f0_Γ = −g, g the outward flux data κ ∂u/∂n; independent of u.
template <class T>
KOKKOS_INLINE_FUNCTION T neumann_residual(T g) {
  return -g;
}

// Coefficient on the face between two nodes: the harmonic mean, which makes the two-point flux
// exact for a layered medium and keeps a high/low contrast from leaking across a jump.
template <class T>
KOKKOS_INLINE_FUNCTION T face_coefficient(T a_left, T a_right) {
  return T(2) * a_left * a_right / (a_left + a_right);
}

}  // namespace karman::pde
