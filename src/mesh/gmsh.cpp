#include "karman/mesh/gmsh.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace karman::mesh {
namespace {

[[noreturn]] void not_a_mesh(const Place& place, const std::string& path, const std::string& why) {
  throw ConfigError(place, "mesh file '" + path + "' is not a Gmsh mesh: " + why);
}

// The dimension of MSH 2.2 element types (the first-order and quadratic simplices and tensor
// cells Gmsh writes); unknown types count as 0.
int element_dimension(int type) {
  static const std::map<int, int> dims{{15, 0}, {1, 1},  {8, 1},  {26, 1}, {2, 2},  {3, 2},
                                       {9, 2},  {10, 2}, {16, 2}, {20, 2}, {21, 2}, {4, 3},
                                       {5, 3},  {6, 3},  {7, 3},  {11, 3}, {12, 3}, {13, 3},
                                       {14, 3}, {17, 3}, {18, 3}, {19, 3}, {29, 3}};
  const auto it = dims.find(type);
  return it == dims.end() ? 0 : it->second;
}

// The count on a section's first line (the rest of the line skipped).
long section_count(std::istream& in) {
  long count = 0;
  in >> count;
  std::string rest;
  std::getline(in, rest);
  return count;
}

// `$PhysicalNames`: a count, then lines `dim tag "name"`.
void read_physical_names(std::istream& in, GmshHeader& header) {
  const long count = section_count(in);
  std::string line;
  for (long i = 0; i < count && std::getline(in, line); ++i) {
    std::istringstream fields(line);
    GmshPhysicalGroup group;
    fields >> group.dim >> group.tag;
    const auto open = line.find('"'), close = line.rfind('"');
    if (open != std::string::npos && close > open)
      group.name = line.substr(open + 1, close - open - 1);
    header.groups.push_back(group);
  }
}

// MSH 4: `$Entities` starts with the number of points, curves, surfaces and volumes.
void read_entities(std::istream& in, GmshHeader& header) {
  long counts[4] = {0, 0, 0, 0};
  in >> counts[0] >> counts[1] >> counts[2] >> counts[3];
  for (int d = 0; d < 4; ++d)
    if (counts[d] > 0) header.dim = d;
}

// MSH 2.2: `$Elements` lists `id type ntags tags... nodes...` per line.
void read_elements_v2(std::istream& in, GmshHeader& header) {
  const long count = section_count(in);
  std::string line;
  for (long i = 0; i < count && std::getline(in, line); ++i) {
    std::istringstream fields(line);
    long id = 0;
    int type = 0;
    fields >> id >> type;
    header.dim = std::max(header.dim, element_dimension(type));
  }
}

}  // namespace

std::vector<GmshPhysicalGroup> GmshHeader::groups_of_dimension(int d) const {
  std::vector<GmshPhysicalGroup> out;
  for (const auto& g : groups)
    if (g.dim == d) out.push_back(g);
  return out;
}

GmshHeader read_gmsh_header(const std::string& path, const Place& place) {
  if (!std::filesystem::is_regular_file(path))
    throw ConfigError(place, "mesh file '" + path + "' does not exist or is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(place, "mesh file '" + path + "' cannot be read");
  std::string line;
  std::getline(in, line);
  if (line.rfind("$MeshFormat", 0) != 0)
    not_a_mesh(place, path, "expected '$MeshFormat' on its first line");
  GmshHeader header;
  int file_type = 0, data_size = 0;
  if (!(in >> header.version >> file_type >> data_size) ||
      (header.version.rfind("2.", 0) != 0 && header.version.rfind("4.", 0) != 0))
    not_a_mesh(place, path, "expected MSH format 2.2 or 4.1 after '$MeshFormat'");
  header.binary = file_type == 1;
  const bool v4 = header.version[0] == '4';
  bool has_nodes = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "$PhysicalNames") {
      read_physical_names(in, header);
    } else if (header.binary) {
      // The remaining sections are binary: stop at the first one.
      if (line == "$Entities" || line == "$Nodes") break;
    } else if (line == "$Entities" && v4) {
      read_entities(in, header);
    } else if (line == "$Nodes") {
      has_nodes = true;
      long blocks = 0;
      if (v4)
        in >> blocks >> header.nodes;
      else
        in >> header.nodes;
    } else if (line == "$Elements" && !v4) {
      read_elements_v2(in, header);
    }
  }
  if (header.binary) {
    for (const auto& g : header.groups) header.dim = std::max(header.dim, g.dim);
    return header;
  }
  if (!has_nodes || header.nodes <= 0) not_a_mesh(place, path, "it has no $Nodes section");
  if (header.dim < 1) not_a_mesh(place, path, "it has no elements of dimension 1 to 3");
  return header;
}

}  // namespace karman::mesh
