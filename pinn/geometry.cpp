#include "pinn/geometry.hpp"

#include <algorithm>
#include <cmath>

#include "karman/config/node.hpp"
#include "karman/core/error.hpp"
#include "karman/core/random.hpp"
#include "karman/mesh/grid.hpp"

namespace karman::pinn {

namespace {

constexpr double two_pi = 6.283185307179586;

double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
double norm(const Vec3& a) { return std::sqrt(dot(a, a)); }
Vec3 to_vec(const double* x, int dim) {
  Vec3 v{};
  for (int d = 0; d < dim; ++d) v[d] = x[d];
  return v;
}
Vec3 minus(const Vec3& a, const Vec3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }

// Distance from p to the segment [a, b].
double segment_distance(const Vec3& p, const Vec3& a, const Vec3& b) {
  const Vec3 ab = minus(b, a), ap = minus(p, a);
  const double t = std::clamp(dot(ap, ab) / dot(ab, ab), 0.0, 1.0);
  return norm(minus(ap, {t * ab[0], t * ab[1], t * ab[2]}));
}

// An independent stream of `seed` for rejection attempt `attempt` (attempt 0 is `seed` itself,
// so a box draws the same points as pinn/sampling.hpp).
std::uint64_t attempt_seed(std::uint64_t seed, int attempt) {
  return attempt == 0 ? seed
                      : mix64(seed ^ mix64(0xa77e3b7ULL + static_cast<std::uint64_t>(attempt)));
}

constexpr int max_attempts = 100000;

// Point `index` of the counter-based stream `seed` in (0, 1)^dim (the counters of
// pinn::uniform_points: entry d is number index · dim + d).
void draw_uniform(int dim, long index, std::uint64_t seed, double* u) {
  for (int d = 0; d < dim; ++d) u[d] = uniform01(seed, static_cast<std::uint64_t>(index * dim + d));
}

// ------------------------------------------------------------------------------ primitives

// Axis-aligned rectangle (2D) or box (3D).
class AxisBox final : public Shape {
 public:
  AxisBox(int dim, const Vec3& lower, const Vec3& upper)
      : m_dim(dim), m_lower(lower), m_upper(upper) {
    for (int d = 0; d < dim; ++d) KARMAN_VERIFY(upper[d] > lower[d], "box with upper <= lower");
  }
  int dim() const override { return m_dim; }
  double sdf(const double* x) const override {
    // q_d = |x_d − center_d| − half_d: the outside part is |max(q, 0)|, the inside part max_d q_d.
    double outside = 0, inside = -1e300;
    for (int d = 0; d < m_dim; ++d) {
      const double q =
          std::abs(x[d] - 0.5 * (m_lower[d] + m_upper[d])) - 0.5 * (m_upper[d] - m_lower[d]);
      outside += q > 0 ? q * q : 0;
      inside = std::max(inside, q);
    }
    return std::sqrt(outside) + std::min(inside, 0.0);
  }
  BoundingBox bounds() const override { return {m_dim, m_lower, m_upper}; }
  std::vector<BoundaryPiece> pieces() const override {
    static const char* names[6] = {"left", "right", "bottom", "top", "back", "front"};
    std::vector<BoundaryPiece> out;
    for (int axis = 0; axis < m_dim; ++axis)
      for (int side = 0; side < 2; ++side) {
        BoundaryPiece p;
        p.name = names[2 * axis + side];
        p.dim = m_dim;
        p.kind = m_dim == 2 ? BoundaryPiece::Kind::segment : BoundaryPiece::Kind::face;
        p.axis = axis;
        p.start = m_lower;
        p.end = m_upper;
        p.start[axis] = p.end[axis] = side ? m_upper[axis] : m_lower[axis];
        p.normal[axis] = side ? 1.0 : -1.0;
        out.push_back(p);
      }
    return out;
  }

 private:
  int m_dim;
  Vec3 m_lower, m_upper;
};

// Disk / ball (inner = 0) and annulus / spherical shell (inner > 0).
class RoundShape final : public Shape {
 public:
  RoundShape(int dim, const Vec3& center, double inner, double outer)
      : m_dim(dim), m_center(center), m_inner(inner), m_outer(outer) {
    KARMAN_VERIFY(inner >= 0 && outer > inner, "round shape needs 0 <= inner < outer");
  }
  int dim() const override { return m_dim; }
  double sdf(const double* x) const override {
    const double r = norm(minus(to_vec(x, m_dim), m_center));
    return m_inner > 0 ? std::max(r - m_outer, m_inner - r) : r - m_outer;
  }
  BoundingBox bounds() const override {
    BoundingBox box{m_dim, {}, {}};
    for (int d = 0; d < m_dim; ++d) {
      box.lower[d] = m_center[d] - m_outer;
      box.upper[d] = m_center[d] + m_outer;
    }
    return box;
  }
  std::vector<BoundaryPiece> pieces() const override {
    std::vector<BoundaryPiece> out;
    auto circle = [&](const char* name, double radius, double orientation) {
      BoundaryPiece p;
      p.kind = m_dim == 2 ? BoundaryPiece::Kind::circle : BoundaryPiece::Kind::sphere;
      p.name = name;
      p.dim = m_dim;
      p.center = m_center;
      p.radius = radius;
      p.orientation = orientation;
      out.push_back(p);
    };
    circle("outer", m_outer, 1.0);
    if (m_inner > 0) circle("inner", m_inner, -1.0);
    return out;
  }

 private:
  int m_dim;
  Vec3 m_center;
  double m_inner, m_outer;
};

double polygon_signed_area(const std::vector<std::array<double, 2>>& v) {
  double twice = 0;
  for (std::size_t k = 0; k < v.size(); ++k) {
    const auto& a = v[k];
    const auto& b = v[(k + 1) % v.size()];
    twice += a[0] * b[1] - b[0] * a[1];
  }
  return 0.5 * twice;
}

class Polygon final : public Shape {
 public:
  explicit Polygon(std::vector<std::array<double, 2>> vertices) : m_vertices(std::move(vertices)) {
    KARMAN_VERIFY(polygon_defect(m_vertices).empty(), "polygon is not simple");
    m_orientation = polygon_signed_area(m_vertices) > 0 ? 1.0 : -1.0;
  }
  int dim() const override { return 2; }
  double sdf(const double* x) const override {
    // Distance to the nearest edge, negative inside by the crossing rule (even–odd).
    const Vec3 p{x[0], x[1], 0};
    double distance = 1e300;
    bool inside = false;
    const std::size_t n = m_vertices.size();
    for (std::size_t k = 0; k < n; ++k) {
      const auto& a = m_vertices[k];
      const auto& b = m_vertices[(k + 1) % n];
      distance = std::min(distance, segment_distance(p, {a[0], a[1], 0}, {b[0], b[1], 0}));
      if ((a[1] > x[1]) != (b[1] > x[1]) &&
          x[0] < a[0] + (x[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1]))
        inside = !inside;
    }
    return inside ? -distance : distance;
  }
  BoundingBox bounds() const override {
    BoundingBox box{2, {1e300, 1e300, 0}, {-1e300, -1e300, 0}};
    for (const auto& v : m_vertices)
      for (int d = 0; d < 2; ++d) {
        box.lower[d] = std::min(box.lower[d], v[d]);
        box.upper[d] = std::max(box.upper[d], v[d]);
      }
    return box;
  }
  std::vector<BoundaryPiece> pieces() const override {
    std::vector<BoundaryPiece> out;
    const std::size_t n = m_vertices.size();
    for (std::size_t k = 0; k < n; ++k) {
      const auto& a = m_vertices[k];
      const auto& b = m_vertices[(k + 1) % n];
      BoundaryPiece p;
      p.name = "edge" + std::to_string(k);
      p.start = {a[0], a[1], 0};
      p.end = {b[0], b[1], 0};
      // Counter-clockwise vertices have the inside on the left: outward is the right normal.
      const double length = std::hypot(b[0] - a[0], b[1] - a[1]);
      p.normal = {m_orientation * (b[1] - a[1]) / length, -m_orientation * (b[0] - a[0]) / length,
                  0};
      out.push_back(p);
    }
    return out;
  }

 private:
  std::vector<std::array<double, 2>> m_vertices;
  double m_orientation;  // +1 counter-clockwise
};

// ------------------------------------------------------------------------------------ CSG

class Csg final : public Shape {
 public:
  Csg(CsgOperation op, ShapePtr a, ShapePtr b, std::string prefix_a, std::string prefix_b)
      : m_op(op),
        m_a(std::move(a)),
        m_b(std::move(b)),
        m_prefix_a(std::move(prefix_a)),
        m_prefix_b(std::move(prefix_b)) {
    KARMAN_VERIFY(m_a->dim() == m_b->dim(), "CSG operands of different dimensions");
  }
  int dim() const override { return m_a->dim(); }
  bool composite() const override { return true; }
  double sdf(const double* x) const override {
    const double a = m_a->sdf(x), b = m_b->sdf(x);
    switch (m_op) {
      case CsgOperation::union_:
        return std::min(a, b);
      case CsgOperation::intersection:
        return std::max(a, b);
      case CsgOperation::difference:
        return std::max(a, -b);
    }
    return a;
  }
  BoundingBox bounds() const override {
    BoundingBox a = m_a->bounds(), b = m_b->bounds();
    if (m_op == CsgOperation::difference) return a;
    for (int d = 0; d < a.dim; ++d) {
      const bool hull = m_op == CsgOperation::union_;
      a.lower[d] = hull ? std::min(a.lower[d], b.lower[d]) : std::max(a.lower[d], b.lower[d]);
      a.upper[d] = hull ? std::max(a.upper[d], b.upper[d]) : std::min(a.upper[d], b.upper[d]);
    }
    return a;
  }
  std::vector<BoundaryPiece> pieces() const override {
    std::vector<BoundaryPiece> out;
    for (auto p : m_a->pieces()) {
      p.name = m_prefix_a + "." + p.name;
      out.push_back(p);
    }
    for (auto p : m_b->pieces()) {
      p.name = m_prefix_b + "." + p.name;
      if (m_op == CsgOperation::difference) p.flip();  // B's outside is the result's inside
      out.push_back(p);
    }
    return out;
  }

 private:
  CsgOperation m_op;
  ShapePtr m_a, m_b;
  std::string m_prefix_a, m_prefix_b;
};

class Named final : public Shape {
 public:
  Named(ShapePtr shape, std::string name) : m_shape(std::move(shape)), m_name(std::move(name)) {}
  int dim() const override { return m_shape->dim(); }
  bool composite() const override { return m_shape->composite(); }
  double sdf(const double* x) const override { return m_shape->sdf(x); }
  BoundingBox bounds() const override { return m_shape->bounds(); }
  std::vector<BoundaryPiece> pieces() const override {
    auto out = m_shape->pieces();
    for (auto& p : out) p.name = m_name + "." + p.name;
    return out;
  }

 private:
  ShapePtr m_shape;
  std::string m_name;
};

// Do the closed segments [p, q] and [r, s] intersect?
bool segments_cross(const std::array<double, 2>& p, const std::array<double, 2>& q,
                    const std::array<double, 2>& r, const std::array<double, 2>& s) {
  auto orient = [](const auto& a, const auto& b, const auto& c) {
    const double v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
    return (v > 0) - (v < 0);
  };
  auto on = [](const auto& a, const auto& b, const auto& c) {  // c on [a, b], given collinear
    return std::min(a[0], b[0]) <= c[0] && c[0] <= std::max(a[0], b[0]) &&
           std::min(a[1], b[1]) <= c[1] && c[1] <= std::max(a[1], b[1]);
  };
  const int o1 = orient(p, q, r), o2 = orient(p, q, s), o3 = orient(r, s, p), o4 = orient(r, s, q);
  if (o1 != o2 && o3 != o4) return true;
  return (o1 == 0 && on(p, q, r)) || (o2 == 0 && on(p, q, s)) || (o3 == 0 && on(r, s, p)) ||
         (o4 == 0 && on(r, s, q));
}

}  // namespace

// ------------------------------------------------------------------------- public makers

double BoundingBox::diameter() const {
  Vec3 extent = minus(upper, lower);
  for (int d = dim; d < 3; ++d) extent[d] = 0;
  return norm(extent);
}

ShapePtr make_rectangle(const Vec3& lower, const Vec3& upper) {
  return std::make_shared<AxisBox>(2, lower, upper);
}
ShapePtr make_box(const Vec3& lower, const Vec3& upper) {
  return std::make_shared<AxisBox>(3, lower, upper);
}
ShapePtr make_disk(const Vec3& center, double radius) {
  return std::make_shared<RoundShape>(2, center, 0.0, radius);
}
ShapePtr make_ball(const Vec3& center, double radius) {
  return std::make_shared<RoundShape>(3, center, 0.0, radius);
}
ShapePtr make_annulus(const Vec3& center, double inner, double outer) {
  KARMAN_VERIFY(inner > 0, "annulus needs inner > 0");
  return std::make_shared<RoundShape>(2, center, inner, outer);
}
ShapePtr make_shell(const Vec3& center, double inner, double outer) {
  KARMAN_VERIFY(inner > 0, "shell needs inner > 0");
  return std::make_shared<RoundShape>(3, center, inner, outer);
}
ShapePtr make_polygon(const std::vector<std::array<double, 2>>& vertices) {
  return std::make_shared<Polygon>(vertices);
}
ShapePtr make_csg(CsgOperation op, ShapePtr a, ShapePtr b, const std::string& prefix_a,
                  const std::string& prefix_b) {
  return std::make_shared<Csg>(op, std::move(a), std::move(b), prefix_a, prefix_b);
}
ShapePtr make_named(ShapePtr shape, const std::string& name) {
  return std::make_shared<Named>(std::move(shape), name);
}

std::string polygon_defect(const std::vector<std::array<double, 2>>& v) {
  const std::size_t n = v.size();
  if (n < 3) return "a polygon needs at least 3 vertices, got " + std::to_string(n);
  for (std::size_t k = 0; k < n; ++k)
    if (v[k] == v[(k + 1) % n])
      return "vertices " + std::to_string(k) + " and " + std::to_string((k + 1) % n) + " coincide";
  // Non-adjacent edges must not touch (O(n²): polygons in case files are small).
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      const bool adjacent = j == i + 1 || (i == 0 && j == n - 1);
      if (adjacent) continue;
      if (segments_cross(v[i], v[(i + 1) % n], v[j], v[(j + 1) % n]))
        return "edges " + std::to_string(i) + " and " + std::to_string(j) +
               " cross (the polygon is not simple)";
    }
  if (std::abs(polygon_signed_area(v)) == 0) return "the polygon has zero area";
  return {};
}

// ------------------------------------------------------------------------- BoundaryPiece

double BoundaryPiece::measure() const {
  switch (kind) {
    case Kind::segment:
      return norm(minus(end, start));
    case Kind::circle:
      return two_pi * radius;
    case Kind::sphere:
      return 2 * two_pi * radius * radius;
    case Kind::face: {
      double area = 1;
      for (int d = 0; d < 3; ++d)
        if (d != axis) area *= end[d] - start[d];
      return area;
    }
  }
  return 0;
}

void BoundaryPiece::point(const double* u, double* x, double* n) const {
  switch (kind) {
    case Kind::segment:
      for (int d = 0; d < 2; ++d) {
        x[d] = start[d] + u[0] * (end[d] - start[d]);
        n[d] = normal[d];
      }
      return;
    case Kind::circle: {
      const double c = std::cos(two_pi * u[0]), s = std::sin(two_pi * u[0]);
      x[0] = center[0] + radius * c;
      x[1] = center[1] + radius * s;
      n[0] = orientation * c;
      n[1] = orientation * s;
      return;
    }
    case Kind::sphere: {
      // Archimedes: z uniform in [−1, 1] and the azimuth uniform give the uniform measure.
      const double z = 1 - 2 * u[0], s = std::sqrt(std::max(0.0, 1 - z * z));
      const double direction[3] = {s * std::cos(two_pi * u[1]), s * std::sin(two_pi * u[1]), z};
      for (int d = 0; d < 3; ++d) {
        x[d] = center[d] + radius * direction[d];
        n[d] = orientation * direction[d];
      }
      return;
    }
    case Kind::face: {
      int k = 0;
      for (int d = 0; d < 3; ++d) {
        x[d] = d == axis ? start[d] : start[d] + u[k++] * (end[d] - start[d]);
        n[d] = normal[d];
      }
      return;
    }
  }
}

double BoundaryPiece::distance(const double* x) const {
  const Vec3 p = to_vec(x, dim);
  switch (kind) {
    case Kind::segment:
      return segment_distance(p, start, end);
    case Kind::circle:
    case Kind::sphere:
      return std::abs(norm(minus(p, center)) - radius);
    case Kind::face: {
      double squared = 0;
      for (int d = 0; d < 3; ++d) {
        const double gap =
            d == axis ? p[d] - start[d] : std::max({start[d] - p[d], 0.0, p[d] - end[d]});
        squared += gap * gap;
      }
      return std::sqrt(squared);
    }
  }
  return 0;
}

Vec3 BoundaryPiece::normal_at(const double* x) const {
  if (kind == Kind::segment || kind == Kind::face) return normal;
  Vec3 r = minus(to_vec(x, dim), center);
  const double length = norm(r);
  for (auto& c : r) c *= orientation / (length > 0 ? length : 1.0);
  return r;
}

void BoundaryPiece::flip() {
  for (auto& c : normal) c = -c;
  orientation = -orientation;
}

// ------------------------------------------------------------------------------ Geometry

Geometry::Geometry(ShapePtr shape) : m_shape(std::move(shape)) {
  m_bounds = m_shape->bounds();
  for (int d = 0; d < dim(); ++d)
    if (!(m_bounds.upper[d] > m_bounds.lower[d]))
      throw ConfigError("the geometry is empty (its bounding box has no volume)");
  m_step = 1e-8 * m_bounds.diameter();
  m_pieces = m_shape->pieces();

  m_inside_fraction = estimate_inside_fraction();
  if (m_inside_fraction == 0)
    throw ConfigError("the geometry is empty (no point of its bounding box is inside)");
  list_visible_parts();
}

double Geometry::estimate_inside_fraction() const {
  // A fixed 4096-point Sobol' set of the bounding box (exactly 1 for a box).
  const long probes = 4096;
  const auto u = sobol_points(dim(), 0, probes, 0);
  long inside = 0;
  std::vector<double> x(dim());
  for (long i = 0; i < probes; ++i) {
    for (int d = 0; d < dim(); ++d)
      x[d] = m_bounds.lower[d] + u[i * dim() + d] * (m_bounds.upper[d] - m_bounds.lower[d]);
    inside += m_shape->inside(x.data());
  }
  return static_cast<double>(inside) / probes;
}

void Geometry::list_visible_parts() {
  // A piece is a part if some of a 256-point grid of it lies on the boundary (a piece visible
  // only on a sliver shorter than 1/256 of it is not listed).
  for (int k = 0; k < static_cast<int>(m_pieces.size()); ++k) {
    bool visible = !m_shape->composite();
    for (int j = 0; j < 256 && !visible; ++j) {
      const double u_face[2] = {(j % 16 + 0.5) / 16, (j / 16 + 0.5) / 16};
      const double u_line[1] = {(j + 0.5) / 256};
      double x[3], n[3];
      m_pieces[k].point(dim() == 2 ? u_line : u_face, x, n);
      visible = on_boundary(k, x, n);
    }
    if (visible) {
      m_part_piece.push_back(k);
      m_part_names.push_back(m_pieces[k].name);
    }
  }
}

bool Geometry::on_boundary(int piece, const double* x, const double* n) const {
  if (!m_shape->composite()) return true;
  const int dim = this->dim();
  double behind[3], ahead[3];
  for (int d = 0; d < dim; ++d) {
    behind[d] = x[d] - m_step * n[d];
    ahead[d] = x[d] + m_step * n[d];
  }
  if (!m_shape->inside(behind) || m_shape->inside(ahead)) return false;
  // Coincident boundaries with the same outward normal: the first piece owns the points.
  const Vec3 normal = to_vec(n, dim);
  for (int j = 0; j < piece; ++j)
    if (m_pieces[j].distance(x) <= 1e-3 * m_step && dot(m_pieces[j].normal_at(x), normal) > 0.5)
      return false;
  return true;
}

std::vector<int> Geometry::select_parts(const std::vector<std::string>& selectors) const {
  std::vector<int> out;
  if (selectors.empty()) {
    for (int k = 0; k < static_cast<int>(m_part_names.size()); ++k) out.push_back(k);
    return out;
  }
  for (const auto& selector : selectors) {
    bool found = false;
    for (int k = 0; k < static_cast<int>(m_part_names.size()); ++k) {
      const std::string& name = m_part_names[k];
      const bool group = name.size() > selector.size() &&
                         name.compare(0, selector.size(), selector) == 0 &&
                         name[selector.size()] == '.';
      if (name == selector || group) {
        found = true;
        if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
      }
    }
    if (found) continue;
    // Candidates for the suggestion: the parts and every group prefix of them.
    std::vector<std::string> candidates;
    for (const auto& name : m_part_names)
      for (std::size_t dot = name.find('.');; dot = name.find('.', dot + 1)) {
        candidates.push_back(name.substr(0, dot));
        if (dot == std::string::npos) break;
      }
    std::string message = "no boundary part '" + selector + "' (parts: ";
    for (std::size_t k = 0; k < m_part_names.size(); ++k)
      message += (k ? ", " : "") + m_part_names[k];
    message += ")";
    const std::string guess = config::closest_match(selector, candidates);
    if (!guess.empty()) message += " (did you mean '" + guess + "'?)";
    throw ConfigError(message);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<double> Geometry::interior_points(SampleMethod method, long first, long count,
                                              long total, std::uint64_t seed) const {
  KARMAN_VERIFY(first >= 0 && count >= 0, "negative interior share");
  const int dim = this->dim();
  std::vector<double> out(static_cast<std::size_t>(count * dim));
  std::vector<double> x(dim);
  auto to_box = [&](const double* u) {
    for (int d = 0; d < dim; ++d)
      x[d] = m_bounds.lower[d] + u[d] * (m_bounds.upper[d] - m_bounds.lower[d]);
  };

  if (method == SampleMethod::uniform) {
    std::vector<double> u(dim);
    // Point i: the first candidate of its own attempt streams that lies inside.
    for (long i = 0; i < count; ++i) {
      int attempt = 0;
      for (;; ++attempt) {
        KARMAN_VERIFY(attempt < max_attempts, "interior rejection sampling does not terminate");
        draw_uniform(dim, first + i, attempt_seed(seed, attempt), u.data());
        to_box(u.data());
        if (m_shape->inside(x.data())) break;
      }
      std::copy(x.begin(), x.end(), out.begin() + i * dim);
    }
    return out;
  }

  // Sobol' and LHS: the candidate sequence filtered, point i the i-th candidate inside.
  auto keep_share = [&](const std::vector<double>& candidates, long& accepted) {
    const long n = static_cast<long>(candidates.size()) / dim;
    for (long c = 0; c < n && accepted < first + count; ++c) {
      to_box(&candidates[c * dim]);
      if (!m_shape->inside(x.data())) continue;
      if (accepted >= first) std::copy(x.begin(), x.end(), out.begin() + (accepted - first) * dim);
      ++accepted;
    }
  };
  long accepted = 0;
  if (method == SampleMethod::sobol) {
    const long chunk = 4096;
    for (long start = 0; accepted < first + count; start += chunk) {
      KARMAN_VERIFY(start < (first + count) * 1000L + chunk, "Sobol' rejection does not terminate");
      keep_share(sobol_points(dim, start, chunk, seed), accepted);
    }
    return out;
  }
  // LHS: a design of m candidates, m grown until `total` of them are inside. Every rank makes
  // the same (deterministic) choice of m, so the share does not change the set.
  KARMAN_VERIFY(first + count <= total, "Latin hypercube share outside [0, total)");
  long m = static_cast<long>(std::ceil(static_cast<double>(total) / m_inside_fraction));
  for (int attempt = 0;; ++attempt) {
    KARMAN_VERIFY(attempt < 100, "Latin hypercube rejection does not terminate");
    const auto design = latin_hypercube_points(dim, 0, m, m, seed);
    long inside = 0;
    for (long c = 0; c < m; ++c) {
      to_box(&design[c * dim]);
      inside += m_shape->inside(x.data());
    }
    if (inside >= total) {
      keep_share(design, accepted);
      return out;
    }
    m += std::max(1L, m / 20);
  }
}

BoundarySample Geometry::boundary_points(const std::vector<int>& parts, long first, long count,
                                         std::uint64_t seed) const {
  KARMAN_VERIFY(!parts.empty(), "boundary sampling needs at least one part");
  const int dim = this->dim();
  std::vector<double> measure;
  double total = 0;
  for (int k : parts) {
    KARMAN_VERIFY(k >= 0 && k < static_cast<int>(m_part_piece.size()), "bad part index");
    measure.push_back(part(k).measure());
    total += measure.back();
  }
  BoundarySample out;
  out.x.resize(static_cast<std::size_t>(count * dim));
  out.normal.resize(out.x.size());
  out.part.resize(static_cast<std::size_t>(count));
  for (long i = 0; i < count; ++i) {
    // dim numbers per attempt: the piece (by measure), then its dim − 1 parameters.
    for (int attempt = 0;; ++attempt) {
      KARMAN_VERIFY(attempt < max_attempts, "boundary rejection sampling does not terminate");
      double u[3];
      draw_uniform(dim, first + i, attempt_seed(seed, attempt), u);
      double pick = u[0] * total;
      std::size_t j = 0;
      while (j + 1 < parts.size() && pick > measure[j]) pick -= measure[j++];
      double* x = &out.x[i * dim];
      double* n = &out.normal[i * dim];
      part(parts[j]).point(&u[1], x, n);
      if (on_boundary(m_part_piece[parts[j]], x, n)) {
        out.part[i] = parts[j];
        break;
      }
    }
  }
  return out;
}

std::vector<char> active_nodes(const mesh::StructuredGrid& grid, const Geometry& geometry) {
  const mesh::GridShape& shape = grid.shape();
  KARMAN_VERIFY(shape.dim == geometry.dim(), "grid and geometry of different dimensions");
  double spacing = 1e300;
  for (int d = 0; d < shape.dim; ++d) spacing = std::min(spacing, shape.spacing(d));
  const double tolerance = 1e-9 * spacing;
  const auto inside = grid.sample([&](double x, double y, double z) {
    const double p[3] = {x, y, z};
    return geometry.shape().sdf(p) < -tolerance ? 1.0 : 0.0;
  });
  return std::vector<char>(inside.begin(), inside.end());
}

}  // namespace karman::pinn
