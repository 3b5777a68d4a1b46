#pragma once
// Comparing a partitioned run with the one-rank run in the MPI tests of graph models on meshes:
// rows by global vertex number, differences over the entries each rank owns, sums over ranks.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "karman/mesh/distributed_graph.hpp"
#include "support/mpi_world.hpp"
#include "support/nn_checks.hpp"

namespace karman::test {

// Owned rows of `rows` [B·N_local, W] (row b·N_local + n: local node n of sample b) placed by
// (sample, global vertex, column): [B·N_global·W], −inf where another rank owns the vertex.
template <class T>
std::vector<double> by_global_vertex(const mesh::DistributedGraph& g, const nn::Matrix<T>& rows) {
  const auto values = testing::to_vector(rows);
  const long width = static_cast<long>(rows.extent(1));
  const long batch = static_cast<long>(rows.extent(0)) / g.local, global = g.global_nodes;
  std::vector<double> out(static_cast<std::size_t>(batch * global * width), -INFINITY);
  for (long b = 0; b < batch; ++b)
    for (long n = 0; n < g.owned; ++n)
      for (long c = 0; c < width; ++c)
        out[(b * global + g.global_numbers[n]) * width + c] = values[(b * g.local + n) * width + c];
  return out;
}

// max over the entries a rank owns (finite in `a`) of |a − b| / max |b|, the largest over ranks.
inline double owned_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double difference = 0, scale = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    scale = std::max(scale, std::abs(b[i]));
    if (std::isfinite(a[i])) difference = std::max(difference, std::abs(a[i] - b[i]));
  }
  MPI_Allreduce(MPI_IN_PLACE, &difference, 1, MPI_DOUBLE, MPI_MAX, world());
  return difference / scale;
}

inline std::vector<double> summed_over_ranks(std::vector<double> v) {
  MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM, world());
  return v;
}

// max |a − b| / max |b| (this rank's vectors).
inline double relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double difference = 0, scale = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    difference = std::max(difference, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return difference / scale;
}

}  // namespace karman::test
