#pragma once
// Helpers on the extents of a grid or an array ([nz, ny, nx], HDF5 dims, FNO sample shapes).

namespace karman {

// The number of points of a grid with these extents: n0 · n1 · ... (1 for no extents).
// `Extents` is any range of integers (std::vector<long>, std::vector<hsize_t>, ...).
template <class Extents>
typename Extents::value_type product(const Extents& extents) {
  typename Extents::value_type points = 1;
  for (const auto n : extents) points *= n;
  return points;
}

}  // namespace karman
