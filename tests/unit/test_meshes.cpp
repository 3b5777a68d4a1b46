// The committed meshes of meshes/ (made by tools/mesh from the .geo sources), read by PETSc's
// Gmsh reader as the cases will read them: the dimension and cell type, a small cell count, the
// bounding box, the physical groups as labels (by tag in "Face Sets" / "Cell Sets", by name with
// -dm_plex_gmsh_use_regions), the named boundary parts splitting the boundary faces exactly, and
// every vertex of a part where meshes/README.md says that part is.
#include <gtest/gtest.h>
#include <petscdmplex.h>

#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "petsc/check.hpp"
#include "petsc/handle.hpp"

namespace {

using Point = std::array<double, 3>;
using Where = std::function<bool(const Point&)>;

struct Part {
  std::string name;
  PetscInt tag;
  Where where;  // holds at every vertex of the part's faces
};

struct MeshSpec {
  std::string name;
  PetscInt dim;
  DMPolytopeType cell;
  Point lower, upper;    // bounding box; the third entry is 0 in 2D
  double box_tolerance;  // a curved boundary's vertices lie on it, its extremes may not be vertices
  std::vector<Part> parts;
};

// gtest names a failing case by its mesh, not by the bytes of the spec.
void PrintTo(const MeshSpec& spec, std::ostream* out) { *out << spec.name; }

constexpr PetscInt kDomainTag = 100;
constexpr double kTol = 1e-9;

bool near(double a, double b) { return std::abs(a - b) < kTol; }
bool within(double v, double lo, double hi) { return v > lo - kTol && v < hi + kTol; }
double radius(const Point& p, double cx, double cy, double cz = 0.0) {
  return std::hypot(p[0] - cx, p[1] - cy, p[2] - cz);
}
// The three holes of meshes/holes.geo: centre and radius.
bool on_a_hole(const Point& p) {
  return near(radius(p, 0.3, 0.3), 0.1) || near(radius(p, 0.7, 0.35), 0.12) ||
         near(radius(p, 0.45, 0.72), 0.1);
}
bool on_unit_square_side(const Point& p) {
  return near(p[0], 0) || near(p[0], 1) || near(p[1], 0) || near(p[1], 1);
}

std::vector<MeshSpec> specs() {
  const auto tri = DM_POLYTOPE_TRIANGLE, tet = DM_POLYTOPE_TETRAHEDRON;
  return {
      {"square",
       2,
       tri,
       {0, 0, 0},
       {1, 1, 0},
       0,
       {{"left", 1, [](const Point& p) { return near(p[0], 0); }},
        {"right", 2, [](const Point& p) { return near(p[0], 1); }},
        {"bottom", 3, [](const Point& p) { return near(p[1], 0); }},
        {"top", 4, [](const Point& p) { return near(p[1], 1); }}}},
      {"disk",
       2,
       tri,
       {-1, -1, 0},
       {1, 1, 0},
       0.01,
       {{"boundary", 1, [](const Point& p) { return near(radius(p, 0, 0), 1); }}}},
      {"lshape",
       2,
       tri,
       {-1, -1, 0},
       {1, 1, 0},
       0,
       {{"outer", 1,
         [](const Point& p) {
           return near(p[0], -1) || near(p[0], 1) || near(p[1], -1) || near(p[1], 1);
         }},
        {"reentrant", 2,
         [](const Point& p) {
           return (near(p[0], 0) && within(p[1], -1, 0)) || (near(p[1], 0) && within(p[0], 0, 1));
         }}}},
      {"holes",
       2,
       tri,
       {0, 0, 0},
       {1, 1, 0},
       0,
       {{"outer", 1, on_unit_square_side}, {"holes", 2, on_a_hole}}},
      {"ushape",
       2,
       tri,
       {0, 0, 0},
       {3, 2, 0},
       0,
       {{"inflow", 1, [](const Point& p) { return near(p[1], 2) && within(p[0], 0, 1); }},
        {"outflow", 2, [](const Point& p) { return near(p[1], 2) && within(p[0], 2, 3); }},
        {"walls", 3,
         [](const Point& p) {
           const bool outside = near(p[0], 0) || near(p[0], 3) || near(p[1], 0);
           const bool slot = (near(p[0], 1) || near(p[0], 2)) && within(p[1], 0.8, 2);
           return outside || slot || (near(p[1], 0.8) && within(p[0], 1, 2));
         }}}},
      {"box",
       3,
       tet,
       {0, 0, 0},
       {1, 1, 1},
       0,
       {{"xmin", 1, [](const Point& p) { return near(p[0], 0); }},
        {"xmax", 2, [](const Point& p) { return near(p[0], 1); }},
        {"ymin", 3, [](const Point& p) { return near(p[1], 0); }},
        {"ymax", 4, [](const Point& p) { return near(p[1], 1); }},
        {"zmin", 5, [](const Point& p) { return near(p[2], 0); }},
        {"zmax", 6, [](const Point& p) { return near(p[2], 1); }}}},
      {"ball",
       3,
       tet,
       {-1, -1, -1},
       {1, 1, 1},
       0.05,
       {{"surface", 1, [](const Point& p) { return near(radius(p, 0, 0, 0), 1); }}}},
  };
}

std::string mesh_path(const std::string& name) {
  return std::string(KARMAN_SOURCE_DIR) + "/meshes/" + name + ".msh";
}

// The mesh as the Gmsh reader makes it; `by_name` labels the physical groups by their names.
karman::petsc::DM read_mesh(const std::string& name, bool by_name) {
  if (by_name) KARMAN_PETSC(PetscOptionsSetValue(nullptr, "-dm_plex_gmsh_use_regions", "1"));
  karman::petsc::DM dm;
  const PetscErrorCode code =
      DMPlexCreateGmshFromFile(PETSC_COMM_SELF, mesh_path(name).c_str(), PETSC_TRUE, dm.out());
  if (by_name) KARMAN_PETSC(PetscOptionsClearValue(nullptr, "-dm_plex_gmsh_use_regions"));
  KARMAN_PETSC(code);
  return dm;
}

// The values of a label, with the number of points of each.
std::map<PetscInt, PetscInt> label_strata(DM dm, const char* name) {
  std::map<PetscInt, PetscInt> out;
  DMLabel label;
  KARMAN_PETSC(DMGetLabel(dm, name, &label));
  if (!label) return out;
  IS values;
  KARMAN_PETSC(DMLabelGetValueIS(label, &values));
  PetscInt n;
  const PetscInt* v;
  KARMAN_PETSC(ISGetLocalSize(values, &n));
  KARMAN_PETSC(ISGetIndices(values, &v));
  for (PetscInt i = 0; i < n; ++i) KARMAN_PETSC(DMLabelGetStratumSize(label, v[i], &out[v[i]]));
  KARMAN_PETSC(ISRestoreIndices(values, &v));
  KARMAN_PETSC(ISDestroy(&values));
  return out;
}

std::vector<PetscInt> stratum_points(DM dm, const char* label, PetscInt value) {
  IS is;
  KARMAN_PETSC(DMGetStratumIS(dm, label, value, &is));
  std::vector<PetscInt> out;
  if (!is) return out;
  PetscInt n;
  const PetscInt* p;
  KARMAN_PETSC(ISGetLocalSize(is, &n));
  KARMAN_PETSC(ISGetIndices(is, &p));
  out.assign(p, p + n);
  KARMAN_PETSC(ISRestoreIndices(is, &p));
  KARMAN_PETSC(ISDestroy(&is));
  return out;
}

// The coordinates of the vertices of a face (the third entry 0 in 2D).
std::vector<Point> face_vertices(DM dm, PetscInt face) {
  DM cdm;
  PetscSection section;
  Vec coordinates;
  PetscInt dim, n = 0;
  PetscScalar* values = nullptr;
  KARMAN_PETSC(DMGetCoordinateDim(dm, &dim));
  KARMAN_PETSC(DMGetCoordinateDM(dm, &cdm));
  KARMAN_PETSC(DMGetLocalSection(cdm, &section));
  KARMAN_PETSC(DMGetCoordinatesLocal(dm, &coordinates));
  KARMAN_PETSC(DMPlexVecGetClosure(cdm, section, coordinates, face, &n, &values));
  std::vector<Point> out;
  for (PetscInt i = 0; i + dim <= n; i += dim) {
    Point p{0, 0, 0};
    for (PetscInt d = 0; d < dim; ++d) p[d] = PetscRealPart(values[i + d]);
    out.push_back(p);
  }
  KARMAN_PETSC(DMPlexVecRestoreClosure(cdm, section, coordinates, face, &n, &values));
  return out;
}

class Meshes : public ::testing::TestWithParam<MeshSpec> {};

TEST_P(Meshes, CellsAndBoxAreTheDocumentedOnes) {
  const MeshSpec& spec = GetParam();
  const karman::petsc::DM dm = read_mesh(spec.name, false);
  PetscInt dim, c_start, c_end;
  KARMAN_PETSC(DMGetDimension(dm, &dim));
  ASSERT_EQ(dim, spec.dim);
  KARMAN_PETSC(DMPlexGetHeightStratum(dm, 0, &c_start, &c_end));
  const PetscInt cells = c_end - c_start;
  EXPECT_GE(cells, 200);  // small: the tests and cases that use them run in seconds
  EXPECT_LE(cells, 2000);
  for (PetscInt c = c_start; c < c_end; ++c) {
    DMPolytopeType type;
    KARMAN_PETSC(DMPlexGetCellType(dm, c, &type));
    ASSERT_EQ(type, spec.cell) << "cell " << c;
  }
  PetscReal lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
  KARMAN_PETSC(DMGetBoundingBox(dm, lo, hi));
  for (int d = 0; d < spec.dim; ++d) {
    EXPECT_NEAR(lo[d], spec.lower[d], spec.box_tolerance + kTol) << "dimension " << d;
    EXPECT_NEAR(hi[d], spec.upper[d], spec.box_tolerance + kTol) << "dimension " << d;
  }
  // Every cell is in the domain group; the faces carry exactly the boundary parts' tags.
  EXPECT_EQ(label_strata(dm, "Cell Sets"), (std::map<PetscInt, PetscInt>{{kDomainTag, cells}}));
  std::set<PetscInt> tags;
  for (const auto& [value, size] : label_strata(dm, "Face Sets")) tags.insert(value);
  std::set<PetscInt> expected;
  for (const Part& part : spec.parts) expected.insert(part.tag);
  EXPECT_EQ(tags, expected);
}

TEST_P(Meshes, NamedPartsSplitTheBoundaryWhereDocumented) {
  const MeshSpec& spec = GetParam();
  const karman::petsc::DM dm = read_mesh(spec.name, true);
  PetscInt f_start, f_end, c_start, c_end;
  KARMAN_PETSC(DMPlexGetHeightStratum(dm, 1, &f_start, &f_end));
  KARMAN_PETSC(DMPlexGetHeightStratum(dm, 0, &c_start, &c_end));
  EXPECT_EQ(label_strata(dm, "domain"),
            (std::map<PetscInt, PetscInt>{{kDomainTag, c_end - c_start}}));
  std::set<PetscInt> boundary;  // faces of one cell
  for (PetscInt f = f_start; f < f_end; ++f) {
    PetscInt support;
    KARMAN_PETSC(DMPlexGetSupportSize(dm, f, &support));
    if (support == 1) boundary.insert(f);
  }
  std::map<PetscInt, int> times_labelled;
  for (const Part& part : spec.parts) {
    SCOPED_TRACE(spec.name + ": " + part.name);
    const auto strata = label_strata(dm, part.name.c_str());
    ASSERT_EQ(strata.size(), 1u) << "label " << part.name << " missing or with several values";
    EXPECT_EQ(strata.begin()->first, part.tag);
    const auto faces = stratum_points(dm, part.name.c_str(), part.tag);
    EXPECT_GE(faces.size(), 4u);
    for (PetscInt face : faces) {
      ASSERT_TRUE(face >= f_start && face < f_end) << "point " << face << " is not a face";
      ++times_labelled[face];
      for (const Point& p : face_vertices(dm, face))
        ASSERT_TRUE(part.where(p)) << "vertex (" << p[0] << ", " << p[1] << ", " << p[2] << ")";
    }
  }
  // Each boundary face in exactly one part, and no interior face in any.
  for (const auto& [face, times] : times_labelled) {
    EXPECT_TRUE(boundary.count(face)) << spec.name << ": interior face " << face << " in a part";
    EXPECT_EQ(times, 1) << spec.name << ": face " << face << " in " << times << " parts";
  }
  EXPECT_EQ(times_labelled.size(), boundary.size()) << spec.name << ": boundary faces left out";
}

INSTANTIATE_TEST_SUITE_P(Committed, Meshes, ::testing::ValuesIn(specs()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
