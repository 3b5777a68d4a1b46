// kind precond through `karman run`: the learned CG preconditioner of every small case in
// cases/precond (Poisson 2D and 3D, log-normal and thresholded GRF diffusion; a row head learning
// MIC(0)'s diagonal perturbation, model.correction relaxation) needs fewer CG iterations than
// MIC(0) itself and than PETSc's ICC on every held-out test matrix, the report holds every
// baseline PC, the FSAI variant (model.factor fsai) runs with
// the classical FSAI as a baseline, and bad keys are refused with one line naming the key.
// Storage: training pairs written to data.file are reused with the same result, model.load of a
// run's checkpoint.h5 reproduces its CG iterations, test.matrices adds a user's matrix, and a
// corrupt or mismatched model file or a bad matrix file is one error line (exit 1) that leaves
// the run folder as it was.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <nlohmann/json.hpp>

#include "operators/precond/storage.hpp"
#include "petsc/handle.hpp"
#include "support/cli.hpp"
#include "support/kokkos_env.hpp"

using namespace karman::test;

namespace {

const std::vector<std::string> kBaselines = {"none", "jacobi", "icc", "gamg", "hypre"};

// One small precond case as it is in cases/precond: status ok, every baseline converged on every
// held-out matrix, and the learned factor with fewer CG iterations than MIC(0) (its reference,
// the same pattern) and PETSc's IC(0) on each.
void check_case_beats_mic0(const std::string& name) {
  const fs::path dir = test_folder();
  const fs::path out = dir / name;
  const fs::path case_file = source_dir() / "cases" / "precond" / (name + ".yaml");
  const CliResult r = run_karman(dir, {"run", case_file.string(), "--output", out.string()});
  ASSERT_EQ(r.status, 0) << r;
  const nlohmann::json report = nlohmann::json::parse(read_text(out / "report.json"));
  SCOPED_TRACE(report.dump(2));
  EXPECT_EQ(report.value("status", ""), "ok");
  EXPECT_TRUE(fs::is_regular_file(out / "checkpoint.h5"));
  EXPECT_TRUE(fs::is_regular_file(out / "pairs.h5"));

  // The largest held-out matrix: the learned factor against PETSc's ICC.
  const nlohmann::json& metrics = report.at("metrics");
  const nlohmann::json& baselines = report.at("baselines");
  for (const auto& pc : kBaselines) {
    ASSERT_TRUE(baselines.contains(pc)) << pc;
    EXPECT_GT(baselines[pc].value("iterations", -1L), 0) << pc;
    EXPECT_GE(baselines[pc].value("total_s", -1.0), 0.0) << pc;
  }
  ASSERT_TRUE(baselines.contains("reference"));
  EXPECT_GT(metrics.value("iterations", -1L), 0);
  EXPECT_LT(metrics.value("iterations", -1L), baselines["icc"].value("iterations", -1L));
  EXPECT_LE(metrics.value("best_iterations", -1L), metrics.value("initial_iterations", -1L));
  EXPECT_GT(metrics.value("params", 0L), 0);
  EXPECT_GT(metrics.value("setup_s", 0.0), 0.0);
  // The run-directory contract's baseline: CG + IC(0) on the same matrix.
  EXPECT_EQ(report.at("baseline").value("pc", ""), "icc");
  EXPECT_EQ(report.at("baseline").value("iterations", -2L),
            baselines["icc"].value("iterations", -1L));

  // Every test matrix: converged with every PC, and fewer iterations than ICC.
  const nlohmann::json& matrices = report.at("matrices");
  ASSERT_EQ(matrices.size(), 2u);
  for (const auto& m : matrices) {
    SCOPED_TRACE(m.value("name", ""));
    const long learned = m.at("learned").value("iterations", -1L);
    EXPECT_GT(learned, 0);
    for (const auto& pc : kBaselines) EXPECT_GT(m.at(pc).value("iterations", -1L), 0) << pc;
    EXPECT_LT(learned, m.at("icc").value("iterations", -1L));
    EXPECT_LT(learned, m.at("reference").value("iterations", -1L)) << "MIC(0)";
  }
}

TEST(CliPrecond, LearnedFactorBeatsMic0OnHeldOutPoisson2d) { check_case_beats_mic0("poisson2d"); }
TEST(CliPrecond, LearnedFactorBeatsMic0OnHeldOutPoisson3d) { check_case_beats_mic0("poisson3d"); }
TEST(CliPrecond, LearnedFactorBeatsMic0OnHeldOutDiffusion) {
  check_case_beats_mic0("diffusion2d_grf");
}
TEST(CliPrecond, LearnedFactorBeatsMic0OnHeldOutThresholdedDiffusion) {
  check_case_beats_mic0("diffusion2d_threshold");
}

// model.factor fsai (cases/precond/poisson2d_fsai.yaml, shortened): the learned sparse approximate
// inverse runs through -pc_karman_type fsai, the classical FSAI is a baseline and lies between
// Jacobi and ICC, and model selection keeps a model no worse than the classical FSAI. MIC(0) has
// its row in the table here too (the GNN's reference is FSAI), and needs fewer CG iterations than
// IC(0).
TEST(CliPrecond, FsaiFactorRunsWithTheClassicalFsaiBaseline) {
  const fs::path dir = test_folder();
  const fs::path out = dir / "poisson2d_fsai";
  const fs::path case_file = source_dir() / "cases" / "precond" / "poisson2d_fsai.yaml";
  const CliResult r = run_karman(dir, {"run", case_file.string(), "--output", out.string(), "--set",
                                       "training.steps=50", "--set", "test.sizes=[32]"});
  ASSERT_EQ(r.status, 0) << r;
  const nlohmann::json report = nlohmann::json::parse(read_text(out / "report.json"));
  SCOPED_TRACE(report.dump(2));
  const nlohmann::json& metrics = report.at("metrics");
  const nlohmann::json& baselines = report.at("baselines");
  ASSERT_TRUE(baselines.contains("fsai"));
  const long fsai = baselines["fsai"].value("iterations", -1L);
  EXPECT_GT(fsai, baselines["icc"].value("iterations", -1L));
  EXPECT_LT(fsai, baselines["jacobi"].value("iterations", -1L));
  ASSERT_TRUE(baselines.contains("mic0"));
  EXPECT_GT(baselines["mic0"].value("iterations", -1L), 0);
  EXPECT_LT(baselines["mic0"].value("iterations", -1L), baselines["icc"].value("iterations", -1L));
  EXPECT_GT(metrics.value("iterations", -1L), 0);
  EXPECT_LE(metrics.value("best_iterations", -1L), metrics.value("initial_iterations", -1L));
}

// One error line, exit 1, naming the key, for values the case keys cannot take.
TEST(CliPrecond, BadKeysAreRefused) {
  const fs::path dir = test_folder();
  const fs::path case_file = source_dir() / "cases" / "precond" / "poisson2d.yaml";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"test.sizes=[2]", "test.sizes"},
      {"problem=foo", "problem"},
      {"train.sizes=[12.5]", "train.sizes"},
      {"model.width=0", "model.width"},
      {"model.factor=ilu", "model.factor"},
      {"train.partitions=[0]", "train.partitions"},
      {"train.partition_form=schur", "train.partition_form"},
      {"train.partition_overlap=-1", "train.partition_overlap"},
      {"model.correction=additive", "model.correction"},
      // The case's relaxation correction relaxes MIC(0): IC(0) as the reference is refused.
      {"model.reference=ic0", "model.correction"},
      {"model.shift_bound=-1", "model.shift_bound"}};
  for (const auto& [set, key] : bad) {
    SCOPED_TRACE(set);
    const CliResult r = run_karman(
        dir, {"run", case_file.string(), "--output", (dir / "bad").string(), "--set", set});
    EXPECT_EQ(r.status, 1) << r;
    ASSERT_EQ(r.error_lines().size(), 1u) << r;
    EXPECT_NE(r.error_lines()[0].find(key), std::string::npos) << r;
  }
}

}  // namespace

namespace {

// A run of seconds: train on 6², 8² (4 pairs each), validate on 8², test on 12². The factor loss
// (host loops, no LAPACK): training on one and on two ranks then agrees to the last bit.
std::vector<std::string> tiny_run(const fs::path& out, std::vector<std::string> sets = {}) {
  const fs::path case_file = source_dir() / "cases" / "precond" / "poisson2d.yaml";
  std::vector<std::string> args = {"run", case_file.string(), "--output", out.string()};
  sets.insert(sets.begin(),
              {"train.sizes=[6, 8]", "train.rhs=4", "validation.size=8", "test.sizes=[12]",
               "training.steps=20", "training.select_every=10", "training.loss=factor"});
  for (const std::string& set : sets) args.insert(args.end(), {"--set", set});
  return args;
}

nlohmann::json report_of(const fs::path& out) {
  return nlohmann::json::parse(read_text(out / "report.json"));
}

// CG iterations of every PC on every test matrix: name -> pc -> iterations.
std::map<std::string, std::map<std::string, long>> iterations_of(const nlohmann::json& report) {
  std::map<std::string, std::map<std::string, long>> out;
  for (const auto& m : report.at("matrices"))
    for (const auto& [pc, run] : m.items())
      if (run.is_object()) out[m.at("name")][pc] = run.value("iterations", -2L);
  return out;
}

// The one error line of a failed run (exit 1), which must contain every fragment.
void expect_one_error_line(const CliResult& r, const std::vector<std::string>& fragments) {
  EXPECT_EQ(r.status, 1) << r;
  ASSERT_EQ(r.error_lines().size(), 1u) << r;
  for (const std::string& fragment : fragments)
    EXPECT_NE(r.error_lines()[0].find(fragment), std::string::npos) << fragment << "\n" << r;
}

// The whole 12² Poisson matrix (a test matrix a user might bring), with one pair x = 0, b = 0.
karman::precond::MatrixFile poisson_file(PetscInt n) {
  namespace precond = karman::precond;
  karman::petsc::Mat a;
  precond::create_poisson_2d(PETSC_COMM_SELF, n, a.out());
  precond::MatrixFile file;
  precond::StoredMatrix m;
  m.name = "user_poisson";
  m.pairs.a = precond::LocalBlock{precond::local_diagonal_block(a), {}};
  m.pairs.x = m.pairs.b = karman::nn::Matrix<double>("pair", m.pairs.a.rows, 1);
  file.matrices.push_back(m);
  return file;
}

}  // namespace

// (a) pairs written to data.file are read back by a second run, which trains to the same loss and
// CG iterations without a reference solve; a case with other training sizes refuses the file.
// (b) model.load of the first run's checkpoint.h5 gives the same CG iterations on every matrix,
// on one rank and (block form) on two.
TEST(CliPrecond, StoredPairsAndLoadedModelReproduceTheRun) {
  const fs::path dir = test_folder();
  const CliResult first = run_karman(dir, tiny_run(dir / "first", {"data.file=pairs.h5"}));
  ASSERT_EQ(first.status, 0) << first;
  ASSERT_TRUE(fs::is_regular_file(dir / "pairs.h5"));
  const nlohmann::json a = report_of(dir / "first");
  EXPECT_EQ(a.at("data").value("reused", true), false);

  const CliResult second = run_karman(dir, tiny_run(dir / "second", {"data.file=pairs.h5"}));
  ASSERT_EQ(second.status, 0) << second;
  EXPECT_NE(second.out.find("training pairs read from pairs.h5"), std::string::npos) << second;
  const nlohmann::json b = report_of(dir / "second");
  EXPECT_EQ(b.at("data").value("reused", false), true);
  for (const char* key : {"initial_loss", "train_loss", "initial_iterations", "best_iterations",
                          "best_step", "iterations"})
    EXPECT_EQ(a.at("metrics").at(key), b.at("metrics").at(key)) << key;
  EXPECT_EQ(iterations_of(a), iterations_of(b));

  const CliResult other =
      run_karman(dir, tiny_run(dir / "other", {"data.file=pairs.h5", "train.sizes=[6, 10]"}));
  expect_one_error_line(other, {"pairs.h5", "train.sizes", "[6, 8]", "[6, 10]"});

  const fs::path checkpoint = dir / "first" / "checkpoint.h5";
  const CliResult loaded =
      run_karman(dir, tiny_run(dir / "loaded", {"model.load=" + checkpoint.string()}));
  ASSERT_EQ(loaded.status, 0) << loaded;
  EXPECT_NE(loaded.out.find("model loaded from"), std::string::npos) << loaded;
  const nlohmann::json c = report_of(dir / "loaded");
  EXPECT_EQ(c.at("metrics").value("train_wall_s", -1.0), 0.0);
  EXPECT_EQ(c.at("metrics").value("model_file", ""), checkpoint.string());
  EXPECT_FALSE(c.at("metrics").contains("best_iterations"));
  EXPECT_EQ(iterations_of(a), iterations_of(c));
  EXPECT_FALSE(fs::exists(dir / "loaded" / "pairs.h5")) << "no pairs without training";

  // On two ranks every rank trains on the whole stored matrices: the one-rank model again (same
  // loss and validation iterations), so training there and loading the one-rank checkpoint time
  // the same block-form CG.
  const CliResult trained_np2 = run_karman(dir, tiny_run(dir / "np2", {"data.file=pairs.h5"}), 2);
  ASSERT_EQ(trained_np2.status, 0) << trained_np2;
  const CliResult loaded_np2 =
      run_karman(dir, tiny_run(dir / "loaded_np2", {"model.load=" + checkpoint.string()}), 2);
  ASSERT_EQ(loaded_np2.status, 0) << loaded_np2;
  const nlohmann::json d = report_of(dir / "np2"), e = report_of(dir / "loaded_np2");
  for (const char* key : {"train_loss", "best_iterations", "best_step"})
    EXPECT_EQ(a.at("metrics").at(key), d.at("metrics").at(key)) << key;
  for (const auto& [name, pcs] : iterations_of(d))
    EXPECT_EQ(pcs.at("learned"), iterations_of(e).at(name).at("learned")) << name;
}

// (c) a corrupt model file and (d) a model of another width: one line naming the file, exit 1,
// no HDF5 error stack, and no report.json.
TEST(CliPrecond, BadModelFilesAreOneLine) {
  const fs::path dir = test_folder();
  const CliResult made = run_karman(dir, tiny_run(dir / "made", {"training.steps=0"}));
  ASSERT_EQ(made.status, 0) << made;
  const std::string bytes = read_text(dir / "made" / "checkpoint.h5");
  ASSERT_GT(bytes.size(), 1000u);
  EXPECT_TRUE(fs::is_regular_file(dir / "made" / "pairs.h5")) << "pairs kept in the run folder";

  // Garbage everywhere; garbage after an intact superblock; garbage metadata; the first half.
  std::string garbage(bytes.size(), '\0');
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 7919 % 251);
  const std::vector<std::pair<std::string, std::string>> corrupt = {
      {"garbage.h5", garbage},
      {"overwritten.h5", bytes.substr(0, 96) + garbage.substr(96)},
      // The object headers and B-tree after the superblock (the file still opens).
      {"metadata.h5", bytes.substr(0, 800) + garbage.substr(800, 2600) + bytes.substr(3400)},
      {"truncated.h5", bytes.substr(0, bytes.size() / 2)}};
  for (const auto& [name, content] : corrupt) {
    SCOPED_TRACE(name);
    write_text(dir / name, content);
    const CliResult r = run_karman(dir, tiny_run(dir / "bad", {"model.load=" + name}));
    expect_one_error_line(r, {name});
    EXPECT_EQ(r.err.find("HDF5-DIAG"), std::string::npos) << "no HDF5 error stack";
    EXPECT_FALSE(fs::exists(dir / "bad" / "report.json"));
  }

  const CliResult wider =
      run_karman(dir, tiny_run(dir / "bad", {"model.load=made/checkpoint.h5", "model.width=16"}));
  expect_one_error_line(wider, {"made/checkpoint.h5", "model_width 8", "model.width 16"});
}

// A user's SPD matrix from an HDF5 file is a test matrix like any other (the 12² Poisson matrix
// from a file takes exactly the iterations of the generated one); (e) a non-symmetric matrix and
// (f) a matrix whose x has other rows and (g) a singular one are one line naming the file, and the
// run folder of the earlier run is left as it was.
TEST(CliPrecond, UserMatricesAreCheckedAndTimed) {
  const fs::path dir = test_folder();
  karman::precond::write_matrix_file(MPI_COMM_SELF, (dir / "user.h5").string(), poisson_file(12));
  const CliResult good = run_karman(dir, tiny_run(dir / "run", {"test.matrices=[user.h5]"}));
  ASSERT_EQ(good.status, 0) << good;
  const auto iterations = iterations_of(report_of(dir / "run"));
  ASSERT_EQ(iterations.size(), 2u);
  EXPECT_EQ(iterations.at("user_poisson"), iterations.at("poisson2d_12"));
  const FolderSnapshot before = snapshot(dir / "run");

  karman::precond::MatrixFile unsymmetric = poisson_file(12);
  unsymmetric.matrices[0].pairs.a.values[1] *= 1.5;
  karman::precond::write_matrix_file(MPI_COMM_SELF, (dir / "unsymmetric.h5").string(), unsymmetric);
  const CliResult e =
      run_karman(dir, tiny_run(dir / "run", {"test.matrices=[user.h5, unsymmetric.h5]"}));
  expect_one_error_line(e, {"unsymmetric.h5", "/matrices/0", "not symmetric"});

  // x with 143 rows for a 144-row matrix.
  fs::copy_file(dir / "user.h5", dir / "short_x.h5");
  const hid_t file = H5Fopen((dir / "short_x.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  H5Ldelete(file, "/matrices/0/x", H5P_DEFAULT);
  const hsize_t dims[2] = {143, 1};
  const hid_t space = H5Screate_simple(2, dims, nullptr);
  const hid_t x = H5Dcreate2(file, "/matrices/0/x", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
  const std::vector<double> zeros(143, 0.0);
  H5Dwrite(x, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data());
  H5Dclose(x), H5Sclose(space), H5Fclose(file);
  const CliResult f = run_karman(dir, tiny_run(dir / "run", {"test.matrices=[short_x.h5]"}));
  expect_one_error_line(f, {"short_x.h5", "x has 143 rows but the matrix has 144"});

  // (g) Symmetric but singular: the 1D Neumann Laplacian (rows sum to zero, IC(0) is its exact
  // Cholesky factor and meets a zero pivot in the last row).
  karman::precond::MatrixFile singular;
  karman::precond::StoredMatrix neumann;
  neumann.name = "neumann_1d";
  karman::precond::CsrMatrix& l = neumann.pairs.a;
  l.rows = 8;
  l.row_ptr.assign(1, 0);
  for (std::int64_t i = 0; i < l.rows; ++i) {
    const bool end = (i == 0 || i == l.rows - 1);
    if (i > 0) l.col.push_back(i - 1), l.values.push_back(-1.0);
    l.col.push_back(i), l.values.push_back(end ? 1.0 : 2.0);
    if (i + 1 < l.rows) l.col.push_back(i + 1), l.values.push_back(-1.0);
    l.row_ptr.push_back(static_cast<std::int64_t>(l.col.size()));
  }
  singular.matrices.push_back(neumann);
  karman::precond::write_matrix_file(MPI_COMM_SELF, (dir / "singular.h5").string(), singular);
  const CliResult g = run_karman(dir, tiny_run(dir / "run", {"test.matrices=[singular.h5]"}));
  expect_one_error_line(g, {"singular.h5", "/matrices/0", "singular"});

  EXPECT_TRUE(differences(before, snapshot(dir / "run")).empty());
}
