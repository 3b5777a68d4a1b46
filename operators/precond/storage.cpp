// HDF5 matrix files of the learned CG preconditioner: training pairs and user matrices (layout and
// checks in storage.hpp). Built on the project's HDF5 helpers (src/io/hdf5_support.hpp).
#include "operators/precond/storage.hpp"

#include <fmt/format.h>
#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <type_traits>

#include "io/hdf5_support.hpp"
#include "karman/core/collective.hpp"
#include "karman/core/error.hpp"
#include "karman/core/extents.hpp"
#include "petsc/check.hpp"

namespace karman::precond {
namespace {

using namespace io::h5;
namespace fs = std::filesystem;

const char* const kFormat = "karman-precond-matrices";
constexpr long kVersion = 1;

// ---------------------------------------------------------------------------------- writing

// A contiguous dataset `name` of `group` with dims `dims`, written whole from `data`.
void write_dataset(hid_t group, const std::string& name, hid_t file_type, hid_t memory_type,
                   const std::vector<hsize_t>& dims, const void* data, const std::string& path) {
  const std::string what = "cannot write dataset '" + name + "' in";
  Id space = make_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                     H5Sclose, what, path);
  Id dataset = make_id(H5Dcreate2(group, name.c_str(), file_type, space.get(), H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT),
                       H5Dclose, what, path);
  const double none = 0.0;  // HDF5 rejects a null buffer even for zero elements
  check(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data ? data : &none),
        what, path);
}

// A device matrix [n, k] as row-major host values.
std::vector<double> host_values(const nn::Matrix<double>& m) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
  std::vector<double> out(m.extent(0) * m.extent(1));
  for (std::size_t i = 0; i < m.extent(0); ++i)
    for (std::size_t s = 0; s < m.extent(1); ++s) out[i * m.extent(1) + s] = host(i, s);
  return out;
}

void write_matrix(hid_t matrices, long index, const StoredMatrix& m, const std::string& path) {
  const CsrMatrix& a = m.pairs.a;
  Id group = open_or_create_group(matrices, std::to_string(index), path);
  put_string(group.get(), "name", m.name, path);
  put_string(group.get(), "role", m.role, path);
  const long rows = static_cast<long>(a.rows);
  put_scalar(group.get(), "rows", H5T_NATIVE_LONG, &rows, path);
  write_dataset(group.get(), "row_ptr", H5T_STD_I64LE, H5T_NATIVE_INT64, {a.row_ptr.size()},
                a.row_ptr.data(), path);
  write_dataset(group.get(), "col", H5T_STD_I64LE, H5T_NATIVE_INT64, {a.col.size()}, a.col.data(),
                path);
  write_dataset(group.get(), "values", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {a.values.size()},
                a.values.data(), path);
  if (m.pairs.x.extent(1) == 0) return;
  KARMAN_VERIFY(m.pairs.x.extent(0) == static_cast<std::size_t>(a.rows) &&
                    m.pairs.b.extent(0) == m.pairs.x.extent(0) &&
                    m.pairs.b.extent(1) == m.pairs.x.extent(1),
                "write_matrix_file: x and b must both be [rows, k]");
  const std::vector<hsize_t> dims = {m.pairs.x.extent(0), m.pairs.x.extent(1)};
  write_dataset(group.get(), "x", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, dims,
                host_values(m.pairs.x).data(), path);
  write_dataset(group.get(), "b", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, dims,
                host_values(m.pairs.b).data(), path);
}

// The whole file on this process (serial HDF5 driver).
void write_file(const std::string& path, const MatrixFile& file) {
  Id f = make_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose,
                 "cannot create file", path);
  const long count = static_cast<long>(file.matrices.size());
  put_string(f.get(), "format", kFormat, path);
  put_scalar(f.get(), "version", H5T_NATIVE_LONG, &kVersion, path);
  put_scalar(f.get(), "count", H5T_NATIVE_LONG, &count, path);
  put_string(f.get(), "case", file.case_yaml, path);
  Id settings = open_or_create_group(f.get(), "settings", path);
  for (const auto& [key, value] : file.settings) put_string(settings.get(), key, value, path);
  Id matrices = open_or_create_group(f.get(), "matrices", path);
  for (long i = 0; i < count; ++i) write_matrix(matrices.get(), i, file.matrices[i], path);
  matrices.close();
  settings.close();
  check(f.close(), "cannot close file", path);
}

// ---------------------------------------------------------------------------------- reading

// One line naming the file and the object: "pairs.h5: /matrices/1 ('poisson2d_8'): ...".
ConfigError file_error(const std::string& path, const std::string& what) {
  return ConfigError(Place{path, 0, 0}, what);
}

// A whole numeric dataset read on every rank (one collective read), with its dims. T = int64
// (row_ptr, col) needs an integer dataset (any width); T = double takes integers or floats. A read
// that fails after the file opened (truncated or overwritten bytes) is the file's fault.
template <class T>
std::vector<T> read_dataset(hid_t file, const std::string& path, const std::string& name,
                            std::vector<hsize_t>& dims) {
  static_assert(std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>);
  constexpr bool integer = std::is_same_v<T, std::int64_t>;
  if (!link_exists(file, name)) throw file_error(path, "no dataset " + name);
  std::vector<T> values;
  try {
    Id dataset = open_dataset(file, path, name);  // numeric, or ConfigError
    Id type = make_id(H5Dget_type(dataset.get()), H5Tclose, "cannot get the type of", path);
    if (integer && H5Tget_class(type.get()) != H5T_INTEGER)
      throw file_error(path, "dataset " + name + " must hold integers");
    dims = dataset_dims(dataset.get(), path);
    values.resize(product(dims));
    Id dxpl = collective_dxpl(path);
    T none{};
    const hid_t memory = integer ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
    if (H5Dread(dataset.get(), memory, H5S_ALL, H5S_ALL, dxpl.get(),
                values.empty() ? &none : values.data()) < 0) {
      const std::string reason = hdf5_reason();
      throw file_error(path, "cannot read dataset " + name + " (corrupt or truncated file" +
                                 (reason.empty() ? "" : ": " + reason) + ")");
    }
  } catch (const ExternalError&) {
    throw file_error(path, "cannot read dataset " + name + " (corrupt or truncated file)");
  }
  return values;
}

// The names of the groups under /matrices as indices 0 .. m-1 (any other name is an error).
long matrix_count(hid_t file, const std::string& path) {
  if (!link_exists(file, "/matrices"))
    throw file_error(path,
                     "no group /matrices (not a matrix file, or a corrupt one; layout: "
                     "operators/precond/storage.hpp)");
  Id matrices = open_object(file, path, "/matrices", H5I_GROUP);
  std::vector<std::string> names;
  const auto collect = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  check(H5Literate(matrices.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names),
        "cannot list /matrices in", path);
  std::vector<long> indices;
  for (const std::string& name : names) {
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
      throw file_error(path, "/matrices/" + name + ": expected groups named 0, 1, 2, ...");
    indices.push_back(std::stol(name));
  }
  std::sort(indices.begin(), indices.end());
  for (std::size_t i = 0; i < indices.size(); ++i)
    if (indices[i] != static_cast<long>(i))
      throw file_error(path, fmt::format("/matrices: expected groups 0 to {}, found no {}",
                                         indices.size() - 1, i));
  if (indices.empty()) throw file_error(path, "/matrices holds no matrix");
  const long count = long_attribute(file, "count", path);
  if (count >= 0 && count != static_cast<long>(indices.size()))
    throw file_error(path, fmt::format("attribute count = {} but /matrices holds {} matrices",
                                       count, indices.size()));
  return static_cast<long>(indices.size());
}

// Checks of one matrix; `fail(what)` throws the one-line error naming the file and the matrix.
using Fail = std::function<void(const std::string&)>;

void check_csr(const CsrMatrix& a, const Fail& fail) {
  const std::int64_t n = a.rows, nnz = a.nnz();
  if (static_cast<std::int64_t>(a.values.size()) != nnz)
    fail(fmt::format("col has {} entries but values has {}", nnz, a.values.size()));
  if (a.row_ptr[0] != 0) fail(fmt::format("row_ptr[0] = {}, expected 0", a.row_ptr[0]));
  for (std::int64_t r = 0; r < n; ++r)
    if (a.row_ptr[r + 1] < a.row_ptr[r])
      fail(fmt::format("row_ptr is not monotone: row_ptr[{}] = {} < row_ptr[{}] = {}", r + 1,
                       a.row_ptr[r + 1], r, a.row_ptr[r]));
  if (a.row_ptr[n] != nnz)
    fail(fmt::format("row_ptr ends at {} but col has {} entries (nnz)", a.row_ptr[n], nnz));
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t p = a.row_ptr[r]; p < a.row_ptr[r + 1]; ++p) {
      if (a.col[p] < 0 || a.col[p] >= n)
        fail(fmt::format("column {} in row {} is out of range [0, {})", a.col[p], r, n));
      if (p > a.row_ptr[r] && a.col[p] <= a.col[p - 1])
        fail(fmt::format("the columns of row {} are not strictly increasing ({} then {})", r,
                         a.col[p - 1], a.col[p]));
      if (!std::isfinite(a.values[p]))
        fail(fmt::format("value at row {}, column {} is {}", r, a.col[p], a.values[p]));
    }
}

// x or b: [n, k] with n the matrix's rows, finite. Returns k.
hsize_t check_pairs(const std::string& which, const std::vector<hsize_t>& dims,
                    const std::vector<double>& values, std::int64_t rows, const Fail& fail) {
  if (dims.size() != 2 || dims[1] == 0)
    fail(fmt::format("{} must be [n, k] with k >= 1, found {}", which, shape_string(dims)));
  if (static_cast<std::int64_t>(dims[0]) != rows)
    fail(fmt::format("{} has {} rows but the matrix has {}", which, dims[0], rows));
  for (std::size_t e = 0; e < values.size(); ++e)
    if (!std::isfinite(values[e]))
      fail(fmt::format("{}({}, {}) is {}", which, e / dims[1], e % dims[1], values[e]));
  return dims[1];
}

nn::Matrix<double> to_device(const std::string& label, const std::vector<double>& values,
                             std::size_t rows, std::size_t columns) {
  nn::Matrix<double> m(label, rows, columns);
  auto host = Kokkos::create_mirror_view(m);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t s = 0; s < columns; ++s) host(i, s) = values[i * columns + s];
  Kokkos::deep_copy(m, host);
  return m;
}

StoredMatrix read_matrix(hid_t file, const std::string& path, long index, bool require_pairs) {
  const std::string group_name = "/matrices/" + std::to_string(index);
  Id group = open_object(file, path, group_name, H5I_GROUP);
  StoredMatrix m;
  m.name = string_attribute(group.get(), "name", path);
  m.role = string_attribute(group.get(), "role", path);
  const std::string label =
      group_name + (m.name.empty() ? std::string() : " ('" + m.name + "')") + ": ";
  if (m.name.empty()) m.name = fs::path(path).stem().string() + "_" + std::to_string(index);
  const Fail fail = [&](const std::string& what) { throw file_error(path, label + what); };
  const auto dataset = [&](const char* name) { return group_name + "/" + name; };

  CsrMatrix& a = m.pairs.a;
  std::vector<hsize_t> dims;
  a.row_ptr = read_dataset<std::int64_t>(file, path, dataset("row_ptr"), dims);
  if (dims.size() != 1 || dims[0] < 2)
    fail("row_ptr must be [n + 1] with n >= 1, found " + shape_string(dims));
  a.rows = static_cast<std::int64_t>(dims[0]) - 1;
  a.col = read_dataset<std::int64_t>(file, path, dataset("col"), dims);
  if (dims.size() != 1) fail("col must be [nnz], found " + shape_string(dims));
  a.values = read_dataset<double>(file, path, dataset("values"), dims);
  if (dims.size() != 1) fail("values must be [nnz], found " + shape_string(dims));
  const long rows = long_attribute(group.get(), "rows", path);
  if (rows >= 0 && rows != a.rows)
    fail(fmt::format("attribute rows = {} but row_ptr holds {} rows", rows, a.rows));
  const long cols = long_attribute(group.get(), "cols", path);
  if (cols >= 0 && cols != a.rows)
    fail(fmt::format("the matrix is not square ({} x {})", a.rows, cols));
  check_csr(a, fail);

  const bool has_x = link_exists(file, dataset("x")), has_b = link_exists(file, dataset("b"));
  if (has_x != has_b) fail(has_x ? "has x but no b" : "has b but no x");
  if (require_pairs && !has_x) fail("has no pairs x, b (a training set needs them)");
  std::size_t k = 0;
  std::vector<double> x, b;
  if (has_x) {
    std::vector<hsize_t> x_dims, b_dims;
    x = read_dataset<double>(file, path, dataset("x"), x_dims);
    b = read_dataset<double>(file, path, dataset("b"), b_dims);
    k = check_pairs("x", x_dims, x, a.rows, fail);
    if (check_pairs("b", b_dims, b, a.rows, fail) != k)
      fail(fmt::format("x has {} columns but b has {}", k, b_dims[1]));
  }

  try {  // SPD: symmetric, and IC(0) exists (no zero or negative pivot: not singular)
    require_symmetric(a);
    m.pairs.ic0 = ic0_values(a, lower_pattern(a));
  } catch (const NotSpdError& e) {
    fail(e.what());
  }
  m.pairs.x = to_device("x", x, a.rows, k);
  m.pairs.b = to_device("b", b, a.rows, k);
  return m;
}

// Every attribute of /settings (strings), by name.
std::vector<std::pair<std::string, std::string>> read_settings(hid_t file,
                                                               const std::string& path) {
  std::vector<std::pair<std::string, std::string>> settings;
  if (!link_exists(file, "/settings")) return settings;
  Id group = open_object(file, path, "/settings", H5I_GROUP);
  std::vector<std::string> names;
  const auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  check(H5Aiterate2(group.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names),
        "cannot list /settings in", path);
  for (const std::string& name : names)
    settings.emplace_back(name, string_attribute(group.get(), name, path));
  return settings;
}

// The file after opening: root attributes, /settings, every matrix.
MatrixFile read_contents(hid_t file, const std::string& path, bool require_pairs) {
  MatrixFile out;
  const std::string format = string_attribute(file, "format", path);
  if (!format.empty() && format != kFormat)
    throw file_error(path, "attribute format is '" + format + "', expected '" + kFormat + "'");
  const long version = long_attribute(file, "version", path, kVersion);
  if (version != kVersion)
    throw file_error(path,
                     fmt::format("format version {}, this karman reads {}", version, kVersion));
  out.case_yaml = string_attribute(file, "case", path);
  out.settings = read_settings(file, path);
  const long count = matrix_count(file, path);
  for (long i = 0; i < count; ++i)
    out.matrices.push_back(read_matrix(file, path, i, require_pairs));
  return out;
}

}  // namespace

void write_matrix_file(MPI_Comm comm, const std::string& path, const MatrixFile& file) {
  quiet_hdf5();
  run_on_rank0(comm, [&] {
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) fs::create_directories(parent);
    const std::string partial = path + ".partial";
    write_file(partial, file);
    if (std::rename(partial.c_str(), path.c_str()) != 0)
      throw ExternalError("filesystem", errno, "cannot rename '" + partial + "' to '" + path + "'");
  });
}

MatrixFile read_matrix_file(MPI_Comm comm, const std::string& path, bool require_pairs) {
  quiet_hdf5();
  Id file = open_file(comm, path);  // ConfigError: no such file, not HDF5, truncated
  try {
    return read_contents(file.get(), path, require_pairs);
  } catch (const ExternalError& e) {
    // The file opened but HDF5 cannot walk it (overwritten metadata): the file's fault, reported
    // like every other defect (every rank reads the same bytes, so every rank gets here).
    throw file_error(path, std::string("corrupt file: ") + e.what());
  }
}

void create_distributed_aij(MPI_Comm comm, const CsrMatrix& whole, Mat* out) {
  PetscInt rows = static_cast<PetscInt>(whole.rows), local = PETSC_DECIDE;
  KARMAN_PETSC(PetscSplitOwnership(comm, &local, &rows));
  PetscInt first = 0;  // this rank's first global row
  MPI_Exscan(&local, &first, 1, MPIU_INT, MPI_SUM, comm);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) first = 0;  // MPI_Exscan leaves rank 0's result undefined
  // This rank's rows in CSR with global columns (AIJ's CSR preallocation copies them).
  const std::int64_t begin = whole.row_ptr[first];
  std::vector<PetscInt> row_ptr(local + 1), col;
  for (PetscInt r = 0; r <= local; ++r)
    row_ptr[r] = static_cast<PetscInt>(whole.row_ptr[first + r] - begin);
  col.assign(whole.col.begin() + begin, whole.col.begin() + begin + row_ptr[local]);
  const std::vector<PetscScalar> values(whole.values.begin() + begin,
                                        whole.values.begin() + begin + row_ptr[local]);
  Mat a;
  KARMAN_PETSC(MatCreate(comm, &a));
  KARMAN_PETSC(MatSetSizes(a, local, local, rows, rows));
  KARMAN_PETSC(MatSetType(a, MATAIJ));
  // Only the call matching the type acts (one rank: sequential, where global = local columns).
  KARMAN_PETSC(MatSeqAIJSetPreallocationCSR(a, row_ptr.data(), col.data(), values.data()));
  KARMAN_PETSC(MatMPIAIJSetPreallocationCSR(a, row_ptr.data(), col.data(), values.data()));
  *out = a;
}

}  // namespace karman::precond
