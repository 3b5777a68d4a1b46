#pragma once
// Structured grids: the shape of a tensor-product grid of nodes and its PETSc DMDA decomposition
// over MPI ranks. Fields on a grid are stored per rank as the owned box, x fastest:
//   values[(k * count[1] + j) * count[0] + i] is node (start[0]+i, start[1]+j, start[2]+k).
// A StructuredGrid is the field layout (layout.hpp) of its nodes: global numbers are natural
// order (x fastest), files hold [nz, ny, nx] datasets, ghosts are the DMDA's width-1 star halo.

#include <mpi.h>

#include <array>
#include <memory>
#include <vector>

#include "karman/mesh/layout.hpp"

namespace karman::mesh {

struct GridShape {
  int dim = 2;
  std::array<long, 3> n{1, 1, 1};  // nodes per dimension (unused dimensions: 1)
  std::array<double, 3> lower{0.0, 0.0, 0.0};
  std::array<double, 3> upper{1.0, 1.0, 1.0};
  // Periodic grids have no duplicate end node: x_i = lower + i*L/n, i < n. Otherwise nodes
  // include both ends: x_i = lower + i*L/(n-1).
  bool periodic = false;

  double spacing(int d) const;
  double coordinate(int d, long i) const;
  long size() const { return n[0] * n[1] * n[2]; }
  bool on_boundary(long i, long j, long k) const;  // a Dirichlet node (never, when periodic)
};

// A GridShape distributed with PETSc DMDA (one dof, star stencil of width 1).
class StructuredGrid : public FieldLayout {
 public:
  StructuredGrid(MPI_Comm comm, const GridShape& shape);
  ~StructuredGrid();
  StructuredGrid(const StructuredGrid&) = delete;
  StructuredGrid& operator=(const StructuredGrid&) = delete;

  const GridShape& shape() const { return m_shape; }
  MPI_Comm comm() const override { return m_comm; }
  const std::array<long, 3>& start() const { return m_start; }  // owned box origin
  const std::array<long, 3>& count() const { return m_count; }  // owned box extent
  long local_size() const { return m_count[0] * m_count[1] * m_count[2]; }

  // Evaluate f(x, y, z) at every owned node, in storage order.
  template <class F>
  std::vector<double> sample(F&& f) const {
    std::vector<double> out;
    out.reserve(static_cast<std::size_t>(local_size()));
    for (long k = m_start[2]; k < m_start[2] + m_count[2]; ++k)
      for (long j = m_start[1]; j < m_start[1] + m_count[1]; ++j)
        for (long i = m_start[0]; i < m_start[0] + m_count[0]; ++i)
          out.push_back(
              f(m_shape.coordinate(0, i), m_shape.coordinate(1, j), m_shape.coordinate(2, k)));
    return out;
  }

  // The whole field in natural order on every rank (for tests and small diagnostics).
  std::vector<double> gather_all(const std::vector<double>& owned) const;
  // This rank's owned box cut out of a whole field in natural order.
  std::vector<double> extract_owned(const std::vector<double>& global) const;

  void* dm() const { return m_dm; }  // the PETSc DM; see src/mesh/petsc_grid.hpp

  // The field layout of the nodes (see layout.hpp).
  int dim() const override { return m_shape.dim; }
  long owned_count() const override { return local_size(); }
  long global_count() const override { return m_shape.size(); }
  std::vector<long> global_numbers() const override;
  std::vector<double> coordinates() const override;
  std::vector<long> file_dims() const override;
  FileBlock file_block() const override;
  std::vector<FileAttribute> dataset_attributes() const override;
  std::vector<FileAttribute> file_attributes() const override;
  ViewerMesh viewer_mesh() const override;
  long ghosted_count() const override;
  std::vector<long> ghosted_numbers() const override;
  void refresh_ghosts(Vec global, Vec local) const override;

 private:
  GridShape m_shape;
  MPI_Comm m_comm;
  std::array<long, 3> m_start{0, 0, 0}, m_count{1, 1, 1};
  std::array<long, 3> m_ghost_start{0, 0, 0}, m_ghost_count{1, 1, 1};  // the ghosted box
  void* m_dm = nullptr;  // DM, opaque here to keep PETSc out of public headers
};

// The multilinear interpolant at x (grid.dim coordinates) of a field given at the nodes of the
// grid (natural order, x fastest); x outside the box takes the nearest cell's interpolant.
double multilinear(const GridShape& grid, const std::vector<double>& field, const double* x);

}  // namespace karman::mesh
