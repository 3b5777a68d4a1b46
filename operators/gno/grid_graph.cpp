#include "operators/gno/grid_graph.hpp"

#include <cmath>

#include "karman/core/error.hpp"

namespace karman::gno {

GridGraph grid_radius_graph(long side, double radius, long sender_stride) {
  KARMAN_VERIFY(
      side >= 2 && radius > 0 && sender_stride >= 1 && (side - 1) % sender_stride == 0,
      "grid_radius_graph: need side ≥ 2, radius > 0 and a sender stride dividing side − 1");
  GridGraph g;
  g.side = side;
  g.sender_stride = sender_stride;
  g.radius = radius;
  const double h = 1.0 / static_cast<double>(side - 1);
  // Squared distances in units of h² are integers: compare against (r/h)² with a relative
  // tolerance so that a sender at exactly r (r = 0.1 at s = 61: 6 spacings) is in the ball.
  const double reach = radius / h;
  const double reach2 = reach * reach * (1.0 + 1e-12);
  const long window = static_cast<long>(std::floor(reach * (1.0 + 1e-12)));
  g.degree.assign(static_cast<std::size_t>(side * side), 0);
  for (long iy = 0; iy < side; ++iy)
    for (long ix = 0; ix < side; ++ix) {
      const long i = iy * side + ix;
      for (long jy = std::max(0L, iy - window); jy <= std::min(side - 1, iy + window); ++jy) {
        if (jy % sender_stride != 0) continue;
        for (long jx = std::max(0L, ix - window); jx <= std::min(side - 1, ix + window); ++jx) {
          if (jx % sender_stride != 0) continue;
          const double dx = static_cast<double>(jx - ix), dy = static_cast<double>(jy - iy);
          if (dx * dx + dy * dy > reach2) continue;
          g.row.push_back(i);
          g.col.push_back(jy * side + jx);
          ++g.degree[static_cast<std::size_t>(i)];
        }
      }
    }
  return g;
}

namespace {

double coordinate(const GridGraph& g, long node, int axis) {
  const long index = axis == 0 ? node % g.side : node / g.side;
  return static_cast<double>(index) / static_cast<double>(g.side - 1);
}

}  // namespace

std::vector<double> grid_node_features_of(const GridGraph& g, const std::vector<double>& a) {
  KARMAN_VERIFY(static_cast<long>(a.size()) == g.nodes(),
                "grid_node_features_of: a has " + std::to_string(a.size()) + " values for " +
                    std::to_string(g.nodes()) + " nodes");
  const long n = g.nodes();
  std::vector<double> mean(n, 0.0), gx(n, 0.0), gy(n, 0.0);
  for (long k = 0; k < g.edges(); ++k) {
    const long i = g.row[k], j = g.col[k];
    const double da = a[j] - a[i];
    mean[i] += a[j];
    gx[i] += da * (coordinate(g, j, 0) - coordinate(g, i, 0));
    gy[i] += da * (coordinate(g, j, 1) - coordinate(g, i, 1));
  }
  // r ∇ā = r (4/r²) mean(Δa Δx) = (4/r) mean(Δa Δx).
  const double scale = 4.0 / g.radius;
  std::vector<double> out(static_cast<std::size_t>(n * grid_node_features));
  for (long i = 0; i < n; ++i) {
    const double d = g.degree[i] > 0 ? static_cast<double>(g.degree[i]) : 1.0;
    double* f = &out[static_cast<std::size_t>(i * grid_node_features)];
    f[0] = coordinate(g, i, 0);
    f[1] = coordinate(g, i, 1);
    f[2] = a[i];
    f[3] = g.degree[i] > 0 ? mean[i] / d : a[i];
    f[4] = scale * gx[i] / d;
    f[5] = scale * gy[i] / d;
  }
  return out;
}

std::vector<double> grid_edge_features_of(const GridGraph& g, const std::vector<double>& a) {
  KARMAN_VERIFY(static_cast<long>(a.size()) == g.nodes(), "grid_edge_features_of: wrong size of a");
  std::vector<double> out(static_cast<std::size_t>(g.edges() * grid_edge_features));
  for (long k = 0; k < g.edges(); ++k) {
    const long i = g.row[k], j = g.col[k];
    double* f = &out[static_cast<std::size_t>(k * grid_edge_features)];
    f[0] = coordinate(g, i, 0);
    f[1] = coordinate(g, i, 1);
    f[2] = coordinate(g, j, 0);
    f[3] = coordinate(g, j, 1);
    f[4] = a[i];
    f[5] = a[j];
  }
  return out;
}

mesh::Graph batched_graph(const GridGraph& g, long copies) {
  KARMAN_VERIFY(copies >= 1, "batched_graph: at least one copy");
  const long e = g.edges(), n = g.nodes();
  std::vector<long> row(static_cast<std::size_t>(e * copies)), col(row.size());
  for (long b = 0; b < copies; ++b)
    for (long k = 0; k < e; ++k) {
      row[b * e + k] = b * n + g.row[k];
      col[b * e + k] = b * n + g.col[k];
    }
  return mesh::make_graph(n * copies, row, col, mesh::Edges::directed);
}

}  // namespace karman::gno
