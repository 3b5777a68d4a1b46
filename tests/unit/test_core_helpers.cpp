// The small shared helpers of the core: product() of extents, the local relative_l2 of
// core/norms, the stage clock of report.json's timings, io's chunk shapes, and petsc::make_ksp (a
// case's solver section, then the options database under the KSP's prefix, command line first).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <petscksp.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "io/hdf5_support.hpp"
#include "karman/core/error.hpp"
#include "karman/core/extents.hpp"
#include "karman/core/norms.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"
#include "petsc/check.hpp"
#include "petsc/ksp.hpp"

using namespace karman;

namespace {

TEST(Extents, ProductOfExtents) {
  EXPECT_EQ(product(std::vector<long>{}), 1);
  EXPECT_EQ(product(std::vector<long>{7}), 7);
  EXPECT_EQ(product(std::vector<long>{3, 5, 7}), 105);
  EXPECT_EQ(product(std::vector<long>{4, 0, 9}), 0);
  // HDF5 dims keep their unsigned type.
  const hsize_t dims = product(std::vector<hsize_t>{2, 3, 4});
  EXPECT_EQ(dims, 24u);
}

TEST(Norms, RelativeL2OfARange) {
  const std::vector<double> approx = {9.0, 3.0, 4.0, 9.0};
  const std::vector<double> reference = {0.0, 3.0, 0.0, 9.0};
  // Values 1..2: ||(0, 4)|| / ||(3, 0)|| = 4 / 3.
  EXPECT_DOUBLE_EQ(relative_l2(approx, reference, 1, 2), 4.0 / 3.0);
  // All four: sqrt(81 + 16) / sqrt(9 + 81).
  EXPECT_DOUBLE_EQ(relative_l2(approx, reference, 0, 4), std::sqrt(97.0 / 90.0));
  // ||b|| = 0: the absolute L2 (value 0 alone: |9 - 0|).
  EXPECT_DOUBLE_EQ(relative_l2(approx, reference, 0, 1), 9.0);
  EXPECT_DOUBLE_EQ(relative_l2(approx, reference, 2, 0), 0.0);
  EXPECT_THROW(relative_l2(approx, reference, 3, 2), InternalError);
}

// A 1x1 sequential matrix [2] for a KSP to be built on.
struct OneByOne {
  ::Mat a = nullptr;
  OneByOne() {
    KARMAN_PETSC(MatCreateSeqAIJ(PETSC_COMM_SELF, 1, 1, 1, nullptr, &a));
    KARMAN_PETSC(MatSetValue(a, 0, 0, 2.0, INSERT_VALUES));
    KARMAN_PETSC(MatAssemblyBegin(a, MAT_FINAL_ASSEMBLY));
    KARMAN_PETSC(MatAssemblyEnd(a, MAT_FINAL_ASSEMBLY));
  }
  ~OneByOne() { MatDestroy(&a); }
};

struct KspState {
  std::string ksp, pc, prefix;
  double rtol = 0, atol = 0;
  PetscInt max_it = 0;
};

KspState state_of(::KSP ksp) {
  KspState s;
  PC pc;
  KSPType ksp_type;
  PCType pc_type;
  const char* prefix = nullptr;
  PetscReal dtol;
  KARMAN_PETSC(KSPGetPC(ksp, &pc));
  KARMAN_PETSC(KSPGetType(ksp, &ksp_type));
  KARMAN_PETSC(PCGetType(pc, &pc_type));
  KARMAN_PETSC(KSPGetOptionsPrefix(ksp, &prefix));
  KARMAN_PETSC(KSPGetTolerances(ksp, &s.rtol, &s.atol, &dtol, &s.max_it));
  s.ksp = ksp_type;
  s.pc = pc_type;
  s.prefix = prefix ? prefix : "";
  return s;
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Nested stages pause the outer one: each stage gets at least its own sleeps and the sum never
// exceeds the wall time around them (a double count would); a stage that yields to the open one
// charges nothing; sequential phases hand over. Only lower bounds on times: the machine may be
// loaded.
TEST(StageClock, NestedStagesDoNotOverlap) {
  StageClock& clock = StageClock::instance();
  clock.reset();
  const Timer wall;
  {
    const ScopedStage training(Stage::training);
    sleep_ms(20);
    {
      const ScopedStage io(Stage::io);  // a checkpoint inside training
      sleep_ms(30);
    }
    sleep_ms(20);
  }
  {
    StagePhases phase(Stage::data);
    {
      const ScopedStage solve(Stage::baseline, Stage::data);  // a solve that makes data
      sleep_ms(20);
    }
    phase.enter(Stage::evaluation);
    sleep_ms(10);
  }
  const double elapsed = wall.seconds();
  EXPECT_GE(clock.seconds(Stage::training), 0.040);
  EXPECT_GE(clock.seconds(Stage::io), 0.030);
  EXPECT_GE(clock.seconds(Stage::data), 0.020);
  EXPECT_GE(clock.seconds(Stage::evaluation), 0.010);
  EXPECT_EQ(clock.seconds(Stage::baseline), 0.0);
  EXPECT_EQ(clock.seconds(Stage::setup), 0.0);
  EXPECT_LE(clock.total(), elapsed);
  double sum = 0.0;
  for (Stage s : all_stages) sum += clock.seconds(s);
  EXPECT_DOUBLE_EQ(sum, clock.total());
  // Outside data, the same solve is baseline.
  {
    const ScopedStage solve(Stage::baseline, Stage::data);
    sleep_ms(5);
  }
  EXPECT_GE(clock.seconds(Stage::baseline), 0.005);
  clock.reset();
  EXPECT_EQ(clock.total(), 0.0);
}

// Chunks of a compressed dataset: trailing dims whole while they fit, the next one cut, the
// leading ones 1; never a zero dim.
TEST(Hdf5Chunks, WholeTrailingDimsUpToTheBudget) {
  using io::h5::chunk_dims;
  EXPECT_EQ(chunk_dims({100, 50, 40}, 8, 8 * 50 * 40 * 3), (std::vector<hsize_t>{3, 50, 40}));
  EXPECT_EQ(chunk_dims({100, 50, 40}, 8, 8 * 40 * 7), (std::vector<hsize_t>{1, 7, 40}));
  EXPECT_EQ(chunk_dims({10, 10}, 8, 1 << 20), (std::vector<hsize_t>{10, 10}));
  EXPECT_EQ(chunk_dims({1000}, 8, 4), (std::vector<hsize_t>{1}));
}

TEST(Ksp, TypesTolerancesAndPrefixFromTheSpec) {
  OneByOne m;
  const config::SolverSpec spec = petsc::solver(KSPGMRES, PCJACOBI, 1e-7, 1e-12, 33);
  petsc::KSP ksp = petsc::make_ksp(PETSC_COMM_SELF, m.a, spec, "unit_plain_");
  const KspState s = state_of(ksp);
  EXPECT_EQ(s.ksp, KSPGMRES);
  EXPECT_EQ(s.pc, PCJACOBI);
  EXPECT_EQ(s.prefix, "unit_plain_");
  EXPECT_EQ(s.rtol, 1e-7);
  EXPECT_EQ(s.atol, 1e-12);
  EXPECT_EQ(s.max_it, 33);
}

TEST(Ksp, CaseOptionsEnterUnderThePrefixAndTheCommandLineWins) {
  OneByOne m;
  config::SolverSpec spec = petsc::solver(KSPCG, PCNONE, 1e-8);
  spec.options = {{"ksp_max_it", "7"}, {"ksp_type", "gmres"}};
  // The "command line": set before, under the same prefix, for one of the two.
  KARMAN_PETSC(PetscOptionsSetValue(nullptr, "-unit_opts_ksp_type", "bcgs"));
  petsc::KSP ksp = petsc::make_ksp(PETSC_COMM_SELF, m.a, spec, "unit_opts_");
  const KspState s = state_of(ksp);
  EXPECT_EQ(s.max_it, 7);     // from solver.options, under the prefix
  EXPECT_EQ(s.ksp, KSPBCGS);  // the command line over solver.options and the case's type
  PetscBool unprefixed;
  KARMAN_PETSC(PetscOptionsHasName(nullptr, nullptr, "-ksp_max_it", &unprefixed));
  EXPECT_FALSE(unprefixed);
  KARMAN_PETSC(PetscOptionsClearValue(nullptr, "-unit_opts_ksp_type"));
  KARMAN_PETSC(PetscOptionsClearValue(nullptr, "-unit_opts_ksp_max_it"));
}

TEST(Ksp, IgnoredOptionsLeaveTheCodesChoice) {
  OneByOne m;
  KARMAN_PETSC(PetscOptionsSetValue(nullptr, "-unit_ignore_ksp_type", "gmres"));
  KARMAN_PETSC(PetscOptionsSetValue(nullptr, "-unit_ignore_ksp_max_it", "3"));
  petsc::KSP ksp =
      petsc::make_ksp(PETSC_COMM_SELF, m.a, petsc::solver(KSPCG, PCNONE, 1e-8, 0.0, 50),
                      "unit_ignore_", petsc::Options::ignore);
  const KspState s = state_of(ksp);
  EXPECT_EQ(s.ksp, KSPCG);
  EXPECT_EQ(s.max_it, 50);
  KARMAN_PETSC(PetscOptionsClearValue(nullptr, "-unit_ignore_ksp_type"));
  KARMAN_PETSC(PetscOptionsClearValue(nullptr, "-unit_ignore_ksp_max_it"));
}

TEST(Ksp, ABadOptionIsAConfigErrorNamingTheOptions) {
  OneByOne m;
  config::SolverSpec spec = petsc::solver(KSPCG, PCNONE, 1e-8);
  spec.options = {{"ksp_type", "nosuch"}};
  try {
    petsc::KSP ksp = petsc::make_ksp(PETSC_COMM_SELF, m.a, spec, "unit_bad_");
    ADD_FAILURE() << "no error for -unit_bad_ksp_type nosuch";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("PETSc options"), std::string::npos) << e.what();
  }
  KARMAN_PETSC(PetscOptionsClearValue(nullptr, "-unit_bad_ksp_type"));
}

}  // namespace
