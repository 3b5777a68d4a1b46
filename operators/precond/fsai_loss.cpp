// The learned-FSAI loss and its hand-derived gradient (see fsai_loss.hpp).
#include "operators/precond/fsai_loss.hpp"

#include "karman/core/error.hpp"

namespace karman::precond {

double FsaiLoss::evaluate(const nn::Vector<double>& g, const nn::Matrix<double>& x,
                          const nn::Matrix<double>& b, const nn::Vector<double>& dg) {
  // f = ‖Gᵀ G b − x‖² / ‖x‖²: inner factor G on b, target x.
  return product_loss(m_pattern, InnerFactor::plain, g, b, x, dg, m_buffers);
}

}  // namespace karman::precond
