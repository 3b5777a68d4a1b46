#include "pinn/causal.hpp"

#include <algorithm>
#include <cmath>

#include "karman/core/error.hpp"

namespace karman::pinn {

std::vector<double> causal_weights(const std::vector<double>& bin_losses, double epsilon) {
  std::vector<double> weights(bin_losses.size());
  double earlier = 0.0;  // Σ_{k<i} L_k
  for (std::size_t i = 0; i < bin_losses.size(); ++i) {
    weights[i] = std::exp(-epsilon * earlier);
    earlier += bin_losses[i];
  }
  return weights;
}

CausalSchedule::CausalSchedule(CausalOptions options)
    : m_options(std::move(options)), m_weights(static_cast<std::size_t>(m_options.bins), 1.0) {
  KARMAN_VERIFY(m_options.bins > 0 && !m_options.epsilon.empty(),
                "CausalSchedule: at least one bin and one epsilon");
}

void CausalSchedule::update(const std::vector<double>& bin_losses) {
  KARMAN_VERIFY(static_cast<long>(bin_losses.size()) == m_options.bins,
                "CausalSchedule::update: one loss per bin");
  m_weights = causal_weights(bin_losses, epsilon());
  if (min_weight() > m_options.delta && m_level + 1 < m_options.epsilon.size()) {
    ++m_level;
    m_weights = causal_weights(bin_losses, epsilon());
  }
}

double CausalSchedule::min_weight() const {
  return *std::min_element(m_weights.begin(), m_weights.end());
}

}  // namespace karman::pinn
