#include "karman/mesh/layout.hpp"

#include <petscvec.h>

#include <algorithm>

#include "../petsc/check.hpp"
#include "karman/core/error.hpp"

namespace karman::mesh {

ViewerMesh uniform_box_mesh(const std::vector<long>& n, const std::vector<double>& lower,
                            const std::vector<double>& spacing) {
  const int dim = static_cast<int>(n.size());
  KARMAN_VERIFY(dim >= 1 && dim <= 3, "uniform_box_mesh: dimension must be 1, 2 or 3");
  KARMAN_VERIFY(lower.size() == n.size() && spacing.size() == n.size(),
                "uniform_box_mesh: one lower and one spacing per dimension");
  // Always 3D: ParaView's XDMF readers put the two dims of a 2DCoRectMesh on Y and Z, so a
  // plane or a line is a box one node thick in its missing (slowest) dimensions.
  ViewerMesh mesh;
  mesh.topology_type = "3DCoRectMesh";
  mesh.geometry_type = "ORIGIN_DXDYDZ";
  std::vector<double> origin, step;
  for (int d = 2; d >= 0; --d) {
    const bool padded = d >= dim;
    mesh.topology_dims.push_back(padded ? 1 : n[d]);
    origin.push_back(padded ? 0.0 : lower[d]);
    step.push_back(spacing[padded ? 0 : d]);
  }
  mesh.geometry = {{"Origin", origin}, {"Spacing", step}};
  return mesh;
}

SlabLayout::SlabLayout(MPI_Comm comm, std::vector<long> dims, std::vector<double> lower,
                       std::vector<double> spacing)
    : m_comm(comm),
      m_dims(std::move(dims)),
      m_lower(std::move(lower)),
      m_spacing(std::move(spacing)) {
  if (m_lower.empty()) m_lower.assign(m_dims.size(), 0.0);
  if (m_spacing.empty()) m_spacing.assign(m_dims.size(), 1.0);
  KARMAN_VERIFY(m_lower.size() == m_dims.size() && m_spacing.size() == m_dims.size(),
                "SlabLayout: one lower and one spacing per dimension");
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  // A scalar is a single row of one point.
  const long rows = m_dims.empty() ? 1 : m_dims[0];
  long per_row = 1;
  for (std::size_t d = 1; d < m_dims.size(); ++d) per_row *= m_dims[d];
  const long base = rows / size, extra = rows % size;
  m_rows = base + (rank < extra ? 1 : 0);
  m_first_row = rank * base + std::min<long>(rank, extra);
  m_owned = m_rows * per_row;
  m_global = rows * per_row;
}

std::vector<long> SlabLayout::global_numbers() const {
  std::vector<long> out(static_cast<std::size_t>(m_owned));
  const long first = m_rows > 0 ? m_first_row * (m_owned / m_rows) : 0;
  for (long i = 0; i < m_owned; ++i) out[i] = first + i;
  return out;
}

// The multi-index of each point, x first, from its global number.
std::vector<double> SlabLayout::coordinates() const {
  const int dim = this->dim();
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(m_owned * dim));
  for (long number : global_numbers()) {
    std::vector<double> point(dim);
    for (int d = 0; d < dim; ++d) {  // x first: the last (fastest) file dimension
      const long n = m_dims[dim - 1 - d];
      point[d] = m_lower[d] + (number % n) * m_spacing[d];
      number /= n;
    }
    out.insert(out.end(), point.begin(), point.end());
  }
  return out;
}

FileBlock SlabLayout::file_block() const {
  FileBlock block{m_dims, m_dims, {}};
  if (!m_dims.empty()) {
    std::fill(block.start.begin(), block.start.end(), 0);
    block.start[0] = m_first_row;
    block.count[0] = m_rows;
  }
  return block;
}

std::vector<FileAttribute> SlabLayout::dataset_attributes() const { return {{"shape", m_dims}}; }

std::vector<FileAttribute> SlabLayout::file_attributes() const {
  return {{"dim", static_cast<long>(m_dims.size())},
          {"shape", m_dims},
          {"lower", m_lower},
          {"spacing", m_spacing}};
}

ViewerMesh SlabLayout::viewer_mesh() const {
  return uniform_box_mesh(std::vector<long>(m_dims.rbegin(), m_dims.rend()), m_lower, m_spacing);
}

// No ghosts: the local values are the owned ones.
void SlabLayout::refresh_ghosts(Vec global, Vec local) const {
  PetscInt global_size, local_size;
  KARMAN_PETSC(VecGetLocalSize(global, &global_size));
  KARMAN_PETSC(VecGetLocalSize(local, &local_size));
  KARMAN_VERIFY(global_size == m_owned && local_size == m_owned,
                "SlabLayout::refresh_ghosts: vectors of the wrong size");
  const PetscScalar* from;
  PetscScalar* to;
  KARMAN_PETSC(VecGetArrayRead(global, &from));
  KARMAN_PETSC(VecGetArray(local, &to));
  std::copy(from, from + m_owned, to);
  KARMAN_PETSC(VecRestoreArray(local, &to));
  KARMAN_PETSC(VecRestoreArrayRead(global, &from));
}

}  // namespace karman::mesh

namespace karman::mesh {

// The block's values in file (C) order from owned values in storage order, and back.
std::vector<double> FieldLayout::file_values(const std::vector<double>& owned) const {
  const FileBlock block = file_block();
  if (block.permutation.empty()) return owned;
  std::vector<double> box(owned.size());
  for (std::size_t i = 0; i < box.size(); ++i) box[i] = owned[block.permutation[i]];
  return box;
}

std::vector<double> FieldLayout::owned_values(const std::vector<double>& box) const {
  const FileBlock block = file_block();
  if (block.permutation.empty()) return box;
  std::vector<double> owned(box.size());
  for (std::size_t i = 0; i < box.size(); ++i) owned[block.permutation[i]] = box[i];
  return owned;
}

}  // namespace karman::mesh
