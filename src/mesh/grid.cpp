#include "karman/mesh/grid.hpp"

#include <petscdmda.h>

#include <algorithm>
#include <cmath>

#include "../petsc/check.hpp"
#include "karman/core/error.hpp"

namespace karman::mesh {

double GridShape::spacing(int d) const {
  if (d >= dim) return 1.0;
  double length = upper[d] - lower[d];
  return periodic ? length / n[d] : length / (n[d] - 1);
}

double GridShape::coordinate(int d, long i) const {
  return d < dim ? lower[d] + i * spacing(d) : 0.0;
}

bool GridShape::on_boundary(long i, long j, long k) const {
  if (periodic) return false;
  const std::array<long, 3> idx{i, j, k};
  for (int d = 0; d < dim; ++d)
    if (idx[d] == 0 || idx[d] == n[d] - 1) return true;
  return false;
}

StructuredGrid::StructuredGrid(MPI_Comm comm, const GridShape& shape)
    : m_shape(shape), m_comm(comm) {
  const DMBoundaryType bc = shape.periodic ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_NONE;
  DM dm = nullptr;
  switch (shape.dim) {
    case 1:
      KARMAN_PETSC(DMDACreate1d(comm, bc, shape.n[0], 1, 1, nullptr, &dm));
      break;
    case 2:
      KARMAN_PETSC(DMDACreate2d(comm, bc, bc, DMDA_STENCIL_STAR, shape.n[0], shape.n[1],
                                PETSC_DECIDE, PETSC_DECIDE, 1, 1, nullptr, nullptr, &dm));
      break;
    case 3:
      KARMAN_PETSC(DMDACreate3d(comm, bc, bc, bc, DMDA_STENCIL_STAR, shape.n[0], shape.n[1],
                                shape.n[2], PETSC_DECIDE, PETSC_DECIDE, PETSC_DECIDE, 1, 1, nullptr,
                                nullptr, nullptr, &dm));
      break;
    default:
      throw InternalError("StructuredGrid: dimension must be 1, 2 or 3");
  }
  KARMAN_PETSC(DMSetUp(dm));
  PetscInt xs, ys, zs, xm, ym, zm;
  KARMAN_PETSC(DMDAGetCorners(dm, &xs, &ys, &zs, &xm, &ym, &zm));
  m_start = {xs, ys, zs};
  m_count = {xm, shape.dim > 1 ? ym : 1, shape.dim > 2 ? zm : 1};
  KARMAN_PETSC(DMDAGetGhostCorners(dm, &xs, &ys, &zs, &xm, &ym, &zm));
  m_ghost_start = {xs, shape.dim > 1 ? ys : 0, shape.dim > 2 ? zs : 0};
  m_ghost_count = {xm, shape.dim > 1 ? ym : 1, shape.dim > 2 ? zm : 1};
  m_dm = dm;
}

StructuredGrid::~StructuredGrid() {
  DM dm = static_cast<DM>(m_dm);
  DMDestroy(&dm);
}

std::vector<double> StructuredGrid::gather_all(const std::vector<double>& owned) const {
  KARMAN_VERIFY(static_cast<long>(owned.size()) == local_size(), "gather_all: wrong local size");
  int size;
  MPI_Comm_size(m_comm, &size);
  // Every rank's box, then every rank's values; scatter the boxes into natural order.
  std::array<long, 6> box{m_start[0], m_start[1], m_start[2], m_count[0], m_count[1], m_count[2]};
  std::vector<long> boxes(6 * size);
  MPI_Allgather(box.data(), 6, MPI_LONG, boxes.data(), 6, MPI_LONG, m_comm);
  std::vector<int> counts(size), displs(size);
  for (int r = 0, offset = 0; r < size; ++r) {
    counts[r] = static_cast<int>(boxes[6 * r + 3] * boxes[6 * r + 4] * boxes[6 * r + 5]);
    displs[r] = offset;
    offset += counts[r];
  }
  std::vector<double> packed(m_shape.size());
  MPI_Allgatherv(owned.data(), static_cast<int>(owned.size()), MPI_DOUBLE, packed.data(),
                 counts.data(), displs.data(), MPI_DOUBLE, m_comm);
  std::vector<double> global(m_shape.size());
  for (int r = 0; r < size; ++r) {
    const long* b = &boxes[6 * r];
    long p = displs[r];
    for (long k = b[2]; k < b[2] + b[5]; ++k)
      for (long j = b[1]; j < b[1] + b[4]; ++j)
        for (long i = b[0]; i < b[0] + b[3]; ++i)
          global[(k * m_shape.n[1] + j) * m_shape.n[0] + i] = packed[p++];
  }
  return global;
}

std::vector<double> StructuredGrid::extract_owned(const std::vector<double>& global) const {
  KARMAN_VERIFY(static_cast<long>(global.size()) == m_shape.size(), "extract_owned: wrong size");
  std::vector<double> out;
  out.reserve(local_size());
  for (long k = m_start[2]; k < m_start[2] + m_count[2]; ++k)
    for (long j = m_start[1]; j < m_start[1] + m_count[1]; ++j)
      for (long i = m_start[0]; i < m_start[0] + m_count[0]; ++i)
        out.push_back(global[(k * m_shape.n[1] + j) * m_shape.n[0] + i]);
  return out;
}

// The field layout of the nodes.

namespace {

// Natural (file) number of node (i, j, k): x fastest. Periodic ghost indices wrap around.
long natural_number(const GridShape& shape, long i, long j, long k) {
  const std::array<long, 3> idx{i, j, k};
  long number = 0;
  for (int d = 2; d >= 0; --d) number = number * shape.n[d] + (idx[d] + shape.n[d]) % shape.n[d];
  return number;
}

// `dim` x-first values as HDF5 dims, slowest first: [nz, ny, nx] / [ny, nx] / [nx].
std::vector<long> slowest_first(const std::array<long, 3>& xfirst, int dim) {
  return std::vector<long>(xfirst.rend() - dim, xfirst.rend());
}

}  // namespace

std::vector<long> StructuredGrid::global_numbers() const {
  std::vector<long> out;
  out.reserve(static_cast<std::size_t>(local_size()));
  for (long k = m_start[2]; k < m_start[2] + m_count[2]; ++k)
    for (long j = m_start[1]; j < m_start[1] + m_count[1]; ++j)
      for (long i = m_start[0]; i < m_start[0] + m_count[0]; ++i)
        out.push_back(natural_number(m_shape, i, j, k));
  return out;
}

std::vector<double> StructuredGrid::coordinates() const {
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(local_size() * m_shape.dim));
  for (long k = m_start[2]; k < m_start[2] + m_count[2]; ++k)
    for (long j = m_start[1]; j < m_start[1] + m_count[1]; ++j)
      for (long i = m_start[0]; i < m_start[0] + m_count[0]; ++i) {
        const std::array<long, 3> node{i, j, k};
        for (int d = 0; d < m_shape.dim; ++d) out.push_back(m_shape.coordinate(d, node[d]));
      }
  return out;
}

std::vector<long> StructuredGrid::file_dims() const {
  return slowest_first(m_shape.n, m_shape.dim);
}

FileBlock StructuredGrid::file_block() const {
  return {slowest_first(m_start, m_shape.dim), slowest_first(m_count, m_shape.dim), {}};
}

std::vector<FileAttribute> StructuredGrid::dataset_attributes() const {
  std::vector<double> spacing, lower;
  for (int d = 0; d < m_shape.dim; ++d) {
    spacing.push_back(m_shape.spacing(d));
    lower.push_back(m_shape.lower[d]);
  }
  return {{"shape", file_dims()}, {"spacing", spacing}, {"lower", lower}};
}

std::vector<FileAttribute> StructuredGrid::file_attributes() const {
  std::vector<double> lower, upper, spacing;
  for (int d = 0; d < m_shape.dim; ++d) {
    lower.push_back(m_shape.lower[d]);
    upper.push_back(m_shape.upper[d]);
    spacing.push_back(m_shape.spacing(d));
  }
  return {{"dim", static_cast<long>(m_shape.dim)},
          {"periodic", static_cast<long>(m_shape.periodic)},
          {"shape", file_dims()},
          {"lower", lower},
          {"upper", upper},
          {"spacing", spacing}};
}

ViewerMesh StructuredGrid::viewer_mesh() const {
  std::vector<double> lower, spacing;
  for (int d = 0; d < m_shape.dim; ++d) {
    lower.push_back(m_shape.lower[d]);
    spacing.push_back(m_shape.spacing(d));
  }
  return uniform_box_mesh(std::vector<long>(m_shape.n.begin(), m_shape.n.begin() + m_shape.dim),
                          lower, spacing);
}

long StructuredGrid::ghosted_count() const {
  return m_ghost_count[0] * m_ghost_count[1] * m_ghost_count[2];
}

// The DMDA's local vector is the ghosted box, x fastest. Its star stencil refreshes the ghost
// nodes outside the owned box in one direction only; the corners (outside in two or three) keep
// whatever they held, so they are numbered -1.
std::vector<long> StructuredGrid::ghosted_numbers() const {
  std::vector<long> out;
  out.reserve(static_cast<std::size_t>(ghosted_count()));
  const auto outside = [&](int d, long index) {
    return index < m_start[d] || index >= m_start[d] + m_count[d] ? 1 : 0;
  };
  for (long k = m_ghost_start[2]; k < m_ghost_start[2] + m_ghost_count[2]; ++k)
    for (long j = m_ghost_start[1]; j < m_ghost_start[1] + m_ghost_count[1]; ++j)
      for (long i = m_ghost_start[0]; i < m_ghost_start[0] + m_ghost_count[0]; ++i) {
        const bool corner = outside(0, i) + outside(1, j) + outside(2, k) > 1;
        out.push_back(corner ? -1 : natural_number(m_shape, i, j, k));
      }
  return out;
}

void StructuredGrid::refresh_ghosts(Vec global, Vec local) const {
  DM dm = static_cast<DM>(m_dm);
  KARMAN_PETSC(DMGlobalToLocalBegin(dm, global, INSERT_VALUES, local));
  KARMAN_PETSC(DMGlobalToLocalEnd(dm, global, INSERT_VALUES, local));
}

double multilinear(const GridShape& grid, const std::vector<double>& field, const double* x) {
  long base[3] = {0, 0, 0};
  double weight[3] = {0, 0, 0};
  for (int d = 0; d < grid.dim; ++d) {
    const double s = (x[d] - grid.lower[d]) / grid.spacing(d);
    base[d] = std::clamp(static_cast<long>(std::floor(s)), 0L, grid.n[d] - 2);
    weight[d] = std::clamp(s - static_cast<double>(base[d]), 0.0, 1.0);
  }
  double value = 0.0;
  for (int corner = 0; corner < (1 << grid.dim); ++corner) {
    double w = 1.0;
    long index = 0, stride = 1;
    for (int d = 0; d < grid.dim; ++d) {
      const int up = (corner >> d) & 1;
      w *= up ? weight[d] : 1.0 - weight[d];
      index += (base[d] + up) * stride;
      stride *= grid.n[d];
    }
    value += w * field[index];
  }
  return value;
}

}  // namespace karman::mesh
