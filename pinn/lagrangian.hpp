#pragma once
// Lagrangian PINN (Mojgani, Balajewicz, Hassanzadeh, CMAME 2023, arXiv 2205.02902) for the
// convection–diffusion equation u_t + c u_x = ν u_xx, periodic in x with period L (pde.type
// convection, `formulation: lagrangian` in a kind pinn case).
//
// The plain (Eulerian) PINN fails for strong convection (Krishnapriyan et al. 2021: c ≥ 30 on
// [0, 2π)): the solution sin(x − ct) has c·t_end/L periods along t, which the network cannot fit
// from the residual. Along the characteristics x(ξ, t) the same solution is smooth and nearly
// constant, so the network is split in two branches on the inputs (ξ, t):
//   characteristic  x(ξ, t) = ξ + s·N_x(ξ, t),  s = c·t_end (the displacement's scale),
//                   learned from x_t = c and x(ξ, 0) = ξ;
//   state           u(ξ, t) = N_u(ξ, t), learned from u_t|ξ = ν u_xx and u(ξ, 0) = u0(ξ),
// with u_xx from the pure ξ-derivatives by the chain rule,
//   u_x = u_ξ / x_ξ,   u_xx = (u_ξξ x_ξ − u_ξ x_ξξ) / x_ξ³,
// and periodicity in ξ: u and u_ξ equal at ξ = lower and ξ = lower + L, and the characteristic's
// displacement x − ξ likewise (x(lower + L, t) = x(lower, t) + L, equal x_ξ).
// At evaluation the grid point x at time t is mapped back to its ξ by Newton on the learned
// x(·, t) (modulo L), then u(ξ, t) is the prediction.
//
// Loss terms, each w/N_total Σ r² over its points (the PINN's normalisation):
//   characteristic  r = x_t / c − 1                      (interior points; O(1) like the state's)
//   state           r = u_t − ν u_xx                     (the same points)
//   initial         r = (x − ξ, u − u0(ξ)) at t = 0
//   periodic        r = (u, u_ξ, x − ξ, x_ξ) at ξ = lower minus the same at ξ = lower + L
// The points are those of the Eulerian PINN (samples.interior, .boundary, .initial, .seed), in
// training.chunks fixed chunks summed along a fixed tree, so 1 and 2 ranks give the same losses.

#include <Kokkos_Core.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "karman/config/case.hpp"
#include "karman/config/node.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/nn/architecture.hpp"
#include "karman/nn/case_sections.hpp"
#include "karman/nn/loss.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/trainer.hpp"
#include "karman/run/method.hpp"
#include "pinn/residual_loss.hpp"

namespace karman::pinn {

struct LagrangianWeights {
  double characteristic = 1.0, state = 1.0, initial = 1.0, periodic = 1.0;
};

// `formulation: lagrangian`: loss.characteristic, loss.state (loss.initial and loss.boundary, the
// periodic term's, as the Eulerian PINN's). Fails (one line) unless pde.type is convection and
// every stage is first order or lbfgs (no per-point Jacobians of the two branches yet).
LagrangianWeights read_lagrangian(const config::Node& root, const config::ProblemSpec& problem,
                                  const nn::TrainingSpec& training);

// The two branches on inputs (ξ, t), each an MLP of `spec` with one output; outputs stacked as
// [N_x, N_u] (channel-stacked rows in a derivative pass, like any module). N_x's output layer
// starts at zero: the characteristic map starts as the identity x = ξ.
template <class T>
std::unique_ptr<nn::Module<T>> make_lagrangian_network(const nn::MlpSpec& spec);

// Channels of a (ξ, t) derivative pass: 0 value, 1 ∂ξ, 2 ∂t, 3 ∂ξξ, 4 ∂tt; outputs 0 N_x, 1 N_u.
inline constexpr int lagrangian_channels = 5;

struct LagrangianPointParameters {
  double speed = 1.0, nu = 0.0;
  double scale = 1.0;  // s = c·t_end: x = ξ + s·N_x
};

// The characteristic and state residuals at one point and ∂r_q/∂(channel c, output o).
template <class T>
struct LagrangianLinearisation {
  T r[2];
  T dr[2][lagrangian_channels][2];
};

// jet(c, o): channel c of output o at the point (physical derivatives).
template <class T, class Jet>
KOKKOS_INLINE_FUNCTION void lagrangian_residual(const LagrangianPointParameters& p, const Jet& jet,
                                                LagrangianLinearisation<T>& out) {
  for (int q = 0; q < 2; ++q)
    for (int c = 0; c < lagrangian_channels; ++c)
      for (int o = 0; o < 2; ++o) out.dr[q][c][o] = T(0);
  const T s = static_cast<T>(p.scale), c = static_cast<T>(p.speed), nu = static_cast<T>(p.nu);
  constexpr int d_xi = 1, d_t = 2, d_xixi = 3;
  constexpr int X = 0, U = 1;
  // x_t / c − 1, x_t = s ∂N_x/∂t.
  out.r[0] = s * jet(d_t, X) / c - T(1);
  out.dr[0][d_t][X] = s / c;
  // u_t − ν u_xx with u_xx = (u_ξξ x_ξ − u_ξ x_ξξ) / x_ξ³, x_ξ = 1 + s ∂N_x/∂ξ, x_ξξ = s ∂²N_x/∂ξ².
  const T x_xi = T(1) + s * jet(d_xi, X), x_xixi = s * jet(d_xixi, X);
  const T u_t = jet(d_t, U), u_xi = jet(d_xi, U), u_xixi = jet(d_xixi, U);
  const T inv = T(1) / x_xi, inv2 = inv * inv, inv3 = inv2 * inv;
  const T u_xx = u_xixi * inv2 - u_xi * x_xixi * inv3;
  out.r[1] = u_t - nu * u_xx;
  out.dr[1][d_t][U] = T(1);
  out.dr[1][d_xixi][U] = -nu * inv2;
  out.dr[1][d_xi][U] = nu * x_xixi * inv3;
  // ∂u_xx/∂x_ξ = −2 u_ξξ / x_ξ³ + 3 u_ξ x_ξξ / x_ξ⁴, ∂u_xx/∂x_ξξ = −u_ξ / x_ξ³; times s for N_x.
  out.dr[1][d_xi][X] = -nu * s * (T(-2) * u_xixi * inv3 + T(3) * u_xi * x_xixi * inv3 * inv);
  out.dr[1][d_xixi][X] = nu * s * u_xi * inv3;
}

// The Lagrangian loss of one part of the points (normalised by the global counts), as terms
// {characteristic, state, initial, periodic} whose weighted sum's gradient is added to the
// network's parameter gradients (first-order stages and L-BFGS).
template <class T>
class LagrangianLoss {
 public:
  // `box`: the space-time box [lower, lower + L] × [0, t_end]; `interior` (ξ, t) points,
  // `periodic` (any ξ, t) points whose t is used on both faces, `initial` (ξ, 0) points.
  LagrangianLoss(nn::Network<T>& net, const config::PdeSpec& pde, const mesh::GridShape& box,
                 const PointSet& interior, const PointSet& periodic, const PointSet& initial,
                 const LagrangianWeights& weights);
  std::vector<nn::LossTerm> operator()();

 private:
  enum class Kind { interior, initial, periodic };
  static constexpr int max_components = 4;
  struct Term {
    Kind kind = Kind::interior;
    std::size_t points = 0, components = 1;       // periodic: points = 2·pairs (lower faces first)
    int reported[max_components] = {0, 0, 0, 0};  // loss term of each component
    double total = 1.0;
    nn::Matrix<T> x;                                              // channel-stacked [C·points, 2]
    nn::Matrix<T> data;                                           // initial: u0(ξ) [points, 1]
    nn::Matrix<T> r;                                              // [components, residual points]
    Kokkos::View<T***, Kokkos::LayoutRight, nn::MemorySpace> dr;  // [points, components, C·2]
    nn::Matrix<T> seed;                                           // [C·points, 2]
    nn::Context<T>* context = nullptr;
    std::size_t residual_points() const { return kind == Kind::periodic ? points / 2 : points; }
  };
  Term make_term(Kind kind, const std::vector<double>& points, double total, std::size_t count,
                 std::size_t components, const InputMap& map);
  void evaluate(Term& term);  // forward, r (and dr of the interior term)
  void seed(Term& term);  // seed(c·N + i, o) = Σ_q 2w_q/N_total · r_q(i) · dr(i, q, c·2 + o)

  nn::Network<T>& m_net;
  nn::Workspace<T> m_workspace;
  LagrangianPointParameters m_point;
  std::vector<nn::LossTerm> m_reported;  // names and weights; values filled per evaluation
  std::vector<Term> m_terms;
};

// ξ in [lower, lower + period) with map(ξ) ≡ target (mod period), for each target: the start
// ξ0 = target − (map(target) − target) (the displacement at the target), then `iterations`
// Newton steps on the residual map(ξ) − target taken into (−period/2, period/2]. `map` gives
// x(ξ) and ∂x/∂ξ at a batch of ξ; x(ξ) − ξ must be periodic and ∂x/∂ξ > 0.
using CharacteristicMap = std::function<void(const std::vector<double>& xi, std::vector<double>& x,
                                             std::vector<double>& x_xi)>;
std::vector<double> invert_characteristics(const std::vector<double>& targets, double lower,
                                           double period, int iterations,
                                           const CharacteristicMap& map);

// Newton steps of the evaluation (quadratic convergence from a start within the displacement's
// variation: 8 reach round-off for the maps training gives).
inline constexpr int lagrangian_newton_iterations = 8;

// u at physical points x (the grid's nodes) and time t: ξ by invert_characteristics on the
// learned x(·, t), then the state branch at (ξ, t). `box` as the loss's.
template <class T>
std::vector<double> lagrangian_predict(nn::Network<T>& net, const mesh::GridShape& box,
                                       double speed, const std::vector<double>& x, double t);

// What the Lagrangian training samples: the Eulerian PINN's counts and seed.
struct LagrangianSamples {
  long interior = 2048, periodic = 512, initial = 512;
  std::uint64_t seed = 1;
};

// Train on the chunked loss (float64's default) or this rank's share with an allreduce.
template <class T>
nn::TrainingResult train_lagrangian(run::RunContext& ctx, nn::Network<T>& net,
                                    const config::PdeSpec& pde, const mesh::GridShape& box,
                                    const LagrangianSamples& samples,
                                    const LagrangianWeights& weights,
                                    const nn::TrainingSpec& training);

}  // namespace karman::pinn
