// The pointwise equations (karman/pde/equations.hpp) and the PDE table
// (karman/config/pde_traits.hpp):
// - every residual's `_fwd` twin matches central differences of the residual in each of its
//   field arguments, at a random point, in double;
// - the same templates instantiate in float and agree with double to float round-off;
// - the table has one row per PdeType, names that round-trip through to_string, and properties
//   that agree with the readers built on them.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "karman/config/case.hpp"
#include "karman/core/random.hpp"
#include "karman/pde/equations.hpp"

using namespace karman;

namespace {

// r(x) of a residual in its arguments x, and the partials its twin claims for them.
using Residual = std::function<double(const std::vector<double>&)>;

// The point: standard normal arguments (a fixed stream per equation), coefficients kept positive.
std::vector<double> random_point(std::size_t count, std::uint64_t seed) {
  std::vector<double> x(count);
  for (std::size_t i = 0; i < count; ++i) x[i] = standard_normal(seed, i);
  return x;
}

void expect_partials_match_differences(const char* name, const Residual& r,
                                       const std::vector<double>& x,
                                       const std::vector<double>& claimed) {
  ASSERT_EQ(x.size(), claimed.size()) << name;
  const double h = 1e-6;
  for (std::size_t i = 0; i < x.size(); ++i) {
    std::vector<double> plus = x, minus = x;
    plus[i] += h;
    minus[i] -= h;
    const double fd = (r(plus) - r(minus)) / (2 * h);
    EXPECT_NEAR(claimed[i], fd, 1e-7 * (1 + std::abs(fd))) << name << ": argument " << i;
  }
}

}  // namespace

// Arguments are the residual's fields, in its order; the coefficients (κ, ν, ...) are held
// fixed (the linearisation is in the fields only), and the source f enters every residual as −f.
TEST(PdeEquations, ScalarLinearisationsMatchCentralDifferences) {
  const double kappa = 0.7, nu = 0.05, epsilon = 0.01, reaction = 5.0, k = 3.1, c = 1.7;
  {  // poisson (Δu, f)
    const auto x = random_point(2, 1);
    const auto d = pde::poisson_residual_fwd<double>();
    expect_partials_match_differences(
        "poisson", [](const auto& a) { return pde::poisson_residual(a[0], a[1]); }, x,
        {d.laplacian_u, -1.0});
  }
  {  // darcy (∇a·∇u, Δu, f) at a fixed a
    const auto x = random_point(3, 2);
    const double a = 2.3;
    const auto d = pde::darcy_residual_fwd(a);
    expect_partials_match_differences(
        "darcy", [&](const auto& v) { return pde::darcy_residual(a, v[0], v[1], v[2]); }, x,
        {d.grad_a_dot_grad_u, d.laplacian_u, -1.0});
  }
  {  // heat (u_t, Δu, f)
    const auto x = random_point(3, 3);
    const auto d = pde::heat_residual_fwd(kappa);
    expect_partials_match_differences(
        "heat", [&](const auto& v) { return pde::heat_residual(v[0], kappa, v[1], v[2]); }, x,
        {d.u_t, d.laplacian_u, -1.0});
  }
  {  // burgers (u_t, u, u_x, u_xx, f)
    const auto x = random_point(5, 4);
    const auto d = pde::burgers_residual_fwd(x[1], x[2], nu);
    expect_partials_match_differences(
        "burgers",
        [&](const auto& v) { return pde::burgers_residual(v[0], v[1], v[2], nu, v[3], v[4]); }, x,
        {d.u_t, d.u, d.u_x, d.u_xx, -1.0});
  }
  {  // allen_cahn (u_t, u, u_xx, f)
    const auto x = random_point(4, 5);
    const auto d = pde::allen_cahn_residual_fwd(x[1], epsilon, reaction);
    expect_partials_match_differences("allen_cahn",
                                      [&](const auto& v) {
                                        return pde::allen_cahn_residual(v[0], v[1], epsilon, v[2],
                                                                        reaction, v[3]);
                                      },
                                      x, {d.u_t, d.u, d.u_xx, -1.0});
  }
  {  // helmholtz (Δu, u, f)
    const auto x = random_point(3, 6);
    const auto d = pde::helmholtz_residual_fwd(k);
    expect_partials_match_differences(
        "helmholtz", [&](const auto& v) { return pde::helmholtz_residual(v[0], v[1], k, v[2]); }, x,
        {d.laplacian_u, d.u, -1.0});
  }
  {  // wave (u_tt, u_xx, f)
    const auto x = random_point(3, 7);
    const auto d = pde::wave_residual_fwd(c);
    expect_partials_match_differences(
        "wave", [&](const auto& v) { return pde::wave_residual(v[0], c, v[1], v[2]); }, x,
        {d.u_tt, d.u_xx, -1.0});
  }
}

TEST(PdeEquations, ScalarLinearisationsLeaveOtherArgumentsZero) {
  // The PINN maps every entry to a channel: an entry an equation does not take must stay zero.
  const auto poisson = pde::poisson_residual_fwd<double>();
  EXPECT_EQ(poisson.u, 0.0);
  EXPECT_EQ(poisson.u_t, 0.0);
  EXPECT_EQ(poisson.u_xx, 0.0);
  const auto wave = pde::wave_residual_fwd(2.0);
  EXPECT_EQ(wave.u, 0.0);
  EXPECT_EQ(wave.u_t, 0.0);
  EXPECT_EQ(wave.laplacian_u, 0.0);
  const auto heat = pde::heat_residual_fwd(0.5);
  EXPECT_EQ(heat.u, 0.0);
  EXPECT_EQ(heat.u_tt, 0.0);
  EXPECT_EQ(heat.u_xx, 0.0);
}

namespace {

pde::VelocityJet<double> velocity_jet(const std::vector<double>& v) {
  pde::VelocityJet<double> q;
  q.u = v[0], q.v = v[1], q.u_x = v[2], q.u_y = v[3], q.v_x = v[4], q.v_y = v[5];
  q.laplacian_u = v[6], q.laplacian_v = v[7];
  return q;
}

// The flow arguments (velocity jet, p_x, p_y) and a twin's partials in the same order.
std::vector<double> flow_partials(const pde::FlowLinearisation<double>& d) {
  const auto& q = d.velocity;
  return {q.u, q.v, q.u_x, q.u_y, q.v_x, q.v_y, q.laplacian_u, q.laplacian_v, d.p_x, d.p_y};
}

}  // namespace

TEST(PdeEquations, FlowLinearisationsMatchCentralDifferences) {
  const double nu = 0.05;
  const auto x = random_point(10, 8);
  const auto q = velocity_jet(x);
  expect_partials_match_differences(
      "momentum_x",
      [&](const auto& v) { return pde::momentum_x_residual(velocity_jet(v), v[8], nu); }, x,
      flow_partials(pde::momentum_x_residual_fwd(q, nu)));
  expect_partials_match_differences(
      "momentum_y",
      [&](const auto& v) { return pde::momentum_y_residual(velocity_jet(v), v[9], nu); }, x,
      flow_partials(pde::momentum_y_residual_fwd(q, nu)));
  expect_partials_match_differences(
      "continuity", [&](const auto& v) { return pde::continuity_residual(velocity_jet(v)); }, x,
      flow_partials(pde::continuity_residual_fwd<double>()));
  {  // streamfunction (Δψ, ω)
    const auto y = random_point(2, 9);
    const auto d = pde::streamfunction_residual_fwd<double>();
    expect_partials_match_differences(
        "streamfunction", [](const auto& v) { return pde::streamfunction_residual(v[0], v[1]); }, y,
        {d.laplacian_psi, d.omega});
  }
  {  // vorticity transport (u, v, ω_x, ω_y, Δω)
    const auto y = random_point(5, 10);
    const auto d = pde::vorticity_transport_residual_fwd(y[0], y[1], y[2], y[3], nu);
    expect_partials_match_differences("vorticity_transport",
                                      [&](const auto& v) {
                                        return pde::vorticity_transport_residual(v[0], v[1], v[2],
                                                                                 v[3], nu, v[4]);
                                      },
                                      y, {d.u, d.v, d.omega_x, d.omega_y, d.laplacian_omega});
  }
}

// The finite-element weak-form terms (3D): f0 = u_t + b·∇u − f in (u_t, ∇u, f), each component of
// the flux f1 = κ∇u in ∇u, and the Neumann term −g in g.
TEST(PdeEquations, WeakFormLinearisationsMatchCentralDifferences) {
  const int dim = 3;
  const double velocity[dim] = {0.3, -1.1, 0.6}, kappa = 0.7;
  const auto x = random_point(5, 11);  // (u_t, ∂u/∂x, ∂u/∂y, ∂u/∂z, f)
  double d_grad_u[dim];
  const double d_u_t = pde::transport_value_residual_fwd(dim, velocity, d_grad_u);
  expect_partials_match_differences("transport_value",
                                    [&](const auto& a) {
                                      return pde::transport_value_residual(dim, a[0], velocity,
                                                                           &a[1], a[4]);
                                    },
                                    x, {d_u_t, d_grad_u[0], d_grad_u[1], d_grad_u[2], -1.0});
  for (int i = 0; i < dim; ++i) {
    const std::vector<double> grad_u(x.begin() + 1, x.begin() + 4);
    std::vector<double> claimed(dim, 0.0);
    claimed[static_cast<std::size_t>(i)] = pde::diffusion_flux_fwd(kappa);
    expect_partials_match_differences(
        "diffusion_flux",
        [&](const auto& g) {
          double flux[dim];
          pde::diffusion_flux(dim, kappa, g.data(), flux);
          return flux[i];
        },
        grad_u, claimed);
  }
  EXPECT_EQ(pde::neumann_residual(0.25), -0.25);
}

TEST(PdeEquations, FloatInstantiationsAgreeWithDouble) {
  const double u = 0.37, u_x = -1.2, u_t = 0.8, u_xx = 2.5, f = 0.1;
  const float uf = 0.37f, u_xf = -1.2f, u_tf = 0.8f, u_xxf = 2.5f, ff = 0.1f;
  const float tol = 1e-5f;
  EXPECT_NEAR(pde::burgers_residual(u_tf, uf, u_xf, 0.05f, u_xxf, ff),
              pde::burgers_residual(u_t, u, u_x, 0.05, u_xx, f), tol);
  EXPECT_NEAR(pde::allen_cahn_residual(u_tf, uf, 0.01f, u_xxf, 5.0f, ff),
              pde::allen_cahn_residual(u_t, u, 0.01, u_xx, 5.0, f), tol);
  EXPECT_NEAR(pde::allen_cahn_residual_fwd(uf, 0.01f, 5.0f).u,
              pde::allen_cahn_residual_fwd(u, 0.01, 5.0).u, tol);
  EXPECT_NEAR(pde::burgers_flux(uf), pde::burgers_flux(u), tol);
  EXPECT_NEAR(pde::face_coefficient(2.0f, 3.0f), pde::face_coefficient(2.0, 3.0), tol);
}

TEST(PdeTraits, OneRowPerTypeWithRoundTrippingNames) {
  ASSERT_EQ(config::kPdeCount, 11u);
  for (const config::PdeTraits& t : config::kPdeTraits) {
    EXPECT_EQ(&config::traits(t.type), &t);
    EXPECT_STREQ(config::to_string(t.type), t.name);
    EXPECT_LE(t.min_dim, t.max_dim) << t.name;
    EXPECT_EQ(t.time_dependent, t.reference == config::ReferenceSolver::transient ||
                                    t.reference == config::ReferenceSolver::weno)
        << t.name;
    EXPECT_TRUE(!t.second_order_in_time || t.time_dependent) << t.name;
    EXPECT_TRUE(!t.pinn_geometry || t.pinn) << t.name;
    EXPECT_TRUE(!t.pinn_inverse || t.pinn) << t.name;
    EXPECT_TRUE(t.on_grid || t.on_mesh) << t.name;  // every PDE has a reference solver
  }
}

TEST(PdeTraits, DescribeTheEquationsAsTheReadersDid) {
  using config::PdeType;
  // The properties that used to be spelled out as type lists in the readers.
  const std::vector<PdeType> time_dependent{PdeType::heat, PdeType::burgers,  PdeType::allen_cahn,
                                            PdeType::wave, PdeType::combined, PdeType::convection};
  const std::vector<PdeType> one_dimensional{PdeType::burgers, PdeType::allen_cahn, PdeType::wave,
                                             PdeType::combined, PdeType::convection};
  const std::vector<PdeType> periodic{PdeType::burgers, PdeType::allen_cahn, PdeType::combined,
                                      PdeType::convection};
  auto in = [](const std::vector<PdeType>& list, PdeType type) {
    for (PdeType t : list)
      if (t == type) return true;
    return false;
  };
  for (const config::PdeTraits& t : config::kPdeTraits) {
    config::PdeSpec spec;
    spec.type = t.type;
    EXPECT_EQ(spec.time_dependent(), in(time_dependent, t.type)) << t.name;
    EXPECT_EQ(config::PdeSpec::one_dimensional(t.type), in(one_dimensional, t.type)) << t.name;
    EXPECT_EQ(config::PdeSpec::periodic(t.type), in(periodic, t.type)) << t.name;
    EXPECT_EQ(t.pinn, t.type != PdeType::darcy && t.type != PdeType::advection_diffusion &&
                          t.type != PdeType::combined)
        << t.name;
    EXPECT_EQ(t.unknowns, t.type == PdeType::navier_stokes ? 3 : 1) << t.name;
    EXPECT_EQ(t.linear, t.type != PdeType::burgers && t.type != PdeType::allen_cahn &&
                            t.type != PdeType::navier_stokes && t.type != PdeType::combined)
        << t.name;
  }
  EXPECT_EQ(config::traits(PdeType::navier_stokes).min_dim, 2);
  EXPECT_EQ(config::traits(PdeType::navier_stokes).max_dim, 2);
  EXPECT_STREQ(config::traits(PdeType::helmholtz).default_pc, "lu");
  EXPECT_STREQ(config::traits(PdeType::darcy).default_source, "1");
  EXPECT_EQ(config::traits(PdeType::burgers).default_source, nullptr);
  // The finite-element reference on meshes: the scalar second-order equations of karman/fem/.
  for (const config::PdeTraits& t : config::kPdeTraits)
    EXPECT_EQ(t.on_mesh, t.type == PdeType::poisson || t.type == PdeType::darcy ||
                             t.type == PdeType::heat || t.type == PdeType::advection_diffusion)
        << t.name;
}
