// The KSP type dcdm on a communicator (1 and 2 ranks), chosen through the options database
// (-ksp_type dcdm, as a case or a user would): with the identity (-pc_type none) or a fixed SPD
// map (-pc_type jacobi) as the direction map it is CG / Jacobi-PCG in exact arithmetic, so its
// iteration count on the distributed matrix equals PETSc's CG on the whole matrix on one rank.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "operators/precond/petsc_factor.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"
#include "support/mpi_world.hpp"

namespace {

using namespace karman::precond;
namespace petsc = karman::petsc;

// The solver given by `options` under `prefix` on A x = b, b_i = 1 + (i mod 7)/7, x0 = 0,
// rtol 1e-8 on the unpreconditioned residual. Returns the iteration count (-1: no convergence).
PetscInt iterations(Mat a, const std::string& prefix,
                    const std::vector<std::pair<std::string, std::string>>& options) {
  for (const auto& [key, value] : options)
    KARMAN_PETSC(PetscOptionsSetValue(nullptr, ("-" + prefix + key).c_str(), value.c_str()));
  petsc::KSP ksp;
  petsc::Vec b, x;
  KARMAN_PETSC(KSPCreate(PetscObjectComm(reinterpret_cast<PetscObject>(a)), ksp.out()));
  KARMAN_PETSC(KSPSetOperators(ksp, a, a));
  KARMAN_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
  KARMAN_PETSC(KSPSetTolerances(ksp, 1e-8, 1e-50, PETSC_DEFAULT, 5000));
  KARMAN_PETSC(KSPSetOptionsPrefix(ksp, prefix.c_str()));
  KARMAN_PETSC(KSPSetFromOptions(ksp));
  KARMAN_PETSC(MatCreateVecs(a, x.out(), b.out()));
  PetscInt first = 0, last = 0;
  KARMAN_PETSC(VecGetOwnershipRange(b, &first, &last));
  for (PetscInt i = first; i < last; ++i)
    KARMAN_PETSC(VecSetValue(b, i, 1.0 + static_cast<double>(i % 7) / 7.0, INSERT_VALUES));
  KARMAN_PETSC(VecAssemblyBegin(b));
  KARMAN_PETSC(VecAssemblyEnd(b));
  KARMAN_PETSC(KSPSolve(ksp, b, x));
  KSPConvergedReason reason;
  PetscInt its = 0;
  KARMAN_PETSC(KSPGetConvergedReason(ksp, &reason));
  KARMAN_PETSC(KSPGetIterationNumber(ksp, &its));
  return reason > 0 ? its : -1;
}

TEST(DcdmRanks, FixedMapsGiveSingleRankCgIterations) {
  const PetscInt n = 32;
  petsc::Mat distributed, whole;
  create_poisson_2d(karman::test::world(), n, distributed.out());
  create_poisson_2d(PETSC_COMM_SELF, n, whole.out());
  for (const char* pc : {"none", "jacobi"}) {
    const PetscInt cg =
        iterations(whole, std::string("cg_") + pc + "_", {{"ksp_type", "cg"}, {"pc_type", pc}});
    const PetscInt dcdm = iterations(distributed, std::string("dcdm_") + pc + "_",
                                     {{"ksp_type", "dcdm"}, {"pc_type", pc}});
    EXPECT_GT(cg, 10) << pc;
    EXPECT_EQ(dcdm, cg) << "pc " << pc << " at " << karman::test::world_size() << " ranks";
  }
}

}  // namespace
