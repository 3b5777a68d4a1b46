// The PINN point residuals (pinn/point_residual.hpp):
// - each kernel's linearisation ∂r_q/∂(channel, output) matches central differences of r_q at a
//   random jet (poisson, heat, burgers, navier_stokes);
// - the Navier–Stokes residuals vanish on Kovasznay's exact flow (jet by hand-derived derivatives).
#include <gtest/gtest.h>

#include <cmath>

#include "karman/core/random.hpp"
#include "pinn/point_residual.hpp"

using namespace karman;
using namespace karman::pinn;

namespace {

struct HostJet {
  double v[max_channels][max_outputs] = {};
  double operator()(int c, int o) const { return v[c][o]; }
};

void expect_linearisation_matches_differences(const PointPdeParameters& p, const char* name) {
  HostJet jet;
  for (int c = 0; c < max_channels; ++c)
    for (int o = 0; o < max_outputs; ++o) jet.v[c][o] = standard_normal(77, c * max_outputs + o);
  const double f = 0.3;
  PointLinearisation<double> lin;
  point_residual(p, jet, f, lin);
  const int channels = 1 + 2 * p.dims;
  for (int c = 0; c < channels; ++c)
    for (int o = 0; o < p.outputs; ++o) {
      const double h = 1e-6, saved = jet.v[c][o];
      PointLinearisation<double> plus, minus;
      jet.v[c][o] = saved + h;
      point_residual(p, jet, f, plus);
      jet.v[c][o] = saved - h;
      point_residual(p, jet, f, minus);
      jet.v[c][o] = saved;
      for (int q = 0; q < p.components(); ++q)
        EXPECT_NEAR(lin.dr[q][c][o], (plus.r[q] - minus.r[q]) / (2 * h), 1e-8)
            << name << ": dr" << q << "/d(channel " << c << ", output " << o << ")";
    }
}

}  // namespace

TEST(PointResidual, LinearisationsMatchFiniteDifferences) {
  PointPdeParameters poisson;
  poisson.pde = PointPde::poisson, poisson.dims = 3, poisson.space = 3;
  expect_linearisation_matches_differences(poisson, "poisson");
  PointPdeParameters heat;
  heat.pde = PointPde::heat, heat.dims = 3, heat.space = 2, heat.kappa = 0.7;
  expect_linearisation_matches_differences(heat, "heat");
  PointPdeParameters burgers;
  burgers.pde = PointPde::burgers, burgers.dims = 2, burgers.space = 1, burgers.nu = 0.01 / M_PI;
  expect_linearisation_matches_differences(burgers, "burgers");
  PointPdeParameters flow;
  flow.pde = PointPde::navier_stokes, flow.dims = 2, flow.space = 2, flow.outputs = 3;
  flow.nu = 0.05;
  expect_linearisation_matches_differences(flow, "navier_stokes");
}

TEST(PointResidual, NavierStokesVanishesOnKovasznayFlow) {
  const double re = 20, lambda = re / 2 - std::sqrt(re * re / 4 + 4 * M_PI * M_PI);
  const double k = 2 * M_PI;
  PointPdeParameters flow;
  flow.pde = PointPde::navier_stokes, flow.dims = 2, flow.space = 2, flow.outputs = 3;
  flow.nu = 1 / re;
  for (int i = 0; i < 20; ++i) {
    const double x = -0.5 + 1.5 * uniform01(5, 2 * i), y = -0.5 + 2 * uniform01(5, 2 * i + 1);
    const double e = std::exp(lambda * x), c = std::cos(k * y), s = std::sin(k * y);
    HostJet jet;  // channels 0 value, 1 ∂x, 2 ∂y, 3 ∂xx, 4 ∂yy; outputs u, v, p
    jet.v[0][0] = 1 - e * c, jet.v[1][0] = -lambda * e * c, jet.v[2][0] = k * e * s;
    jet.v[3][0] = -lambda * lambda * e * c, jet.v[4][0] = k * k * e * c;
    const double a = lambda / k;
    jet.v[0][1] = a * e * s, jet.v[1][1] = a * lambda * e * s, jet.v[2][1] = a * k * e * c;
    jet.v[3][1] = a * lambda * lambda * e * s, jet.v[4][1] = -a * k * k * e * s;
    jet.v[0][2] = 0.5 * (1 - e * e), jet.v[1][2] = -lambda * e * e;
    PointLinearisation<double> lin;
    point_residual(flow, jet, 0.0, lin);
    for (int q = 0; q < 3; ++q) EXPECT_NEAR(lin.r[q], 0.0, 1e-12) << "component " << q;
  }
}
