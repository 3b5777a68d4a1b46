#pragma once
// An unstructured simplicial mesh (triangles in 2D, tetrahedra in 3D) read from a Gmsh file into
// PETSc DMPlex, uniformly refined if asked, and distributed over the ranks by PETSc's partitioner
// (PTScotch by default; `-petscpartitioner_type` on the command line overrides it), with `overlap`
// layers of cells shared with neighbouring ranks where learned layers need them.
//
// Numbering. The mesh is read and refined on rank 0; its vertices and cells keep the numbers they
// have there (vertex v = its index among the serial mesh's vertices, likewise cells), carried to
// every rank through the migration SF of the distribution. Fields are stored and compared by these
// global numbers, which do not depend on the rank count.
//
// As a FieldLayout the mesh's points are its vertices. A rank owns the vertices of its part that
// are not leaves of the DM's point SF (a vertex on a partition boundary is owned by one rank and
// a ghost on the others), in increasing local point order (storage order). In a fields file the
// vertices are rows of 1D datasets [n_vertices] in global order, and the mesh itself is
// /mesh/vertices [n_vertices, dim] (coordinates) and /mesh/cells [n_cells, dim + 1] (the global
// numbers of each cell's vertices), which the XDMF sidecar names as Triangle / Tetrahedron
// topology. Values move between a rank's owned vertices and its contiguous block of the file by a
// PetscSF, so every write and read is one collective hyperslab.
//
// Per-cell fields (a coefficient with one value per cell) have their own layout, cells(): its
// points are the cells, owned as the vertices are (an overlap cell is a copy of its owner's), at
// their centroids; in a fields file they are rows of 1D datasets [n_cells] in global cell order,
// the order of /mesh/cells, which the XDMF names as Center="Cell" attributes.

#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/mesh/gmsh.hpp"
#include "karman/mesh/layout.hpp"

typedef struct _p_DM* DM;  // as petscdm.h declares it

namespace karman::mesh {

struct MeshSpec {
  std::string file;  // a Gmsh .msh (MSH 2.2 or 4.1), as the case reader resolved it
  int dim = 0;       // the case's dimension (0: the file's)
  int refine = 0;    // uniform refinements of the serial mesh before distribution (h / 2 each)
  int overlap = 0;   // layers of cells each rank also holds from its neighbours
  std::string partitioner = "ptscotch";  // PetscPartitionerType
  Place place;                           // of mesh.file, for errors about the file
};

// How the mesh is split (every vector [n_ranks], the same on every rank).
struct PartitionSizes {
  std::vector<long> owned_cells, owned_vertices;
  std::vector<long> overlap_cells;  // cells held as copies of a neighbour's (overlap > 0)
  std::vector<long> halo_vertices;  // vertices held as copies of a neighbour's
};

class PlexMesh final : public FieldLayout {
 public:
  // Collective. ConfigError at spec.place for a file PETSc cannot read as a mesh, a dimension
  // other than spec.dim, or cells that are not simplices.
  PlexMesh(MPI_Comm comm, const MeshSpec& spec);
  ~PlexMesh() override;
  PlexMesh(const PlexMesh&) = delete;
  PlexMesh& operator=(const PlexMesh&) = delete;

  // The distributed, interpolated DMPlex with its labels ("Face Sets", "Cell Sets" carry the
  // Gmsh physical tags). Owned by the mesh: clone it before adding fields.
  DM dm() const { return m_dm; }
  const GmshHeader& header() const { return m_header; }
  const MeshSpec& spec() const { return m_spec; }
  long cell_count() const { return m_global_cells; }  // of all ranks
  int vertices_per_cell() const { return m_dim + 1; }
  const char* cell_type() const { return m_dim == 2 ? "triangle" : "tetrahedron"; }
  // Local vertex index (DMPlex point − first vertex point) of each owned vertex, increasing.
  const std::vector<long>& owned_vertices() const { return m_owned_vertices; }
  // Local cell index (DMPlex point − first cell point) of each owned cell, increasing: the
  // storage order of cells(), so values on the local cells [n_local_cells] become owned values by
  // picking these rows.
  const std::vector<long>& owned_cells() const { return m_owned_cells; }
  // The cells as a FieldLayout (points: owned cells in storage order, coordinates: centroids,
  // file dims [n_cells], ghosts: every local cell), for per-cell fields: pass it to
  // io::FieldWriter::write_field beside the mesh. Its viewer mesh, attributes and mesh datasets
  // are the mesh's. Lives as long as the mesh.
  const FieldLayout& cells() const;
  PartitionSizes partition_sizes() const;  // collective
  // Every cell held here (owned and overlap), in local cell order (DMPlex points of height 0):
  // its global number, and its centroid [n_local_cells, dim].
  const std::vector<long>& local_cell_numbers() const { return m_local_cell_numbers; }
  std::vector<double> local_cell_centroids() const;
  // Collective: the smallest box holding the mesh, lower then upper [2 * dim].
  std::vector<double> bounding_box() const;

  // FieldLayout
  MPI_Comm comm() const override { return m_comm; }
  int dim() const override { return m_dim; }
  long owned_count() const override { return static_cast<long>(m_owned_vertices.size()); }
  long global_count() const override { return m_global_vertices; }
  std::vector<long> global_numbers() const override;
  std::vector<double> coordinates() const override;
  std::vector<long> file_dims() const override { return {m_global_vertices}; }
  FileBlock file_block() const override;
  std::vector<double> file_values(const std::vector<double>& owned) const override;
  std::vector<double> owned_values(const std::vector<double>& block) const override;
  std::vector<FileAttribute> dataset_attributes() const override { return {}; }
  std::vector<FileAttribute> file_attributes() const override;
  ViewerMesh viewer_mesh() const override;
  std::vector<MeshDataset> mesh_datasets() const override;
  long ghosted_count() const override { return static_cast<long>(m_vertex_numbers.size()); }
  std::vector<long> ghosted_numbers() const override { return m_vertex_numbers; }
  void refresh_ghosts(Vec global, Vec local) const override;

 private:
  class NaturalOrder;  // a PetscSF between owned items and contiguous blocks of their numbers
  class Cells;         // the layout cells() returns

  void read_serial(const MeshSpec& spec);
  void distribute(const MeshSpec& spec);
  void number_points(const std::vector<long>& serial_point);
  void build_ghost_sfs();

  MPI_Comm m_comm;
  MeshSpec m_spec;
  GmshHeader m_header;
  DM m_dm = nullptr;
  int m_dim = 0;
  long m_global_vertices = 0, m_global_cells = 0;
  long m_serial_first_vertex = 0, m_serial_first_cell = 0;  // chart offsets of the serial mesh
  std::vector<long> m_vertex_numbers;                       // [local vertices] global vertex number
  std::vector<long> m_owned_vertices;      // local vertex indices of the owned vertices
  std::vector<long> m_owned_cells;         // local cell indices of the owned cells
  std::vector<long> m_cell_numbers;        // [owned cells] global cell number
  std::vector<long> m_local_cell_numbers;  // [local cells] global cell number
  std::unique_ptr<NaturalOrder> m_vertex_order, m_cell_order;
  std::unique_ptr<Cells> m_cells;
  void* m_ghost_sf = nullptr;       // PetscSF: owned storage index → every local vertex
  void* m_cell_ghost_sf = nullptr;  // PetscSF: owned cell storage index → every local cell
};

}  // namespace karman::mesh
