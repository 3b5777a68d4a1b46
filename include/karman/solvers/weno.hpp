#pragma once
// The classical solver of the MP-PDE equation family (Brandstetter et al. 2022, §4.2 of the
// research notes), written in the code form of their repository:
//
//   u_t + (α u²/2)_x = β u_xx − γ u_xxx + δ(t, x),   periodic on [0, L)
//
// (the paper writes ∂x(α' u² − β u_x + γ u_xx) with α' = α/2). A finite-volume method on the
// cell averages of n uniform cells (cell i is [i dx, (i+1) dx), dx = L/n): every term but the
// source is a flux through the cell faces,
//
//   F = α u²/2 − β u_x + γ u_xx,   d ū_i/dt = −(F_{i+½} − F_{i−½})/dx + δ̄_i(t),
//
// so Σ_i ū_i dx changes only by the source, to round-off, by construction. The convective flux is
// the exact Godunov flux between WENO5 (Jiang–Shu, ε = 1e-6) reconstructed left and right states;
// u_x and u_xx at a face are central differences of the cell averages, fourth order by default
// (WenoOptions::derivative_order; the second-order ones would cap the observed order at 2 as soon
// as β or γ is non-zero). Time: SSP-RK3 (Shu–Osher) with the step of WenoOptions, shortened to
// land exactly on every output time. float64.
//
// Parallel in space: the cells are split over the communicator's ranks by a PETSc DMDA (periodic,
// stencil width 3 = the WENO5 and u_xx stencils' reach); every rank updates its owned cells with
// the same arithmetic as a serial solve and the step comes from one MPI_Allreduce(MAX), so any
// rank count gives bitwise the same values. On MPI_COMM_SELF (the datasets solve one trajectory
// per rank) the halo is copied directly, without PETSc.

#include <mpi.h>

#include <functional>
#include <memory>
#include <vector>

#include "karman/core/expression.hpp"

namespace karman::solvers {

struct EquationCoefficients {
  double alpha = 1.0;  // convection α (code form: flux α u²/2)
  double beta = 0.0;   // diffusion β ≥ 0
  double gamma = 0.0;  // dispersion γ (u_t = ... − γ u_xxx)
};

struct WenoOptions {
  // dt = cfl / rate, rate = max|α u|/dx + c_d β/(2.51 dx²) + c_g |γ|/(√3 dx³): each term is one
  // part's largest eigenvalue over the edge of SSP-RK3's stability region on its axis (2.51 on
  // the negative real axis for diffusion, √3 on the imaginary axis for dispersion; Courant 1 for
  // WENO5 convection). c_d, c_g are the stencils' largest |symbol|: 4 and 2.6 in second order,
  // 16/3 and 4.61 in fourth. All three eigenvalues lie in the left half plane, so with cfl ≤ 1
  // their sum stays in the half disk of radius max(...)·cfl that SSP-RK3 covers.
  double cfl = 0.4;
  double max_dt = 0.0;       // > 0: an upper bound on the step (convergence studies)
  int derivative_order = 4;  // of the face values of u_x and u_xx: 2 or 4
  double weno_epsilon = 1e-6;
};

// The source δ as exact (or quadrature) averages over cells. One call per Runge–Kutta stage
// fills a whole rank's cells: no virtual call per cell.
class Source {
 public:
  virtual ~Source() = default;
  // out[j] = (1/dx) ∫ δ(t, x) dx over cell first_cell + j (x from (first_cell + j)·dx), for
  // j < out.size(). Cell centres are computed from the global cell index, so values do not
  // depend on how the cells are split over ranks.
  virtual void cell_averages(double t, long first_cell, double dx,
                             std::vector<double>& out) const = 0;
};

// δ(t, x) = Σ_j A_j sin(ω_j t + 2π ℓ_j x / L + φ_j): the E-family's forcing and, at t = 0, its
// initial condition. Cell averages are closed-form: A sinc(k dx/2) sin(ω t + k x_c + φ) with
// k = 2π ℓ/L; the x-dependent factors are precomputed per cell the first time a range of cells is
// asked for (then each call is 2 multiply-adds per term and cell, plus one sin/cos per term).
class SineSum : public Source {
 public:
  SineSum() = default;  // no terms: δ = 0
  SineSum(std::vector<double> amplitudes, std::vector<double> omegas, std::vector<double> phases,
          std::vector<long> wavenumbers, double length);
  void cell_averages(double t, long first_cell, double dx, std::vector<double>& out) const override;
  std::size_t terms() const { return m_amplitude.size(); }

 private:
  void prepare(long first_cell, std::size_t count, double dx) const;
  std::vector<double> m_amplitude, m_omega, m_phase;
  std::vector<long> m_wavenumber;
  double m_length = 16.0;
  // Cache for one range of cells: [term][cell] A sinc cos(k x_c) and A sinc sin(k x_c).
  mutable long m_first = -1;
  mutable std::size_t m_count = 0;
  mutable double m_dx = 0.0;
  mutable std::vector<double> m_cos_part, m_sin_part;
};

// δ(x, t) from a case expression (variables x and t), averaged with 3-point Gauss per cell
// (sixth order): manufactured solutions.
class ExpressionSource : public Source {
 public:
  explicit ExpressionSource(Expression f) : m_f(std::move(f)) {}
  void cell_averages(double t, long first_cell, double dx, std::vector<double>& out) const override;

 private:
  Expression m_f;
};

struct WenoStats {
  long steps = 0;       // SSP-RK3 steps (each 3 flux evaluations)
  double wall_s = 0.0;  // inside solve()
};

// Called at every output time with the owned cell averages (index k of output_times).
using WenoCallback = std::function<void(long k, double t, const std::vector<double>& u_local)>;

class WenoSolver {
 public:
  // Collective over comm. Throws ConfigError for fewer than 6 cells (the stencil's width) or
  // for more ranks than cells/3, InternalError for a derivative_order other than 2 or 4.
  WenoSolver(MPI_Comm comm, long cells, double length, EquationCoefficients coefficients,
             WenoOptions options = {});
  ~WenoSolver();
  WenoSolver(const WenoSolver&) = delete;
  WenoSolver& operator=(const WenoSolver&) = delete;

  long cells() const { return m_cells; }
  double dx() const { return m_dx; }
  long first_cell() const { return m_first; }   // this rank's first owned cell
  long owned_cells() const { return m_owned; }  // cells this rank owns
  const EquationCoefficients& coefficients() const { return m_coefficients; }

  // Integrates from output_times[0] (u_local = the owned cell averages there) through every
  // output time in increasing order, calling on_output at each (also at output_times[0]).
  // on_step, when set, is called after every step with the time and owned state (tests:
  // total variation). Collective. Returns the owned state at the last output time.
  std::vector<double> solve(
      std::vector<double> u_local, const Source& source, const std::vector<double>& output_times,
      const WenoCallback& on_output = {},
      const std::function<void(double t, const std::vector<double>&)>& on_step = {});
  const WenoStats& stats() const { return m_stats; }

 private:
  struct Halo;
  void fill_halo();
  double stable_step();  // collective: one MPI_Allreduce(MAX) of max|u| when comm has > 1 rank
  void face_fluxes();
  void stage(double t, double dt, double keep, const Source& source);
  void step(double t, double dt, const Source& source);

  MPI_Comm m_comm;
  long m_cells, m_first = 0, m_owned = 0;
  double m_length, m_dx;
  EquationCoefficients m_coefficients;
  WenoOptions m_options;
  double m_diffusion_rate = 0.0, m_dispersion_rate = 0.0;  // constant parts of the rate
  std::unique_ptr<Halo> m_halo;                            // PETSc DMDA scatter (> 1 rank)
  // Work arrays, allocated once: the ghosted stage state [3 + owned + 3], u at the step's start,
  // the right-hand side, the face fluxes [owned + 1] and the source averages [owned].
  std::vector<double> m_ghosted, m_start, m_rhs, m_flux, m_source;
  WenoStats m_stats;
};

// The cell averages of f(x) (or f(x, t)) on cells [first, first + count) of width dx, by 3-point
// Gauss: initial conditions and exact solutions of manufactured cases.
std::vector<double> cell_averages(const Expression& f, double t, long first, long count, double dx);

// Σ_i |u_{i+1} − u_i| over the periodic grid (collective: every rank gets the total).
double total_variation(MPI_Comm comm, const std::vector<double>& u_local);
// Σ_i u_i dx (collective). Both sum the whole grid in cell order after an all-gather, so the
// value is the same on every rank and rank count (diagnostics: not for a step's inner loop).
double total_mass(MPI_Comm comm, const std::vector<double>& u_local, double dx);

}  // namespace karman::solvers
