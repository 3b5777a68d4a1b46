#pragma once
// XDMF 3 sidecar so ParaView (XDMF3 reader) opens a fields file directly: the layout's viewer
// mesh (a structured grid: CoRectMesh / 3DCoRectMesh with origin and spacing) whose attributes
// point at the HDF5 datasets; time series become a temporal collection.

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
// Written to `path`.tmp and renamed over `path`; failures throw ExternalError("filesystem", errno).
void write_xdmf(const std::string& path, const std::string& h5_name,
                const mesh::FieldLayout& layout, const std::vector<std::string>& fields,
                const std::vector<XdmfSnapshot>& snapshots = {},
                const std::vector<std::string>& snapshot_fields = {});

}  // namespace karman::io
