// End-to-end tests of `karman` on good input: validate and run every case under cases/ (found at
// test time, shortened by overrides derived from its PDE), the quickstart's outputs in detail,
// compare between a 1-rank and a 2-rank run, info and post.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "support/cli.hpp"
#include "support/post_figures.hpp"
#include "support/report_checks.hpp"

namespace {

using namespace karman::test;
using nlohmann::json;

std::string quickstart() { return (source_dir() / "cases" / "quickstart.yaml").string(); }

bool contains(const std::string& text, const std::string& piece) {
  return text.find(piece) != std::string::npos;
}

json read_report(const fs::path& run_dir) {
  const std::string text = read_text(run_dir / "report.json");
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    ADD_FAILURE() << run_dir / "report.json"
                  << " is not JSON: " << e.what() << "\n"
                  << text;
    return json::object();
  }
}

// Output of a shell command run in `cwd` (stderr included), with the MPI singleton's variables
// removed from its environment.
std::string shell_output(const fs::path& cwd, const std::string& command, int* status) {
  const fs::path out = cwd / ".captured" / "shell.out";
  const std::string full = "cd " + shell_quote(cwd.string()) + " && " + clean_environment_prefix() +
                           " " + command + " >" + shell_quote(out.string()) + " 2>&1";
  const int raw = std::system(full.c_str());
  *status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return read_text(out);
}

// The overrides that make `case_file` fast, from its kind, pde.type and time section.
std::vector<std::string> shortening_overrides(const fs::path& case_file) {
  const YAML::Node root = YAML::LoadFile(case_file.string());
  std::vector<std::string> sets;
  const std::string kind = root["kind"] ? root["kind"].as<std::string>() : "reference";
  if (kind == "precond")  // learned preconditioners: a few training steps, one small test matrix
    return {"training.steps=20", "training.select_every=10", "test.sizes=[16]"};
  if (kind == "dcdm") {  // DCDM: a few training steps at 16², one test size and rtol
    sets = {"training.size=16",       "training.ritz_steps=20", "training.vectors=16",
            "training.steps=5",       "test.sizes=[16]",        "test.rtols=[1.0e-4]",
            "test.max_iterations=50", "test.repeats=1"};
    // The FNO's modes must fit 16 cells; the CNN (model.type cnn) has none.
    const YAML::Node type = root["model"] ? root["model"]["type"] : YAML::Node();
    if (!type || type.as<std::string>() != "cnn") sets.push_back("model.modes=4");
    return sets;
  }
  if (kind == "mppde") {  // MP-PDE: a few trajectories, one layer, one training step
    sets = {"data.train=8",
            "data.test=4",
            "model.layers=1",
            "training.passes=1",
            "training.stages=[{optimizer: adamw, epochs: 1}]",
            "evaluation.batch=4"};
    // The equal-error solver baseline is the 1D family's (a mesh case has none).
    if (!root["mesh"]) sets.push_back("evaluation.baseline_trajectories=2");
    return sets;
  }
  if (kind == "gno") {  // graph neural operators: a narrow model, one epoch, a short evaluation
    sets = {"model.gno={width: 8, kernel_width: 8, depth: 2}",
            "model.graph_network={hidden: 8, layers: 2}",
            "training.batch_size=2",
            "training.validate_every=0",
            "training.stages=[{optimizer: adam, epochs: 1}]",
            "evaluation.fields=1"};
    if (root["data"]["problem"].as<std::string>() == "darcy") {
      sets.insert(sets.end(),
                  {"data.samples=6", "data.train=4", "data.test=2", "evaluation.resolutions=[31]",
                   "evaluation.baseline_samples=1", "evaluation.zero_shot_samples=1"});
    } else {
      sets.insert(sets.end(), {"data.mesh_size=0.15",
                               "data.sets={train: {samples: 4, shapes: [square, disk]}, "
                               "held_out: {samples: 2, shapes: [lshape, annulus]}}"});
    }
    return sets;
  }
  if (kind == "dataset" || kind == "fno") {
    // Datasets: few samples on a small fine grid (Navier–Stokes: also few time units).
    const std::string problem = root["data"]["problem"].as<std::string>();
    if (problem == "navier_stokes")
      sets = {"data.resolution=32", "data.stride=2", "data.navier_stokes.t_end=12"};
    else
      sets = {problem == "darcy" ? "data.resolution=33" : "data.resolution=128", "data.stride=2"};
    if (kind == "dataset") {
      sets.push_back("data.samples=3");
      return sets;
    }
    // Neural operators: a narrow model, one epoch of mini-batches of 2, a short evaluation.
    sets.insert(sets.end(),
                {"data.samples=8", "data.train=6", "data.test=2", "model.modes=4", "model.width=8",
                 "model.layers=1", "model.projection=8", "training.batch_size=2",
                 "training.validate_every=0", "evaluation.baseline_samples=1",
                 "evaluation.super_samples=1", "evaluation.fields=1"});
    std::string stages = "training.stages=[";
    for (const auto& stage : root["training"]["stages"])
      stages += "{optimizer: " + stage["optimizer"].as<std::string>() + ", epochs: 1},";
    sets.push_back(stages + "]");
    return sets;
  }
  if (root["training"] && root["training"]["method"] &&
      root["training"]["method"].as<std::string>() == "teng") {
    // TENG: a coarse reference grid, few points, four steps of the case's dt.
    const double dt = root["training"]["dt"] ? root["training"]["dt"].as<double>()
                                             : root["time"]["dt"].as<double>();
    std::ostringstream t_end;
    t_end.precision(17);
    t_end << 4 * dt;
    return {"grid.n=17",
            "training.points=64",
            "training.initial_iterations=10",
            "training.iterations=1",
            "training.chunks=2",
            "time.snapshots=2",
            "time.t_end=" + t_end.str()};
  }
  if (root["training"]) {
    // Learned methods: few samples, a few steps of each stage's optimizer.
    if (root["kind"].as<std::string>() == "pinn") {
      sets.push_back("samples.interior=256");
      sets.push_back("samples.boundary=64");
      sets.push_back("grid.n=17");
    } else {
      sets.push_back("samples.train=256");
      sets.push_back("samples.test=256");
      sets.push_back("evaluation.n=17");
    }
    std::string stages = "training.stages=[";
    for (const auto& stage : root["training"]["stages"])
      stages += "{optimizer: " + stage["optimizer"].as<std::string>() + ", steps: 5" +
                (stage["combine"] ? ", combine: " + stage["combine"].as<std::string>() : "") + "},";
    sets.push_back(stages + "]");
    return sets;
  }
  const YAML::Node pde = root["pde"];
  const std::string type = pde && pde["type"] ? pde["type"].as<std::string>() : "";
  // Mesh cases run on their small committed meshes as they are (P1 for speed); grids are coarsened.
  if (root["mesh"])
    sets.push_back("mesh.order=1");
  else
    sets.push_back(type == "burgers" ? "grid.n=128" : "grid.n=17");
  if (root["time"] || type == "heat" || type == "burgers") {
    const double t_end = 0.05;
    sets.push_back("time.t_end=" + std::to_string(t_end));
    sets.push_back("time.snapshots=2");
    const YAML::Node dt = root["time"] ? root["time"]["dt"] : YAML::Node();
    if (type == "combined") return sets;  // explicit steps from solver.cfl: no time.dt
    if (!dt || dt.as<double>(1.0) > t_end / 2)
      sets.push_back("time.dt=" + std::to_string(t_end / 10));
  }
  return sets;
}

// The figures `karman post` must draw for a run of `kind` (besides the report table), and the
// checks of post/ (tests/support/post_figures.hpp).
void expect_post(const fs::path& run, const std::string& kind, bool time_dependent) {
  SCOPED_TRACE("karman post " + run.string());
  const CliResult r = run_karman(run.parent_path(), {"post", run.string()});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_TRUE(r.error_lines().empty()) << r;
  const std::set<std::string> figures = expect_post_folder(run / "post");
  auto drawn = [&](const std::string& prefix) {
    for (const auto& f : figures)
      if (f.rfind(prefix, 0) == 0) return true;
    return false;
  };
  const std::map<std::string, std::vector<std::string>> expected{
      {"reference", {"fields_"}},
      {"fit", {"fields_prediction", "training"}},
      {"pinn", {"fields_pinn", "training"}},
      {"dataset", {"dataset"}},
      {"fno", {"fields_", "training", "fno_errors"}},
      {"precond", {"precond", "convergence"}},
      {"dcdm", {"dcdm"}},
      {"mppde", {"training", "accumulated_error"}},
      {"gno", {"fields_", "training"}}};
  ASSERT_TRUE(expected.count(kind)) << "no figures known for kind " << kind;
  // A time-dependent PINN: its error along time, against the PETSc states it stores.
  if (kind == "pinn" && time_dependent) {
    EXPECT_TRUE(drawn("error_in_time")) << ::testing::PrintToString(figures);
  }
  for (const auto& prefix : expected.at(kind))
    EXPECT_TRUE(drawn(prefix)) << prefix
                               << "*.png missing; drawn: " << ::testing::PrintToString(figures);
}

class CliRuns : public ::testing::Test {
 protected:
  void SetUp() override { dir = test_folder(); }

  // `karman run CASE --output OUT --set ...` that must succeed.
  CliResult run_ok(const std::string& case_file, const std::string& output,
                   const std::vector<std::string>& sets = {}, int ranks = 0) {
    std::vector<std::string> args{"run", case_file, "--output", output};
    for (const auto& s : sets) args.insert(args.end(), {"--set", s});
    CliResult r = run_karman(dir, args, ranks);
    EXPECT_EQ(r.status, 0) << r;
    return r;
  }

  fs::path dir;
};

TEST_F(CliRuns, ValidateAcceptsEveryCase) {
  const auto files = case_files();
  ASSERT_GE(files.size(), 2u) << "no cases found under " << source_dir() / "cases";
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const CliResult r = run_karman(dir, {"validate", file.string()});
    EXPECT_EQ(r.status, 0) << r;
    EXPECT_TRUE(contains(r.out, "valid")) << r;
    EXPECT_TRUE(r.error_lines().empty()) << r;
  }
}

TEST_F(CliRuns, ValidateRejectsABadFile) {
  write_text(dir / "bad.yaml", "name: bad\npde: {type: poisson, sourse: \"1\"}\ngrid: {n: 9}\n");
  const CliResult r = run_karman(dir, {"validate", "bad.yaml"});
  EXPECT_EQ(r.status, 1) << r;
  ASSERT_EQ(r.error_lines().size(), 1u) << r;
  EXPECT_TRUE(contains(r.error_lines()[0], "bad.yaml:2:")) << r;
  EXPECT_TRUE(contains(r.error_lines()[0], "did you mean 'pde.source'")) << r;
  EXPECT_FALSE(contains(r.out, "valid")) << r;
}

TEST_F(CliRuns, QuickstartEndToEnd) {
  const fs::path out = dir / "quickstart";
  const CliResult r = run_ok(quickstart(), out.string());
  ASSERT_EQ(r.status, 0);
  EXPECT_TRUE(r.error_lines().empty()) << r;

  // Exactly the four outputs: nothing staged or temporary is left behind.
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(out)) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"fields.h5", "fields.xdmf", "log.txt", "report.json"}));
  EXPECT_TRUE(contains(read_text(out / "log.txt"), "rel_l2"));
  EXPECT_TRUE(contains(read_text(out / "fields.xdmf"), "fields.h5:/fields/reference"));

  const json report = read_report(out);
  for (const char* key : {"case", "kind", "ranks", "precision", "status", "metrics", "baseline"})
    EXPECT_TRUE(report.contains(key)) << "report.json lacks '" << key << "'\n" << report.dump(2);
  ASSERT_TRUE(report.value("metrics", json()).is_object()) << report.dump(2);
  ASSERT_TRUE(report.value("baseline", json()).is_object()) << report.dump(2);
  EXPECT_EQ(report.value("case", ""), "quickstart");
  EXPECT_EQ(report.value("kind", ""), "reference");
  EXPECT_EQ(report.value("ranks", 0), 1);
  EXPECT_EQ(report.value("precision", ""), "float64");
  EXPECT_EQ(report.value("status", ""), "ok");
  const json& m = report["metrics"];
  const json& b = report["baseline"];
  ASSERT_TRUE(m.contains("rel_l2") && m["rel_l2"].is_number()) << m.dump(2);
  EXPECT_GT(m["rel_l2"].get<double>(), 0.0);
  EXPECT_LT(m["rel_l2"].get<double>(), 1e-3);
  ASSERT_TRUE(m.contains("max_abs") && m["max_abs"].is_number()) << m.dump(2);
  EXPECT_GT(m["max_abs"].get<double>(), 0.0);
  ASSERT_TRUE(m.contains("wall_s") && m["wall_s"].is_number()) << m.dump(2);
  EXPECT_GT(m["wall_s"].get<double>(), 0.0);
  const YAML::Node solver = YAML::LoadFile(quickstart())["solver"];
  for (const char* key : {"ksp", "pc"}) {
    ASSERT_TRUE(b.contains(key) && b[key].is_string()) << b.dump(2);
    EXPECT_FALSE(b[key].get<std::string>().empty());
    if (solver && solver[key]) {
      EXPECT_EQ(b[key].get<std::string>(), solver[key].as<std::string>());
    }
  }
  ASSERT_TRUE(b.contains("iterations") && b["iterations"].is_number_integer()) << b.dump(2);
  EXPECT_GT(b["iterations"].get<long>(), 0);
  for (const char* key : {"setup_s", "solve_s"}) {
    ASSERT_TRUE(b.contains(key) && b[key].is_number()) << b.dump(2);
    EXPECT_GE(b[key].get<double>(), 0.0);
  }

  // The HDF5 layout: datasets under /fields, grid attributes on the root group (h5dump lists a
  // group's attributes before its members).
  int status = -1;
  const std::string dump =
      shell_output(dir, "h5dump -H " + shell_quote((out / "fields.h5").string()), &status);
  ASSERT_EQ(status, 0) << dump;
  const auto root = dump.find("GROUP \"/\" {"), fields = dump.find("GROUP \"fields\" {");
  ASSERT_NE(root, std::string::npos) << dump;
  ASSERT_NE(fields, std::string::npos) << dump;
  ASSERT_LT(root, fields) << dump;
  const std::string root_attributes = dump.substr(root, fields - root);
  for (const char* a : {"case", "pde", "shape", "spacing"})
    EXPECT_TRUE(contains(root_attributes, std::string("ATTRIBUTE \"") + a + "\""))
        << "no root attribute " << a << "\n"
        << dump;
  const std::string members = dump.substr(fields);
  for (const char* d : {"reference", "exact", "error"})
    EXPECT_TRUE(contains(members, std::string("DATASET \"") + d + "\""))
        << "no dataset /fields/" << d << "\n"
        << dump;
  EXPECT_TRUE(contains(members, "( 65, 65 )")) << dump;

  // --set reaches the run: half the resolution, about 4x the error (second order).
  const fs::path coarse = dir / "quickstart33";
  const CliResult r33 = run_ok(quickstart(), coarse.string(), {"grid.n=33"});
  ASSERT_EQ(r33.status, 0);
  const json report33 = read_report(coarse);
  EXPECT_EQ(report33.value("grid", json::object()).value("n", json()), json({33, 33}))
      << report33.dump(2);
  EXPECT_EQ(report.value("grid", json::object()).value("n", json()), json({65, 65}))
      << report.dump(2);
  const double ratio =
      report33.value("metrics", json::object()).value("rel_l2", 0.0) / m["rel_l2"].get<double>();
  EXPECT_GT(ratio, 3.5);
  EXPECT_LT(ratio, 4.5);
}

// The stages a kind of run always goes through (report.json's timings), beside io and setup.
std::vector<std::string> stages_of(const std::string& kind) {
  if (kind == "reference") return {"setup", "baseline", "io"};
  if (kind == "dataset") return {"setup", "data", "io"};
  if (kind == "fit" || kind == "pinn") return {"setup", "training", "evaluation", "io"};
  return {"setup", "data", "training", "evaluation", "io"};  // the learned operators
}

TEST_F(CliRuns, EveryCaseRunsShortened) {
  const auto files = case_files();
  ASSERT_GE(files.size(), 2u);
  std::set<std::string> posted;
  int index = 0;
  std::set<std::string> kinds;
  for (const auto& file : files) {
    const auto sets = shortening_overrides(file);
    SCOPED_TRACE(file.string() + " with " + ::testing::PrintToString(sets));
    const fs::path out = dir / (std::to_string(index++) + "-" + file.stem().string());
    const CliResult r = run_ok(file.string(), out.string(), sets);
    if (r.status != 0) continue;
    const json report = read_report(out);
    EXPECT_EQ(report.value("status", ""), "ok") << report.dump(2);
    // The main output: a dataset, a trained preconditioner or MP-PDE model (no fields), or fields.
    const std::string kind = report.value("kind", "");
    const std::string output = kind == "dataset" ? "dataset.h5"
                               : kind == "precond" || kind == "mppde" || kind == "dcdm"
                                   ? "checkpoint.h5"
                                   : "fields.h5";
    EXPECT_TRUE(fs::is_regular_file(out / output));
    // `karman post` on the first case of each kind (grid and mesh apart): its figures.
    const YAML::Node root = YAML::LoadFile(file.string());
    const bool on_mesh = root["mesh"] || (root["data"] && root["data"]["mesh_size"]);
    if (posted.insert(kind + (on_mesh ? " on a mesh" : "")).second)
      expect_post(out, kind, bool(root["time"]));
    kinds.insert(kind);
    expect_timings_cover_wall(report, stages_of(kind));
  }
  EXPECT_EQ(posted.size(), 12u) << ::testing::PrintToString(posted);
  // Every kind's timings were checked.
  EXPECT_EQ(kinds, (std::set<std::string>{"reference", "fit", "pinn", "dataset", "fno", "precond",
                                          "dcdm", "mppde", "gno"}));
}

// kind dataset: the dataset lands in the run folder; --resume keeps a finished one as it is.
TEST_F(CliRuns, DatasetRunsAndResumes) {
  const fs::path case_file = source_dir() / "cases" / "fno" / "darcy_dataset.yaml";
  const fs::path out = dir / "darcy_dataset";
  const auto sets = shortening_overrides(case_file);
  ASSERT_EQ(run_ok(case_file.string(), out.string(), sets).status, 0);
  const json first = read_report(out);
  EXPECT_EQ(first["metrics"].value("samples", 0), 3) << first.dump(2);
  EXPECT_EQ(first["metrics"].value("solved", 0), 3) << first.dump(2);
  EXPECT_GT(first["metrics"].value("solve_s_per_sample", 0.0), 0.0) << first.dump(2);
  EXPECT_GT(first["metrics"].value("iterations_mean", 0.0), 0.0) << first.dump(2);
  EXPECT_EQ(first["baseline"].value("ksp", ""), "cg") << first.dump(2);
  EXPECT_TRUE(fs::is_regular_file(out / "dataset.h5"));
  EXPECT_FALSE(fs::exists(out / "dataset.h5.partial"));

  std::vector<std::string> args{"run", case_file.string(), "--output", out.string(), "--resume"};
  for (const auto& s : sets) args.insert(args.end(), {"--set", s});
  const CliResult again = run_karman(dir, args);
  ASSERT_EQ(again.status, 0) << again;
  const json second = read_report(out);
  EXPECT_EQ(second["metrics"].value("solved", -1), 0) << second.dump(2);
  EXPECT_EQ(second["metrics"].value("kept", 0), 3) << second.dump(2);

  // Other settings cannot resume it: one error line naming the file.
  args.insert(args.end(), {"--set", "data.seed=2"});
  const CliResult other = run_karman(dir, args);
  EXPECT_EQ(other.status, 1) << other;
  ASSERT_EQ(other.error_lines().size(), 1u) << other;
  EXPECT_TRUE(contains(other.error_lines()[0], "dataset.h5")) << other;
  EXPECT_TRUE(contains(other.error_lines()[0], "generator")) << other;
}

TEST_F(CliRuns, CompareOneRankWithTwoRanks) {
  const fs::path one = dir / "np1", two = dir / "np2";
  ASSERT_EQ(run_ok(quickstart(), one.string(), {}, 0).status, 0);
  ASSERT_EQ(run_ok(quickstart(), two.string(), {}, 2).status, 0);
  EXPECT_EQ(read_report(two).value("ranks", 0), 2);

  const CliResult r =
      run_karman(dir, {"compare", (two / "fields.h5").string(), (one / "fields.h5").string()});
  ASSERT_EQ(r.status, 0) << r;
  const auto lines = nonempty_lines(r.out);
  ASSERT_FALSE(lines.empty()) << r;
  EXPECT_TRUE(contains(lines[0], "rel_l2")) << r;
  bool found = false;
  for (const auto& line : lines) {
    std::istringstream in(line);
    std::string name, shape, rel_l2;
    in >> name >> shape >> rel_l2;
    if (name != "reference") continue;
    found = true;
    EXPECT_EQ(shape, "65x65") << r;
    EXPECT_LT(std::stod(rel_l2), 1e-9) << r;
  }
  EXPECT_TRUE(found) << "no 'reference' row\n" << r;

  const CliResult missing =
      run_karman(dir, {"compare", (one / "fields.h5").string(), "missing.h5"});
  EXPECT_EQ(missing.status, 1) << missing;
  ASSERT_EQ(missing.error_lines().size(), 1u) << missing;
  EXPECT_TRUE(contains(missing.error_lines()[0], "missing.h5")) << missing;
}

TEST_F(CliRuns, Info) {
  const CliResult r = run_karman(dir, {"info"});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_TRUE(r.error_lines().empty()) << r;
  std::map<std::string, std::string> rows;  // first word -> line
  for (const auto& line : nonempty_lines(r.out)) {
    std::istringstream in(line);
    std::string first;
    in >> first;
    rows[first] = line;
  }
  for (const char* library : {"PETSc", "Kokkos", "HDF5"})
    EXPECT_TRUE(rows.count(library)) << "no " << library << " line\n" << r;
  EXPECT_TRUE(contains(rows["HDF5"], "(parallel)")) << r;
}

// hdf5.compression: gzip: the quickstart's fields.h5 has shuffle + deflate chunked datasets
// (h5dump -pH), h5py reads values equal to those of the contiguous run, and the smooth reference
// field takes fewer bytes; fields.xdmf still names the same datasets.
TEST_F(CliRuns, CompressedFieldsReadByH5py) {
  const fs::path plain = dir / "plain", packed = dir / "packed";
  ASSERT_EQ(run_ok(quickstart(), plain.string()).status, 0);
  ASSERT_EQ(run_ok(quickstart(), packed.string(), {"hdf5.compression=gzip", "hdf5.level=6"}).status,
            0);
  int status = -1;
  const std::string dump =
      shell_output(dir, "h5dump -pH " + shell_quote((packed / "fields.h5").string()), &status);
  ASSERT_EQ(status, 0) << dump;
  const auto reference = dump.find("DATASET \"reference\"");
  ASSERT_NE(reference, std::string::npos) << dump;
  const std::string block = dump.substr(reference, dump.find("DATASET", reference + 8) - reference);
  EXPECT_TRUE(contains(block, "CHUNKED")) << block;
  EXPECT_TRUE(contains(block, "SHUFFLE")) << block;
  EXPECT_TRUE(contains(block, "DEFLATE")) << block;
  EXPECT_TRUE(contains(block, "LEVEL 6")) << block;
  // h5py (Debian's, /usr/bin/python3): every common field equal to the contiguous run's, the
  // compressed reference smaller.
  const std::string script =
      "import sys, h5py\n"
      "a = h5py.File(sys.argv[1], 'r'); b = h5py.File(sys.argv[2], 'r')\n"
      "names = sorted(a['fields'])\n"
      "assert names == sorted(b['fields']), (names, sorted(b['fields']))\n"
      "for n in names:\n"
      "    assert (a['fields'][n][()] == b['fields'][n][()]).all(), n\n"
      "assert b['fields/reference'].compression == 'gzip'\n"
      "assert a['fields/reference'].compression is None\n"
      "pa = a['fields/reference'].id.get_storage_size()\n"
      "pb = b['fields/reference'].id.get_storage_size()\n"
      "print('fields', len(names), 'bytes', pa, pb)\n"
      "assert pb < pa, (pa, pb)\n";
  write_text(dir / "check.py", script);
  const std::string out =
      shell_output(dir,
                   "/usr/bin/python3 check.py " + shell_quote((plain / "fields.h5").string()) +
                       " " + shell_quote((packed / "fields.h5").string()),
                   &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_TRUE(contains(out, "fields ")) << out;
  EXPECT_EQ(read_text(plain / "fields.xdmf"), read_text(packed / "fields.xdmf"));
}

// `karman info --json` on 2 ranks: one JSON object on stdout (rank 0 alone prints), with the
// text form's facts, the ranks on their hosts and the registered methods.
TEST_F(CliRuns, InfoJson) {
  const CliResult r = run_karman(dir, {"info", "--json"}, 2);
  ASSERT_EQ(r.status, 0) << r;
  json info;
  try {
    info = json::parse(r.out);
  } catch (const json::exception& e) {
    FAIL() << "stdout is not one JSON document: " << e.what() << "\n" << r;
  }
  EXPECT_EQ(info.value("mpi", json::object()).value("ranks", 0), 2) << info.dump(2);
  long ranks_on_hosts = 0;
  for (const auto& host : info.value("hosts", json::array())) {
    EXPECT_FALSE(host.value("name", "").empty()) << info.dump(2);
    EXPECT_GE(host.value("cores", 0), 1) << info.dump(2);
    ranks_on_hosts += host.value("ranks", 0);
  }
  EXPECT_EQ(ranks_on_hosts, 2) << info.dump(2);
  EXPECT_GE(info["kokkos"].value("threads_per_rank", 0), 1) << info.dump(2);
  EXPECT_GE(info["blas"].value("threads_per_rank", 0), 1) << info.dump(2);
  EXPECT_TRUE(info["hdf5"].value("parallel", false)) << info.dump(2);
  std::set<std::string> methods;
  for (const auto& m : info.value("methods", json::array())) methods.insert(m.get<std::string>());
  EXPECT_EQ(methods, (std::set<std::string>{"reference", "fit", "pinn", "dataset", "fno", "precond",
                                            "dcdm", "mppde", "gno"}));
  // The same versions as the text form.
  const CliResult text = run_karman(dir, {"info"});
  ASSERT_EQ(text.status, 0) << text;
  EXPECT_TRUE(contains(text.out, "karman " + info.value("karman_version", std::string("?"))))
      << text << info.dump(2);
  EXPECT_TRUE(contains(text.out, "HDF5     " + info["hdf5"].value("version", std::string("?"))))
      << text << info.dump(2);
}

TEST_F(CliRuns, Post) {
  const fs::path out = dir / "quickstart";
  ASSERT_EQ(run_ok(quickstart(), out.string(), {"grid.n=17"}).status, 0);
  const json report = read_report(out);
  const CliResult r = run_karman(dir, {"post", out.string()});
  ASSERT_EQ(r.status, 0) << r;
  EXPECT_TRUE(r.error_lines().empty()) << r;
  EXPECT_TRUE(contains(r.out, "status ok")) << r;
  bool found = false;
  for (const auto& line : nonempty_lines(r.out)) {
    std::istringstream in(line);
    std::string key;
    double value = 0;
    if (!(in >> key >> value) || key != "rel_l2") continue;
    found = true;
    const double expected = report.value("metrics", json::object()).value("rel_l2", 0.0);
    EXPECT_NEAR(value, expected, 1e-5 * expected) << r;
  }
  EXPECT_TRUE(found) << "no rel_l2 line\n" << r;

  fs::create_directories(dir / "empty");
  const CliResult empty = run_karman(dir, {"post", "empty"});
  EXPECT_EQ(empty.status, 1) << empty;
  ASSERT_EQ(empty.error_lines().size(), 1u) << empty;
  EXPECT_TRUE(contains(empty.error_lines()[0], "report.json")) << empty;
}

}  // namespace
