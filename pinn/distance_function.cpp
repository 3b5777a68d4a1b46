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

// Normalised distance to a segment [a, b] (Sukumar & Srivastava 2022, eq. for a line segment).
Jet segment_adf(const Jet x[2], const BoundaryPiece& s) {
  const double ex = s.end[0] - s.start[0], ey = s.end[1] - s.start[1];
  const double length = std::hypot(ex, ey);
  const Jet dx = x[0] + (-s.start[0]), dy = x[1] + (-s.start[1]);
  const Jet f = (1 / length) * (ey * dx - ex * dy);
  const Jet cx = x[0] + (-0.5 * (s.start[0] + s.end[0])),
            cy = x[1] + (-0.5 * (s.start[1] + s.end[1]));
  const Jet t = (1 / length) * ((cx * cx + cy * cy) * -1.0 + 0.25 * length * length);
  const Jet f2 = f * f;
  const Jet varphi = sqrt(t * t + f2 * f2);
  const Jet trim = 0.5 * (varphi - t);
  return sqrt(f2 + trim * trim);
}

// Normalised distance to a full circle: |R² − r²| / (2R), ≈ |R − r| near it.
Jet circle_adf(const Jet x[2], const BoundaryPiece& c) {
  const Jet dx = x[0] + (-c.center[0]), dy = x[1] + (-c.center[1]);
  return abs((1 / (2 * c.radius)) * ((dx * dx + dy * dy) * -1.0 + c.radius * c.radius));
}

}  // namespace

DistanceFunction::DistanceFunction(const Geometry& geometry, const std::vector<int>& parts) {
  if (geometry.dim() != 2)
    throw ConfigError("the approximate distance function is available for 2D geometries only");
  KARMAN_VERIFY(!parts.empty(), "a distance function needs at least one boundary part");
  const double step = geometry.probe_step();
  for (int k : parts) {
    const BoundaryPiece& piece = geometry.part(k);
    KARMAN_VERIFY(
        piece.kind == BoundaryPiece::Kind::segment || piece.kind == BoundaryPiece::Kind::circle,
        "2D boundary pieces are segments and circles");
    // φ_s vanishes on the whole piece: no point of it may lie inside the domain.
    for (int j = 0; j < 1024; ++j) {
      const double u = (j + 0.5) / 1024;
      double x[2], n[2];
      piece.point(&u, x, n);
      const double behind[2] = {x[0] - step * n[0], x[1] - step * n[1]};
      const double ahead[2] = {x[0] + step * n[0], x[1] + step * n[1]};
      if (geometry.shape().inside(behind) && geometry.shape().inside(ahead))
        throw ConfigError("boundary part '" + piece.name +
                          "' runs through the inside of the domain (a CSG union?): a distance "
                          "function to it would vanish there; describe the domain as a polygon");
    }
    m_pieces.push_back(piece);
  }
}

DistanceValue DistanceFunction::evaluate(const double* x) const {
  DistanceValue out;
  for (int axis = 0; axis < 2; ++axis) {
    const Jet p[2] = {{x[0], axis == 0 ? 1.0 : 0.0, 0}, {x[1], axis == 1 ? 1.0 : 0.0, 0}};
    // 1/φ = Σ 1/φ_s, as jets; on a part (some φ_s = 0) φ = 0 and is not differentiable.
    Jet inverse_sum;
    bool on_part = false;
    for (const auto& piece : m_pieces) {
      const Jet phi =
          piece.kind == BoundaryPiece::Kind::segment ? segment_adf(p, piece) : circle_adf(p, piece);
      if (!(phi.v > 0)) {
        on_part = true;
        break;
      }
      inverse_sum = inverse_sum + reciprocal(phi);
    }
    if (on_part) {
      const double nan = std::numeric_limits<double>::quiet_NaN();
      out.value = 0;
      out.gradient = {nan, nan, 0};
      out.second = {nan, nan, 0};
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
  const std::size_t n = x.size() / 2;
  value.resize(n);
  gradient.resize(2 * n);
  second.resize(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const DistanceValue v = evaluate(&x[2 * i]);
    value[i] = v.value;
    for (int d = 0; d < 2; ++d) {
      gradient[2 * i + d] = v.gradient[d];
      second[2 * i + d] = v.second[d];
    }
  }
}

}  // namespace karman::pinn
