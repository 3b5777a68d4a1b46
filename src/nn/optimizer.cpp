#include "karman/nn/optimizer.hpp"

#include <cmath>

#include "karman/core/error.hpp"

namespace karman::nn {

using Range = Kokkos::RangePolicy<ExecutionSpace>;

// ------------------------------------------------------------------------------ OptimizerState

template <class T>
double& OptimizerState<T>::scalar(const std::string& name) {
  for (auto& [key, value] : scalars)
    if (key == name) return value;
  throw InternalError("OptimizerState: no scalar '" + name + "'");
}

template <class T>
Vector<T>& OptimizerState<T>::vector(const std::string& name) {
  for (auto& [key, value] : vectors)
    if (key == name) return value;
  throw InternalError("OptimizerState: no vector '" + name + "'");
}

namespace {

// A zeroed state vector [n]: a fresh optimizer starts from m = v = momentum = 0.
template <class T>
void add_vector(OptimizerState<T>& state, const std::string& name, std::size_t n) {
  state.vectors.emplace_back(name, Vector<T>("karman::nn::optimizer::" + name, n));
}

// The state is looked up by name on every step (not cached as members), so a checkpoint that
// assigns new views into m_state is picked up.
template <class T>
void check_sizes(OptimizerState<T>& state, const Parameters<T>& parameters) {
  for (const auto& [name, v] : state.vectors)
    KARMAN_VERIFY(v.extent(0) == parameters.size(),
                  "optimizer: state vector '" + name + "' has " + std::to_string(v.extent(0)) +
                      " entries, the parameters " + std::to_string(parameters.size()));
}

// -------------------------------------------------------------------------------------- SGD

// torch.optim.SGD without dampening:
//   g ← ∇ + wd·θ;  b ← μ·b + g;  g ← g + μ·b (Nesterov) or b;  θ ← θ − lr·g.
// The buffer starts at zero, so the first step gives b = g exactly as torch's clone.
template <class T>
class Sgd : public Optimizer<T> {
 public:
  Sgd(const OptimizerOptions& options, std::size_t n) : m_options(options) {
    if (options.momentum != 0.0) add_vector(this->m_state, "momentum", n);
    this->m_state.scalars.emplace_back("step", 0.0);
  }
  std::string name() const override { return "sgd"; }

  void step(Parameters<T>& parameters, double lr) override {
    check_sizes(this->m_state, parameters);
    this->m_state.scalar("step") += 1.0;
    const bool has_momentum = m_options.momentum != 0.0, nesterov = m_options.nesterov;
    const Vector<T> theta = parameters.values(), grad = parameters.gradients();
    const Vector<T> buf = has_momentum ? this->m_state.vector("momentum") : Vector<T>();
    const T rate = static_cast<T>(lr), wd = static_cast<T>(m_options.weight_decay);
    const T mu = static_cast<T>(m_options.momentum);
    Kokkos::parallel_for(
        "karman::nn::optimizer::sgd", Range(0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          T g = grad(i) + wd * theta(i);
          if (has_momentum) {
            const T b = mu * buf(i) + g;
            buf(i) = b;
            g = nesterov ? g + mu * b : b;
          }
          theta(i) -= rate * g;
        });
  }

 private:
  OptimizerOptions m_options;
};

// ------------------------------------------------------------------------------- Adam, AdamW

// torch.optim.Adam / AdamW (amsgrad off), at step t (1-based):
//   Adam:  g ← ∇ + wd·θ            AdamW: θ ← θ·(1 − lr·wd), g ← ∇
//   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//   θ ← θ − lr/(1−β1^t) · m / (√v / √(1−β2^t) + ε)
template <class T>
class Adam : public Optimizer<T> {
 public:
  Adam(const OptimizerOptions& options, std::size_t n, bool decoupled)
      : m_options(options), m_decoupled(decoupled) {
    add_vector(this->m_state, "m", n);
    add_vector(this->m_state, "v", n);
    this->m_state.scalars.emplace_back("step", 0.0);
  }
  std::string name() const override { return m_decoupled ? "adamw" : "adam"; }

  void step(Parameters<T>& parameters, double lr) override {
    check_sizes(this->m_state, parameters);
    const double t = (this->m_state.scalar("step") += 1.0);
    // Scalars in double, then rounded once to T.
    const T step_size = static_cast<T>(lr / (1.0 - std::pow(m_options.beta1, t)));
    const T bias2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(m_options.beta2, t)));
    const T b1 = static_cast<T>(m_options.beta1), b2 = static_cast<T>(m_options.beta2);
    const T c1 = static_cast<T>(1.0 - m_options.beta1), c2 = static_cast<T>(1.0 - m_options.beta2);
    const T eps = static_cast<T>(m_options.epsilon);
    const T l2 = static_cast<T>(m_decoupled ? 0.0 : m_options.weight_decay);
    const T shrink = static_cast<T>(m_decoupled ? 1.0 - lr * m_options.weight_decay : 1.0);
    const Vector<T> theta = parameters.values(), grad = parameters.gradients();
    const Vector<T> m = this->m_state.vector("m"), v = this->m_state.vector("v");
    Kokkos::parallel_for(
        "karman::nn::optimizer::adam", Range(0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          const T g = grad(i) + l2 * theta(i);
          const T mi = b1 * m(i) + c1 * g;
          const T vi = b2 * v(i) + c2 * g * g;
          m(i) = mi;
          v(i) = vi;
          const T denom = std::sqrt(vi) / bias2_sqrt + eps;
          theta(i) = theta(i) * shrink - step_size * (mi / denom);
        });
  }

 private:
  OptimizerOptions m_options;
  bool m_decoupled;
};

void check_options(const OptimizerOptions& o) {
  KARMAN_VERIFY(o.momentum >= 0.0 && o.weight_decay >= 0.0 && o.epsilon >= 0.0,
                "optimizer: momentum, weight_decay and epsilon must be >= 0");
  KARMAN_VERIFY(!o.nesterov || o.momentum > 0.0, "optimizer: Nesterov needs momentum > 0");
  KARMAN_VERIFY(o.beta1 >= 0.0 && o.beta1 < 1.0 && o.beta2 >= 0.0 && o.beta2 < 1.0,
                "optimizer: beta1 and beta2 must be in [0, 1)");
}

}  // namespace

template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(const OptimizerOptions& options,
                                             const Parameters<T>& parameters) {
  KARMAN_VERIFY(parameters.allocated(), "make_optimizer: parameters not allocated");
  check_options(options);
  const std::size_t n = parameters.size();
  if (options.type == "sgd") return std::make_unique<Sgd<T>>(options, n);
  if (options.type == "adam") return std::make_unique<Adam<T>>(options, n, false);
  if (options.type == "adamw") return std::make_unique<Adam<T>>(options, n, true);
  throw InternalError("make_optimizer: unknown optimizer '" + options.type + "'");
}

// ------------------------------------------------------------------------------------ Schedule

double Schedule::at(long step) const {
  constexpr double kPi = 3.14159265358979323846;
  KARMAN_VERIFY(step >= 0, "Schedule: negative step");
  double lr = 0.0;
  if (type == "constant") {
    lr = base;
  } else if (type == "step") {
    KARMAN_VERIFY(every > 0, "Schedule: 'every' must be > 0");
    lr = base * std::pow(gamma, static_cast<double>(step / every));
  } else if (type == "multistep") {
    long passed = 0;
    for (long milestone : milestones) passed += step >= milestone ? 1 : 0;
    lr = base * std::pow(gamma, static_cast<double>(passed));
  } else if (type == "exponential") {
    lr = base * std::pow(gamma, static_cast<double>(step));
  } else if (type == "cosine") {
    KARMAN_VERIFY(total > 0, "Schedule: 'total' must be > 0");
    const double phase = kPi * static_cast<double>(step) / static_cast<double>(total);
    lr = min + (base - min) * (1.0 + std::cos(phase)) / 2.0;
  } else {
    throw InternalError("Schedule: unknown type '" + type + "'");
  }
  if (step < warmup) lr *= static_cast<double>(step + 1) / static_cast<double>(warmup);
  return lr;
}

// ---------------------------------------------------------------------------- gradient norms

template <class T>
double gradient_norm(const Parameters<T>& parameters) {
  const Vector<T> g = parameters.gradients();
  double sum = 0.0;
  Kokkos::parallel_reduce(
      "karman::nn::optimizer::gradient_norm", Range(0, g.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i, double& local) {
        const double gi = static_cast<double>(g(i));
        local += gi * gi;
      },
      sum);
  return std::sqrt(sum);
}

// A non-finite norm is returned without touching the gradients: scaling by max/inf would turn
// the offending entries into NaN and hide which step produced them.
template <class T>
double clip_gradient_norm(Parameters<T>& parameters, double max_norm) {
  KARMAN_VERIFY(max_norm > 0.0, "clip_gradient_norm: max_norm must be > 0");
  const double norm = gradient_norm(parameters);
  if (!std::isfinite(norm) || norm <= max_norm) return norm;
  const T scale = static_cast<T>(max_norm / norm);
  const Vector<T> g = parameters.gradients();
  Kokkos::parallel_for(
      "karman::nn::optimizer::clip_gradient_norm", Range(0, g.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) { g(i) *= scale; });
  return norm;
}

template struct OptimizerState<float>;
template struct OptimizerState<double>;
template std::unique_ptr<Optimizer<float>> make_optimizer<float>(const OptimizerOptions&,
                                                                 const Parameters<float>&);
template std::unique_ptr<Optimizer<double>> make_optimizer<double>(const OptimizerOptions&,
                                                                   const Parameters<double>&);
template double gradient_norm<float>(const Parameters<float>&);
template double gradient_norm<double>(const Parameters<double>&);
template double clip_gradient_norm<float>(Parameters<float>&, double);
template double clip_gradient_norm<double>(Parameters<double>&, double);

}  // namespace karman::nn
