#include "karman/nn/gauss_newton.hpp"

#include <fmt/format.h>
#include <petscksp.h>

#include <cmath>

#include "../petsc/check.hpp"
#include "../petsc/handle.hpp"
#include "../petsc/ksp.hpp"
#include "karman/core/error.hpp"
#include "karman/nn/gemm.hpp"

namespace karman::nn {
namespace {

struct Evaluation {
  double loss = 0.0;
  std::vector<LossTerm> terms;
};

// This rank's residual blocks (one per owned chunk) in one buffer, and the sums over all chunks
// the Gauss–Newton step needs, each along TreeSum's fixed tree (the same bits on every rank and
// for any rank count). Chunk products run on one BLAS thread (see OneBlasThread).
template <class T>
class BlockedSystem {
 public:
  BlockedSystem(MPI_Comm comm, const LeastSquares<T>& problem, std::size_t params)
      : m_problem(problem), m_tree(comm, problem.chunks), m_params(params) {
    KARMAN_VERIFY(static_cast<long>(problem.rows.size()) == m_tree.count(),
                  "gauss_newton: one residual block per owned chunk");
    std::size_t rows = 0;
    for (std::size_t n : problem.rows) m_offset.push_back(rows), rows += n;
    m_offset.push_back(rows);
    m_r = Matrix<T>("karman::nn::gauss_newton::r", rows, 1);
    m_jacobian = Matrix<T>("karman::nn::gauss_newton::jacobian", rows, params);
    m_product = Matrix<T>("karman::nn::gauss_newton::product", params, params);
    m_column = Matrix<T>("karman::nn::gauss_newton::column", params, 1);
    m_v = Matrix<T>("karman::nn::gauss_newton::v", params, 1);
    m_jv = Matrix<T>("karman::nn::gauss_newton::jv", rows, 1);
  }

  // r (and J) of every block at the current parameters; the global loss Σ r² and terms.
  Evaluation evaluate(bool with_jacobian) {
    std::vector<LossTerm> names;
    const std::vector<double> total = m_tree([&](long chunk, std::vector<double>& out) {
      const std::size_t k = block(chunk);
      const Matrix<T> r = rows_of(m_r, k);
      const std::vector<LossTerm> terms =
          m_problem.evaluate(k, Vector<T>(r.data(), r.extent(0)),
                             with_jacobian ? rows_of(m_jacobian, k) : Matrix<T>());
      if (names.empty()) names = terms;
      double squares = 0;
      Kokkos::parallel_reduce(
          "karman::nn::gauss_newton::sum_of_squares",
          Kokkos::RangePolicy<ExecutionSpace>(0, r.extent(0)),
          KOKKOS_LAMBDA(const std::size_t i, double& sum) {
            sum += static_cast<double>(r(i, 0)) * static_cast<double>(r(i, 0));
          },
          squares);
      out.assign(1, squares);
      for (const auto& t : terms) out.push_back(t.value);
    });
    Evaluation e;
    e.loss = total[0];
    e.terms = names;
    for (std::size_t i = 0; i < e.terms.size() && 1 + i < total.size(); ++i)
      e.terms[i].value = total[1 + i];
    return e;
  }

  // Σ_c J_cᵀ r_c [P].
  std::vector<double> gradient() {
    return m_tree([&](long chunk, std::vector<double>& out) {
      const std::size_t k = block(chunk);
      gemm(Transpose::yes, Transpose::no, T(1), rows_of(m_jacobian, k), rows_of(m_r, k), T(0),
           m_column);
      copy_out(m_column, out);
    });
  }
  // Σ_c J_cᵀ J_c [P, P] (row-major).
  std::vector<double> gramian() {
    return m_tree([&](long chunk, std::vector<double>& out) {
      const Matrix<T> j = rows_of(m_jacobian, block(chunk));
      gemm(Transpose::yes, Transpose::no, T(1), j, j, T(0), m_product);
      copy_out(m_product, out);
    });
  }
  // Σ_c J_cᵀ (J_c v) [P], the Gramian applied without forming it.
  std::vector<double> gramian_times(const double* v) {
    auto host = Kokkos::create_mirror_view(m_v);
    for (std::size_t i = 0; i < m_params; ++i) host(i, 0) = static_cast<T>(v[i]);
    Kokkos::deep_copy(m_v, host);
    return m_tree([&](long chunk, std::vector<double>& out) {
      const std::size_t k = block(chunk);
      const Matrix<T> jv = rows_of(m_jv, k);
      gemm(Transpose::no, Transpose::no, T(1), rows_of(m_jacobian, k), m_v, T(0), jv);
      gemm(Transpose::yes, Transpose::no, T(1), rows_of(m_jacobian, k), jv, T(0), m_column);
      copy_out(m_column, out);
    });
  }
  std::size_t parameters() const { return m_params; }

 private:
  std::size_t block(long chunk) const { return static_cast<std::size_t>(chunk - m_tree.first()); }
  Matrix<T> rows_of(const Matrix<T>& m, std::size_t k) const {
    return Kokkos::subview(m, std::make_pair(m_offset[k], m_offset[k + 1]), Kokkos::ALL);
  }
  static void copy_out(const Matrix<T>& m, std::vector<double>& out) {
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
    out.assign(host.data(), host.data() + host.size());
  }

  const LeastSquares<T>& m_problem;
  TreeSum m_tree;
  std::size_t m_params;
  std::vector<std::size_t> m_offset;  // [blocks + 1] first row of each block
  Matrix<T> m_r, m_jacobian;          // [rows, 1], [rows, P]
  Matrix<T> m_product, m_column;      // [P, P], [P, 1] one chunk's product
  Matrix<T> m_v, m_jv;                // [P, 1], [rows, 1]
};

// d solves A d = b on this rank with the KSP and PC of `solver` (options prefix
// karman_gauss_newton_, so -karman_gauss_newton_ksp_monitor and the like reach it).
std::vector<double> solve_on_rank(::Mat a, const config::SolverSpec& solver,
                                  const std::vector<double>& b) {
  const PetscInt p = static_cast<PetscInt>(b.size());
  petsc::KSP ksp = petsc::make_ksp(PETSC_COMM_SELF, a, solver, "karman_gauss_newton_");
  std::vector<double> d(b.size(), 0.0);
  petsc::Vec rhs, solution;
  KARMAN_PETSC(VecCreateSeqWithArray(PETSC_COMM_SELF, 1, p, b.data(), rhs.out()));
  KARMAN_PETSC(VecCreateSeqWithArray(PETSC_COMM_SELF, 1, p, d.data(), solution.out()));
  KARMAN_PETSC(KSPSolve(ksp, rhs, solution));
  return d;
}

// d = pinv(G + λI) b for the dense, symmetric Gramian G [P, P], by PETSc's SVD preconditioner.
std::vector<double> solve_dense(std::vector<double> gramian, const std::vector<double>& b,
                                const GaussNewtonOptions& options) {
  const PetscInt p = static_cast<PetscInt>(b.size());
  double frobenius = 0;
  for (PetscInt i = 0; i < p; ++i) gramian[i * p + i] += options.damping;
  for (double g : gramian) frobenius += g * g;
  frobenius = std::sqrt(frobenius);
  // G is symmetric, so its row-major copy is also the column-major array PETSc expects.
  petsc::Mat a;
  KARMAN_PETSC(MatCreateSeqDense(PETSC_COMM_SELF, p, p, gramian.data(), a.out()));
  KARMAN_PETSC(MatAssemblyBegin(a, MAT_FINAL_ASSEMBLY));
  KARMAN_PETSC(MatAssemblyEnd(a, MAT_FINAL_ASSEMBLY));
  // PCSVD's cutoff is absolute: scale the relative one by ‖G‖_F (≥ the largest singular value).
  const std::string cutoff = fmt::format("{:.17g}", options.svd_rcond * frobenius);
  KARMAN_PETSC(
      PetscOptionsSetValue(nullptr, "-karman_gauss_newton_pc_svd_zero_sing", cutoff.c_str()));
  // One application of the SVD pseudo-inverse: preonly ignores the tolerances.
  return solve_on_rank(a, petsc::solver(KSPPREONLY, PCSVD, 1e-5), b);
}

// The Gramian as an operator, never formed: v ↦ Σ_c J_cᵀ(J_c v) + λ v.
template <class T>
struct GramianOperator {
  BlockedSystem<T>* system;
  double damping;
};

template <class T>
PetscErrorCode gramian_mult(::Mat shell, ::Vec x, ::Vec out) {
  GramianOperator<T>* op;
  PetscFunctionBeginUser;
  PetscCall(MatShellGetContext(shell, &op));
  const PetscScalar* xs;
  PetscScalar* ys;
  PetscCall(VecGetArrayRead(x, &xs));
  const std::vector<double> y = op->system->gramian_times(xs);
  PetscCall(VecGetArray(out, &ys));
  for (std::size_t i = 0; i < y.size(); ++i) ys[i] = y[i] + op->damping * xs[i];
  PetscCall(VecRestoreArray(out, &ys));
  PetscCall(VecRestoreArrayRead(x, &xs));
  PetscFunctionReturn(0);
}

// d solves (Σ JᵀJ + λI) d = b by conjugate gradients from d = 0.
template <class T>
std::vector<double> solve_matrix_free(BlockedSystem<T>& system, const std::vector<double>& b,
                                      const GaussNewtonOptions& options) {
  const PetscInt p = static_cast<PetscInt>(b.size());
  GramianOperator<T> op{&system, options.damping};
  petsc::Mat shell;
  KARMAN_PETSC(MatCreateShell(PETSC_COMM_SELF, p, p, p, p, &op, shell.out()));
  KARMAN_PETSC(MatShellSetOperation(shell, MATOP_MULT, (void (*)(void))gramian_mult<T>));
  return solve_on_rank(
      shell, petsc::solver(KSPCG, PCNONE, options.cg_rtol, 0.0, options.cg_max_iterations), b);
}

// θ = θ0 − η d on the device.
template <class T>
void set_step(const Vector<T>& theta, const Vector<T>& theta0, const Vector<T>& direction,
              double eta) {
  const T step = static_cast<T>(eta);
  Kokkos::parallel_for(
      "karman::nn::gauss_newton::step", Kokkos::RangePolicy<ExecutionSpace>(0, theta.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) { theta(i) = theta0(i) - step * direction(i); });
}

}  // namespace

template <class T>
GaussNewtonResult gauss_newton_minimize(
    MPI_Comm comm, Parameters<T>& parameters, const LeastSquares<T>& problem,
    const GaussNewtonOptions& options,
    const std::function<void(long, double, const std::vector<LossTerm>&, double)>& on_iteration) {
  KARMAN_VERIFY(options.linear_solver == "svd" || options.linear_solver == "cg",
                "gauss_newton: linear_solver must be svd or cg");
  const std::size_t p = parameters.size();
  const OneBlasThread serial_products;  // chunk products must not depend on the rank count
  BlockedSystem<T> system(comm, problem, p);
  Vector<T> theta0("karman::nn::gauss_newton::theta0", p),
      direction("karman::nn::gauss_newton::d", p);
  const Vector<T> theta = parameters.values();

  GaussNewtonResult result;
  Evaluation current = system.evaluate(true);
  ++result.evaluations;
  result.loss = current.loss;
  if (!std::isfinite(current.loss)) {
    result.stop_reason = "non_finite";
    return result;
  }
  while (true) {
    if (result.iterations >= options.max_iterations) {
      result.stop_reason = "max_iterations";
      break;
    }
    // b = Σ Jᵀ r; G = Σ Jᵀ J (svd) or its products (cg), summed over the chunks.
    const std::vector<double> b = system.gradient();
    const std::vector<double> d = options.linear_solver == "svd"
                                      ? solve_dense(system.gramian(), b, options)
                                      : solve_matrix_free(system, b, options);
    bool finite = true;
    for (double v : d) finite = finite && std::isfinite(v);
    if (!finite) {
      result.stop_reason = "linear_solver_failed";
      break;
    }
    auto host_direction = Kokkos::create_mirror_view(direction);
    for (std::size_t i = 0; i < p; ++i) host_direction(i) = static_cast<T>(d[i]);
    Kokkos::deep_copy(direction, host_direction);
    Kokkos::deep_copy(theta0, theta);

    // Grid line search over η = 2^-k: the best loss wins (residuals only, no Jacobian).
    double best_eta = 0.0, best_loss = current.loss;
    for (long k = 0; k < options.line_search_points; ++k) {
      const double eta = std::ldexp(1.0, static_cast<int>(-k));
      set_step(theta, theta0, direction, eta);
      const Evaluation trial = system.evaluate(false);
      ++result.evaluations;
      if (std::isfinite(trial.loss) && trial.loss < best_loss) {
        best_loss = trial.loss;
        best_eta = eta;
      }
    }
    if (best_eta == 0.0) {
      Kokkos::deep_copy(theta, theta0);
      system.evaluate(false);  // leave the caller's state at θ0
      result.stop_reason = "no_decrease";
      break;
    }
    set_step(theta, theta0, direction, best_eta);
    const double previous = current.loss;
    current = system.evaluate(true);  // = best_loss, now with J for the next step
    ++result.evaluations;
    ++result.iterations;
    result.loss = current.loss;
    if (on_iteration) on_iteration(result.iterations, current.loss, current.terms, best_eta);
    if (previous - current.loss <= options.tolerance_change * previous) {
      result.stop_reason = "tolerance_change";
      break;
    }
  }
  return result;
}

template GaussNewtonResult gauss_newton_minimize<float>(
    MPI_Comm, Parameters<float>&, const LeastSquares<float>&, const GaussNewtonOptions&,
    const std::function<void(long, double, const std::vector<LossTerm>&, double)>&);
template GaussNewtonResult gauss_newton_minimize<double>(
    MPI_Comm, Parameters<double>&, const LeastSquares<double>&, const GaussNewtonOptions&,
    const std::function<void(long, double, const std::vector<LossTerm>&, double)>&);

}  // namespace karman::nn
