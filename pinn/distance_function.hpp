#pragma once
// Approximate distance function (ADF) to chosen parts of a 2D or 3D boundary, for hard Dirichlet
// conditions u = g + φ · N(x): φ is smooth inside the domain, zero exactly on the chosen parts,
// positive elsewhere, and normalised to first order: |∇φ| → 1 on the parts away from their ends,
// so φ behaves like the distance near the boundary.
//
// Construction (N. Sukumar and A. Srivastava, "Exact imposition of boundary conditions with
// distance functions in physics-informed deep neural networks", CMAME 389, 2022): each segment
// [a, b] (length L, midpoint c) gives
//   f = ((x − a) × (b − a)) / L                 signed distance to the segment's line
//   t = ((L/2)² − |x − c|²) / L                 trimming: > 0 in the disk on [a, b]
//   φ_s = sqrt(f² + ((sqrt(t² + f⁴) − t) / 2)²)  normalised distance to the segment
// each circle (center c, radius R) gives φ_s = |R² − |x − c|²| / (2R), and the parts are joined
// by R-equivalence of order 1: 1/φ = Σ_s 1/φ_s. In 3D a sphere gives the same φ_s as a circle,
// and an axis-aligned rectangular face the segment's formula with f the signed distance to its
// plane, L its diagonal and c its centre: the trimming ball then meets the plane in the face's
// circumscribed disk, not in the face alone, so the constructor also checks that this disk stays
// outside the domain (it does for every face of a box; a CSG notch would not).
//
// Derivatives are exact (forward-mode jets along each axis): the value, the gradient and the
// pure second derivatives ∂²φ/∂x_d² (the Laplacian is their sum), which is all a PINN residual
// of u = g + φN needs. On the chosen parts themselves φ = 0 and φ is not differentiable across
// them: its derivatives there are NaN (collocation points are strictly inside).
//
// The parts must not run through the domain's interior (a union can put a child's edge inside
// the result: an ADF would vanish there); the constructor checks and throws ConfigError. Parts
// of a child's piece outside the domain (the L-shape's b.left beyond the notch) are harmless.

#include <vector>

#include "pinn/geometry.hpp"

namespace karman::pinn {

struct DistanceValue {
  double value = 0;
  Vec3 gradient{};  // ∂φ/∂x_d
  Vec3 second{};    // ∂²φ/∂x_d²
  double laplacian() const { return second[0] + second[1] + second[2]; }
};

class DistanceFunction {
 public:
  // The ADF of `parts` (indices into geometry.part_names()), 2D or 3D.
  DistanceFunction(const Geometry& geometry, const std::vector<int>& parts);

  DistanceValue evaluate(const double* x) const;
  int dim() const { return m_dim; }
  // Row-major batch: x [n, dim] → value [n], gradient [n, dim], second [n, dim].
  void evaluate(const std::vector<double>& x, std::vector<double>& value,
                std::vector<double>& gradient, std::vector<double>& second) const;

 private:
  int m_dim = 2;
  std::vector<BoundaryPiece> m_pieces;  // segments and circles (2D), faces and spheres (3D)
};

}  // namespace karman::pinn
