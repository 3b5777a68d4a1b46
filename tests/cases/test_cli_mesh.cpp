// `karman run` on unstructured meshes (kind reference with `mesh:`): the same case on 1, 2 and 4
// ranks gives the same field by global vertex number (to 1e-10 relative) and the same per-cell
// coefficient by global cell number (both values of the thresholded field present), `karman
// compare` reads both kinds of field, the report describes the mesh and its partition, and the
// fields file carries the mesh an XDMF reader needs; `karman info --mesh` describes a mesh file.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "karman/io/hdf5.hpp"
#include "support/cli.hpp"
#include "support/mpi_world.hpp"
#include "support/report_checks.hpp"

namespace {

using namespace karman;
using namespace karman::test;

// Darcy on the square with a thresholded random (per-cell) coefficient, P2, tight tolerance.
std::string darcy_case(const std::string& mesh) {
  return "name: darcy_mesh\n"
         "kind: reference\n"
         "pde:\n"
         "  type: darcy\n"
         "  source: \"1\"\n"
         "  coefficient: {random: {alpha: 2, tau: 3, seed: 4, threshold: {value: 0, above: 12, "
         "below: 3}}}\n"
         "mesh:\n"
         "  file: " +
         mesh +
         "\n"
         "  order: 2\n"
         "conditions:\n"
         "  - {type: dirichlet, on: [left, right], value: 0}\n"
         "  - {type: neumann, on: [bottom, top], value: \"0.5*x\"}\n"
         "solver: {ksp: cg, pc: gamg, rtol: 1.0e-13}\n";
}

TEST(CliMesh, SameFieldOnOneTwoAndFourRanks) {
  const fs::path dir = test_folder();
  write_text(dir / "darcy.yaml", darcy_case((source_dir() / "meshes" / "square.msh").string()));
  std::vector<double> one, one_coefficient;
  for (int ranks : {0, 2, 4}) {
    const std::string out = "out" + std::to_string(ranks);
    const CliResult r = run_karman(dir, {"run", "darcy.yaml", "--output", out, "--quiet"}, ranks);
    ASSERT_EQ(r.status, 0) << r;
    const nlohmann::json report = report_of(dir / out);
    const auto& mesh = report.at("mesh");
    const auto owned = mesh.at("partition").at("owned_vertices").get<std::vector<long>>();
    EXPECT_EQ(owned.size(), static_cast<std::size_t>(std::max(ranks, 1)));
    long total = 0;
    for (long n : owned) total += n;
    EXPECT_EQ(total, mesh.at("vertices").get<long>());
    const io::FileField u =
        io::read_field(MPI_COMM_SELF, (dir / out / "fields.h5").string(), "/fields/reference");
    ASSERT_EQ(u.shape, std::vector<long>{mesh.at("vertices").get<long>()});
    const io::FileField a =
        io::read_field(MPI_COMM_SELF, (dir / out / "fields.h5").string(), "/fields/coefficient");
    ASSERT_EQ(a.shape, std::vector<long>{mesh.at("cells").get<long>()});
    EXPECT_EQ(std::set<double>(a.values.begin(), a.values.end()), (std::set<double>{3.0, 12.0}));
    if (one.empty()) {
      one = u.values;
      one_coefficient = a.values;
      continue;
    }
    EXPECT_EQ(a.values, one_coefficient) << ranks << " ranks";
    double diff = 0.0, norm = 0.0;
    for (std::size_t i = 0; i < one.size(); ++i) {
      diff = std::max(diff, std::abs(u.values[i] - one[i]));
      norm = std::max(norm, std::abs(one[i]));
    }
    EXPECT_LT(diff / norm, 1e-10) << ranks << " ranks";
    std::cout << ranks << " ranks: max |u - u_1| / max |u_1| = " << diff / norm << "\n";
  }
  // Another partitioner from the command line, and `karman compare` on two runs of one mesh.
  const CliResult simple = run_karman(
      dir,
      {"run", "darcy.yaml", "--output", "simple", "--quiet", "-petscpartitioner_type", "simple"},
      2);
  ASSERT_EQ(simple.status, 0) << simple;
  const CliResult compared =
      run_karman(dir, {"compare", "simple/fields.h5", "out0/fields.h5", "--field", "reference"});
  ASSERT_EQ(compared.status, 0) << compared;
  const auto lines = nonempty_lines(compared.out);
  ASSERT_EQ(lines.size(), 2u) << compared;
  std::istringstream row(lines[1]);
  std::string name;
  long n = 0;
  double rel_l2 = 1.0;
  row >> name >> n >> rel_l2;
  EXPECT_EQ(name, "reference") << compared;
  EXPECT_LT(rel_l2, 1e-10) << compared;
  const std::string xdmf = read_text(dir / "out0" / "fields.xdmf");
  EXPECT_NE(xdmf.find("TopologyType=\"Triangle\""), std::string::npos) << xdmf;
  EXPECT_NE(xdmf.find("fields.h5:/mesh/cells"), std::string::npos) << xdmf;
  EXPECT_NE(xdmf.find("<Attribute Name=\"coefficient\" AttributeType=\"Scalar\" Center=\"Cell\">"),
            std::string::npos)
      << xdmf;
  // `karman compare` reads per-vertex and per-cell datasets alike, by row.
  const CliResult all = run_karman(dir, {"compare", (dir / "out2" / "fields.h5").string(),
                                         (dir / "out0" / "fields.h5").string()});
  ASSERT_EQ(all.status, 0) << all;
  std::set<std::string> seen;
  for (const std::string& line : nonempty_lines(all.out)) {
    std::istringstream in(line);
    std::string field, shape, field_rel_l2;
    in >> field >> shape >> field_rel_l2;
    if (field != "coefficient" && field != "reference") continue;
    seen.insert(field);
    if (field == "coefficient")
      EXPECT_EQ(std::stod(field_rel_l2), 0.0) << all;  // the same value per cell on any rank count
    else
      EXPECT_LT(std::stod(field_rel_l2), 1e-10) << all;
  }
  EXPECT_EQ(seen, (std::set<std::string>{"coefficient", "reference"})) << all;
}

// `karman info --mesh` describes a mesh file as PETSc reads it and splits it on the run's ranks.
TEST(CliMesh, InfoDescribesTheMeshAndItsPartition) {
  const fs::path dir = test_folder();
  const std::string holes = (source_dir() / "meshes" / "holes.msh").string();
  const CliResult r = run_karman(dir, {"info", "--mesh", holes}, 2);
  ASSERT_EQ(r.status, 0) << r;
  for (const std::string piece :
       {"2D, 1330 triangles, 731 vertices", "boundary outer (physical tag 1",
        "boundary holes (physical tag 2", "region   domain",
        "partition over 2 rank(s) (ptscotch): owned cells "})
    EXPECT_NE(r.out.find(piece), std::string::npos) << piece << "\n" << r;
  const CliResult missing = run_karman(dir, {"info", "--mesh", "nothere.msh"});
  EXPECT_EQ(missing.status, 1) << missing;
  EXPECT_NE(missing.err.find("mesh file 'nothere.msh' does not exist"), std::string::npos)
      << missing;
}

}  // namespace
