// Pseudo-spectral vorticity solver (the FNO Navier–Stokes data generator): exact single-shell
// decay and forced response, the sign and size of the advection term, second order in time,
// spectral convergence in space, inviscid energy and enstrophy conservation, the initial-field
// law, reproducibility, and the stability check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/solvers/vorticity.hpp"

using namespace karman;
using karman::solvers::VorticityScheme;
using karman::solvers::VorticitySpec;

namespace {

constexpr double kPi = M_PI;

// f sampled at the solver's nodes (x_i, y_j) = (i/n, j/n), C order [j][i].
std::vector<double> sample(long n, const std::function<double(double, double)>& f) {
  std::vector<double> w(n * n);
  for (long j = 0; j < n; ++j)
    for (long i = 0; i < n; ++i)
      w[j * n + i] = f(static_cast<double>(i) / n, static_cast<double>(j) / n);
  return w;
}

double norm2(const std::vector<double>& a) {
  double s = 0.0;
  for (double x : a) s += x * x;
  return std::sqrt(s);
}

double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t p = 0; p < a.size(); ++p) s += (a[p] - b[p]) * (a[p] - b[p]);
  return std::sqrt(s);
}

// Largest difference between two fields on the coarse grid nc (the fine grid nf = r·nc contains
// the coarse nodes).
double max_coarse_difference(long nc, const std::vector<double>& coarse, long nf,
                             const std::vector<double>& fine) {
  const long r = nf / nc;
  double m = 0.0;
  for (long j = 0; j < nc; ++j)
    for (long i = 0; i < nc; ++i)
      m = std::max(m, std::abs(coarse[j * nc + i] - fine[(j * r) * nf + i * r]));
  return m;
}

VorticitySpec make_spec(long n, double nu, double dt, double t_end, bool forcing,
                        VorticityScheme scheme = VorticityScheme::cn_ab2) {
  VorticitySpec s;
  s.n = n;
  s.nu = nu;
  s.dt = dt;
  s.t_end = t_end;
  s.record_interval = t_end;
  s.forcing = forcing;
  s.scheme = scheme;
  return s;
}

const VorticityScheme kSchemes[] = {VorticityScheme::cn_ab2, VorticityScheme::cn_heun};

// Every mode of the 2/3 band (|k_x|, |k_y| ≤ n/3) with amplitude 1/|k| and scattered phases.
std::vector<double> broadband(long n) {
  const long band = n / 3;
  return sample(n, [&](double x, double y) {
    double w = 0.0;
    for (long ky = 0; ky <= band; ++ky)
      for (long kx = -band; kx <= band; ++kx)
        if (ky > 0 || kx > 0)
          w +=
              std::cos(2 * kPi * (kx * x + ky * y) + 2.0 * kx + 3.0 * ky * ky) / std::hypot(kx, ky);
    return w;
  });
}

}  // namespace

// Modes on one shell |k|² = 25 ((±3, ±4) and (0, 5)) have ψ ∝ w, so u·∇w = 0 and, unforced,
// w decays as exp(−4π²·25·ν t). The discrete solution is CN's: g^steps with
// g = (1 − a)/(1 + a), a = dt ν 4π²·25/2, to round-off; and within CN's O(dt²) of the exact one.
TEST(Vorticity, SingleShellDecaysExactly) {
  const long n = 32;
  const double nu = 1e-3, dt = 0.01, t_end = 1.0;
  const auto w0 = sample(n, [](double x, double y) {
    return std::cos(6 * kPi * x) * std::cos(8 * kPi * y) + 0.5 * std::sin(10 * kPi * y);
  });
  const double rate = 4 * kPi * kPi * 25 * nu;
  for (auto scheme : kSchemes) {
    const auto result = solvers::solve_vorticity(make_spec(n, nu, dt, t_end, false, scheme), w0);
    ASSERT_EQ(result.snapshots.size(), 1u);
    const double a = 0.5 * dt * rate;
    std::vector<double> exact(w0), discrete(w0);
    for (std::size_t p = 0; p < w0.size(); ++p) {
      exact[p] *= std::exp(-rate * t_end);
      discrete[p] *= std::pow((1 - a) / (1 + a), result.steps);
    }
    const auto& w = result.snapshots[0];
    EXPECT_LT(distance(w, discrete) / norm2(discrete), 1e-12);
    EXPECT_LT(distance(w, exact) / norm2(exact), 2e-5);  // CN: (dt rate)² rate t / 12 ≈ 8e-6
  }
}

// The forcing is one shell (|k|² = 2) too: from w0 = 0 the exact solution is
// w = f / (8π²ν) · (1 − exp(−8π²ν t)), the forced response with the right sign and size.
TEST(Vorticity, ForcedShellApproachesSteadyState) {
  const long n = 32;
  const double nu = 1e-2, t_end = 2.0;
  const double rate = 8 * kPi * kPi * nu;
  const auto w_steady = sample(n, [&](double x, double y) {
    return 0.1 * (std::sin(2 * kPi * (x + y)) + std::cos(2 * kPi * (x + y))) / rate;
  });
  const auto result =
      solvers::solve_vorticity(make_spec(n, nu, 0.01, t_end, true), std::vector<double>(n * n));
  std::vector<double> exact(w_steady);
  for (double& x : exact) x *= 1 - std::exp(-rate * t_end);
  EXPECT_LT(distance(result.snapshots[0], exact) / norm2(exact), 1e-4);
}

// w0 = cos 2πx + cos 4πy: ψ = cos 2πx/(4π²) + cos 4πy/(16π²), u = ψ_y = −sin 4πy/(4π),
// v = −ψ_x = sin 2πx/(2π), so −u·∇w = 1.5 sin 2πx sin 4πy: the inviscid tendency. A wrong sign
// or factor in the velocity or the derivatives fails here (single shells cannot see it).
TEST(Vorticity, AdvectionTendencyMatchesAnalytic) {
  const long n = 32;
  const double tau = 1e-3;
  const auto w0 =
      sample(n, [](double x, double y) { return std::cos(2 * kPi * x) + std::cos(4 * kPi * y); });
  const auto tendency = sample(
      n, [](double x, double y) { return 1.5 * std::sin(2 * kPi * x) * std::sin(4 * kPi * y); });
  for (auto scheme : kSchemes) {
    const auto result = solvers::solve_vorticity(make_spec(n, 0.0, 1e-4, tau, false, scheme), w0);
    std::vector<double> difference_quotient(w0.size());
    for (std::size_t p = 0; p < w0.size(); ++p)
      difference_quotient[p] = (result.snapshots[0][p] - w0[p]) / tau;
    // O(tau) from the second time derivative.
    EXPECT_LT(distance(difference_quotient, tendency) / norm2(tendency), 5e-3);
  }
}

// Self-convergence at dt, dt/2, dt/4 on a random FNO initial field with forcing: observed order
// log2(|w_dt − w_dt/2| / |w_dt/2 − w_dt/4|) ≈ 2 for both schemes. The mean of w stays 0.
TEST(Vorticity, SecondOrderInTime) {
  const long n = 32;
  const auto w0 = solvers::vorticity_initial(n, 3);
  for (auto scheme : kSchemes) {
    std::vector<std::vector<double>> w;
    for (double dt : {0.04, 0.02, 0.01})
      w.push_back(
          solvers::solve_vorticity(make_spec(n, 1e-3, dt, 1.0, true, scheme), w0).snapshots[0]);
    const double order = std::log2(distance(w[0], w[1]) / distance(w[1], w[2]));
    EXPECT_GT(order, 1.8) << "scheme " << static_cast<int>(scheme);
    EXPECT_LT(order, 2.3) << "scheme " << static_cast<int>(scheme);
    double mean = 0.0;
    for (double x : w[2]) mean += x;
    EXPECT_LT(std::abs(mean) / static_cast<double>(n * n), 1e-13);
  }
}

// An analytic (not band-limited) initial field at n = 16, 32, 64 with the same dt: the error
// against n = 64 falls by orders of magnitude from 16 to 32 (spectral, not algebraic,
// convergence: second order would give a factor 4).
TEST(Vorticity, SpectralConvergenceInSpace) {
  auto initial = [](double x, double y) {
    return std::exp(std::sin(2 * kPi * x)) * std::cos(2 * kPi * y) +
           0.5 * std::sin(2 * kPi * (x + 2 * y) + std::cos(2 * kPi * x));
  };
  std::vector<std::vector<double>> w;
  for (long n : {16, 32, 64})
    w.push_back(solvers::solve_vorticity(make_spec(n, 1e-2, 5e-3, 0.5, true), sample(n, initial))
                    .snapshots[0]);
  const double error16 = max_coarse_difference(16, w[0], 64, w[2]);
  const double error32 = max_coarse_difference(32, w[1], 64, w[2]);
  EXPECT_LT(error32, 1e-3 * error16) << "error16 " << error16 << " error32 " << error32;
  EXPECT_LT(error32, 1e-8);
}

// ν = 0, no forcing, an initial field filling the whole 2/3 band (|k_x|, |k_y| ≤ n/3, amplitude
// 1/|k|, scattered phases): the dealiased system is the Galerkin truncation, which conserves
// energy and enstrophy up to the time error, while the field itself changes a lot. Without the
// 2/3 rule the aliased products break both by orders of magnitude more.
TEST(Vorticity, InviscidRunConservesEnergyAndEnstrophy) {
  const long n = 32;
  const auto w0 = broadband(n);
  const double energy0 = solvers::vorticity_energy(n, w0);
  const double enstrophy0 = solvers::vorticity_enstrophy(n, w0);
  for (auto scheme : kSchemes) {
    const auto result = solvers::solve_vorticity(make_spec(n, 0.0, 2.5e-4, 0.1, false, scheme), w0);
    const auto& w = result.snapshots[0];
    EXPECT_GT(distance(w, w0) / norm2(w0), 0.1);
    EXPECT_LT(std::abs(solvers::vorticity_energy(n, w) / energy0 - 1), 1e-6);
    EXPECT_LT(std::abs(solvers::vorticity_enstrophy(n, w) / enstrophy0 - 1), 1e-6);
  }
}

// The initial field follows the FNO code's law: zero mean per sample and, averaged over samples
// and nodes, E w² = Σ_{k ∈ [−n/2, n/2)², k ≠ 0} 2·(7^1.5)² (4π²|k|² + 49)^(−2.5) (see
// vorticity_initial_field). 400 samples put the statistical error near 2 %.
TEST(Vorticity, InitialFieldHasFnoVariance) {
  const long n = 16, samples = 400;
  double expected = 0.0;
  for (long ky = -n / 2; ky < n / 2; ++ky)
    for (long kx = -n / 2; kx < n / 2; ++kx)
      if (kx != 0 || ky != 0)
        expected += 2 * std::pow(7.0, 3) *
                    std::pow(4 * kPi * kPi * static_cast<double>(kx * kx + ky * ky) + 49, -2.5);
  double second_moment = 0.0;
  for (long s = 0; s < samples; ++s) {
    const auto w = solvers::vorticity_initial(n, 1000 + s);
    double mean = 0.0;
    for (double x : w) {
      mean += x;
      second_moment += x * x;
    }
    EXPECT_LT(std::abs(mean) / (n * n), 1e-14);
  }
  second_moment /= static_cast<double>(samples * n * n);
  EXPECT_NEAR(second_moment / expected, 1.0, 0.1);
}

// The same seed gives bitwise the same initial field and solution (also from one solver reused),
// another seed a different field.
TEST(Vorticity, SameSeedIsBitwiseReproducible) {
  const long n = 32;
  const auto w0 = solvers::vorticity_initial(n, 11);
  EXPECT_EQ(w0, solvers::vorticity_initial(n, 11));
  EXPECT_NE(w0, solvers::vorticity_initial(n, 12));
  VorticitySpec spec = make_spec(n, 1e-3, 0.02, 1.0, true);
  spec.record_interval = 0.5;
  solvers::VorticitySolver solver(spec);
  const auto first = solver.solve(w0);
  const auto again = solver.solve(w0);
  const auto fresh = solvers::solve_vorticity(spec, w0);
  ASSERT_EQ(first.snapshots.size(), 2u);
  EXPECT_EQ(first.times, (std::vector<double>{0.5, 1.0}));
  EXPECT_EQ(first.snapshots, again.snapshots);
  EXPECT_EQ(first.snapshots, fresh.snapshots);
}

// A step far beyond the CFL bound is refused with a message naming dt and a stable dt; an invalid
// spec is refused before any work.
TEST(Vorticity, UnstableStepAndBadSpecAreConfigErrors) {
  const long n = 64;
  const auto w0 = solvers::vorticity_initial(n, 5);
  try {
    solvers::solve_vorticity(make_spec(n, 1e-3, 0.25, 1.0, true), w0);
    FAIL() << "an unstable dt was accepted";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("unstable"), std::string::npos) << what;
    EXPECT_NE(what.find("use dt <="), std::string::npos) << what;
  }
  // Inviscid from CFL ≈ 0.6: fine at first, then the weak instability of AB2 grows the velocity
  // through the bound (t ≈ 2): caught, not written out.
  const long m = 32;
  try {
    const auto result =
        solvers::solve_vorticity(make_spec(m, 0.0, 0.025, 200.0, false), broadband(m));
    FAIL() << "a blow-up went unnoticed, largest CFL " << result.largest_cfl;
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("unstable at t = "), std::string::npos) << what;
    EXPECT_EQ(what.find("unstable at t = 0 "), std::string::npos) << what;
  }
  VorticitySpec odd = make_spec(n, 1e-3, 0.01, 1.0, true);
  odd.n = 33;
  EXPECT_THROW(solvers::VorticitySolver{odd}, ConfigError);
  VorticitySpec ragged = make_spec(n, 1e-3, 0.01, 1.0, true);
  ragged.record_interval = 0.3;
  EXPECT_THROW(solvers::VorticitySolver{ragged}, ConfigError);
  EXPECT_THROW(solvers::solve_vorticity(make_spec(n, 1e-3, 0.01, 1.0, true), {1.0, 2.0}),
               ConfigError);
}
