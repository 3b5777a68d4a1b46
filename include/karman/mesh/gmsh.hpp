#pragma once
// What a case reader needs to know about a Gmsh mesh file before PETSc reads it: that it is one,
// its dimension and its named physical groups. Read at validation, so a wrong file, a mesh of the
// wrong dimension or a misspelt boundary part is a one-line error before anything runs.
//
// ASCII MSH 2.2 and 4.1 are read in full here; for a binary file only the text sections are
// (format, physical names), and the dimension is that of its highest physical group.

#include <string>
#include <vector>

#include "karman/core/error.hpp"

namespace karman::mesh {

// A Gmsh physical group: entities of dimension `dim` tagged `tag`, named `name` ("" if unnamed).
// PETSc's reader puts the tags of the (dim−1)-dimensional groups into the DMPlex label
// "Face Sets" and those of the cells into "Cell Sets".
struct GmshPhysicalGroup {
  int dim = 0;
  int tag = 0;
  std::string name;
};

struct GmshHeader {
  std::string version;  // "2.2", "4.1"
  bool binary = false;
  int dim = -1;     // highest dimension of an element (-1: not known)
  long nodes = -1;  // -1: not known (binary)
  std::vector<GmshPhysicalGroup> groups;

  // The named groups of dimension `d`, in file order.
  std::vector<GmshPhysicalGroup> groups_of_dimension(int d) const;
};

// Reads the header sections of `path`. A missing or unreadable file, or one that is not a Gmsh
// mesh: ConfigError at `place` naming the file and what was expected.
GmshHeader read_gmsh_header(const std::string& path, const Place& place);

}  // namespace karman::mesh
