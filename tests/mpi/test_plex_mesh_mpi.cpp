// The unstructured mesh (DMPlex from Gmsh) as a field layout, at 1, 2 and 4 ranks: its global
// vertex numbers are a permutation of the serial mesh's on any rank count, a fields file stores
// every value at its vertex's row with /mesh/vertices and /mesh/cells describing the mesh (the
// cells tile the domain: their areas sum to the box's), a per-cell field written on the mesh's
// cells lands at its cell's row of /mesh/cells and the XDMF names it cell-centred, the ghost
// refresh brings every copy (vertex or overlap cell) its owner's value, overlap and refinement do
// what they say, and bad mesh files are one-line ConfigErrors. Assertions that could differ between
// ranks are EXPECTs, so no rank leaves a collective call.
#include <gtest/gtest.h>
#include <petscvec.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "karman/core/error.hpp"
#include "karman/io/hdf5.hpp"
#include "karman/io/xdmf.hpp"
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

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A per-cell field given on the local cells (owned and overlap) and written through the cells'
// layout from the owned cells' rows lands at each cell's row of /mesh/cells: its value there is
// the function of the centroid of that row's vertices in /mesh/vertices. With and without overlap
// (whose copies must not be written), and read back to every rank's owned cells.
TEST(PlexMesh, CellFieldsFileStoresValuesByCellRow) {
  for (int overlap : {0, 1}) {
    mesh::PlexMesh mesh(world(), spec_of(kSquare, 0, overlap));
    const mesh::FieldLayout& cells = mesh.cells();
    EXPECT_EQ(cells.global_count(), mesh.cell_count());
    EXPECT_EQ(cells.file_dims(), std::vector<long>{mesh.cell_count()});
    const std::vector<double> centroids = mesh.local_cell_centroids();
    std::vector<double> local(mesh.local_cell_numbers().size());
    for (std::size_t c = 0; c < local.size(); ++c) local[c] = smooth(&centroids[2 * c]);
    std::vector<double> owned;
    for (long c : mesh.owned_cells()) owned.push_back(local[c]);
    ASSERT_EQ(static_cast<long>(owned.size()), cells.owned_count());
    // The layout's coordinates are the owned cells' centroids, its numbers theirs.
    const std::vector<double> x = cells.coordinates();
    const std::vector<long> numbers = cells.global_numbers();
    for (long i = 0; i < cells.owned_count(); ++i) {
      EXPECT_EQ(smooth(&x[2 * i]), owned[i]);
      EXPECT_EQ(numbers[i], mesh.local_cell_numbers()[mesh.owned_cells()[i]]);
    }
    const std::string path = scratch("cells_" + std::to_string(world_size()) + ".h5");
    {
      io::FieldWriter writer(path, mesh);
      writer.write_field("c", owned, cells);
    }
    const io::FileField c = io::read_field(world(), path, "/fields/c");
    const io::FileField vertices = io::read_field(world(), path, "/mesh/vertices");
    const io::FileField topology = io::read_field(world(), path, "/mesh/cells");
    ASSERT_EQ(c.shape, std::vector<long>{mesh.cell_count()});
    double worst = 0.0;
    for (long row = 0; row < mesh.cell_count(); ++row) {
      double centroid[2] = {0.0, 0.0};
      for (int k = 0; k < 3; ++k)
        for (int d = 0; d < 2; ++d)
          centroid[d] +=
              vertices.values[2 * static_cast<long>(topology.values[3 * row + k]) + d] / 3;
      worst = std::max(worst, std::abs(c.values[row] - smooth(centroid)));
    }
    EXPECT_LT(worst, 1e-13) << "overlap " << overlap;
    EXPECT_EQ(io::read_grid_field(path, "/fields/c", cells), owned) << "overlap " << overlap;
    MPI_Barrier(world());
    if (world_rank() == 0) std::filesystem::remove(path);
  }
}

// Every <Attribute> element of field `name` in an XDMF text, whole.
std::vector<std::string> attribute_elements(const std::string& text, const std::string& name) {
  std::vector<std::string> out;
  const std::string open = "<Attribute Name=\"" + name + "\"";
  for (auto at = text.find(open); at != std::string::npos; at = text.find(open, at + 1))
    out.push_back(text.substr(at, text.find("</Attribute>", at) - at));
  return out;
}

// The XDMF names a per-cell field Center="Cell" with the mesh's cell count, the others
// Center="Node" with its vertex count, in the steady grid of every snapshot step too.
TEST(PlexMesh, XdmfCentresCellFieldsOnCells) {
  mesh::PlexMesh mesh(world(), spec_of(kSquare));
  if (world_rank() != 0) return;
  const std::string path = scratch("cells_" + std::to_string(world_size()) + ".xdmf");
  io::write_xdmf(path, "f.h5", mesh, {"u", "a"}, {{0, 0.0}, {1, 0.5}}, {"v"}, {"a"});
  const std::string text = read_text(path);
  std::filesystem::remove(path);
  const std::string cells = "Dimensions=\"" + std::to_string(mesh.cell_count()) + "\"";
  const std::string vertices = "Dimensions=\"" + std::to_string(mesh.global_count()) + "\"";
  const auto a = attribute_elements(text, "a");
  ASSERT_EQ(a.size(), 2u) << text;  // the steady fields ride along in both steps
  for (const std::string& e : a) {
    EXPECT_NE(e.find("Center=\"Cell\""), std::string::npos) << e;
    EXPECT_NE(e.find(cells), std::string::npos) << e;
    EXPECT_NE(e.find("f.h5:/fields/a"), std::string::npos) << e;
  }
  for (const std::string name : {"u", "v"}) {
    const auto nodes = attribute_elements(text, name);
    EXPECT_EQ(nodes.size(), 2u) << text;
    for (const std::string& e : nodes) {
      EXPECT_NE(e.find("Center=\"Node\""), std::string::npos) << e;
      EXPECT_NE(e.find(vertices), std::string::npos) << e;
    }
  }
}

// Local slots whose value after a ghost refresh of `layout` is not their owner's (each owned
// point holds a function of its global number).
long wrong_after_refresh(const mesh::FieldLayout& layout) {
  const std::vector<long> numbers = layout.global_numbers();
  Vec global, local;
  VecCreateMPI(world(), layout.owned_count(), PETSC_DETERMINE, &global);
  VecCreateSeq(PETSC_COMM_SELF, layout.ghosted_count(), &local);
  PetscScalar* g;
  VecGetArray(global, &g);
  for (long i = 0; i < layout.owned_count(); ++i) g[i] = 10.0 * numbers[i] + 1.0;
  VecRestoreArray(global, &g);
  layout.refresh_ghosts(global, local);
  const std::vector<long> ghosted = layout.ghosted_numbers();
  const PetscScalar* l;
  VecGetArrayRead(local, &l);
  long wrong = 0;
  for (long i = 0; i < layout.ghosted_count(); ++i) wrong += l[i] != 10.0 * ghosted[i] + 1.0;
  VecRestoreArrayRead(local, &l);
  VecDestroy(&global);
  VecDestroy(&local);
  return wrong;
}

// Every local vertex (owned or a copy of a neighbour's) and every local cell (owned or an
// overlap copy) gets its owner's value.
TEST(PlexMesh, GhostRefreshBringsTheOwnersValues) {
  for (int overlap : {0, 1}) {
    mesh::PlexMesh mesh(world(), spec_of(kSquare, 0, overlap));
    EXPECT_EQ(wrong_after_refresh(mesh), 0) << "vertices, overlap " << overlap;
    EXPECT_EQ(wrong_after_refresh(mesh.cells()), 0) << "cells, overlap " << overlap;
    EXPECT_EQ(mesh.cells().ghosted_numbers(), mesh.local_cell_numbers());
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

// MSH 2.2 (the older format many tools still write): the header's dimension and names come from
// its $Elements and $PhysicalNames, and PETSc reads the same mesh.
TEST(PlexMesh, ReadsTheOlderMsh22Format) {
  const std::string path = scratch("two_triangles_" + std::to_string(world_size()) + ".msh");
  if (world_rank() == 0)
    std::ofstream(path) << "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n"
                           "$PhysicalNames\n3\n1 1 \"bottom\"\n1 2 \"rest\"\n2 10 \"domain\"\n"
                           "$EndPhysicalNames\n"
                           "$Nodes\n4\n1 0 0 0\n2 1 0 0\n3 1 1 0\n4 0 1 0\n$EndNodes\n"
                           "$Elements\n6\n1 1 2 1 1 1 2\n2 1 2 2 2 2 3\n3 1 2 2 3 3 4\n"
                           "4 1 2 2 4 4 1\n5 2 2 10 1 1 2 3\n6 2 2 10 1 1 3 4\n$EndElements\n";
  MPI_Barrier(world());
  const mesh::GmshHeader header = mesh::read_gmsh_header(path, Place{});
  EXPECT_EQ(header.version, "2.2");
  EXPECT_EQ(header.dim, 2);
  EXPECT_EQ(header.nodes, 4);
  ASSERT_EQ(header.groups_of_dimension(1).size(), 2u);
  EXPECT_EQ(header.groups_of_dimension(1)[0].name, "bottom");
  EXPECT_EQ(header.groups_of_dimension(1)[1].tag, 2);
  mesh::PlexMesh mesh(world(), spec_of(path));
  EXPECT_EQ(mesh.cell_count(), 2);
  EXPECT_EQ(mesh.global_count(), 4);
  MPI_Barrier(world());
  if (world_rank() == 0) std::filesystem::remove(path);
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
