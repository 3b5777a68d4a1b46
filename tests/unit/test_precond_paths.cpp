// The PETSc side of the learned CG preconditioner (issue 6): IC(0) in C++ against PETSc's ICC,
// path A (Ã = pattern(A) ∘ L Lᵀ under -pc_type icc) against path B (-pc_type karman, which owns
// L), the karman PC against a dense (L Lᵀ)⁻¹, and rejection of matrices that are not SPD; the FSAI
// mode (-pc_karman_type fsai) against Gᵀ G v by a reference loop and its CG iterations between
// Jacobi's and IC(0)'s.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/pde/random_field.hpp"
#include "operators/precond/petsc_factor.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"
#include "support/kokkos_env.hpp"

namespace {

using namespace karman::precond;
namespace petsc = karman::petsc;

constexpr double kRtol = 1e-8;

struct CgRun {
  PetscInt iterations = 0;
  std::vector<double> x;  // [N]
};

void set_option(const std::string& prefix, const std::string& key, const std::string& value) {
  KARMAN_PETSC(PetscOptionsSetValue(nullptr, ("-" + prefix + key).c_str(), value.c_str()));
}

// b_i = 1 + (i mod 7)/7: deterministic, not an eigenvector, same at any rank count. b: [N]
void fill_rhs(Vec b) {
  PetscInt first = 0, last = 0;
  KARMAN_PETSC(VecGetOwnershipRange(b, &first, &last));
  for (PetscInt i = first; i < last; ++i)
    KARMAN_PETSC(VecSetValue(b, i, 1.0 + static_cast<double>(i % 7) / 7.0, INSERT_VALUES));
  KARMAN_PETSC(VecAssemblyBegin(b));
  KARMAN_PETSC(VecAssemblyEnd(b));
}

std::vector<double> to_vector(Vec v) {
  PetscInt n = 0;
  const PetscScalar* data = nullptr;
  KARMAN_PETSC(VecGetLocalSize(v, &n));
  KARMAN_PETSC(VecGetArrayRead(v, &data));
  std::vector<double> out(data, data + n);
  KARMAN_PETSC(VecRestoreArrayRead(v, &data));
  return out;
}

// CG on A x = b from x0 = 0, rtol 1e-8 on the unpreconditioned residual; the PC comes from the
// options database under `prefix`, then `configure` (e.g. a factor provider) if given.
template <class Configure>
CgRun solve_cg(Mat a, Mat p, const std::string& prefix, Configure configure) {
  petsc::KSP ksp;
  petsc::Vec b, x;
  KARMAN_PETSC(KSPCreate(PetscObjectComm(reinterpret_cast<PetscObject>(a)), ksp.out()));
  KARMAN_PETSC(KSPSetOperators(ksp, a, p));
  KARMAN_PETSC(KSPSetType(ksp, KSPCG));
  KARMAN_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
  KARMAN_PETSC(KSPSetTolerances(ksp, kRtol, 1e-50, PETSC_DEFAULT, 5000));
  KARMAN_PETSC(KSPSetOptionsPrefix(ksp, prefix.c_str()));
  KARMAN_PETSC(KSPSetFromOptions(ksp));
  PC pc;
  KARMAN_PETSC(KSPGetPC(ksp, &pc));
  configure(pc);
  KARMAN_PETSC(MatCreateVecs(a, x.out(), b.out()));
  fill_rhs(b);
  KARMAN_PETSC(VecSet(x, 0.0));
  KARMAN_PETSC(KSPSolve(ksp, b, x));
  KSPConvergedReason reason;
  KARMAN_PETSC(KSPGetConvergedReason(ksp, &reason));
  EXPECT_GT(reason, 0) << prefix << " did not converge";
  CgRun run;
  KARMAN_PETSC(KSPGetIterationNumber(ksp, &run.iterations));
  run.x = to_vector(x);
  return run;
}

CgRun solve_cg(Mat a, Mat p, const std::string& prefix) {
  return solve_cg(a, p, prefix, [](PC) {});
}

CgRun solve_with_pc(Mat a, const std::string& prefix, const std::string& pc_type) {
  set_option(prefix, "pc_type", pc_type);
  return solve_cg(a, a, prefix);
}

double max_abs_diff(const std::vector<double>& u, const std::vector<double>& v) {
  double d = 0.0;
  for (std::size_t i = 0; i < u.size(); ++i) d = std::max(d, std::abs(u[i] - v[i]));
  return d;
}

double max_abs(const std::vector<double>& u) {
  double m = 0.0;
  for (double v : u) m = std::max(m, std::abs(v));
  return m;
}

// Log-normal κ = exp(GRF) on the (n+2)² nodes of the unit square (Karman's GRF, Neumann basis).
std::vector<double> lognormal_kappa(PetscInt n, unsigned long seed) {
  karman::mesh::GridShape shape;
  shape.dim = 2;
  shape.n = {static_cast<long>(n + 2), static_cast<long>(n + 2), 1};
  karman::config::RandomFieldSpec spec;
  spec.sigma = 1.0;  // modest contrast: max κ / min κ of a few tens
  spec.seed = seed;
  std::vector<double> kappa = karman::pde::random_field_global(shape, spec);
  for (double& k : kappa) k = std::exp(k);
  return kappa;
}

// A factor that is not IC(0): every entry scaled by 1 + 0.05 sin(3p) (diagonal stays positive).
std::vector<double> perturbed(std::vector<double> l) {
  for (std::size_t p = 0; p < l.size(); ++p) l[p] *= 1.0 + 0.05 * std::sin(3.0 * p);
  return l;
}

FactorProvider fixed_factor(std::vector<double> l) {
  return [l](const CsrMatrix&, const LowerPattern&) { return l; };
}

struct Problem {
  std::string name;
  petsc::Mat a;
};

std::vector<Problem> problems_32() {
  std::vector<Problem> out(2);
  out[0].name = "poisson32";
  create_poisson_2d(PETSC_COMM_SELF, 32, out[0].a.out());
  out[1].name = "lognormal32";
  create_diffusion_2d(PETSC_COMM_SELF, 32, lognormal_kappa(32, 7), out[1].a.out());
  return out;
}

class PrecondPaths : public ::testing::Test {
 protected:
  void SetUp() override { register_karman_pc(); }
};

// y = PC⁻¹ v for a PC of the given type on matrix a (v_i = sin(i + 1)). Returns [N].
template <class Configure>
std::vector<double> apply_pc(Mat a, const char* type, Configure configure) {
  petsc::KSP ksp;
  KARMAN_PETSC(KSPCreate(PETSC_COMM_SELF, ksp.out()));
  KARMAN_PETSC(KSPSetOperators(ksp, a, a));
  PC pc;
  KARMAN_PETSC(KSPGetPC(ksp, &pc));
  KARMAN_PETSC(PCSetType(pc, type));
  configure(pc);
  KARMAN_PETSC(PCSetUp(pc));
  petsc::Vec v, y;
  KARMAN_PETSC(MatCreateVecs(a, v.out(), y.out()));
  PetscInt n = 0;
  KARMAN_PETSC(VecGetSize(v, &n));
  for (PetscInt i = 0; i < n; ++i)
    KARMAN_PETSC(VecSetValue(v, i, std::sin(i + 1.0), INSERT_VALUES));
  KARMAN_PETSC(VecAssemblyBegin(v));
  KARMAN_PETSC(VecAssemblyEnd(v));
  KARMAN_PETSC(PCApply(pc, v, y));
  return to_vector(y);
}

}  // namespace

TEST_F(PrecondPaths, CsrAndTrilPatternOfPoisson) {
  petsc::Mat a;
  create_poisson_2d(PETSC_COMM_SELF, 4, a.out());
  const CsrMatrix csr = local_diagonal_block(a);
  ASSERT_EQ(csr.rows, 16);
  EXPECT_EQ(csr.nnz(), 16 + 2 * (2 * 4 * 3));  // diagonal + both directions of 2·(4·3) couplings
  const LowerPattern lower = lower_pattern(csr);
  EXPECT_EQ(lower.nnz(), 16 + 2 * 4 * 3);
  for (std::int64_t i = 0; i < lower.rows; ++i) {
    EXPECT_EQ(lower.col[lower.diagonal(i)], i);
    for (std::int64_t p = lower.row_ptr[i]; p < lower.row_ptr[i + 1]; ++p) {
      EXPECT_LE(lower.col[p], i);
      EXPECT_EQ(csr.col[lower.position_in_a[p]], lower.col[p]);
    }
  }
}

// The SeqAIJ fast path (the matrix's CSR arrays copied at once) against the row-by-row MatGetRow
// copy it replaced, which other types still take: the same matrix as BAIJ (block size 1) gives
// the same rows, columns and values exactly.
TEST_F(PrecondPaths, AijArraysCopyMatchesRowByRowCopy) {
  for (const Problem& problem : problems_32()) {
    petsc::Mat baij;
    KARMAN_PETSC(MatConvert(problem.a, MATSEQBAIJ, MAT_INITIAL_MATRIX, baij.out()));
    const CsrMatrix fast = local_diagonal_block(problem.a), rows = local_diagonal_block(baij);
    EXPECT_EQ(fast.rows, rows.rows);
    EXPECT_EQ(fast.row_ptr, rows.row_ptr);
    EXPECT_EQ(fast.col, rows.col);
    EXPECT_EQ(fast.values, rows.values);
    EXPECT_GT(fast.nnz(), fast.rows);
  }
}

TEST_F(PrecondPaths, Ic0MatchesPetscIcc) {
  // 2D, log-normal 2D and 3D: (L Lᵀ)⁻¹ v with the C++ IC(0) equals PETSc's ICC(0) applied to v.
  std::vector<Problem> problems = problems_32();
  problems.emplace_back();
  problems.back().name = "poisson3d_8";
  create_poisson_3d(PETSC_COMM_SELF, 8, problems.back().a.out());
  for (const Problem& problem : problems) {
    const std::vector<double> icc = apply_pc(problem.a, PCICC, [](PC) {});
    const std::vector<double> ours = apply_pc(problem.a, "karman", [](PC) {});
    EXPECT_LT(max_abs_diff(icc, ours), 1e-12 * max_abs(icc)) << problem.name;
  }
}

TEST_F(PrecondPaths, Ic0FactorSatisfiesPatternEquations) {
  // IC(0)'s defining property: pattern(A) ∘ (L Lᵀ) = A, so Ã for L = IC(0)(A) is A itself.
  for (const Problem& problem : problems_32()) {
    const CsrMatrix a = local_diagonal_block(problem.a);
    const LowerPattern lower = lower_pattern(a);
    const CsrMatrix a_tilde = pattern_product(a, lower, ic0_values(a, lower));
    EXPECT_LT(max_abs_diff(a_tilde.values, a.values), 1e-12 * max_abs(a.values)) << problem.name;
  }
}

TEST_F(PrecondPaths, WithIc0AllPathsGiveIdenticalIterations) {
  for (Problem& problem : problems_32()) {
    const CsrMatrix a = local_diagonal_block(problem.a);
    const LowerPattern lower = lower_pattern(a);
    petsc::Mat a_tilde;
    create_pattern_product(problem.a, lower, ic0_values(a, lower), a_tilde.out());

    const CgRun icc = solve_with_pc(problem.a, problem.name + "icc_", "icc");
    set_option(problem.name + "pathA_", "pc_type", "icc");
    const CgRun path_a = solve_cg(problem.a, a_tilde, problem.name + "pathA_");
    const CgRun path_b = solve_with_pc(problem.a, problem.name + "pathB_", "karman");
    set_option(problem.name + "bjac_", "sub_pc_type", "karman");
    const CgRun bjacobi = solve_with_pc(problem.a, problem.name + "bjac_", "bjacobi");

    std::printf("[ info ] %s CG iterations: icc %d, path A %d, path B %d, bjacobi+karman %d\n",
                problem.name.c_str(), static_cast<int>(icc.iterations),
                static_cast<int>(path_a.iterations), static_cast<int>(path_b.iterations),
                static_cast<int>(bjacobi.iterations));
    for (const CgRun* run : {&path_a, &path_b, &bjacobi}) {
      EXPECT_EQ(run->iterations, icc.iterations) << problem.name;
      EXPECT_LT(max_abs_diff(run->x, icc.x), 1e-10 * max_abs(icc.x)) << problem.name;
    }
  }
}

TEST_F(PrecondPaths, PerturbedFactorPathsAAndBAgree) {
  // For any L on tril(A) with positive diagonal, IC(0)(pattern(A) ∘ L Lᵀ) = L, so path A
  // reproduces path B exactly (up to rounding): same iterations, same solution.
  for (Problem& problem : problems_32()) {
    const CsrMatrix a = local_diagonal_block(problem.a);
    const LowerPattern lower = lower_pattern(a);
    const std::vector<double> l = perturbed(ic0_values(a, lower));
    const std::vector<double> recovered = ic0_values(pattern_product(a, lower, l), lower);
    EXPECT_LT(max_abs_diff(recovered, l), 1e-12 * max_abs(l)) << problem.name;

    petsc::Mat a_tilde;
    create_pattern_product(problem.a, lower, l, a_tilde.out());
    set_option(problem.name + "ppathA_", "pc_type", "icc");
    const CgRun path_a = solve_cg(problem.a, a_tilde, problem.name + "ppathA_");
    set_option(problem.name + "ppathB_", "pc_type", "karman");
    const CgRun path_b = solve_cg(problem.a, problem.a, problem.name + "ppathB_", [&](PC pc) {
      pc_karman_set_factor_provider(pc, fixed_factor(l));
    });
    std::printf("[ info ] %s perturbed L: path A %d, path B %d iterations\n", problem.name.c_str(),
                static_cast<int>(path_a.iterations), static_cast<int>(path_b.iterations));
    EXPECT_EQ(path_a.iterations, path_b.iterations) << problem.name;
    EXPECT_LT(max_abs_diff(path_a.x, path_b.x), 1e-10 * max_abs(path_b.x)) << problem.name;
  }
}

TEST_F(PrecondPaths, KarmanPcAppliesDenseInverseOfLLt) {
  // 3×3 Poisson (N = 9) with a perturbed factor: PCApply equals (L Lᵀ)⁻¹ v by dense elimination.
  petsc::Mat a;
  create_poisson_2d(PETSC_COMM_SELF, 3, a.out());
  const CsrMatrix csr = local_diagonal_block(a);
  const LowerPattern lower = lower_pattern(csr);
  const std::vector<double> l = perturbed(ic0_values(csr, lower));
  const auto n = static_cast<std::size_t>(csr.rows);
  std::vector<double> dense_l(n * n, 0.0), m(n * n, 0.0), v(n);  // row major n×n
  for (std::size_t i = 0; i < n; ++i)
    for (std::int64_t p = lower.row_ptr[i]; p < lower.row_ptr[i + 1]; ++p)
      dense_l[i * n + lower.col[p]] = l[p];
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = std::sin(i + 1.0);
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t k = 0; k < n; ++k) m[i * n + j] += dense_l[i * n + k] * dense_l[j * n + k];
  }
  for (std::size_t c = 0; c < n; ++c)  // Gaussian elimination (M is SPD: no pivoting needed)
    for (std::size_t r = c + 1; r < n; ++r) {
      const double f = m[r * n + c] / m[c * n + c];
      for (std::size_t k = c; k < n; ++k) m[r * n + k] -= f * m[c * n + k];
      v[r] -= f * v[c];
    }
  for (std::size_t r = n; r-- > 0;) {
    for (std::size_t k = r + 1; k < n; ++k) v[r] -= m[r * n + k] * v[k];
    v[r] /= m[r * n + r];
  }
  const std::vector<double> y =
      apply_pc(a, "karman", [&](PC pc) { pc_karman_set_factor_provider(pc, fixed_factor(l)); });
  EXPECT_LT(max_abs_diff(y, v), 1e-13 * max_abs(v));
}

TEST_F(PrecondPaths, RejectsMatricesThatAreNotSpd) {
  // Non-symmetric: a 3×3 Poisson with one coupling changed.
  petsc::Mat a;
  create_poisson_2d(PETSC_COMM_SELF, 3, a.out());
  CsrMatrix skew = local_diagonal_block(a);
  skew.values[1] = -0.5;  // a_01; a_10 stays −1
  EXPECT_THROW(ic0_values(skew, lower_pattern(skew)), NotSpdError);
  petsc::Mat skew_mat;
  create_seq_aij(skew, skew_mat.out());
  try {
    apply_pc(skew_mat, "karman", [](PC) {});
    ADD_FAILURE() << "a non-symmetric matrix was accepted";
  } catch (const karman::ExternalError& e) {
    EXPECT_NE(std::string(e.what()).find("not symmetric"), std::string::npos) << e.what();
    std::printf("[ info ] rejected: %s\n", e.what());
  }

  // Singular: the 1D Neumann Laplacian (rows sum to zero); IC(0) is exact Cholesky, last pivot 0.
  CsrMatrix neumann;
  neumann.rows = 6;
  neumann.row_ptr.assign(1, 0);
  for (std::int64_t i = 0; i < neumann.rows; ++i) {
    const bool end = (i == 0 || i == neumann.rows - 1);
    if (i > 0) neumann.col.push_back(i - 1), neumann.values.push_back(-1.0);
    neumann.col.push_back(i), neumann.values.push_back(end ? 1.0 : 2.0);
    if (i + 1 < neumann.rows) neumann.col.push_back(i + 1), neumann.values.push_back(-1.0);
    neumann.row_ptr.push_back(neumann.nnz());
  }
  try {
    ic0_values(neumann, lower_pattern(neumann));
    ADD_FAILURE() << "a singular matrix was accepted";
  } catch (const NotSpdError& e) {
    EXPECT_NE(std::string(e.what()).find("singular"), std::string::npos) << e.what();
    std::printf("[ info ] rejected: %s\n", e.what());
  }

  // A factor with a non-positive diagonal cannot define M = L Lᵀ > 0 (path A refuses it).
  const CsrMatrix csr = local_diagonal_block(a);
  const LowerPattern lower = lower_pattern(csr);
  std::vector<double> l = ic0_values(csr, lower);
  l[lower.diagonal(4)] = -1.0;
  petsc::Mat a_tilde;
  EXPECT_THROW(create_pattern_product(a, lower, l, a_tilde.out()), NotSpdError);
}

TEST_F(PrecondPaths, IterationCountsOfStandardPreconditioners) {
  // Information for issue 6 (printed), plus what must hold: IC(0) beats Jacobi, and the karman PC
  // with its default IC(0) factor matches PETSc's ICC iteration for iteration.
  for (PetscInt n : {64, 128}) {
    petsc::Mat a;
    create_poisson_2d(PETSC_COMM_SELF, n, a.out());
    const std::string tag = "p" + std::to_string(n) + "_";
    std::printf("[ info ] Poisson %d^2 CG iterations (rtol 1e-8):", static_cast<int>(n));
    std::vector<PetscInt> counts;
    for (const char* type : {"none", "jacobi", "icc", "karman", "gamg"}) {
      counts.push_back(solve_with_pc(a, tag + type + "_", type).iterations);
      std::printf(" %s %d", type, static_cast<int>(counts.back()));
    }
    std::printf("\n");
    EXPECT_LT(counts[2], counts[1]) << "icc vs jacobi at " << n;
    EXPECT_EQ(counts[3], counts[2]) << "karman(IC(0)) vs icc at " << n;
  }
}

// ---- Modified IC(0): the reference factor the learned correction starts from.

namespace {

// L (Lᵀ v) for the factor values l. v: [n].
std::vector<double> multiply_factor(const LowerPattern& lower, const std::vector<double>& l,
                                    const std::vector<double>& v) {
  std::vector<double> y(lower.rows, 0.0), z(lower.rows, 0.0);
  for (std::int64_t i = 0; i < lower.rows; ++i)  // y = Lᵀ v
    for (std::int64_t p = lower.row_ptr[i]; p < lower.row_ptr[i + 1]; ++p)
      y[lower.col[p]] += l[p] * v[i];
  for (std::int64_t i = 0; i < lower.rows; ++i)  // z = L y
    for (std::int64_t p = lower.row_ptr[i]; p < lower.row_ptr[i + 1]; ++p)
      z[i] += l[p] * y[lower.col[p]];
  return z;
}

std::vector<Problem> problems_mic() {
  std::vector<Problem> out = problems_32();
  out.emplace_back();
  out.back().name = "poisson3d_8";
  create_poisson_3d(PETSC_COMM_SELF, 8, out.back().a.out());
  return out;
}

// Gᵀ (G v) by plain loops over G's rows (the transposed product scattered column by column).
std::vector<double> reference_gtg(const LowerPattern& lower, const std::vector<double>& g,
                                  const std::vector<double>& v) {
  std::vector<double> gv(lower.rows, 0.0), out(lower.rows, 0.0);
  for (std::int64_t i = 0; i < lower.rows; ++i)
    for (std::int64_t p = lower.row_ptr[i]; p < lower.row_ptr[i + 1]; ++p)
      gv[i] += g[p] * v[lower.col[p]];
  for (std::int64_t i = 0; i < lower.rows; ++i)
    for (std::int64_t p = lower.row_ptr[i]; p < lower.row_ptr[i + 1]; ++p)
      out[lower.col[p]] += g[p] * gv[i];
  return out;
}

}  // namespace

TEST_F(PrecondPaths, ModifiedIcWithZeroOmegaIsIcZero) {
  for (const Problem& problem : problems_mic()) {
    const CsrMatrix a = local_diagonal_block(problem.a);
    const LowerPattern lower = lower_pattern(a);
    const std::vector<double> ic0 = ic0_values(a, lower);
    EXPECT_LT(max_abs_diff(mic0_values(a, lower, 0.0), ic0), 1e-13 * max_abs(ic0)) << problem.name;
  }
}

TEST_F(PrecondPaths, ModifiedIcKeepsTheRowSums) {
  // MIC(0)'s defining property: L Lᵀ 1 = A 1 (the dropped fill moved onto the diagonal), while
  // IC(0)'s L Lᵀ matches A on the pattern only.
  for (const Problem& problem : problems_mic()) {
    const CsrMatrix a = local_diagonal_block(problem.a);
    const LowerPattern lower = lower_pattern(a);
    std::vector<double> row_sums(a.rows, 0.0);
    for (std::int64_t i = 0; i < a.rows; ++i)
      for (std::int64_t p = a.row_ptr[i]; p < a.row_ptr[i + 1]; ++p) row_sums[i] += a.values[p];
    const std::vector<double> ones(a.rows, 1.0);
    const double scale = max_abs(a.values);
    EXPECT_LT(max_abs_diff(multiply_factor(lower, mic0_values(a, lower), ones), row_sums),
              1e-12 * scale)
        << problem.name;
    EXPECT_GT(max_abs_diff(multiply_factor(lower, ic0_values(a, lower), ones), row_sums),
              1e-3 * scale)
        << problem.name;
  }
}

TEST_F(PrecondPaths, ModifiedIcGrowsSlowerThanIcZero) {
  // Poisson 2D: IC(0) leaves cond(M⁻¹A) = O(h⁻²), MIC(0) O(h⁻¹). Measured (CG, rtol 1e-8):
  // IC(0) 35 / 64 iterations at 32² / 64², MIC(0) fewer, and its count grows by less than IC(0)'s.
  long ic0[2], mic0[2];
  const PetscInt sizes[2] = {32, 64};
  for (int s = 0; s < 2; ++s) {
    petsc::Mat a;
    create_poisson_2d(PETSC_COMM_SELF, sizes[s], a.out());
    ic0[s] = solve_with_pc(a, "mic_icc_", "icc").iterations;
    set_option("mic_karman_", "pc_type", "karman");
    mic0[s] =
        solve_cg(a, a, "mic_karman_", [](PC pc) {
          pc_karman_set_factor_provider(pc, [](const CsrMatrix& block, const LowerPattern& lower) {
            return mic0_values(block, lower);
          });
        }).iterations;
    EXPECT_LT(mic0[s], ic0[s]) << "n = " << sizes[s];
  }
  EXPECT_LT(static_cast<double>(mic0[1]) / mic0[0], static_cast<double>(ic0[1]) / ic0[0]);
  std::printf("MIC(0) / IC(0) iterations: 32² %ld / %ld, 64² %ld / %ld\n", mic0[0], ic0[0], mic0[1],
              ic0[1]);
}

TEST_F(PrecondPaths, FsaiModeAppliesGTransposeG) {
  // Log-normal κ 32² (N = 1024): -pc_karman_type fsai from the options database with the default
  // provider (the classical FSAI), and the C++ setter with a perturbed G: PCApply = Gᵀ G v.
  petsc::Mat a;
  create_diffusion_2d(PETSC_COMM_SELF, 32, lognormal_kappa(32, 3), a.out());
  const CsrMatrix csr = local_diagonal_block(a);
  const LowerPattern lower = lower_pattern(csr);
  std::vector<double> v(csr.rows);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(i + 1.0);

  const std::vector<double> g = fsai_values(csr, lower);
  const std::vector<double> expected = reference_gtg(lower, g, v);
  set_option("fsai_apply_", "pc_karman_type", "fsai");
  const std::vector<double> from_options = apply_pc(a, "karman", [](PC pc) {
    KARMAN_PETSC(PCSetOptionsPrefix(pc, "fsai_apply_"));
    KARMAN_PETSC(PCSetFromOptions(pc));
    EXPECT_EQ(pc_karman_get_type(pc), FactorKind::fsai);
  });
  EXPECT_LT(max_abs_diff(from_options, expected), 1e-13 * max_abs(expected));

  const std::vector<double> g_perturbed = perturbed(g);
  const std::vector<double> expected_perturbed = reference_gtg(lower, g_perturbed, v);
  const std::vector<double> from_setter = apply_pc(a, "karman", [&](PC pc) {
    pc_karman_set_type(pc, FactorKind::fsai);
    pc_karman_set_factor_provider(pc, fixed_factor(g_perturbed));
  });
  EXPECT_LT(max_abs_diff(from_setter, expected_perturbed), 1e-13 * max_abs(expected_perturbed));
  EXPECT_GT(max_abs_diff(from_setter, expected), 1e-3 * max_abs(expected));  // G was used
}

TEST_F(PrecondPaths, FsaiIterationsLieBetweenJacobiAndIc0) {
  // Poisson 32²: FSAI on tril(A) improves on Jacobi (its diagonal-only special case) but stores
  // an approximate inverse, weaker per entry than IC(0)'s factor of A.
  petsc::Mat a;
  create_poisson_2d(PETSC_COMM_SELF, 32, a.out());
  const PetscInt jacobi = solve_with_pc(a, "order_jacobi_", "jacobi").iterations;
  const PetscInt icc = solve_with_pc(a, "order_icc_", "icc").iterations;
  set_option("order_fsai_", "pc_karman_type", "fsai");
  const PetscInt fsai = solve_with_pc(a, "order_fsai_", "karman").iterations;
  std::printf("[ info ] Poisson 32^2 CG iterations: jacobi %d, fsai %d, icc %d\n",
              static_cast<int>(jacobi), static_cast<int>(fsai), static_cast<int>(icc));
  EXPECT_LT(fsai, jacobi);
  EXPECT_GT(fsai, icc);
}

TEST_F(PrecondPaths, FactorSolverMatchesTheReferenceSweeps) {
  // The PC's compact solver (inverse diagonal, 32-bit columns) against apply_factor_inverse, on a
  // factor that is not IC(0), out of place and in place.
  for (const Problem& problem : problems_mic()) {
    const CsrMatrix a = local_diagonal_block(problem.a);
    const LowerPattern lower = lower_pattern(a);
    const std::vector<double> l = perturbed(mic0_values(a, lower));
    std::vector<double> v(a.rows), expected(a.rows), fast(a.rows);
    for (std::int64_t i = 0; i < a.rows; ++i) v[i] = std::sin(0.7 * i + 1.0);
    apply_factor_inverse(lower, l, v.data(), expected.data());
    const FactorSolver solver(lower, l);
    solver.apply(v.data(), fast.data());
    EXPECT_LT(max_abs_diff(fast, expected), 1e-13 * max_abs(expected)) << problem.name;
    solver.apply(v.data(), v.data());
    EXPECT_LT(max_abs_diff(v, expected), 1e-13 * max_abs(expected)) << problem.name;
  }
}
