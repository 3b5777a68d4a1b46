// The small shared helpers of the core: product() of extents, the local relative_l2 of
// core/norms, and petsc::make_ksp (a case's solver section, then the options database under the
// KSP's prefix, command line first).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <petscksp.h>

#include <cmath>
#include <string>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/core/extents.hpp"
#include "karman/core/norms.hpp"
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
