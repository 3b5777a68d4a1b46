// The learned-FSAI loss and its hand-derived gradient (see fsai_loss.hpp).
#include "operators/precond/fsai_loss.hpp"

#include "karman/core/error.hpp"

namespace karman::precond {

namespace {
using Range = Kokkos::RangePolicy<nn::ExecutionSpace>;
using Index = Kokkos::View<long*, nn::MemorySpace>;
}  // namespace

double FsaiLoss::evaluate(const nn::Vector<double>& g, const nn::Matrix<double>& x,
                          const nn::Matrix<double>& b, const nn::Vector<double>& dg) {
  const TriangularPattern& p = m_pattern;
  const std::size_t n = static_cast<std::size_t>(p.n), k = x.extent(1);
  KARMAN_VERIFY(x.extent(0) == n && b.extent(0) == n && b.extent(1) == k,
                "FsaiLoss: x and b must both be [n, k]");
  KARMAN_VERIFY(g.extent(0) == static_cast<std::size_t>(p.entries) && dg.extent(0) == g.extent(0),
                "FsaiLoss: g and dg must hold one value per pattern entry");
  nn::ensure_shape(m_u, "karman::precond::fsai_loss::u", n, k);
  nn::ensure_shape(m_r, "karman::precond::fsai_loss::r", n, k);
  nn::ensure_shape(m_h, "karman::precond::fsai_loss::h", n, k);
  const nn::Matrix<double> u = m_u, r = m_r, h = m_h;

  // Forward: u = G b, r = Gᵀ u − x.
  multiply(p, g, b, u);
  multiply_transpose(p, g, u, r);
  double residual = 0.0, solution = 0.0;
  Kokkos::parallel_reduce(
      "karman::precond::fsai_loss::residual", Range(0, n),
      KOKKOS_LAMBDA(const std::size_t i, double& sum_r, double& sum_x) {
        for (std::size_t s = 0; s < k; ++s) {
          r(i, s) -= x(i, s);
          sum_r += r(i, s) * r(i, s);
          sum_x += x(i, s) * x(i, s);
        }
      },
      residual, solution);
  KARMAN_VERIFY(solution > 0.0, "FsaiLoss: the solutions are all zero");

  // Backward: g = 2r/Σ‖x‖² (in place of r), h = G g, dG_ij = Σ_s u_i g_j + h_i b_j.
  const double scale = 2.0 / solution;
  Kokkos::parallel_for(
      "karman::precond::fsai_loss::scale", Range(0, n), KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t s = 0; s < k; ++s) r(i, s) *= scale;
      });
  multiply(p, g, r, h);
  const Index entry_row = p.entry_row, col = p.col;
  Kokkos::parallel_for(
      "karman::precond::fsai_loss::gradient", Range(0, p.entries), KOKKOS_LAMBDA(const long e) {
        const long i = entry_row(e), j = col(e);
        double sum = 0.0;
        for (std::size_t s = 0; s < k; ++s) sum += u(i, s) * r(j, s) + h(i, s) * b(j, s);
        dg(e) = sum;
      });
  return residual / solution;
}

}  // namespace karman::precond
