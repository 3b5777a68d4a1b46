#pragma once
// 2D incompressible Navier–Stokes in vorticity form on the unit torus (0,1)², pseudo-spectral:
// the data generator of the FNO Navier–Stokes benchmark (Li et al., "Fourier Neural Operator for
// Parametric PDEs", data_generation/navier_stokes/ns_2d.py), with a second-order time scheme.
//
//   ∂t w + u·∇w = ν Δw + f,   u = (u, v) = (ψ_y, −ψ_x),   −Δψ = w,
//   f(x, y) = 0.1 (sin 2π(x+y) + cos 2π(x+y))   (when forcing is on).
//
// Space: Fourier (FFTW r2c/c2r, double) on n×n nodes x_i = i/n, y_j = j/n. ψ, u, v, w_x, w_y
// are spectral derivatives; the Nyquist wavenumber of a first derivative is taken as 0. The
// nonlinear term u w_x + v w_y is formed in physical space and dealiased by the 2/3 rule
// (modes with |k_x| > n/3 or |k_y| > n/3 are zeroed, the square mask of ns_2d.py), so for a state
// inside the kept modes it is the exact Galerkin projection: the inviscid, unforced semi-discrete
// system conserves energy and enstrophy. Its k = 0 mode is zero (u·∇w = ∇·(uw) has zero mean),
// so the mean of w keeps its initial value (0 for the random initial fields).
//
// Time: with D_k = −ν 4π²|k|² (diffusion, diagonal) and R(w) = f − P_{2/3}(u·∇w) (explicit),
//   Crank–Nicolson on D and, on R, either
//   cn_ab2  (default) Adams–Bashforth 2, one R evaluation per step, first step by cn_heun:
//           (1 − dt D/2) w^{n+1} = (1 + dt D/2) w^n + dt (3/2 R^n − 1/2 R^{n−1});
//   cn_heun predictor–corrector (explicit trapezoid), two R evaluations per step:
//           (1 − dt D/2) w*      = (1 + dt D/2) w^n + dt R^n,
//           (1 − dt D/2) w^{n+1} = (1 + dt D/2) w^n + dt/2 (R^n + R(w*)).
// Both are second order in time (ns_2d.py is first order: forward Euler on R). The step is
// reduced, if needed, to a whole number of steps per record interval. PETSc TS is not used: the
// implicit part is diagonal in Fourier space, so each step is two pointwise passes and the FFTs.
//
// Stability: the explicit part is advection. Every R evaluation checks the CFL number
// dt · max(|u| + |v|) · n against spec.max_cfl and throws ConfigError (naming dt, the time and
// the step that would satisfy the bound) when it is exceeded or the state is no longer finite.
//
// Cost and reuse: a VorticitySolver plans its FFTs once (FFTW_ESTIMATE, so the plan, and hence
// every result, is the same in every process: dataset generation must not depend on the rank
// count) and keeps every work array, so the time loop allocates nothing. Build one per grid size
// and call solve() for each sample; solve_vorticity() is the one-shot convenience. The FFTW
// planner is not thread-safe: construct solvers from one thread.
//
// Serial by design: one rank solves one sample; datasets split the samples over the ranks.

#include <cstdint>
#include <memory>
#include <vector>

#include "karman/config/case.hpp"

namespace karman::solvers {

enum class VorticityScheme { cn_ab2, cn_heun };

// Default largest CFL number dt · max(|u| + |v|) · n. Neither explicit part is stable on the
// imaginary axis, so advection-dominated runs grow slowly at any step unless viscosity damps the
// high modes. Measured at n = 64 on FNO initial fields (forced, 20–30 time units): at ν = 1e-3
// cn_ab2 blows up from CFL ≈ 1.3 and cn_heun survives 3.5; at ν = 1e-4 and 1e-5 cn_ab2 blows up
// from ≈ 0.44 and cn_heun from ≈ 0.5–0.6, while both survive 0.26. So: keep the CFL number below
// ≈ 0.5 at ν = 1e-3 and ≈ 0.25 at ν ≤ 1e-4 (the forced flow speeds up: at ν = 1e-3 the CFL
// number settles near 0.36 dt n). This limit refuses steps that are unstable for every ν, and a
// slow blow-up always drives the CFL number through it, so it is reported, not written out.
inline constexpr double kMaxVorticityCfl = 1.0;

struct VorticitySpec {
  long n = 64;                   // nodes per direction (even, ≥ 4)
  double nu = 1e-3;              // viscosity ν ≥ 0
  double dt = 1e-4;              // largest time step (reduced to divide record_interval)
  double t_end = 1.0;            // a whole multiple of record_interval
  double record_interval = 1.0;  // snapshot spacing in time units
  bool forcing = true;           // f = 0.1 (sin 2π(x+y) + cos 2π(x+y)), else f = 0
  VorticityScheme scheme = VorticityScheme::cn_ab2;
  double max_cfl = kMaxVorticityCfl;  // refuse a step whose CFL number exceeds this
};

struct VorticityResult {
  std::vector<std::vector<double>> snapshots;  // [records][n*n], C order (y slowest, x fastest)
  std::vector<double> times;  // [records]: record_interval, 2·record_interval, …
  double dt = 0.0;            // step used
  long steps = 0;
  double largest_cfl = 0.0;  // largest dt · max(|u| + |v|) · n seen
  double wall_s = 0.0;       // time loop only (the plans are made by the constructor)
};

class VorticitySolver {
 public:
  // Plans the transforms and allocates the work arrays for spec.n. Throws ConfigError for an
  // invalid spec (odd or tiny n, dt ≤ 0, ν < 0, t_end not a multiple of record_interval).
  explicit VorticitySolver(const VorticitySpec& spec);
  ~VorticitySolver();
  VorticitySolver(const VorticitySolver&) = delete;
  VorticitySolver& operator=(const VorticitySolver&) = delete;

  const VorticitySpec& spec() const;

  // w0: [n*n], C order (y slowest, x fastest). Snapshots at t = record_interval, …, t_end.
  VorticityResult solve(const std::vector<double>& w0);

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// One-shot: plans, solves, frees. Prefer a VorticitySolver when solving many samples.
VorticityResult solve_vorticity(const VorticitySpec& spec, const std::vector<double>& w0);

// The initial-vorticity law of the FNO data, as a Karman random field on the unit torus.
//
// FNO's GaussianRF(2, n, alpha=2.5, tau=7) (random_fields.py) sets sigma = tau^(alpha − 1) = 7^1.5
// and synthesises u = Re ifft2(n² √2 sigma (4π²|k|² + tau²)^(−alpha/2) (ξ + iη)), ξ, η ~ N(0, 1)
// independent for every k in [−n/2, n/2)², k ≠ 0; its covariance is
//   E u(x) u(y) = Σ_k 2 sigma² (4π²|k|² + tau²)^(−alpha) cos 2πk·(x − y),
// i.e. N(0, 2·7³ (−Δ + 49)^(−2.5)), not the 7^(3/2) (−Δ + 49)^(−2.5) written in the paper.
// pde::random_field_global with a periodic RandomFieldSpec has covariance
//   Σ_k sigma² (4π²|k|² + tau²)^(−alpha) cos 2πk·(x − y)
// (an orthonormal Hartley basis, one real N(0, 1) per mode), so the FNO law is
// alpha = 2.5, tau = 7, sigma = √2 · 7^1.5. We use the code's law, not the paper's formula,
// because the published datasets, and so every benchmark figure, were generated by that code.
config::RandomFieldSpec vorticity_initial_field(std::uint64_t seed);

// w0 [n*n], C order, drawn from vorticity_initial_field(seed) on the n×n torus grid.
std::vector<double> vorticity_initial(long n, std::uint64_t seed);

// Diagnostics of a vorticity field w [n*n]: kinetic energy ½∫|u|² and enstrophy ½∫w² over the
// unit torus (the k = 0 mode of w carries no velocity and is left out of the energy).
double vorticity_energy(long n, const std::vector<double>& w);
double vorticity_enstrophy(long n, const std::vector<double>& w);

// The FNO Navier–Stokes dataset recipe, for wiring a dataset problem `navier_stokes`:
//   VorticitySolver solver(recipe.spec());           // once per rank (plans, work arrays)
//   for each sample s of this rank:
//     input  w0 = vorticity_initial(recipe.n, seed_s)           [n, n]
//     output solver.solve(w0).snapshots, t = 1, 2, …, t_end      [t_end, n, n]
// The reference generates at 256² with dt = 1e-4 (first order in time) and subsamples to 64².
// Here the 64² grid is solved directly with the second-order scheme. Measured at ν = 1e-3 (cn_ab2,
// 5 seeds, T = 50, against dt = 2e-3): n = 64, dt = 0.02 has relative L2 error ≤ 2e-4 at every
// snapshot, CFL number ≤ 0.49, 3 ms per time unit; n = 128, dt = 0.01 has ≤ 4e-5, CFL ≤ 0.46,
// 35 ms per time unit. Keep dt · n ≈ 1.3 at ν = 1e-3 and halve it for ν ≤ 1e-4.
// Reference settings: ν = 1e-3, T = 50 (the FNO-2D model reads steps 1–10, predicts 11–50);
// ν = 1e-4, T = 30; ν = 1e-5, T = 20.
struct NavierStokesRecipe {
  long n = 64;
  double nu = 1e-3;
  double dt = 0.02;
  double t_end = 50.0;
  double record_interval = 1.0;

  VorticitySpec spec() const {
    VorticitySpec s;
    s.n = n;
    s.nu = nu;
    s.dt = dt;
    s.t_end = t_end;
    s.record_interval = record_interval;
    s.forcing = true;
    return s;
  }
};

}  // namespace karman::solvers
