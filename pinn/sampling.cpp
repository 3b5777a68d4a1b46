#include "pinn/sampling.hpp"

#include "karman/core/random.hpp"

namespace karman::pinn {

std::vector<double> interior_points(const mesh::GridShape& box, long first, long count,
                                    std::uint64_t seed) {
  const int dim = box.dim;
  std::vector<double> points(static_cast<std::size_t>(count * dim));
  for (long i = 0; i < count; ++i)
    for (int d = 0; d < dim; ++d) {
      const double u = uniform01(seed, static_cast<std::uint64_t>((first + i) * dim + d));
      points[i * dim + d] = box.lower[d] + u * (box.upper[d] - box.lower[d]);
    }
  return points;
}

std::vector<double> boundary_points(const mesh::GridShape& box, long first, long count,
                                    std::uint64_t seed, int faces) {
  const int dim = box.dim, face_dims = faces < 0 ? dim : faces;
  // Face f = 2d + side lies at x_d = lower/upper; its area is the product of the other lengths.
  std::vector<double> area(2 * face_dims);
  double total = 0;
  for (int f = 0; f < 2 * face_dims; ++f) {
    area[f] = 1.0;
    for (int e = 0; e < dim; ++e)
      if (e != f / 2) area[f] *= box.upper[e] - box.lower[e];
    total += area[f];
  }
  std::vector<double> points(static_cast<std::size_t>(count * dim));
  for (long i = 0; i < count; ++i) {
    // dim + 1 draws per point: the face, then the coordinates (the fixed one is overwritten).
    const std::uint64_t base = static_cast<std::uint64_t>((first + i) * (dim + 1));
    double pick = uniform01(seed, base) * total;
    int face = 0;
    while (face + 1 < 2 * face_dims && pick > area[face]) pick -= area[face++];
    for (int d = 0; d < dim; ++d) {
      const double u = uniform01(seed, base + 1 + d);
      points[i * dim + d] = box.lower[d] + u * (box.upper[d] - box.lower[d]);
    }
    points[i * dim + face / 2] = face % 2 ? box.upper[face / 2] : box.lower[face / 2];
  }
  return points;
}

}  // namespace karman::pinn
