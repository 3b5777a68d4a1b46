// The karman PC on a communicator (1 and 2 ranks): it acts on each rank's diagonal block, so
// -pc_type bjacobi -sub_pc_type karman (default IC(0) factor) must reproduce -sub_pc_type icc
// iteration for iteration, and -pc_type karman directly must equal bjacobi + karman.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "operators/precond/petsc_factor.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"
#include "support/mpi_world.hpp"

namespace {

using namespace karman::precond;
namespace petsc = karman::petsc;

struct CgRun {
  PetscInt iterations = 0;
  petsc::Vec x;  // [N], distributed like A's rows
};

// CG on A x = b, b_i = 1 + (i mod 7)/7, x0 = 0, rtol 1e-8 (unpreconditioned residual); the PC is
// read from the options database under `prefix` (set from `options`); a karman PC gets
// `karman_factor` when given.
CgRun solve_cg(Mat a, Mat p, const std::string& prefix,
               const std::vector<std::pair<std::string, std::string>>& options,
               const FactorProvider& karman_factor = {}) {
  for (const auto& [key, value] : options)
    KARMAN_PETSC(PetscOptionsSetValue(nullptr, ("-" + prefix + key).c_str(), value.c_str()));
  petsc::KSP ksp;
  petsc::Vec b;
  CgRun run;
  KARMAN_PETSC(KSPCreate(karman::test::world(), ksp.out()));
  KARMAN_PETSC(KSPSetOperators(ksp, a, p));
  KARMAN_PETSC(KSPSetType(ksp, KSPCG));
  KARMAN_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
  KARMAN_PETSC(KSPSetTolerances(ksp, 1e-8, 1e-50, PETSC_DEFAULT, 5000));
  KARMAN_PETSC(KSPSetOptionsPrefix(ksp, prefix.c_str()));
  KARMAN_PETSC(KSPSetFromOptions(ksp));
  if (karman_factor) {
    PC pc;
    KARMAN_PETSC(KSPGetPC(ksp, &pc));
    pc_karman_set_factor_provider(pc, karman_factor);
  }
  KARMAN_PETSC(MatCreateVecs(a, run.x.out(), b.out()));
  PetscInt first = 0, last = 0;
  KARMAN_PETSC(VecGetOwnershipRange(b, &first, &last));
  for (PetscInt i = first; i < last; ++i)
    KARMAN_PETSC(VecSetValue(b, i, 1.0 + static_cast<double>(i % 7) / 7.0, INSERT_VALUES));
  KARMAN_PETSC(VecAssemblyBegin(b));
  KARMAN_PETSC(VecAssemblyEnd(b));
  KARMAN_PETSC(VecSet(run.x, 0.0));
  KARMAN_PETSC(KSPSolve(ksp, b, run.x));
  KSPConvergedReason reason;
  KARMAN_PETSC(KSPGetConvergedReason(ksp, &reason));
  EXPECT_GT(reason, 0) << prefix;
  KARMAN_PETSC(KSPGetIterationNumber(ksp, &run.iterations));
  return run;
}

// max |u − v| / max |v| over all ranks.
double relative_difference(Vec u, Vec v) {
  petsc::Vec d;
  KARMAN_PETSC(VecDuplicate(u, d.out()));
  KARMAN_PETSC(VecWAXPY(d, -1.0, v, u));
  PetscReal diff = 0.0, scale = 0.0;
  KARMAN_PETSC(VecNorm(d, NORM_INFINITY, &diff));
  KARMAN_PETSC(VecNorm(v, NORM_INFINITY, &scale));
  return diff / scale;
}

void expect_karman_matches_icc(Mat a, const std::string& name) {
  const CgRun icc = solve_cg(a, a, name + "icc_", {{"pc_type", "bjacobi"}, {"sub_pc_type", "icc"}});
  const CgRun sub =
      solve_cg(a, a, name + "sub_", {{"pc_type", "bjacobi"}, {"sub_pc_type", "karman"}});
  const CgRun direct = solve_cg(a, a, name + "direct_", {{"pc_type", "karman"}});
  if (karman::test::world_rank() == 0)
    std::printf("[ info ] %s at %d ranks: bjacobi+icc %d, bjacobi+karman %d, karman %d\n",
                name.c_str(), karman::test::world_size(), static_cast<int>(icc.iterations),
                static_cast<int>(sub.iterations), static_cast<int>(direct.iterations));
  EXPECT_EQ(sub.iterations, icc.iterations) << name;
  EXPECT_EQ(direct.iterations, icc.iterations) << name;
  EXPECT_LT(relative_difference(sub.x, icc.x), 1e-10) << name;
  EXPECT_LT(relative_difference(direct.x, icc.x), 1e-10) << name;
}

// Each rank's factor: IC(0) of its diagonal block with every entry scaled by 1 + 0.05 sin(3p).
std::vector<double> perturbed_ic0(const CsrMatrix& a, const LowerPattern& lower) {
  std::vector<double> l = ic0_values(a, lower);
  for (std::size_t p = 0; p < l.size(); ++p) l[p] *= 1.0 + 0.05 * std::sin(3.0 * p);
  return l;
}

}  // namespace

TEST(PrecondBjacobi, PathAMatchesPathBForAPerturbedFactor) {
  // Path A at any rank count: Ã block diagonal with blocks pattern(A_r) ∘ L_r L_rᵀ under bjacobi +
  // icc reproduces each L_r, hence path B (-pc_type karman owning L_r) iteration for iteration.
  petsc::Mat a, a_tilde;
  create_poisson_2d(karman::test::world(), 32, a.out());
  const CsrMatrix block = local_diagonal_block(a);
  const LowerPattern lower = lower_pattern(block);
  create_pattern_product(a, lower, perturbed_ic0(block, lower), a_tilde.out());
  const CgRun path_a =
      solve_cg(a, a_tilde, "pa_", {{"pc_type", "bjacobi"}, {"sub_pc_type", "icc"}});
  const CgRun path_b = solve_cg(a, a, "pb_", {{"pc_type", "karman"}}, perturbed_ic0);
  if (karman::test::world_rank() == 0)
    std::printf("[ info ] perturbed factor at %d ranks: path A %d, path B %d\n",
                karman::test::world_size(), static_cast<int>(path_a.iterations),
                static_cast<int>(path_b.iterations));
  EXPECT_EQ(path_a.iterations, path_b.iterations);
  EXPECT_LT(relative_difference(path_a.x, path_b.x), 1e-10);
}

TEST(PrecondBjacobi, KarmanSubPcMatchesIccPerBlock) {
  petsc::Mat poisson_2d, poisson_3d;
  create_poisson_2d(karman::test::world(), 32, poisson_2d.out());
  create_poisson_3d(karman::test::world(), 10, poisson_3d.out());
  expect_karman_matches_icc(poisson_2d, "poisson2d_32");
  expect_karman_matches_icc(poisson_3d, "poisson3d_10");
}

TEST(PrecondBjacobi, FsaiModeActsPerBlockLikeTheSubPc) {
  // -pc_type karman -pc_karman_type fsai is block FSAI (each rank's Gᵀ G on its diagonal block):
  // the same solve as bjacobi with the fsai karman sub-PC, and still better than Jacobi.
  petsc::Mat a;
  create_poisson_2d(karman::test::world(), 32, a.out());
  const CgRun direct =
      solve_cg(a, a, "fsai_direct_", {{"pc_type", "karman"}, {"pc_karman_type", "fsai"}});
  const CgRun sub =
      solve_cg(a, a, "fsai_sub_",
               {{"pc_type", "bjacobi"}, {"sub_pc_type", "karman"}, {"sub_pc_karman_type", "fsai"}});
  const CgRun jacobi = solve_cg(a, a, "fsai_jacobi_", {{"pc_type", "jacobi"}});
  if (karman::test::world_rank() == 0)
    std::printf(
        "[ info ] poisson2d_32 at %d ranks: karman fsai %d, bjacobi+karman fsai %d, "
        "jacobi %d\n",
        karman::test::world_size(), static_cast<int>(direct.iterations),
        static_cast<int>(sub.iterations), static_cast<int>(jacobi.iterations));
  EXPECT_EQ(direct.iterations, sub.iterations);
  EXPECT_LT(relative_difference(direct.x, sub.x), 1e-10);
  EXPECT_LT(direct.iterations, jacobi.iterations);
}

TEST(PrecondBjacobi, TestMatricesAreSymmetricAtAnyRankCount) {
  // The assembled operators are symmetric (A = Aᵀ exactly) and have the expected row sums:
  // interior rows sum to 0, and Σ_ij a_ij counts the Dirichlet faces (4n for 2D, 6n² for 3D).
  petsc::Mat a, a_t;
  const PetscInt n = 12;
  create_poisson_3d(karman::test::world(), n, a.out());
  KARMAN_PETSC(MatTranspose(a, MAT_INITIAL_MATRIX, a_t.out()));
  PetscBool equal = PETSC_FALSE;
  KARMAN_PETSC(MatEqual(a, a_t, &equal));
  EXPECT_TRUE(equal);
  petsc::Vec ones, row_sums;
  KARMAN_PETSC(MatCreateVecs(a, ones.out(), row_sums.out()));
  KARMAN_PETSC(VecSet(ones, 1.0));
  KARMAN_PETSC(MatMult(a, ones, row_sums));
  PetscScalar total = 0.0;
  KARMAN_PETSC(VecSum(row_sums, &total));
  EXPECT_NEAR(total, 6.0 * n * n, 1e-9);
}
