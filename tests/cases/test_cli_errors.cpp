// End-to-end tests of `karman` on bad input. Each bad input must give exactly one non-empty line
// on stderr naming the place (file:line:col, the --set text or the path) and what was expected,
// exit status 1, no crash, and no partial output: a good run is made into the output folder
// first, and the bad run with the same --output must leave every file there (and in the test's
// folder) untouched, with no new files, hidden temporaries included.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <tuple>

#include "support/cli.hpp"

namespace {

using namespace karman::test;

// 2D Poisson on a small grid; line numbers below refer to this text.
const std::string kPoisson =
    "name: base\n"                                // 1
    "kind: reference\n"                           // 2
    "pde:\n"                                      // 3
    "  type: poisson\n"                           // 4
    "  source: \"2*pi^2*sin(pi*x)*sin(pi*y)\"\n"  // 5
    "  exact: \"sin(pi*x)*sin(pi*y)\"\n"          // 6
    "grid:\n"                                     // 7
    "  dim: 2\n"                                  // 8
    "  n: 17\n"                                   // 9
    "solver:\n"                                   // 10
    "  ksp: cg\n"                                 // 11
    "  pc: gamg\n"                                // 12
    "  rtol: 1.0e-10\n";                          // 13

// 2D Darcy with a smooth coefficient; line 6 is the coefficient.
const std::string kDarcy =
    "name: darcy\n"                 // 1
    "kind: reference\n"             // 2
    "pde:\n"                        // 3
    "  type: darcy\n"               // 4
    "  source: \"1\"\n"             // 5
    "  coefficient: \"1 + x*y\"\n"  // 6
    "grid:\n"                       // 7
    "  n: 17\n";                    // 8

// Steady Navier–Stokes, a small lid-driven cavity; line 5 is nu, line 6 the velocity.
const std::string kCavity =
    "name: cavity\n"                                   // 1
    "kind: reference\n"                                // 2
    "pde:\n"                                           // 3
    "  type: navier_stokes\n"                          // 4
    "  nu: 0.01\n"                                     // 5
    "  velocity: [\"y > 1 - 1e-9 ? 1 : 0\", \"0\"]\n"  // 6
    "grid:\n"                                          // 7
    "  n: 9\n";                                        // 8

// 2D Poisson on the unit-square mesh of meshes/ (MESH is replaced by its path); line 8 is the
// mesh file, line 10 the condition.
const std::string kMeshPoisson =
    "name: mesh\n"                                              // 1
    "kind: reference\n"                                         // 2
    "pde:\n"                                                    // 3
    "  type: poisson\n"                                         // 4
    "  source: \"2*pi^2*sin(pi*x)*sin(pi*y)\"\n"                // 5
    "  exact: \"sin(pi*x)*sin(pi*y)\"\n"                        // 6
    "mesh:\n"                                                   // 7
    "  file: MESH\n"                                            // 8
    "conditions:\n"                                             // 9
    "  - {type: dirichlet, on: [left, right, bottom, top]}\n";  // 10

// `text` with the one occurrence of `from` replaced by `to`.
std::string replaced(const std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "'" << from << "' is not in the case text";
  if (at == std::string::npos) return text;
  return text.substr(0, at) + to + text.substr(at + from.size());
}

class CliErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = test_folder();
    write_text(dir / "base.yaml", kPoisson);
    write_text(dir / "darcy.yaml", kDarcy);
  }

  // A good run into out/, which the bad run must then leave alone.
  void good_run(const std::string& case_file, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"run", case_file, "--output", "out", "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    const CliResult r = run_karman(dir, args);
    ASSERT_EQ(r.status, 0) << r;
    ASSERT_TRUE(fs::is_regular_file(dir / "out" / "report.json")) << r;
    ASSERT_TRUE(fs::is_regular_file(dir / "out" / "fields.h5")) << r;
  }

  // Everything in the test's folder except the captured stdout/stderr files.
  FolderSnapshot folder() const {
    FolderSnapshot s = snapshot(dir);
    for (auto it = s.begin(); it != s.end();)
      it = it->first.rfind(".captured", 0) == 0 ? s.erase(it) : std::next(it);
    return s;
  }

  // Runs `args` (on `ranks` ranks under mpiexec if > 0) and checks the bad-input contract; the
  // one error line must contain each of `expected` and match `pattern` if given.
  CliResult expect_rejected(const std::vector<std::string>& args,
                            const std::vector<std::string>& expected, int ranks = 0,
                            const std::string& pattern = "") {
    const FolderSnapshot before = folder();
    const CliResult r = run_karman(dir, args, ranks);
    EXPECT_FALSE(r.signalled) << r;
    EXPECT_EQ(r.status, 1) << r;
    const auto lines = r.error_lines();
    EXPECT_EQ(lines.size(), 1u) << "expected exactly one error line\n" << r;
    if (!lines.empty()) {
      const std::string& line = lines.front();
      EXPECT_EQ(line.rfind("karman: error: ", 0), 0u) << r;
      EXPECT_EQ(line.find("[rank"), std::string::npos) << "reported per rank\n" << r;
      for (const auto& piece : expected)
        EXPECT_NE(line.find(piece), std::string::npos) << "missing '" << piece << "'\n" << r;
      if (!pattern.empty()) {
        EXPECT_TRUE(std::regex_search(line, std::regex(pattern)))
            << "no match for " << pattern << "\n"
            << r;
      }
    }
    const auto changes = differences(before, folder());
    EXPECT_TRUE(changes.empty()) << "the failed run touched the folder:\n"
                                 << ::testing::PrintToString(changes) << "\n"
                                 << r;
    return r;
  }

  fs::path dir;
};

TEST_F(CliErrors, MalformedYaml) {
  write_text(dir / "bad.yaml", replaced(kPoisson, "  type: poisson\n", "  type: [poisson\n"));
  ASSERT_NO_FATAL_FAILURE(good_run("base.yaml"));
  expect_rejected({"run", "bad.yaml", "--output", "out"}, {"malformed YAML"}, 0,
                  R"(: bad\.yaml:[0-9]+:[0-9]+: )");
}

TEST_F(CliErrors, UnknownKeySuggestsTheClosestKnownOne) {
  write_text(dir / "bad.yaml", replaced(kPoisson, "  rtol:", "  rtoll:"));
  ASSERT_NO_FATAL_FAILURE(good_run("base.yaml"));
  expect_rejected({"run", "bad.yaml", "--output", "out"},
                  {"bad.yaml:13:3: ", "unknown key 'solver.rtoll'", "did you mean 'solver.rtol'"});
  expect_rejected(
      {"run", "base.yaml", "--set", "solver.kps=cg", "--output", "out"},
      {"--set solver.kps=cg: ", "unknown key 'solver.kps'", "did you mean 'solver.ksp'"});
}

TEST_F(CliErrors, WrongType) {
  write_text(dir / "bad.yaml", replaced(kPoisson, "  n: 17", "  n: many"));
  ASSERT_NO_FATAL_FAILURE(good_run("base.yaml"));
  expect_rejected({"run", "bad.yaml", "--output", "out"},
                  {"bad.yaml:9:6: ", "grid.n", "expected integer", "'many'"});
}

TEST_F(CliErrors, NegativeGridSize) {
  ASSERT_NO_FATAL_FAILURE(good_run("base.yaml"));
  expect_rejected({"run", "base.yaml", "--set", "grid.n=-5", "--output", "out"},
                  {"--set grid.n=-5: ", "grid.n", "at least 3", "-5"});
}

TEST_F(CliErrors, MissingCoefficientFile) {
  write_text(dir / "bad.yaml",
             replaced(kDarcy, "coefficient: \"1 + x*y\"", "coefficient: {file: missing.h5}"));
  ASSERT_NO_FATAL_FAILURE(good_run("darcy.yaml"));
  expect_rejected({"run", "bad.yaml", "--output", "out"},
                  {"pde.coefficient.file", "'missing.h5'", "does not exist"}, 0,
                  R"(: bad\.yaml:6:[0-9]+: )");
}

// A coefficient file that exists: the fields.h5 of a darcy run on a 17x17 grid. Read on the run
// that made it (17x17) it works; on a 33x33 grid, or under a dataset it lacks, it is rejected.
// Those checks happen while the output folder already holds the run's staged files.
TEST_F(CliErrors, CoefficientFileWithWrongShapeOrWithoutTheDataset) {
  ASSERT_NO_FATAL_FAILURE(good_run("darcy.yaml"));
  fs::copy_file(dir / "out" / "fields.h5", dir / "coef17.h5");
  write_text(dir / "from_file.yaml",
             replaced(kDarcy, "coefficient: \"1 + x*y\"",
                      "coefficient: {file: coef17.h5, dataset: /fields/coefficient}"));
  const CliResult ok =
      run_karman(dir, {"run", "from_file.yaml", "--output", "from_file_17", "--quiet"});
  ASSERT_EQ(ok.status, 0) << ok;

  expect_rejected({"run", "from_file.yaml", "--set", "grid.n=33", "--output", "out"},
                  {"'coef17.h5'", "/fields/coefficient", "shape [17, 17]", "[33, 33]"});
  expect_rejected({"run", "from_file.yaml", "--set", "pde.coefficient.dataset=/fields/permeability",
                   "--output", "out"},
                  {"no dataset '/fields/permeability'", "'coef17.h5'"});
}

TEST_F(CliErrors, ExpressionThatDoesNotParse) {
  write_text(dir / "bad.yaml",
             replaced(kPoisson, "sin(pi*x)*sin(pi*y)\"\n  exact", "sin(pi*x)*sin(pi*y\"\n  exact"));
  ASSERT_NO_FATAL_FAILURE(good_run("base.yaml"));
  expect_rejected({"run", "bad.yaml", "--output", "out"},
                  {"bad.yaml:5:11: ", "pde.source", "does not parse"});
  expect_rejected({"run", "base.yaml", "--set", "pde.exact=sin(w*x)", "--output", "out"},
                  {"--set pde.exact=sin(w*x): ", "pde.exact", "does not parse"});
}

TEST_F(CliErrors, OutputFolderThatCannotBeCreated) {
  expect_rejected({"run", "base.yaml", "--output", "/proc/karman-nope"}, {"'/proc/karman-nope'"});
  EXPECT_FALSE(fs::exists("/proc/karman-nope"));

  write_text(dir / "afile", "a regular file\n");
  expect_rejected({"run", "base.yaml", "--output", "afile/sub"}, {"'afile/sub'"});
  expect_rejected({"run", "base.yaml", "--output", "afile"}, {"'afile'"});
  EXPECT_EQ(read_text(dir / "afile"), "a regular file\n");
}

TEST_F(CliErrors, UnknownPetscTypes) {
  write_text(dir / "bad.yaml", replaced(kPoisson, "  ksp: cg", "  ksp: nosuchksp"));
  ASSERT_NO_FATAL_FAILURE(good_run("base.yaml"));
  expect_rejected({"run", "bad.yaml", "--output", "out"},
                  {"bad.yaml:11:8: ", "solver.ksp", "'nosuchksp'"});
  expect_rejected({"run", "base.yaml", "--set", "solver.pc=nosuchpc", "--output", "out"},
                  {"--set solver.pc=nosuchpc: ", "solver.pc", "'nosuchpc'"});
}

TEST_F(CliErrors, BadPetscOptionValue) {
  ASSERT_NO_FATAL_FAILURE(good_run("base.yaml"));
  expect_rejected(
      {"run", "base.yaml", "--set", "solver.options.ksp_type=nosuch", "--output", "out"},
      {"PETSc options", "nosuch"});
  expect_rejected({"run", "base.yaml", "--output", "out", "-ksp_type", "nosuch"},
                  {"PETSc options", "nosuch"});
}

TEST_F(CliErrors, NonPositiveDarcyCoefficient) {
  ASSERT_NO_FATAL_FAILURE(good_run("base.yaml"));
  expect_rejected({"run", "darcy.yaml", "--set", "pde.coefficient=x-0.5", "--output", "out"},
                  {"pde.coefficient: must be positive everywhere", "-0.5"});
}

TEST_F(CliErrors, NavierStokesVelocityAndViscosity) {
  write_text(dir / "cavity.yaml", kCavity);
  ASSERT_NO_FATAL_FAILURE(good_run("cavity.yaml"));
  write_text(dir / "no_velocity.yaml",
             replaced(kCavity, "  velocity: [\"y > 1 - 1e-9 ? 1 : 0\", \"0\"]\n", ""));
  expect_rejected({"run", "no_velocity.yaml", "--output", "out"},
                  {"pde.velocity", "required key is missing", "a list of 2 expressions"}, 0,
                  R"(: no_velocity\.yaml:[0-9]+:[0-9]+: )");
  expect_rejected({"run", "cavity.yaml", "--set", "pde.velocity=[1]", "--output", "out"},
                  {"--set pde.velocity=[1]: ", "expected a list of 2 expressions", "a list of 1"});
  write_text(dir / "negative_nu.yaml", replaced(kCavity, "  nu: 0.01", "  nu: -0.01"));
  expect_rejected({"run", "negative_nu.yaml", "--output", "out"},
                  {"negative_nu.yaml:5:7: ", "pde.nu", "positive", "-0.01"});
  expect_rejected({"run", "cavity.yaml", "--set", "pde.nu=0", "--output", "out"},
                  {"--set pde.nu=0: ", "pde.nu", "positive"});
  expect_rejected({"run", "cavity.yaml", "--set", "grid.dim=3", "--output", "out"},
                  {"--set grid.dim=3: ", "grid.dim", "expected 2"});
  expect_rejected({"run", "cavity.yaml", "--set", "pde.exact=1", "--output", "out"},
                  {"unknown key 'pde.exact'"});
  // Found only once the run is under way (output files staged): no incompressible flow has
  // boundary data with a net outflow.
  expect_rejected({"run", "cavity.yaml", "--set", "pde.velocity=[x, 0]", "--output", "out"},
                  {"pde.velocity", "net outflow of 1", "needs zero"});
}

TEST_F(CliErrors, MissingCaseFile) {
  ASSERT_NO_FATAL_FAILURE(good_run("base.yaml"));
  expect_rejected({"run", "nothere.yaml", "--output", "out"},
                  {"nothere.yaml: ", "cannot open case file"});
  expect_rejected({"validate", "nothere.yaml"}, {"nothere.yaml: ", "cannot open case file"});
  expect_rejected({"run", "--output", "out"}, {"case is required"});
}

TEST_F(CliErrors, UnknownCommandLineOption) {
  ASSERT_NO_FATAL_FAILURE(good_run("base.yaml"));
  expect_rejected({"run", "base.yaml", "--output", "out", "--bogus"}, {"--bogus"});
  expect_rejected({"run", "base.yaml", "--set", "grid.n", "--output", "out"},
                  {"--set grid.n: ", "key.path=value"});
}

// `precision` names what the method runs. A method that cannot run float32 (kind precond, and the
// PETSc solves reference and dataset) refuses it at the key, in `validate` as in `run`, rather than
// report float32 and run float64; the methods templated on the scalar type take both.
TEST_F(CliErrors, PrecisionTheMethodDoesNotRun) {
  const std::string precond = read_text(source_dir() / "cases" / "precond" / "poisson2d.yaml");
  ASSERT_FALSE(precond.empty());
  ASSERT_EQ(precond.back(), '\n');
  ASSERT_EQ(precond.find("precision"), std::string::npos);
  const long line = std::count(precond.begin(), precond.end(), '\n') + 1;
  write_text(dir / "precond.yaml", precond + "precision: float32\n");
  ASSERT_NO_FATAL_FAILURE(good_run("base.yaml"));

  // The same case in float64 is valid: precision is its only fault.
  const CliResult valid =
      run_karman(dir, {"validate", "precond.yaml", "--set", "precision=float64"});
  EXPECT_EQ(valid.status, 0) << valid;
  const std::string place = "precond.yaml:" + std::to_string(line) + ":12: ";
  const std::vector<std::string> expected = {place, "precision: kind precond runs float64 only",
                                             "got 'float32'"};
  expect_rejected({"validate", "precond.yaml"}, expected);
  expect_rejected({"run", "precond.yaml", "--output", "out"}, expected);

  expect_rejected({"run", "base.yaml", "--set", "precision=float32", "--output", "out"},
                  {"--set precision=float32: ", "kind reference runs float64 only"});
  const std::string dataset = (source_dir() / "cases" / "fno" / "darcy_dataset.yaml").string();
  expect_rejected({"validate", dataset, "--set", "precision=float32"},
                  {"--set precision=float32: ", "kind dataset runs float64 only"});

  for (const auto& [kind, file, precision] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"fit", "nn/fit2d.yaml", "float32"},
           {"pinn", "pinn/poisson2d.yaml", "float32"},
           {"fno", "fno/darcy2d.yaml", "float64"}}) {
    const CliResult r = run_karman(dir, {"validate", (source_dir() / "cases" / file).string(),
                                         "--set", "precision=" + precision});
    EXPECT_EQ(r.status, 0) << kind << " in " << precision << "\n" << r;
  }
}

// Bad input on unstructured meshes: each a one-line error at the key, exit 1, nothing written.
TEST_F(CliErrors, MeshInput) {
  const std::string square = (source_dir() / "meshes" / "square.msh").string();
  const std::string poisson = replaced(kMeshPoisson, "MESH", square);
  write_text(dir / "mesh.yaml", poisson);
  ASSERT_NO_FATAL_FAILURE(good_run("mesh.yaml"));

  write_text(dir / "missing.yaml", replaced(poisson, square, "no_such_mesh.msh"));
  expect_rejected({"run", "missing.yaml", "--output", "out"},
                  {"missing.yaml:8:9: ", "mesh file 'no_such_mesh.msh' does not exist"});
  write_text(dir / "cube.stl", "solid cube\nendsolid cube\n");
  write_text(dir / "not_mesh.yaml", replaced(poisson, square, "cube.stl"));
  expect_rejected({"run", "not_mesh.yaml", "--output", "out"},
                  {"not_mesh.yaml:8:9: ", "'cube.stl' is not a Gmsh mesh", "$MeshFormat"});
  expect_rejected({"validate", "mesh.yaml", "--set", "mesh.dim=3"},
                  {"--set mesh.dim=3: ", "is a 2D mesh, not 3D"});
  write_text(dir / "typo.yaml", replaced(poisson, "[left, right,", "[left, rigth,"));
  expect_rejected({"run", "typo.yaml", "--output", "out"},
                  {"typo.yaml:10:", "no boundary part 'rigth'", "did you mean 'right'"});
  write_text(dir / "uncovered.yaml", replaced(poisson, ", top]", "]"));
  expect_rejected({"run", "uncovered.yaml", "--output", "out"},
                  {"uncovered.yaml:", "boundary part 'top' has no condition"});
  write_text(dir / "no_data.yaml", replaced(poisson, "  exact: \"sin(pi*x)*sin(pi*y)\"\n", ""));
  expect_rejected({"run", "no_data.yaml", "--output", "out"},
                  {"no_data.yaml:9:", "a Dirichlet condition needs its data"});
  // Found only once the mesh is read (its values at the vertices and cell centroids), on every
  // rank: still one line, and nothing written.
  const std::string darcy =
      replaced(replaced(poisson, "type: poisson", "type: darcy"),
               "  exact: \"sin(pi*x)*sin(pi*y)\"\n", "  coefficient: \"x - 0.25\"\n");
  write_text(dir / "negative.yaml", replaced(darcy, "on: [left, right, bottom, top]}",
                                             "on: [left, right, bottom, top], value: 0}"));
  for (int ranks : {0, 2})
    expect_rejected({"run", "negative.yaml", "--output", "out"},
                    {"negative.yaml:6:", "must be positive everywhere on the mesh"}, ranks);
}

// Under mpiexec every rank sees the bad input; it is still reported once, and the run folder is
// left alone: once for input rejected while reading the case, once for input rejected by every
// rank while the run is under way (output files staged).
TEST_F(CliErrors, BadInputUnderMpiexec) {
  ASSERT_NO_FATAL_FAILURE(good_run("darcy.yaml"));
  write_text(dir / "bad.yaml", replaced(kDarcy, "  n: 17", "  n: 17\n  nn: 17"));
  expect_rejected({"run", "bad.yaml", "--output", "out"},
                  {"bad.yaml:9:3: ", "unknown key 'grid.nn'", "did you mean 'grid.n'"}, 2);

  fs::copy_file(dir / "out" / "fields.h5", dir / "coef17.h5");
  write_text(dir / "from_file.yaml",
             replaced(kDarcy, "coefficient: \"1 + x*y\"", "coefficient: {file: coef17.h5}"));
  expect_rejected({"run", "from_file.yaml", "--set", "grid.n=33", "--output", "out"},
                  {"'coef17.h5'", "shape [17, 17]", "[33, 33]"}, 2);
}

}  // namespace

// test.parallel (kind precond): the form of the factor across ranks; a bad form, overlap, ASM
// type or coarse space is one line at the key, before anything is trained.
TEST_F(CliErrors, PrecondParallelForm) {
  const std::string precond = (source_dir() / "cases" / "precond" / "poisson2d.yaml").string();
  expect_rejected(
      {"validate", precond, "--set", "test.parallel.pc=gasm"},
      {"--set test.parallel.pc=gasm: ", "test.parallel.pc", "expected one of", "'gasm'"});
  expect_rejected({"validate", precond, "--set", "test.parallel={pc: asm, overlap: -1}"},
                  {"test.parallel.overlap", "-1"});
  expect_rejected(
      {"validate", precond, "--set", "test.parallel.type=interpolate"},
      {"--set test.parallel.type=interpolate: ", "test.parallel.type", "'interpolate'"});
  expect_rejected(
      {"validate", precond, "--set", "test.parallel.coarse=gamg"},
      {"--set test.parallel.coarse=gamg: ", "test.parallel.coarse", "expected one of", "'gamg'"});
  expect_rejected({"validate", precond, "--set", "test.parallel.coarse_vectors=0"},
                  {"test.parallel.coarse_vectors", "0"});
}
