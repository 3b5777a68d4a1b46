#pragma once
// Domains for PINN collocation: primitives (rectangle, disk, annulus, polygon in 2D; box, ball,
// spherical shell in 3D) and their CSG combinations (union, intersection, difference). A shape
// answers "inside?" through a signed distance (negative inside; exact for primitives, the usual
// min/max combination for CSG), knows its bounding box, and lists its boundary as named pieces
// that can be sampled uniformly in arc length (area in 3D) with outward unit normals.
//
// Part names. Every primitive names its pieces:
//   rectangle  left (x = lower), right (x = upper), bottom (y = lower), top (y = upper)
//   box (3D)   the same four, plus back (z = lower) and front (z = upper)
//   disk, ball outer
//   annulus, shell  outer, inner
//   polygon    edge0 .. edge{n-1}, edge k from vertex k to vertex k + 1
// A shape given a name prefixes its parts with "name." ; a CSG child without a name is prefixed
// "a." or "b." (its slot). So the L-shape difference{a: rectangle, b: rectangle} has the parts
// a.left, a.bottom, a.right, a.top, b.left, b.bottom, and a plate with a hole
// difference{a: {rectangle, name: plate}, b: {disk, name: hole}} has plate.left .. plate.top and
// hole.outer. A selector names a part or a group: "hole" selects every part whose name starts
// with "hole.". Pieces of a CSG child that lie nowhere on the result's boundary (b.right of the
// L-shape) are not listed. Where the boundaries of two children coincide with the same outward
// normal, the points belong to the first child's part.
//
// Ranks: every sampler is counter-based (point i a pure function of the seed and i), so a rank
// draws its share [first, first + count) and the global set never depends on the rank count.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pinn/quasi_random.hpp"

namespace karman::mesh {
class StructuredGrid;
}

namespace karman::pinn {

using Vec3 = std::array<double, 3>;  // a point or vector; entries past dim are 0

struct BoundingBox {
  int dim = 2;
  Vec3 lower{}, upper{};
  double diameter() const;
};

// One smooth piece of a primitive's boundary: a segment or a circle in 2D, an axis-aligned
// rectangular face or a sphere in 3D. Sampling uses dim − 1 parameters in [0, 1), uniform in
// arc length / area.
struct BoundaryPiece {
  enum class Kind { segment, circle, face, sphere };
  Kind kind = Kind::segment;
  std::string name;  // full part name, CSG prefixes included ("hole.outer")
  int dim = 2;
  Vec3 start{}, end{};  // segment: endpoints; face: the face's lower and upper corners
  Vec3 center{};        // circle, sphere
  double radius = 0;    // circle, sphere
  int axis = 0;         // face: the normal's axis
  // segment, face: the outward normal; circle, sphere: +1 if the outward normal points away
  // from the center (a disk), −1 if towards it (the inner circle of an annulus).
  Vec3 normal{};
  double orientation = 1;

  double measure() const;  // length (2D) or area (3D)
  // Point x and outward unit normal n at parameters u[0 .. dim−2] in [0, 1).
  void point(const double* u, double* x, double* n) const;
  double distance(const double* x) const;  // unsigned distance from x to the piece
  // Outward normal of the piece at (or, off the piece, at the point nearest to) x.
  Vec3 normal_at(const double* x) const;
  void flip();  // outward becomes inward (CSG difference)
};

class Shape {
 public:
  virtual ~Shape() = default;
  virtual int dim() const = 0;
  // Signed distance: < 0 inside, 0 on the boundary, > 0 outside. x has dim() entries.
  virtual double sdf(const double* x) const = 0;
  virtual BoundingBox bounds() const = 0;
  // The boundary pieces of the shape, named as above (prefix applied by the caller).
  virtual std::vector<BoundaryPiece> pieces() const = 0;
  // True for CSG: pieces may lie partly off the boundary and need the on-boundary test.
  virtual bool composite() const { return false; }
  bool inside(const double* x) const { return sdf(x) < 0; }
};

using ShapePtr = std::shared_ptr<const Shape>;

// Primitives. Constructors check their arguments with KARMAN_VERIFY; the case-file reader
// (geometry_config.hpp) reports bad input as ConfigError first.
ShapePtr make_rectangle(const Vec3& lower, const Vec3& upper);          // 2D
ShapePtr make_box(const Vec3& lower, const Vec3& upper);                // 3D
ShapePtr make_disk(const Vec3& center, double radius);                  // 2D
ShapePtr make_ball(const Vec3& center, double radius);                  // 3D
ShapePtr make_annulus(const Vec3& center, double inner, double outer);  // 2D
ShapePtr make_shell(const Vec3& center, double inner, double outer);    // 3D
// A simple polygon, vertices in either orientation (edges must not cross).
ShapePtr make_polygon(const std::vector<std::array<double, 2>>& vertices);

enum class CsgOperation { union_, intersection, difference };
// `prefix_a`, `prefix_b`: the part-name prefixes of the operands ("a", "b" or the child's name).
ShapePtr make_csg(CsgOperation op, ShapePtr a, ShapePtr b, const std::string& prefix_a = "a",
                  const std::string& prefix_b = "b");
// The same shape with every part name prefixed by "name.".
ShapePtr make_named(ShapePtr shape, const std::string& name);

// Why a polygon is not simple ("" if it is): fewer than 3 vertices, zero area, crossing edges.
std::string polygon_defect(const std::vector<std::array<double, 2>>& vertices);

// Points on the boundary: row-major x [count, dim], outward unit normals [count, dim] and the
// index of each point's part in Geometry::part_names().
struct BoundarySample {
  std::vector<double> x, normal;
  std::vector<int> part;
};

// A shape with its list of boundary parts: what a PINN case samples.
class Geometry {
 public:
  explicit Geometry(ShapePtr shape);

  int dim() const { return m_shape->dim(); }
  const Shape& shape() const { return *m_shape; }
  BoundingBox bounds() const { return m_bounds; }
  // Names of the parts that lie (at least partly) on the boundary, in a fixed order.
  const std::vector<std::string>& part_names() const { return m_part_names; }
  // Part indices selected by names or group prefixes ("hole" → "hole.outer"); an empty list
  // selects every part. An unknown selector throws ConfigError (with a did-you-mean), which the
  // caller rethrows with its place.
  std::vector<int> select_parts(const std::vector<std::string>& selectors) const;

  // Interior points [count, dim]: entries [first, first + count) of `total` for `seed`.
  //   uniform: point i is the first candidate of its own stream inside the domain (rejection
  //            per point: pure function of (seed, i)).
  //   sobol, lhs: the candidates of the bounding box in sequence order, the outside ones
  //            dropped; each rank scans the candidates before its share (cheap inside tests).
  //            lhs draws a design of ⌈total · box volume / domain volume⌉ candidates, grown
  //            until `total` lie inside, so on a box it is an exact Latin hypercube.
  std::vector<double> interior_points(SampleMethod method, long first, long count, long total,
                                      std::uint64_t seed) const;

  // Boundary points of the selected parts, uniform in arc length (area) over them: point i is a
  // pure function of (seed, i). CSG: candidates on a child's piece that are not on the result's
  // boundary are rejected.
  BoundarySample boundary_points(const std::vector<int>& parts, long first, long count,
                                 std::uint64_t seed) const;

  // The boundary piece of each part (part_names()[k] is part(k).name).
  const BoundaryPiece& part(int k) const { return m_pieces[m_part_piece[k]]; }
  // Fraction of the bounding box inside the shape (4096 Sobol' points; exact 1 for a box).
  double inside_fraction() const { return m_inside_fraction; }
  // True if x (on piece `piece`, outward normal n) is on the shape's boundary and owned by that
  // piece: an earlier piece through x with the same outward normal owns coincident points.
  bool on_boundary(int piece, const double* x, const double* n) const;
  // Distance of the probes either side of a boundary point for on_boundary (1e-8 · diameter).
  double probe_step() const { return m_step; }

 private:
  double estimate_inside_fraction() const;
  void list_visible_parts();

  ShapePtr m_shape;
  BoundingBox m_bounds;
  double m_step = 0;                      // probe distance for the on-boundary test
  double m_inside_fraction = 1;           // of the bounding box
  std::vector<BoundaryPiece> m_pieces;    // all pieces of all leaves
  std::vector<int> m_part_piece;          // visible part → piece
  std::vector<std::string> m_part_names;  // visible parts
};

// The owned nodes of `grid` (storage order) strictly inside the geometry: 1 where the signed
// distance is below −1e-9 · the smallest spacing, so nodes on the boundary count as outside.
// The `active` mask of solvers::solve_poisson_masked (the PETSc reference on this domain).
std::vector<char> active_nodes(const mesh::StructuredGrid& grid, const Geometry& geometry);

}  // namespace karman::pinn
