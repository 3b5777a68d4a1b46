#pragma once
// First-order optimizers on the flat parameter buffer, learning-rate schedules and gradient
// clipping. An optimizer keeps all its state in OptimizerState (named flat vectors and scalars) so
// checkpoints save and restore any optimizer the same way, and resume is bitwise.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "karman/nn/parameters.hpp"

namespace karman::nn {

// Names: sgd has the vector "momentum" (only when momentum != 0); adam and adamw have "m" and
// "v"; all have the scalar "step" (updates taken). Restoring all of them resumes bitwise.
template <class T>
struct OptimizerState {
  std::vector<std::pair<std::string, Vector<T>>> vectors;  // each [parameters.size()]
  std::vector<std::pair<std::string, double>> scalars;     // e.g. {"step", 12}
  double& scalar(const std::string& name);                 // InternalError if absent
  Vector<T>& vector(const std::string& name);
};

struct OptimizerOptions {
  std::string type = "adam";                          // sgd | adam | adamw
  double momentum = 0.0;                              // sgd
  bool nesterov = false;                              // sgd
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  // adam, adamw
  double weight_decay = 0.0;  // sgd, adam: L2 added to the gradient; adamw: decoupled
};

template <class T>
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;
  // One update θ ← θ - lr·(...) from the gradients in `parameters` (already summed over ranks).
  virtual void step(Parameters<T>& parameters, double lr) = 0;
  OptimizerState<T>& state() { return m_state; }

 protected:
  OptimizerState<T> m_state;
};

// InternalError for an unknown type (the case reader validates names first).
template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(const OptimizerOptions& options,
                                             const Parameters<T>& parameters);

// Learning rate at step s (0-based) of a stage of `total` steps:
//   constant: base;  step: base·gamma^floor(s/every);  exponential: base·gamma^s;
//   multistep: base·gamma^(milestones ≤ s) (PyTorch's MultiStepLR; milestones may repeat);
//   cosine: min + (base-min)(1 + cos(π s/total))/2  (rises again past s = total);
// then linear warm-up over the first `warmup` steps multiplies by (s+1)/warmup.
struct Schedule {
  std::string type = "constant";  // constant | step | multistep | exponential | cosine
  double base = 1e-3;
  double gamma = 0.5;            // step, exponential
  long every = 100;              // step
  std::vector<long> milestones;  // multistep
  double min = 0.0;              // cosine
  long warmup = 0;
  long total = 1;  // cosine period (the stage's steps)
  double at(long step) const;
};

// Scale the gradients so their global 2-norm is at most max_norm; returns the norm before. A
// non-finite norm is returned with the gradients untouched (for the caller to detect).
template <class T>
double clip_gradient_norm(Parameters<T>& parameters, double max_norm);

// 2-norm of all gradients (for logging and clipping).
template <class T>
double gradient_norm(const Parameters<T>& parameters);

}  // namespace karman::nn
