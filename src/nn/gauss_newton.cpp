#include "karman/nn/gauss_newton.hpp"

#include <fmt/format.h>
#include <petscksp.h>

#include <cmath>

#include "../petsc/check.hpp"
#include "../petsc/handle.hpp"
#include "karman/core/error.hpp"
#include "karman/nn/gemm.hpp"

namespace karman::nn {
namespace {

struct Evaluation {
  double loss = 0.0;
  std::vector<LossTerm> terms;
};

// r (and J) at the current parameters; the loss Σ r² and the terms summed over ranks in one
// allreduce.
template <class T>
Evaluation evaluate(MPI_Comm comm, const LeastSquares<T>& problem, const Vector<T>& r,
                    const Matrix<T>& jacobian) {
  Evaluation e;
  e.terms = problem.evaluate(r, jacobian);
  double local = 0;
  Kokkos::parallel_reduce(
      "karman::nn::gauss_newton::sum_of_squares",
      Kokkos::RangePolicy<ExecutionSpace>(0, r.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i, double& sum) {
        sum += static_cast<double>(r(i)) * static_cast<double>(r(i));
      },
      local);
  std::vector<double> packed{local};
  for (const auto& t : e.terms) packed.push_back(t.value);
  MPI_Allreduce(MPI_IN_PLACE, packed.data(), static_cast<int>(packed.size()), MPI_DOUBLE, MPI_SUM,
                comm);
  e.loss = packed[0];
  for (std::size_t i = 0; i < e.terms.size(); ++i) e.terms[i].value = packed[1 + i];
  return e;
}

// Σ_ranks of a device matrix, as host doubles (row-major).
template <class T>
std::vector<double> sum_over_ranks(MPI_Comm comm, const Matrix<T>& m) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
  std::vector<double> out(host.data(), host.data() + host.size());
  MPI_Allreduce(MPI_IN_PLACE, out.data(), static_cast<int>(out.size()), MPI_DOUBLE, MPI_SUM, comm);
  return out;
}

// d solves A d = b on this rank with a KSP of type `type` and a PC of type `pc_type` (options
// prefix karman_gauss_newton_, so -karman_gauss_newton_ksp_monitor and the like reach it);
// `configure` sets the rest before KSPSetFromOptions.
std::vector<double> solve_on_rank(::Mat a, KSPType type, PCType pc_type,
                                  const std::vector<double>& b,
                                  const std::function<void(::KSP)>& configure) {
  const PetscInt p = static_cast<PetscInt>(b.size());
  petsc::KSP ksp;
  KARMAN_PETSC(KSPCreate(PETSC_COMM_SELF, ksp.out()));
  KARMAN_PETSC(KSPSetOptionsPrefix(ksp, "karman_gauss_newton_"));
  KARMAN_PETSC(KSPSetOperators(ksp, a, a));
  KARMAN_PETSC(KSPSetType(ksp, type));
  PC pc;
  KARMAN_PETSC(KSPGetPC(ksp, &pc));
  KARMAN_PETSC(PCSetType(pc, pc_type));
  configure(ksp);
  KARMAN_PETSC(KSPSetFromOptions(ksp));
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
  return solve_on_rank(a, KSPPREONLY, PCSVD, b, [&](::KSP) {
    KARMAN_PETSC(
        PetscOptionsSetValue(nullptr, "-karman_gauss_newton_pc_svd_zero_sing", cutoff.c_str()));
  });
}

// The Gramian as an operator, never formed: v ↦ Σ_ranks Jᵀ(J v) + λ v.
template <class T>
struct GramianOperator {
  MPI_Comm comm;
  Matrix<T> jacobian;  // [rows, P]
  Matrix<T> v, jv, y;  // [P, 1], [rows, 1], [P, 1]
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
  auto v = Kokkos::create_mirror_view(op->v);
  for (std::size_t i = 0; i < v.extent(0); ++i) v(i, 0) = static_cast<T>(xs[i]);
  Kokkos::deep_copy(op->v, v);
  gemm(Transpose::no, Transpose::no, T(1), op->jacobian, op->v, T(0), op->jv);
  gemm(Transpose::yes, Transpose::no, T(1), op->jacobian, op->jv, T(0), op->y);
  std::vector<double> y = sum_over_ranks(op->comm, op->y);
  PetscCall(VecGetArray(out, &ys));
  for (std::size_t i = 0; i < y.size(); ++i) ys[i] = y[i] + op->damping * xs[i];
  PetscCall(VecRestoreArray(out, &ys));
  PetscCall(VecRestoreArrayRead(x, &xs));
  PetscFunctionReturn(0);
}

// d solves (Σ JᵀJ + λI) d = b by conjugate gradients from d = 0.
template <class T>
std::vector<double> solve_matrix_free(MPI_Comm comm, const Matrix<T>& jacobian,
                                      const std::vector<double>& b,
                                      const GaussNewtonOptions& options) {
  const PetscInt p = static_cast<PetscInt>(b.size());
  GramianOperator<T> op{comm,
                        jacobian,
                        Matrix<T>("karman::nn::gauss_newton::v", b.size(), 1),
                        Matrix<T>("karman::nn::gauss_newton::jv", jacobian.extent(0), 1),
                        Matrix<T>("karman::nn::gauss_newton::y", b.size(), 1),
                        options.damping};
  petsc::Mat shell;
  KARMAN_PETSC(MatCreateShell(PETSC_COMM_SELF, p, p, p, p, &op, shell.out()));
  KARMAN_PETSC(MatShellSetOperation(shell, MATOP_MULT, (void (*)(void))gramian_mult<T>));
  return solve_on_rank(shell, KSPCG, PCNONE, b, [&](::KSP ksp) {
    KARMAN_PETSC(KSPSetTolerances(ksp, options.cg_rtol, 0.0, PETSC_DEFAULT,
                                  static_cast<PetscInt>(options.cg_max_iterations)));
  });
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
  const std::size_t p = parameters.size(), rows = problem.rows;
  Matrix<T> residual_matrix("karman::nn::gauss_newton::r", rows, 1);  // [rows, 1] for gemm
  const Vector<T> r(residual_matrix.data(), rows);
  Matrix<T> jacobian("karman::nn::gauss_newton::jacobian", rows, p);
  Matrix<T> gramian("karman::nn::gauss_newton::gramian", options.linear_solver == "svd" ? p : 0,
                    options.linear_solver == "svd" ? p : 0);
  Matrix<T> gradient("karman::nn::gauss_newton::gradient", p, 1);
  Vector<T> theta0("karman::nn::gauss_newton::theta0", p),
      direction("karman::nn::gauss_newton::d", p);
  const Vector<T> theta = parameters.values();

  GaussNewtonResult result;
  Evaluation current = evaluate(comm, problem, r, jacobian);
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
    // b = Σ Jᵀ r; G = Σ Jᵀ J (svd) — each rank's rows, then one sum over ranks each.
    gemm(Transpose::yes, Transpose::no, T(1), jacobian, residual_matrix, T(0), gradient);
    const std::vector<double> b = sum_over_ranks(comm, gradient);
    std::vector<double> d;
    if (options.linear_solver == "svd") {
      gemm(Transpose::yes, Transpose::no, T(1), jacobian, jacobian, T(0), gramian);
      d = solve_dense(sum_over_ranks(comm, gramian), b, options);
    } else {
      d = solve_matrix_free(comm, jacobian, b, options);
    }
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
      Evaluation trial = evaluate(comm, problem, r, Matrix<T>());
      ++result.evaluations;
      if (std::isfinite(trial.loss) && trial.loss < best_loss) {
        best_loss = trial.loss;
        best_eta = eta;
      }
    }
    if (best_eta == 0.0) {
      Kokkos::deep_copy(theta, theta0);
      evaluate(comm, problem, r, Matrix<T>());  // leave the caller's state at θ0
      result.stop_reason = "no_decrease";
      break;
    }
    set_step(theta, theta0, direction, best_eta);
    const double previous = current.loss;
    current = evaluate(comm, problem, r, jacobian);  // = best_loss, now with J for the next step
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
