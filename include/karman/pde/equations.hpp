#pragma once
// Pointwise definitions of Karman's equations, written once and used by every consumer: the
// PETSc finite-difference discretisations (fluxes), the PINN residuals (strong form in terms of
// u, grad u, Laplacian) and the dataset generators. Loops live in the drivers, never here.
//
//   poisson  -Δu = f
//   darcy    -∇·(a ∇u) = f
//   heat     u_t - κ Δu = f
//   burgers  u_t + (u²/2)_x = ν u_xx

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

// Coefficient on the face between two nodes: the harmonic mean, which makes the two-point flux
// exact for a layered medium and keeps a high/low contrast from leaking across a jump.
inline double face_coefficient(double a_left, double a_right) {
  return 2.0 * a_left * a_right / (a_left + a_right);
}

}  // namespace karman::pde
