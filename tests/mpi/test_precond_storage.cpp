// HDF5 matrix files of the learned CG preconditioner (operators/precond/storage), at 1 and 2 ranks
// (rank 0 writes, every rank reads): a training set comes back bit for bit; every defect of a file
// (missing, not HDF5, truncated, a missing dataset, inconsistent CSR, pairs of another size,
// NaN/Inf, a non-symmetric, singular or non-square matrix) is one ConfigError line naming the file
// and what is wrong (overwritten metadata too: never an HDF5 error stack or another error type); a
// matrix read from a file and split over the ranks is the matrix PETSc builds.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "karman/core/error.hpp"
#include "operators/precond/storage.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"
#include "support/kokkos_env.hpp"
#include "support/mpi_world.hpp"

namespace {

using namespace karman::precond;
namespace petsc = karman::petsc;
namespace fs = std::filesystem;
using karman::test::file_name;
using karman::test::world;
using karman::test::world_rank;

constexpr long kRightHandSides = 3;

TrainingPairs poisson_pairs(PetscInt n, std::uint64_t seed) {
  petsc::Mat a;
  create_poisson_2d(PETSC_COMM_SELF, n, a.out());
  return make_training_pairs(a, kRightHandSides, seed);
}

// One 5² Poisson training matrix with its pairs.
MatrixFile small_training_set() {
  MatrixFile file;
  file.case_yaml = "kind: precond\nproblem: poisson2d\n";
  file.settings = {{"problem", "poisson2d"}, {"train.sizes", "[5]"}};
  file.matrices.push_back({"poisson2d_5", "train", poisson_pairs(5, 1)});
  return file;
}

std::vector<double> host(const karman::nn::Matrix<double>& m) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
  std::vector<double> out;
  for (std::size_t i = 0; i < m.extent(0); ++i)
    for (std::size_t s = 0; s < m.extent(1); ++s) out.push_back(h(i, s));
  return out;
}

// The ConfigError message of reading `path`, or "" if it reads without error.
std::string read_error(const std::string& path, bool require_pairs = true) {
  try {
    read_matrix_file(world(), path, require_pairs);
  } catch (const karman::ConfigError& e) {
    return e.what();
  }
  return "";
}

// ---- raw edits of a file, by rank 0 (the others wait), to make one defect at a time.
void edit(const std::string& path, const std::function<void(hid_t)>& change) {
  if (world_rank() == 0) {
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    change(file);
    H5Fclose(file);
  }
  MPI_Barrier(world());
}

void overwrite(hid_t file, const std::string& name, hid_t type, const void* data) {
  const hid_t dataset = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  ASSERT_GE(dataset, 0) << name;
  EXPECT_GE(H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0) << name;
  H5Dclose(dataset);
}

void replace(hid_t file, const std::string& name, const std::vector<hsize_t>& dims,
             const std::vector<double>& values) {
  H5Ldelete(file, name.c_str(), H5P_DEFAULT);
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t dataset =
      H5Dcreate2(file, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5Dclose(dataset);
  H5Sclose(space);
}

void write_bytes(const std::string& path, const std::string& bytes) {
  if (world_rank() == 0) std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  MPI_Barrier(world());
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(PrecondStorage, TrainingSetRoundTripIsBitExact) {
  const std::string path = file_name("precond_storage_round_trip");
  MatrixFile written = small_training_set();
  written.matrices.push_back({"poisson2d_4", "validation", poisson_pairs(4, 500)});
  write_matrix_file(world(), path, written);
  EXPECT_FALSE(fs::exists(path + ".partial"));

  const MatrixFile read = read_matrix_file(world(), path, true);
  EXPECT_EQ(read.case_yaml, written.case_yaml);
  EXPECT_EQ(read.settings.size(), written.settings.size());
  for (const auto& setting : written.settings)
    EXPECT_NE(std::find(read.settings.begin(), read.settings.end(), setting), read.settings.end())
        << setting.first;
  ASSERT_EQ(read.matrices.size(), written.matrices.size());
  for (std::size_t i = 0; i < written.matrices.size(); ++i) {
    const StoredMatrix &w = written.matrices[i], &r = read.matrices[i];
    SCOPED_TRACE(w.name);
    EXPECT_EQ(r.name, w.name);
    EXPECT_EQ(r.role, w.role);
    EXPECT_EQ(r.pairs.a.rows, w.pairs.a.rows);
    EXPECT_EQ(r.pairs.a.row_ptr, w.pairs.a.row_ptr);
    EXPECT_EQ(r.pairs.a.col, w.pairs.a.col);
    EXPECT_EQ(r.pairs.a.values, w.pairs.a.values);  // bit for bit: float64 both ways
    EXPECT_EQ(r.pairs.ic0, w.pairs.ic0);            // recomputed on reading, same arithmetic
    EXPECT_EQ(host(r.pairs.x), host(w.pairs.x));
    EXPECT_EQ(host(r.pairs.b), host(w.pairs.b));
    EXPECT_EQ(r.pairs.x.extent(1), static_cast<std::size_t>(kRightHandSides));
  }
}

// Every defect: one line naming the file and what is wrong (and the matrix where there is one).
TEST(PrecondStorage, EveryDefectIsOneLineNamingFileAndProblem) {
  const std::string path = file_name("precond_storage_bad");
  const MatrixFile good = small_training_set();
  const CsrMatrix& a = good.matrices[0].pairs.a;  // 25 rows
  const std::int64_t n = a.rows;

  struct Defect {
    std::string what;            // SCOPED_TRACE and the expected fragment
    std::function<void()> make;  // applied to a fresh good file
    std::string fragment;        // part of the message
  };
  const std::vector<Defect> defects = {
      {"missing file",
       [&] {
         if (world_rank() == 0) fs::remove(path);
         MPI_Barrier(world());
       },
       "no such file"},
      {"not HDF5", [&] { write_bytes(path, "this is not an HDF5 file\n"); }, "not an HDF5 file"},
      {"truncated",
       [&] {
         const std::string bytes = read_bytes(path);
         MPI_Barrier(world());
         write_bytes(path, bytes.substr(0, bytes.size() / 2));
       },
       "not an HDF5 file"},
      {"overwritten metadata",  // the groups' B-trees and heaps between superblock and data
       [&] {
         haddr_t data = 0;
         edit(path, [&](hid_t f) {
           const hid_t row_ptr = H5Dopen2(f, "/matrices/0/row_ptr", H5P_DEFAULT);
           data = H5Dget_offset(row_ptr);
           H5Dclose(row_ptr);
         });
         std::string bytes = read_bytes(path);
         MPI_Barrier(world());
         for (std::size_t i = data * 3 / 10; i < data && i < bytes.size(); ++i)
           bytes[i] = static_cast<char>(i * 7919 % 251);
         write_bytes(path, bytes);
       },
       ""},
      {"missing dataset",
       [&] { edit(path, [](hid_t f) { H5Ldelete(f, "/matrices/0/col", H5P_DEFAULT); }); },
       "no dataset /matrices/0/col"},
      {"row_ptr not monotone",
       [&] {
         std::vector<std::int64_t> row_ptr = a.row_ptr;
         std::swap(row_ptr[3], row_ptr[4]);
         edit(path, [&](hid_t f) {
           overwrite(f, "/matrices/0/row_ptr", H5T_NATIVE_INT64, row_ptr.data());
         });
       },
       "row_ptr is not monotone"},
      {"row_ptr not ending at nnz",
       [&] {
         std::vector<std::int64_t> row_ptr = a.row_ptr;
         row_ptr.back() -= 1;
         edit(path, [&](hid_t f) {
           overwrite(f, "/matrices/0/row_ptr", H5T_NATIVE_INT64, row_ptr.data());
         });
       },
       "row_ptr ends at"},
      {"column out of range",
       [&] {
         std::vector<std::int64_t> col = a.col;
         col.back() = n + 3;
         edit(path,
              [&](hid_t f) { overwrite(f, "/matrices/0/col", H5T_NATIVE_INT64, col.data()); });
       },
       "out of range [0, 25)"},
      {"x rows differ from the matrix's",
       [&] {
         edit(path, [&](hid_t f) {
           replace(f, "/matrices/0/x", {hsize_t(n - 1), kRightHandSides},
                   std::vector<double>((n - 1) * kRightHandSides, 1.0));
         });
       },
       "x has 24 rows but the matrix has 25"},
      {"NaN in values",
       [&] {
         std::vector<double> values = a.values;
         values[7] = std::numeric_limits<double>::quiet_NaN();
         edit(path, [&](hid_t f) {
           overwrite(f, "/matrices/0/values", H5T_NATIVE_DOUBLE, values.data());
         });
       },
       "is nan"},
      {"Inf in b",
       [&] {
         std::vector<double> b = host(good.matrices[0].pairs.b);
         b[4] = std::numeric_limits<double>::infinity();
         edit(path, [&](hid_t f) { overwrite(f, "/matrices/0/b", H5T_NATIVE_DOUBLE, b.data()); });
       },
       "b(1, 1) is inf"},
      {"not symmetric",
       [&] {
         std::vector<double> values = a.values;
         values[1] *= 2.0;  // a(0, 1): row 0 is (0, 0), (0, 1), (0, 5)
         edit(path, [&](hid_t f) {
           overwrite(f, "/matrices/0/values", H5T_NATIVE_DOUBLE, values.data());
         });
       },
       "not symmetric"},
      {"not square",
       [&] {
         edit(path, [&](hid_t f) {
           const long cols = n + 1;
           const hid_t group = H5Gopen2(f, "/matrices/0", H5P_DEFAULT);
           const hid_t space = H5Screate(H5S_SCALAR);
           const hid_t attribute =
               H5Acreate2(group, "cols", H5T_NATIVE_LONG, space, H5P_DEFAULT, H5P_DEFAULT);
           H5Awrite(attribute, H5T_NATIVE_LONG, &cols);
           H5Aclose(attribute), H5Sclose(space), H5Gclose(group);
         });
       },
       "not square (25 x 26)"},
      {"no pairs in a training set",
       [&] {
         edit(path, [](hid_t f) {
           H5Ldelete(f, "/matrices/0/x", H5P_DEFAULT);
           H5Ldelete(f, "/matrices/0/b", H5P_DEFAULT);
         });
       },
       "has no pairs x, b"},
  };
  for (const Defect& defect : defects) {
    SCOPED_TRACE(defect.what);
    write_matrix_file(world(), path, good);
    defect.make();
    const std::string message = read_error(path);
    if (world_rank() == 0) std::printf("[ storage ] %s\n", message.c_str());
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;  // names the file first
    EXPECT_NE(message.find(defect.fragment), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_FALSE(message.empty()) << "read without error";
    if (defect.what != "missing file" && defect.what != "not HDF5" && defect.what != "truncated" &&
        defect.what != "overwritten metadata") {
      EXPECT_NE(message.find("/matrices/0"), std::string::npos) << message;  // and the matrix
    }
  }
}

// The 1D Neumann Laplacian (tridiagonal 1, -1 / -1, 2, -1 / -1, 1) is symmetric but singular:
// IC(0) is the exact Cholesky factor here and its last pivot is exactly 0. A matrix without pairs
// is a valid test matrix (require_pairs false) until this check.
TEST(PrecondStorage, SingularMatrixIsRefused) {
  const std::string path = file_name("precond_storage_singular");
  const std::int64_t n = 6;
  CsrMatrix a;
  a.rows = n;
  a.row_ptr = {0};
  for (std::int64_t i = 0; i < n; ++i) {
    const bool end = i == 0 || i == n - 1;
    if (i > 0) a.col.push_back(i - 1), a.values.push_back(-1.0);
    a.col.push_back(i), a.values.push_back(end ? 1.0 : 2.0);
    if (i < n - 1) a.col.push_back(i + 1), a.values.push_back(-1.0);
    a.row_ptr.push_back(a.nnz());
  }
  MatrixFile file;
  StoredMatrix m;
  m.name = "neumann_1d";
  m.pairs.a = LocalBlock{a, {}};
  m.pairs.x = m.pairs.b = karman::nn::Matrix<double>("none", n, 0);
  file.matrices.push_back(m);
  write_matrix_file(world(), path, file);
  const std::string message = read_error(path, false);
  EXPECT_EQ(message.rfind(path + ": /matrices/0 ('neumann_1d'): ", 0), 0u) << message;
  EXPECT_NE(message.find("singular"), std::string::npos) << message;

  // The same file with a positive shift of the first diagonal entry is SPD and reads.
  a.values[0] = 2.0;
  file.matrices[0].pairs.a = LocalBlock{a, {}};
  write_matrix_file(world(), path, file);
  EXPECT_EQ(read_error(path, false), "");
  EXPECT_NE(read_error(path, true).find("has no pairs"), std::string::npos);
}

// A whole matrix split over the ranks by create_distributed_aij is the matrix create_poisson_2d
// assembles on the same communicator (same rows on every rank, same values).
TEST(PrecondStorage, DistributedMatrixIsPetscsSplit) {
  petsc::Mat serial, expected, distributed;
  create_poisson_2d(PETSC_COMM_SELF, 7, serial.out());
  create_poisson_2d(world(), 7, expected.out());
  create_distributed_aij(world(), local_diagonal_block(serial), distributed.out());
  PetscInt first_e = 0, last_e = 0, first_d = 0, last_d = 0;
  KARMAN_PETSC(MatGetOwnershipRange(expected, &first_e, &last_e));
  KARMAN_PETSC(MatGetOwnershipRange(distributed, &first_d, &last_d));
  EXPECT_EQ(first_d, first_e);
  EXPECT_EQ(last_d, last_e);
  PetscBool equal = PETSC_FALSE;
  KARMAN_PETSC(MatEqual(expected, distributed, &equal));
  EXPECT_TRUE(equal);
}
