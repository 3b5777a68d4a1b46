#pragma once
// Pointwise definitions of Karman's equations, written once and used by every consumer: the
// PETSc finite-difference discretisations (fluxes), the PINN residuals (strong form in terms of
// u, grad u, Laplacian) and the dataset generators. Loops live in the drivers, never here.
//
//   poisson  -Δu = f
//   darcy    -∇·(a ∇u) = f
//   heat     u_t - κ Δu = f
//   burgers  u_t + (u²/2)_x = ν u_xx
//   allen_cahn  u_t − ε u_xx + r (u³ − u) = f   (1D; r the reaction coefficient)
//   helmholtz   −Δu − k² u = f
//   wave        u_tt = c² u_xx + f               (1D)
//   navier_stokes (steady, incompressible, 2D; velocity (u, v), kinematic pressure p)
//            (u·∇)u + ∇p − νΔu = 0,  ∇·u = 0

namespace karman::pde {

// Strong-form residuals (zero for the exact solution).
inline double poisson_residual(double laplacian_u, double f) { return -laplacian_u - f; }

// div(a grad u) = a Δu + grad a · grad u.
inline double darcy_residual(double a, double grad_a_dot_grad_u, double laplacian_u, double f) {
  return -(a * laplacian_u + grad_a_dot_grad_u) - f;
}

inline double heat_residual(double u_t, double kappa, double laplacian_u, double f) {
  return u_t - kappa * laplacian_u - f;
}

inline double burgers_residual(double u_t, double u, double u_x, double nu, double u_xx) {
  return u_t + u * u_x - nu * u_xx;
}

// Flux of the conservative Burgers form (u²/2)_x.
inline double burgers_flux(double u) { return 0.5 * u * u; }

// The Allen–Cahn reaction r (u³ − u) (a double-well potential's gradient) and its derivative.
inline double allen_cahn_reaction(double u, double reaction) { return reaction * (u * u * u - u); }
inline double allen_cahn_reaction_derivative(double u, double reaction) {
  return reaction * (3.0 * u * u - 1.0);
}

inline double allen_cahn_residual(double u_t, double u, double epsilon, double u_xx,
                                  double reaction, double f) {
  return u_t - epsilon * u_xx + allen_cahn_reaction(u, reaction) - f;
}

inline double helmholtz_residual(double laplacian_u, double u, double wavenumber, double f) {
  return -laplacian_u - wavenumber * wavenumber * u - f;
}

inline double wave_residual(double u_tt, double speed, double u_xx, double f) {
  return u_tt - speed * speed * u_xx - f;
}

// ------------------------------------------------------------------- Navier–Stokes (2D, steady)
// A velocity field's value, first derivatives and Laplacians at one point.
struct VelocityJet {
  double u = 0, v = 0;
  double u_x = 0, u_y = 0, v_x = 0, v_y = 0;
  double laplacian_u = 0, laplacian_v = 0;
};

// Momentum: (u·∇)u + ∇p − νΔu, by component.
inline double momentum_x_residual(const VelocityJet& q, double p_x, double nu) {
  return q.u * q.u_x + q.v * q.u_y + p_x - nu * q.laplacian_u;
}
inline double momentum_y_residual(const VelocityJet& q, double p_y, double nu) {
  return q.u * q.v_x + q.v * q.v_y + p_y - nu * q.laplacian_v;
}

// Continuity: ∇·u.
inline double continuity_residual(const VelocityJet& q) { return q.u_x + q.v_y; }

// The same flow in streamfunction–vorticity form, u = ψ_y, v = −ψ_x, ω = v_x − u_y (continuity
// holds by construction; the curl of the momentum equation removes p):
//   −Δψ = ω,   u ω_x + v ω_y − νΔω = 0.
// For a divergence-free field Δu = −ω_y and Δv = ω_x, which gives ∇p back from (u, ω):
//   p_x = −momentum_x_residual(q, 0, ν) with q.laplacian_u = −ω_y, and likewise p_y.
inline double streamfunction_residual(double laplacian_psi, double omega) {
  return -laplacian_psi - omega;
}
inline double vorticity_transport_residual(double u, double v, double omega_x, double omega_y,
                                           double nu, double laplacian_omega) {
  return u * omega_x + v * omega_y - nu * laplacian_omega;
}

// Coefficient on the face between two nodes: the harmonic mean, which makes the two-point flux
// exact for a layered medium and keeps a high/low contrast from leaking across a jump.
inline double face_coefficient(double a_left, double a_right) {
  return 2.0 * a_left * a_right / (a_left + a_right);
}

}  // namespace karman::pde
