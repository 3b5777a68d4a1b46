#include "karman/mesh/distributed_graph.hpp"

#include <petscdmplex.h>
#include <petscsf.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <string>
#include <tuple>
#include <type_traits>

#include "../petsc/check.hpp"
#include "karman/core/error.hpp"

namespace karman::mesh {

namespace {

template <class T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}
template <>
MPI_Datatype mpi_type<float>() {
  return MPI_FLOAT;
}

// The MPI type of one node row: W contiguous T (freed at scope exit).
template <class T>
class RowType {
 public:
  explicit RowType(std::size_t width) {
    MPI_Type_contiguous(static_cast<int>(width), mpi_type<T>(), &m_type);
    MPI_Type_commit(&m_type);
  }
  ~RowType() { MPI_Type_free(&m_type); }
  RowType(const RowType&) = delete;
  RowType& operator=(const RowType&) = delete;
  operator MPI_Datatype() const { return m_type; }

 private:
  MPI_Datatype m_type = MPI_DATATYPE_NULL;
};

// Runs `exchange(host pointer)` on the rows of `values` [N_local, W]: in place where the host can
// read the view's memory, else on a host mirror copied there and back.
template <class T, class Exchange>
void on_host(const nn::Matrix<T>& values, const Exchange& exchange) {
  Kokkos::fence();  // kernels writing `values` are done before MPI reads it
  if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, nn::MemorySpace>::accessible) {
    exchange(values.data());
  } else {
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
    exchange(host.data());
    Kokkos::deep_copy(values, host);
  }
}

// The leaves of a star forest: leaf_of[p] = its index in the SF's leaf arrays, −1 for a root-only
// point; `points` points in all.
std::vector<PetscInt> leaf_indices(PetscSF sf, PetscInt points) {
  std::vector<PetscInt> leaf_of(points, -1);
  PetscInt roots, leaves;
  const PetscInt* local;
  const PetscSFNode* remote;
  KARMAN_PETSC(PetscSFGetGraph(sf, &roots, &leaves, &local, &remote));
  if (roots < 0) return leaf_of;  // no graph: nothing shared (one rank)
  for (PetscInt l = 0; l < leaves; ++l) {
    const PetscInt p = local ? local[l] : l;
    KARMAN_VERIFY(0 <= p && p < points, "mesh::distributed_graph: SF leaf outside the chart");
    leaf_of[p] = l;
  }
  return leaf_of;
}

struct Vertices {
  PetscInt start = 0, end = 0;  // [vStart, vEnd)
  PetscInt chart = 0;           // points [0, chart)
};

Vertices vertices_of(DM dm) {
  Vertices v;
  PetscInt chart_start;
  KARMAN_PETSC(DMPlexGetChart(dm, &chart_start, &v.chart));
  KARMAN_VERIFY(chart_start == 0, "mesh::distributed_graph: a DMPlex chart must start at 0");
  KARMAN_PETSC(DMPlexGetDepthStratum(dm, 0, &v.start, &v.end));
  return v;
}

// The local nodes: owned vertices (not point-SF leaves) then halo vertices, each part by global
// number. Fills g.points, g.global_numbers, g.owned, g.local.
void order_nodes(const Vertices& v, const std::vector<long>& numbers,
                 const std::vector<PetscInt>& leaf_of, DistributedGraph& g) {
  std::vector<std::tuple<bool, long, PetscInt>> keys;  // (halo, global number, point)
  for (PetscInt p = v.start; p < v.end; ++p)
    keys.emplace_back(leaf_of[p] >= 0, numbers[p - v.start], p);
  std::sort(keys.begin(), keys.end());
  g.local = static_cast<long>(keys.size());
  g.owned = std::count_if(keys.begin(), keys.end(), [](const auto& k) { return !std::get<0>(k); });
  for (const auto& [halo, number, point] : keys) {
    g.points.push_back(point);
    g.global_numbers.push_back(number);
  }
}

// Collective. N_global, after checking the numbers: each in [0, N_global), owned exactly once.
long check_numbering(MPI_Comm comm, const DistributedGraph& g) {
  long owned = g.owned, largest = -1, total = 0, global_largest = -1;
  for (long n = 0; n < g.local; ++n) {
    KARMAN_VERIFY(g.global_numbers[n] >= 0, "mesh::distributed_graph: negative global number");
    if (n < g.owned) largest = std::max(largest, g.global_numbers[n]);
    if (n > 0 && n != g.owned)
      KARMAN_VERIFY(g.global_numbers[n] != g.global_numbers[n - 1],
                    "mesh::distributed_graph: two vertices with global number " +
                        std::to_string(g.global_numbers[n]));
  }
  MPI_Allreduce(&owned, &total, 1, MPI_LONG, MPI_SUM, comm);
  MPI_Allreduce(&largest, &global_largest, 1, MPI_LONG, MPI_MAX, comm);
  KARMAN_VERIFY(global_largest + 1 == total,
                "mesh::distributed_graph: the owned global numbers are not 0 .. N_global - 1 "
                "each once (" +
                    std::to_string(total) + " owned vertices, largest number " +
                    std::to_string(global_largest) + ")");
  return total;
}

// Collective. The halo SF: leaf = halo node, root = (owner rank, the owner's node of the vertex).
// The owner's node index reaches the halo copy by a broadcast over the DM's point SF.
Halo make_halo(MPI_Comm comm, PetscSF point_sf, const Vertices& v,
               const std::vector<PetscInt>& leaf_of, const DistributedGraph& g) {
  std::vector<PetscInt> node_of(v.chart, -1), owner_node(v.chart, -1);
  for (long n = 0; n < g.owned; ++n) node_of[g.points[n]] = n;
  PetscInt roots = -1, leaves = 0;
  const PetscInt* local = nullptr;
  const PetscSFNode* remote = nullptr;
  KARMAN_PETSC(PetscSFGetGraph(point_sf, &roots, &leaves, &local, &remote));
  if (roots >= 0) {
    KARMAN_PETSC(
        PetscSFBcastBegin(point_sf, MPIU_INT, node_of.data(), owner_node.data(), MPI_REPLACE));
    KARMAN_PETSC(
        PetscSFBcastEnd(point_sf, MPIU_INT, node_of.data(), owner_node.data(), MPI_REPLACE));
  }
  const long halo = g.local - g.owned;
  std::vector<PetscInt> halo_nodes(halo);
  std::vector<PetscSFNode> owners(halo);
  for (long h = 0; h < halo; ++h) {
    const long n = g.owned + h;
    const PetscInt p = g.points[n], l = leaf_of[p];
    KARMAN_VERIFY(owner_node[p] >= 0,
                  "mesh::distributed_graph: a halo vertex whose owner "
                  "does not hold it as a vertex");
    halo_nodes[h] = n;
    owners[h].rank = remote[l].rank;
    owners[h].index = owner_node[p];
  }
  PetscSF sf;
  KARMAN_PETSC(PetscSFCreate(comm, &sf));
  Halo exchange(comm, g.owned, g.local, sf);  // owns sf from here on
  KARMAN_PETSC(PetscSFSetGraph(sf, g.owned, halo, halo_nodes.data(), PETSC_COPY_VALUES,
                               owners.data(), PETSC_COPY_VALUES));
  KARMAN_PETSC(PetscSFSetUp(sf));
  return exchange;
}

// [N_local, D] vertex coordinates from the DM's local (ghosted) coordinate vector.
nn::Matrix<double> node_coordinates(DM dm, const DistributedGraph& g) {
  Vec coordinates;
  PetscSection section;
  KARMAN_PETSC(DMGetCoordinatesLocal(dm, &coordinates));
  KARMAN_PETSC(DMGetCoordinateSection(dm, &section));
  const PetscScalar* values;
  KARMAN_PETSC(VecGetArrayRead(coordinates, &values));
  nn::Matrix<double> x("karman::mesh::distributed_graph::coordinates", g.local, g.dim);
  auto host = Kokkos::create_mirror_view(x);
  for (long n = 0; n < g.local; ++n) {
    PetscInt offset, count;
    KARMAN_PETSC(PetscSectionGetOffset(section, g.points[n], &offset));
    KARMAN_PETSC(PetscSectionGetDof(section, g.points[n], &count));
    KARMAN_VERIFY(count == g.dim, "mesh::distributed_graph: a vertex without coordinates");
    for (int d = 0; d < g.dim; ++d) host(n, d) = PetscRealPart(values[offset + d]);
  }
  KARMAN_PETSC(VecRestoreArrayRead(coordinates, &values));
  Kokkos::deep_copy(x, host);
  return x;
}

// Both directions of every mesh edge whose receiver is owned, by receiver then by the sender's
// global number.
Graph mesh_edges(DM dm, const Vertices& v, const DistributedGraph& g) {
  std::vector<long> node_of(v.chart, -1);
  for (long n = 0; n < g.local; ++n) node_of[g.points[n]] = n;
  PetscInt start, end;
  KARMAN_PETSC(DMPlexGetDepthStratum(dm, 1, &start, &end));
  std::vector<std::pair<long, long>> edges;  // (receiver, sender)
  for (PetscInt e = start; e < end; ++e) {
    PetscInt size;
    const PetscInt* cone;
    KARMAN_PETSC(DMPlexGetConeSize(dm, e, &size));
    KARMAN_PETSC(DMPlexGetCone(dm, e, &cone));
    KARMAN_VERIFY(size == 2, "mesh::distributed_graph: a mesh edge without two vertices");
    const long a = node_of[cone[0]], b = node_of[cone[1]];
    KARMAN_VERIFY(a >= 0 && b >= 0, "mesh::distributed_graph: an edge cone that is not vertices");
    if (a < g.owned) edges.emplace_back(a, b);
    if (b < g.owned) edges.emplace_back(b, a);
  }
  std::sort(edges.begin(), edges.end(), [&](const auto& x, const auto& y) {
    return std::make_pair(x.first, g.global_numbers[x.second]) <
           std::make_pair(y.first, g.global_numbers[y.second]);
  });
  std::vector<long> row(edges.size()), col(edges.size());
  for (std::size_t k = 0; k < edges.size(); ++k) std::tie(row[k], col[k]) = edges[k];
  return make_graph(g.local, row, col, Edges::directed);
}

// Collective. Every mesh edge must be on the owners of both its vertices, or an owned vertex
// would aggregate only part of its neighbours. Each directed edge (receiver owned) is kept by
// one rank at most, so all of them are there exactly when their count over the ranks is twice
// the number of mesh edges (each edge point counted on its owner).
void check_every_edge_kept(MPI_Comm comm, DM dm, const std::vector<PetscInt>& leaf_of,
                           const Graph& graph) {
  PetscInt start, end;
  KARMAN_PETSC(DMPlexGetDepthStratum(dm, 1, &start, &end));
  long counts[2] = {graph.edges, 0};  // directed edges kept, mesh edges owned
  for (PetscInt e = start; e < end; ++e) counts[1] += leaf_of[e] < 0;
  MPI_Allreduce(MPI_IN_PLACE, counts, 2, MPI_LONG, MPI_SUM, comm);
  KARMAN_VERIFY(counts[0] == 2 * counts[1],
                "mesh::make_distributed_graph: " + std::to_string(2 * counts[1] - counts[0]) +
                    " directed mesh edges are on no rank that owns their receiver: distribute "
                    "with one layer of overlap by vertex adjacency (DMPlexDistribute(dm, 1, ...) "
                    "with the default adjacency)");
}

}  // namespace

Halo::Halo(MPI_Comm comm, long owned, long local, PetscSF sf)
    : m_comm(comm),
      m_owned(owned),
      m_local(local),
      m_sf(sf, [](PetscSF s) { PetscSFDestroy(&s); }) {}

Halo Halo::batched(long copies) const {
  KARMAN_VERIFY(copies >= 1 && m_copies == 1, "mesh::Halo::batched: of an unbatched halo");
  Halo out;
  out.m_comm = m_comm;
  out.m_owned = m_owned;
  out.m_local = m_local;
  out.m_copies = copies;
  if (!m_sf) return out;
  // A leaf's root is a row of its owner's batch, whose samples are the owner's N_local apart.
  int size = 1;
  MPI_Comm_size(m_comm, &size);
  std::vector<long> local_of_rank(size);
  MPI_Allgather(&m_local, 1, MPI_LONG, local_of_rank.data(), 1, MPI_LONG, m_comm);
  PetscInt roots, leaves;
  const PetscInt* local;
  const PetscSFNode* remote;
  KARMAN_PETSC(PetscSFGetGraph(m_sf.get(), &roots, &leaves, &local, &remote));
  leaves = std::max<PetscInt>(leaves, 0);
  std::vector<PetscInt> batch_local(copies * leaves);
  std::vector<PetscSFNode> batch_remote(copies * leaves);
  for (long b = 0; b < copies; ++b)
    for (PetscInt l = 0; l < leaves; ++l) {
      const PetscInt leaf = local ? local[l] : l;
      batch_local[b * leaves + l] = static_cast<PetscInt>(b * m_local + leaf);
      batch_remote[b * leaves + l].rank = remote[l].rank;
      batch_remote[b * leaves + l].index =
          static_cast<PetscInt>(b * local_of_rank[remote[l].rank] + remote[l].index);
    }
  PetscSF sf;
  KARMAN_PETSC(PetscSFCreate(m_comm, &sf));
  out.m_sf.reset(sf, [](PetscSF s) { PetscSFDestroy(&s); });
  KARMAN_PETSC(PetscSFSetGraph(sf, static_cast<PetscInt>(copies * m_local), copies * leaves,
                               batch_local.data(), PETSC_COPY_VALUES, batch_remote.data(),
                               PETSC_COPY_VALUES));
  KARMAN_PETSC(PetscSFSetUp(sf));
  return out;
}

template <class T>
void Halo::update(const nn::Matrix<T>& values) const {
  KARMAN_VERIFY(static_cast<long>(values.extent(0)) == rows(),
                "mesh::Halo::update: values have " + std::to_string(values.extent(0)) +
                    " rows, expected " + std::to_string(rows()));
  if (!m_sf || values.extent(1) == 0) return;
  const RowType<T> row(values.extent(1));
  PetscSF sf = m_sf.get();
  // Roots (owned rows) and leaves (halo rows) are disjoint rows of the same buffer.
  on_host(values, [&](T* data) {
    KARMAN_PETSC(PetscSFBcastBegin(sf, row, data, data, MPI_REPLACE));
    KARMAN_PETSC(PetscSFBcastEnd(sf, row, data, data, MPI_REPLACE));
  });
}

template <class T>
void Halo::reduce(const nn::Matrix<T>& gradients) const {
  KARMAN_VERIFY(static_cast<long>(gradients.extent(0)) == rows(),
                "mesh::Halo::reduce: gradients have " + std::to_string(gradients.extent(0)) +
                    " rows, expected " + std::to_string(rows()));
  if (!m_sf || gradients.extent(1) == 0) return;
  const std::size_t width = gradients.extent(1);
  PetscSF sf = m_sf.get();
  // PETSc's SF sums rows of its own real type (contiguous units of it) but not of another
  // floating type (MPI_SUM on a derived type of MPI_FLOAT: MPI_ERR_OP), so other types are summed
  // in PetscReal on a copy.
  auto sum_into_owners = [&](PetscReal* data) {
    const RowType<PetscReal> row(width);
    KARMAN_PETSC(PetscSFReduceBegin(sf, row, data, data, MPI_SUM));
    KARMAN_PETSC(PetscSFReduceEnd(sf, row, data, data, MPI_SUM));
  };
  if constexpr (std::is_same_v<T, PetscReal>) {
    on_host(gradients, sum_into_owners);
  } else {
    on_host(gradients, [&](T* data) {
      std::vector<PetscReal> wide(data, data + gradients.size());
      sum_into_owners(wide.data());
      std::copy(wide.begin(), wide.end(), data);
    });
  }
  for (long b = 0; b < m_copies; ++b)
    Kokkos::deep_copy(
        Kokkos::subview(gradients, std::make_pair(b * m_local + m_owned, (b + 1) * m_local),
                        Kokkos::ALL),
        T(0));
}

template void Halo::update(const nn::Matrix<float>&) const;
template void Halo::update(const nn::Matrix<double>&) const;
template void Halo::reduce(const nn::Matrix<float>&) const;
template void Halo::reduce(const nn::Matrix<double>&) const;

std::vector<long> serial_vertex_numbers(DM dm, PetscSF migration) {
  const Vertices v = vertices_of(dm);
  std::vector<long> numbers(v.end - v.start);
  if (!migration) {
    std::iota(numbers.begin(), numbers.end(), 0L);
    return numbers;
  }
  MPI_Comm comm = PetscObjectComm(reinterpret_cast<PetscObject>(dm));
  // Leaf p of the migration SF is point p of `dm`; its root is the point of the serial mesh.
  // The serial mesh's vertices are one contiguous stratum: the smallest of their points is its
  // first vertex.
  const std::vector<PetscInt> leaf_of = leaf_indices(migration, v.chart);
  PetscInt roots, leaves;
  const PetscInt* local;
  const PetscSFNode* remote;
  KARMAN_PETSC(PetscSFGetGraph(migration, &roots, &leaves, &local, &remote));
  long first = std::numeric_limits<long>::max(), global_first;
  int rank = -1, lowest, highest;
  for (PetscInt p = v.start; p < v.end; ++p) {
    const PetscInt l = leaf_of[p];
    KARMAN_VERIFY(l >= 0,
                  "mesh::serial_vertex_numbers: a vertex that is not a leaf of the "
                  "migration SF");
    numbers[p - v.start] = remote[l].index;
    first = std::min(first, static_cast<long>(remote[l].index));
    KARMAN_VERIFY(rank < 0 || rank == remote[l].rank,
                  "mesh::serial_vertex_numbers: the distributed mesh was not serial");
    rank = remote[l].rank;
  }
  int lowest_in = rank < 0 ? std::numeric_limits<int>::max() : rank, highest_in = rank;
  MPI_Allreduce(&first, &global_first, 1, MPI_LONG, MPI_MIN, comm);
  MPI_Allreduce(&lowest_in, &lowest, 1, MPI_INT, MPI_MIN, comm);
  MPI_Allreduce(&highest_in, &highest, 1, MPI_INT, MPI_MAX, comm);
  KARMAN_VERIFY(highest < 0 || lowest == highest,
                "mesh::serial_vertex_numbers: the distributed mesh was not serial (its points "
                "came from several ranks); pass the global vertex numbers instead");
  for (long& n : numbers) n -= global_first;
  return numbers;
}

DistributedGraph make_distributed_graph(DM dm, const std::vector<long>& vertex_numbers) {
  MPI_Comm comm = PetscObjectComm(reinterpret_cast<PetscObject>(dm));
  DistributedGraph g;
  PetscInt dim, depth, coordinate_dim;
  KARMAN_PETSC(DMGetDimension(dm, &dim));
  KARMAN_PETSC(DMPlexGetDepth(dm, &depth));
  KARMAN_PETSC(DMGetCoordinateDim(dm, &coordinate_dim));
  KARMAN_VERIFY(depth == dim,
                "mesh::make_distributed_graph: the DMPlex is not interpolated "
                "(its edges are not points; DMPlexInterpolate it)");
  // Without overlap an owned vertex on a partition boundary misses the edges of the other side.
  PetscBool distributed;
  PetscInt overlap;
  KARMAN_PETSC(DMPlexIsDistributed(dm, &distributed));
  KARMAN_PETSC(DMPlexGetOverlap(dm, &overlap));
  KARMAN_VERIFY(!distributed || overlap >= 1,
                "mesh::make_distributed_graph: the DMPlex is distributed without overlap "
                "(DMPlexDistribute it with overlap 1)");
  g.dim = static_cast<int>(coordinate_dim);
  const Vertices v = vertices_of(dm);
  KARMAN_VERIFY(static_cast<PetscInt>(vertex_numbers.size()) == v.end - v.start,
                "mesh::make_distributed_graph: " + std::to_string(vertex_numbers.size()) +
                    " vertex numbers for " + std::to_string(v.end - v.start) + " vertices");

  PetscSF point_sf;
  KARMAN_PETSC(DMGetPointSF(dm, &point_sf));
  const std::vector<PetscInt> leaf_of = leaf_indices(point_sf, v.chart);
  order_nodes(v, vertex_numbers, leaf_of, g);
  g.global_nodes = check_numbering(comm, g);
  g.halo = make_halo(comm, point_sf, v, leaf_of, g);

  // A halo copy must carry its owner's number (numbers given per rank could disagree).
  nn::Matrix<double> numbers("karman::mesh::distributed_graph::numbers", g.local, 1);
  auto host_numbers = Kokkos::create_mirror_view(numbers);
  for (long n = 0; n < g.local; ++n) host_numbers(n, 0) = n < g.owned ? g.global_numbers[n] : -1;
  Kokkos::deep_copy(numbers, host_numbers);
  g.halo.update(numbers);
  Kokkos::deep_copy(host_numbers, numbers);
  for (long n = g.owned; n < g.local; ++n)
    KARMAN_VERIFY(host_numbers(n, 0) == static_cast<double>(g.global_numbers[n]),
                  "mesh::make_distributed_graph: halo vertex " + std::to_string(n) +
                      " has global number " + std::to_string(g.global_numbers[n]) +
                      " but its owner says " + std::to_string(long(host_numbers(n, 0))));

  g.coordinates = node_coordinates(dm, g);
  g.graph = mesh_edges(dm, v, g);
  check_every_edge_kept(comm, dm, leaf_of, g.graph);
  g.edge_features = nn::Matrix<double>("karman::mesh::distributed_graph::edge_features",
                                       g.graph.edges, g.dim + 1);
  edge_geometry<double>(g.graph, g.coordinates, g.edge_features);
  return g;
}

DistributedGraph make_distributed_graph(DM dm, PetscSF migration) {
  return make_distributed_graph(dm, serial_vertex_numbers(dm, migration));
}

}  // namespace karman::mesh
