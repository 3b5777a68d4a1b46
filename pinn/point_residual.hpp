#pragma once
// Pointwise PDE residuals of a PINN together with their linearisation in the network's output
// channels. At one point the network gives, for each output o (u; or u, v, p), the value, the
// first derivatives and the pure second derivatives with respect to every input (time, for a
// time-dependent PDE, is the last input) — the channels of Module::forward_taylor:
//   c = 0 value,  c = 1 + k  ∂/∂x_k,  c = 1 + dims + k  ∂²/∂x_k².
// A residual kernel returns r_q for its components q and ∂r_q/∂(channel c, output o). The loss
// gradient's backward seed is then Σ_q 2 r_q ∂r_q/∂(c, o), and a Gauss–Newton Jacobian row is the
// backward pass of ∂r_q/∂(c, o) itself, so every PDE is written once, here, for both.
// The residual values are the definitions of karman/pde/equations.hpp.

#include <Kokkos_Core.hpp>

#include "karman/pde/equations.hpp"

namespace karman::pinn {

enum class PointPde { poisson, heat, burgers, allen_cahn, helmholtz, wave, navier_stokes };

inline constexpr int max_channels = 9;    // 1 + 2·4 inputs (3 space dimensions and time)
inline constexpr int max_outputs = 3;     // u, v, p
inline constexpr int max_components = 3;  // momentum x, momentum y, continuity

struct PointPdeParameters {
  PointPde pde = PointPde::poisson;
  int dims = 2;   // network inputs
  int space = 2;  // space dimensions (dims - 1 for a time-dependent PDE)
  int outputs = 1;
  double kappa = 1.0, nu = 0.0;
  double epsilon = 1e-4, reaction = 5.0;  // Allen–Cahn
  double wavenumber = 0.0;                // Helmholtz k
  double speed = 1.0;                     // wave c
  // Residual components: momentum x, momentum y and continuity for Navier–Stokes, else one.
  int components() const { return pde == PointPde::navier_stokes ? 3 : 1; }
};

// r_q and its linearisation dr[q][c][o] (entries not set are zero).
template <class T>
struct PointLinearisation {
  T r[max_components];
  T dr[max_components][max_channels][max_outputs];
};

// jet(c, o): channel c of output o at the point; f: the source term there.
template <class T, class Jet>
KOKKOS_INLINE_FUNCTION void point_residual(const PointPdeParameters& p, const Jet& jet, T f,
                                           PointLinearisation<T>& out) {
  for (int q = 0; q < max_components; ++q) {
    out.r[q] = T(0);
    for (int c = 0; c < max_channels; ++c)
      for (int o = 0; o < max_outputs; ++o) out.dr[q][c][o] = T(0);
  }
  const int second = 1 + p.dims;  // channel of ∂²/∂x_0²
  T laplacian = 0;
  for (int k = 0; k < p.space; ++k) laplacian += jet(second + k, 0);
  switch (p.pde) {
    case PointPde::poisson:  // -Δu - f
      out.r[0] = static_cast<T>(pde::poisson_residual(laplacian, f));
      for (int k = 0; k < p.space; ++k) out.dr[0][second + k][0] = T(-1);
      break;
    case PointPde::heat: {  // u_t - κΔu - f, t the last input
      const int t = 1 + p.space;
      const T kappa = static_cast<T>(p.kappa);
      out.r[0] = static_cast<T>(pde::heat_residual(jet(t, 0), kappa, laplacian, f));
      out.dr[0][t][0] = T(1);
      for (int k = 0; k < p.space; ++k) out.dr[0][second + k][0] = -kappa;
      break;
    }
    case PointPde::burgers: {  // u_t + u u_x - ν u_xx - f in 1D (x, t)
      const T u = jet(0, 0), u_x = jet(1, 0), u_t = jet(2, 0), u_xx = jet(second, 0);
      const T nu = static_cast<T>(p.nu);
      out.r[0] = static_cast<T>(pde::burgers_residual(u_t, u, u_x, nu, u_xx)) - f;
      out.dr[0][0][0] = u_x;
      out.dr[0][1][0] = u;
      out.dr[0][2][0] = T(1);
      out.dr[0][second][0] = -nu;
      break;
    }
    case PointPde::allen_cahn: {  // u_t - ε u_xx + r(u³ - u) - f in 1D (x, t)
      const T u = jet(0, 0), u_t = jet(2, 0), u_xx = jet(second, 0);
      const T epsilon = static_cast<T>(p.epsilon), reaction = static_cast<T>(p.reaction);
      out.r[0] = static_cast<T>(pde::allen_cahn_residual(u_t, u, epsilon, u_xx, reaction, f));
      out.dr[0][0][0] = static_cast<T>(pde::allen_cahn_reaction_derivative(u, reaction));
      out.dr[0][2][0] = T(1);
      out.dr[0][second][0] = -epsilon;
      break;
    }
    case PointPde::helmholtz: {  // -Δu - k²u - f
      const T k = static_cast<T>(p.wavenumber);
      out.r[0] = static_cast<T>(pde::helmholtz_residual(laplacian, jet(0, 0), k, f));
      out.dr[0][0][0] = -k * k;
      for (int k_dim = 0; k_dim < p.space; ++k_dim) out.dr[0][second + k_dim][0] = T(-1);
      break;
    }
    case PointPde::wave: {  // u_tt - c² u_xx - f in 1D (x, t); t is the last input
      const int tt = second + p.space;
      const T c = static_cast<T>(p.speed), u_xx = jet(second, 0), u_tt = jet(tt, 0);
      out.r[0] = static_cast<T>(pde::wave_residual(u_tt, c, u_xx, f));
      out.dr[0][second][0] = -c * c;
      out.dr[0][tt][0] = T(1);
      break;
    }
    case PointPde::navier_stokes: {  // steady 2D, outputs (u, v, p), inputs (x, y)
      // channels: 0 value, 1 ∂x, 2 ∂y, 3 ∂xx, 4 ∂yy; outputs: 0 u, 1 v, 2 p
      pde::VelocityJet q;
      q.u = jet(0, 0), q.v = jet(0, 1);
      q.u_x = jet(1, 0), q.u_y = jet(2, 0), q.v_x = jet(1, 1), q.v_y = jet(2, 1);
      q.laplacian_u = jet(3, 0) + jet(4, 0), q.laplacian_v = jet(3, 1) + jet(4, 1);
      const T nu = static_cast<T>(p.nu);
      out.r[0] = static_cast<T>(pde::momentum_x_residual(q, jet(1, 2), p.nu));
      out.r[1] = static_cast<T>(pde::momentum_y_residual(q, jet(2, 2), p.nu));
      out.r[2] = static_cast<T>(pde::continuity_residual(q));
      // r0 = u u_x + v u_y + p_x − νΔu
      out.dr[0][0][0] = jet(1, 0), out.dr[0][1][0] = jet(0, 0), out.dr[0][2][0] = jet(0, 1);
      out.dr[0][0][1] = jet(2, 0), out.dr[0][1][2] = T(1);
      out.dr[0][3][0] = -nu, out.dr[0][4][0] = -nu;
      // r1 = u v_x + v v_y + p_y − νΔv
      out.dr[1][0][1] = jet(2, 1), out.dr[1][2][1] = jet(0, 1), out.dr[1][1][1] = jet(0, 0);
      out.dr[1][0][0] = jet(1, 1), out.dr[1][2][2] = T(1);
      out.dr[1][3][1] = -nu, out.dr[1][4][1] = -nu;
      // r2 = u_x + v_y
      out.dr[2][1][0] = T(1), out.dr[2][2][1] = T(1);
      break;
    }
  }
}

}  // namespace karman::pinn
