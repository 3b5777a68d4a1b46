#pragma once
// Causal training of time-dependent PINNs (Wang, Sankaran, Perdikaris 2022, "Respecting causality
// is all you need for training physics-informed neural networks"). The time interval is split into
// M equal bins; with L_i the mean squared PDE residual of bin i, the residual loss is
//
//   L_r = (1/M) Σ_i w_i L_i,   w_i = exp(−ε Σ_{k<i} L_k)   (w_0 = 1),
//
// and the weights carry no gradient (stop-gradient): a bin only counts once every earlier bin is
// fitted. The tolerance ε walks through an increasing list ε_1 < ... < ε_K, moving to the next one
// when min_i w_i > δ (all bins fitted under the current ε).
//
// With N interior points drawn uniformly in time, L_i = (M/N) Σ_{points in bin i} r², so
// L_r = (1/N) Σ_points w_{bin(point)} r²: a per-point weight of the usual mean (ResidualLoss's
// time bins). The bin sums are global: each chunk's, added along the fixed tree of
// nn/chunked_loss.hpp, so the weights are the same bits on any rank count.

#include <cstddef>
#include <vector>

namespace karman::pinn {

struct CausalOptions {
  long bins = 32;                                             // M
  std::vector<double> epsilon{1e-2, 1e-1, 1.0, 10.0, 100.0};  // ε_1 < ... < ε_K
  double delta = 0.99;                                        // δ
};

// w_i = exp(−ε Σ_{k<i} L_k) for the bin losses L [M].
std::vector<double> causal_weights(const std::vector<double>& bin_losses, double epsilon);

// The weights and the tolerance schedule along training.
class CausalSchedule {
 public:
  explicit CausalSchedule(CausalOptions options);

  // New bin losses L [M] (the previous step's): the weights under the current ε, then the next ε
  // (and its weights) if min w > δ and ε is not the last.
  void update(const std::vector<double>& bin_losses);

  const std::vector<double>& weights() const { return m_weights; }  // [M], all 1 before update
  double min_weight() const;
  double epsilon() const { return m_options.epsilon[m_level]; }
  std::size_t level() const { return m_level; }  // index of the current ε
  long bins() const { return m_options.bins; }

 private:
  CausalOptions m_options;
  std::size_t m_level = 0;
  std::vector<double> m_weights;
};

}  // namespace karman::pinn
