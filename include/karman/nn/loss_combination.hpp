#pragma once
// Loss-combination rules for losses of several terms (a PINN's residual, boundary, initial, ...):
// how a first-order stage turns the m per-term gradients g_i = ∇θ(w_i L_i) into the one gradient
// it gives the optimizer (a stage's `combine` key).
//
//   sum        g = Σ_i g_i (the plain weighted sum; the trainer does not even split the terms).
//   config     ConFIG (Liu, Chu, Thuerey, ICLR 2025): unit gradients u_i = g_i/|g_i| (rows of U,
//              m × P), the direction g_u = U(Uᵀ[U Uᵀ]⁻¹ 1) (the least-norm x with U x = 1, made a
//              unit vector), and the length Σ_i g_iᵀ g_u: g = (Σ_i g_iᵀ g_u) g_u. Every u_iᵀ g_u is
//              the same positive number, so no term's loss rises to first order.
//   mconfig    M-ConFIG: one momentum per term, and one term back-propagated per step (round-robin
//              by the global step); ConFIG of the bias-corrected momenta, then divided by the
//              square root of a second moment of a pseudo-gradient (the reference's
//              PseudoMomentumOperator, tum-pbs/ConFIG), so the direction is already Adam-scaled:
//              the reference pairs it with plain SGD. Zero until every term has been seen once.
//   annealing  learning-rate annealing (Wang, Teng, Perdikaris 2021): g = g_0 + Σ_{i≥1} λ_i g_i,
//              the residual (term 0) as anchor; every `every` steps
//              λ_i ← α λ_i + (1 − α) max|g_0| / mean|g_i|  (max and mean over the P entries).
//
// The vectors are host float64 (m ≤ a handful, P ≤ ~10⁵): the rule costs a few m × P dot
// products and an m × m solve (Gaussian elimination with partial pivoting, below), next to m
// backward passes (config, annealing) or one (mconfig).

#include <functional>
#include <string>
#include <vector>

#include "karman/nn/checkpoint.hpp"

namespace karman::nn {

struct CombineOptions {
  std::string rule = "sum";           // sum | config | mconfig | annealing
  double alpha = 0.9;                 // annealing: the share of the old λ_i kept at an update
  long every = 10;                    // annealing: steps between updates of λ
  double beta1 = 0.9, beta2 = 0.999;  // mconfig: momentum and second-moment decay (reference's)
};

// What a loss of several terms back-propagates, term by term: `wanted(k)` says whether term k's
// gradient is needed (an unwanted term is still evaluated, for the history, but not
// back-propagated), and `done(k)` is called right after term k, when the parameters' gradients
// hold the gradients accumulated so far; the caller takes term k's from there and zeroes them.
struct TermHooks {
  std::function<bool(std::size_t)> wanted;
  std::function<void(std::size_t)> done;
};

// ConFIG of m gradients (rows, each [P]): (Σ_i g_iᵀ g_u) g_u. Zero gradients are left out of the
// unit set (they constrain nothing); all zero: the zero vector.
std::vector<double> config_direction(const std::vector<std::vector<double>>& gradients);
// The same for two gradients without a solve (the reference's ConFIG_update_double): with
// o_1 = g_2's part orthogonal to g_1 and o_2 = g_1's part orthogonal to g_2, g_u ∥ U(o_1) + U(o_2).
std::vector<double> config_direction_two(const std::vector<double>& g1,
                                         const std::vector<double>& g2);

// Annealing's new estimates λ̂_i = max|g_0| / mean|g_i| (i ≥ 1; λ̂_0 = 1).
std::vector<double> annealing_estimates(const std::vector<std::vector<double>>& gradients);

// One rule's state along a stage (mconfig momenta, annealing weights), checkpointed so that a
// resumed stage continues bitwise.
class LossCombination {
 public:
  LossCombination(CombineOptions options, std::size_t terms, std::size_t parameters);

  const std::string& rule() const { return m_options.rule; }
  // Whether term k is back-propagated at global step `step` (0-based).
  bool wanted(long step, std::size_t term) const;
  // The combined gradient [P] from the per-term gradients at `step` (rows not wanted: ignored);
  // `stage_step` is the step within the stage (annealing's every). Updates the state.
  std::vector<double> combine(long step, long stage_step,
                              const std::vector<std::vector<double>>& gradients);
  const std::vector<double>& weights() const { return m_lambda; }  // annealing's λ

  void save(Checkpoint& c) const;
  // ConfigError naming `path` when the checkpoint's state does not fit (other terms or model).
  void restore(const Checkpoint& c, const std::string& path);

 private:
  std::vector<double> mconfig(long step, const std::vector<std::vector<double>>& gradients);
  std::vector<double> annealing(long stage_step, const std::vector<std::vector<double>>& gradients);

  CombineOptions m_options;
  std::size_t m_terms, m_parameters;
  std::vector<std::vector<double>> m_momentum;  // mconfig: [terms][P]
  std::vector<double> m_second, m_pseudo;       // mconfig: s and the last pseudo momentum [P]
  std::vector<double> m_seen;                   // mconfig: updates of each term's momentum
  double m_updates = 0;                         // mconfig: directions given so far
  std::vector<double> m_lambda;                 // annealing: [terms], λ_0 = 1
};

}  // namespace karman::nn
