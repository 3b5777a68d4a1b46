// The unstructured mesh (DMPlex from Gmsh) as a field layout, at 1, 2 and 4 ranks: its global
// vertex numbers are a permutation of the serial mesh's on any rank count, a fields file stores
// every value at its vertex's row with /mesh/vertices and /mesh/cells describing the mesh (the
// cells tile the domain: their areas sum to the box's), the ghost refresh brings every copy its
// owner's value, overlap and refinement do what they say, and bad mesh files are one-line
// ConfigErrors. Assertions that could differ between ranks are EXPECTs, so no rank leaves a
// collective call.
#include <gtest/gtest.h>
#include <petscvec.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "karman/core/error.hpp"
#include "karman/io/hdf5.hpp"
#include "karman/mesh/plex.hpp"
#include "support/mpi_world.hpp"

using namespace karman;
using namespace karman::test;

namespace {

const std::string kSquare = std::string(KARMAN_SOURCE_DIR) + "/meshes/square.msh";

mesh::MeshSpec spec_of(const std::string& file, int refine = 0, int overlap = 0) {
  mesh::MeshSpec spec;
  spec.file = file;
  spec.refine = refine;
  spec.overlap = overlap;
  spec.place = Place{"case.yaml", 3, 9};
  return spec;
}

double smooth(const double* x) { return std::sin(x[0]) + 2.0 * x[1] * x[1] - 0.5 * x[0] * x[1]; }

std::vector<long> all_of(MPI_Comm comm, const std::vector<long>& mine) {
  int size;
  MPI_Comm_size(comm, &size);
  const int n = static_cast<int>(mine.size());
  std::vector<int> counts(size), displs(size, 0);
  MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  for (int r = 1; r < size; ++r) displs[r] = displs[r - 1] + counts[r - 1];
  std::vector<long> all(displs.back() + counts.back());
  MPI_Allgatherv(mine.data(), n, MPI_LONG, all.data(), counts.data(), displs.data(), MPI_LONG,
                 comm);
  return all;
}

std::string scratch(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("karman_plex_" + name)).string();
}

TEST(PlexMesh, GlobalNumbersArePermutationOfTheSerialVertices) {
  mesh::PlexMesh mesh(world(), spec_of(kSquare));
  EXPECT_EQ(mesh.dim(), 2);
  std::vector<long> all = all_of(world(), mesh.global_numbers());
  std::sort(all.begin(), all.end());
  std::vector<long> expected(mesh.global_count());
  std::iota(expected.begin(), expected.end(), 0L);
  EXPECT_EQ(all, expected);
  const auto sizes = mesh.partition_sizes();
  EXPECT_EQ(std::accumulate(sizes.owned_cells.begin(), sizes.owned_cells.end(), 0L),
            mesh.cell_count());
  EXPECT_EQ(std::accumulate(sizes.overlap_cells.begin(), sizes.overlap_cells.end(), 0L), 0L);
}

// A field written through the layout lands at its vertex's row: its value there is the function
// of that row's coordinates in /mesh/vertices; the cells' areas add up to the box's.
TEST(PlexMesh, FieldsFileStoresValuesByVertexNumberWithTheMesh) {
  mesh::PlexMesh mesh(world(), spec_of(kSquare));
  const std::string path = scratch("fields_" + std::to_string(world_size()) + ".h5");
  const std::vector<double> x = mesh.coordinates();
  std::vector<double> owned(mesh.owned_count());
  for (long i = 0; i < mesh.owned_count(); ++i) owned[i] = smooth(&x[2 * i]);
  {
    io::FieldWriter writer(path, mesh);
    writer.layout_attributes();
    writer.write_field("f", owned);
  }
  const io::FileField f = io::read_field(world(), path, "/fields/f");
  const io::FileField vertices = io::read_field(world(), path, "/mesh/vertices");
  const io::FileField cells = io::read_field(world(), path, "/mesh/cells");
  ASSERT_EQ(f.shape, std::vector<long>{mesh.global_count()});
  ASSERT_EQ(vertices.shape, (std::vector<long>{mesh.global_count(), 2}));
  ASSERT_EQ(cells.shape, (std::vector<long>{mesh.cell_count(), 3}));
  double worst = 0.0;
  for (long g = 0; g < mesh.global_count(); ++g)
    worst = std::max(worst, std::abs(f.values[g] - smooth(&vertices.values[2 * g])));
  EXPECT_LT(worst, 1e-14);
  // Owned coordinates are the file's rows of their global numbers.
  const std::vector<long> numbers = mesh.global_numbers();
  for (long i = 0; i < mesh.owned_count(); ++i)
    for (int d = 0; d < 2; ++d) EXPECT_EQ(x[2 * i + d], vertices.values[2 * numbers[i] + d]);
  double area = 0.0, lo[2] = {1e300, 1e300}, hi[2] = {-1e300, -1e300};
  for (long g = 0; g < mesh.global_count(); ++g)
    for (int d = 0; d < 2; ++d) {
      lo[d] = std::min(lo[d], vertices.values[2 * g + d]);
      hi[d] = std::max(hi[d], vertices.values[2 * g + d]);
    }
  for (long c = 0; c < mesh.cell_count(); ++c) {
    const double* a = &vertices.values[2 * static_cast<long>(cells.values[3 * c])];
    const double* b = &vertices.values[2 * static_cast<long>(cells.values[3 * c + 1])];
    const double* p = &vertices.values[2 * static_cast<long>(cells.values[3 * c + 2])];
    area += 0.5 * std::abs((b[0] - a[0]) * (p[1] - a[1]) - (p[0] - a[0]) * (b[1] - a[1]));
  }
  EXPECT_NEAR(area, (hi[0] - lo[0]) * (hi[1] - lo[1]), 1e-12);
  // And back: reading the field gives every rank its owned values.
  const std::vector<double> back = io::read_grid_field(path, "/fields/f", mesh);
  EXPECT_EQ(back, owned);
  MPI_Barrier(world());
  if (world_rank() == 0) std::filesystem::remove(path);
}

// Every local vertex (owned or a copy of a neighbour's) gets its owner's value.
TEST(PlexMesh, GhostRefreshBringsTheOwnersValues) {
  for (int overlap : {0, 1}) {
    mesh::PlexMesh mesh(world(), spec_of(kSquare, 0, overlap));
    const std::vector<long> numbers = mesh.global_numbers();
    Vec global, local;
    VecCreateMPI(world(), mesh.owned_count(), PETSC_DETERMINE, &global);
    VecCreateSeq(PETSC_COMM_SELF, mesh.ghosted_count(), &local);
    PetscScalar* g;
    VecGetArray(global, &g);
    for (long i = 0; i < mesh.owned_count(); ++i) g[i] = 10.0 * numbers[i] + 1.0;
    VecRestoreArray(global, &g);
    mesh.refresh_ghosts(global, local);
    const std::vector<long> ghosted = mesh.ghosted_numbers();
    const PetscScalar* l;
    VecGetArrayRead(local, &l);
    long wrong = 0;
    for (long i = 0; i < mesh.ghosted_count(); ++i) wrong += l[i] != 10.0 * ghosted[i] + 1.0;
    VecRestoreArrayRead(local, &l);
    EXPECT_EQ(wrong, 0) << "overlap " << overlap;
    VecDestroy(&global);
    VecDestroy(&local);
    const auto sizes = mesh.partition_sizes();
    const long halo = std::accumulate(sizes.halo_vertices.begin(), sizes.halo_vertices.end(), 0L);
    const long copies = std::accumulate(sizes.overlap_cells.begin(), sizes.overlap_cells.end(), 0L);
    if (world_size() == 1) {
      EXPECT_EQ(halo, 0);
      EXPECT_EQ(copies, 0);
    } else {
      EXPECT_GT(halo, 0);
      EXPECT_EQ(copies > 0, overlap > 0) << "overlap " << overlap;
    }
  }
}

// Uniform refinement splits every triangle into four and adds a vertex per edge (Euler: for a
// triangulated disk-like domain E = V + C − 1).
TEST(PlexMesh, RefinementQuadruplesTheCells) {
  mesh::PlexMesh coarse(world(), spec_of(kSquare));
  mesh::PlexMesh fine(world(), spec_of(kSquare, 1));
  EXPECT_EQ(fine.cell_count(), 4 * coarse.cell_count());
  EXPECT_EQ(fine.global_count(),
            coarse.global_count() + (coarse.global_count() + coarse.cell_count() - 1));
}

void expect_config_error(const mesh::MeshSpec& spec, const std::string& fragment) {
  try {
    mesh::PlexMesh mesh(world(), spec);
    ADD_FAILURE() << "no error for " << spec.file;
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("case.yaml:3:9"), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST(PlexMesh, BadFilesAreConfigErrors) {
  expect_config_error(spec_of("/nonexistent/mesh.msh"), "does not exist");
  const std::string text = scratch("not_a_mesh_" + std::to_string(world_size()) + ".msh");
  if (world_rank() == 0) std::ofstream(text) << "solid cube\n";
  MPI_Barrier(world());
  expect_config_error(spec_of(text), "is not a Gmsh mesh");
  mesh::MeshSpec three_d = spec_of(kSquare);
  three_d.dim = 3;
  expect_config_error(three_d, "is a 2D mesh but the case is 3D");
  MPI_Barrier(world());
  if (world_rank() == 0) std::filesystem::remove(text);
}

}  // namespace
