// The Poisson-on-many-shapes dataset of kind gno (operators/gno/shapes.hpp) at 1 and 2 ranks: the
// file made on all ranks equals, bit for bit (all but the solve times), the file made by rank 0
// alone; an interrupted generation resumed equals an uninterrupted one; each sample satisfies its
// Dirichlet data on the boundary, takes its shape from its set and is solved again from its
// stored values to the same solution (from the stored solution as initial guess in at most one
// CG iteration, from a perturbed one in fewer than from 0); the P1 solution of a manufactured
// problem on Gmsh meshes of the shapes converges at order 2 in L2; the edge list of a mesh is each
// triangle side once; bad keys are ConfigErrors naming them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "karman/config/node.hpp"
#include "operators/gno/shapes.hpp"
#include "support/mpi_world.hpp"

using namespace karman;
using namespace karman::gno;
using namespace karman::test;
namespace fs = std::filesystem;

namespace {

void remove_dataset(const std::string& path) {
  if (world_rank() == 0) {
    fs::remove(path);
    fs::remove(path + ".partial");
  }
  MPI_Barrier(world());
}

// Two small sets covering every built-in shape and a Gmsh file; 5 + 3 samples so that two ranks
// get unequal shares.
ShapesSpec small_spec() {
  ShapesSpec spec;
  spec.seed = 7;
  spec.mesh_size = 0.12;
  spec.solver.ksp = "cg";
  spec.solver.pc = "gamg";
  spec.solver.rtol = 1e-10;
  spec.sets = {{"train", 5, {"square", "disk", "lshape", "holes"}, 1, 2},
               {"unseen", 3, {"ushape", "annulus", KARMAN_SOURCE_DIR "/meshes/lshape.msh"}, 3, 4}};
  return spec;
}

void expect_same(const std::vector<ShapeSample>& a, const std::vector<ShapeSample>& b,
                 const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].shape, b[k].shape) << what << " sample " << k;
    EXPECT_EQ(a[k].vertices, b[k].vertices) << what << " sample " << k;
    EXPECT_EQ(a[k].cells, b[k].cells) << what << " sample " << k;
    EXPECT_EQ(a[k].boundary, b[k].boundary) << what << " sample " << k;
    EXPECT_EQ(a[k].source, b[k].source) << what << " sample " << k;
    EXPECT_EQ(a[k].dirichlet, b[k].dirichlet) << what << " sample " << k;
    EXPECT_EQ(a[k].solution, b[k].solution) << what << " sample " << k;
    EXPECT_EQ(a[k].fem_iterations, b[k].fem_iterations) << what << " sample " << k;
  }
}

TEST(GnoShapes, SameBitsOnAnyRankCountAndResumed) {
  const ShapesSpec spec = small_spec();
  const std::string path = file_name("gno_shapes"), alone = file_name("gno_shapes_alone"),
                    resumed = file_name("gno_shapes_resumed");
  for (const auto& p : {path, alone, resumed}) remove_dataset(p);
  ShapesGenerateOptions options;
  options.quiet = true;
  options.config_yaml = "data: {test: gno_shapes}";
  const ShapesGenerateSummary summary = generate_shapes_dataset(world(), spec, path, options);
  EXPECT_TRUE(summary.complete);
  EXPECT_EQ(summary.solved, 8);
  if (world_rank() == 0) generate_shapes_dataset(MPI_COMM_SELF, spec, alone, options);
  MPI_Barrier(world());

  // Interrupted after one round (one sample per rank), then resumed.
  ShapesGenerateOptions interrupted = options;
  interrupted.stop_after = 1;
  const ShapesGenerateSummary first = generate_shapes_dataset(world(), spec, resumed, interrupted);
  EXPECT_FALSE(first.complete);
  EXPECT_EQ(first.solved, world_size());
  const ShapesGenerateSummary second = generate_shapes_dataset(world(), spec, resumed, options);
  EXPECT_TRUE(second.complete);
  EXPECT_EQ(second.kept, world_size());
  EXPECT_EQ(second.solved, 8 - world_size());

  for (const char* set : {"train", "unseen"}) {
    const auto made = read_shapes_set(path, set);
    expect_same(made, read_shapes_set(alone, set), std::string(set) + " alone");
    expect_same(made, read_shapes_set(resumed, set), std::string(set) + " resumed");
  }
  // A different case refuses the finished file.
  ShapesSpec other = spec;
  other.seed = 8;
  std::string mismatch;
  try {
    generate_shapes_dataset(world(), other, path, options);
  } catch (const ConfigError& e) {
    mismatch = e.what();
  }
  EXPECT_NE(mismatch.find("'seed 7' there, 'seed 8' here"), std::string::npos) << mismatch;
  for (const auto& p : {path, alone, resumed}) remove_dataset(p);
}

TEST(GnoShapes, SamplesHoldTheirDataAndShapes) {
  const ShapesSpec spec = small_spec();
  std::set<std::string> seen;
  for (std::size_t set = 0; set < spec.sets.size(); ++set)
    for (long k = 0; k < spec.sets[set].samples; ++k) {
      const ShapeSample s = make_shape_sample(spec, set, k);
      const auto& allowed = spec.sets[set].shapes;
      EXPECT_NE(std::find(allowed.begin(), allowed.end(), s.shape), allowed.end()) << s.shape;
      seen.insert(s.shape);
      const long n = s.vertex_count();
      ASSERT_GT(n, 20);
      ASSERT_EQ(static_cast<long>(s.solution.size()), n);
      double max_u = 0, boundary_gap = 0, source_max = 0;
      long boundary = 0;
      for (long i = 0; i < n; ++i) {
        max_u = std::max(max_u, std::abs(s.solution[i]));
        source_max = std::max(source_max, s.source[i]);
        if (!s.boundary[i]) continue;
        ++boundary;
        boundary_gap = std::max(boundary_gap, std::abs(s.solution[i] - s.dirichlet[i]));
      }
      EXPECT_LT(boundary_gap, 1e-12) << s.shape;  // u = g at the boundary vertices
      EXPECT_GT(boundary, 8) << s.shape;
      EXPECT_LT(boundary, n) << s.shape;
      EXPECT_GT(source_max, 0.5 * spec.min_amplitude) << s.shape;  // a source centre is inside
      EXPECT_TRUE(std::isfinite(max_u));
      EXPECT_GT(s.fem_iterations, 0);
      // Solved again from its stored vertex values: the same solution and iterations.
      const PoissonOutcome again = solve_sample(s, spec.solver);
      ASSERT_EQ(again.solution.size(), s.solution.size());
      double gap = 0;
      for (long i = 0; i < n; ++i) gap = std::max(gap, std::abs(again.solution[i] - s.solution[i]));
      EXPECT_LT(gap, 1e-12) << s.shape;
      EXPECT_EQ(again.iterations, s.fem_iterations) << s.shape;
      // Started from the stored solution: at most one iteration, the same solution; from it
      // perturbed by 1e-3 max|u| (a smooth wiggle, boundary included): fewer than from 0.
      const PoissonOutcome warm = solve_sample(s, spec.solver, &s.solution);
      EXPECT_LE(warm.iterations, 1) << s.shape;
      gap = 0;
      for (long i = 0; i < n; ++i) gap = std::max(gap, std::abs(warm.solution[i] - s.solution[i]));
      EXPECT_LT(gap, 1e-12) << s.shape;
      std::vector<double> near = s.solution;
      for (long i = 0; i < n; ++i)
        near[i] += 1e-3 * max_u * std::sin(9 * s.vertices[2 * i] + 7 * s.vertices[2 * i + 1]);
      const PoissonOutcome nearly = solve_sample(s, spec.solver, &near);
      EXPECT_LT(nearly.iterations, s.fem_iterations) << s.shape;
      gap = 0;
      for (long i = 0; i < n; ++i)
        gap = std::max(gap, std::abs(nearly.solution[i] - s.solution[i]));
      EXPECT_LT(gap, 1e-8 * max_u) << s.shape;
      if (world_rank() == 0)
        std::printf("%s: %ld CG iterations from 0, %ld from the solution, %ld from it + 1e-3\n",
                    s.shape.c_str(), s.fem_iterations, warm.iterations, nearly.iterations);
      // Triangles counter-clockwise.
      for (long c = 0; c < s.cell_count(); ++c) {
        const long* t = &s.cells[3 * c];
        const double* v = s.vertices.data();
        const double area = (v[2 * t[1]] - v[2 * t[0]]) * (v[2 * t[2] + 1] - v[2 * t[0] + 1]) -
                            (v[2 * t[2]] - v[2 * t[0]]) * (v[2 * t[1] + 1] - v[2 * t[0] + 1]);
        ASSERT_GT(area, 0) << s.shape << " cell " << c;
      }
    }
  EXPECT_GE(seen.size(), 4u);
}

// u = sin(2x + 1/2) cos(y): −Δu = 5u, u = g on ∂Ω. Meshes halved twice; the order is measured
// against the mean cell size sqrt(area / cells) since Gmsh's cell counts only roughly quadruple.
TEST(GnoShapes, FemSolutionConvergesAtOrderTwo) {
  const auto exact = [](double x, double y) { return std::sin(2 * x + 0.5) * std::cos(y); };
  const auto f = [&](double x, double y) { return 5 * exact(x, y); };
  config::SolverSpec solver;
  solver.ksp = "cg";
  solver.pc = "gamg";
  solver.rtol = 1e-12;
  for (const char* shape : {"lshape", "holes", "disk"}) {
    double previous_error = 0, previous_cells = 0;
    for (double h : {0.1, 0.05, 0.025}) {
      const ShapeMesh mesh = mesh_shape(shape, 3, h);
      const PoissonOutcome outcome = solve_poisson(mesh, f, exact, solver, exact);
      const double cells = static_cast<double>(mesh.cells.size() / 3);
      ASSERT_GT(outcome.l2_error, 0);
      if (previous_error > 0) {
        const double order = std::log(previous_error / outcome.l2_error) /
                             std::log(std::sqrt(cells / previous_cells));
        if (world_rank() == 0)
          std::printf("%s h = %.3f: %ld cells, L2 error %.3e, order %.2f\n", shape, h,
                      static_cast<long>(cells), outcome.l2_error, order);
        EXPECT_GT(order, 1.8) << shape << " h = " << h;
        EXPECT_LT(order, 2.4) << shape << " h = " << h;
      }
      previous_error = outcome.l2_error;
      previous_cells = cells;
    }
  }
}

TEST(GnoShapes, MeshEdgesAreEachSideOnce) {
  // Two triangles sharing the side (1, 2), and a third on (2, 3).
  const std::vector<long> cells{0, 1, 2, 1, 3, 2, 2, 3, 4};
  const std::vector<long> expected{0, 1, 0, 2, 1, 2, 1, 3, 2, 3, 2, 4, 3, 4};
  EXPECT_EQ(mesh_edges(cells), expected);
  // On a mesh: E = V + C − 1 for a domain with no holes (Euler), each edge i < j.
  const ShapeMesh mesh = mesh_shape("lshape", 5, 0.1);
  const std::vector<long> edges = mesh_edges(mesh.cells);
  EXPECT_EQ(edges.size() / 2, mesh.vertices.size() / 2 + mesh.cells.size() / 3 - 1);
  for (std::size_t e = 0; e < edges.size(); e += 2) EXPECT_LT(edges[e], edges[e + 1]);
}

std::string spec_error(const std::string& name, const std::string& data_yaml) {
  const std::string file = "gno_shapes_" + name + "_np" + std::to_string(world_size()) + "_" +
                           std::to_string(world_rank()) + ".yaml";
  std::ofstream(file) << "data:\n" << data_yaml;
  std::string message;
  try {
    auto doc = config::CaseFile::load(file);
    read_shapes_spec(doc.root().child("data"));
    doc.reject_unknown_keys();
  } catch (const ConfigError& e) {
    message = e.what();
  }
  fs::remove(file);
  return message;
}

TEST(GnoShapes, SetsKeepTheCaseOrderAndDefaults) {
  const std::string file = "gno_shapes_order_np" + std::to_string(world_size()) + "_" +
                           std::to_string(world_rank()) + ".yaml";
  std::ofstream(file) << "data:\n  seed: 4\n  sources: {width: [0.1, 0.2]}\n  sets:\n"
                         "    zeta: {samples: 3, shapes: [disk], sources: 2}\n"
                         "    alpha: {samples: 1, shapes: [annulus, ushape], sources: [3, 4]}\n";
  auto doc = config::CaseFile::load(file);
  const ShapesSpec spec = read_shapes_spec(doc.root().child("data"));
  doc.reject_unknown_keys();
  fs::remove(file);
  ASSERT_EQ(spec.sets.size(), 2u);
  EXPECT_EQ(spec.sets[0].name, "zeta");  // the training set: the first in the file
  EXPECT_EQ(spec.sets[1].name, "alpha");
  EXPECT_EQ(spec.sets[0].min_sources, 2);
  EXPECT_EQ(spec.sets[0].max_sources, 2);
  EXPECT_EQ(spec.sets[1].shapes, (std::vector<std::string>{"annulus", "ushape"}));
  EXPECT_EQ(spec.seed, 4u);
  EXPECT_EQ(spec.min_width, 0.1);
  EXPECT_EQ(spec.max_amplitude, 20.0);
  EXPECT_EQ(spec.solver.pc, "gamg");
}

TEST(GnoShapes, BadKeysAreConfigErrorsNamingThem) {
  const std::string sets = "  sets:\n    train: {samples: 4, shapes: [square, disk]}\n";
  EXPECT_EQ(spec_error("good", "  seed: 3\n" + sets), "");
  const std::string shape =
      spec_error("shape", "  sets:\n    train: {samples: 4, shapes: [square, blob]}\n");
  EXPECT_NE(shape.find("shapes"), std::string::npos) << shape;
  EXPECT_NE(shape.find("blob"), std::string::npos) << shape;
  const std::string amplitude = spec_error("amplitude", "  sources: {amplitude: [20, 5]}\n" + sets);
  EXPECT_NE(amplitude.find("amplitude"), std::string::npos) << amplitude;
  const std::string size = spec_error("size", "  mesh_size: -1\n" + sets);
  EXPECT_NE(size.find("mesh_size"), std::string::npos) << size;
  const std::string samples =
      spec_error("samples", "  sets:\n    train: {samples: 0, shapes: [square]}\n");
  EXPECT_NE(samples.find("samples"), std::string::npos) << samples;
  const std::string missing = spec_error("missing", "  seed: 3\n");
  EXPECT_NE(missing.find("sets"), std::string::npos) << missing;
  const std::string typo =
      spec_error("typo", "  sets:\n    train: {samples: 2, shapes: [disk], sourcez: 2}\n");
  EXPECT_NE(typo.find("sourcez"), std::string::npos) << typo;
  const std::string counts =
      spec_error("counts", "  sets:\n    train: {samples: 2, shapes: [disk], sources: [3, 1]}\n");
  EXPECT_NE(counts.find("sources"), std::string::npos) << counts;
}

}  // namespace
