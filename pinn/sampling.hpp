#pragma once
// Collocation points of a box [lower, upper]^dim: uniform in the interior and uniform over the
// boundary surface (each face chosen in proportion to its area). Point i of a stream is a pure
// function of (seed, i) (counter-based), so a rank draws its own share [first, first + count)
// and the global point set is the same on any rank count.

#include <cstdint>
#include <vector>

#include "karman/mesh/grid.hpp"

namespace karman::pinn {

// Row-major [count, dim] physical coordinates.
std::vector<double> interior_points(const mesh::GridShape& box, long first, long count,
                                    std::uint64_t seed);
// `faces` dimensions carry boundary faces: the first `faces` coordinates (default all). A
// space-time box [space] × [0, T] passes faces = space dims, so no point lies on t = 0 or t = T.
std::vector<double> boundary_points(const mesh::GridShape& box, long first, long count,
                                    std::uint64_t seed, int faces = -1);

}  // namespace karman::pinn
