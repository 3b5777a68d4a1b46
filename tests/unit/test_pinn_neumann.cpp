// Neumann and Robin conditions of a PINN and hard conditions in 3D (issue 18, item 6): the
// geometry's outward normals equal the gradient of its signed distance (central differences);
// the flux loss term n·∇u + α·u − g equals the same quantity from central differences of the
// network (plain and under a hard Dirichlet condition u = g + φN), and its rows of the
// Gauss–Newton Jacobian (ResidualLoss::residuals) and its loss gradient agree with central
// differences in the parameters; the 3D distance function of box faces vanishes on its faces,
// is positive inside, normalised, has exact derivatives, makes u = g exact on the boundary, and
// refuses a face whose plane cuts the domain.
#include <gtest/gtest.h>

#include <cmath>

#include "karman/core/error.hpp"
#include "karman/core/random.hpp"
#include "karman/nn/sequential.hpp"
#include "pinn/distance_function.hpp"
#include "pinn/geometry.hpp"
#include "pinn/residual_loss.hpp"
#include "support/kokkos_env.hpp"

using namespace karman;
using namespace karman::pinn;

namespace {

std::vector<std::pair<std::string, Geometry>> shapes() {
  std::vector<std::pair<std::string, Geometry>> out;
  out.emplace_back("rectangle", Geometry(make_rectangle({-1, 0, 0}, {2, 1, 0})));
  out.emplace_back("disk", Geometry(make_disk({0.3, -0.2, 0}, 0.7)));
  out.emplace_back("annulus", Geometry(make_annulus({0, 0, 0}, 0.5, 1.0)));
  out.emplace_back("polygon", Geometry(make_polygon({{0, 0}, {2, 0}, {2, 1}, {1, 2}, {0, 1}})));
  out.emplace_back("plate_with_hole",
                   Geometry(make_csg(CsgOperation::difference, make_rectangle({0, 0, 0}, {2, 1, 0}),
                                     make_disk({0.5, 0.5, 0}, 0.25), "plate", "hole")));
  out.emplace_back("lens", Geometry(make_csg(CsgOperation::intersection, make_disk({0, 0, 0}, 1),
                                             make_disk({1, 0, 0}, 1))));
  out.emplace_back("box", Geometry(make_box({0, 0, 0}, {1, 2, 3})));
  out.emplace_back("shell", Geometry(make_shell({0, 0, 0}, 0.5, 1)));
  out.emplace_back("box_minus_ball",
                   Geometry(make_csg(CsgOperation::difference, make_box({-1, -1, -1}, {1, 1, 1}),
                                     make_ball({1, 1, 1}, 1))));
  return out;
}

}  // namespace

TEST(PinnNeumann, NormalsAreTheGradientOfTheSignedDistance) {
  for (const auto& [name, g] : shapes()) {
    const int dim = g.dim();
    const auto sample = g.boundary_points(g.select_parts({}), 0, 400, 3);
    const double h = 1e-7;
    double worst = 0;
    long checked = 0;
    for (long i = 0; i < 400; ++i) {
      const double* x = &sample.x[i * dim];
      // Away from the edges and corners where the signed distance has a kink.
      bool near_other = false;
      for (int k = 0; k < static_cast<int>(g.part_names().size()); ++k)
        if (k != sample.part[i] && g.part(k).distance(x) < 1e-4) near_other = true;
      if (near_other) continue;
      const Vec3 normal = g.part(sample.part[i]).normal_at(x);
      for (int d = 0; d < dim; ++d) {
        double plus[3] = {x[0], x[1], dim == 3 ? x[2] : 0}, minus[3] = {plus[0], plus[1], plus[2]};
        plus[d] += h;
        minus[d] -= h;
        const double fd = (g.shape().sdf(plus) - g.shape().sdf(minus)) / (2 * h);
        worst = std::max(worst, std::abs(fd - normal[d]));
        worst = std::max(worst, std::abs(normal[d] - sample.normal[i * dim + d]));
      }
      ++checked;
    }
    EXPECT_GT(checked, 300) << name;
    EXPECT_LT(worst, 1e-6) << name;
  }
}

namespace {

// Poisson on [0, 1]² with u = 1 − x on the left (soft Dirichlet), a Neumann condition on the
// bottom and top and a Robin condition (α = 2) on the right; a small tanh MLP.
struct FluxProblem {
  Geometry geometry{make_rectangle({0, 0, 0}, {1, 1, 0})};
  config::PdeSpec pde;
  mesh::GridShape box;
  BoundaryConditions conditions;
  nn::Network<double> net{nn::make_mlp<double>({2, 8, 8, 1}, nn::Activation::tanh), 5};

  explicit FluxProblem(bool hard) {
    pde.type = config::PdeType::poisson;
    pde.source = Expression("x*y", Place{});
    pde.boundary = Expression("0", Place{});
    box.dim = 2;
    auto flux = [&](const std::string& name, const std::vector<std::string>& parts, double alpha,
                    const char* value, std::uint64_t seed) {
      const auto s = geometry.boundary_points(geometry.select_parts(parts), 0, 24, seed);
      conditions.flux.push_back(
          {name, {s.x, 24}, s.normal, alpha, Expression(value, Place{}), 3.0});
    };
    flux("neumann", {"bottom", "top"}, 0.0, "sin(x)", 11);
    flux("robin", {"right"}, 2.0, "1 + y", 12);
    const auto left = geometry.select_parts({"left"});
    if (hard) {
      conditions.hard = HardDirichlet{std::make_shared<DistanceFunction>(geometry, left),
                                      Expression("1 - x + y*y", Place{})};
    } else {
      const auto s = geometry.boundary_points(left, 0, 16, 13);
      conditions.soft.push_back({"dirichlet", {s.x, 16}, Expression("1 - x", Place{}), 1.0});
    }
  }
  std::vector<double> interior() const {
    std::vector<double> p(2 * 32);
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = 0.05 + 0.9 * uniform01(7, i);
    return p;
  }
  // u(x) of the network at host points [n, 2], with the hard transform if any.
  std::vector<double> u(const std::vector<double>& points) {
    const auto map = InputMap::for_box(box);
    const auto y = Kokkos::create_mirror_view_and_copy(
        Kokkos::HostSpace(), net.forward(network_input<double>(map, points)).y);
    std::vector<double> out(points.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = y(i, 0);
    if (conditions.hard) {
      const auto h = HardTransform::at(*conditions.hard, points, 2);
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = h.g[i] + h.phi[i] * out[i];
    }
    return out;
  }
};

// Mean of (n·∇u + α·u − g)² over a flux condition's points, ∇u by central differences of u.
double flux_loss_by_differences(FluxProblem& problem, const FluxCondition& c) {
  const std::size_t n = c.points.points.size() / 2;
  const double h = 1e-5;
  std::vector<double> shifted;  // per point: x, x ± h e_0, x ± h e_1
  for (std::size_t i = 0; i < n; ++i)
    for (int s = 0; s < 5; ++s) {
      double x[2] = {c.points.points[2 * i], c.points.points[2 * i + 1]};
      if (s > 0) x[(s - 1) / 2] += (s % 2 ? h : -h);
      shifted.insert(shifted.end(), {x[0], x[1]});
    }
  const std::vector<double> u = problem.u(shifted);
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double* v = &u[5 * i];
    const double ux = (v[1] - v[2]) / (2 * h), uy = (v[3] - v[4]) / (2 * h);
    const double x = c.points.points[2 * i], y = c.points.points[2 * i + 1];
    const double r =
        c.normals[2 * i] * ux + c.normals[2 * i + 1] * uy + c.alpha * v[0] - c.value(x, y, 0, 0);
    sum += r * r;
  }
  return sum / static_cast<double>(c.points.total);
}

void check_flux_terms(bool hard) {
  FluxProblem problem(hard);
  const auto interior = problem.interior();
  ResidualLoss<double> loss(problem.net, problem.pde, problem.box, {interior, 32}, {}, {},
                            LossWeights{}, &problem.conditions);
  nn::Parameters<double>& params = problem.net.parameters();
  auto total = [&] {
    params.zero_gradients();
    double sum = 0;
    for (const auto& t : loss()) sum += t.weight * t.value;
    return sum;
  };
  total();
  const auto terms = loss();
  // The loss terms against the network's central differences.
  for (const FluxCondition& c : problem.conditions.flux) {
    const auto term = std::find_if(terms.begin(), terms.end(),
                                   [&](const nn::LossTerm& t) { return t.name == c.name; });
    ASSERT_NE(term, terms.end()) << c.name;
    const double expected = flux_loss_by_differences(problem, c);
    EXPECT_GT(expected, 1e-3) << c.name;  // an untrained network does not satisfy the condition
    EXPECT_NEAR(term->value, expected, 1e-7 * expected) << c.name << (hard ? " (hard)" : "");
  }
  // Jacobian rows (all terms, the flux ones included) and the loss gradient against central
  // differences in every parameter.
  const std::size_t rows = loss.rows(), P = params.size();
  nn::Vector<double> r("r", rows), r_plus("r+", rows), r_minus("r-", rows);
  nn::Matrix<double> jacobian("J", rows, P);
  loss.residuals(r, jacobian);
  const auto j = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), jacobian);
  total();
  nn::Vector<double> gradient("g", P);
  Kokkos::deep_copy(gradient, params.gradients());
  const auto grad = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), gradient);
  const auto values = params.values();
  auto value = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
  const double h = 1e-6;
  double jacobian_error = 0, jacobian_norm = 0, gradient_error = 0, gradient_norm = 0;
  for (std::size_t k = 0; k < P; ++k) {
    const double saved = value(k);
    value(k) = saved + h;
    Kokkos::deep_copy(values, value);
    loss.residuals(r_plus, nn::Matrix<double>());
    const double plus = total();
    value(k) = saved - h;
    Kokkos::deep_copy(values, value);
    loss.residuals(r_minus, nn::Matrix<double>());
    const double minus = total();
    value(k) = saved;
    Kokkos::deep_copy(values, value);
    const auto rp = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), r_plus);
    const auto rm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), r_minus);
    for (std::size_t i = 0; i < rows; ++i) {
      const double fd = (rp(i) - rm(i)) / (2 * h);
      jacobian_error += (fd - j(i, k)) * (fd - j(i, k));
      jacobian_norm += fd * fd;
    }
    const double fd = (plus - minus) / (2 * h);
    gradient_error += (fd - grad(k)) * (fd - grad(k));
    gradient_norm += fd * fd;
  }
  EXPECT_GT(jacobian_norm, 0.0);
  EXPECT_LT(std::sqrt(jacobian_error / jacobian_norm), 1e-7) << (hard ? "hard" : "soft");
  EXPECT_LT(std::sqrt(gradient_error / gradient_norm), 1e-7) << (hard ? "hard" : "soft");
}

}  // namespace

TEST(PinnNeumann, FluxTermsAndJacobianRowsMatchFiniteDifferences) { check_flux_terms(false); }

TEST(PinnNeumann, FluxTermsUnderAHardConditionMatchFiniteDifferences) { check_flux_terms(true); }

TEST(PinnNeumann, DistanceFunctionOfBoxFacesIn3D) {
  const Geometry box(make_box({0, 0, 0}, {1, 2, 1.5}));
  for (const std::vector<std::string>& selected :
       {std::vector<std::string>{}, std::vector<std::string>{"left", "top", "front"}}) {
    const auto parts = box.select_parts(selected);
    const DistanceFunction phi(box, parts);
    const auto on = box.boundary_points(parts, 0, 300, 1);
    for (long i = 0; i < 300; ++i) EXPECT_EQ(phi.evaluate(&on.x[3 * i]).value, 0.0);
    // Normalised: |∇φ| → 1 approaching a face along its inward normal (away from its edges).
    long near_faces = 0;
    for (long i = 0; i < 300; ++i) {
      const double* x = &on.x[3 * i];
      const double* n = &on.normal[3 * i];
      bool near_edge = false;
      for (int d = 0; d < 3; ++d)
        near_edge = near_edge || (n[d] == 0 && (x[d] < 0.1 || x[d] > box.bounds().upper[d] - 0.1));
      if (near_edge) continue;
      const double p[3] = {x[0] - 1e-6 * n[0], x[1] - 1e-6 * n[1], x[2] - 1e-6 * n[2]};
      const DistanceValue v = phi.evaluate(p);
      EXPECT_NEAR(std::hypot(v.gradient[0], v.gradient[1], v.gradient[2]), 1.0, 0.05);
      ++near_faces;
    }
    EXPECT_GT(near_faces, 50);
    const auto in = box.interior_points(SampleMethod::sobol, 0, 500, 500, 2);
    double worst_gradient = 0, worst_second = 0;
    for (long i = 0; i < 500; ++i) {
      const double* p = &in[3 * i];
      const DistanceValue v = phi.evaluate(p);
      EXPECT_GT(v.value, 0);
      if (box.shape().sdf(p) > -0.02) continue;  // central differences need room
      for (int d = 0; d < 3; ++d) {
        const double h = 1e-4;
        double plus[3] = {p[0], p[1], p[2]}, minus[3] = {p[0], p[1], p[2]};
        plus[d] += h;
        minus[d] -= h;
        const double fp = phi.evaluate(plus).value, fm = phi.evaluate(minus).value;
        // Relative to the curvature, which sets the differences' truncation error.
        const double scale = 1 + std::abs(v.second[d]);
        worst_gradient =
            std::max(worst_gradient, std::abs((fp - fm) / (2 * h) - v.gradient[d]) / scale);
        worst_second = std::max(worst_second,
                                std::abs((fp - 2 * v.value + fm) / (h * h) - v.second[d]) / scale);
      }
    }
    EXPECT_LT(worst_gradient, 1e-6);
    EXPECT_LT(worst_second, 1e-4);
    // u = g + φN equals g exactly on the chosen faces, whatever the network gives.
    const HardDirichlet hard{std::make_shared<DistanceFunction>(box, parts),
                             Expression("x + y*z", Place{})};
    const HardTransform t = HardTransform::at(hard, on.x, 3);
    for (long i = 0; i < 300; ++i) {
      const double* x = &on.x[3 * i];
      EXPECT_EQ(t.phi[i], 0.0);
      EXPECT_EQ(t.g[i] + t.phi[i] * 123.0, hard.value(x[0], x[1], x[2], 0));
      EXPECT_NEAR(t.g[i], x[0] + x[1] * x[2], 1e-15);
    }
  }
}

TEST(PinnNeumann, DistanceFunctionRefusesAFaceWhosePlaneCutsTheDomain) {
  // A box with a corner notch: the notch's faces lie in planes through the domain.
  const Geometry notched(make_csg(CsgOperation::difference, make_box({0, 0, 0}, {2, 2, 2}),
                                  make_box({1, 1, 1}, {2, 2, 2})));
  EXPECT_THROW(DistanceFunction(notched, notched.select_parts({"b"})), ConfigError);
  EXPECT_NO_THROW(DistanceFunction(notched, notched.select_parts({"a.left"})));
  const Geometry shell(make_shell({0, 0, 0}, 0.5, 1));
  const DistanceFunction round(shell, shell.select_parts({}));
  const auto on = shell.boundary_points(shell.select_parts({}), 0, 100, 4);
  for (long i = 0; i < 100; ++i) EXPECT_LT(round.evaluate(&on.x[3 * i]).value, 1e-13);
}
