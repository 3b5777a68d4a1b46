// Field layouts at 1 and 2 ranks: the structured grid's global numbers are the natural order on
// any rank count, its coordinates are the grid's, its ghost refresh brings the neighbours'
// values, norms through a layout are the figures of the plain norms, and the slab layout of
// `karman compare` (with a permutation, the way a mesh will store its points) writes and reads
// every value at its global number. Assertions that could differ between ranks are EXPECTs, so
// no rank leaves a collective call.
#include <gtest/gtest.h>
#include <petscdm.h>
#include <petscvec.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "karman/core/error.hpp"
#include "karman/core/norms.hpp"
#include "karman/io/hdf5.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/mesh/layout.hpp"
#include "support/mpi_world.hpp"

using namespace karman;
using namespace karman::test;
using karman::mesh::GridShape;
using karman::mesh::StructuredGrid;

namespace karman::mesh {
// Test parameters print as "13x7" (and "p" when periodic) rather than as bytes.
void PrintTo(const GridShape& shape, std::ostream* out) {
  *out << shape.n[0];
  for (int d = 1; d < shape.dim; ++d) *out << "x" << shape.n[d];
  if (shape.periodic) *out << "p";
}
}  // namespace karman::mesh

namespace {

GridShape grid_shape(int dim, long nx, long ny, long nz, bool periodic = false) {
  GridShape shape;
  shape.dim = dim;
  shape.n = {nx, ny, nz};
  shape.lower = {-1.0, 0.5, 2.0};
  shape.upper = {2.0, 3.5, 3.0};
  shape.periodic = periodic;
  return shape;
}

// Every rank's numbers, rank after rank.
std::vector<long> all_numbers(MPI_Comm comm, const std::vector<long>& mine) {
  int size;
  MPI_Comm_size(comm, &size);
  int count = static_cast<int>(mine.size());
  std::vector<int> counts(size), displs(size, 0);
  MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  std::partial_sum(counts.begin(), counts.end() - 1, displs.begin() + 1);
  std::vector<long> all(displs.back() + counts.back());
  MPI_Allgatherv(mine.data(), count, MPI_LONG, all.data(), counts.data(), displs.data(), MPI_LONG,
                 comm);
  return all;
}

std::vector<long> iota(long n) {
  std::vector<long> out(n);
  std::iota(out.begin(), out.end(), 0L);
  return out;
}

// A smooth field and a perturbed copy, sampled at the owned nodes.
std::vector<double> smooth(const StructuredGrid& grid, double bump) {
  return grid.sample([bump](double x, double y, double z) {
    return std::sin(x) * std::cos(2 * y) + z * z + bump * std::exp(-x * x);
  });
}

}  // namespace

class GridLayout : public ::testing::TestWithParam<GridShape> {};

TEST_P(GridLayout, GlobalNumbersAreTheNaturalOrderOnAnyRankCount) {
  StructuredGrid grid(world(), GetParam());
  const mesh::FieldLayout& layout = grid;
  const std::vector<long> numbers = layout.global_numbers();
  EXPECT_EQ(static_cast<long>(numbers.size()), layout.owned_count());
  EXPECT_EQ(layout.global_count(), GetParam().size());
  // Each point once over the ranks...
  std::vector<long> all = all_numbers(world(), numbers);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, iota(layout.global_count()));
  // ...and numbered by its place in the natural order (x fastest), which does not depend on how
  // many ranks share the grid.
  const std::vector<double> gathered =
      grid.gather_all(std::vector<double>(numbers.begin(), numbers.end()));
  long wrong = 0;
  for (std::size_t i = 0; i < gathered.size(); ++i) wrong += gathered[i] != static_cast<double>(i);
  EXPECT_EQ(wrong, 0);
}

TEST_P(GridLayout, CoordinatesAreTheGridsAtEachGlobalNumber) {
  const GridShape shape = GetParam();
  StructuredGrid grid(world(), shape);
  const mesh::FieldLayout& layout = grid;
  ASSERT_EQ(layout.dim(), shape.dim);
  const std::vector<long> numbers = layout.global_numbers();
  const std::vector<double> xyz = layout.coordinates();
  ASSERT_EQ(static_cast<long>(xyz.size()), layout.owned_count() * shape.dim);
  long wrong = 0;
  for (std::size_t p = 0; p < numbers.size(); ++p) {
    long rest = numbers[p];
    for (int d = 0; d < shape.dim; ++d) {
      wrong += xyz[p * shape.dim + d] != shape.coordinate(d, rest % shape.n[d]);
      rest /= shape.n[d];
    }
  }
  EXPECT_EQ(wrong, 0);
}

TEST_P(GridLayout, GhostRefreshBringsTheNeighboursValues) {
  StructuredGrid grid(world(), GetParam());
  const mesh::FieldLayout& layout = grid;
  DM dm = static_cast<DM>(grid.dm());
  Vec global, local;
  ASSERT_EQ(DMCreateGlobalVector(dm, &global), 0);
  ASSERT_EQ(DMCreateLocalVector(dm, &local), 0);
  PetscInt n_local;
  VecGetLocalSize(local, &n_local);
  EXPECT_EQ(n_local, layout.ghosted_count());
  // Each owned node holds its global number; the local slots start at -7 (never a number).
  PetscScalar* values;
  VecGetArray(global, &values);
  const std::vector<long> numbers = layout.global_numbers();
  for (std::size_t i = 0; i < numbers.size(); ++i) values[i] = static_cast<double>(numbers[i]);
  VecRestoreArray(global, &values);
  VecSet(local, -7.0);
  layout.refresh_ghosts(global, local);
  const std::vector<long> ghosted = layout.ghosted_numbers();
  ASSERT_EQ(static_cast<long>(ghosted.size()), layout.ghosted_count());
  const PetscScalar* refreshed;
  VecGetArrayRead(local, &refreshed);
  long wrong = 0, ghosts = 0;
  for (std::size_t i = 0; i < ghosted.size(); ++i) {
    if (ghosted[i] < 0) continue;
    wrong += refreshed[i] != static_cast<double>(ghosted[i]);
    ghosts += std::find(numbers.begin(), numbers.end(), ghosted[i]) == numbers.end();
  }
  VecRestoreArrayRead(local, &refreshed);
  EXPECT_EQ(wrong, 0);
  // Two ranks split the grid, so each sees some of the other's nodes; one rank sees its own
  // nodes across a periodic boundary only.
  long all_ghosts = 0;
  MPI_Allreduce(&ghosts, &all_ghosts, 1, MPI_LONG, MPI_SUM, world());
  if (world_size() > 1) {
    EXPECT_GT(all_ghosts, 0);
  } else if (!GetParam().periodic) {
    EXPECT_EQ(all_ghosts, 0);
  }
  VecDestroy(&global);
  VecDestroy(&local);
}

TEST_P(GridLayout, NormsThroughTheLayoutAreThePlainNorms) {
  StructuredGrid grid(world(), GetParam());
  const std::vector<double> a = smooth(grid, 0.01), b = smooth(grid, 0.0);
  const ErrorNorms plain = error_norms(world(), a, b);
  const ErrorNorms through = error_norms(grid, a, b);
  EXPECT_EQ(through.rel_l2, plain.rel_l2);
  EXPECT_EQ(through.l2, plain.l2);
  EXPECT_EQ(through.max_abs, plain.max_abs);
  EXPECT_EQ(through.reference_l2, plain.reference_l2);
  // The whole fields on one process: the same figures up to the order of the sums.
  const ErrorNorms whole = error_norms(MPI_COMM_SELF, grid.gather_all(a), grid.gather_all(b));
  EXPECT_NEAR(through.rel_l2, whole.rel_l2, 1e-14 * whole.rel_l2);
  EXPECT_EQ(through.max_abs, whole.max_abs);
  EXPECT_GT(through.rel_l2, 1e-4);
  // Two stacked components are two owned blocks; anything else is not the layout's field.
  std::vector<double> aa = a, bb = b;
  aa.insert(aa.end(), b.begin(), b.end());
  bb.insert(bb.end(), b.begin(), b.end());
  EXPECT_EQ(error_norms(grid, aa, bb, 2).l2, plain.l2);
  EXPECT_THROW(error_norms(grid, aa, bb), InternalError);
}

INSTANTIATE_TEST_SUITE_P(Shapes, GridLayout,
                         ::testing::Values(grid_shape(1, 11, 1, 1), grid_shape(2, 13, 7, 1),
                                           grid_shape(3, 5, 4, 3), grid_shape(2, 12, 6, 1, true)),
                         [](const auto& info) {
                           return std::to_string(info.param.dim) + "d" +
                                  (info.param.periodic ? "_periodic" : "");
                         });

TEST(GridLayout, FileSideIsTheGridsDatasetAndViewerMesh) {
  StructuredGrid grid(world(), grid_shape(3, 5, 4, 3));
  const mesh::FieldLayout& layout = grid;
  EXPECT_EQ(layout.file_dims(), (std::vector<long>{3, 4, 5}));
  const mesh::FileBlock block = layout.file_block();
  EXPECT_EQ(block.start, (std::vector<long>{grid.start()[2], grid.start()[1], grid.start()[0]}));
  EXPECT_EQ(block.count, (std::vector<long>{grid.count()[2], grid.count()[1], grid.count()[0]}));
  EXPECT_TRUE(block.permutation.empty());
  const mesh::ViewerMesh viewer = layout.viewer_mesh();
  EXPECT_EQ(viewer.topology_type, "3DCoRectMesh");
  EXPECT_EQ(viewer.topology_dims, (std::vector<long>{3, 4, 5}));
  ASSERT_EQ(viewer.geometry.size(), 2u);
  EXPECT_EQ(viewer.geometry[0].second, (std::vector<double>{2.0, 0.5, -1.0}));  // z0 y0 x0
  EXPECT_EQ(viewer.geometry[1].second, (std::vector<double>{0.5, 1.0, 0.75}));  // dz dy dx
}

TEST(SlabLayout, SlabsOfTheSlowestDimensionCoverEveryPointOnce) {
  const mesh::SlabLayout layout(world(), {5, 3, 2});
  EXPECT_EQ(layout.global_count(), 30);
  std::vector<long> all = all_numbers(world(), layout.global_numbers());
  EXPECT_EQ(all, iota(30));  // contiguous, rank after rank
  const mesh::FileBlock block = layout.file_block();
  const long rows = world_size() == 1 ? 5 : (world_rank() == 0 ? 3 : 2);
  EXPECT_EQ(block.start, (std::vector<long>{world_rank() == 0 ? 0 : 3, 0, 0}));
  EXPECT_EQ(block.count, (std::vector<long>{rows, 3, 2}));
  EXPECT_EQ(layout.owned_count(), rows * 6);
  // Coordinates x first: point 7 of [5, 3, 2] is (x, y, z) = (1, 0, 1).
  if (world_rank() == 0) {
    const std::vector<double> xyz = layout.coordinates();
    EXPECT_EQ(std::vector<double>(xyz.begin() + 21, xyz.begin() + 24),
              (std::vector<double>{1.0, 0.0, 1.0}));
  }
  const mesh::SlabLayout scalar(world(), {});
  EXPECT_EQ(scalar.global_count(), 1);
  EXPECT_EQ(scalar.owned_count(), world_rank() == 0 ? 1 : 0);
}

// A slab layout that stores its owned points backwards: the way a partitioned mesh stores points
// in an order other than the file's, through FileBlock::permutation.
class BackwardSlab : public mesh::SlabLayout {
 public:
  using SlabLayout::SlabLayout;
  std::vector<long> global_numbers() const override {
    std::vector<long> numbers = SlabLayout::global_numbers();
    std::reverse(numbers.begin(), numbers.end());
    return numbers;
  }
  mesh::FileBlock file_block() const override {
    mesh::FileBlock block = SlabLayout::file_block();
    block.permutation = iota(owned_count());
    std::reverse(block.permutation.begin(), block.permutation.end());
    return block;
  }
};

TEST(SlabLayout, WriterAndReaderPutEveryValueAtItsGlobalNumber) {
  const BackwardSlab layout(world(), {7, 4});
  const std::vector<long> numbers = layout.global_numbers();
  std::vector<double> owned(numbers.begin(), numbers.end());
  for (double& v : owned) v = 0.5 + 3.0 * v;
  const std::string path = file_name("layout_backward");
  {
    io::FieldWriter writer(path, layout);
    writer.write_field("u", owned);
  }
  const io::FileField whole = io::read_field(world(), path, "/fields/u");
  EXPECT_EQ(whole.shape, (std::vector<long>{7, 4}));
  long wrong = 0;
  for (std::size_t i = 0; i < whole.values.size(); ++i) wrong += whole.values[i] != 0.5 + 3.0 * i;
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(io::read_grid_field(path, "/fields/u", layout), owned);
}

TEST(SlabLayout, ReadsAGridFileWithTheGridsNorms) {
  StructuredGrid grid(world(), grid_shape(2, 13, 7, 1));
  const std::string path = file_name("layout_grid");
  const std::vector<double> a = smooth(grid, 0.02), b = smooth(grid, 0.0);
  {
    io::FieldWriter writer(path, grid);
    writer.write_field("a", a);
    writer.write_field("b", b);
  }
  const mesh::SlabLayout slab(world(), io::read_dataset_dims(world(), path, "/fields/a"));
  EXPECT_EQ(slab.file_dims(), grid.file_dims());
  const ErrorNorms from_file = error_norms(slab, io::read_grid_field(path, "/fields/a", slab),
                                           io::read_grid_field(path, "/fields/b", slab));
  const ErrorNorms on_grid = error_norms(grid, a, b);
  EXPECT_NEAR(from_file.rel_l2, on_grid.rel_l2, 1e-14 * on_grid.rel_l2);
  EXPECT_EQ(from_file.max_abs, on_grid.max_abs);
}
