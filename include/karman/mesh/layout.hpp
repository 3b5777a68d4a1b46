#pragma once
// Field layouts: which points of a field a rank owns, where they are, their global numbers, how a
// fields file stores them and a viewer draws them, and how ghost copies are refreshed. The HDF5
// and XDMF writers, the error norms and `karman compare` see fields only through this interface,
// so a new discretisation (the DMPlex mesh) brings a layout, not new writers.
//
// Shapes, per rank:
//   owned values    [n_owned] in the layout's storage order (a field with c components stacks
//                   them: [c, n_owned]);
//   global numbers  [n_owned], each point's index in the file's flattened order; over all
//                   ranks they are 0 .. n_global-1, each once;
//   coordinates     [n_owned, dim], row-major;
//   file datasets   dims slowest first: a grid [nz, ny, nx] / [ny, nx] / [nx], a mesh [n_points].
// Nothing here assumes the points form a box: a mesh owns a range of a 1D dataset.

#include <mpi.h>

#include <string>
#include <utility>
#include <variant>
#include <vector>

// PETSc's vector handle, declared exactly as petscvec.h does, so that this header stays free of
// PETSc (the two declarations agree when both are seen).
typedef struct _p_Vec* Vec;

namespace karman::mesh {

// A root-group or dataset attribute of a fields file: a scalar long, a long array or a double
// array (written as H5T_NATIVE_LONG / H5T_NATIVE_DOUBLE).
struct FileAttribute {
  std::string name;
  std::variant<long, std::vector<long>, std::vector<double>> value;
};

// This rank's part of a field dataset: the box [start, start + count) (slowest first) of a
// dataset of dims FieldLayout::file_dims(), filled in C order. With `permutation` empty the
// owned values are already in that order; otherwise box element i is owned value permutation[i]
// (a layout whose storage order is not the file's, as a partitioned mesh).
struct FileBlock {
  std::vector<long> start, count;
  std::vector<long> permutation;
};

// What a viewer needs to draw the points, in XDMF 3 terms (slowest first); io::write_xdmf turns
// it into text. A 2D grid: TopologyType "3DCoRectMesh" with topology_dims [1, ny, nx],
// GeometryType "ORIGIN_DXDYDZ" with items {"Origin", [0, y0, x0]} and {"Spacing", [dx, dy, dx]}.
//
// An unstructured mesh instead names the fields file's datasets that hold its cells and vertices:
// TopologyType "Triangle" with topology_dataset "/mesh/cells" [n_cells, 3] and GeometryType "XY"
// with geometry_dataset "/mesh/vertices" [n_vertices, 2] (no inline items).
struct ViewerMesh {
  std::string topology_type;
  std::vector<long> topology_dims;
  std::string geometry_type;
  std::vector<std::pair<std::string, std::vector<double>>> geometry;  // inline DataItems, in order
  std::string topology_dataset, geometry_dataset;  // HDF5 paths, empty for a grid
  std::vector<long> topology_dataset_dims, geometry_dataset_dims;
};

// A dataset describing the points themselves (a mesh's vertex coordinates, its cells), written
// once into every fields file: dims [rows, columns]; this rank writes rows [start, start + count)
// in C order.
struct MeshDataset {
  std::string path;  // "/mesh/vertices"
  std::vector<long> dims;
  long start = 0, count = 0;
  std::variant<std::vector<double>, std::vector<long>> values;  // [count, columns]
};

class FieldLayout {
 public:
  virtual ~FieldLayout() = default;

  virtual MPI_Comm comm() const = 0;
  virtual int dim() const = 0;            // coordinates per point
  virtual long owned_count() const = 0;   // n_owned: points this rank owns
  virtual long global_count() const = 0;  // n_global: points of all ranks, each counted once
  // [n_owned]: the global number of every owned point, in storage order.
  virtual std::vector<long> global_numbers() const = 0;
  // [n_owned, dim] row-major: the coordinates of every owned point, in storage order.
  virtual std::vector<double> coordinates() const = 0;

  // The file side. file_dims, the attributes and the viewer mesh are the same on every rank.
  virtual std::vector<long> file_dims() const = 0;  // dims of one field's dataset
  virtual FileBlock file_block() const = 0;         // this rank's part of such a dataset
  // Collective: this rank's owned values [n_owned] as the values of its file block (C order), and
  // back. The default applies the block's permutation; a layout whose ranks do not own their
  // file block's points (a partitioned mesh) moves the values between ranks.
  virtual std::vector<double> file_values(const std::vector<double>& owned) const;
  virtual std::vector<double> owned_values(const std::vector<double>& block) const;
  // Attributes of every field dataset, so that it can be read on its own (a grid: shape,
  // spacing, lower).
  virtual std::vector<FileAttribute> dataset_attributes() const = 0;
  // Attributes of the root group describing the points once for the whole file (a grid: dim,
  // periodic, shape, lower, upper, spacing).
  virtual std::vector<FileAttribute> file_attributes() const = 0;
  virtual ViewerMesh viewer_mesh() const = 0;
  // Collective: the datasets the viewer mesh names (none for a grid).
  virtual std::vector<MeshDataset> mesh_datasets() const { return {}; }

  // Ghosts. A rank's local (ghosted) points are its owned points and copies of neighbouring
  // ranks' points, in the order of ghosted_numbers() [n_ghosted]; an entry is -1 where the
  // layout never refreshes that slot (the corners of a DMDA star stencil).
  virtual long ghosted_count() const = 0;
  virtual std::vector<long> ghosted_numbers() const = 0;
  // Global to local, collective: `global` holds n_owned values on comm() (storage order),
  // `local` n_ghosted values on PETSC_COMM_SELF; every slot numbered in ghosted_numbers() gets
  // the value of that global point.
  virtual void refresh_ghosts(Vec global, Vec local) const = 0;
};

// A box of points split over the ranks in slabs of its slowest dimension, with no ghosts: the
// layout of a field known only by its file's dataset dims (`karman compare`). Slab sizes differ
// by at most one, the larger first. Coordinates are lower + index * spacing per dimension, x
// first (defaults 0 and 1). Zero dims make one point, owned by rank 0 (a scalar dataset).
class SlabLayout : public FieldLayout {
 public:
  SlabLayout(MPI_Comm comm, std::vector<long> dims, std::vector<double> lower = {},
             std::vector<double> spacing = {});

  MPI_Comm comm() const override { return m_comm; }
  int dim() const override { return static_cast<int>(m_dims.size()); }
  long owned_count() const override { return m_owned; }
  long global_count() const override { return m_global; }
  std::vector<long> global_numbers() const override;
  std::vector<double> coordinates() const override;
  std::vector<long> file_dims() const override { return m_dims; }
  FileBlock file_block() const override;
  std::vector<FileAttribute> dataset_attributes() const override;
  std::vector<FileAttribute> file_attributes() const override;
  ViewerMesh viewer_mesh() const override;
  long ghosted_count() const override { return m_owned; }
  std::vector<long> ghosted_numbers() const override { return global_numbers(); }
  void refresh_ghosts(Vec global, Vec local) const override;

 private:
  MPI_Comm m_comm;
  std::vector<long> m_dims;                // slowest first
  std::vector<double> m_lower, m_spacing;  // x first, one per dimension
  long m_first_row = 0, m_rows = 0;        // this rank's slab of the slowest dimension
  long m_owned = 0, m_global = 1;
};

// The viewer mesh of a uniform box of nodes (CoRectMesh). `n`, `lower`, `spacing` are x first,
// one per dimension (1 to 3). Always a 3DCoRectMesh (ParaView draws a 2DCoRectMesh in its y-z
// plane): a plane [ny, nx] is "1 ny nx" at z = 0, a line [nx] is "1 1 nx" at y = z = 0, with the
// padded spacings equal to dx.
ViewerMesh uniform_box_mesh(const std::vector<long>& n, const std::vector<double>& lower,
                            const std::vector<double>& spacing);

}  // namespace karman::mesh
