// The Deep Conjugate Direction Method's pieces (operators/precond/dcdm.hpp): the KSP type `dcdm`
// with the exact inverse (up to a scale) as its direction map converges in one iteration; with the
// identity it is CG, iteration for iteration against PETSc's KSPCG; a non-symmetric matrix is one
// error. The scale-free loss against central differences, its scale invariance and its zero at
// q = A⁻¹b. The Lanczos Ritz pairs of a full run are A's eigenpairs (residuals, trace), and the
// Ritz training vectors are unit vectors weighted towards the low spectrum.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "karman/core/error.hpp"
#include "operators/precond/dcdm.hpp"
#include "operators/precond/fsai.hpp"
#include "operators/precond/petsc_factor.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"
#include "support/kokkos_env.hpp"

namespace {

using namespace karman::precond;
namespace petsc = karman::petsc;

// κ = exp(0.7 sin(3x + 2y)) on the (n+2)² nodes: a smooth variable coefficient (distinct
// eigenvalues, unlike Poisson's symmetric spectrum).
std::vector<double> smooth_kappa(PetscInt n) {
  std::vector<double> kappa((n + 2) * (n + 2));
  for (PetscInt j = 0; j < n + 2; ++j)
    for (PetscInt i = 0; i < n + 2; ++i)
      kappa[j * (n + 2) + i] = std::exp(0.7 * std::sin(3.0 * i / (n + 1) + 2.0 * j / (n + 1)));
  return kappa;
}

void diffusion(PetscInt n, Mat* out) {
  create_diffusion_2d(PETSC_COMM_SELF, n, smooth_kappa(n), out);
}

// b_i = 1 + (i mod 7)/7 (not an eigenvector). b: [N]
void fill_rhs(Vec b) {
  PetscInt first = 0, last = 0;
  KARMAN_PETSC(VecGetOwnershipRange(b, &first, &last));
  for (PetscInt i = first; i < last; ++i)
    KARMAN_PETSC(VecSetValue(b, i, 1.0 + static_cast<double>(i % 7) / 7.0, INSERT_VALUES));
  KARMAN_PETSC(VecAssemblyBegin(b));
  KARMAN_PETSC(VecAssemblyEnd(b));
}

struct Solve {
  PetscInt iterations = 0;
  KSPConvergedReason reason = KSP_CONVERGED_ITERATING;
  double relative_residual = 0.0;  // ‖b − A x‖ / ‖b‖, computed afresh
  std::vector<double> history;     // [iterations + 1] the residual norms the KSP tested
};

// `type` (dcdm or cg, unpreconditioned norm) on A x = b from x0 = 0 with relative tolerance rtol;
// `configure` sets the PC.
template <class Configure>
Solve solve(Mat a, const char* type, double rtol, Configure configure) {
  petsc::KSP ksp;
  petsc::Vec b, x, r;
  KARMAN_PETSC(KSPCreate(PetscObjectComm(reinterpret_cast<PetscObject>(a)), ksp.out()));
  KARMAN_PETSC(KSPSetOperators(ksp, a, a));
  KARMAN_PETSC(KSPSetType(ksp, type));
  KARMAN_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
  KARMAN_PETSC(KSPSetTolerances(ksp, rtol, 1e-50, PETSC_DEFAULT, 2000));
  PC pc;
  KARMAN_PETSC(KSPGetPC(ksp, &pc));
  configure(pc);
  KARMAN_PETSC(MatCreateVecs(a, x.out(), b.out()));
  KARMAN_PETSC(VecDuplicate(b, r.out()));
  fill_rhs(b);
  std::vector<PetscReal> history(2001);
  KARMAN_PETSC(KSPSetResidualHistory(ksp, history.data(), 2001, PETSC_TRUE));
  KARMAN_PETSC(KSPSolve(ksp, b, x));
  Solve out;
  const PetscReal* recorded = nullptr;
  PetscInt recorded_count = 0;
  KARMAN_PETSC(KSPGetResidualHistory(ksp, &recorded, &recorded_count));
  out.history.assign(recorded, recorded + recorded_count);
  KARMAN_PETSC(KSPGetIterationNumber(ksp, &out.iterations));
  KARMAN_PETSC(KSPGetConvergedReason(ksp, &out.reason));
  KARMAN_PETSC(MatMult(a, x, r));
  KARMAN_PETSC(VecAYPX(r, -1.0, b));
  PetscReal rn = 0.0, bn = 0.0;
  KARMAN_PETSC(VecNorm(r, NORM_2, &rn));
  KARMAN_PETSC(VecNorm(b, NORM_2, &bn));
  out.relative_residual = rn / bn;
  return out;
}

void no_pc(PC pc) { KARMAN_PETSC(PCSetType(pc, PCNONE)); }

// A PCSHELL applying c A⁻¹ by a sparse LU of A: the "network" of the exact-inverse identity, with
// a scale DCDM must not care about.
struct ScaledInverse {
  petsc::KSP lu;
  double scale = 1.0;
  static PetscErrorCode apply(PC pc, Vec in, Vec out) {
    ScaledInverse* self = nullptr;
    PetscCall(PCShellGetContext(pc, &self));
    PetscCall(KSPSolve(self->lu, in, out));
    PetscCall(VecScale(out, self->scale));
    return 0;
  }
};

TEST(DcdmKsp, ExactInverseUpToAScaleConvergesInOneIteration) {
  petsc::Mat a;
  diffusion(12, a.out());
  for (double scale : {1.0, 0.37, -5.0}) {
    ScaledInverse inverse;
    inverse.scale = scale;
    KARMAN_PETSC(KSPCreate(PETSC_COMM_SELF, inverse.lu.out()));
    KARMAN_PETSC(KSPSetOperators(inverse.lu, a, a));
    KARMAN_PETSC(KSPSetType(inverse.lu, KSPPREONLY));
    PC lu_pc;
    KARMAN_PETSC(KSPGetPC(inverse.lu, &lu_pc));
    KARMAN_PETSC(PCSetType(lu_pc, PCLU));
    const Solve s = solve(a, "dcdm", 1e-10, [&](PC pc) {
      KARMAN_PETSC(PCSetType(pc, PCSHELL));
      KARMAN_PETSC(PCShellSetContext(pc, &inverse));
      KARMAN_PETSC(PCShellSetApply(pc, ScaledInverse::apply));
    });
    EXPECT_EQ(s.iterations, 1) << "scale " << scale;
    EXPECT_GT(s.reason, 0) << "scale " << scale;
    EXPECT_LT(s.relative_residual, 1e-12) << "scale " << scale;
  }
}

// With q = r/‖r‖ the directions are CG's (A-orthogonalising the residual against the last
// direction is CG's β step; the one before is A-orthogonal to r already), so the residual
// histories agree to round-off. Both stop on the unpreconditioned norm (CG's recursive residual,
// DCDM's recomputed b − A x). Measured here: the histories agree to 1e-6 relative while
// ‖r‖/‖r₀‖ > 1e-4 and the counts at rtol 1e-4 are equal; below that the two recurrences drift
// apart by rounding (a few 1e-6 to 1e-5 relative: CG's residual is updated, DCDM's recomputed, and
// finite-precision CG loses the A-orthogonality to old directions that DCDM never projects out),
// which can move a 1e-8 crossing by one iteration (24² variable κ: CG 112, DCDM 113).
TEST(DcdmKsp, IdentityMapIsCgIterationForIteration) {
  for (PetscInt n : {8, 16, 24}) {
    petsc::Mat poisson, variable;
    create_poisson_2d(PETSC_COMM_SELF, n, poisson.out());
    diffusion(n, variable.out());
    for (Mat a : {static_cast<Mat>(poisson), static_cast<Mat>(variable)})
      for (double rtol : {1e-4, 1e-8}) {
        const Solve cg = solve(a, KSPCG, rtol, no_pc);
        const Solve dcdm = solve(a, "dcdm", rtol, no_pc);
        const std::string where = "n " + std::to_string(n) + ", rtol " + std::to_string(rtol);
        EXPECT_GT(dcdm.reason, 0) << where;
        EXPECT_LT(dcdm.relative_residual, rtol) << where;
        if (rtol == 1e-4) {
          EXPECT_EQ(dcdm.iterations, cg.iterations) << where;
        } else {
          EXPECT_LE(std::abs(dcdm.iterations - cg.iterations), 1) << where;
        }
        for (std::size_t k = 0; k < std::min(cg.history.size(), dcdm.history.size()); ++k)
          if (cg.history[k] > 1e-4 * cg.history[0]) {
            EXPECT_NEAR(dcdm.history[k] / cg.history[k], 1.0, 1e-6) << where << ", iteration " << k;
          }
      }
  }
}

// -ksp_dcdm_restart_tol above 1 restarts every iteration (qᵀr ≤ ‖q‖ ‖r‖ always), so with the
// identity map DCDM is steepest descent: its residual history equals a plain steepest-descent
// loop's (x ← x + (rᵀr / rᵀAr) r, r = b − A x) to round-off, and it needs more iterations than
// CG. Tolerance 0.01 never fires on the identity map (qᵀr = ‖r‖² after the projections), so the
// count is CG's.
TEST(DcdmKsp, RestartToleranceAboveOneIsSteepestDescent) {
  petsc::Mat a;
  create_poisson_2d(PETSC_COMM_SELF, 8, a.out());
  const Solve cg = solve(a, KSPCG, 1e-4, no_pc);
  KARMAN_PETSC(PetscOptionsSetValue(nullptr, "-ksp_dcdm_restart_tol", "1.5"));
  const Solve restarted = solve(a, "dcdm", 1e-4, no_pc);
  KARMAN_PETSC(PetscOptionsSetValue(nullptr, "-ksp_dcdm_restart_tol", "0.01"));
  const Solve safeguarded = solve(a, "dcdm", 1e-4, no_pc);
  KARMAN_PETSC(PetscOptionsClearValue(nullptr, "-ksp_dcdm_restart_tol"));
  EXPECT_EQ(safeguarded.iterations, cg.iterations);
  ASSERT_GT(restarted.reason, 0);
  EXPECT_GT(restarted.iterations, 2 * cg.iterations);
  petsc::Vec b, x, r, ar;
  KARMAN_PETSC(MatCreateVecs(a, x.out(), b.out()));
  KARMAN_PETSC(VecDuplicate(b, r.out()));
  KARMAN_PETSC(VecDuplicate(b, ar.out()));
  fill_rhs(b);
  KARMAN_PETSC(VecSet(x, 0.0));
  KARMAN_PETSC(VecCopy(b, r));
  ASSERT_EQ(restarted.history.size(), static_cast<std::size_t>(restarted.iterations + 1));
  for (std::size_t k = 0; k < restarted.history.size(); ++k) {
    PetscReal norm = 0.0;
    KARMAN_PETSC(VecNorm(r, NORM_2, &norm));
    EXPECT_NEAR(restarted.history[k] / norm, 1.0, 1e-10) << "iteration " << k;
    PetscScalar rr = 0.0, r_ar = 0.0;
    KARMAN_PETSC(MatMult(a, r, ar));
    KARMAN_PETSC(VecDot(r, r, &rr));
    KARMAN_PETSC(VecDot(r, ar, &r_ar));
    KARMAN_PETSC(VecAXPY(x, rr / r_ar, r));
    KARMAN_PETSC(MatMult(a, x, r));
    KARMAN_PETSC(VecAYPX(r, -1.0, b));
  }
}

TEST(DcdmKsp, NonSymmetricMatrixIsOneError) {
  petsc::Mat a;
  create_poisson_2d(PETSC_COMM_SELF, 4, a.out());
  KARMAN_PETSC(MatSetValue(a, 0, 1, -1.5, INSERT_VALUES));  // a_01 ≠ a_10
  KARMAN_PETSC(MatAssemblyBegin(a, MAT_FINAL_ASSEMBLY));
  KARMAN_PETSC(MatAssemblyEnd(a, MAT_FINAL_ASSEMBLY));
  try {
    solve(a, "dcdm", 1e-8, no_pc);
    FAIL() << "a non-symmetric matrix was accepted";
  } catch (const karman::ExternalError& e) {
    EXPECT_NE(std::string(e.what()).find("not symmetric"), std::string::npos) << e.what();
  }
}

// ---- The loss

std::vector<double> gaussian(std::size_t n, unsigned seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<double> normal;
  std::vector<double> v(n);
  for (double& x : v) x = normal(generator);
  return v;
}

CsrMatrix small_diffusion(PetscInt n) {
  petsc::Mat a;
  diffusion(n, a.out());
  return local_diagonal_block(a);
}

TEST(DcdmLoss, GradientMatchesCentralDifferences) {
  const CsrMatrix a = small_diffusion(5);
  const std::vector<double> b = gaussian(a.rows, 1);
  // q near A⁻¹ b would make the loss tiny; a generic q tests every term of the gradient.
  const std::vector<double> q = gaussian(a.rows, 2);
  const DcdmLoss loss = dcdm_loss(a, b, q);
  const double h = 1e-6;
  for (std::int64_t i = 0; i < a.rows; ++i) {
    std::vector<double> plus = q, minus = q;
    plus[i] += h;
    minus[i] -= h;
    const double fd = (dcdm_loss(a, b, plus).value - dcdm_loss(a, b, minus).value) / (2 * h);
    EXPECT_NEAR(loss.gradient[i], fd, 1e-6 * (1.0 + std::abs(fd))) << "entry " << i;
  }
}

TEST(DcdmLoss, ScaleFreeAndZeroAtTheInverse) {
  const CsrMatrix a = small_diffusion(5);
  const std::vector<double> b = gaussian(a.rows, 3);
  const std::vector<double> q = gaussian(a.rows, 4);
  std::vector<double> scaled = q;
  for (double& x : scaled) x *= -3.5;
  const DcdmLoss loss = dcdm_loss(a, b, q);
  EXPECT_NEAR(dcdm_loss(a, b, scaled).value, loss.value, 1e-12 * loss.value);
  double q_grad = 0.0;  // the gradient has no component along q (scale invariance)
  for (std::int64_t i = 0; i < a.rows; ++i) q_grad += q[i] * loss.gradient[i];
  EXPECT_NEAR(q_grad, 0.0, 1e-10 * loss.value);
  // q = 2 A⁻¹ b (a direct solve): no residual left after the line search.
  petsc::Mat pa;
  create_seq_aij(a, pa.out());
  petsc::KSP lu;
  KARMAN_PETSC(KSPCreate(PETSC_COMM_SELF, lu.out()));
  KARMAN_PETSC(KSPSetOperators(lu, pa, pa));
  KARMAN_PETSC(KSPSetType(lu, KSPPREONLY));
  PC pc;
  KARMAN_PETSC(KSPGetPC(lu, &pc));
  KARMAN_PETSC(PCSetType(pc, PCLU));
  petsc::Vec vb, vx;
  KARMAN_PETSC(MatCreateVecs(pa, vx.out(), vb.out()));
  for (std::int64_t i = 0; i < a.rows; ++i)
    KARMAN_PETSC(VecSetValue(vb, static_cast<PetscInt>(i), 2.0 * b[i], INSERT_VALUES));
  KARMAN_PETSC(VecAssemblyBegin(vb));
  KARMAN_PETSC(VecAssemblyEnd(vb));
  KARMAN_PETSC(KSPSolve(lu, vb, vx));
  const PetscScalar* x = nullptr;
  KARMAN_PETSC(VecGetArrayRead(vx, &x));
  const std::vector<double> inverse(x, x + a.rows);
  KARMAN_PETSC(VecRestoreArrayRead(vx, &x));
  double b2 = 0.0;
  for (double v : b) b2 += v * v;
  EXPECT_LT(dcdm_loss(a, b, inverse).value, 1e-24 * b2);
  EXPECT_GT(loss.value, 1e-3 * b2);  // while a random q leaves a residual
}

TEST(DcdmLoss, SizeMismatchAndZeroDirectionAreErrors) {
  const CsrMatrix a = small_diffusion(3);
  EXPECT_THROW(dcdm_loss(a, gaussian(a.rows, 1), gaussian(a.rows + 1, 2)), std::invalid_argument);
  EXPECT_THROW(dcdm_loss(a, gaussian(a.rows, 1), std::vector<double>(a.rows, 0.0)),
               std::invalid_argument);
}

// ---- Training vectors

TEST(DcdmRitz, FullLanczosRunGivesEigenpairs) {
  const CsrMatrix a = small_diffusion(5);  // 25 rows, distinct eigenvalues
  const RitzPairs ritz = lanczos_ritz_pairs(a, a.rows, 11);
  ASSERT_EQ(static_cast<std::int64_t>(ritz.values.size()), a.rows);
  double trace = 0.0, ritz_sum = 0.0, norm = 0.0;
  for (std::int64_t i = 0; i < a.rows; ++i)
    for (std::int64_t p = a.row_ptr[i]; p < a.row_ptr[i + 1]; ++p) {
      if (a.col[p] == i) trace += a.values[p];
      norm = std::max(norm, std::abs(a.values[p]));
    }
  for (std::size_t k = 0; k < ritz.values.size(); ++k) {
    ritz_sum += ritz.values[k];
    if (k > 0) {
      EXPECT_LE(ritz.values[k - 1], ritz.values[k]);  // ascending
    }
    std::vector<double> av(a.rows);
    csr_multiply(a, ritz.vectors[k].data(), av.data());
    double residual = 0.0, unit = 0.0;
    for (std::int64_t i = 0; i < a.rows; ++i) {
      residual += std::pow(av[i] - ritz.values[k] * ritz.vectors[k][i], 2);
      unit += ritz.vectors[k][i] * ritz.vectors[k][i];
    }
    EXPECT_LT(std::sqrt(residual), 1e-9 * norm) << "pair " << k;
    EXPECT_NEAR(unit, 1.0, 1e-10);
    for (std::size_t l = 0; l < k; ++l) {
      double overlap = 0.0;
      for (std::int64_t i = 0; i < a.rows; ++i) overlap += ritz.vectors[k][i] * ritz.vectors[l][i];
      EXPECT_NEAR(overlap, 0.0, 1e-10) << "pairs " << k << ", " << l;
    }
  }
  EXPECT_NEAR(ritz_sum, trace, 1e-10 * trace);  // Σ λ = trace A
}

TEST(DcdmRitz, TrainingVectorsAreUnitAndFavourTheLowSpectrum) {
  const CsrMatrix a = small_diffusion(8);
  const RitzPairs ritz = lanczos_ritz_pairs(a, 40, 5);
  const auto m = static_cast<std::int64_t>(ritz.values.size());
  ASSERT_EQ(m, 40);
  const std::int64_t theta = 0, low = m / 2 + theta;
  const auto vectors = ritz_training_vectors(ritz, 200, theta, 9.0, 3);
  ASSERT_EQ(vectors.size(), 200u);
  // Mean squared weight on a low and on a high Ritz vector: 81 : 1 in expectation.
  double low_energy = 0.0, high_energy = 0.0;
  for (const std::vector<double>& b : vectors) {
    double norm = 0.0;
    for (double x : b) norm += x * x;
    EXPECT_NEAR(norm, 1.0, 1e-12);
    for (std::int64_t k = 0; k < m; ++k) {
      double c = 0.0;
      for (std::int64_t i = 0; i < a.rows; ++i) c += b[i] * ritz.vectors[k][i];
      (k < low ? low_energy : high_energy) += c * c;
    }
  }
  const double ratio = (low_energy / low) / (high_energy / (m - low));
  EXPECT_GT(ratio, 40.0);
  EXPECT_LT(ratio, 160.0);
}

TEST(DcdmRitz, StepsOutsideOneToRowsAreErrors) {
  const CsrMatrix a = small_diffusion(3);
  EXPECT_THROW(lanczos_ritz_pairs(a, 0, 1), std::invalid_argument);
  EXPECT_THROW(lanczos_ritz_pairs(a, a.rows + 1, 1), std::invalid_argument);
}

// ---- The obstacle problem

TEST(DcdmObstacles, AllFluidIsThePoissonMatrix) {
  const PetscInt n = 7;
  const ObstacleGrid grid = obstacle_poisson_2d(n, std::vector<char>(n * n, 0));
  petsc::Mat poisson;
  create_poisson_2d(PETSC_COMM_SELF, n, poisson.out());
  const CsrMatrix expected = local_diagonal_block(poisson);
  EXPECT_EQ(grid.a.rows, expected.rows);
  EXPECT_EQ(grid.a.row_ptr, expected.row_ptr);
  EXPECT_EQ(grid.a.col, expected.col);
  EXPECT_EQ(grid.a.values, expected.values);
}

// Neumann walls conserve: a fluid cell away from the outer box has row sum 0 whatever its solid
// neighbours; on the outer ring the row sum is the number of its faces on the box.
TEST(DcdmObstacles, WallsAreNeumannAndTheBoxIsDirichlet) {
  for (std::int64_t n : {32, 64}) {
    const ObstacleGrid grid = obstacle_poisson_2d(n, obstacles_2d(n, 6, 4));
    std::int64_t solid = 0, beside_a_wall = 0;
    for (char c : grid.solid) solid += c;
    const double fraction = static_cast<double>(solid) / (n * n);
    EXPECT_GT(fraction, 0.05) << n;
    EXPECT_LT(fraction, 0.5) << n;
    EXPECT_EQ(grid.a.rows, n * n - solid);
    EXPECT_NO_THROW(require_symmetric(grid.a));
    for (std::int64_t c = 0; c < n * n; ++c) {
      if (grid.solid[c]) {
        EXPECT_EQ(grid.row[c], -1);
        continue;
      }
      const std::int64_t i = c % n, j = c / n, r = grid.row[c];
      const int box_faces = (i == 0) + (j == 0) + (i == n - 1) + (j == n - 1);
      double sum = 0.0, diagonal = 0.0;
      for (std::int64_t p = grid.a.row_ptr[r]; p < grid.a.row_ptr[r + 1]; ++p) {
        sum += grid.a.values[p];
        if (grid.a.col[p] == r) diagonal = grid.a.values[p];
      }
      EXPECT_EQ(sum, box_faces) << "cell " << c;
      beside_a_wall += diagonal < 4.0 && box_faces == 0;
    }
    EXPECT_GT(beside_a_wall, 0) << n;  // the walls are there
  }
}

// Enclosed pockets are filled, so every fluid region touches the box and A is SPD: IC(0) exists
// and DCDM with the identity reaches 1e-8.
TEST(DcdmObstacles, MatrixIsSpd) {
  const ObstacleGrid grid = obstacle_poisson_2d(48, obstacles_2d(48, 8, 9));
  const LowerPattern lower = lower_pattern(grid.a);
  EXPECT_NO_THROW(ic0_values(grid.a, lower));
  petsc::Mat a;
  create_seq_aij(grid.a, a.out());
  const Solve s = solve(a, "dcdm", 1e-8, no_pc);
  EXPECT_GT(s.reason, 0);
  EXPECT_LT(s.relative_residual, 1e-8);
}

// 3D: the all-fluid cube is the 7-point Poisson matrix (PETSc's, as in 2D); with spheres and
// boxes the walls are Neumann, the box Dirichlet (row sums), the matrix symmetric and SPD.
TEST(DcdmObstacles3d, AllFluidIsThePoissonMatrix) {
  const PetscInt n = 5;
  const ObstacleGrid grid = obstacle_poisson_3d(n, std::vector<char>(n * n * n, 0));
  petsc::Mat poisson;
  create_poisson_3d(PETSC_COMM_SELF, n, poisson.out());
  const CsrMatrix expected = local_diagonal_block(poisson);
  EXPECT_EQ(grid.a.rows, expected.rows);
  EXPECT_EQ(grid.a.row_ptr, expected.row_ptr);
  EXPECT_EQ(grid.a.col, expected.col);
  EXPECT_EQ(grid.a.values, expected.values);
}

TEST(DcdmObstacles3d, WallsAreNeumannAndTheMatrixIsSpd) {
  const std::int64_t n = 16;
  const ObstacleGrid grid = obstacle_poisson_3d(n, obstacles_3d(n, 6, 4));
  std::int64_t solid = 0, beside_a_wall = 0;
  for (char c : grid.solid) solid += c;
  EXPECT_GT(solid, 0);
  EXPECT_EQ(grid.a.rows, n * n * n - solid);
  EXPECT_NO_THROW(require_symmetric(grid.a));
  for (std::int64_t c = 0; c < n * n * n; ++c) {
    if (grid.solid[c]) continue;
    const std::int64_t i = c % n, j = (c / n) % n, k = c / (n * n), r = grid.row[c];
    const int box_faces =
        (i == 0) + (j == 0) + (k == 0) + (i == n - 1) + (j == n - 1) + (k == n - 1);
    double sum = 0.0, diagonal = 0.0;
    for (std::int64_t p = grid.a.row_ptr[r]; p < grid.a.row_ptr[r + 1]; ++p) {
      sum += grid.a.values[p];
      if (grid.a.col[p] == r) diagonal = grid.a.values[p];
    }
    EXPECT_EQ(sum, box_faces) << "cell " << c;
    beside_a_wall += diagonal < 6.0 && box_faces == 0;
  }
  EXPECT_GT(beside_a_wall, 0);
  petsc::Mat a;
  create_seq_aij(grid.a, a.out());
  const Solve s = solve(a, "dcdm", 1e-8, no_pc);
  EXPECT_GT(s.reason, 0);
  EXPECT_LT(s.relative_residual, 1e-8);
}

TEST(DcdmObstacles, BadMasksAreErrors) {
  EXPECT_THROW(obstacle_poisson_2d(4, std::vector<char>(15, 0)), std::invalid_argument);
  EXPECT_THROW(obstacle_poisson_2d(4, std::vector<char>(16, 1)), std::invalid_argument);
  EXPECT_THROW(obstacle_poisson_3d(4, std::vector<char>(16, 0)), std::invalid_argument);
}

}  // namespace
