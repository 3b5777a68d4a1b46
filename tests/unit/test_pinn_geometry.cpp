// Geometry and sampling for PINN collocation (pinn/geometry.hpp, quasi_random.hpp,
// distance_function.hpp, geometry_config.hpp): inside tests, boundary points on the boundary
// with outward normals, CSG boundaries, Monte Carlo areas, Sobol'/LHS stratification,
// rank-independent shares, the approximate distance function against finite differences, and
// the case-file errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

#include "karman/config/node.hpp"
#include "pinn/distance_function.hpp"
#include "pinn/geometry.hpp"
#include "pinn/geometry_config.hpp"
#include "pinn/quasi_random.hpp"
#include "pinn/sampling.hpp"

using namespace karman;
using namespace karman::pinn;

namespace {

constexpr double pi = 3.141592653589793;

// [-1, 1]² minus [0, 1]²: area 3.
Geometry l_shape() {
  return Geometry(make_csg(CsgOperation::difference, make_rectangle({-1, -1, 0}, {1, 1, 0}),
                           make_rectangle({0, 0, 0}, {1, 1, 0})));
}

// [0, 2] × [0, 1] with a hole of radius 0.25 at (0.5, 0.5): parts plate.*, hole.outer.
Geometry plate_with_hole() {
  return Geometry(make_csg(CsgOperation::difference, make_rectangle({0, 0, 0}, {2, 1, 0}),
                           make_disk({0.5, 0.5, 0}, 0.25), "plate", "hole"));
}

std::vector<std::pair<std::string, Geometry>> all_geometries() {
  std::vector<std::pair<std::string, Geometry>> out;
  out.emplace_back("rectangle", Geometry(make_rectangle({-1, 0, 0}, {2, 1, 0})));
  out.emplace_back("disk", Geometry(make_disk({0.3, -0.2, 0}, 0.7)));
  out.emplace_back("annulus", Geometry(make_annulus({0, 0, 0}, 0.5, 1.0)));
  out.emplace_back("polygon", Geometry(make_polygon({{0, 0}, {2, 0}, {2, 1}, {1, 2}, {0, 1}})));
  out.emplace_back("polygon_cw", Geometry(make_polygon({{0, 0}, {0, 1}, {1, 1}, {1, 0}})));
  out.emplace_back("l_shape", l_shape());
  out.emplace_back("plate_with_hole", plate_with_hole());
  out.emplace_back("union",
                   Geometry(make_csg(CsgOperation::union_, make_rectangle({0, 0, 0}, {2, 1, 0}),
                                     make_rectangle({1, 0, 0}, {3, 1, 0}))));
  out.emplace_back("lens", Geometry(make_csg(CsgOperation::intersection, make_disk({0, 0, 0}, 1),
                                             make_disk({1, 0, 0}, 1))));
  out.emplace_back("box", Geometry(make_box({0, 0, 0}, {1, 2, 3})));
  out.emplace_back("ball", Geometry(make_ball({0, 0, 0}, 1)));
  out.emplace_back("box_minus_ball",
                   Geometry(make_csg(CsgOperation::difference, make_box({-1, -1, -1}, {1, 1, 1}),
                                     make_ball({1, 1, 1}, 1))));
  return out;
}

double monte_carlo_area(const Geometry& g, long n) {
  // Fraction of uniform box points inside × box volume.
  const auto u = uniform_points(g.dim(), 0, n, 11);
  const BoundingBox box = g.bounds();
  double volume = 1;
  for (int d = 0; d < g.dim(); ++d) volume *= box.upper[d] - box.lower[d];
  long inside = 0;
  std::vector<double> p(g.dim());
  for (long i = 0; i < n; ++i) {
    for (int d = 0; d < g.dim(); ++d)
      p[d] = box.lower[d] + u[i * g.dim() + d] * (box.upper[d] - box.lower[d]);
    inside += g.shape().inside(p.data());
  }
  return volume * static_cast<double>(inside) / static_cast<double>(n);
}

// L2-star discrepancy of points in [0, 1]^dim (Warnock's formula, O(n² dim)).
double l2_star_discrepancy(const std::vector<double>& x, int dim) {
  const long n = static_cast<long>(x.size()) / dim;
  double pairs = 0, singles = 0;
  for (long i = 0; i < n; ++i) {
    double p = 1;
    for (int d = 0; d < dim; ++d) p *= (1 - x[i * dim + d] * x[i * dim + d]) / 2;
    singles += p;
    for (long j = 0; j < n; ++j) {
      double q = 1;
      for (int d = 0; d < dim; ++d) q *= 1 - std::max(x[i * dim + d], x[j * dim + d]);
      pairs += q;
    }
  }
  return std::sqrt(std::pow(3.0, -dim) - 2.0 * singles / n + pairs / (double(n) * n));
}

std::string write_case(const std::string& name, const std::string& text) {
  std::ofstream(name) << text;
  return name;
}

std::string error_of(const std::string& text) {
  try {
    auto doc = config::CaseFile::load(write_case("geometry_case.yaml", text));
    Geometry g = read_geometry(doc.root());
    if (doc.root().has("condition")) read_boundary_parts(g, doc.root(), "condition");
    if (doc.root().has("samples")) read_sample_method(doc.root().child("samples"));
    doc.reject_unknown_keys();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(PinnGeometry, InsideAndOutsideOfKnownPoints) {
  const Geometry l = l_shape(), plate = plate_with_hole();
  const Geometry annulus(make_annulus({0, 0, 0}, 0.5, 1.0));
  const Geometry triangle(make_polygon({{0, 0}, {1, 0}, {0, 1}}));
  auto in = [](const Geometry& g, double x, double y) {
    const double p[2] = {x, y};
    return g.shape().inside(p);
  };
  EXPECT_TRUE(in(l, -0.5, 0.5));
  EXPECT_TRUE(in(l, 0.5, -0.5));
  EXPECT_FALSE(in(l, 0.5, 0.5));
  EXPECT_FALSE(in(l, 1.5, 0));
  EXPECT_TRUE(in(plate, 1.5, 0.5));
  EXPECT_FALSE(in(plate, 0.5, 0.5));
  EXPECT_TRUE(in(annulus, 0.75, 0));
  EXPECT_FALSE(in(annulus, 0.1, 0.1));
  EXPECT_FALSE(in(annulus, 1.1, 0));
  EXPECT_TRUE(in(triangle, 0.2, 0.2));
  EXPECT_FALSE(in(triangle, 0.6, 0.6));
  // Exact signed distances of primitives.
  const double p[2] = {0.25, 0.5};
  EXPECT_NEAR(triangle.shape().sdf(p), -0.25 / std::sqrt(2.0), 1e-15);
  const double q[2] = {2, 0};
  EXPECT_NEAR(annulus.shape().sdf(q), 1.0, 1e-15);
  const Geometry box(make_box({0, 0, 0}, {1, 2, 3}));
  const double r[3] = {2, 3, 1.5};
  EXPECT_NEAR(box.shape().sdf(r), std::sqrt(2.0), 1e-15);
}

TEST(PinnGeometry, PartNamesOfPrimitivesAndCsg) {
  using Names = std::vector<std::string>;
  EXPECT_EQ(l_shape().part_names(),
            (Names{"a.left", "a.right", "a.bottom", "a.top", "b.left", "b.bottom"}));
  EXPECT_EQ(plate_with_hole().part_names(),
            (Names{"plate.left", "plate.right", "plate.bottom", "plate.top", "hole.outer"}));
  EXPECT_EQ(Geometry(make_annulus({0, 0, 0}, 0.5, 1)).part_names(), (Names{"outer", "inner"}));
  EXPECT_EQ(Geometry(make_box({0, 0, 0}, {1, 1, 1})).part_names(),
            (Names{"left", "right", "bottom", "top", "back", "front"}));
  // Groups and did-you-mean.
  const Geometry plate = plate_with_hole();
  EXPECT_EQ(plate.select_parts({"hole"}), (std::vector<int>{4}));
  EXPECT_EQ(plate.select_parts({"plate"}).size(), 4u);
  try {
    plate.select_parts({"hloe"});
    FAIL() << "unknown part accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'hole'"), std::string::npos) << e.what();
  }
}

TEST(PinnGeometry, BoundaryPointsLieOnTheBoundaryWithOutwardUnitNormals) {
  for (const auto& [name, g] : all_geometries()) {
    const int dim = g.dim();
    const long n = 2000;
    const auto s = g.boundary_points(g.select_parts({}), 0, n, 5);
    const double h = 1e-6;
    for (long i = 0; i < n; ++i) {
      const double* x = &s.x[i * dim];
      const double* nn = &s.normal[i * dim];
      ASSERT_LT(std::abs(g.shape().sdf(x)), 1e-12) << name << " point " << i;
      double length = 0;
      std::vector<double> ahead(dim), behind(dim);
      for (int d = 0; d < dim; ++d) {
        length += nn[d] * nn[d];
        ahead[d] = x[d] + h * nn[d];
        behind[d] = x[d] - h * nn[d];
      }
      ASSERT_NEAR(length, 1.0, 1e-12) << name;
      // Outward: the signed distance grows along the normal (by h to first order).
      ASSERT_GT(g.shape().sdf(ahead.data()), 0.5 * h) << name << " point " << i;
      ASSERT_LT(g.shape().sdf(behind.data()), -0.5 * h) << name << " point " << i;
    }
  }
}

TEST(PinnGeometry, CsgBoundaryPointsAreNotInsideTheOtherOperand) {
  // L-shape: no point on the removed square's inside or on its far edges; the notch edges carry
  // the share of their length (1 + 1 of a boundary of length 8).
  const Geometry l = l_shape();
  const Geometry square(make_rectangle({0, 0, 0}, {1, 1, 0}));
  const long n = 40000;
  const auto s = l.boundary_points(l.select_parts({}), 0, n, 3);
  long on_notch = 0;
  for (long i = 0; i < n; ++i) {
    const double* x = &s.x[2 * i];
    ASSERT_GE(square.shape().sdf(x), -1e-12);
    ASSERT_FALSE(x[0] > 1e-12 && x[1] > 1e-12) << x[0] << " " << x[1];
    on_notch += l.part_names()[s.part[i]].rfind("b.", 0) == 0;
  }
  const double notch_share = static_cast<double>(on_notch) / n;
  EXPECT_NEAR(notch_share, 2.0 / 8.0, 4 * std::sqrt(0.25 * 0.75 / n));
  // Plate with hole: hole points carry the inward (into the hole) normal and lie in the plate.
  const Geometry plate = plate_with_hole();
  const auto hole = plate.boundary_points(plate.select_parts({"hole"}), 0, 500, 4);
  for (long i = 0; i < 500; ++i) {
    const double* x = &hole.x[2 * i];
    const double* nn = &hole.normal[2 * i];
    EXPECT_NEAR(std::hypot(x[0] - 0.5, x[1] - 0.5), 0.25, 1e-14);
    EXPECT_LT((x[0] - 0.5) * nn[0] + (x[1] - 0.5) * nn[1], 0);  // points to the hole's center
  }
  // Union with a shared bottom/top: uniform density along y = 0 over [0, 3] (no double count at
  // the overlap [1, 2]), and nothing on the internal edges x = 1, x = 2.
  const Geometry u(make_csg(CsgOperation::union_, make_rectangle({0, 0, 0}, {2, 1, 0}),
                            make_rectangle({1, 0, 0}, {3, 1, 0})));
  const auto b = u.boundary_points(u.select_parts({}), 0, n, 9);
  long bottom = 0, overlap = 0;
  for (long i = 0; i < n; ++i) {
    const double* x = &b.x[2 * i];
    ASSERT_TRUE(std::abs(x[0]) < 1e-12 || std::abs(x[0] - 3) < 1e-12 || std::abs(x[1]) < 1e-12 ||
                std::abs(x[1] - 1) < 1e-12)
        << x[0] << " " << x[1];
    if (std::abs(x[1]) < 1e-12) {
      ++bottom;
      overlap += x[0] > 1 && x[0] < 2;
    }
  }
  EXPECT_NEAR(static_cast<double>(bottom) / n, 3.0 / 8.0, 4 * std::sqrt(0.375 * 0.625 / n));
  EXPECT_NEAR(static_cast<double>(overlap) / bottom, 1.0 / 3.0, 0.02);
}

TEST(PinnGeometry, MonteCarloAreasMatchExactOnes) {
  // Tolerance: 4 standard deviations of the binomial estimate with 200 000 points.
  const long n = 200000;
  struct Case {
    Geometry g;
    double exact;
  };
  const Case cases[] = {
      {Geometry(make_disk({0, 0, 0}, 1)), pi},
      {Geometry(make_annulus({1, 2, 0}, 0.5, 1)), pi * 0.75},
      {l_shape(), 3.0},
      {Geometry(make_polygon({{0, 0}, {2, 0}, {2, 1}, {1, 2}, {0, 1}})), 3.0},
      {Geometry(make_ball({0, 0, 0}, 1)), 4.0 / 3.0 * pi},
  };
  for (const auto& c : cases) {
    const BoundingBox box = c.g.bounds();
    double volume = 1;
    for (int d = 0; d < c.g.dim(); ++d) volume *= box.upper[d] - box.lower[d];
    const double p = c.exact / volume;
    const double tolerance = 4 * volume * std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(monte_carlo_area(c.g, n), c.exact, tolerance);
  }
}

TEST(PinnGeometry, InteriorPointsAreInsideForEverySampler) {
  for (const auto& [name, g] : all_geometries())
    for (SampleMethod m : {SampleMethod::uniform, SampleMethod::lhs, SampleMethod::sobol}) {
      const long n = 500;
      const auto x = g.interior_points(m, 0, n, n, 21);
      ASSERT_EQ(x.size(), static_cast<std::size_t>(n * g.dim()));
      for (long i = 0; i < n; ++i) ASSERT_LT(g.shape().sdf(&x[i * g.dim()]), 0) << name;
    }
}

TEST(PinnGeometry, SharesAreRankIndependent) {
  // Points [0, n) in one call equal the shares [0, k) + [k, n), for every sampler and for the
  // boundary sampler.
  const long n = 777, k = 300;
  for (const auto& [name, g] : all_geometries()) {
    for (SampleMethod m : {SampleMethod::uniform, SampleMethod::lhs, SampleMethod::sobol}) {
      const auto all = g.interior_points(m, 0, n, n, 13);
      auto joined = g.interior_points(m, 0, k, n, 13);
      const auto rest = g.interior_points(m, k, n - k, n, 13);
      joined.insert(joined.end(), rest.begin(), rest.end());
      EXPECT_EQ(all, joined) << name << " " << sample_method_name(m);
    }
    const auto parts = g.select_parts({});
    const auto all = g.boundary_points(parts, 0, n, 17);
    const auto head = g.boundary_points(parts, 0, k, 17),
               tail = g.boundary_points(parts, k, n - k, 17);
    auto joined = head.x;
    joined.insert(joined.end(), tail.x.begin(), tail.x.end());
    EXPECT_EQ(all.x, joined) << name;
  }
}

TEST(PinnGeometry, UniformSamplerOnABoxIsTheBoxSampler) {
  // A rectangle domain with `uniform` draws exactly the points of pinn::interior_points.
  mesh::GridShape grid;
  grid.dim = 2;
  grid.lower = {-1, 2, 0};
  grid.upper = {3, 4, 1};
  const Geometry rect(make_rectangle(grid.lower, grid.upper));
  EXPECT_EQ(rect.interior_points(SampleMethod::uniform, 10, 50, 60, 8),
            interior_points(grid, 10, 50, 8));
}

TEST(PinnGeometry, LatinHypercubeHasOnePointPerStratum) {
  for (long n : {1L, 7L, 100L, 1000L}) {
    const int dim = 3;
    const auto x = latin_hypercube_points(dim, 0, n, n, 99);
    for (int d = 0; d < dim; ++d) {
      std::vector<int> hits(n, 0);
      for (long i = 0; i < n; ++i) ++hits[static_cast<long>(x[i * dim + d] * n)];
      EXPECT_TRUE(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; })) << n;
    }
  }
  // On a box domain the interior LHS sampler is the exact design in box coordinates.
  const Geometry rect(make_rectangle({-1, 2, 0}, {3, 4, 0}));
  const long n = 64;
  const auto x = rect.interior_points(SampleMethod::lhs, 0, n, n, 5);
  std::set<long> strata_x, strata_y;
  for (long i = 0; i < n; ++i) {
    strata_x.insert(static_cast<long>((x[2 * i] + 1) / 4 * n));
    strata_y.insert(static_cast<long>((x[2 * i + 1] - 2) / 2 * n));
  }
  EXPECT_EQ(strata_x.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(strata_y.size(), static_cast<std::size_t>(n));
}

TEST(PinnGeometry, SobolIsANetAndBeatsRandomPoints) {
  // The first 2^m points of a shifted 2D Sobol' sequence form a (0, m, 2)-net: every dyadic box
  // 2^-a × 2^-(m-a) holds exactly one point.
  const int m = 10;
  const long n = 1L << m;
  for (std::uint64_t seed : {1ULL, 2ULL}) {
    const auto x = sobol_points(2, 0, n, seed);
    for (int a = 0; a <= m; ++a) {
      std::vector<int> hits(n, 0);
      for (long i = 0; i < n; ++i) {
        const long bx = static_cast<long>(x[2 * i] * (1L << a));
        const long by = static_cast<long>(x[2 * i + 1] * (1L << (m - a)));
        ++hits[bx * (1L << (m - a)) + by];
      }
      EXPECT_TRUE(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; })) << a;
    }
  }
  // L2-star discrepancy and a smooth integral: Sobol' ≪ random (averaged over 4 seeds).
  double d_sobol = 0, d_random = 0, e_sobol = 0, e_random = 0;
  const double exact = std::pow(2 / pi, 3);  // ∫ sin(πx) sin(πy) sin(πz) over the unit cube
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const auto s = sobol_points(3, 0, n, seed), r = uniform_points(3, 0, n, seed);
    d_sobol += l2_star_discrepancy(s, 3) / 4;
    d_random += l2_star_discrepancy(r, 3) / 4;
    double is = 0, ir = 0;
    for (long i = 0; i < n; ++i) {
      is += std::sin(pi * s[3 * i]) * std::sin(pi * s[3 * i + 1]) * std::sin(pi * s[3 * i + 2]) / n;
      ir += std::sin(pi * r[3 * i]) * std::sin(pi * r[3 * i + 1]) * std::sin(pi * r[3 * i + 2]) / n;
    }
    e_sobol += std::abs(is - exact) / 4;
    e_random += std::abs(ir - exact) / 4;
  }
  std::printf(
      "n = %ld, dim 3: L2-star discrepancy sobol %.3e random %.3e; integral error sobol "
      "%.3e random %.3e\n",
      n, d_sobol, d_random, e_sobol, e_random);
  EXPECT_LT(d_sobol, 0.2 * d_random);
  EXPECT_LT(e_sobol, 0.1 * e_random);
}

TEST(PinnGeometry, DistanceFunctionVanishesOnItsPartsAndIsPositiveInside) {
  const Geometry l = l_shape(), plate = plate_with_hole();
  const Geometry annulus(make_annulus({0, 0, 0}, 0.5, 1));
  struct Case {
    const Geometry* g;
    std::vector<std::string> parts;
  };
  const Case cases[] = {{&l, {}},     {&l, {"b"}},           {&plate, {"hole"}},
                        {&plate, {}}, {&annulus, {"outer"}}, {&annulus, {}}};
  for (const auto& c : cases) {
    const auto parts = c.g->select_parts(c.parts);
    const DistanceFunction phi(*c.g, parts);
    const auto on = c.g->boundary_points(parts, 0, 300, 1);
    for (long i = 0; i < 300; ++i) EXPECT_LT(std::abs(phi.evaluate(&on.x[2 * i]).value), 1e-13);
    const auto in = c.g->interior_points(SampleMethod::uniform, 0, 1000, 1000, 2);
    for (long i = 0; i < 1000; ++i) EXPECT_GT(phi.evaluate(&in[2 * i]).value, 0);
    // Normalised: |∇φ| → 1 approaching a part along its inward normal (away from corners).
    for (long i = 0; i < 20; ++i) {
      const double* x = &on.x[2 * i];
      const double* nn = &on.normal[2 * i];
      const double p[2] = {x[0] - 1e-5 * nn[0], x[1] - 1e-5 * nn[1]};
      const DistanceValue v = phi.evaluate(p);
      EXPECT_NEAR(std::hypot(v.gradient[0], v.gradient[1]), 1.0, 0.05) << x[0] << " " << x[1];
    }
  }
}

TEST(PinnGeometry, DistanceFunctionDerivativesMatchFiniteDifferences) {
  const Geometry l = l_shape(), plate = plate_with_hole();
  const Geometry poly(make_polygon({{0, 0}, {2, 0}, {2, 1}, {1, 2}, {0, 1}}));
  for (const Geometry* g : {&l, &plate, &poly}) {
    const DistanceFunction phi(*g, g->select_parts({}));
    const auto x = g->interior_points(SampleMethod::sobol, 0, 200, 200, 3);
    double worst_gradient = 0, worst_second = 0;
    for (long i = 0; i < 200; ++i) {
      const double* p = &x[2 * i];
      if (g->shape().sdf(p) > -0.02) continue;  // central differences need room
      const DistanceValue v = phi.evaluate(p);
      for (int d = 0; d < 2; ++d) {
        const double h = 1e-4;
        double plus[2] = {p[0], p[1]}, minus[2] = {p[0], p[1]};
        plus[d] += h;
        minus[d] -= h;
        const double fp = phi.evaluate(plus).value, fm = phi.evaluate(minus).value;
        const double scale = 1 + std::abs(v.second[d]);
        worst_gradient = std::max(worst_gradient, std::abs((fp - fm) / (2 * h) - v.gradient[d]));
        worst_second = std::max(worst_second,
                                std::abs((fp - 2 * v.value + fm) / (h * h) - v.second[d]) / scale);
      }
    }
    std::printf("ADF vs central differences: gradient %.2e, second derivatives %.2e (relative)\n",
                worst_gradient, worst_second);
    EXPECT_LT(worst_gradient, 1e-6);
    EXPECT_LT(worst_second, 1e-4);
  }
}

TEST(PinnGeometry, DistanceFunctionRejectsPartsThroughTheInside) {
  const Geometry u(make_csg(CsgOperation::union_, make_rectangle({0, 0, 0}, {2, 1, 0}),
                            make_rectangle({1, 0, 0}, {3, 1, 0})));
  EXPECT_THROW(DistanceFunction(u, u.select_parts({"a.right"})), ConfigError);
  EXPECT_NO_THROW(DistanceFunction(u, u.select_parts({"a.left"})));
}

TEST(PinnGeometry, CaseFileReader) {
  auto doc = config::CaseFile::load(write_case("l_shape.yaml", R"yaml(
geometry:
  type: difference
  a: {type: rectangle, lower: [-1, -1], upper: [1, 1], name: outer}
  b: {type: rectangle, lower: [0, 0], upper: [1, 1], name: notch}
samples: {method: sobol}
condition: [notch, outer.left]
)yaml"));
  const Geometry g = read_geometry(doc.root());
  EXPECT_EQ(read_sample_method(doc.root().child("samples")), SampleMethod::sobol);
  EXPECT_EQ(read_boundary_parts(g, doc.root(), "condition").size(), 3u);
  doc.reject_unknown_keys();
  EXPECT_NEAR(monte_carlo_area(g, 100000), 3.0, 0.03);

  auto polygon = config::CaseFile::load(write_case(
      "poly.yaml", "geometry: {type: polygon, vertices: [[0, 0], [1, 0], [0, 1]], name: tri}\n"));
  EXPECT_EQ(read_geometry(polygon.root()).part_names(),
            (std::vector<std::string>{"tri.edge0", "tri.edge1", "tri.edge2"}));
}

TEST(PinnGeometry, CaseFileErrorsNameThePlace) {
  auto expect_error = [](const std::string& text, const std::string& place,
                         const std::string& what) {
    const std::string message = error_of(text);
    EXPECT_NE(message.find(place), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  };
  expect_error("geometry: {type: anulus, center: [0, 0], inner: 1, outer: 2}\n", "geometry.type",
               "did you mean 'annulus'");
  expect_error("geometry: {type: polygon, vertices: [[0, 0], [1, 0]]}\n", "geometry.vertices",
               "at least 3 vertices");
  expect_error("geometry: {type: polygon, vertices: [[0, 0], [1, 1], [1, 0], [0, 1]]}\n",
               "geometry.vertices", "not simple");
  expect_error("geometry: {type: annulus, center: [0, 0], inner: 2, outer: 1}\n", "geometry.inner",
               "inner < outer");
  expect_error("geometry: {type: rectangle, lower: [0, 0], upper: [1, 0]}\n", "geometry.upper",
               "upper > lower");
  expect_error(
      "geometry: {type: difference, a: {type: disk, center: [0, 0], radius: 1},\n"
      "  b: {type: ball, center: [0, 0, 0], radius: 1}}\n",
      "geometry.b", "3D shape cannot be combined");
  expect_error(
      "geometry: {type: intersection, a: {type: disk, center: [0, 0], radius: 1},\n"
      "  b: {type: disk, center: [5, 0], radius: 1}}\n",
      "geometry", "empty");
  expect_error(
      "geometry: {type: disk, center: [0, 0], radius: 1, name: plate}\n"
      "condition: plate.outre\n",
      "condition", "did you mean 'plate.outer'");
  expect_error("geometry: {type: disk, center: [0, 0], radius: 1}\nsamples: {method: halton}\n",
               "samples.method", "expected one of");
  expect_error("geometry: {type: disk, center: [0, 0], radius: 1, radus: 2}\n", "geometry.radus",
               "unknown key");
}
