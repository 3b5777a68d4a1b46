// Pseudo-spectral vorticity solver on the unit torus (see vorticity.hpp for the equations, the
// scheme and the conventions).
//
// Spectral arrays are FFTW's unnormalised r2c output of an [n][n] real array (y slowest):
// [n][n/2+1] complex, row j is k_y = j (j ≤ n/2) or j − n, column i is k_x = i ≥ 0. The state
// ŵ is kept unnormalised (ŵ = n² × Fourier coefficient, as in ns_2d.py); the 1/n² of the
// inverse transform is folded into the multipliers applied before each c2r.
#include "karman/solvers/vorticity.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <sstream>
#include <type_traits>
#include <utility>

#include "karman/core/error.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/pde/random_field.hpp"

namespace karman::solvers {

namespace {

using Complex = std::complex<double>;
constexpr double kTwoPi = 2.0 * M_PI;

// FFTW-aligned storage (fftw_malloc), so every array can be passed to the new-array execute
// functions of a plan made on another array of the same kind.
template <class T>
struct FftwFree {
  void operator()(T* p) const { fftw_free(p); }
};
template <class T>
using FftwArray = std::unique_ptr<T[], FftwFree<T>>;

FftwArray<double> real_array(long size) {
  return FftwArray<double>(fftw_alloc_real(static_cast<std::size_t>(size)));
}
FftwArray<Complex> complex_array(long size) {
  // std::complex<double> and fftw_complex (double[2]) have the same layout (C++11
  // [complex.numbers]).
  return FftwArray<Complex>(
      reinterpret_cast<Complex*>(fftw_alloc_complex(static_cast<std::size_t>(size))));
}
fftw_complex* as_fftw(Complex* p) { return reinterpret_cast<fftw_complex*>(p); }

struct PlanDestroy {
  void operator()(fftw_plan p) const { fftw_destroy_plan(p); }
};
using Plan = std::unique_ptr<std::remove_pointer_t<fftw_plan>, PlanDestroy>;

// Signed wavenumber of index j on an n-point periodic axis, in [−n/2, n/2].
long signed_wavenumber(long j, long n) { return j <= n / 2 ? j : j - n; }

void check_spec(const VorticitySpec& s) {
  auto fail = [](const std::string& what) {
    throw ConfigError("navier_stokes vorticity: " + what);
  };
  if (s.n < 4 || s.n % 2 != 0) fail("n = " + std::to_string(s.n) + " must be even and at least 4");
  if (!(s.dt > 0.0)) fail("dt must be > 0");
  if (!(s.nu >= 0.0)) fail("nu must be >= 0");
  if (!(s.max_cfl > 0.0)) fail("max_cfl must be > 0");
  if (!(s.record_interval > 0.0) || !(s.t_end > 0.0)) fail("t_end and record_interval must be > 0");
  const double records = s.t_end / s.record_interval;
  if (std::abs(records - std::round(records)) > 1e-9 * records)
    fail("t_end must be a whole multiple of record_interval");
}

}  // namespace

struct VorticitySolver::Impl {
  VorticitySpec spec;
  long n = 0, nh = 0;  // grid points per direction, complex columns n/2 + 1
  long steps_per_record = 0, records = 0;
  double dt = 0.0;

  // Per spectral mode [n][nh]: first-derivative wavenumbers 2πk (Nyquist → 0), 1/(4π²|k|²) (0 at
  // k = 0), the 2/3-rule mask, and the Crank–Nicolson factors (1 + dt D/2)/(1 − dt D/2) and
  // dt/(1 − dt D/2).
  std::vector<double> dx_wave, dy_wave;  // [nh], [n]
  std::vector<double> inverse_laplacian, keep, cn_gain, cn_step;
  FftwArray<Complex> forcing_hat;  // [n][nh], unnormalised FFT of f

  FftwArray<Complex> w_hat, w_stage, r_now, r_prev, scratch;  // [n][nh]
  FftwArray<double> u, v, w_x, w_y;                           // [n][n]
  Plan forward, backward;                                     // r2c, c2r (made on u, scratch)
  double largest_cfl = 0.0;
  double time = 0.0;  // of the state, for the error message

  explicit Impl(const VorticitySpec& s);

  long modes() const { return n * nh; }
  void build_mode_tables();
  void build_forcing();

  // out[n][n] = c2r of (multiplier(k) × ŵ_k / n²) over the modes; scratch is overwritten.
  template <class Multiplier>
  void to_physical(const Complex* field_hat, Multiplier multiplier, double* out);

  // r_hat = f̂ − P_{2/3} FFT(u w_x + v w_y) for the state w_hat. Also checks the CFL number.
  void explicit_term(const Complex* field_hat, Complex* r_hat);
  void check_cfl(double max_speed);

  // w_out = cn_gain w + cn_step · (a r_a + b r_b), per mode (w_out may alias w).
  void crank_nicolson(const Complex* w, const Complex* r_a, double a, const Complex* r_b, double b,
                      Complex* w_out) const;

  void step_heun();
  void step_ab2();
  void write_physical(std::vector<double>& out);
};

VorticitySolver::Impl::Impl(const VorticitySpec& s) : spec(s) {
  check_spec(spec);
  n = spec.n;
  nh = n / 2 + 1;
  records = std::lround(spec.t_end / spec.record_interval);
  steps_per_record = static_cast<long>(std::ceil(spec.record_interval / spec.dt * (1.0 - 1e-12)));
  dt = spec.record_interval / static_cast<double>(steps_per_record);

  for (auto* a : {&w_hat, &w_stage, &r_now, &r_prev, &scratch, &forcing_hat})
    *a = complex_array(modes());
  for (auto* a : {&u, &v, &w_x, &w_y}) *a = real_array(n * n);
  const int ni = static_cast<int>(n);
  // FFTW_ESTIMATE: the plan is a function of the size and alignment alone, so the results are
  // bitwise the same in every process (FFTW_MEASURE may pick different algorithms per run).
  forward.reset(fftw_plan_dft_r2c_2d(ni, ni, u.get(), as_fftw(scratch.get()), FFTW_ESTIMATE));
  backward.reset(fftw_plan_dft_c2r_2d(ni, ni, as_fftw(scratch.get()), u.get(), FFTW_ESTIMATE));
  if (!forward || !backward) throw ExternalError("FFTW", 0, "vorticity: FFTW planning failed");

  build_mode_tables();
  build_forcing();
}

void VorticitySolver::Impl::build_mode_tables() {
  dx_wave.assign(nh, 0.0);
  dy_wave.assign(n, 0.0);
  for (long i = 0; i < nh; ++i) dx_wave[i] = i == n / 2 ? 0.0 : kTwoPi * i;
  for (long j = 0; j < n; ++j) dy_wave[j] = j == n / 2 ? 0.0 : kTwoPi * signed_wavenumber(j, n);

  inverse_laplacian.assign(modes(), 0.0);
  keep.assign(modes(), 0.0);
  cn_gain.assign(modes(), 1.0);
  cn_step.assign(modes(), dt);
  for (long j = 0; j < n; ++j)
    for (long i = 0; i < nh; ++i) {
      const long ky = signed_wavenumber(j, n), kx = i, m = j * nh + i;
      const double k2 = kTwoPi * kTwoPi * static_cast<double>(kx * kx + ky * ky);  // 4π²|k|²
      if (m > 0) inverse_laplacian[m] = 1.0 / k2;
      // 2/3 rule as ns_2d.py: keep |k_x|, |k_y| ≤ (2/3)(n/2); the mean mode is dropped too.
      keep[m] = (3 * std::abs(kx) <= n && 3 * std::abs(ky) <= n && m > 0) ? 1.0 : 0.0;
      const double half_d = -0.5 * dt * spec.nu * k2;  // dt D_k / 2
      cn_gain[m] = (1.0 + half_d) / (1.0 - half_d);
      cn_step[m] = dt / (1.0 - half_d);
    }
}

void VorticitySolver::Impl::build_forcing() {
  double* f = u.get();
  for (long j = 0; j < n; ++j)
    for (long i = 0; i < n; ++i) {
      const double s = kTwoPi * static_cast<double>(i + j) / static_cast<double>(n);  // 2π(x+y)
      f[j * n + i] = spec.forcing ? 0.1 * (std::sin(s) + std::cos(s)) : 0.0;
    }
  fftw_execute_dft_r2c(forward.get(), f, as_fftw(forcing_hat.get()));
  forcing_hat[0] = 0.0;  // zero mean exactly (not to round-off), so the mean of w never drifts
}

template <class Multiplier>
void VorticitySolver::Impl::to_physical(const Complex* field_hat, Multiplier multiplier,
                                        double* out) {
  const double scale = 1.0 / static_cast<double>(n * n);
  for (long j = 0; j < n; ++j)
    for (long i = 0; i < nh; ++i) {
      const long m = j * nh + i;
      scratch[m] = scale * multiplier(j, i, m) * field_hat[m];
    }
  fftw_execute_dft_c2r(backward.get(), as_fftw(scratch.get()), out);  // destroys scratch
}

void VorticitySolver::Impl::explicit_term(const Complex* field_hat, Complex* r_hat) {
  const Complex I(0.0, 1.0);
  // u = ψ_y, v = −ψ_x with ψ̂ = ŵ / (4π²|k|²); ∂x ↔ i 2πk_x, ∂y ↔ i 2πk_y.
  to_physical(
      field_hat, [&](long j, long, long m) { return I * dy_wave[j] * inverse_laplacian[m]; },
      u.get());
  to_physical(
      field_hat, [&](long, long i, long m) { return -I * dx_wave[i] * inverse_laplacian[m]; },
      v.get());
  to_physical(
      field_hat, [&](long, long i, long) { return I * dx_wave[i]; }, w_x.get());
  to_physical(
      field_hat, [&](long j, long, long) { return I * dy_wave[j]; }, w_y.get());

  double max_speed = 0.0, total_speed = 0.0;  // the total is not finite once the state is not
  double* advection = w_x.get();              // u w_x + v w_y, in place of w_x
  for (long p = 0; p < n * n; ++p) {
    advection[p] = u[p] * w_x[p] + v[p] * w_y[p];
    const double speed = std::abs(u[p]) + std::abs(v[p]);
    max_speed = std::max(max_speed, speed);
    total_speed += speed;
  }
  check_cfl(std::isfinite(total_speed) ? max_speed : NAN);

  fftw_execute_dft_r2c(forward.get(), advection, as_fftw(r_hat));
  for (long m = 0; m < modes(); ++m) r_hat[m] = forcing_hat[m] - keep[m] * r_hat[m];
}

void VorticitySolver::Impl::check_cfl(double max_speed) {
  const double cfl = dt * max_speed * static_cast<double>(n);
  largest_cfl = std::max(largest_cfl, cfl);
  if (cfl <= spec.max_cfl) return;  // false for NaN too
  std::ostringstream msg;
  msg << "navier_stokes vorticity: dt = " << dt << " is unstable at t = " << time << " (n = " << n
      << ", nu = " << spec.nu << "): the CFL number dt·max(|u|+|v|)·n = " << cfl << " exceeds "
      << spec.max_cfl;
  if (std::isfinite(max_speed) && max_speed > 0.0)
    msg << "; use dt <= " << spec.max_cfl / (max_speed * static_cast<double>(n))
        << " (a CFL number below 0.25 was stable for every viscosity measured)";
  else
    msg << "; the solution is no longer finite, reduce dt";
  throw ConfigError(msg.str());
}

void VorticitySolver::Impl::crank_nicolson(const Complex* w, const Complex* r_a, double a,
                                           const Complex* r_b, double b, Complex* w_out) const {
  for (long m = 0; m < modes(); ++m)
    w_out[m] = cn_gain[m] * w[m] + cn_step[m] * (a * r_a[m] + b * r_b[m]);
}

// One CN–Heun step from the state in w_hat; leaves R(w^n) in r_prev for a following AB2 step.
void VorticitySolver::Impl::step_heun() {
  explicit_term(w_hat.get(), r_now.get());
  crank_nicolson(w_hat.get(), r_now.get(), 1.0, r_now.get(), 0.0, w_stage.get());
  explicit_term(w_stage.get(), r_prev.get());  // R(w*), r_prev as work space
  crank_nicolson(w_hat.get(), r_now.get(), 0.5, r_prev.get(), 0.5, w_hat.get());
  std::swap(r_now, r_prev);
}

// One CN–AB2 step; r_prev holds R(w^{n−1}) on entry and R(w^n) on exit.
void VorticitySolver::Impl::step_ab2() {
  explicit_term(w_hat.get(), r_now.get());
  crank_nicolson(w_hat.get(), r_now.get(), 1.5, r_prev.get(), -0.5, w_hat.get());
  std::swap(r_now, r_prev);
}

void VorticitySolver::Impl::write_physical(std::vector<double>& out) {
  to_physical(
      w_hat.get(), [](long, long, long) { return 1.0; }, u.get());
  std::copy(u.get(), u.get() + n * n, out.begin());
}

VorticitySolver::VorticitySolver(const VorticitySpec& spec)
    : m_impl(std::make_unique<Impl>(spec)) {}
VorticitySolver::~VorticitySolver() = default;

const VorticitySpec& VorticitySolver::spec() const { return m_impl->spec; }

VorticityResult VorticitySolver::solve(const std::vector<double>& w0) {
  Impl& s = *m_impl;
  const long n = s.n;
  if (static_cast<long>(w0.size()) != n * n)
    throw ConfigError("navier_stokes vorticity: initial field has " + std::to_string(w0.size()) +
                      " values, expected n*n = " + std::to_string(n * n));
  VorticityResult result;
  result.dt = s.dt;
  result.snapshots.assign(s.records, std::vector<double>(n * n));
  result.times.resize(s.records);

  Timer timer;
  std::copy(w0.begin(), w0.end(), s.u.get());
  fftw_execute_dft_r2c(s.forward.get(), s.u.get(), as_fftw(s.w_hat.get()));
  s.largest_cfl = 0.0;
  s.time = 0.0;
  long step = 0;
  for (long r = 0; r < s.records; ++r) {
    for (long k = 0; k < s.steps_per_record; ++k, ++step) {
      if (step == 0 || s.spec.scheme == VorticityScheme::cn_heun)
        s.step_heun();
      else
        s.step_ab2();
      s.time = static_cast<double>(step + 1) * s.dt;
    }
    s.write_physical(result.snapshots[r]);
    result.times[r] = static_cast<double>(r + 1) * s.spec.record_interval;
  }
  result.steps = step;
  result.largest_cfl = s.largest_cfl;
  result.wall_s = timer.seconds();
  return result;
}

VorticityResult solve_vorticity(const VorticitySpec& spec, const std::vector<double>& w0) {
  const ScopedStage timed_stage(Stage::baseline, Stage::data);  // data-set solves count as data
  VorticitySolver solver(spec);
  return solver.solve(w0);
}

config::RandomFieldSpec vorticity_initial_field(std::uint64_t seed) {
  config::RandomFieldSpec spec;
  spec.alpha = 2.5;
  spec.tau = 7.0;
  spec.sigma = std::sqrt(2.0) * std::pow(7.0, 1.5);  // FNO code's law (see the header)
  spec.seed = seed;
  spec.periodic = true;
  return spec;
}

std::vector<double> vorticity_initial(long n, std::uint64_t seed) {
  mesh::GridShape shape;
  shape.dim = 2;
  shape.n = {n, n, 1};
  shape.periodic = true;  // nodes i/n, i < n: the solver's grid
  return pde::random_field_global(shape, vorticity_initial_field(seed));
}

namespace {

// Unnormalised r2c of w [n][n] into [n][n/2+1] (a diagnostic: plans and allocates per call).
std::vector<Complex> spectrum(long n, const std::vector<double>& w) {
  KARMAN_VERIFY(static_cast<long>(w.size()) == n * n, "vorticity diagnostics: w is not n*n");
  auto in = real_array(n * n);
  auto out = complex_array(n * (n / 2 + 1));
  const int ni = static_cast<int>(n);
  fftw_plan plan = fftw_plan_dft_r2c_2d(ni, ni, in.get(), as_fftw(out.get()), FFTW_ESTIMATE);
  if (!plan) throw ExternalError("FFTW", 0, "vorticity: FFTW planning failed");
  std::copy(w.begin(), w.end(), in.get());
  fftw_execute(plan);
  fftw_destroy_plan(plan);
  return std::vector<Complex>(out.get(), out.get() + n * (n / 2 + 1));
}

}  // namespace

double vorticity_energy(long n, const std::vector<double>& w) {
  // ½∫|u|² = ½ Σ_k |c_k|² / (4π²|k|²) over all k (Parseval, c = Fourier coefficients = FFT/n²);
  // the half spectrum counts columns 0 < k_x < n/2 twice.
  const auto w_hat = spectrum(n, w);
  const long nh = n / 2 + 1;
  const double scale = 1.0 / static_cast<double>(n * n);
  double energy = 0.0;
  for (long j = 0; j < n; ++j)
    for (long i = 0; i < nh; ++i) {
      const long ky = signed_wavenumber(j, n);
      if (i == 0 && ky == 0) continue;
      const double k2 = kTwoPi * kTwoPi * static_cast<double>(i * i + ky * ky);
      const double weight = (i == 0 || i == n / 2) ? 1.0 : 2.0;
      energy += weight * std::norm(scale * w_hat[j * nh + i]) / k2;
    }
  return 0.5 * energy;
}

double vorticity_enstrophy(long n, const std::vector<double>& w) {
  KARMAN_VERIFY(static_cast<long>(w.size()) == n * n, "vorticity diagnostics: w is not n*n");
  double sum = 0.0;
  for (double x : w) sum += x * x;
  return 0.5 * sum / static_cast<double>(n * n);
}

}  // namespace karman::solvers
