#pragma once
// Internal helpers of the parallel HDF5 files (src/io/hdf5.cpp), shared with the other file
// formats of Karman (operator-learning datasets in operators/fno). Not installed: it exposes
// HDF5 types. Every function is collective when used on a file opened with mpio_fapl.

#include <hdf5.h>
#include <mpi.h>

#include <string>
#include <utility>
#include <vector>

#include "karman/core/error.hpp"

namespace karman::io::h5 {

// HDF5 prints its error stack on every failed call; we throw instead. Call before any HDF5 use.
void quiet_hdf5();

// The most specific message on HDF5's error stack, e.g. "unable to open file", or "".
std::string hdf5_reason();

// HDF5 calls return a negative hid_t / herr_t / htri_t on failure.
template <class T>
T check(T status, const std::string& what, const std::string& path) {
  if (status < 0) {
    const std::string reason = hdf5_reason();
    throw ExternalError("HDF5", static_cast<int>(status),
                        what + " '" + path + "'" + (reason.empty() ? "" : ": " + reason));
  }
  return status;
}

// An owned HDF5 identifier, closed with the function it was made for.
class Id {
 public:
  Id() = default;
  Id(hid_t id, herr_t (*closer)(hid_t)) : m_id(id), m_closer(closer) {}
  ~Id() { close(); }
  Id(Id&& other) noexcept
      : m_id(std::exchange(other.m_id, H5I_INVALID_HID)), m_closer(other.m_closer) {}
  Id& operator=(Id&& other) noexcept {
    if (this != &other) {
      close();
      m_id = std::exchange(other.m_id, H5I_INVALID_HID);
      m_closer = other.m_closer;
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;

  hid_t get() const { return m_id; }
  // Returns the closer's status (negative on failure); closing twice is a no-op.
  herr_t close() {
    herr_t status = 0;
    if (m_id >= 0 && m_closer) status = m_closer(m_id);
    m_id = H5I_INVALID_HID;
    return status;
  }

 private:
  hid_t m_id = H5I_INVALID_HID;
  herr_t (*m_closer)(hid_t) = nullptr;
};

// A checked identifier: throws ExternalError when `id` reports failure.
Id make_id(hid_t id, herr_t (*closer)(hid_t), const std::string& what, const std::string& path);

std::string shape_string(const std::vector<hsize_t>& dims);  // "[3, 5]"

// File access through MPI-IO on `comm` with collective metadata operations.
Id mpio_fapl(MPI_Comm comm, const std::string& path);
// Dataset transfer in which every rank takes part in one collective MPI-IO call.
Id collective_dxpl(const std::string& path);
// Opens an existing file read-only; missing or not HDF5: ConfigError naming the file.
Id open_file(MPI_Comm comm, const std::string& path);
// True when every link of `name` ("/a/b/c") exists.
bool link_exists(hid_t file, const std::string& name);
// Opens object `name` and checks it is of `type`; ConfigError when it is absent or different.
Id open_object(hid_t file, const std::string& path, const std::string& name, H5I_type_t type);
// Opens a numeric dataset (integers and floats convert to double on reading).
Id open_dataset(hid_t file, const std::string& path, const std::string& name);
// The dataset's dims, slowest first.
std::vector<hsize_t> dataset_dims(hid_t dataset, const std::string& path);

// Creates (or replaces) an attribute of `object`; every rank passes the same value.
void put_attribute(hid_t object, const std::string& name, hid_t type, hid_t space, const void* data,
                   const std::string& path);
void put_scalar(hid_t object, const std::string& name, hid_t type, const void* data,
                const std::string& path);
// A variable-length UTF-8 string attribute (h5py reads it as `str`).
void put_string(hid_t object, const std::string& name, const std::string& value,
                const std::string& path);

// A 1D attribute [n]; an empty vector makes an empty attribute.
template <class T>
void put_array(hid_t object, const std::string& name, hid_t type, const std::vector<T>& values,
               const std::string& path) {
  const hsize_t n = values.size();
  Id space =
      make_id(H5Screate_simple(1, &n, nullptr), H5Sclose, "cannot create a dataspace for", path);
  const T none{};  // HDF5 rejects a null buffer even for zero elements
  put_attribute(object, name, type, space.get(), values.empty() ? &none : values.data(), path);
}

// Attribute `name` of `object` as text: "" when it is absent or not a string (fixed-length or
// variable-length, as h5py and the C API write them).
std::string string_attribute(hid_t object, const std::string& name, const std::string& path);
// Attribute `name` of `object` as a long (numeric types convert): `fallback` when it is absent.
long long_attribute(hid_t object, const std::string& name, const std::string& path,
                    long fallback = -1);

// Adds the process's compression (io::compression()) to a dataset creation list for a dataset of
// `dims`: chunks of `chunk` (empty: whole trailing dims of about compression().chunk_bytes of
// float64) and the deflate filter. Nothing when compression is off or the dataset is empty.
void apply_compression(hid_t dcpl, const std::vector<hsize_t>& dims,
                       const std::vector<hsize_t>& chunk, const std::string& path);
// Chunk dims for `dims` of `element_bytes` elements: the trailing dims whole while their product
// fits `bytes`, the next one cut to fit, the leading ones 1 (at least one element per chunk).
std::vector<hsize_t> chunk_dims(const std::vector<hsize_t>& dims, std::size_t element_bytes,
                                long bytes);

// Opens group `name` under `parent`, creating it on first use.
Id open_or_create_group(hid_t parent, const std::string& name, const std::string& path);

// Resumable datasets (operators/fno, mppde, gno) carry a `generator` attribute: every setting
// that determines their values as one line of "; "-separated items. Unless the file's equals
// `expected`, a ConfigError at `path` names the first item that differs ("seed 1" there,
// "seed 2" here) and ends with `remedy` ("remove it or run without --resume").
void require_same_generator(hid_t file, const std::string& path, const std::string& expected,
                            const std::string& remedy);

// Collective. Opens the partial file of an interrupted generation for writing through MPI-IO
// and checks its generator (require_same_generator, remedy "remove it or run without --resume");
// a file HDF5 cannot open read-write is a ConfigError at `path`.
Id open_for_resume(MPI_Comm comm, const std::string& path, const std::string& expected);

// Collective: rank 0 writes the whole of `values` into the 1D `dataset`, the others take part
// with empty selections (a fill value at allocation is not collective in every HDF5).
template <class T>
void write_from_rank0(MPI_Comm comm, hid_t dataset, hid_t memory_type, const std::vector<T>& values,
                      const std::string& name, const std::string& path) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  const std::string what = "cannot write dataset '" + name + "' in";
  const hsize_t n = values.size();
  Id memory = make_id(H5Screate_simple(1, &n, nullptr), H5Sclose, what, path);
  Id file_space = make_id(H5Dget_space(dataset), H5Sclose, what, path);
  if (rank != 0) {
    check(H5Sselect_none(memory.get()), what, path);
    check(H5Sselect_none(file_space.get()), what, path);
  }
  Id dxpl = collective_dxpl(path);
  const T none{};  // HDF5 rejects a null buffer even for zero elements
  check(H5Dwrite(dataset, memory_type, memory.get(), file_space.get(), dxpl.get(),
                 values.empty() ? &none : values.data()),
        what, path);
}

}  // namespace karman::io::h5
