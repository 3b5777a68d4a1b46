#include "pinn/distance_function.hpp"

#include <cmath>
#include <limits>

#include "karman/core/error.hpp"

namespace karman::pinn {

namespace {

// A value with its first and second derivative along one direction (forward mode, order 2).
struct Jet {
  double v = 0, d = 0, dd = 0;
};
Jet operator+(Jet a, Jet b) { return {a.v + b.v, a.d + b.d, a.dd + b.dd}; }
Jet operator-(Jet a, Jet b) { return {a.v - b.v, a.d - b.d, a.dd - b.dd}; }
Jet operator*(Jet a, Jet b) {
  return {a.v * b.v, a.d * b.v + a.v * b.d, a.dd * b.v + 2 * a.d * b.d + a.v * b.dd};
}
Jet operator*(double s, Jet a) { return {s * a.v, s * a.d, s * a.dd}; }
Jet operator*(Jet a, double s) { return s * a; }
Jet operator+(Jet a, double s) { return {a.v + s, a.d, a.dd}; }
Jet reciprocal(Jet a) {
  const double r = 1 / a.v;
  return {r, -a.d * r * r, (2 * a.d * a.d * r - a.dd) * r * r};
}
Jet sqrt(Jet a) {
  const double s = std::sqrt(a.v);
  return {s, a.d / (2 * s), a.dd / (2 * s) - a.d * a.d / (4 * s * a.v)};
}
Jet abs(Jet a) { return a.v < 0 ? -1.0 * a : a; }

// Normalised distance to a flat piece: a segment [a, b] in 2D (Sukumar & Srivastava 2022, eq.
// for a line segment) or an axis-aligned rectangular face in 3D, with L the segment's length or
// the face's diagonal and c its midpoint. f is the signed distance to the piece's line (plane),
// t > 0 inside the ball of diameter L around c: on a segment that ball meets the line exactly
// in the segment; on a face it meets the plane in the face's circumscribed disk, which the
// constructor checks stays outside the domain (true for the faces of a box).
Jet flat_adf(const Jet* x, int dim, const BoundaryPiece& s) {
  double length2 = 0;
  for (int d = 0; d < dim; ++d) length2 += (s.end[d] - s.start[d]) * (s.end[d] - s.start[d]);
  const double length =
      dim == 2 ? std::hypot(s.end[0] - s.start[0], s.end[1] - s.start[1]) : std::sqrt(length2);
  Jet f, centred2;
  if (s.kind == BoundaryPiece::Kind::segment) {  // ((x − a) × (b − a)) / L
    const double ex = s.end[0] - s.start[0], ey = s.end[1] - s.start[1];
    f = (1 / length) * (ey * (x[0] + (-s.start[0])) - ex * (x[1] + (-s.start[1])));
  } else {  // n · (x − a), n the face's unit normal
    for (int d = 0; d < dim; ++d) f = f + s.normal[d] * (x[d] + (-s.start[d]));
  }
  for (int d = 0; d < dim; ++d) {
    const Jet c = x[d] + (-0.5 * (s.start[d] + s.end[d]));
    centred2 = centred2 + c * c;
  }
  const Jet t = (1 / length) * (centred2 * -1.0 + 0.25 * length * length);
  const Jet f2 = f * f;
  const Jet varphi = sqrt(t * t + f2 * f2);
  const Jet trim = 0.5 * (varphi - t);
  return sqrt(f2 + trim * trim);
}

// Normalised distance to a full circle (2D) or sphere (3D): |R² − r²| / (2R), ≈ |R − r| near it.
Jet round_adf(const Jet* x, int dim, const BoundaryPiece& c) {
  Jet r2;
  for (int d = 0; d < dim; ++d) {
    const Jet dx = x[d] + (-c.center[d]);
    r2 = r2 + dx * dx;
  }
  return abs((1 / (2 * c.radius)) * (r2 * -1.0 + c.radius * c.radius));
}

bool flat(const BoundaryPiece& piece) {
  return piece.kind == BoundaryPiece::Kind::segment || piece.kind == BoundaryPiece::Kind::face;
}

// A face's circumscribed disk must not enter the domain where it leaves the face: points of the
// disk outside the face (polar grid) must be outside the shape.
void check_face_disk(const Geometry& geometry, const BoundaryPiece& face) {
  const int a = face.axis, u = (a + 1) % 3, v = (a + 2) % 3;
  const double cu = 0.5 * (face.start[u] + face.end[u]), cv = 0.5 * (face.start[v] + face.end[v]);
  const double radius = 0.5 * std::hypot(face.end[u] - face.start[u], face.end[v] - face.start[v]);
  const double step = geometry.probe_step();
  for (int i = 1; i <= 32; ++i)
    for (int j = 0; j < 64; ++j) {
      const double r = radius * i / 32.0, angle = 2 * std::acos(-1.0) * j / 64.0;
      double x[3];
      x[a] = face.start[a];
      x[u] = cu + r * std::cos(angle);
      x[v] = cv + r * std::sin(angle);
      const bool on_face = x[u] > face.start[u] - step && x[u] < face.end[u] + step &&
                           x[v] > face.start[v] - step && x[v] < face.end[v] + step;
      if (!on_face && geometry.shape().sdf(x) < -step)
        throw ConfigError("boundary part '" + face.name +
                          "': its plane runs through the inside of the domain near it; hard "
                          "conditions in 3D take the faces of a box, balls and shells");
    }
}

}  // namespace

DistanceFunction::DistanceFunction(const Geometry& geometry, const std::vector<int>& parts) {
  m_dim = geometry.dim();
  KARMAN_VERIFY(!parts.empty(), "a distance function needs at least one boundary part");
  const double step = geometry.probe_step();
  for (int k : parts) {
    const BoundaryPiece& piece = geometry.part(k);
    // φ_s vanishes on the whole piece: no point of it may lie inside the domain.
    for (int j = 0; j < 1024; ++j) {
      // 2D: 1024 points along the piece; 3D: a 32 × 32 grid of its parameters.
      const double u[2] = {m_dim == 2 ? (j + 0.5) / 1024 : (j % 32 + 0.5) / 32,
                           (j / 32 + 0.5) / 32};
      double x[3] = {0, 0, 0}, n[3] = {0, 0, 0}, behind[3] = {0, 0, 0}, ahead[3] = {0, 0, 0};
      piece.point(u, x, n);
      for (int d = 0; d < m_dim; ++d) behind[d] = x[d] - step * n[d], ahead[d] = x[d] + step * n[d];
      if (geometry.shape().inside(behind) && geometry.shape().inside(ahead))
        throw ConfigError("boundary part '" + piece.name +
                          "' runs through the inside of the domain (a CSG union?): a distance "
                          "function to it would vanish there; describe the domain as a polygon");
    }
    if (piece.kind == BoundaryPiece::Kind::face) check_face_disk(geometry, piece);
    m_pieces.push_back(piece);
  }
}

DistanceValue DistanceFunction::evaluate(const double* x) const {
  DistanceValue out;
  for (int axis = 0; axis < m_dim; ++axis) {
    Jet p[3];
    for (int d = 0; d < m_dim; ++d) p[d] = {x[d], d == axis ? 1.0 : 0.0, 0};
    // 1/φ = Σ 1/φ_s, as jets; on a part (some φ_s = 0) φ = 0 and is not differentiable.
    Jet inverse_sum;
    bool on_part = false;
    for (const auto& piece : m_pieces) {
      const Jet phi = flat(piece) ? flat_adf(p, m_dim, piece) : round_adf(p, m_dim, piece);
      if (!(phi.v > 0)) {
        on_part = true;
        break;
      }
      inverse_sum = inverse_sum + reciprocal(phi);
    }
    if (on_part) {
      const double nan = std::numeric_limits<double>::quiet_NaN();
      out.value = 0;
      for (int d = 0; d < m_dim; ++d) out.gradient[d] = out.second[d] = nan;
      return out;
    }
    const Jet phi = reciprocal(inverse_sum);
    out.value = phi.v;
    out.gradient[axis] = phi.d;
    out.second[axis] = phi.dd;
  }
  return out;
}

void DistanceFunction::evaluate(const std::vector<double>& x, std::vector<double>& value,
                                std::vector<double>& gradient, std::vector<double>& second) const {
  const std::size_t dim = static_cast<std::size_t>(m_dim), n = x.size() / dim;
  value.resize(n);
  gradient.resize(dim * n);
  second.resize(dim * n);
  for (std::size_t i = 0; i < n; ++i) {
    const DistanceValue v = evaluate(&x[dim * i]);
    value[i] = v.value;
    for (std::size_t d = 0; d < dim; ++d) {
      gradient[dim * i + d] = v.gradient[d];
      second[dim * i + d] = v.second[d];
    }
  }
}

}  // namespace karman::pinn
