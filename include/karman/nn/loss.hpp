#pragma once
// Losses: value and gradient with respect to the prediction in one pass. `total_rows` is the
// number of samples of the whole (global) batch: under data parallelism each rank passes its own
// rows and the global count, so the sum of the ranks' values and gradients is the global loss.

#include <string>
#include <vector>

#include "karman/nn/tensor.hpp"

namespace karman::nn {

// L = Σ_ij (y_ij - t_ij)² / (total_rows · cols).   dy = ∂L/∂y, written (not added).
template <class T>
T mse_loss(const Matrix<T>& y, const Matrix<T>& target, const Matrix<T>& dy, double total_rows);

// L = Σ_i ||y_i - t_i|| / ||t_i|| / total_rows, one sample per row (the neural-operator loss).
template <class T>
T relative_l2_loss(const Matrix<T>& y, const Matrix<T>& target, const Matrix<T>& dy,
                   double total_rows);

// A loss made of weighted named terms (data, residual, boundary, ...), reported term by term.
struct LossTerm {
  std::string name;
  double weight = 1.0;
  double value = 0.0;  // unweighted
};

inline double total_loss(const std::vector<LossTerm>& terms) {
  double sum = 0.0;
  for (const auto& t : terms) sum += t.weight * t.value;
  return sum;
}

}  // namespace karman::nn
