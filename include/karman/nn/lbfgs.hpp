#pragma once
// L-BFGS with a strong-Wolfe line search (Nocedal & Wright, Algorithms 7.4, 3.5 and 3.6), for
// full-batch refinement (PINNs). It runs exactly `max_iterations` iterations unless a stated
// tolerance stops it first, and says which (LbfgsResult::stop_reason) — never silently.

#include <functional>
#include <string>

#include "karman/nn/parameters.hpp"

namespace karman::nn {

struct LbfgsOptions {
  long max_iterations = 100;
  long max_evaluations = 0;           // 0: no limit beyond max_iterations × max_line_search
  long history = 20;                  // stored (s, y) pairs
  double tolerance_gradient = 1e-12;  // stop when max |g_i| <= this
  double tolerance_change = 1e-15;    // stop when |f_k - f_{k-1}| <= this·max(1, |f_k|)
  double c1 = 1e-4, c2 = 0.9;         // Wolfe constants
  long max_line_search = 25;          // evaluations per line search
};

struct LbfgsResult {
  long iterations = 0;   // completed iterations (accepted steps)
  long evaluations = 0;  // calls of `evaluate`
  double loss = 0.0;     // at the returned parameters
  // "max_iterations", "tolerance_gradient", "tolerance_change", "max_evaluations",
  // "line_search_failed", "non_finite". Before each iteration the tests run in the order
  // tolerance_gradient, tolerance_change, max_iterations, max_evaluations; a line search that
  // finds no decrease (also after one retry along −g with the history cleared) ends the run with
  // "line_search_failed" ("max_evaluations" if it ran out of evaluations), and a non-finite loss
  // or gradient at any evaluation with "non_finite".
  std::string stop_reason;
};

// `evaluate` computes the loss at the current parameter values and writes the full gradient into
// parameters.gradients() (zeroing it first itself, and summing over ranks if data-parallel), so
// every rank sees the same numbers and takes the same steps. `on_iteration(k, loss)` is called
// after each accepted step. Parameters, and the gradients in parameters.gradients(), end at the
// best point found: steps are accepted only with sufficient decrease, so that is the last accepted
// point (on "non_finite" or "line_search_failed", the start of the failed line search). Trial steps
// are t = 1 along the quasi-Newton direction; without history, steepest descent at
// t = min(1, 1/max|g|) so that no parameter moves by more than 1 on the first trial.
template <class T>
LbfgsResult lbfgs_minimize(Parameters<T>& parameters, const std::function<double()>& evaluate,
                           const LbfgsOptions& options,
                           const std::function<void(long, double)>& on_iteration = {});

}  // namespace karman::nn
