// kind gno through `karman run`: the graph kernel network learns Darcy on a small grid and keeps
// its error zero-shot on finer grids, compared with PETSc on the same instances (and CG started
// from its prediction); on Poisson over mesh shapes both models (GNO, graph network) learn shapes
// held out of training well below a "mean solution" predictor, per shape; a run killed
// mid-training resumes to exactly the weights of an uninterrupted one; bad input (a radius
// leaving nodes without neighbours, a 3D mesh among 2D shapes, a dataset missing a set's meshes)
// ends in one line and exit status 1.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <nlohmann/json.hpp>

#include "support/checkpoints.hpp"
#include "support/cli.hpp"
#include "support/history.hpp"
#include "support/report_checks.hpp"

using namespace karman;
using namespace karman::test;

namespace {

// cases/gno/darcy_grid.yaml made smaller: 28 samples on 61², training on 16², zero-shot 31², 61².
std::vector<std::string> small_darcy(const std::string& output, long epochs,
                                     std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {
      "run",
      (source_dir() / "cases" / "gno" / "darcy_grid.yaml").string(),
      "--output",
      output,
      "--quiet",
      "--set",
      "data.samples=28",
      "--set",
      "data.train=24",
      "--set",
      "data.test=4",
      "--set",
      "model.gno={width: 16, kernel_width: 16, depth: 3}",
      "--set",
      "training.validate_every=2",
      "--set",
      "training.stages=[{optimizer: adam, epochs: " + std::to_string(epochs) +
          ", lr: 5.0e-3, schedule: step, every: 10, gamma: 0.5}]",
      "--set",
      "evaluation={resolutions: [31, 61], baseline_samples: 4, fields: 2, zero_shot_samples: 4}"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(CliGno, DarcyLearnsKeepsItsErrorOnFinerGridsAndIsComparedWithPetsc) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, small_darcy("darcy", 24));
  ASSERT_EQ(r.status, 0) << r;
  const auto report = report_of(dir / "darcy");
  const auto m = report["metrics"];
  const auto b = report["baseline"];
  EXPECT_EQ(report["precision"], "float32");
  // It learned: the test error fell well below its value after the first validation.
  const auto test_errors = history_validations(dir / "darcy" / "history.csv");
  ASSERT_GE(test_errors.size(), 5u);
  const double error = m["rel_l2"].get<double>();
  EXPECT_LT(error, 0.6 * test_errors.front()) << m.dump();
  EXPECT_LT(error, 0.2) << m.dump();
  // Zero-shot: the same weights on 31² and 61² (a finer quadrature of the same kernel integral).
  ASSERT_EQ(m["zero_shot"].size(), 2u) << m.dump();
  for (const auto& z : m["zero_shot"]) {
    EXPECT_LT(z["rel_l2"].get<double>(), 1.5 * error) << z.dump();
    EXPECT_EQ(z["sender_stride"], 1) << z.dump();
  }
  // Never the w × w kernel per edge: the factored layer's memory is far below the materialised.
  EXPECT_GT(m["kernel_memory"]["ratio"].get<double>(), 5.0) << m.dump();
  // PETSc solved the same 4 instances on 16²; CG from the GNO's prediction needs fewer iterations.
  EXPECT_EQ(b["samples"], 4);
  EXPECT_EQ(b["ksp"], "cg");
  EXPECT_LT(m["warm_start_iterations"].get<double>(), b["iterations"].get<double>()) << m.dump();
  EXPECT_GT(report["speedup"].get<double>(), 0.0);
  EXPECT_TRUE(fs::exists(dir / "darcy" / "fields.h5"));
  EXPECT_TRUE(fs::exists(dir / "darcy" / "fields.xdmf"));
}

// Data parallel: each rank runs its share of every batch and the trainer sums the gradients, so
// 1 and 2 ranks train the same model up to the order of that sum (float64: round-off).
TEST(CliGno, Float64TrainingGivesTheSamePredictionsOnTwoRanks) {
  const fs::path dir = test_folder();
  const std::vector<std::string> float64 = {"--set", "precision=float64"};
  const CliResult one = run_karman(dir, small_darcy("one", 3, float64));
  ASSERT_EQ(one.status, 0) << one;
  const CliResult two = run_karman(dir, small_darcy("two", 3, float64), /*ranks=*/2);
  ASSERT_EQ(two.status, 0) << two;
  const auto a = history_losses(dir / "one" / "history.csv");
  ASSERT_EQ(a.size(), 18u);  // 3 epochs of 24 / 4 batches
  EXPECT_LE(max_relative_difference(a, history_losses(dir / "two" / "history.csv")), 1e-10);
  const auto m1 = report_of(dir / "one")["metrics"], m2 = report_of(dir / "two")["metrics"];
  EXPECT_NEAR(m2["rel_l2"].get<double>(), m1["rel_l2"].get<double>(),
              1e-10 * m1["rel_l2"].get<double>());
  for (std::size_t k = 0; k < m1["zero_shot"].size(); ++k)
    EXPECT_NEAR(m2["zero_shot"][k]["rel_l2"].get<double>(),
                m1["zero_shot"][k]["rel_l2"].get<double>(),
                1e-10 * m1["zero_shot"][k]["rel_l2"].get<double>());
}

TEST(CliGno, KilledTrainingResumesToTheSameWeights) {
  const std::vector<std::string> every_epoch = {"--set", "training.checkpoint_every=1"};
  expect_killed_run_resumes(
      test_folder(), [&](const std::string& run) { return small_darcy(run, 8, every_epoch); }, 12,
      48, "rel_l2");
}

TEST(CliGno, ARadiusBelowTheGridSpacingIsRefused) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(dir, small_darcy("bad", 1, {"--set", "model.radius=0.05"}));
  EXPECT_EQ(r.status, 1) << r;
  const auto lines = r.error_lines();
  ASSERT_EQ(lines.size(), 1u) << r;
  // The place is the --set that gave the value.
  EXPECT_NE(lines[0].find("model.radius"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("neighbour"), std::string::npos) << lines[0];
}

// cases/gno/poisson_shapes.yaml made small: 32 training samples, 6 per test set, coarse meshes.
std::vector<std::string> small_shapes(const std::string& output, const std::string& model,
                                      long epochs, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {
      "run",
      (source_dir() / "cases" / "gno" / "poisson_shapes.yaml").string(),
      "--output",
      output,
      "--quiet",
      "--set",
      "data.mesh_size=0.1",
      "--set",
      "data.sets={train: {samples: 32, shapes: [square, disk, lshape, holes], sources: [1, 2]}, "
      "seen: {samples: 6, shapes: [square, disk, lshape, holes], sources: [1, 2]}, "
      "unseen: {samples: 6, shapes: [ushape, annulus], sources: [1, 2]}, "
      "superposed: {samples: 6, shapes: [square, disk], sources: [3, 4]}}",
      "--set",
      "model=" + model,
      "--set",
      "training.validate_every=5",
      "--set",
      "training.stages=[{optimizer: adam, epochs: " + std::to_string(epochs) +
          ", lr: 3.0e-3, schedule: step, every: 15, gamma: 0.5}]"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Both models learn shapes they never saw: the held-out shapes' error is at most half the mean
// predictor's, reported per shape.
void expect_learns_unseen_shapes(const fs::path& run) {
  const auto m = report_of(run)["metrics"];
  const auto sets = m["sets"];
  for (const char* set : {"seen", "unseen", "superposed"}) {
    ASSERT_TRUE(sets.contains(set)) << m.dump();
    EXPECT_LT(sets[set]["rel_l2"].get<double>(),
              0.5 * sets[set]["mean_predictor_rel_l2"].get<double>())
        << set << ": " << sets[set].dump();
  }
  EXPECT_TRUE(sets["unseen"]["per_shape"].contains("ushape")) << sets.dump();
  EXPECT_TRUE(sets["unseen"]["per_shape"].contains("annulus")) << sets.dump();
  EXPECT_GT(m["ratio_unseen_to_seen"].get<double>(), 0.0);
  // The finite-element CG started from the prediction needs no more iterations than from zero.
  EXPECT_LE(m["warm_start_iterations"].get<double>(),
            report_of(run)["baseline"]["iterations"].get<double>())
      << m.dump();
  EXPECT_TRUE(fs::exists(run / "fields.h5"));
  EXPECT_TRUE(fs::exists(run / "fields.xdmf"));
}

TEST(CliGno, GnoLearnsShapesHeldOutOfTraining) {
  const fs::path dir = test_folder();
  const CliResult r =
      run_karman(dir, small_shapes("gno",
                                   "{type: gno, radius: 0.25, gno: {width: 16, kernel_width: 16, "
                                   "depth: 6}}",
                                   30));
  ASSERT_EQ(r.status, 0) << r;
  expect_learns_unseen_shapes(dir / "gno");
}

TEST(CliGno, GraphNetworkLearnsShapesHeldOutOfTraining) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(
      dir,
      small_shapes("net", "{type: graph_network, graph_network: {hidden: 32, layers: 8}}", 30));
  ASSERT_EQ(r.status, 0) << r;
  expect_learns_unseen_shapes(dir / "net");
}

// A sample's mesh distributed over 2 ranks (one layer of overlap, halo exchange before every
// message-passing layer) gives the whole-mesh prediction to round-off in float64.
TEST(CliGno, APartitionedSampleMeshGivesTheWholeMeshPrediction) {
  const fs::path dir = test_folder();
  const CliResult r = run_karman(
      dir,
      small_shapes("two", "{type: graph_network, graph_network: {hidden: 16, layers: 4}}", 2,
                   {"--set", "precision=float64"}),
      /*ranks=*/2);
  ASSERT_EQ(r.status, 0) << r;
  const auto p = report_of(dir / "two")["metrics"]["partitioned"];
  EXPECT_EQ(p["ranks"], 2) << p.dump();
  EXPECT_GT(p["halo_copies"].get<long>(), 0) << p.dump();
  EXPECT_LT(p["difference_to_whole"].get<double>(), 1e-12) << p.dump();
}

TEST(CliGno, AThreeDimensionalMeshAmongTwoDimensionalShapesIsRefused) {
  const fs::path dir = test_folder();
  const std::string box = (source_dir() / "meshes" / "box.msh").string();
  const CliResult r =
      run_karman(dir, small_shapes("bad", "{type: gno}", 1,
                                   {"--set", "data.sets.unseen.shapes=[ushape, " + box + "]"}));
  EXPECT_EQ(r.status, 1) << r;
  const auto lines = r.error_lines();
  ASSERT_EQ(lines.size(), 1u) << r;
  EXPECT_NE(lines[0].find("box.msh"), std::string::npos) << lines[0];
}

TEST(CliGno, ADatasetMissingASetsMeshesIsRefusedNamingFileAndSet) {
  const fs::path dir = test_folder();
  const CliResult made = run_karman(dir, small_shapes("made", "{type: gno}", 1));
  ASSERT_EQ(made.status, 0) << made;
  fs::copy_file(dir / "made" / "dataset.h5", dir / "bad.h5");
  {
    const hid_t file = H5Fopen((dir / "bad.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    ASSERT_GE(H5Ldelete(file, "/unseen/cells", H5P_DEFAULT), 0);
    H5Fclose(file);
  }
  const CliResult r =
      run_karman(dir, small_shapes("bad", "{type: gno}", 1, {"--set", "data.file=bad.h5"}));
  EXPECT_EQ(r.status, 1) << r;
  const auto lines = r.error_lines();
  ASSERT_EQ(lines.size(), 1u) << r;
  EXPECT_NE(lines[0].find("bad.h5"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("unseen"), std::string::npos) << lines[0];
  EXPECT_FALSE(fs::exists(dir / "bad" / "report.json"));
}

}  // namespace
