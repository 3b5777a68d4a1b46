// XDMF 3 sidecar text for a fields file; the topology and geometry come from the layout's viewer
// mesh. Everything XDMF says about a CoRectMesh is slowest first, matching the HDF5 datasets:
// Dimensions "nz ny nx", Origin "z0 y0 x0", Spacing "dz dy dx" (2D: "1 ny nx", "0 y0 x0",
// "dx dy dx"; see mesh::uniform_box_mesh).
#include "karman/io/xdmf.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "karman/core/error.hpp"

namespace karman::io {
namespace {

// Shortest text that reads back as the same double.
std::string number(double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

// Field and file names go into attribute values and element text.
std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// The mesh part of every grid, as XDMF text.
struct Mesh {
  std::string topology;  // TopologyType: 3DCoRectMesh
  std::string geometry;  // GeometryType: ORIGIN_DXDYDZ
  std::string dims;      // topology dims, slowest first: "1 ny nx"
  std::vector<std::pair<std::string, std::vector<double>>> items;  // Origin, Spacing, ...
  std::string data_dims;  // Dimensions of an attribute's DataItem (the dataset's dims)
  // Unstructured: HDF5 paths and dims of the cells and vertex coordinates (empty for a grid).
  std::string topology_dataset, geometry_dataset;
  std::vector<long> topology_dataset_dims, geometry_dataset_dims;
  std::vector<std::string> cell_fields;  // names of the per-cell fields, [n_cells] datasets
};

std::string joined(const std::vector<long>& values) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? " " : "") + std::to_string(values[i]);
  return out;
}

std::string joined(const std::vector<double>& values) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? " " : "") + number(values[i]);
  return out;
}

// A grid's datasets ([ny, nx], [nx]) have fewer dims than its 3D viewer mesh ("1 ny nx"): its
// attribute DataItems take the mesh's dims, which ParaView's XDMF 3 readers accept (they read the
// whole dataset) and its legacy XDMF reader needs (it misreads an item of lower rank). Other
// meshes keep the dataset's own dims.
Mesh describe(const mesh::FieldLayout& layout, const std::vector<std::string>& cell_fields) {
  const mesh::ViewerMesh viewer = layout.viewer_mesh();
  const bool grid = viewer.topology_type.find("CoRectMesh") != std::string::npos;
  KARMAN_VERIFY(cell_fields.empty() || !viewer.topology_dataset.empty(),
                "write_xdmf: per-cell fields on a mesh without cells in the file");
  Mesh mesh;
  mesh.topology = viewer.topology_type;
  mesh.geometry = viewer.geometry_type;
  mesh.dims = joined(viewer.topology_dims);
  mesh.items = viewer.geometry;
  mesh.data_dims = grid ? mesh.dims : joined(layout.file_dims());
  mesh.topology_dataset = viewer.topology_dataset;
  mesh.geometry_dataset = viewer.geometry_dataset;
  mesh.topology_dataset_dims = viewer.topology_dataset_dims;
  mesh.geometry_dataset_dims = viewer.geometry_dataset_dims;
  mesh.cell_fields = cell_fields;
  return mesh;
}

std::string xml_item(const std::string& name, int count, const std::string& values) {
  return "<DataItem Name=\"" + name + "\" Dimensions=\"" + std::to_string(count) +
         "\" NumberType=\"Float\" Precision=\"8\" Format=\"XML\">" + values + "</DataItem>";
}

std::string hdf_item(const std::vector<long>& dims, const char* number_type,
                     const std::string& h5_name, const std::string& dataset) {
  return "<DataItem Dimensions=\"" + joined(dims) + "\" NumberType=\"" + number_type +
         "\" Precision=\"8\" Format=\"HDF\">" + escape(h5_name) + ":" + dataset + "</DataItem>";
}

// Cells and vertices read from the fields file (Triangle / Tetrahedron with XY / XYZ).
void unstructured_topology_and_geometry(std::ostream& out, const std::string& pad, const Mesh& mesh,
                                        const std::string& h5_name) {
  out << pad << "<Topology TopologyType=\"" << mesh.topology << "\" NumberOfElements=\""
      << mesh.topology_dataset_dims.at(0) << "\">\n";
  out << pad << "  " << hdf_item(mesh.topology_dataset_dims, "Int", h5_name, mesh.topology_dataset)
      << "\n";
  out << pad << "</Topology>\n";
  out << pad << "<Geometry GeometryType=\"" << mesh.geometry << "\">\n";
  out << pad << "  "
      << hdf_item(mesh.geometry_dataset_dims, "Float", h5_name, mesh.geometry_dataset) << "\n";
  out << pad << "</Geometry>\n";
}

void topology_and_geometry(std::ostream& out, const std::string& pad, const Mesh& mesh,
                           const std::string& h5_name) {
  if (!mesh.topology_dataset.empty())
    return unstructured_topology_and_geometry(out, pad, mesh, h5_name);
  out << pad << "<Topology TopologyType=\"" << mesh.topology << "\" Dimensions=\"" << mesh.dims
      << "\"/>\n";
  out << pad << "<Geometry GeometryType=\"" << mesh.geometry << "\">\n";
  for (const auto& [name, values] : mesh.items)
    out << pad << "  " << xml_item(name, static_cast<int>(values.size()), joined(values)) << "\n";
  out << pad << "</Geometry>\n";
}

// One scalar per field, read from `<h5_name>:<group>/<field>`: node-centred, or cell-centred
// with one value per row of the topology dataset (ParaView keeps the cells in that order).
void attributes(std::ostream& out, const std::string& pad, const Mesh& mesh,
                const std::string& h5_name, const std::string& group,
                const std::vector<std::string>& fields) {
  for (const std::string& field : fields) {
    const bool per_cell = std::find(mesh.cell_fields.begin(), mesh.cell_fields.end(), field) !=
                          mesh.cell_fields.end();
    out << pad << "<Attribute Name=\"" << escape(field) << "\" AttributeType=\"Scalar\" Center=\""
        << (per_cell ? "Cell" : "Node") << "\">\n";
    out << pad << "  <DataItem Dimensions=\""
        << (per_cell ? std::to_string(mesh.topology_dataset_dims.at(0)) : mesh.data_dims)
        << "\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">" << escape(h5_name) << ":"
        << group << "/" << escape(field) << "</DataItem>\n";
    out << pad << "</Attribute>\n";
  }
}

// A Uniform grid; `time` (may be null) makes it one step of a temporal collection.
void uniform_grid(std::ostream& out, const std::string& pad, const std::string& name,
                  const Mesh& mesh, const double* time, const std::string& h5_name,
                  const std::string& group, const std::vector<std::string>& fields) {
  out << pad << "<Grid Name=\"" << name << "\" GridType=\"Uniform\">\n";
  if (time) out << pad << "  <Time Value=\"" << number(*time) << "\"/>\n";
  topology_and_geometry(out, pad + "  ", mesh, h5_name);
  attributes(out, pad + "  ", mesh, h5_name, group, fields);
  out << pad << "</Grid>\n";
}

// ParaView's XDMF 3 readers drop every grid without a Time once a file has times, so steady
// fields (if any) go into each step: a Spatial collection at that time of the snapshot's grid
// and the grid "fields".
void temporal_collection(std::ostream& out, const std::string& pad, const Mesh& mesh,
                         const std::string& h5_name, const std::vector<XdmfSnapshot>& snapshots,
                         const std::vector<std::string>& fields,
                         const std::vector<std::string>& steady_fields) {
  out << pad << "<Grid Name=\"snapshots\" GridType=\"Collection\" CollectionType=\"Temporal\">\n";
  for (const XdmfSnapshot& snapshot : snapshots) {
    KARMAN_VERIFY(snapshot.index >= 0, "write_xdmf: negative snapshot index");
    char label[32];
    std::snprintf(label, sizeof label, "%06ld", snapshot.index);
    const std::string name = std::string("snapshot_") + label,
                      group = std::string("/snapshots/") + label;
    if (steady_fields.empty()) {
      uniform_grid(out, pad + "  ", name, mesh, &snapshot.time, h5_name, group, fields);
      continue;
    }
    out << pad << "  <Grid Name=\"step_" << label
        << "\" GridType=\"Collection\" CollectionType=\"Spatial\">\n";
    out << pad << "    <Time Value=\"" << number(snapshot.time) << "\"/>\n";
    uniform_grid(out, pad + "    ", name, mesh, nullptr, h5_name, group, fields);
    uniform_grid(out, pad + "    ", "fields", mesh, nullptr, h5_name, "/fields", steady_fields);
    out << pad << "  </Grid>\n";
  }
  out << pad << "</Grid>\n";
}

[[noreturn]] void filesystem_error(int code, const std::string& what, const std::string& path) {
  throw ExternalError("filesystem", code, what + " '" + path + "'");
}

// Readers never see a half-written file: write a temporary, then rename it over `path`.
void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) filesystem_error(errno, "cannot create", tmp);
  out << text;
  out.close();
  if (!out) {
    const int code = errno;
    std::remove(tmp.c_str());
    filesystem_error(code, "cannot write", tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int code = errno;
    std::remove(tmp.c_str());
    filesystem_error(code, "cannot rename '" + tmp + "' to", path);
  }
}

}  // namespace

// Steady fields become a Uniform grid "fields"; snapshots a temporal collection, whose every step
// also holds the steady fields when there are any (ParaView shows two blocks, the steady one
// constant in time).
void write_xdmf(const std::string& path, const std::string& h5_name,
                const mesh::FieldLayout& layout, const std::vector<std::string>& fields,
                const std::vector<XdmfSnapshot>& snapshots,
                const std::vector<std::string>& snapshot_fields,
                const std::vector<std::string>& cell_fields) {
  const Mesh mesh = describe(layout, cell_fields);
  std::ostringstream out;
  out << "<?xml version=\"1.0\" ?>\n";
  out << "<Xdmf Version=\"3.0\">\n";
  out << "  <Domain>\n";
  if (snapshots.empty())
    uniform_grid(out, "    ", "fields", mesh, nullptr, h5_name, "/fields", fields);
  else
    temporal_collection(out, "    ", mesh, h5_name, snapshots, snapshot_fields, fields);
  out << "  </Domain>\n";
  out << "</Xdmf>\n";
  write_atomically(path, out.str());
}

}  // namespace karman::io
