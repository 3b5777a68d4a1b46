// PINN point-residual kernels (pinn/point_residual.hpp): for every PDE the residual vanishes to
// round-off on the jet (value, first and pure second derivatives) of an exact or manufactured
// solution, and the linearisation dr matches central differences of r in every channel entry.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "pinn/point_residual.hpp"

using namespace karman::pinn;

namespace {

constexpr double pi = 3.141592653589793;

// One output's channels at a point: c = 0 value, 1 + k ∂_k, 1 + dims + k ∂²_k (the layout of
// a derivative pass of Module::forward), and the Jet interface point_residual reads: jet(c, o).
struct Jet {
  std::array<std::array<double, max_outputs>, max_channels> entries{};
  double operator()(int c, int o) const { return entries[c][o]; }
};

// A factor g(s) of a separable function u = Π_k g_k(x_k): its value and first two derivatives.
struct Factor {
  double value, d1, d2;
};
Factor sine(double a, double s) {
  return {std::sin(a * s), a * std::cos(a * s), -a * a * std::sin(a * s)};
}
Factor cosine(double a, double s) {
  return {std::cos(a * s), -a * std::sin(a * s), -a * a * std::cos(a * s)};
}
Factor exponential(double a, double s) {
  const double e = std::exp(a * s);
  return {e, a * e, a * a * e};
}
Factor one_plus_square(double s) { return {1.0 + s * s, 2.0 * s, 2.0}; }

// The jet of u = Π_k factors[k] (one factor per network input, time last).
Jet separable_jet(const std::vector<Factor>& factors) {
  const int dims = static_cast<int>(factors.size());
  Jet jet;
  double product = 1.0;
  for (const Factor& g : factors) product *= g.value;
  jet.entries[0][0] = product;
  for (int k = 0; k < dims; ++k) {
    double others = 1.0;
    for (int j = 0; j < dims; ++j)
      if (j != k) others *= factors[j].value;
    jet.entries[1 + k][0] = factors[k].d1 * others;
    jet.entries[1 + dims + k][0] = factors[k].d2 * others;
  }
  return jet;
}

struct Case {
  std::string name;
  PointPdeParameters parameters;
  Jet jet;
  double f;  // the source at the point, written out from the PDE (not from the kernel)
};

PointPdeParameters parameters(PointPde pde, int dims, int space) {
  PointPdeParameters p;
  p.pde = pde;
  p.dims = dims;
  p.space = space;
  return p;
}

// Exact or manufactured solutions of every kernel, at one generic point.
std::vector<Case> cases() {
  const double x = 0.31, y = 0.57, z = 0.23, t = 0.42;
  std::vector<Case> out;
  {  // -Δu = f, u = sin(πx) sin(2πy): f = 5π² u.
    Jet jet = separable_jet({sine(pi, x), sine(2 * pi, y)});
    out.push_back({"poisson2d", parameters(PointPde::poisson, 2, 2), jet, 5 * pi * pi * jet(0, 0)});
  }
  {  // u_t = κΔu, u = exp(-2π²κt) sin(πx) sin(πy).
    auto p = parameters(PointPde::heat, 3, 2);
    p.kappa = 0.3;
    out.push_back({"heat2d", p,
                   separable_jet({sine(pi, x), sine(pi, y), exponential(-2 * pi * pi * 0.3, t)}),
                   0.0});
  }
  {  // Burgers, manufactured u = sin(πx) e^{-t}: f = u_t + u u_x - ν u_xx.
    auto p = parameters(PointPde::burgers, 2, 1);
    p.nu = 0.05;
    const double u = std::sin(pi * x) * std::exp(-t);
    const double f = -u + u * pi * std::cos(pi * x) * std::exp(-t) + 0.05 * pi * pi * u;
    out.push_back({"burgers1d", p, separable_jet({sine(pi, x), exponential(-1, t)}), f});
  }
  {  // Allen–Cahn, manufactured u = sin(πx) cos(t): f = u_t - ε u_xx + r(u³ - u).
    auto p = parameters(PointPde::allen_cahn, 2, 1);
    p.epsilon = 0.01;
    p.reaction = 5.0;
    const double u = std::sin(pi * x) * std::cos(t);
    const double f = -std::sin(pi * x) * std::sin(t) + 0.01 * pi * pi * u + 5.0 * (u * u * u - u);
    out.push_back({"allen_cahn1d", p, separable_jet({sine(pi, x), cosine(1, t)}), f});
  }
  {  // Helmholtz 2D, homogeneous: u = cos(kx/√2) cos(ky/√2) solves -Δu - k²u = 0.
    auto p = parameters(PointPde::helmholtz, 2, 2);
    p.wavenumber = 4 * pi;
    const double a = 4 * pi / std::sqrt(2.0);
    out.push_back({"helmholtz2d", p, separable_jet({cosine(a, x), cosine(a, y)}), 0.0});
  }
  {  // Helmholtz 3D, u = sin(πx) sin(2πy) sin(3πz): f = (14π² - k²) u.
    auto p = parameters(PointPde::helmholtz, 3, 3);
    p.wavenumber = 2.5;
    Jet jet = separable_jet({sine(pi, x), sine(2 * pi, y), sine(3 * pi, z)});
    out.push_back({"helmholtz3d", p, jet, (14 * pi * pi - 2.5 * 2.5) * jet(0, 0)});
  }
  {  // Wave, standing: u = sin(πx) cos(πct) solves u_tt = c² u_xx.
    auto p = parameters(PointPde::wave, 2, 1);
    p.speed = 1.7;
    out.push_back({"wave1d", p, separable_jet({sine(pi, x), cosine(pi * 1.7, t)}), 0.0});
  }
  {  // Wave, manufactured u = sin(πx)(1 + t²): f = 2 sin(πx) + c²π² sin(πx)(1 + t²).
    auto p = parameters(PointPde::wave, 2, 1);
    p.speed = 0.6;
    const double s = std::sin(pi * x);
    out.push_back({"wave1d_forced", p, separable_jet({sine(pi, x), one_plus_square(t)}),
                   2 * s + 0.36 * pi * pi * s * (1 + t * t)});
  }
  return out;
}

PointLinearisation<double> evaluate(const Case& c, const Jet& jet) {
  PointLinearisation<double> out;
  point_residual<double>(c.parameters, jet, c.f, out);
  return out;
}

}  // namespace

TEST(PinnResiduals, VanishOnExactSolutions) {
  for (const Case& c : cases()) {
    const auto out = evaluate(c, c.jet);
    // Round-off relative to the size of the terms (second derivatives up to ~ 10³ here).
    double scale = std::abs(c.f);
    for (int ch = 0; ch < 1 + 2 * c.parameters.dims; ++ch)
      scale = std::max(scale, std::abs(c.jet(ch, 0)));
    EXPECT_LT(std::abs(out.r[0]), 1e-13 * scale * 100) << c.name << ": r = " << out.r[0];
    // The residual is not trivially zero: a perturbed jet gives a non-zero residual.
    Jet perturbed = c.jet;
    for (int ch = 0; ch < 1 + 2 * c.parameters.dims; ++ch) perturbed.entries[ch][0] += 0.1;
    EXPECT_GT(std::abs(evaluate(c, perturbed).r[0]), 1e-3) << c.name;
  }
}

TEST(PinnResiduals, LinearisationMatchesCentralDifferences) {
  const double step = 1e-4;
  for (const Case& c : cases()) {
    const auto out = evaluate(c, c.jet);
    for (int ch = 0; ch < max_channels; ++ch)
      for (int o = 0; o < max_outputs; ++o) {
        Jet plus = c.jet, minus = c.jet;
        plus.entries[ch][o] += step;
        minus.entries[ch][o] -= step;
        const double fd = (evaluate(c, plus).r[0] - evaluate(c, minus).r[0]) / (2 * step);
        // Residuals are at most cubic in one entry: the central difference is exact up to
        // step² · r''' / 6 (Allen–Cahn: r''' = 6·reaction) plus round-off.
        EXPECT_NEAR(out.dr[0][ch][o], fd, 1e-6 * (1 + std::abs(fd)))
            << c.name << ": channel " << ch << ", output " << o;
      }
  }
}
