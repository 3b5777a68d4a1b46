#include "karman/mesh/radius_graph.hpp"

#include <algorithm>
#include <nanoflann.hpp>
#include <string>

#include "karman/core/error.hpp"

namespace karman::mesh {

namespace {

// nanoflann's view of the points [n, dim]: no copy.
struct PointCloud {
  const std::vector<double>& x;
  std::size_t dim;

  std::size_t kdtree_get_point_count() const { return x.size() / dim; }
  double kdtree_get_pt(std::size_t i, std::size_t d) const { return x[i * dim + d]; }
  template <class Box>
  bool kdtree_get_bbox(Box&) const {
    return false;  // let the tree compute it
  }
};

using Tree = nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<double, PointCloud>,
                                                 PointCloud, -1, std::size_t>;

// The indices of the points within squared distance < r² of a query (the tree's own test), in the
// tree's order; the caller sorts them.
class Neighbours {
 public:
  Neighbours(double radius_squared, std::vector<std::size_t>& found)
      : m_radius_squared(radius_squared), m_found(found) {
    m_found.clear();
  }
  void init() { m_found.clear(); }
  std::size_t size() const { return m_found.size(); }
  bool full() const { return true; }
  bool addPoint(double distance_squared, std::size_t index) {
    if (distance_squared < m_radius_squared) m_found.push_back(index);
    return true;  // keep searching
  }
  double worstDist() const { return m_radius_squared; }

 private:
  double m_radius_squared;
  std::vector<std::size_t>& m_found;
};

}  // namespace

Graph radius_graph(const std::vector<double>& coordinates, int dim, double radius,
                   const RadiusGraphOptions& options) {
  KARMAN_VERIFY(dim >= 1, "mesh::radius_graph: dim must be >= 1");
  KARMAN_VERIFY(coordinates.size() % static_cast<std::size_t>(dim) == 0,
                "mesh::radius_graph: " + std::to_string(coordinates.size()) +
                    " coordinates are not points of dimension " + std::to_string(dim));
  KARMAN_VERIFY(radius > 0, "mesh::radius_graph: the radius must be > 0");
  const std::size_t n = coordinates.size() / dim;
  const PointCloud cloud{coordinates, static_cast<std::size_t>(dim)};
  const Tree tree(dim, cloud, nanoflann::KDTreeSingleIndexAdaptorParams(10));

  std::vector<long> row, col;
  std::vector<std::size_t> found;
  for (std::size_t i = 0; i < n; ++i) {
    Neighbours neighbours(radius * radius, found);
    tree.radiusSearchCustomCallback(&coordinates[i * dim], neighbours);
    if (options.self_loops) found.push_back(i);  // (i, i) whether or not the tree reports i
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    for (const std::size_t j : found) {
      if (j == i && !options.self_loops) continue;
      row.push_back(static_cast<long>(i));
      col.push_back(static_cast<long>(j));
    }
  }
  return make_graph(static_cast<long>(n), row, col, Edges::directed);
}

RadiusGraph radius_graph_with_features(const std::vector<double>& coordinates, int dim,
                                       double radius, const RadiusGraphOptions& options) {
  RadiusGraph r;
  r.graph = radius_graph(coordinates, dim, radius, options);
  const std::size_t n = coordinates.size() / dim;
  nn::Matrix<double> x("karman::mesh::radius_graph::coordinates", n, dim);
  auto host = Kokkos::create_mirror_view(x);
  for (std::size_t i = 0; i < n; ++i)
    for (int d = 0; d < dim; ++d) host(i, d) = coordinates[i * dim + d];
  Kokkos::deep_copy(x, host);
  r.edge_features =
      nn::Matrix<double>("karman::mesh::radius_graph::edge_features", r.graph.edges, dim + 1);
  edge_geometry<double>(r.graph, x, r.edge_features);
  return r;
}

}  // namespace karman::mesh
