#pragma once
// Simplicial box meshes for the finite-element tests, shaped as the Gmsh reader makes them: the
// unit square (cube) cut into n^dim squares (cubes), each split into 2 triangles (6 Kuhn
// tetrahedra, conforming across cubes), built on rank 0 and distributed by PETSc's partitioner.
// Boundary faces carry "Face Sets" values 1: y = 0, 2: x = 1, 3: y = 1, 4: x = 0, 5: z = 0,
// 6: z = 1. Debian's PETSc has no Triangle/TetGen, so DMPlexCreateBoxMesh cannot make simplices.
#include <petscdmplex.h>

#include <array>
#include <cmath>
#include <utility>
#include <vector>

#include "petsc/check.hpp"
#include "petsc/handle.hpp"

namespace karman::test {

namespace simplex_mesh_detail {

inline double signed_volume(int dim, const std::vector<double>& xyz, const PetscInt* cell) {
  auto at = [&](int k, int d) { return xyz[static_cast<std::size_t>(cell[k] * dim + d)]; };
  if (dim == 2)
    return (at(1, 0) - at(0, 0)) * (at(2, 1) - at(0, 1)) -
           (at(2, 0) - at(0, 0)) * (at(1, 1) - at(0, 1));
  double e[3][3];
  for (int k = 0; k < 3; ++k)
    for (int d = 0; d < 3; ++d) e[k][d] = at(k + 1, d) - at(0, d);
  return e[0][0] * (e[1][1] * e[2][2] - e[1][2] * e[2][1]) -
         e[0][1] * (e[1][0] * e[2][2] - e[1][2] * e[2][0]) +
         e[0][2] * (e[1][0] * e[2][1] - e[1][1] * e[2][0]);
}

// Cells (dim + 1 vertices each) and vertex coordinates of the split box.
inline void box_cells(int dim, int n, std::vector<PetscInt>& cells, std::vector<double>& xyz) {
  const int nz = dim == 3 ? n : 0;
  auto vertex = [&](int i, int j, int k) {
    return static_cast<PetscInt>((k * (n + 1) + j) * (n + 1) + i);
  };
  for (int k = 0; k <= nz; ++k)
    for (int j = 0; j <= n; ++j)
      for (int i = 0; i <= n; ++i) {
        xyz.push_back(static_cast<double>(i) / n);
        xyz.push_back(static_cast<double>(j) / n);
        if (dim == 3) xyz.push_back(static_cast<double>(k) / n);
      }
  const int permutations[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (int k = 0; k < std::max(nz, 1); ++k)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) {
        if (dim == 2) {
          const PetscInt a = vertex(i, j, 0), b = vertex(i + 1, j, 0), c = vertex(i + 1, j + 1, 0),
                         d = vertex(i, j + 1, 0);
          cells.insert(cells.end(), {a, b, c, a, c, d});
          continue;
        }
        for (const auto& p : permutations) {  // walk from (i,j,k) to (i+1,j+1,k+1) axis by axis
          int corner[3] = {i, j, k};
          cells.push_back(vertex(corner[0], corner[1], corner[2]));
          for (int s = 0; s < 3; ++s) {
            ++corner[p[s]];
            cells.push_back(vertex(corner[0], corner[1], corner[2]));
          }
        }
      }
  // PETSc's reference triangle is counter-clockwise; its reference tetrahedron (-1,-1,-1),
  // (-1,1,-1), (1,-1,-1), (-1,-1,1) has a negative signed volume in this sense.
  const int corners = dim + 1;
  for (std::size_t c = 0; c < cells.size(); c += static_cast<std::size_t>(corners)) {
    const double v = signed_volume(dim, xyz, &cells[c]);
    if ((dim == 2 && v < 0) || (dim == 3 && v > 0)) std::swap(cells[c + 1], cells[c + 2]);
  }
}

inline int face_set_value(int dim, const PetscReal* centroid) {
  const double tol = 1e-12;
  if (std::abs(centroid[1]) < tol) return 1;
  if (std::abs(centroid[0] - 1) < tol) return 2;
  if (std::abs(centroid[1] - 1) < tol) return 3;
  if (std::abs(centroid[0]) < tol) return 4;
  if (dim == 3 && std::abs(centroid[2]) < tol) return 5;
  return 6;
}

}  // namespace simplex_mesh_detail

// The split box, distributed over `comm` (or left whole on rank 0 when distribute is false).
inline petsc::DM make_simplex_box(MPI_Comm comm, int dim, int n, bool distribute = true) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  std::vector<PetscInt> cells;
  std::vector<double> xyz;
  if (rank == 0) simplex_mesh_detail::box_cells(dim, n, cells, xyz);
  const PetscInt corners = dim + 1;
  petsc::DM dm;
  KARMAN_PETSC(DMPlexCreateFromCellListPetsc(comm, dim,
                                             static_cast<PetscInt>(cells.size()) / corners,
                                             static_cast<PetscInt>(xyz.size()) / dim, corners,
                                             PETSC_TRUE, cells.data(), dim, xyz.data(), dm.out()));
  KARMAN_PETSC(DMCreateLabel(dm, "Face Sets"));
  DMLabel label;
  KARMAN_PETSC(DMGetLabel(dm, "Face Sets", &label));
  PetscInt f_start, f_end;
  KARMAN_PETSC(DMPlexGetHeightStratum(dm, 1, &f_start, &f_end));
  for (PetscInt f = f_start; f < f_end; ++f) {
    PetscInt support;
    KARMAN_PETSC(DMPlexGetSupportSize(dm, f, &support));
    if (support != 1) continue;
    PetscReal area, centroid[3], normal[3];
    KARMAN_PETSC(DMPlexComputeCellGeometryFVM(dm, f, &area, centroid, normal));
    KARMAN_PETSC(DMLabelSetValue(label, f, simplex_mesh_detail::face_set_value(dim, centroid)));
  }
  if (!distribute) return dm;
  petsc::DM distributed;
  KARMAN_PETSC(DMPlexDistribute(dm, 0, nullptr, distributed.out()));
  if (!distributed) return dm;  // one rank: nothing to distribute
  return distributed;
}

// Coordinates of the given points (vertices), `dim` entries each, concatenated.
inline std::vector<double> point_coordinates(DM dm, const std::vector<long>& points) {
  PetscInt dim;
  Vec coordinates;
  PetscSection section;
  const PetscScalar* xyz;
  KARMAN_PETSC(DMGetCoordinateDim(dm, &dim));
  KARMAN_PETSC(DMGetCoordinatesLocal(dm, &coordinates));
  KARMAN_PETSC(DMGetCoordinateSection(dm, &section));
  KARMAN_PETSC(VecGetArrayRead(coordinates, &xyz));
  std::vector<double> out;
  for (long p : points) {
    PetscInt offset;
    KARMAN_PETSC(PetscSectionGetOffset(section, static_cast<PetscInt>(p), &offset));
    for (PetscInt d = 0; d < dim; ++d) out.push_back(xyz[offset + d]);
  }
  KARMAN_PETSC(VecRestoreArrayRead(coordinates, &xyz));
  return out;
}

}  // namespace karman::test
