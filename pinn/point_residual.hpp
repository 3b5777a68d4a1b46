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

#include "karman/config/pde_traits.hpp"
#include "karman/pde/equations.hpp"

namespace karman::pinn {

// The PDEs with a PINN residual (config::traits(type).pinn).
using PointPde = config::PdeType;

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
  double speed = 1.0;                     // wave c, convection c
  // Residual components: momentum x, momentum y and continuity for Navier–Stokes, else one
  // (config::traits(pde).residual_components, which device code cannot read; checked below).
  KOKKOS_INLINE_FUNCTION constexpr int components() const {
    return pde == PointPde::navier_stokes ? 3 : 1;
  }
};

namespace detail {
constexpr bool components_match_traits() {
  for (const config::PdeTraits& t : config::kPdeTraits) {
    PointPdeParameters p;
    p.pde = t.type;
    if (p.components() != t.residual_components || t.residual_components > max_components)
      return false;
  }
  return true;
}
static_assert(components_match_traits(), "PointPdeParameters::components() against kPdeTraits");
}  // namespace detail

// r_q and its linearisation dr[q][c][o] (entries not set are zero).
template <class T>
struct PointLinearisation {
  T r[max_components];
  T dr[max_components][max_channels][max_outputs];
};

// A scalar residual's partials (karman/pde/equations.hpp) as dr[q][c][0]: each entry goes to the
// channel it is the derivative of; for a time-dependent PDE time is the last input (index
// space), so ∂u/∂t is channel 1 + space and ∂²u/∂t² channel 1 + dims + space. out.dr is zero on
// entry: only non-zero partials are written, which lets the compiler drop the stores of the
// partials an equation does not have (constant zeros once the twin is inlined).
template <class T>
KOKKOS_INLINE_FUNCTION void scatter_scalar(const PointPdeParameters& p,
                                           const pde::ScalarLinearisation<T>& d, int q,
                                           PointLinearisation<T>& out) {
  const int second = 1 + p.dims;  // channel of ∂²/∂x_0²
  if (d.u != T(0)) out.dr[q][0][0] = d.u;
  if (d.u_x != T(0)) out.dr[q][1][0] = d.u_x;
  for (int k = 0; k < p.space; ++k) out.dr[q][second + k][0] = d.laplacian_u;
  if (d.u_xx != T(0)) out.dr[q][second][0] += d.u_xx;
  if (d.u_t != T(0)) out.dr[q][1 + p.space][0] = d.u_t;
  if (d.u_tt != T(0)) out.dr[q][second + p.space][0] = d.u_tt;
}

// The Navier–Stokes partials ∂r/∂(velocity jet, ∇p) as dr[q][c][o]: channels 0 value, 1 ∂x,
// 2 ∂y, 3 ∂xx, 4 ∂yy; outputs 0 u, 1 v, 2 p.
template <class T>
KOKKOS_INLINE_FUNCTION void scatter_flow(const pde::FlowLinearisation<T>& d, int q,
                                         PointLinearisation<T>& out) {
  const pde::VelocityJet<T>& v = d.velocity;
  out.dr[q][0][0] = v.u, out.dr[q][1][0] = v.u_x, out.dr[q][2][0] = v.u_y;
  out.dr[q][0][1] = v.v, out.dr[q][1][1] = v.v_x, out.dr[q][2][1] = v.v_y;
  out.dr[q][3][0] = v.laplacian_u, out.dr[q][4][0] = v.laplacian_u;
  out.dr[q][3][1] = v.laplacian_v, out.dr[q][4][1] = v.laplacian_v;
  out.dr[q][1][2] = d.p_x, out.dr[q][2][2] = d.p_y;
}

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
  // Time is the last input: u_t is channel 1 + space, u_tt channel second + space. The 1D
  // equations are in (x, t): u_x is channel 1, u_xx channel `second`.
  const int t = 1 + p.space, tt = second + p.space;
  switch (p.pde) {
    case PointPde::poisson:
      out.r[0] = pde::poisson_residual(laplacian, f);
      scatter_scalar(p, pde::poisson_residual_fwd<T>(), 0, out);
      break;
    case PointPde::heat: {
      const T kappa = static_cast<T>(p.kappa);
      out.r[0] = pde::heat_residual(jet(t, 0), kappa, laplacian, f);
      scatter_scalar(p, pde::heat_residual_fwd(kappa), 0, out);
      break;
    }
    case PointPde::burgers: {
      const T u = jet(0, 0), u_x = jet(1, 0), u_t = jet(t, 0), u_xx = jet(second, 0);
      const T nu = static_cast<T>(p.nu);
      out.r[0] = pde::burgers_residual(u_t, u, u_x, nu, u_xx, f);
      scatter_scalar(p, pde::burgers_residual_fwd(u, u_x, nu), 0, out);
      break;
    }
    case PointPde::allen_cahn: {
      const T u = jet(0, 0), u_t = jet(t, 0), u_xx = jet(second, 0);
      const T epsilon = static_cast<T>(p.epsilon), reaction = static_cast<T>(p.reaction);
      out.r[0] = pde::allen_cahn_residual(u_t, u, epsilon, u_xx, reaction, f);
      scatter_scalar(p, pde::allen_cahn_residual_fwd(u, epsilon, reaction), 0, out);
      break;
    }
    case PointPde::helmholtz: {
      const T k = static_cast<T>(p.wavenumber);
      out.r[0] = pde::helmholtz_residual(laplacian, jet(0, 0), k, f);
      scatter_scalar(p, pde::helmholtz_residual_fwd(k), 0, out);
      break;
    }
    case PointPde::wave: {
      const T c = static_cast<T>(p.speed), u_xx = jet(second, 0), u_tt = jet(tt, 0);
      out.r[0] = pde::wave_residual(u_tt, c, u_xx, f);
      scatter_scalar(p, pde::wave_residual_fwd(c), 0, out);
      break;
    }
    case PointPde::convection: {
      const T c = static_cast<T>(p.speed), nu = static_cast<T>(p.nu);
      out.r[0] = pde::convection_residual(jet(t, 0), c, jet(1, 0), nu, jet(second, 0));
      scatter_scalar(p, pde::convection_residual_fwd(c, nu), 0, out);
      break;
    }
    case PointPde::navier_stokes: {  // steady 2D, outputs (u, v, p), inputs (x, y)
      // channels: 0 value, 1 ∂x, 2 ∂y, 3 ∂xx, 4 ∂yy; outputs: 0 u, 1 v, 2 p
      pde::VelocityJet<T> q;
      q.u = jet(0, 0), q.v = jet(0, 1);
      q.u_x = jet(1, 0), q.u_y = jet(2, 0), q.v_x = jet(1, 1), q.v_y = jet(2, 1);
      q.laplacian_u = jet(3, 0) + jet(4, 0), q.laplacian_v = jet(3, 1) + jet(4, 1);
      const T nu = static_cast<T>(p.nu);
      out.r[0] = pde::momentum_x_residual(q, jet(1, 2), nu);
      out.r[1] = pde::momentum_y_residual(q, jet(2, 2), nu);
      out.r[2] = pde::continuity_residual(q);
      scatter_flow(pde::momentum_x_residual_fwd(q, nu), 0, out);
      scatter_flow(pde::momentum_y_residual_fwd(q, nu), 1, out);
      scatter_flow(pde::continuity_residual_fwd<T>(), 2, out);
      break;
    }
    case PointPde::darcy:  // no PINN residual (config::traits(...).pinn is false)
    case PointPde::advection_diffusion:
    case PointPde::combined:
      break;
  }
}

}  // namespace karman::pinn
