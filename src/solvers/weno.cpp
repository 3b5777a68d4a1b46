#include "karman/solvers/weno.hpp"

#include <petscdmda.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "../petsc/check.hpp"
#include "../petsc/handle.hpp"
#include "karman/core/error.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"

namespace karman::solvers {
namespace {

constexpr int kHalo = 3;  // WENO5 reaches 3 cells left of a face, u_xx (fourth order) 3 right
constexpr double kPi = 3.14159265358979323846;

// Jiang–Shu WENO5: the value at the right face of cell c from the averages of cells c−2..c+2
// (a = c−2, ..., e = c+2). The right state of a face is the same function of the mirrored
// cells.
inline double weno5(double a, double b, double c, double d, double e, double eps) {
  const double q0 = (2.0 * a - 7.0 * b + 11.0 * c) / 6.0;
  const double q1 = (-b + 5.0 * c + 2.0 * d) / 6.0;
  const double q2 = (2.0 * c + 5.0 * d - e) / 6.0;
  const double s0 = 13.0 / 12.0 * (a - 2.0 * b + c) * (a - 2.0 * b + c) +
                    0.25 * (a - 4.0 * b + 3.0 * c) * (a - 4.0 * b + 3.0 * c);
  const double s1 = 13.0 / 12.0 * (b - 2.0 * c + d) * (b - 2.0 * c + d) + 0.25 * (b - d) * (b - d);
  const double s2 = 13.0 / 12.0 * (c - 2.0 * d + e) * (c - 2.0 * d + e) +
                    0.25 * (3.0 * c - 4.0 * d + e) * (3.0 * c - 4.0 * d + e);
  const double w0 = 0.1 / ((eps + s0) * (eps + s0));
  const double w1 = 0.6 / ((eps + s1) * (eps + s1));
  const double w2 = 0.3 / ((eps + s2) * (eps + s2));
  return (w0 * q0 + w1 * q1 + w2 * q2) / (w0 + w1 + w2);
}

// The exact Riemann (Godunov) flux of f(u) = α u²/2. Convex (α ≥ 0): the minimum of f over
// [uL, uR] when uL ≤ uR, the maximum over [uR, uL] otherwise, which both are
// α/2 · max(max(uL, 0)², min(uR, 0)²); concave (α < 0): the mirror image.
inline double godunov(double alpha, double left, double right) {
  const double p = alpha >= 0.0 ? std::max(left, 0.0) : std::min(left, 0.0);
  const double q = alpha >= 0.0 ? std::min(right, 0.0) : std::max(right, 0.0);
  return 0.5 * alpha * std::max(p * p, q * q);
}

// Face stencils of the cell averages, symmetric about the face between cells f−1 | f:
//   dx  u_x  ≈ d1 (ū_f − ū_{f−1}) + d2 (ū_{f+1} − ū_{f−2})
//   dx² u_xx ≈ c1 (ū_f + ū_{f−1}) + c2 (ū_{f+1} + ū_{f−2}) + c3 (ū_{f+2} + ū_{f−3})
// Exact for the face values (not point values at cell centres) of polynomials of degree 4
// (fourth order) or 2. Their largest |symbol| over the grid's wavenumbers sets the step:
// |λ_diffusion| ≤ diffusion_symbol·β/dx², |λ_dispersion| ≤ dispersion_symbol·|γ|/dx³.
struct FaceStencils {
  double d1, d2, c1, c2, c3;
  double diffusion_symbol, dispersion_symbol;
};

FaceStencils face_stencils(int order) {
  if (order == 2) return {1.0, 0.0, -0.5, 0.5, 0.0, 4.0, 2.6};
  if (order == 4) return {15.0 / 12.0, -1.0 / 12.0, -0.75, 0.875, -0.125, 16.0 / 3.0, 4.61};
  throw InternalError("WenoSolver: derivative_order must be 2 or 4, not " + std::to_string(order));
}

// The whole periodic grid on every rank, in cell order.
std::vector<double> gather_cells(MPI_Comm comm, const std::vector<double>& u_local) {
  int size;
  MPI_Comm_size(comm, &size);
  if (size == 1) return u_local;
  const int mine = static_cast<int>(u_local.size());
  std::vector<int> counts(size), offsets(size, 0);
  MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  for (int r = 1; r < size; ++r) offsets[r] = offsets[r - 1] + counts[r - 1];
  std::vector<double> all(static_cast<std::size_t>(offsets[size - 1] + counts[size - 1]));
  MPI_Allgatherv(u_local.data(), mine, MPI_DOUBLE, all.data(), counts.data(), offsets.data(),
                 MPI_DOUBLE, comm);
  return all;
}

}  // namespace

// ---------------------------------------------------------------------------------- sources

SineSum::SineSum(std::vector<double> amplitudes, std::vector<double> omegas,
                 std::vector<double> phases, std::vector<long> wavenumbers, double length)
    : m_amplitude(std::move(amplitudes)),
      m_omega(std::move(omegas)),
      m_phase(std::move(phases)),
      m_wavenumber(std::move(wavenumbers)),
      m_length(length) {
  const std::size_t n = m_amplitude.size();
  KARMAN_VERIFY(m_omega.size() == n && m_phase.size() == n && m_wavenumber.size() == n,
                "SineSum: amplitudes, omegas, phases and wavenumbers differ in length");
  KARMAN_VERIFY(length > 0.0, "SineSum: the length must be positive");
}

void SineSum::prepare(long first_cell, std::size_t count, double dx) const {
  if (first_cell == m_first && count == m_count && dx == m_dx) return;
  const std::size_t terms = m_amplitude.size();
  m_cos_part.assign(terms * count, 0.0);
  m_sin_part.assign(terms * count, 0.0);
  for (std::size_t j = 0; j < terms; ++j) {
    const double k = 2.0 * kPi * static_cast<double>(m_wavenumber[j]) / m_length;
    const double half = 0.5 * k * dx;
    const double sinc = half == 0.0 ? 1.0 : std::sin(half) / half;
    for (std::size_t i = 0; i < count; ++i) {
      const double centre = (static_cast<double>(first_cell + static_cast<long>(i)) + 0.5) * dx;
      m_cos_part[j * count + i] = m_amplitude[j] * sinc * std::cos(k * centre);
      m_sin_part[j * count + i] = m_amplitude[j] * sinc * std::sin(k * centre);
    }
  }
  m_first = first_cell;
  m_count = count;
  m_dx = dx;
}

void SineSum::cell_averages(double t, long first_cell, double dx, std::vector<double>& out) const {
  const std::size_t count = out.size();
  prepare(first_cell, count, dx);
  std::fill(out.begin(), out.end(), 0.0);
  // sin(ωt + kx + φ) = sin(ωt + φ) cos(kx) + cos(ωt + φ) sin(kx), term by term in a fixed order.
  for (std::size_t j = 0; j < m_amplitude.size(); ++j) {
    const double s = std::sin(m_omega[j] * t + m_phase[j]);
    const double c = std::cos(m_omega[j] * t + m_phase[j]);
    const double* cos_part = m_cos_part.data() + j * count;
    const double* sin_part = m_sin_part.data() + j * count;
    for (std::size_t i = 0; i < count; ++i) out[i] += s * cos_part[i] + c * sin_part[i];
  }
}

void ExpressionSource::cell_averages(double t, long first_cell, double dx,
                                     std::vector<double>& out) const {
  const auto averages =
      solvers::cell_averages(m_f, t, first_cell, static_cast<long>(out.size()), dx);
  std::copy(averages.begin(), averages.end(), out.begin());
}

std::vector<double> cell_averages(const Expression& f, double t, long first, long count,
                                  double dx) {
  // 3-point Gauss–Legendre on [x_c − dx/2, x_c + dx/2]: nodes x_c ± √(3/5) dx/2, weights 5:8:5.
  const double offset = 0.5 * dx * std::sqrt(0.6);
  std::vector<double> out(static_cast<std::size_t>(count));
  for (long i = 0; i < count; ++i) {
    const double centre = (static_cast<double>(first + i) + 0.5) * dx;
    out[i] = (5.0 * f(centre - offset, 0.0, 0.0, t) + 8.0 * f(centre, 0.0, 0.0, t) +
              5.0 * f(centre + offset, 0.0, 0.0, t)) /
             18.0;
  }
  return out;
}

// ---------------------------------------------------------------------------------- solver

// The halo exchange over several ranks: a periodic DMDA of the cells, stencil width 3.
struct WenoSolver::Halo {
  petsc::DM dm;
  petsc::Vec global, local;
};

WenoSolver::WenoSolver(MPI_Comm comm, long cells, double length, EquationCoefficients coefficients,
                       WenoOptions options)
    : m_comm(comm),
      m_cells(cells),
      m_length(length),
      m_dx(length / static_cast<double>(cells)),
      m_coefficients(coefficients),
      m_options(options) {
  int size;
  MPI_Comm_size(comm, &size);
  if (cells < 2 * kHalo)
    throw ConfigError("the WENO5 solver needs at least " + std::to_string(2 * kHalo) +
                      " cells, not " + std::to_string(cells));
  if (cells < kHalo * static_cast<long>(size))
    throw ConfigError("the WENO5 solver needs at least " + std::to_string(kHalo) +
                      " cells per rank: " + std::to_string(cells) + " cells on " +
                      std::to_string(size) + " ranks");
  if (!(length > 0.0) || !(options.cfl > 0.0))
    throw ConfigError("the WENO5 solver needs a positive length and cfl");
  const FaceStencils s = face_stencils(options.derivative_order);
  // SSP-RK3 reaches −2.51 on the real axis and ±√3 on the imaginary axis.
  m_diffusion_rate = s.diffusion_symbol * coefficients.beta / (2.51 * m_dx * m_dx);
  m_dispersion_rate =
      s.dispersion_symbol * std::abs(coefficients.gamma) / (std::sqrt(3.0) * m_dx * m_dx * m_dx);
  if (size == 1) {
    m_first = 0;
    m_owned = cells;
  } else {
    m_halo = std::make_unique<Halo>();
    KARMAN_PETSC(
        DMDACreate1d(comm, DM_BOUNDARY_PERIODIC, cells, 1, kHalo, nullptr, m_halo->dm.out()));
    KARMAN_PETSC(DMSetUp(m_halo->dm));
    PetscInt xs, xm;
    KARMAN_PETSC(DMDAGetCorners(m_halo->dm, &xs, nullptr, nullptr, &xm, nullptr, nullptr));
    m_first = xs;
    m_owned = xm;
    KARMAN_PETSC(DMCreateGlobalVector(m_halo->dm, m_halo->global.out()));
    KARMAN_PETSC(DMCreateLocalVector(m_halo->dm, m_halo->local.out()));
  }
  const auto owned = static_cast<std::size_t>(m_owned);
  m_ghosted.assign(owned + 2 * kHalo, 0.0);
  m_start.assign(owned, 0.0);
  m_rhs.assign(owned, 0.0);
  m_flux.assign(owned + 1, 0.0);
  m_source.assign(owned, 0.0);
}

WenoSolver::~WenoSolver() = default;

// Ghost cells from the owned cells of m_ghosted: the periodic wrap-around on one rank, the DMDA
// scatter on several (both copy values, so the results are the same bits).
void WenoSolver::fill_halo() {
  double* u = m_ghosted.data();
  if (!m_halo) {
    for (int g = 0; g < kHalo; ++g) {
      u[g] = u[m_owned + g];                  // cells n−3, n−2, n−1
      u[kHalo + m_owned + g] = u[kHalo + g];  // cells 0, 1, 2
    }
    return;
  }
  PetscScalar* global;
  KARMAN_PETSC(VecGetArray(m_halo->global, &global));
  std::copy(u + kHalo, u + kHalo + m_owned, global);
  KARMAN_PETSC(VecRestoreArray(m_halo->global, &global));
  KARMAN_PETSC(DMGlobalToLocalBegin(m_halo->dm, m_halo->global, INSERT_VALUES, m_halo->local));
  KARMAN_PETSC(DMGlobalToLocalEnd(m_halo->dm, m_halo->global, INSERT_VALUES, m_halo->local));
  const PetscScalar* local;
  KARMAN_PETSC(VecGetArrayRead(m_halo->local, &local));
  std::copy(local, local + m_owned + 2 * kHalo, u);
  KARMAN_PETSC(VecRestoreArrayRead(m_halo->local, &local));
}

double WenoSolver::stable_step() {
  double largest = 0.0;
  for (long i = 0; i < m_owned; ++i) largest = std::max(largest, std::abs(m_ghosted[kHalo + i]));
  if (m_halo) MPI_Allreduce(MPI_IN_PLACE, &largest, 1, MPI_DOUBLE, MPI_MAX, m_comm);
  const double rate =
      std::abs(m_coefficients.alpha) * largest / m_dx + m_diffusion_rate + m_dispersion_rate;
  double dt = rate > 0.0 ? m_options.cfl / rate : m_length;
  if (m_options.max_dt > 0.0) dt = std::min(dt, m_options.max_dt);
  return dt;
}

// m_flux[f]: the flux through the left face of owned cell f (f = m_owned: the right face of the
// last), from ghosted cells f .. f + 5 (owned cell f is ghosted cell f + 3).
void WenoSolver::face_fluxes() {
  const FaceStencils s = face_stencils(m_options.derivative_order);
  const double alpha = m_coefficients.alpha, beta = m_coefficients.beta;
  const double gamma = m_coefficients.gamma, eps = m_options.weno_epsilon;
  const double inv_dx = 1.0 / m_dx, inv_dx2 = inv_dx * inv_dx;
  const double* u = m_ghosted.data();
  for (long f = 0; f <= m_owned; ++f) {
    const double* w = u + f;  // w[2] | w[3] is the face
    const double left = weno5(w[0], w[1], w[2], w[3], w[4], eps);
    const double right = weno5(w[5], w[4], w[3], w[2], w[1], eps);
    const double ux = (s.d1 * (w[3] - w[2]) + s.d2 * (w[4] - w[1])) * inv_dx;
    const double uxx =
        (s.c1 * (w[3] + w[2]) + s.c2 * (w[4] + w[1]) + s.c3 * (w[5] + w[0])) * inv_dx2;
    m_flux[f] = godunov(alpha, left, right) - beta * ux + gamma * uxx;
  }
}

// One SSP-RK3 stage at time t: u ← keep·u_start + (1 − keep)·(u + dt L(u)), then the halo.
void WenoSolver::stage(double t, double dt, double keep, const Source& source) {
  face_fluxes();
  source.cell_averages(t, m_first, m_dx, m_source);
  const double inv_dx = 1.0 / m_dx, rest = 1.0 - keep;
  double* u = m_ghosted.data() + kHalo;
  for (long i = 0; i < m_owned; ++i) {
    const double rate = -(m_flux[i + 1] - m_flux[i]) * inv_dx + m_source[i];
    u[i] = keep * m_start[i] + rest * (u[i] + dt * rate);
  }
  fill_halo();
}

// Shu–Osher SSP-RK3: stages at t, t + dt, t + dt/2 with weights 0, 3/4, 1/3 on u^n.
void WenoSolver::step(double t, double dt, const Source& source) {
  std::copy(m_ghosted.begin() + kHalo, m_ghosted.begin() + kHalo + m_owned, m_start.begin());
  stage(t, dt, 0.0, source);
  stage(t + dt, dt, 0.75, source);
  stage(t + 0.5 * dt, dt, 1.0 / 3.0, source);
}

std::vector<double> WenoSolver::solve(
    std::vector<double> u_local, const Source& source, const std::vector<double>& output_times,
    const WenoCallback& on_output,
    const std::function<void(double t, const std::vector<double>&)>& on_step) {
  const ScopedStage timed_stage(Stage::baseline, Stage::data);  // data-set solves count as data
  if (static_cast<long>(u_local.size()) != m_owned)
    throw InternalError("WenoSolver::solve: " + std::to_string(u_local.size()) +
                        " initial values for " + std::to_string(m_owned) + " owned cells");
  KARMAN_VERIFY(!output_times.empty(), "WenoSolver::solve: no output times");
  for (std::size_t k = 1; k < output_times.size(); ++k)
    KARMAN_VERIFY(output_times[k] > output_times[k - 1],
                  "WenoSolver::solve: output times must increase");
  Timer timer;
  m_stats = {};
  std::copy(u_local.begin(), u_local.end(), m_ghosted.begin() + kHalo);
  fill_halo();
  double t = output_times[0];
  if (on_output) on_output(0, t, u_local);
  for (std::size_t k = 1; k < output_times.size(); ++k) {
    const double target = output_times[k];
    while (t < target) {
      double dt = stable_step();
      const bool last = t + dt >= target;  // shortened to land on the output time exactly
      if (last) dt = target - t;
      step(t, dt, source);
      t = last ? target : t + dt;
      ++m_stats.steps;
      if (on_step) {
        std::copy(m_ghosted.begin() + kHalo, m_ghosted.begin() + kHalo + m_owned, u_local.begin());
        on_step(t, u_local);
      }
    }
    std::copy(m_ghosted.begin() + kHalo, m_ghosted.begin() + kHalo + m_owned, u_local.begin());
    if (on_output) on_output(static_cast<long>(k), t, u_local);
  }
  std::copy(m_ghosted.begin() + kHalo, m_ghosted.begin() + kHalo + m_owned, u_local.begin());
  m_stats.wall_s = timer.seconds();
  return u_local;
}

// ---------------------------------------------------------------------------------- diagnostics

double total_variation(MPI_Comm comm, const std::vector<double>& u_local) {
  const std::vector<double> u = gather_cells(comm, u_local);
  double tv = 0.0;
  for (std::size_t i = 0; i < u.size(); ++i) tv += std::abs(u[(i + 1) % u.size()] - u[i]);
  return tv;
}

double total_mass(MPI_Comm comm, const std::vector<double>& u_local, double dx) {
  const std::vector<double> u = gather_cells(comm, u_local);
  double sum = 0.0;
  for (double v : u) sum += v;
  return sum * dx;
}

}  // namespace karman::solvers
