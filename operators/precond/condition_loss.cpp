#include "operators/precond/condition_loss.hpp"

#include <petscsys.h>
// after petscsys.h, which defines PetscBLASInt
#include <petscblaslapack.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "karman/core/error.hpp"

namespace karman::precond {
namespace {

// softmax(s · log λ) [n], computed stably.
std::vector<double> log_softmax_weights(const std::vector<double>& lambda, double s) {
  double top = -INFINITY;
  for (double v : lambda) top = std::max(top, s * std::log(v));
  std::vector<double> w(lambda.size());
  double total = 0.0;
  for (std::size_t k = 0; k < lambda.size(); ++k)
    total += w[k] = std::exp(s * std::log(lambda[k]) - top);
  for (double& v : w) v /= total;
  return w;
}

// (1/s) log Σ exp(s log λ_k): the soft maximum of log λ (soft minimum for s < 0).
double soft_extreme(const std::vector<double>& lambda, double s) {
  double top = -INFINITY;
  for (double v : lambda) top = std::max(top, s * std::log(v));
  double total = 0.0;
  for (double v : lambda) total += std::exp(s * std::log(v) - top);
  return (top + std::log(total)) / s;
}

}  // namespace

ConditionLoss::ConditionLoss(const CsrMatrix& a, const LowerPattern& lower,
                             ConditionLossOptions options)
    : m_lower(lower), m_a_dense(a.rows * a.rows, 0.0), m_options(options) {
  KARMAN_VERIFY(a.rows == lower.rows, "ConditionLoss: the pattern must be tril(A)'s");
  KARMAN_VERIFY(a.rows <= 4096, "ConditionLoss: dense eigensolves are for small matrices only");
  for (std::int64_t i = 0; i < a.rows; ++i)
    for (std::int64_t p = a.row_ptr[i]; p < a.row_ptr[i + 1]; ++p)
      m_a_dense[a.col[p] * a.rows + i] = a.values[p];
}

double ConditionLoss::evaluate(const std::vector<double>& l, std::vector<double>& dl) {
  const std::int64_t n = m_lower.rows;
  KARMAN_VERIFY(static_cast<std::int64_t>(l.size()) == m_lower.nnz(),
                "ConditionLoss: one value per entry of the pattern");
  // M = L Lᵀ densely: each column k of L adds L_ik L_jk to M_ij (and M_ji).
  std::vector<double> m(n * n, 0.0);
  std::vector<std::vector<std::int64_t>> column(n);  // entry ids of L's column k
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t p = m_lower.row_ptr[i]; p < m_lower.row_ptr[i + 1]; ++p)
      column[m_lower.col[p]].push_back(p);
  std::vector<std::int64_t> row_of(m_lower.nnz());
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t p = m_lower.row_ptr[i]; p < m_lower.row_ptr[i + 1]; ++p) row_of[p] = i;
  for (const auto& entries : column)
    for (std::int64_t p : entries)
      for (std::int64_t q : entries) m[row_of[q] * n + row_of[p]] += l[p] * l[q];

  // A v = λ M v (itype 1), eigenvalues ascending, v M-orthonormal, overwriting the copy of A.
  std::vector<double> v = m_a_dense, lambda(n);
  const PetscBLASInt itype = 1, size = static_cast<PetscBLASInt>(n);
  PetscBLASInt lwork = static_cast<PetscBLASInt>(std::max<std::int64_t>(1, 66 * n)), info = 0;
  std::vector<double> work(lwork);
  LAPACKsygv_(&itype, "V", "L", &size, v.data(), &size, m.data(), &size, lambda.data(), work.data(),
              &lwork, &info);
  if (info != 0)
    throw NotSpdError("ConditionLoss: LAPACK dsygv failed (info " + std::to_string(info) +
                      "): M = L Lᵀ or A is not positive definite");
  m_lambda_min = lambda.front();
  m_lambda_max = lambda.back();
  KARMAN_VERIFY(m_lambda_min > 0.0, "ConditionLoss: A is not positive definite");

  const double beta = m_options.sharpness;
  const std::vector<double> p = log_softmax_weights(lambda, beta);
  const std::vector<double> q = log_softmax_weights(lambda, -beta);
  const double loss = soft_extreme(lambda, beta) - soft_extreme(lambda, -beta);  // smax − smin

  dl.assign(l.size(), 0.0);
  std::vector<double> ltv(n);  // Lᵀ v_k
  for (std::int64_t k = 0; k < n; ++k) {
    const double weight = p[k] - q[k];
    if (std::abs(weight) < 1e-14) continue;
    const double* vk = v.data() + k * n;
    std::fill(ltv.begin(), ltv.end(), 0.0);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t e = m_lower.row_ptr[i]; e < m_lower.row_ptr[i + 1]; ++e)
        ltv[m_lower.col[e]] += l[e] * vk[i];
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t e = m_lower.row_ptr[i]; e < m_lower.row_ptr[i + 1]; ++e)
        dl[e] -= 2.0 * weight * vk[i] * ltv[m_lower.col[e]];
  }
  return loss;
}

}  // namespace karman::precond
