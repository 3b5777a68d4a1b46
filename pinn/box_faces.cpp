#include "pinn/box_faces.hpp"

#include <algorithm>
#include <cmath>

namespace karman::pinn {

int box_face(const Geometry& geometry, int part, const mesh::GridShape& grid) {
  const BoundaryPiece& piece = geometry.part(part);
  if (piece.kind != BoundaryPiece::Kind::segment && piece.kind != BoundaryPiece::Kind::face)
    return -1;
  const double tolerance = 1e-12 * std::max(1.0, geometry.bounds().diameter());
  int axis = -1;
  for (int d = 0; d < grid.dim; ++d)
    if (std::abs(std::abs(piece.normal[d]) - 1.0) < 1e-12) axis = d;
  if (axis < 0) return -1;
  const int side = piece.normal[axis] > 0 ? 1 : 0;
  const double plane = side ? grid.upper[axis] : grid.lower[axis];
  if (std::abs(piece.start[axis] - plane) > tolerance ||
      std::abs(piece.end[axis] - plane) > tolerance)
    return -1;
  for (int d = 0; d < grid.dim; ++d) {
    if (d == axis) continue;
    const double lo = std::min(piece.start[d], piece.end[d]);
    const double hi = std::max(piece.start[d], piece.end[d]);
    if (std::abs(lo - grid.lower[d]) > tolerance || std::abs(hi - grid.upper[d]) > tolerance)
      return -1;
  }
  return 2 * axis + side;
}

std::vector<int> box_faces(const Geometry& geometry, const mesh::GridShape& grid) {
  const int parts = static_cast<int>(geometry.part_names().size());
  if (parts != 2 * grid.dim) return {};
  std::vector<int> faces;
  for (int k = 0; k < parts; ++k) {
    const int face = box_face(geometry, k, grid);
    if (face < 0 || std::find(faces.begin(), faces.end(), face) != faces.end()) return {};
    faces.push_back(face);
  }
  return faces;
}

}  // namespace karman::pinn
