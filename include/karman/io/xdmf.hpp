#pragma once
// XDMF 3 sidecar so ParaView (XDMF3 reader) opens a fields file directly: the layout's viewer
// mesh (a structured grid: 3DCoRectMesh with origin and spacing; an unstructured mesh:
// Triangle / Tetrahedron cells and vertices read from the file) whose attributes point at the
// HDF5 datasets; time series become a temporal collection.

#include <string>
#include <vector>

#include "karman/mesh/layout.hpp"

namespace karman::io {

struct XdmfSnapshot {
  long index;
  double time;
};

// `h5_name` is the fields file's name relative to the XDMF file (same folder).
// Written by rank 0 only; the caller passes the names of the fields stored under /fields and,
// for time series, under each /snapshots/<NNNNNN>. Steady fields become a Uniform grid; the
// snapshots a temporal collection beside it. A 1D grid is shown as a single-row 2D mesh "1 nx".
// Not collective: `layout` is asked only for what every rank knows (viewer mesh, file dims).
// Fields are node-centred (Center="Node", the layout's file dims) except those named in
// `cell_fields` (steady or snapshot fields of an unstructured mesh, datasets [n_cells] written on
// mesh::PlexMesh::cells()): Center="Cell" with the viewer mesh's cell count.
// Written to `path`.tmp and renamed over `path`; failures throw ExternalError("filesystem", errno).
void write_xdmf(const std::string& path, const std::string& h5_name,
                const mesh::FieldLayout& layout, const std::vector<std::string>& fields,
                const std::vector<XdmfSnapshot>& snapshots = {},
                const std::vector<std::string>& snapshot_fields = {},
                const std::vector<std::string>& cell_fields = {});

}  // namespace karman::io
