#include "karman/mesh/plex.hpp"

#include <petscdmplex.h>
#include <petscsf.h>

#include <algorithm>
#include <numeric>

#include "../petsc/check.hpp"

namespace karman::mesh {
namespace {

int rank_of(MPI_Comm comm) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  return rank;
}

int size_of(MPI_Comm comm) {
  int size;
  MPI_Comm_size(comm, &size);
  return size;
}

// Rows [first, first + count) of n split over `ranks` ranks, sizes differing by at most one, the
// larger first (as SlabLayout).
std::pair<long, long> block_of(long n, int ranks, int rank) {
  const long base = n / ranks, extra = n % ranks;
  return {rank * base + std::min<long>(rank, extra), base + (rank < extra ? 1 : 0)};
}

// The owner rank of row `i` under block_of.
int block_owner(long n, int ranks, long i) {
  const long base = n / ranks, extra = n % ranks;
  const long big = extra * (base + 1);  // rows in the larger blocks
  return static_cast<int>(i < big ? i / (base + 1) : extra + (i - big) / std::max(base, 1L));
}

// The rank owning each local point of `dm` over the chart [0, p_end): this rank, unless the point
// is a leaf of the point SF (held here, owned elsewhere).
std::vector<int> point_owners(DM dm, MPI_Comm comm, PetscInt p_end) {
  PetscSF sf;
  KARMAN_PETSC(DMGetPointSF(dm, &sf));
  PetscInt roots, leaves;
  const PetscInt* local;
  const PetscSFNode* remote;
  KARMAN_PETSC(PetscSFGetGraph(sf, &roots, &leaves, &local, &remote));
  std::vector<int> owner(p_end, rank_of(comm));
  if (roots < 0) return owner;  // no graph: a one-rank mesh
  for (PetscInt i = 0; i < leaves; ++i) owner[local ? local[i] : i] = remote[i].rank;
  return owner;
}

// A PetscSF from the owned points of one stratum [first, end) of `dm` (roots: their storage
// slots, `owned` being their indices − first, increasing) to every point of the stratum held
// here (leaves, in local order), owned or a copy of a neighbour's: the owners' storage slots
// travel over the point SF to the copies, whose leaves then name (owner rank, owner's slot).
PetscSF make_ghost_sf(DM dm, MPI_Comm comm, PetscInt first, PetscInt end,
                      const std::vector<long>& owned) {
  PetscInt p_start, p_end;
  KARMAN_PETSC(DMPlexGetChart(dm, &p_start, &p_end));
  std::vector<long> slot(p_end, -1), owner_slot(p_end, -1);
  for (std::size_t i = 0; i < owned.size(); ++i) slot[first + owned[i]] = static_cast<long>(i);
  PetscSF point_sf;
  PetscInt roots;
  KARMAN_PETSC(DMGetPointSF(dm, &point_sf));
  KARMAN_PETSC(PetscSFGetGraph(point_sf, &roots, nullptr, nullptr, nullptr));
  if (roots >= 0) {  // a one-rank mesh has no graph, and no copies
    KARMAN_PETSC(
        PetscSFBcastBegin(point_sf, MPI_LONG, slot.data(), owner_slot.data(), MPI_REPLACE));
    KARMAN_PETSC(PetscSFBcastEnd(point_sf, MPI_LONG, slot.data(), owner_slot.data(), MPI_REPLACE));
  }
  const std::vector<int> owner = point_owners(dm, comm, p_end);
  std::vector<PetscSFNode> point_remote(end - first);
  for (PetscInt p = first; p < end; ++p) {
    const bool here = slot[p] >= 0;
    point_remote[p - first].rank = owner[p];
    point_remote[p - first].index = static_cast<PetscInt>(here ? slot[p] : owner_slot[p]);
    KARMAN_VERIFY(point_remote[p - first].index >= 0, "PlexMesh: a point without an owner");
  }
  PetscSF sf;
  KARMAN_PETSC(PetscSFCreate(comm, &sf));
  KARMAN_PETSC(PetscSFSetGraph(sf, static_cast<PetscInt>(owned.size()),
                               static_cast<PetscInt>(point_remote.size()), nullptr,
                               PETSC_COPY_VALUES, point_remote.data(), PETSC_COPY_VALUES));
  KARMAN_PETSC(PetscSFSetUp(sf));
  return sf;
}

// Global to local over a ghost SF: every leaf gets its root's value.
void refresh_over(void* ghost_sf, Vec global, Vec local) {
  PetscSF sf = static_cast<PetscSF>(ghost_sf);
  const PetscScalar* from;
  PetscScalar* to;
  KARMAN_PETSC(VecGetArrayRead(global, &from));
  KARMAN_PETSC(VecGetArray(local, &to));
  KARMAN_PETSC(PetscSFBcastBegin(sf, MPIU_SCALAR, from, to, MPI_REPLACE));
  KARMAN_PETSC(PetscSFBcastEnd(sf, MPIU_SCALAR, from, to, MPI_REPLACE));
  KARMAN_PETSC(VecRestoreArray(local, &to));
  KARMAN_PETSC(VecRestoreArrayRead(global, &from));
}

void destroy_sf(void* handle) {
  if (!handle) return;
  PetscSF sf = static_cast<PetscSF>(handle);
  PetscSFDestroy(&sf);
}

// One PETSc call with its errors turned into a ConfigError about the mesh file.
template <class Call>
void read_with(const MeshSpec& spec, Call call) {
  try {
    call();
  } catch (const ExternalError& e) {
    throw ConfigError(spec.place,
                      "mesh file '" + spec.file + "' could not be read as a mesh: " + e.what());
  }
}

}  // namespace

// Moves values between the items a rank owns (each with a global number in [0, n)) and the
// contiguous blocks of the numbering the ranks write: a PetscSF whose roots are the block's slots
// and whose leaves are the owned items (one leaf per root).
class PlexMesh::NaturalOrder {
 public:
  NaturalOrder(MPI_Comm comm, long n, const std::vector<long>& numbers) {
    const int ranks = size_of(comm);
    std::tie(m_start, m_count) = block_of(n, ranks, rank_of(comm));
    std::vector<PetscSFNode> remote(numbers.size());
    for (std::size_t i = 0; i < numbers.size(); ++i) {
      const int owner = block_owner(n, ranks, numbers[i]);
      remote[i].rank = owner;
      remote[i].index = static_cast<PetscInt>(numbers[i] - block_of(n, ranks, owner).first);
    }
    KARMAN_PETSC(PetscSFCreate(comm, &m_sf));
    KARMAN_PETSC(PetscSFSetGraph(m_sf, static_cast<PetscInt>(m_count),
                                 static_cast<PetscInt>(numbers.size()), nullptr, PETSC_COPY_VALUES,
                                 remote.data(), PETSC_COPY_VALUES));
    KARMAN_PETSC(PetscSFSetUp(m_sf));
  }
  ~NaturalOrder() { PetscSFDestroy(&m_sf); }

  long start() const { return m_start; }
  long count() const { return m_count; }

  // owned [n_owned, width] → block [count, width], rows in global order.
  template <class T>
  std::vector<T> to_block(const std::vector<T>& owned, int width) const {
    std::vector<T> block(m_count * width);
    MPI_Datatype unit = row_type<T>(width);
    KARMAN_PETSC(PetscSFReduceBegin(m_sf, unit, owned.data(), block.data(), MPI_REPLACE));
    KARMAN_PETSC(PetscSFReduceEnd(m_sf, unit, owned.data(), block.data(), MPI_REPLACE));
    MPI_Type_free(&unit);
    return block;
  }

  // block [count, width] → owned [n_owned, width].
  template <class T>
  std::vector<T> to_owned(const std::vector<T>& block, int width, long owned) const {
    std::vector<T> out(owned * width);
    MPI_Datatype unit = row_type<T>(width);
    KARMAN_PETSC(PetscSFBcastBegin(m_sf, unit, block.data(), out.data(), MPI_REPLACE));
    KARMAN_PETSC(PetscSFBcastEnd(m_sf, unit, block.data(), out.data(), MPI_REPLACE));
    MPI_Type_free(&unit);
    return out;
  }

 private:
  template <class T>
  static MPI_Datatype row_type(int width) {
    MPI_Datatype unit;
    MPI_Type_contiguous(width, std::is_same_v<T, double> ? MPI_DOUBLE : MPI_LONG, &unit);
    MPI_Type_commit(&unit);
    return unit;
  }

  PetscSF m_sf = nullptr;
  long m_start = 0, m_count = 0;
};

// The cells of a PlexMesh as a layout of their own. Owned cells, their numbers and their two SFs
// (to the file's blocks, to the local copies) are the mesh's; the file and viewer sides describe
// the same mesh, so a writer built on either layout writes the same /mesh datasets.
class PlexMesh::Cells final : public FieldLayout {
 public:
  explicit Cells(const PlexMesh& mesh) : m_mesh(mesh) {}

  MPI_Comm comm() const override { return m_mesh.m_comm; }
  int dim() const override { return m_mesh.m_dim; }
  long owned_count() const override { return static_cast<long>(m_mesh.m_owned_cells.size()); }
  long global_count() const override { return m_mesh.m_global_cells; }
  std::vector<long> global_numbers() const override { return m_mesh.m_cell_numbers; }
  std::vector<double> coordinates() const override {
    const std::vector<double> local = m_mesh.local_cell_centroids();
    const int dim = m_mesh.m_dim;
    std::vector<double> out;
    out.reserve(m_mesh.m_owned_cells.size() * dim);
    for (long c : m_mesh.m_owned_cells)
      out.insert(out.end(), local.begin() + c * dim, local.begin() + (c + 1) * dim);
    return out;
  }
  std::vector<long> file_dims() const override { return {m_mesh.m_global_cells}; }
  FileBlock file_block() const override {
    return FileBlock{{m_mesh.m_cell_order->start()}, {m_mesh.m_cell_order->count()}, {}};
  }
  std::vector<double> file_values(const std::vector<double>& owned) const override {
    KARMAN_VERIFY(static_cast<long>(owned.size()) == owned_count(),
                  "PlexMesh::cells().file_values: not one value per owned cell");
    return m_mesh.m_cell_order->to_block(owned, 1);
  }
  std::vector<double> owned_values(const std::vector<double>& block) const override {
    return m_mesh.m_cell_order->to_owned(block, 1, owned_count());
  }
  std::vector<FileAttribute> dataset_attributes() const override { return {}; }
  std::vector<FileAttribute> file_attributes() const override { return m_mesh.file_attributes(); }
  ViewerMesh viewer_mesh() const override { return m_mesh.viewer_mesh(); }
  std::vector<MeshDataset> mesh_datasets() const override { return m_mesh.mesh_datasets(); }
  long ghosted_count() const override {
    return static_cast<long>(m_mesh.m_local_cell_numbers.size());
  }
  std::vector<long> ghosted_numbers() const override { return m_mesh.m_local_cell_numbers; }
  void refresh_ghosts(Vec global, Vec local) const override {
    refresh_over(m_mesh.m_cell_ghost_sf, global, local);
  }

 private:
  const PlexMesh& m_mesh;
};

PlexMesh::PlexMesh(MPI_Comm comm, const MeshSpec& spec)
    : m_comm(comm), m_spec(spec), m_header(read_gmsh_header(spec.file, spec.place)) {
  try {
    read_serial(spec);
    distribute(spec);
    build_ghost_sfs();
  } catch (...) {
    destroy_sf(m_ghost_sf);
    destroy_sf(m_cell_ghost_sf);
    DMDestroy(&m_dm);
    throw;
  }
  m_cells = std::make_unique<Cells>(*this);
}

PlexMesh::~PlexMesh() {
  destroy_sf(m_ghost_sf);
  destroy_sf(m_cell_ghost_sf);
  DMDestroy(&m_dm);
}

const FieldLayout& PlexMesh::cells() const { return *m_cells; }

// The whole mesh on rank 0 (the other ranks hold an empty one), refined, checked.
void PlexMesh::read_serial(const MeshSpec& spec) {
  read_with(spec, [&] {
    KARMAN_PETSC(DMPlexCreateGmshFromFile(m_comm, spec.file.c_str(), PETSC_TRUE, &m_dm));
  });
  PetscInt dim;
  KARMAN_PETSC(DMGetDimension(m_dm, &dim));
  m_dim = static_cast<int>(dim);
  if (spec.dim != 0 && m_dim != spec.dim)
    throw ConfigError(spec.place, "mesh file '" + spec.file + "' is a " + std::to_string(m_dim) +
                                      "D mesh but the case is " + std::to_string(spec.dim) + "D");
  if (m_dim != 2 && m_dim != 3)
    throw ConfigError(spec.place, "mesh file '" + spec.file + "' is " + std::to_string(m_dim) +
                                      "D: expected a 2D or 3D mesh");
  for (int level = 0; level < spec.refine; ++level) {
    DM fine = nullptr;
    KARMAN_PETSC(DMPlexSetRefinementUniform(m_dm, PETSC_TRUE));
    KARMAN_PETSC(DMRefine(m_dm, m_comm, &fine));
    DMDestroy(&m_dm);
    m_dm = fine;
  }
  PetscInt c_start, c_end, v_start, v_end;
  KARMAN_PETSC(DMPlexGetHeightStratum(m_dm, 0, &c_start, &c_end));
  KARMAN_PETSC(DMPlexGetDepthStratum(m_dm, 0, &v_start, &v_end));
  const DMPolytopeType simplex = m_dim == 2 ? DM_POLYTOPE_TRIANGLE : DM_POLYTOPE_TETRAHEDRON;
  int wrong_cells = 0;
  for (PetscInt c = c_start; c < c_end; ++c) {
    DMPolytopeType type;
    KARMAN_PETSC(DMPlexGetCellType(m_dm, c, &type));
    if (type != simplex) ++wrong_cells;
  }
  MPI_Allreduce(MPI_IN_PLACE, &wrong_cells, 1, MPI_INT, MPI_SUM, m_comm);
  if (wrong_cells > 0)
    throw ConfigError(spec.place, "mesh file '" + spec.file + "' has " +
                                      std::to_string(wrong_cells) + " cells that are not " +
                                      cell_type() + "s: expected a simplicial mesh");
  // Serial sizes and chart offsets, known on rank 0.
  long serial[4] = {c_end - c_start, v_end - v_start, c_start, v_start};
  MPI_Bcast(serial, 4, MPI_LONG, 0, m_comm);
  m_global_cells = serial[0];
  m_global_vertices = serial[1];
  m_serial_first_cell = serial[2];
  m_serial_first_vertex = serial[3];
}

// Partitions the serial mesh and numbers the local points by their serial points.
void PlexMesh::distribute(const MeshSpec& spec) {
  PetscPartitioner partitioner;
  KARMAN_PETSC(DMPlexGetPartitioner(m_dm, &partitioner));
  KARMAN_PETSC(PetscPartitionerSetType(partitioner, spec.partitioner.c_str()));
  KARMAN_PETSC(PetscPartitionerSetFromOptions(partitioner));
  PetscInt serial_points_start, serial_points_end;
  KARMAN_PETSC(DMPlexGetChart(m_dm, &serial_points_start, &serial_points_end));
  PetscSF migration = nullptr;
  DM parallel = nullptr;
  KARMAN_PETSC(DMPlexDistribute(m_dm, spec.overlap, &migration, &parallel));
  std::vector<long> serial_point;
  if (!parallel) {  // one rank: nothing moved
    serial_point.resize(serial_points_end);
    std::iota(serial_point.begin(), serial_point.end(), 0L);
  } else {
    // The migration SF's roots are the serial points on rank 0, its leaves the new local points:
    // broadcast every serial point's own number.
    std::vector<long> roots(serial_points_end);
    std::iota(roots.begin(), roots.end(), 0L);
    PetscInt p_start, p_end;
    KARMAN_PETSC(DMPlexGetChart(parallel, &p_start, &p_end));
    serial_point.assign(p_end, -1);
    KARMAN_PETSC(
        PetscSFBcastBegin(migration, MPI_LONG, roots.data(), serial_point.data(), MPI_REPLACE));
    KARMAN_PETSC(
        PetscSFBcastEnd(migration, MPI_LONG, roots.data(), serial_point.data(), MPI_REPLACE));
    PetscSFDestroy(&migration);
    DMDestroy(&m_dm);
    m_dm = parallel;
  }
  number_points(serial_point);
}

void PlexMesh::number_points(const std::vector<long>& serial_point) {
  PetscInt p_start, p_end, c_start, c_end, v_start, v_end;
  KARMAN_PETSC(DMPlexGetChart(m_dm, &p_start, &p_end));
  KARMAN_PETSC(DMPlexGetHeightStratum(m_dm, 0, &c_start, &c_end));
  KARMAN_PETSC(DMPlexGetDepthStratum(m_dm, 0, &v_start, &v_end));
  const std::vector<int> owner = point_owners(m_dm, m_comm, p_end);
  const int here = rank_of(m_comm);
  m_vertex_numbers.resize(v_end - v_start);
  for (PetscInt v = v_start; v < v_end; ++v) {
    m_vertex_numbers[v - v_start] = serial_point[v] - m_serial_first_vertex;
    if (owner[v] == here) m_owned_vertices.push_back(v - v_start);
  }
  for (PetscInt c = c_start; c < c_end; ++c) {
    m_local_cell_numbers.push_back(serial_point[c] - m_serial_first_cell);
    if (owner[c] != here) continue;
    m_owned_cells.push_back(c - c_start);
    m_cell_numbers.push_back(m_local_cell_numbers.back());
  }
  m_vertex_order = std::make_unique<NaturalOrder>(m_comm, m_global_vertices, global_numbers());
  m_cell_order = std::make_unique<NaturalOrder>(m_comm, m_global_cells, m_cell_numbers);
}

// Every local vertex (owned or halo) and every local cell (owned or overlap) reads its owner's
// storage slot.
void PlexMesh::build_ghost_sfs() {
  PetscInt c_start, c_end, v_start, v_end;
  KARMAN_PETSC(DMPlexGetHeightStratum(m_dm, 0, &c_start, &c_end));
  KARMAN_PETSC(DMPlexGetDepthStratum(m_dm, 0, &v_start, &v_end));
  m_ghost_sf = make_ghost_sf(m_dm, m_comm, v_start, v_end, m_owned_vertices);
  m_cell_ghost_sf = make_ghost_sf(m_dm, m_comm, c_start, c_end, m_owned_cells);
}

std::vector<long> PlexMesh::global_numbers() const {
  std::vector<long> out;
  out.reserve(m_owned_vertices.size());
  for (long v : m_owned_vertices) out.push_back(m_vertex_numbers[v]);
  return out;
}

std::vector<double> PlexMesh::coordinates() const {
  PetscInt v_start, v_end;
  KARMAN_PETSC(DMPlexGetDepthStratum(m_dm, 0, &v_start, &v_end));
  Vec local;
  PetscSection section;
  KARMAN_PETSC(DMGetCoordinatesLocal(m_dm, &local));
  KARMAN_PETSC(DMGetCoordinateSection(m_dm, &section));
  const PetscScalar* values;
  KARMAN_PETSC(VecGetArrayRead(local, &values));
  std::vector<double> out;
  out.reserve(m_owned_vertices.size() * m_dim);
  for (long v : m_owned_vertices) {
    PetscInt offset;
    PetscSectionGetOffset(section, static_cast<PetscInt>(v_start + v), &offset);
    for (int d = 0; d < m_dim; ++d) out.push_back(values[offset + d]);
  }
  KARMAN_PETSC(VecRestoreArrayRead(local, &values));
  return out;
}

FileBlock PlexMesh::file_block() const {
  return FileBlock{{m_vertex_order->start()}, {m_vertex_order->count()}, {}};
}

std::vector<double> PlexMesh::file_values(const std::vector<double>& owned) const {
  KARMAN_VERIFY(static_cast<long>(owned.size()) == owned_count(),
                "PlexMesh::file_values: not one value per owned vertex");
  return m_vertex_order->to_block(owned, 1);
}

std::vector<double> PlexMesh::owned_values(const std::vector<double>& block) const {
  return m_vertex_order->to_owned(block, 1, owned_count());
}

std::vector<FileAttribute> PlexMesh::file_attributes() const {
  return {{"dim", static_cast<long>(m_dim)},
          {"vertices", m_global_vertices},
          {"cells", m_global_cells},
          {"vertices_per_cell", static_cast<long>(m_dim + 1)}};
}

ViewerMesh PlexMesh::viewer_mesh() const {
  ViewerMesh mesh;
  mesh.topology_type = m_dim == 2 ? "Triangle" : "Tetrahedron";
  mesh.topology_dims = {m_global_cells};
  mesh.geometry_type = m_dim == 2 ? "XY" : "XYZ";
  mesh.topology_dataset = "/mesh/cells";
  mesh.topology_dataset_dims = {m_global_cells, m_dim + 1L};
  mesh.geometry_dataset = "/mesh/vertices";
  mesh.geometry_dataset_dims = {m_global_vertices, static_cast<long>(m_dim)};
  return mesh;
}

// /mesh/vertices [n_vertices, dim] and /mesh/cells [n_cells, dim + 1] (global vertex numbers of
// each owned cell's closure, in closure order), each moved to its rank's block of rows.
std::vector<MeshDataset> PlexMesh::mesh_datasets() const {
  PetscInt c_start, c_end, v_start, v_end;
  KARMAN_PETSC(DMPlexGetHeightStratum(m_dm, 0, &c_start, &c_end));
  KARMAN_PETSC(DMPlexGetDepthStratum(m_dm, 0, &v_start, &v_end));
  const int k = m_dim + 1;
  std::vector<long> cells;
  cells.reserve(m_owned_cells.size() * k);
  for (long c : m_owned_cells) {
    PetscInt size;
    PetscInt* closure = nullptr;
    KARMAN_PETSC(DMPlexGetTransitiveClosure(m_dm, static_cast<PetscInt>(c_start + c), PETSC_TRUE,
                                            &size, &closure));
    int found = 0;
    for (PetscInt i = 0; i < size; ++i) {
      const PetscInt p = closure[2 * i];
      if (p >= v_start && p < v_end) {
        cells.push_back(m_vertex_numbers[p - v_start]);
        ++found;
      }
    }
    KARMAN_PETSC(DMPlexRestoreTransitiveClosure(m_dm, static_cast<PetscInt>(c_start + c),
                                                PETSC_TRUE, &size, &closure));
    KARMAN_VERIFY(found == k, "PlexMesh: a simplex without dim + 1 vertices");
  }
  MeshDataset vertices{"/mesh/vertices",
                       {m_global_vertices, static_cast<long>(m_dim)},
                       m_vertex_order->start(),
                       m_vertex_order->count(),
                       m_vertex_order->to_block(coordinates(), m_dim)};
  MeshDataset topology{"/mesh/cells",
                       {m_global_cells, static_cast<long>(k)},
                       m_cell_order->start(),
                       m_cell_order->count(),
                       m_cell_order->to_block(cells, k)};
  return {vertices, topology};
}

void PlexMesh::refresh_ghosts(Vec global, Vec local) const {
  refresh_over(m_ghost_sf, global, local);
}

std::vector<double> PlexMesh::local_cell_centroids() const {
  PetscInt c_start, c_end;
  KARMAN_PETSC(DMPlexGetHeightStratum(m_dm, 0, &c_start, &c_end));
  std::vector<double> out((c_end - c_start) * m_dim);
  for (PetscInt c = c_start; c < c_end; ++c) {
    PetscReal volume, centroid[3], normal[3];
    KARMAN_PETSC(DMPlexComputeCellGeometryFVM(m_dm, c, &volume, centroid, normal));
    for (int d = 0; d < m_dim; ++d) out[(c - c_start) * m_dim + d] = centroid[d];
  }
  return out;
}

std::vector<double> PlexMesh::bounding_box() const {
  const std::vector<double> x = coordinates();
  std::vector<double> lower(m_dim, 1e300), upper(m_dim, -1e300);
  for (std::size_t i = 0; i < x.size(); ++i) {
    lower[i % m_dim] = std::min(lower[i % m_dim], x[i]);
    upper[i % m_dim] = std::max(upper[i % m_dim], x[i]);
  }
  MPI_Allreduce(MPI_IN_PLACE, lower.data(), m_dim, MPI_DOUBLE, MPI_MIN, m_comm);
  MPI_Allreduce(MPI_IN_PLACE, upper.data(), m_dim, MPI_DOUBLE, MPI_MAX, m_comm);
  lower.insert(lower.end(), upper.begin(), upper.end());
  return lower;
}

PartitionSizes PlexMesh::partition_sizes() const {
  const int ranks = size_of(m_comm);
  long mine[4] = {static_cast<long>(m_owned_cells.size()),
                  static_cast<long>(m_owned_vertices.size()),
                  static_cast<long>(m_local_cell_numbers.size() - m_owned_cells.size()),
                  static_cast<long>(m_vertex_numbers.size() - m_owned_vertices.size())};
  std::vector<long> all(4 * ranks);
  MPI_Allgather(mine, 4, MPI_LONG, all.data(), 4, MPI_LONG, m_comm);
  PartitionSizes sizes;
  for (int r = 0; r < ranks; ++r) {
    sizes.owned_cells.push_back(all[4 * r]);
    sizes.owned_vertices.push_back(all[4 * r + 1]);
    sizes.overlap_cells.push_back(all[4 * r + 2]);
    sizes.halo_vertices.push_back(all[4 * r + 3]);
  }
  return sizes;
}

}  // namespace karman::mesh
