// XDMF sidecars: the text names the HDF5 datasets, lists CoRectMesh dimensions, origin and
// spacing slowest first (always 3D, so that ParaView puts x on X), nests snapshots in a temporal
// collection, and is well-formed XML.
#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "karman/core/error.hpp"
#include "karman/io/xdmf.hpp"
#include "karman/mesh/grid.hpp"

using namespace karman;
using karman::mesh::GridShape;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

long count(const std::string& text, const std::string& what) {
  long n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// Element names in order of opening, or "" when a closing tag does not match its opening one.
std::vector<std::string> elements_if_well_formed(const std::string& text) {
  std::vector<std::string> stack, opened;
  for (auto at = text.find('<'); at != std::string::npos; at = text.find('<', at + 1)) {
    const auto end = text.find('>', at);
    if (end == std::string::npos) return {""};
    const std::string tag = text.substr(at + 1, end - at - 1);
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
    const std::string name =
        tag.substr(tag[0] == '/', tag.find_first_of(" />", 1) - (tag[0] == '/'));
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != name) return {""};
      stack.pop_back();
    } else {
      opened.push_back(name);
      if (tag.back() != '/') stack.push_back(name);
    }
  }
  return stack.empty() ? opened : std::vector<std::string>{""};
}

// The XDMF writer takes a layout: the grid's, on this process alone.
mesh::StructuredGrid layout(const GridShape& shape) { return {MPI_COMM_SELF, shape}; }

GridShape grid_2d() {
  GridShape shape;
  shape.dim = 2;
  shape.n = {13, 7, 1};
  shape.lower = {-1.0, 0.5, 0.0};
  shape.upper = {2.0, 3.5, 1.0};  // spacing: dx = 3/12 = 0.25, dy = 3/6 = 0.5
  return shape;
}

}  // namespace

TEST(Xdmf, SteadyFieldsMakeOneUniformGrid) {
  io::write_xdmf("steady.xdmf", "steady.h5", layout(grid_2d()), {"u", "exact"});
  const std::string text = read_text("steady.xdmf");
  EXPECT_FALSE(file_exists("steady.xdmf.tmp"));
  EXPECT_TRUE(contains(text, "<Xdmf Version=\"3.0\">")) << text;
  EXPECT_TRUE(contains(text, "GridType=\"Uniform\"")) << text;
  EXPECT_FALSE(contains(text, "Collection")) << text;
  // A plane one node thick: a 2DCoRectMesh would put x on ParaView's Y axis and y on its Z.
  EXPECT_TRUE(contains(text, "TopologyType=\"3DCoRectMesh\" Dimensions=\"1 7 13\"")) << text;
  EXPECT_TRUE(contains(text, "GeometryType=\"ORIGIN_DXDYDZ\"")) << text;
  // Origin (0, y0, x0) and spacing (dx, dy, dx): slowest first, as the dimensions.
  EXPECT_TRUE(contains(text,
                       "Name=\"Origin\" Dimensions=\"3\" NumberType=\"Float\" "
                       "Precision=\"8\" Format=\"XML\">0 0.5 -1</DataItem>"))
      << text;
  EXPECT_TRUE(contains(text, "Format=\"XML\">0.25 0.5 0.25</DataItem>")) << text;
  EXPECT_TRUE(contains(text, "<Attribute Name=\"u\" AttributeType=\"Scalar\" Center=\"Node\">"));
  EXPECT_TRUE(contains(text,
                       "Dimensions=\"1 7 13\" NumberType=\"Float\" Precision=\"8\" "
                       "Format=\"HDF\">steady.h5:/fields/u</DataItem>"))
      << text;
  EXPECT_TRUE(contains(text, ">steady.h5:/fields/exact</DataItem>")) << text;
  EXPECT_EQ(count(text, "<Attribute "), 2);
  EXPECT_EQ(
      elements_if_well_formed(text),
      (std::vector<std::string>{"Xdmf", "Domain", "Grid", "Topology", "Geometry", "DataItem",
                                "DataItem", "Attribute", "DataItem", "Attribute", "DataItem"}));
}

TEST(Xdmf, SnapshotsMakeATemporalCollection) {
  const std::vector<io::XdmfSnapshot> snapshots{{0, 0.0}, {5, 0.125}, {10, 2.5}};
  io::write_xdmf("series.xdmf", "series.h5", layout(grid_2d()), {}, snapshots, {"u", "v"});
  const std::string text = read_text("series.xdmf");
  EXPECT_EQ(count(text, "GridType=\"Collection\" CollectionType=\"Temporal\""), 1) << text;
  EXPECT_EQ(count(text, "GridType=\"Uniform\""), 3) << text;
  EXPECT_EQ(count(text, "<Time "), 3) << text;
  EXPECT_TRUE(contains(text, "<Time Value=\"0\"/>")) << text;
  EXPECT_TRUE(contains(text, "<Time Value=\"0.125\"/>")) << text;
  EXPECT_TRUE(contains(text, "<Time Value=\"2.5\"/>")) << text;
  for (const char* name : {"000000/u", "000000/v", "000005/u", "000005/v", "000010/u", "000010/v"})
    EXPECT_TRUE(contains(text, std::string(">series.h5:/snapshots/") + name + "</DataItem>"))
        << name;
  EXPECT_FALSE(contains(text, "/fields/")) << text;
  EXPECT_EQ(count(text, "Dimensions=\"1 7 13\""), 3 + 6) << text;  // 3 topologies, 6 attributes
  EXPECT_FALSE(contains(text, "Spatial")) << text;  // no steady fields to carry along
  // Each snapshot's Time comes before its attributes, inside its own grid.
  EXPECT_LT(text.find("<Time Value=\"0.125\"/>"), text.find("/snapshots/000005/u"));
  EXPECT_GT(text.find("<Time Value=\"0.125\"/>"), text.find("/snapshots/000000/v"));
  const auto elements = elements_if_well_formed(text);
  ASSERT_FALSE(elements.empty());
  EXPECT_NE(elements.front(), "") << text;
}

// ParaView's XDMF 3 readers drop a grid without a Time from a file with times: the steady fields
// are a grid "fields" in every step, beside the snapshot's grid, both in a Spatial collection
// that carries the step's Time.
TEST(Xdmf, SteadyFieldsRideAlongInEverySnapshot) {
  io::write_xdmf("both.xdmf", "both.h5", layout(grid_2d()), {"error"}, {{3, 1.0}, {4, 2.0}}, {"u"});
  const std::string text = read_text("both.xdmf");
  EXPECT_EQ(count(text, "CollectionType=\"Temporal\""), 1) << text;
  EXPECT_LT(text.find("CollectionType=\"Temporal\""), text.find("/fields/error"));
  EXPECT_EQ(count(text, "GridType=\"Collection\" CollectionType=\"Spatial\""), 2) << text;
  EXPECT_EQ(count(text, "<Grid Name=\"fields\" GridType=\"Uniform\">"), 2) << text;
  EXPECT_EQ(count(text, ">both.h5:/fields/error</DataItem>"), 2) << text;
  EXPECT_TRUE(contains(text, ">both.h5:/snapshots/000003/u</DataItem>")) << text;
  EXPECT_TRUE(contains(text, ">both.h5:/snapshots/000004/u</DataItem>")) << text;
  EXPECT_EQ(count(text, "<Time "), 2) << text;
  // Step 4's Time comes after step 3's grids and before its own.
  EXPECT_LT(text.find("/snapshots/000003/u"), text.find("<Time Value=\"2\"/>"));
  EXPECT_LT(text.find("<Time Value=\"2\"/>"), text.find("/snapshots/000004/u"));
  EXPECT_NE(elements_if_well_formed(text).front(), "") << text;
}

TEST(Xdmf, ThreeDimensionsAreSlowestFirst) {
  GridShape shape;
  shape.dim = 3;
  shape.n = {5, 4, 3};
  shape.lower = {1.0, 2.0, 3.0};
  shape.upper = {2.0, 5.0, 4.0};  // dx = 0.25, dy = 1, dz = 0.5
  io::write_xdmf("cube.xdmf", "cube.h5", layout(shape), {"u"});
  const std::string text = read_text("cube.xdmf");
  EXPECT_TRUE(contains(text, "TopologyType=\"3DCoRectMesh\" Dimensions=\"3 4 5\"")) << text;
  EXPECT_TRUE(contains(text, "GeometryType=\"ORIGIN_DXDYDZ\"")) << text;
  EXPECT_TRUE(contains(text,
                       "Dimensions=\"3\" NumberType=\"Float\" Precision=\"8\" "
                       "Format=\"XML\">3 2 1</DataItem>"))
      << text;
  EXPECT_TRUE(contains(text, "Format=\"XML\">0.5 1 0.25</DataItem>")) << text;
  EXPECT_TRUE(contains(text,
                       "Dimensions=\"3 4 5\" NumberType=\"Float\" Precision=\"8\" "
                       "Format=\"HDF\">cube.h5:/fields/u</DataItem>"))
      << text;
}

TEST(Xdmf, OneDimensionIsASingleRowOfABox) {
  GridShape shape;
  shape.dim = 1;
  shape.n = {11, 1, 1};
  shape.lower = {0.0, 0.0, 0.0};
  shape.upper = {1.0, 1.0, 1.0};
  io::write_xdmf("line.xdmf", "line.h5", layout(shape), {"u"});
  const std::string text = read_text("line.xdmf");
  EXPECT_TRUE(contains(text, "TopologyType=\"3DCoRectMesh\" Dimensions=\"1 1 11\"")) << text;
  EXPECT_TRUE(contains(text, "Format=\"XML\">0 0 0</DataItem>")) << text;
  EXPECT_TRUE(contains(text, "Format=\"XML\">0.1 0.1 0.1</DataItem>")) << text;
  EXPECT_TRUE(contains(text,
                       "<DataItem Dimensions=\"1 1 11\" NumberType=\"Float\" Precision=\"8\" "
                       "Format=\"HDF\">line.h5:/fields/u</DataItem>"))
      << text;
}

TEST(Xdmf, NamesAreEscaped) {
  io::write_xdmf("escape.xdmf", "a&b.h5", layout(grid_2d()), {"x<y"});
  const std::string text = read_text("escape.xdmf");
  EXPECT_TRUE(contains(text, "Name=\"x&lt;y\"")) << text;
  EXPECT_TRUE(contains(text, ">a&amp;b.h5:/fields/x&lt;y</DataItem>")) << text;
}

TEST(Xdmf, RewriteReplacesTheFile) {
  io::write_xdmf("rewrite.xdmf", "first.h5", layout(grid_2d()), {"u"});
  io::write_xdmf("rewrite.xdmf", "second.h5", layout(grid_2d()), {"u"});
  const std::string text = read_text("rewrite.xdmf");
  EXPECT_FALSE(contains(text, "first.h5")) << text;
  EXPECT_TRUE(contains(text, "second.h5:/fields/u")) << text;
}

TEST(Xdmf, UnwritableFolderIsAFilesystemError) {
  try {
    io::write_xdmf("no/such/folder/x.xdmf", "x.h5", layout(grid_2d()), {"u"});
    ADD_FAILURE() << "wrote into a missing folder";
  } catch (const ExternalError& e) {
    EXPECT_EQ(e.code(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("filesystem error"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no/such/folder/x.xdmf.tmp"), std::string::npos)
        << e.what();
  }
}
