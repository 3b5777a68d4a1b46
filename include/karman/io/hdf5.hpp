#pragma once
// HDF5 files of fields, written and read collectively with parallel HDF5 (MPI-IO). The points
// of a field are described by a mesh::FieldLayout (layout.hpp): its dataset dims, each rank's
// block of a dataset and the attributes that describe the points. For a structured grid:
//
// A fields file (datasets are [nz, ny, nx] / [ny, nx] / [nx], C order, x fastest, float64):
//   /                      attributes: case, kind, pde, dim, shape, lower, upper, spacing,
//                          periodic, config (resolved YAML), karman_version, ...
//   /fields/<name>         final or steady fields: reference, exact, error, coefficient, ...
//   /snapshots/<NNNNNN>/<name>   time series, group attribute `time`
// Every dataset carries attributes `shape` (its dims, [nz, ny, nx]) and `spacing` and `lower`
// (x first: dx, dy, dz) so it can be read on its own.
//
// For an unstructured mesh (mesh::PlexMesh) the file also holds /mesh/vertices and /mesh/cells;
// a field is [n_vertices] in global vertex order, or [n_cells] in global cell order (the rows of
// /mesh/cells) when it is written on the mesh's cells() layout.

#include <string>
#include <vector>

#include "karman/mesh/layout.hpp"

namespace karman::io {

// How the datasets of fields, snapshots and operator-learning datasets are stored (case section
// `hdf5`): contiguous (the default), or in chunks byte-shuffled and compressed by the deflate
// (gzip) filter, both built into HDF5, which
// Debian's parallel HDF5 applies in collective writes and h5py, h5dump and ParaView read
// transparently. A field's chunk is whole rows (planes, ...) of about `chunk_bytes`; a dataset's
// chunk is one sample.
struct Compression {
  bool deflate = false;
  int level = 4;                // 1 (fastest) .. 9 (smallest)
  long chunk_bytes = 1L << 20;  // target chunk size of a field
};

// The compression of the datasets this process creates from now on (karman run sets the case's
// before its method runs). Turning deflate on where HDF5 lacks the filter is an ExternalError.
void set_compression(const Compression& compression);
const Compression& compression();

// Writes one fields file. Collective: every rank calls every method in the same order, with the
// same names and attribute values. `layout` must outlive the writer. HDF5 failures throw
// ExternalError("HDF5", ...).
class FieldWriter {
 public:
  FieldWriter(const std::string& path, const mesh::FieldLayout& layout);
  ~FieldWriter();
  FieldWriter(const FieldWriter&) = delete;
  FieldWriter& operator=(const FieldWriter&) = delete;

  // Attributes of the root group; writing a name again replaces it. Strings are variable-length
  // UTF-8 (h5py reads them as str), longs H5T_NATIVE_LONG, vectors 1D arrays.
  void attribute(const std::string& name, const std::string& value);
  void attribute(const std::string& name, double value);
  void attribute(const std::string& name, long value);
  void attribute(const std::string& name, const std::vector<double>& value);
  void attribute(const std::string& name, const std::vector<long>& value);
  // The layout's description of its points as root attributes (a grid: dim, periodic, shape,
  // lower, upper, spacing), in the layout's order.
  void layout_attributes();

  // `owned` is this rank's owned values [n_owned] in the layout's storage order; the dataset has
  // the layout's file dims and dataset attributes. A name is written once.
  void write_field(const std::string& name, const std::vector<double>& owned);
  // The same on another layout of the writer's points on the same communicator, such as a mesh's
  // cells (mesh::PlexMesh::cells(): `owned` [n_owned_cells], dataset [n_cells]).
  void write_field(const std::string& name, const std::vector<double>& owned,
                   const mesh::FieldLayout& layout);
  // Dataset /snapshots/<index as %06ld>/<name>; the first field of an index sets its `time`.
  void write_snapshot(long index, double time, const std::string& name,
                      const std::vector<double>& owned);
  void close();  // also done by the destructor

 private:
  struct Impl;
  Impl* m_impl;
};

// A dataset read whole (natural order) with its shape, on every rank.
struct FileField {
  std::vector<long> shape;  // HDF5 dimension order: [nz, ny, nx]
  std::vector<double> values;
};

// Collective read of a whole dataset. Missing file or dataset, or a non-numeric dataset:
// ConfigError naming both.
FileField read_field(MPI_Comm comm, const std::string& path, const std::string& dataset);

// Collective read of the dims of a numeric dataset (slowest first) without its values. Missing
// file or dataset, or a non-numeric dataset: ConfigError as read_field.
std::vector<long> read_dataset_dims(MPI_Comm comm, const std::string& path,
                                    const std::string& dataset);

// Collective read of this rank's owned values [n_owned] of a dataset whose dims must be the
// layout's file dims (ConfigError "... has shape [..] but the grid is [..]" otherwise).
std::vector<double> read_grid_field(const std::string& path, const std::string& dataset,
                                    const mesh::FieldLayout& layout);

// Names of the datasets directly under a group ("/fields"), sorted. Missing group: ConfigError.
std::vector<std::string> list_datasets(MPI_Comm comm, const std::string& path,
                                       const std::string& group);

}  // namespace karman::io
