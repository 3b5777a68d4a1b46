// Parallel HDF5 fields files at 1 and 2 ranks: values land at their global index (C order), the
// owned box reads back, attributes and snapshots round-trip, and bad input is a ConfigError.
// Assertions that could differ between ranks are EXPECTs, so no rank leaves a collective call.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "karman/core/error.hpp"
#include "karman/io/hdf5.hpp"
#include "karman/mesh/grid.hpp"
#include "support/mpi_world.hpp"

using namespace karman;
using namespace karman::test;
using karman::mesh::GridShape;
using karman::mesh::StructuredGrid;

namespace karman::mesh {
// Test parameters print as "13x7" rather than as bytes.
void PrintTo(const GridShape& shape, std::ostream* out) {
  *out << shape.n[0];
  for (int d = 1; d < shape.dim; ++d) *out << "x" << shape.n[d];
}
}  // namespace karman::mesh

namespace {

GridShape grid_shape(int dim, long nx, long ny, long nz) {
  GridShape shape;
  shape.dim = dim;
  shape.n = {nx, ny, nz};
  shape.lower = {-1.0, 0.5, 2.0};
  shape.upper = {2.0, 3.5, 3.0};
  return shape;
}

// The global index encoded in the value: i + 100 j + 10000 k (+ offset), for the owned box.
std::vector<double> encoded(const StructuredGrid& grid, double offset = 0.0) {
  std::vector<double> owned;
  const auto& s = grid.start();
  const auto& c = grid.count();
  for (long k = s[2]; k < s[2] + c[2]; ++k)
    for (long j = s[1]; j < s[1] + c[1]; ++j)
      for (long i = s[0]; i < s[0] + c[0]; ++i)
        owned.push_back(i + 100.0 * j + 10000.0 * k + offset);
  return owned;
}

// Checks a whole dataset read back: shape slowest first, value at (k, j, i) in C order.
void expect_whole(const io::FileField& field, const GridShape& shape, double offset = 0.0) {
  std::vector<long> expected_shape;
  for (int d = shape.dim - 1; d >= 0; --d) expected_shape.push_back(shape.n[d]);
  EXPECT_EQ(field.shape, expected_shape);
  ASSERT_EQ(static_cast<long>(field.values.size()), shape.size());
  long wrong = 0;
  for (long k = 0; k < shape.n[2]; ++k)
    for (long j = 0; j < shape.n[1]; ++j)
      for (long i = 0; i < shape.n[0]; ++i) {
        const double value = field.values[(k * shape.n[1] + j) * shape.n[0] + i];
        if (value != i + 100.0 * j + 10000.0 * k + offset) ++wrong;
      }
  EXPECT_EQ(wrong, 0);
}

template <class F>
std::string config_error_of(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// Raw HDF5 (serial driver, read-only) for checking what is in a file independently of Karman.
struct RawFile {
  hid_t id;
  explicit RawFile(const std::string& path)
      : id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)) {}
  ~RawFile() {
    if (id >= 0) H5Fclose(id);
  }
};

// Attribute `name` of object `object` as doubles (HDF5 converts longs), or empty on error.
std::vector<double> raw_numbers(hid_t file, const std::string& object, const std::string& name) {
  hid_t attr = H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  if (attr < 0) return {};
  hid_t space = H5Aget_space(attr);
  std::vector<double> values(H5Sget_simple_extent_npoints(space));
  if (H5Aread(attr, H5T_NATIVE_DOUBLE, values.data()) < 0) values.clear();
  H5Sclose(space);
  H5Aclose(attr);
  return values;
}

// A string attribute; checks it is stored as a variable-length UTF-8 string.
std::string raw_string(hid_t file, const std::string& name) {
  hid_t attr = H5Aopen(file, name.c_str(), H5P_DEFAULT);
  if (attr < 0) return "<missing>";
  hid_t type = H5Aget_type(attr);
  EXPECT_GT(H5Tis_variable_str(type), 0) << name;
  EXPECT_EQ(H5Tget_cset(type), H5T_CSET_UTF8) << name;
  char* text = nullptr;
  std::string value = "<unreadable>";
  if (H5Aread(attr, type, &text) >= 0 && text) value = text;
  H5free_memory(text);
  H5Tclose(type);
  H5Aclose(attr);
  return value;
}

H5T_class_t raw_type_class(hid_t file, const std::string& object, const std::string& name) {
  hid_t attr = H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  if (attr < 0) return H5T_NO_CLASS;
  hid_t type = H5Aget_type(attr);
  H5T_class_t type_class = H5Tget_class(type);
  H5Tclose(type);
  H5Aclose(attr);
  return type_class;
}

void write_one(const std::string& path, const StructuredGrid& grid, const std::string& name) {
  io::FieldWriter writer(path, grid);
  writer.write_field(name, encoded(grid));
}

}  // namespace

class HDF5Fields : public ::testing::TestWithParam<GridShape> {};

TEST_P(HDF5Fields, WholeDatasetHasEveryValueAtItsGlobalIndex) {
  const GridShape shape = GetParam();
  StructuredGrid grid(world(), shape);
  const std::string path = file_name("hdf5_whole_" + std::to_string(shape.dim) + "d");
  write_one(path, grid, "u");
  expect_whole(io::read_field(world(), path, "/fields/u"), shape);
}

TEST_P(HDF5Fields, GridFieldReadsTheOwnedBox) {
  const GridShape shape = GetParam();
  StructuredGrid grid(world(), shape);
  const std::string path = file_name("hdf5_owned_" + std::to_string(shape.dim) + "d");
  write_one(path, grid, "u");
  EXPECT_EQ(io::read_grid_field(path, "/fields/u", grid), encoded(grid));
}

TEST_P(HDF5Fields, DatasetCarriesShapeSpacingAndLower) {
  const GridShape shape = GetParam();
  StructuredGrid grid(world(), shape);
  const std::string path = file_name("hdf5_attrs_" + std::to_string(shape.dim) + "d");
  write_one(path, grid, "u");
  std::vector<double> c_shape, spacing, lower;
  for (int d = shape.dim - 1; d >= 0; --d) c_shape.push_back(shape.n[d]);
  for (int d = 0; d < shape.dim; ++d) {
    spacing.push_back(shape.spacing(d));
    lower.push_back(shape.lower[d]);
  }
  RawFile file(path);
  ASSERT_GE(file.id, 0);
  EXPECT_EQ(raw_numbers(file.id, "/fields/u", "shape"), c_shape);
  EXPECT_EQ(raw_type_class(file.id, "/fields/u", "shape"), H5T_INTEGER);
  EXPECT_EQ(raw_numbers(file.id, "/fields/u", "spacing"), spacing);
  EXPECT_EQ(raw_numbers(file.id, "/fields/u", "lower"), lower);
}

INSTANTIATE_TEST_SUITE_P(Shapes, HDF5Fields,
                         ::testing::Values(grid_shape(1, 11, 1, 1), grid_shape(2, 13, 7, 1),
                                           grid_shape(3, 5, 4, 3)),
                         [](const auto& info) { return std::to_string(info.param.dim) + "d"; });

// The storage of a dataset: its layout, its filters in order and its bytes in the file.
struct RawStorage {
  H5D_layout_t layout = H5D_LAYOUT_ERROR;
  std::vector<H5Z_filter_t> filters;
  hsize_t bytes = 0;
};

RawStorage raw_storage(const std::string& path, const std::string& dataset) {
  RawStorage out;
  RawFile file(path);
  if (file.id < 0) return out;
  hid_t data = H5Dopen2(file.id, dataset.c_str(), H5P_DEFAULT);
  if (data < 0) return out;
  hid_t dcpl = H5Dget_create_plist(data);
  out.layout = H5Pget_layout(dcpl);
  for (int i = 0; i < H5Pget_nfilters(dcpl); ++i) {
    unsigned flags = 0, config = 0;
    std::size_t count = 0;
    out.filters.push_back(H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &count, nullptr, 0,
                                         nullptr, &config));
  }
  out.bytes = H5Dget_storage_size(data);
  H5Pclose(dcpl);
  H5Dclose(data);
  return out;
}

// A smooth field: sin(x) cos(y) at the owned nodes (owned box order, as encoded()).
std::vector<double> smooth(const StructuredGrid& grid) {
  std::vector<double> owned;
  const auto& s = grid.start();
  const auto& c = grid.count();
  for (long k = s[2]; k < s[2] + c[2]; ++k)
    for (long j = s[1]; j < s[1] + c[1]; ++j)
      for (long i = s[0]; i < s[0] + c[0]; ++i)
        owned.push_back(std::sin(0.05 * static_cast<double>(i)) *
                        std::cos(0.07 * static_cast<double>(j + k)));
  return owned;
}

// Compressed fields (shuffle + deflate) in chunks of 3 rows, so that chunks straddle the ranks'
// boxes and parallel HDF5 must combine two ranks' parts of one filtered chunk: every value reads
// back bitwise (whole and owned box, snapshots too), the datasets are chunked with the two
// filters, and a smooth field takes fewer bytes than its contiguous twin.
TEST(HDF5, CompressedFieldsReadBackBitwise) {
  for (const GridShape& shape : {grid_shape(2, 41, 29, 1), grid_shape(3, 9, 8, 7)}) {
    SCOPED_TRACE(shape.dim);
    StructuredGrid grid(world(), shape);
    const std::string packed = file_name("hdf5_deflate_" + std::to_string(shape.dim) + "d");
    const std::string plain = file_name("hdf5_contiguous_" + std::to_string(shape.dim) + "d");
    io::Compression c;
    c.deflate = true;
    c.level = 6;
    c.chunk_bytes = 3 * shape.n[0] * static_cast<long>(sizeof(double));
    io::set_compression(c);
    {
      io::FieldWriter writer(packed, grid);
      writer.write_field("u", encoded(grid));
      writer.write_field("smooth", smooth(grid));
      writer.write_snapshot(0, 0.5, "u", encoded(grid, 7.0));
    }
    io::set_compression(io::Compression{});
    {
      io::FieldWriter writer(plain, grid);
      writer.write_field("smooth", smooth(grid));
    }
    expect_whole(io::read_field(world(), packed, "/fields/u"), shape);
    expect_whole(io::read_field(world(), packed, "/snapshots/000000/u"), shape, 7.0);
    EXPECT_EQ(io::read_grid_field(packed, "/fields/u", grid), encoded(grid));
    EXPECT_EQ(io::read_grid_field(packed, "/fields/smooth", grid), smooth(grid));

    const RawStorage compressed = raw_storage(packed, "/fields/smooth");
    const RawStorage contiguous = raw_storage(plain, "/fields/smooth");
    EXPECT_EQ(compressed.layout, H5D_CHUNKED);
    EXPECT_EQ(compressed.filters,
              (std::vector<H5Z_filter_t>{H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE}));
    EXPECT_EQ(raw_storage(packed, "/snapshots/000000/u").filters.size(), 2u);
    EXPECT_EQ(contiguous.layout, H5D_CONTIGUOUS);
    EXPECT_TRUE(contiguous.filters.empty());
    EXPECT_EQ(contiguous.bytes, static_cast<hsize_t>(shape.size()) * sizeof(double));
    EXPECT_LT(compressed.bytes, contiguous.bytes);
  }
}

TEST(HDF5, ShapeMismatchNamesBothShapes) {
  StructuredGrid grid(world(), grid_shape(2, 13, 7, 1));
  const std::string path = file_name("hdf5_mismatch");
  write_one(path, grid, "u");
  // The transposed grid has as many nodes: only the shape check can tell them apart.
  StructuredGrid transposed(world(), grid_shape(2, 7, 13, 1));
  std::string msg = config_error_of([&] { io::read_grid_field(path, "/fields/u", transposed); });
  EXPECT_NE(msg.find("dataset '/fields/u' in '" + path + "' has shape [7, 13]"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("the grid is [13, 7]"), std::string::npos) << msg;
  StructuredGrid cube(world(), grid_shape(3, 5, 4, 3));
  msg = config_error_of([&] { io::read_grid_field(path, "/fields/u", cube); });
  EXPECT_NE(msg.find("[7, 13] but the grid is [3, 4, 5]"), std::string::npos) << msg;
}

TEST(HDF5, MissingDatasetOrFileIsAConfigError) {
  StructuredGrid grid(world(), grid_shape(2, 13, 7, 1));
  const std::string path = file_name("hdf5_missing");
  write_one(path, grid, "u");
  std::string msg = config_error_of([&] { io::read_field(world(), path, "/fields/v"); });
  EXPECT_EQ(msg, "no dataset '/fields/v' in '" + path + "'");
  msg = config_error_of([&] { io::read_field(world(), path, "/nogroup/u"); });
  EXPECT_EQ(msg, "no dataset '/nogroup/u' in '" + path + "'");
  msg = config_error_of([&] { io::read_grid_field(path, "/fields", grid); });
  EXPECT_EQ(msg, "'/fields' in '" + path + "' is not a dataset");
  msg = config_error_of([&] { io::list_datasets(world(), path, "/snapshots"); });
  EXPECT_EQ(msg, "no group '/snapshots' in '" + path + "'");

  const std::string absent = file_name("hdf5_absent");
  std::remove(absent.c_str());
  msg = config_error_of([&] { io::read_field(world(), absent, "/fields/u"); });
  EXPECT_EQ(msg, absent + ": cannot open HDF5 file: no such file");
  msg = config_error_of([&] { io::read_grid_field(absent, "/fields/u", grid); });
  EXPECT_NE(msg.find("cannot open HDF5 file"), std::string::npos) << msg;
}

TEST(HDF5, TextFileIsNotHDF5) {
  const std::string path = file_name("hdf5_text");
  int rank;
  MPI_Comm_rank(world(), &rank);
  if (rank == 0) std::ofstream(path) << "not HDF5\n";
  MPI_Barrier(world());
  std::string msg = config_error_of([&] { io::read_field(world(), path, "/fields/u"); });
  // HDF5's reason follows in parentheses ("file signature not found"); one line.
  EXPECT_EQ(msg.rfind(path + ": cannot open HDF5 file: not an HDF5 file or not readable", 0), 0u)
      << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(HDF5, SnapshotsKeepTheirTimeAndValues) {
  const GridShape shape = grid_shape(2, 13, 7, 1);
  StructuredGrid grid(world(), shape);
  const std::string path = file_name("hdf5_snapshots");
  const std::vector<double> times{0.0, 0.5, 1.25};
  {
    io::FieldWriter writer(path, grid);
    for (long s = 0; s < 3; ++s) {
      writer.write_snapshot(s, times[s], "u", encoded(grid, 1e6 * s));
      writer.write_snapshot(s, times[s], "v", encoded(grid, -1e6 * s));
    }
    writer.write_field("u", encoded(grid));
    writer.close();
  }
  expect_whole(io::read_field(world(), path, "/snapshots/000002/u"), shape, 2e6);
  expect_whole(io::read_field(world(), path, "/snapshots/000001/v"), shape, -1e6);
  EXPECT_EQ(io::read_grid_field(path, "/snapshots/000002/v", grid), encoded(grid, -2e6));
  EXPECT_EQ(io::list_datasets(world(), path, "/snapshots/000001"),
            (std::vector<std::string>{"u", "v"}));
  EXPECT_TRUE(io::list_datasets(world(), path, "/snapshots").empty());  // groups only
  RawFile file(path);
  ASSERT_GE(file.id, 0);
  for (long s = 0; s < 3; ++s) {
    const std::string group = "/snapshots/00000" + std::to_string(s);
    EXPECT_EQ(raw_numbers(file.id, group, "time"), std::vector<double>{times[s]}) << group;
  }
}

TEST(HDF5, ListDatasetsIsSorted) {
  StructuredGrid grid(world(), grid_shape(3, 5, 4, 3));
  const std::string path = file_name("hdf5_list");
  {
    io::FieldWriter writer(path, grid);
    for (const char* name : {"zeta", "alpha", "mid"}) writer.write_field(name, encoded(grid));
    writer.write_snapshot(0, 0.0, "u", encoded(grid));
  }
  EXPECT_EQ(io::list_datasets(world(), path, "/fields"),
            (std::vector<std::string>{"alpha", "mid", "zeta"}));
  EXPECT_TRUE(io::list_datasets(world(), path, "/").empty());
}

TEST(HDF5, RootAttributesRoundTrip) {
  StructuredGrid grid(world(), grid_shape(2, 13, 7, 1));
  const std::string path = file_name("hdf5_root_attrs");
  {
    io::FieldWriter writer(path, grid);
    writer.attribute("case", std::string("poisson-2d"));
    writer.attribute("config", std::string("pde:\n  type: poisson  # é\n"));
    writer.attribute("empty", std::string());
    writer.attribute("dim", 2L);
    writer.attribute("rtol", 1e-8);
    writer.attribute("upper", std::vector<double>{2.0, 3.5});
    writer.attribute("shape", std::vector<long>{13, 7});
    writer.attribute("none", std::vector<double>{});
    writer.attribute("dim", 3L);  // replaces the first value
  }
  RawFile file(path);
  ASSERT_GE(file.id, 0);
  EXPECT_EQ(raw_string(file.id, "case"), "poisson-2d");
  EXPECT_EQ(raw_string(file.id, "config"), "pde:\n  type: poisson  # é\n");
  EXPECT_EQ(raw_string(file.id, "empty"), "");
  EXPECT_EQ(raw_numbers(file.id, "/", "dim"), std::vector<double>{3.0});
  EXPECT_EQ(raw_type_class(file.id, "/", "dim"), H5T_INTEGER);
  EXPECT_EQ(raw_numbers(file.id, "/", "rtol"), std::vector<double>{1e-8});
  EXPECT_EQ(raw_numbers(file.id, "/", "upper"), (std::vector<double>{2.0, 3.5}));
  EXPECT_EQ(raw_numbers(file.id, "/", "shape"), (std::vector<double>{13.0, 7.0}));
  EXPECT_EQ(raw_type_class(file.id, "/", "shape"), H5T_INTEGER);
  EXPECT_TRUE(raw_numbers(file.id, "/", "none").empty());
  EXPECT_EQ(raw_type_class(file.id, "/", "none"), H5T_FLOAT);
}

TEST(HDF5, LibraryFailuresAreExternalErrors) {
  StructuredGrid grid(world(), grid_shape(2, 13, 7, 1));
  try {
    io::FieldWriter writer("no/such/folder/" + file_name("x"), grid);
    ADD_FAILURE() << "created a file in a missing folder";
  } catch (const ExternalError& e) {
    EXPECT_NE(std::string(e.what()).find("HDF5 error"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot create file 'no/such/folder/"), std::string::npos)
        << e.what();
  }
  io::FieldWriter writer(file_name("hdf5_twice"), grid);
  writer.write_field("u", encoded(grid));
  EXPECT_THROW(writer.write_field("u", encoded(grid)), ExternalError);  // no silent overwrite
}
