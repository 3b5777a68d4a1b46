// Parallel HDF5 fields files. Every function here is collective over the layout's (or the given)
// communicator: all ranks make the same HDF5 calls in the same order, including on error paths,
// so a failure (missing dataset, bad shape) is seen by every rank and none is left waiting.
#include "karman/io/hdf5.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <utility>
#include <variant>

#include "hdf5_support.hpp"
#include "karman/core/error.hpp"
#include "karman/core/extents.hpp"
#include "karman/core/stage_timer.hpp"

namespace karman::io {
namespace {

// Walk callback: keep the description of the innermost error (walked upward, it comes first).
herr_t keep_innermost(unsigned n, const H5E_error2_t* error, void* data) {
  if (n == 0 && error->desc) *static_cast<std::string*>(data) = error->desc;
  return 0;
}

}  // namespace

namespace h5 {

// HDF5 prints its error stack to stderr on every failed call by default, including the calls we
// expect to fail (probing for a link). We report failures as exceptions instead. Every entry
// point calls this first; the function-local static runs it once, before any other HDF5 call.
void quiet_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

// The most specific message on HDF5's error stack, e.g. "unable to open file", or "".
std::string hdf5_reason() {
  std::string reason;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, &reason);
  return reason;
}

// A checked identifier: throws ExternalError when `id` reports failure.
Id make_id(hid_t id, herr_t (*closer)(hid_t), const std::string& what, const std::string& path) {
  return Id(check(id, what, path), closer);
}

std::string shape_string(const std::vector<hsize_t>& dims) {
  std::string s = "[";
  for (std::size_t d = 0; d < dims.size(); ++d) s += (d ? ", " : "") + std::to_string(dims[d]);
  return s + "]";
}

// File access through MPI-IO on `comm`. Metadata reads and writes are collective (one rank
// touches the file, the others get a broadcast), which all our callers satisfy.
Id mpio_fapl(MPI_Comm comm, const std::string& path) {
  Id fapl =
      make_id(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "cannot create file access list for", path);
  check(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), "cannot select MPI-IO for", path);
  check(H5Pset_all_coll_metadata_ops(fapl.get(), true), "cannot set collective metadata for", path);
  check(H5Pset_coll_metadata_write(fapl.get(), true), "cannot set collective metadata for", path);
  return fapl;
}

// Dataset transfer in which every rank takes part in one collective MPI-IO call.
Id collective_dxpl(const std::string& path) {
  Id dxpl = make_id(H5Pcreate(H5P_DATASET_XFER), H5Pclose, "cannot create transfer list for", path);
  check(H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE), "cannot set collective transfer for",
        path);
  return dxpl;
}

// Opens an existing file read-only. A missing or non-HDF5 file is the user's input problem.
Id open_file(MPI_Comm comm, const std::string& path) {
  quiet_hdf5();
  Id fapl = mpio_fapl(comm, path);
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (file < 0) {
    // HDF5's innermost reason tells a truncated file ("truncated file: eof = ...") from one that
    // is not HDF5 at all ("file signature not found").
    const std::string reason = hdf5_reason();
    std::error_code ignored;
    const bool exists = std::filesystem::exists(path, ignored);
    throw ConfigError(Place{path, 0, 0},
                      std::string("cannot open HDF5 file: ") +
                          (exists ? "not an HDF5 file or not readable" : "no such file") +
                          (exists && !reason.empty() ? " (" + reason + ")" : ""));
  }
  return Id(file, H5Fclose);
}

// True when every link of `name` ("/a/b/c") exists, so that opening it cannot fail for lack of
// an intermediate group (H5Lexists on "/a/b/c" itself fails when "/a" is missing).
bool link_exists(hid_t file, const std::string& name) {
  std::string prefix;
  std::size_t begin = 0;
  while (begin < name.size()) {
    std::size_t end = std::min(name.find('/', begin), name.size());
    if (end > begin) {
      prefix += "/" + name.substr(begin, end - begin);
      if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    begin = end + 1;
  }
  return true;  // "" and "/" name the root group
}

// Opens object `name` and checks it is of `type`; ConfigError when it is absent or different.
Id open_object(hid_t file, const std::string& path, const std::string& name, H5I_type_t type) {
  const std::string kind = type == H5I_DATASET ? "dataset" : "group";
  const std::string where = " '" + name + "' in '" + path + "'";
  if (!link_exists(file, name)) throw ConfigError("no " + kind + where);
  Id object =
      make_id(H5Oopen(file, name.c_str(), H5P_DEFAULT), H5Oclose, "cannot open" + where, path);
  if (H5Iget_type(object.get()) != type)
    throw ConfigError("'" + name + "' in '" + path + "' is not a " + kind);
  return object;
}

// Opens a numeric dataset (integers and floats convert to double on reading).
Id open_dataset(hid_t file, const std::string& path, const std::string& name) {
  Id dataset = open_object(file, path, name, H5I_DATASET);
  Id type = make_id(H5Dget_type(dataset.get()), H5Tclose, "cannot get the type of", path);
  const H5T_class_t type_class = H5Tget_class(type.get());
  if (type_class != H5T_FLOAT && type_class != H5T_INTEGER)
    throw ConfigError("dataset '" + name + "' in '" + path + "' is not numeric");
  return dataset;
}

// The dataset's dims, slowest first.
std::vector<hsize_t> dataset_dims(hid_t dataset, const std::string& path) {
  Id space = make_id(H5Dget_space(dataset), H5Sclose, "cannot get the dataspace in", path);
  const int rank = check(H5Sget_simple_extent_ndims(space.get()), "cannot get the rank in", path);
  std::vector<hsize_t> dims(rank);
  check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "cannot get dims in", path);
  return dims;
}

// Creates (or replaces) attribute `name` of `object` from `data` of memory and file type `type`.
// Collective in parallel HDF5: every rank passes the same value.
void put_attribute(hid_t object, const std::string& name, hid_t type, hid_t space, const void* data,
                   const std::string& path) {
  const std::string what = "cannot write attribute '" + name + "' in";
  if (check(H5Aexists(object, name.c_str()), what, path) > 0)
    check(H5Adelete(object, name.c_str()), what, path);
  Id attribute = make_id(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                         H5Aclose, what, path);
  check(H5Awrite(attribute.get(), type, data), what, path);
}

void put_scalar(hid_t object, const std::string& name, hid_t type, const void* data,
                const std::string& path) {
  Id space = make_id(H5Screate(H5S_SCALAR), H5Sclose, "cannot create a dataspace for", path);
  put_attribute(object, name, type, space.get(), data, path);
}

// A variable-length UTF-8 string, which h5py reads back as `str` (fixed-length strings come
// back as numpy bytes).
void put_string(hid_t object, const std::string& name, const std::string& value,
                const std::string& path) {
  Id type = make_id(H5Tcopy(H5T_C_S1), H5Tclose, "cannot create a string type for", path);
  check(H5Tset_size(type.get(), H5T_VARIABLE), "cannot create a string type for", path);
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "cannot create a string type for", path);
  const char* text = value.c_str();
  put_scalar(object, name, type.get(), &text, path);
}

std::string string_attribute(hid_t object, const std::string& name, const std::string& path) {
  if (check(H5Aexists(object, name.c_str()), "cannot read attribute '" + name + "' in", path) <= 0)
    return {};
  const std::string what = "cannot read attribute '" + name + "' in";
  Id attribute = make_id(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose, what, path);
  Id type = make_id(H5Aget_type(attribute.get()), H5Tclose, what, path);
  if (H5Tget_class(type.get()) != H5T_STRING) return {};
  if (check(H5Tis_variable_str(type.get()), what, path) > 0) {
    Id memory = make_id(H5Tcopy(H5T_C_S1), H5Tclose, what, path);
    check(H5Tset_size(memory.get(), H5T_VARIABLE), what, path);
    check(H5Tset_cset(memory.get(), H5Tget_cset(type.get())), what, path);
    char* text = nullptr;
    check(H5Aread(attribute.get(), memory.get(), &text), what, path);
    std::string out = text ? text : "";
    H5free_memory(text);
    return out;
  }
  std::string out(H5Tget_size(type.get()), '\0');
  check(H5Aread(attribute.get(), type.get(), out.data()), what, path);
  return out.substr(0, out.find('\0'));
}

long long_attribute(hid_t object, const std::string& name, const std::string& path, long fallback) {
  if (check(H5Aexists(object, name.c_str()), "cannot read attribute '" + name + "' in", path) <= 0)
    return fallback;
  const std::string what = "cannot read attribute '" + name + "' in";
  Id attribute = make_id(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose, what, path);
  long value = fallback;
  check(H5Aread(attribute.get(), H5T_NATIVE_LONG, &value), what, path);
  return value;
}

// Opens group `name` under `parent`, creating it on first use.
Id open_or_create_group(hid_t parent, const std::string& name, const std::string& path) {
  const std::string what = "cannot create group '" + name + "' in";
  if (check(H5Lexists(parent, name.c_str(), H5P_DEFAULT), what, path) > 0)
    return make_id(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), H5Gclose, what, path);
  return make_id(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                 what, path);
}

void require_same_generator(hid_t file, const std::string& path, const std::string& expected,
                            const std::string& remedy) {
  const std::string found = string_attribute(file, "generator", path);
  if (found == expected) return;
  const auto items = [](const std::string& text) {
    std::vector<std::string> out;
    std::size_t begin = 0;
    while (begin <= text.size()) {
      const std::size_t end = std::min(text.find("; ", begin), text.size());
      out.push_back(text.substr(begin, end - begin));
      begin = end + 2;
    }
    return out;
  };
  const auto there = items(found), here = items(expected);
  std::size_t i = 0;
  while (i < there.size() && i < here.size() && there[i] == here[i]) ++i;
  throw ConfigError(Place{path, 0, 0},
                    "cannot resume: the file's generator differs from this case's ('" +
                        (i < there.size() ? there[i] : "") + "' there, '" +
                        (i < here.size() ? here[i] : "") + "' here); " + remedy);
}

Id open_for_resume(MPI_Comm comm, const std::string& path, const std::string& expected) {
  Id fapl = mpio_fapl(comm, path);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get());
  if (file < 0)
    throw ConfigError(Place{path, 0, 0},
                      "cannot resume: not an HDF5 file or not writable (remove it to start over)");
  Id out(file, H5Fclose);
  require_same_generator(file, path, expected, "remove it or run without --resume");
  return out;
}

std::vector<hsize_t> chunk_dims(const std::vector<hsize_t>& dims, std::size_t element_bytes,
                                long bytes) {
  std::vector<hsize_t> chunk(dims.size(), 1);
  hsize_t budget = std::max<hsize_t>(1, static_cast<hsize_t>(bytes) / element_bytes);
  for (std::size_t i = dims.size(); i-- > 0;) {
    const hsize_t d = std::max<hsize_t>(1, dims[i]);
    if (d <= budget) {
      chunk[i] = d;
      budget /= d;
    } else {
      chunk[i] = budget;  // a part of this dim; the leading ones stay 1
      break;
    }
  }
  return chunk;
}

void apply_compression(hid_t dcpl, const std::vector<hsize_t>& dims,
                       const std::vector<hsize_t>& chunk, const std::string& path) {
  const Compression& c = compression();
  if (!c.deflate || dims.empty()) return;
  for (hsize_t d : dims)
    if (d == 0) return;  // HDF5 refuses zero-sized chunks
  const std::vector<hsize_t> shape =
      chunk.empty() ? chunk_dims(dims, sizeof(double), c.chunk_bytes) : chunk;
  check(H5Pset_chunk(dcpl, static_cast<int>(shape.size()), shape.data()), "cannot set chunks for",
        path);
  // Byte shuffle first: the exponent and leading mantissa bytes of neighbouring float64 values
  // agree, and grouped together deflate finds them (a smooth field then compresses well).
  check(H5Pset_shuffle(dcpl), "cannot set shuffle for", path);
  check(H5Pset_deflate(dcpl, static_cast<unsigned>(c.level)), "cannot set deflate for", path);
}

}  // namespace h5

namespace {

using namespace h5;

Compression& compression_setting() {
  static Compression setting;
  return setting;
}

std::vector<hsize_t> to_hsize(const std::vector<long>& values) {
  return std::vector<hsize_t>(values.begin(), values.end());
}

// File and memory dataspaces selecting this rank's block of a field dataset (both C order). The
// memory side is the block [count...] the owned values fill (after the block's permutation).
struct BoxSpaces {
  Id file, memory;
};

Id simple_space(const std::vector<hsize_t>& dims, const std::string& path) {
  // Zero dims: a scalar dataset (one point).
  hid_t space = dims.empty()
                    ? H5Screate(H5S_SCALAR)
                    : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  return make_id(space, H5Sclose, "cannot create a dataspace for", path);
}

// Elements of a block (1 for a scalar dataset's empty count).
long block_size(const mesh::FileBlock& block) {
  long n = 1;
  for (long c : block.count) n *= c;
  return n;
}

BoxSpaces owned_box(const mesh::FieldLayout& layout, const mesh::FileBlock& block,
                    const std::string& path) {
  const std::vector<hsize_t> start = to_hsize(block.start), count = to_hsize(block.count);
  BoxSpaces spaces;
  spaces.file = simple_space(to_hsize(layout.file_dims()), path);
  spaces.memory = simple_space(count, path);
  if (block_size(block) == 0) {  // a rank may own nothing; it still joins the collective call
    check(H5Sselect_none(spaces.file.get()), "cannot select in", path);
    check(H5Sselect_none(spaces.memory.get()), "cannot select in", path);
  } else if (!start.empty()) {
    check(H5Sselect_hyperslab(spaces.file.get(), H5S_SELECT_SET, start.data(), nullptr,
                              count.data(), nullptr),
          "cannot select the owned box in", path);
  }
  return spaces;
}

// Writes the layout's attributes on `object` (the root group or a dataset).
void put_layout_attributes(hid_t object, const std::vector<mesh::FileAttribute>& attributes,
                           const std::string& path) {
  for (const mesh::FileAttribute& a : attributes) {
    if (const long* value = std::get_if<long>(&a.value))
      put_scalar(object, a.name, H5T_NATIVE_LONG, value, path);
    else if (const auto* longs = std::get_if<std::vector<long>>(&a.value))
      put_array(object, a.name, H5T_NATIVE_LONG, *longs, path);
    else
      put_array(object, a.name, H5T_NATIVE_DOUBLE, std::get<std::vector<double>>(a.value), path);
  }
}

// Every name in a group, collected by H5Literate.
herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

}  // namespace

struct FieldWriter::Impl {
  std::string path;
  const mesh::FieldLayout& layout;
  Id file;
  Id dxpl;

  // Dataset `name` in `group`: float64 of the file dims of `layout` (the writer's or another
  // layout of its points, as a mesh's cells), with its dataset attributes.
  void write_dataset(hid_t group, const std::string& name, const std::vector<double>& owned,
                     const mesh::FieldLayout& layout) {
    KARMAN_VERIFY(static_cast<long>(owned.size()) == layout.owned_count(),
                  "FieldWriter: '" + name + "' does not have the owned box's size");
    const mesh::FileBlock block = layout.file_block();
    BoxSpaces spaces = owned_box(layout, block, path);
    const std::vector<double> box = layout.file_values(owned);
    // Every element is written right away, so skip the fill pass over the new dataset.
    Id dcpl = make_id(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "cannot create dataset list", path);
    check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "cannot set fill time", path);
    apply_compression(dcpl.get(), to_hsize(layout.file_dims()), {}, path);
    const std::string what = "cannot write dataset '" + name + "' in";
    Id dataset = make_id(H5Dcreate2(group, name.c_str(), H5T_IEEE_F64LE, spaces.file.get(),
                                    H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                         H5Dclose, what, path);
    const double none = 0.0;  // HDF5 rejects a null buffer even when nothing is selected
    check(H5Dwrite(dataset.get(), H5T_NATIVE_DOUBLE, spaces.memory.get(), spaces.file.get(),
                   dxpl.get(), box.empty() ? &none : box.data()),
          what, path);
    put_layout_attributes(dataset.get(), layout.dataset_attributes(), path);
  }

  // A dataset describing the points (a mesh's vertices or cells): [rows, columns], this rank's
  // rows [start, start + count) in one collective hyperslab; "/mesh/cells" creates group /mesh.
  void write_mesh_dataset(const mesh::MeshDataset& d) {
    const auto slash = d.path.rfind('/');
    Id group = open_or_create_group(file.get(), d.path.substr(0, slash), path);
    const std::string name = d.path.substr(slash + 1);
    const bool integer = std::holds_alternative<std::vector<long>>(d.values);
    Id file_space = simple_space(to_hsize(d.dims), path);
    std::vector<hsize_t> start{static_cast<hsize_t>(d.start), 0};
    std::vector<hsize_t> count{static_cast<hsize_t>(d.count), static_cast<hsize_t>(d.dims[1])};
    Id memory_space = simple_space(count, path);
    if (d.count == 0) {
      check(H5Sselect_none(file_space.get()), "cannot select in", path);
      check(H5Sselect_none(memory_space.get()), "cannot select in", path);
    } else {
      check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr,
                                count.data(), nullptr),
            "cannot select the owned rows in", path);
    }
    const std::string what = "cannot write dataset '" + d.path + "' in";
    Id dataset =
        make_id(H5Dcreate2(group.get(), name.c_str(), integer ? H5T_STD_I64LE : H5T_IEEE_F64LE,
                           file_space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                H5Dclose, what, path);
    const long none = 0;  // HDF5 rejects a null buffer even when nothing is selected
    const void* data = &none;
    if (integer && !std::get<std::vector<long>>(d.values).empty())
      data = std::get<std::vector<long>>(d.values).data();
    if (!integer && !std::get<std::vector<double>>(d.values).empty())
      data = std::get<std::vector<double>>(d.values).data();
    check(H5Dwrite(dataset.get(), integer ? H5T_NATIVE_LONG : H5T_NATIVE_DOUBLE, memory_space.get(),
                   file_space.get(), dxpl.get(), data),
          what, path);
  }

  hid_t root() const {
    KARMAN_VERIFY(file.get() >= 0, "FieldWriter: used after close()");
    return file.get();
  }
};

FieldWriter::FieldWriter(const std::string& path, const mesh::FieldLayout& layout)
    : m_impl(nullptr) {
  const ScopedStage timed_stage(Stage::io);
  quiet_hdf5();
  Id fapl = mpio_fapl(layout.comm(), path);
  Id file = make_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose,
                    "cannot create file", path);
  Id dxpl = collective_dxpl(path);
  m_impl = new Impl{path, layout, std::move(file), std::move(dxpl)};
  for (const mesh::MeshDataset& d : layout.mesh_datasets()) m_impl->write_mesh_dataset(d);
}

FieldWriter::~FieldWriter() {
  // Closing is collective. While an exception unwinds this rank alone may be here, and waiting
  // for the others would hang the job before the error is reported: leave the file to the OS.
  if (std::uncaught_exceptions() > 0) return;
  try {
    close();
  } catch (...) {
    // A destructor must not throw; call close() to see the error.
  }
  delete m_impl;
}

void FieldWriter::attribute(const std::string& name, const std::string& value) {
  put_string(m_impl->root(), name, value, m_impl->path);
}

void FieldWriter::attribute(const std::string& name, double value) {
  put_scalar(m_impl->root(), name, H5T_NATIVE_DOUBLE, &value, m_impl->path);
}

void FieldWriter::attribute(const std::string& name, long value) {
  put_scalar(m_impl->root(), name, H5T_NATIVE_LONG, &value, m_impl->path);
}

void FieldWriter::attribute(const std::string& name, const std::vector<double>& value) {
  put_array(m_impl->root(), name, H5T_NATIVE_DOUBLE, value, m_impl->path);
}

void FieldWriter::attribute(const std::string& name, const std::vector<long>& value) {
  put_array(m_impl->root(), name, H5T_NATIVE_LONG, value, m_impl->path);
}

void FieldWriter::layout_attributes() {
  const ScopedStage timed_stage(Stage::io);
  put_layout_attributes(m_impl->root(), m_impl->layout.file_attributes(), m_impl->path);
}

void FieldWriter::write_field(const std::string& name, const std::vector<double>& owned) {
  const ScopedStage timed_stage(Stage::io);
  write_field(name, owned, m_impl->layout);
}

void FieldWriter::write_field(const std::string& name, const std::vector<double>& owned,
                              const mesh::FieldLayout& layout) {
  const ScopedStage timed_stage(Stage::io);
  int same = MPI_UNEQUAL;
  MPI_Comm_compare(layout.comm(), m_impl->layout.comm(), &same);
  KARMAN_VERIFY(same == MPI_IDENT || same == MPI_CONGRUENT,
                "FieldWriter: '" + name + "' is on a layout of another communicator");
  Id fields = open_or_create_group(m_impl->root(), "fields", m_impl->path);
  m_impl->write_dataset(fields.get(), name, owned, layout);
}

void FieldWriter::write_snapshot(long index, double time, const std::string& name,
                                 const std::vector<double>& owned) {
  const ScopedStage timed_stage(Stage::io);
  KARMAN_VERIFY(index >= 0, "FieldWriter: negative snapshot index");
  char label[32];
  std::snprintf(label, sizeof label, "%06ld", index);
  Id snapshots = open_or_create_group(m_impl->root(), "snapshots", m_impl->path);
  const bool is_new = check(H5Lexists(snapshots.get(), label, H5P_DEFAULT), "cannot open snapshot",
                            m_impl->path) == 0;
  Id snapshot = open_or_create_group(snapshots.get(), label, m_impl->path);
  // The first field of a snapshot sets its time; later fields of the same snapshot share it.
  if (is_new) put_scalar(snapshot.get(), "time", H5T_NATIVE_DOUBLE, &time, m_impl->path);
  m_impl->write_dataset(snapshot.get(), name, owned, m_impl->layout);
}

void FieldWriter::close() {
  const ScopedStage timed_stage(Stage::io);
  if (!m_impl) return;
  m_impl->dxpl.close();
  check(m_impl->file.close(), "cannot close file", m_impl->path);
}

void set_compression(const Compression& compression) {
  if (compression.deflate && H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0)
    throw ExternalError("HDF5", 0, "this HDF5 has no deflate (gzip) filter");
  compression_setting() = compression;
}

const Compression& compression() { return compression_setting(); }

FileField read_field(MPI_Comm comm, const std::string& path, const std::string& dataset) {
  Id file = open_file(comm, path);
  Id data = open_dataset(file.get(), path, dataset);
  const std::vector<hsize_t> dims = dataset_dims(data.get(), path);
  FileField field;
  field.shape.assign(dims.begin(), dims.end());
  const hsize_t size = product(dims);
  field.values.resize(size);
  // Every rank selects everything: one collective read that MPI-IO can serve once and share.
  Id dxpl = collective_dxpl(path);
  double none = 0.0;
  check(H5Dread(data.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, dxpl.get(),
                size ? field.values.data() : &none),
        "cannot read dataset '" + dataset + "' in", path);
  return field;
}

std::vector<long> read_dataset_dims(MPI_Comm comm, const std::string& path,
                                    const std::string& dataset) {
  Id file = open_file(comm, path);
  Id data = open_dataset(file.get(), path, dataset);
  const std::vector<hsize_t> dims = dataset_dims(data.get(), path);
  return std::vector<long>(dims.begin(), dims.end());
}

std::vector<double> read_grid_field(const std::string& path, const std::string& dataset,
                                    const mesh::FieldLayout& layout) {
  Id file = open_file(layout.comm(), path);
  Id data = open_dataset(file.get(), path, dataset);
  const std::vector<hsize_t> dims = dataset_dims(data.get(), path);
  const std::vector<hsize_t> expected = to_hsize(layout.file_dims());
  if (dims != expected)
    throw ConfigError("dataset '" + dataset + "' in '" + path + "' has shape " +
                      shape_string(dims) + " but the grid is " + shape_string(expected));
  const mesh::FileBlock block = layout.file_block();
  BoxSpaces spaces = owned_box(layout, block, path);
  std::vector<double> box(block_size(block));
  Id dxpl = collective_dxpl(path);
  double none = 0.0;
  check(H5Dread(data.get(), H5T_NATIVE_DOUBLE, spaces.memory.get(), spaces.file.get(), dxpl.get(),
                box.empty() ? &none : box.data()),
        "cannot read dataset '" + dataset + "' in", path);
  return layout.owned_values(box);
}

std::vector<std::string> list_datasets(MPI_Comm comm, const std::string& path,
                                       const std::string& group) {
  Id file = open_file(comm, path);
  Id parent = open_object(file.get(), path, group, H5I_GROUP);
  std::vector<std::string> names;
  check(H5Literate(parent.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names),
        "cannot list group '" + group + "' in", path);
  // Keep the datasets; subgroups, named types and dangling soft links are not fields.
  std::vector<std::string> datasets;
  for (const std::string& name : names) {
    hid_t object = H5Oopen(parent.get(), name.c_str(), H5P_DEFAULT);
    if (object < 0) continue;
    if (H5Iget_type(object) == H5I_DATASET) datasets.push_back(name);
    H5Oclose(object);
  }
  std::sort(datasets.begin(), datasets.end());
  return datasets;
}

}  // namespace karman::io
