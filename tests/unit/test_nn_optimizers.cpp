// Optimizers against hand-written host loops of the PyTorch formulas (SGD, Adam, AdamW), bitwise
// resume from a saved OptimizerState, learning-rate schedules, gradient clipping, and L-BFGS on
// Rosenbrock, an ill-conditioned quadratic, every stop reason, and an MLP fit.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/nn/lbfgs.hpp"
#include "karman/nn/loss.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/optimizer.hpp"
#include "karman/nn/sequential.hpp"
#include "support/kokkos_env.hpp"

using namespace karman;
using namespace karman::nn;

namespace {

template <class T>
std::vector<double> to_host(const Vector<T>& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<double>(h.data(), h.data() + h.size());
}

template <class T>
void from_host(const Vector<T>& v, const std::vector<double>& values) {
  auto h = Kokkos::create_mirror_view(v);
  for (std::size_t i = 0; i < values.size(); ++i) h(i) = static_cast<T>(values[i]);
  Kokkos::deep_copy(v, h);
}

// Parameters of two tensors, [1, 3] and [2, 2], flat size 7, holding `values`.
template <class T>
void make_parameters(Parameters<T>& p, const std::vector<double>& values) {
  p.declare("a", 1, 3);
  p.declare("b", 2, 2);
  p.allocate();
  from_host(p.values(), values);
}

const std::vector<double> kStart = {0.5, -1.25, 2.0, 0.0, -0.01, 3.5, 1e-3};

// A gradient that changes with θ and the step k, with both signs and several magnitudes.
std::vector<double> test_gradient(const std::vector<double>& theta, int k) {
  std::vector<double> g(theta.size());
  for (std::size_t i = 0; i < g.size(); ++i)
    g[i] = 0.3 * theta[i] - 0.2 + 0.1 * std::sin(1.7 * double(i) + 0.9 * k) * double(i % 3);
  return g;
}

double max_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

// ------------------------------------------------------------- reference loops (PyTorch docs)

struct ReferenceSgd {
  std::vector<double> buf = std::vector<double>(kStart.size(), 0.0);
  bool first = true;
  void step(std::vector<double>& theta, const std::vector<double>& grad, double lr,
            const OptimizerOptions& o) {
    for (std::size_t i = 0; i < theta.size(); ++i) {
      double g = grad[i] + o.weight_decay * theta[i];
      if (o.momentum != 0.0) {
        buf[i] = first ? g : o.momentum * buf[i] + g;  // torch: clone on the first step
        g = o.nesterov ? g + o.momentum * buf[i] : buf[i];
      }
      theta[i] -= lr * g;
    }
    first = false;
  }
};

struct ReferenceAdam {
  std::vector<double> m = std::vector<double>(kStart.size(), 0.0), v = m;
  double t = 0;
  void step(std::vector<double>& theta, const std::vector<double>& grad, double lr,
            const OptimizerOptions& o) {
    const bool decoupled = o.type == "adamw";
    t += 1;
    const double bias1 = 1 - std::pow(o.beta1, t), bias2 = 1 - std::pow(o.beta2, t);
    for (std::size_t i = 0; i < theta.size(); ++i) {
      if (decoupled) theta[i] *= 1 - lr * o.weight_decay;
      const double g = grad[i] + (decoupled ? 0.0 : o.weight_decay * theta[i]);
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
      const double denom = std::sqrt(v[i]) / std::sqrt(bias2) + o.epsilon;
      theta[i] -= lr / bias1 * m[i] / denom;
    }
  }
};

// `steps` updates by the optimizer and by the reference loop, with the same gradients and a
// varying learning rate; returns the largest difference of the parameters.
template <class Reference>
double compare_with_reference(const OptimizerOptions& options, int steps) {
  Parameters<double> p;
  make_parameters(p, kStart);
  auto optimizer = make_optimizer(options, p);
  Reference reference;
  std::vector<double> theta = kStart;
  double worst = 0;
  for (int k = 0; k < steps; ++k) {
    const double lr = 0.05 / (1.0 + 0.1 * k);
    from_host(p.gradients(), test_gradient(to_host(p.values()), k));
    optimizer->step(p, lr);
    reference.step(theta, test_gradient(theta, k), lr, options);
    worst = std::max(worst, max_difference(to_host(p.values()), theta));
  }
  return worst;
}

OptimizerOptions options(const std::string& type, double weight_decay = 0.0, double momentum = 0.0,
                         bool nesterov = false) {
  OptimizerOptions o;
  o.type = type;
  o.weight_decay = weight_decay;
  o.momentum = momentum;
  o.nesterov = nesterov;
  return o;
}

}  // namespace

// ---------------------------------------------------------------------------- first-order

TEST(Optimizers, AdamMatchesTorchFormulas) {
  EXPECT_LT(compare_with_reference<ReferenceAdam>(options("adam"), 1), 1e-14);
  EXPECT_LT(compare_with_reference<ReferenceAdam>(options("adam"), 30), 1e-14);
  EXPECT_LT(compare_with_reference<ReferenceAdam>(options("adam", 0.05), 30), 1e-14);
}

TEST(Optimizers, AdamWMatchesTorchFormulas) {
  EXPECT_LT(compare_with_reference<ReferenceAdam>(options("adamw", 0.1), 1), 1e-14);
  EXPECT_LT(compare_with_reference<ReferenceAdam>(options("adamw", 0.1), 30), 1e-14);
}

TEST(Optimizers, SgdMatchesTorchFormulas) {
  EXPECT_LT(compare_with_reference<ReferenceSgd>(options("sgd"), 30), 1e-14);
  EXPECT_LT(compare_with_reference<ReferenceSgd>(options("sgd", 0.01), 30), 1e-14);
  EXPECT_LT(compare_with_reference<ReferenceSgd>(options("sgd", 0.0, 0.9), 30), 1e-14);
  EXPECT_LT(compare_with_reference<ReferenceSgd>(options("sgd", 0.01, 0.9, true), 1), 1e-14);
  EXPECT_LT(compare_with_reference<ReferenceSgd>(options("sgd", 0.01, 0.9, true), 30), 1e-14);
}

TEST(Optimizers, AdamWDecaysDecoupledFromTheGradient) {
  // Zero gradient: AdamW only shrinks θ by (1 − lr·wd); Adam's L2 term goes through the
  // normalisation, so its first step moves every nonzero θ by ≈ lr towards 0, whatever wd is.
  const double lr = 0.01, wd = 0.1;
  Parameters<double> pw, pa;
  make_parameters(pw, kStart);
  make_parameters(pa, kStart);
  make_optimizer(options("adamw", wd), pw)->step(pw, lr);
  make_optimizer(options("adam", wd), pa)->step(pa, lr);
  const std::vector<double> adamw = to_host(pw.values()), adam = to_host(pa.values());
  for (std::size_t i = 0; i < kStart.size(); ++i) {
    EXPECT_EQ(adamw[i], kStart[i] * (1 - lr * wd)) << i;
    if (kStart[i] == 0.0) {
      EXPECT_EQ(adam[i], 0.0);
      continue;
    }
    const double g = wd * kStart[i];  // first Adam step: lr·g/(|g| + ε)
    EXPECT_NEAR(adam[i], kStart[i] - lr * g / (std::abs(g) + 1e-8), 1e-15) << i;
    EXPECT_GT(std::abs(adam[i] - adamw[i]), 1e-4) << i;
  }
}

TEST(Optimizers, FloatAdamFollowsTheDoubleReference) {
  Parameters<float> p;
  make_parameters(p, kStart);
  auto optimizer = make_optimizer(options("adam", 0.01), p);
  ReferenceAdam reference;
  std::vector<double> theta = kStart;
  for (int k = 0; k < 20; ++k) {
    from_host(p.gradients(), test_gradient(theta, k));
    optimizer->step(p, 0.01);
    reference.step(theta, test_gradient(theta, k), 0.01, options("adam", 0.01));
  }
  EXPECT_LT(max_difference(to_host(p.values()), theta), 1e-5);
}

// Save after k steps, run more, then restore into a fresh optimizer (as a checkpoint would) and
// rerun: every value is bitwise the same.
TEST(Optimizers, RestoredStateContinuesBitwise) {
  for (const auto& o : {options("adam", 0.01), options("adamw", 0.1), options("sgd", 0.0, 0.9),
                        options("sgd", 0.01, 0.8, true)}) {
    Parameters<double> p;
    make_parameters(p, kStart);
    auto optimizer = make_optimizer(o, p);
    auto run = [&](Optimizer<double>& opt, int from, int to) {
      for (int k = from; k < to; ++k) {
        from_host(p.gradients(), test_gradient(to_host(p.values()), k));
        opt.step(p, 0.02);
      }
      return to_host(p.values());
    };
    run(*optimizer, 0, 5);
    const std::vector<double> saved_values = to_host(p.values());
    OptimizerState<double> saved;
    for (const auto& [name, v] : optimizer->state().vectors)
      saved.vectors.emplace_back(name, Vector<double>(name, v.extent(0)));
    for (std::size_t i = 0; i < saved.vectors.size(); ++i)
      Kokkos::deep_copy(saved.vectors[i].second, optimizer->state().vectors[i].second);
    saved.scalars = optimizer->state().scalars;
    const std::vector<double> first = run(*optimizer, 5, 12);

    auto resumed = make_optimizer(o, p);
    from_host(p.values(), saved_values);
    for (auto& [name, v] : resumed->state().vectors) Kokkos::deep_copy(v, saved.vector(name));
    for (auto& [name, value] : resumed->state().scalars) value = saved.scalar(name);
    const std::vector<double> second = run(*resumed, 5, 12);
    for (std::size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i], second[i]) << o.type << i;
    EXPECT_EQ(resumed->state().scalar("step"), 12.0);
  }
}

TEST(Optimizers, StateNamesAndErrors) {
  Parameters<double> p;
  make_parameters(p, kStart);
  auto adam = make_optimizer(options("adamw"), p);
  EXPECT_EQ(adam->name(), "adamw");
  EXPECT_EQ(adam->state().vector("m").extent(0), kStart.size());
  EXPECT_EQ(adam->state().vector("v").extent(0), kStart.size());
  EXPECT_EQ(adam->state().scalar("step"), 0.0);
  EXPECT_THROW(adam->state().scalar("missing"), InternalError);
  EXPECT_THROW(adam->state().vector("momentum"), InternalError);
  EXPECT_EQ(make_optimizer(options("sgd", 0, 0.9), p)->state().vector("momentum").extent(0),
            kStart.size());
  EXPECT_THROW(make_optimizer(options("lion"), p), InternalError);
  EXPECT_THROW(make_optimizer(options("sgd", 0, 0, true), p), InternalError);
}

// --------------------------------------------------------------------------------- schedules

TEST(Schedule, EveryTypeAtSeveralSteps) {
  Schedule s;
  s.base = 0.1;
  EXPECT_EQ(s.at(0), 0.1);
  EXPECT_EQ(s.at(12345), 0.1);

  s = Schedule{};
  s.type = "step";
  s.base = 2.0;
  s.gamma = 0.5;
  s.every = 10;
  EXPECT_EQ(s.at(0), 2.0);
  EXPECT_EQ(s.at(9), 2.0);
  EXPECT_EQ(s.at(10), 1.0);
  EXPECT_EQ(s.at(29), 0.5);
  EXPECT_EQ(s.at(30), 0.25);

  s.type = "exponential";
  EXPECT_EQ(s.at(0), 2.0);
  EXPECT_EQ(s.at(1), 1.0);
  EXPECT_EQ(s.at(3), 0.25);

  s = Schedule{};
  s.type = "cosine";
  s.base = 1.1;
  s.min = 0.1;
  s.total = 100;
  EXPECT_EQ(s.at(0), 1.1);
  EXPECT_DOUBLE_EQ(s.at(50), 0.6);
  EXPECT_DOUBLE_EQ(s.at(25), 0.1 + 1.0 * (1 + std::sqrt(0.5)) / 2);
  EXPECT_DOUBLE_EQ(s.at(100), 0.1);

  // MP-PDE's MultiStepLR with milestones [unrolling = 1, 5, 10, 15] × 0.4 (a repeated milestone
  // decays twice, as PyTorch's).
  s = Schedule{};
  s.type = "multistep";
  s.base = 1.0;
  s.gamma = 0.4;
  s.milestones = {1, 5, 10, 15};
  EXPECT_EQ(s.at(0), 1.0);
  EXPECT_DOUBLE_EQ(s.at(1), 0.4);
  EXPECT_DOUBLE_EQ(s.at(4), 0.4);
  EXPECT_DOUBLE_EQ(s.at(5), 0.16);
  EXPECT_DOUBLE_EQ(s.at(19), std::pow(0.4, 4));
  s.milestones = {5, 5};
  EXPECT_DOUBLE_EQ(s.at(5), 0.16);
}

TEST(Schedule, LinearWarmup) {
  Schedule s;
  s.base = 1.0;
  s.warmup = 4;
  EXPECT_EQ(s.at(0), 0.25);
  EXPECT_EQ(s.at(1), 0.5);
  EXPECT_EQ(s.at(3), 1.0);
  EXPECT_EQ(s.at(4), 1.0);

  s.type = "step";
  s.base = 2.0;
  s.gamma = 0.5;
  s.every = 2;
  EXPECT_EQ(s.at(0), 0.5);   // 2 · 1/4
  EXPECT_EQ(s.at(2), 0.75);  // 2 · 0.5 · 3/4
  EXPECT_EQ(s.at(4), 0.5);   // warm-up over: 2 · 0.25

  s = Schedule{};
  s.type = "cosine";
  s.base = 1.0;
  s.total = 10;
  s.warmup = 2;
  EXPECT_DOUBLE_EQ(s.at(1), (1 + std::cos(M_PI / 10)) / 2);  // × 2/2
  EXPECT_DOUBLE_EQ(s.at(0), 0.5);                            // 1 × 1/2
  s.type = "linear";
  EXPECT_THROW(s.at(0), InternalError);
}

// ---------------------------------------------------------------------------------- clipping

TEST(GradientClipping, ScalesToMaxNormAndReturnsTheOldNorm) {
  Parameters<double> p;
  make_parameters(p, kStart);
  from_host(p.gradients(), {3.0, 0.0, -4.0, 12.0, 0.0, 0.0, 0.0});  // norm 13
  EXPECT_EQ(gradient_norm(p), 13.0);
  EXPECT_EQ(clip_gradient_norm(p, 1.0), 13.0);
  EXPECT_NEAR(gradient_norm(p), 1.0, 1e-15);
  const std::vector<double> g = to_host(p.gradients());
  EXPECT_NEAR(g[0], 3.0 / 13, 1e-16);
  EXPECT_NEAR(g[2], -4.0 / 13, 1e-16);
  EXPECT_NEAR(g[3], 12.0 / 13, 1e-16);
}

TEST(GradientClipping, LeavesSmallGradientsUntouched) {
  Parameters<double> p;
  make_parameters(p, kStart);
  const std::vector<double> small = {0.1, -0.2, 0.3, 0.0, 1e-9, -0.05, 0.4};
  from_host(p.gradients(), small);
  const double norm = gradient_norm(p);
  EXPECT_LT(norm, 1.0);
  EXPECT_EQ(clip_gradient_norm(p, 1.0), norm);
  EXPECT_EQ(to_host(p.gradients()), small);
}

// ------------------------------------------------------------------------------------ L-BFGS

namespace {

// f(x) and its gradient written into g, on the host.
using HostFunction = std::function<double(const std::vector<double>& x, std::vector<double>& g)>;

// The `evaluate` of lbfgs_minimize for a host function of the flat parameters.
template <class T>
std::function<double()> evaluator(Parameters<T>& p, const HostFunction& f, long* calls = nullptr) {
  return [&p, f, calls] {
    if (calls) ++*calls;
    const std::vector<double> x = to_host(p.values());
    std::vector<double> g(x.size());
    const double value = f(x, g);
    from_host(p.gradients(), g);
    return value;
  };
}

double rosenbrock(const std::vector<double>& x, std::vector<double>& g) {
  const double a = 1 - x[0], b = x[1] - x[0] * x[0];
  g[0] = -2 * a - 400 * x[0] * b;
  g[1] = 200 * b;
  return a * a + 100 * b * b;
}

// Parameters as one [1, 2] tensor at Rosenbrock's classic start (−1.2, 1).
template <class T>
void rosenbrock_start(Parameters<T>& p) {
  p.declare("x", 1, 2);
  p.allocate();
  from_host(p.values(), {-1.2, 1.0});
}

// f = ½ Σ λ_i (x_i − x*_i)², λ log-spaced over [1, 1e4]. Written around x* (not as ½xᵀAx − bᵀx)
// so f → 0 without cancellation and the line search can resolve decreases down to 1e-20.
constexpr std::size_t kQuadraticSize = 50;
double lambda(std::size_t i) { return std::pow(1e4, double(i) / double(kQuadraticSize - 1)); }
double solution(std::size_t i) { return std::sin(double(i) + 1.0); }
double quadratic(const std::vector<double>& x, std::vector<double>& g) {
  double f = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double e = x[i] - solution(i);
    g[i] = lambda(i) * e;
    f += 0.5 * lambda(i) * e * e;
  }
  return f;
}

void quadratic_start(Parameters<double>& p) {
  p.declare("x", 1, kQuadraticSize);
  p.allocate();
}

double quadratic_error(const Parameters<double>& p) {
  const std::vector<double> x = to_host(p.values());
  double e = 0;
  for (std::size_t i = 0; i < x.size(); ++i) e = std::max(e, std::abs(x[i] - solution(i)));
  return e;
}

}  // namespace

TEST(Lbfgs, RosenbrockConverges) {
  Parameters<double> p;
  rosenbrock_start(p);
  LbfgsOptions o;
  std::vector<double> losses;
  const LbfgsResult r = lbfgs_minimize<double>(p, evaluator(p, rosenbrock), o,
                                               [&](long, double f) { losses.push_back(f); });
  const std::vector<double> x = to_host(p.values());
  const double error = std::max(std::abs(x[0] - 1), std::abs(x[1] - 1));
  std::printf("  rosenbrock: %ld iterations, %ld evaluations, f = %.3e, |x-1| = %.3e, %s\n",
              r.iterations, r.evaluations, r.loss, error, r.stop_reason.c_str());
  EXPECT_LT(error, 1e-8);
  EXPECT_LE(r.iterations, 100);
  EXPECT_EQ(long(losses.size()), r.iterations);
  for (std::size_t k = 1; k < losses.size(); ++k) EXPECT_LT(losses[k], losses[k - 1]) << k;
  std::vector<double> g(2);
  EXPECT_DOUBLE_EQ(r.loss, rosenbrock(x, g));
}

TEST(Lbfgs, IllConditionedQuadraticConverges) {
  Parameters<double> p;
  quadratic_start(p);
  // Log-spaced eigenvalues are the hard case for L-BFGS(20): ~1200 iterations to max|g| <= 1e-12
  // (with m >= n, γ = 1 and near-exact line searches it ends in n = 50, i.e. quadratic
  // termination, so the slowness is the method's, not the two-loop's). tolerance_change is off:
  // f → 0 here, and its absolute 1e-15 floor would stop at f ≈ 5e-14, |x − x*| ≈ 2e-7.
  LbfgsOptions o;
  o.max_iterations = 2000;
  o.tolerance_change = 0;
  const LbfgsResult r = lbfgs_minimize<double>(p, evaluator(p, quadratic), o);
  const double error = quadratic_error(p);
  std::printf(
      "  quadratic (n = 50, cond 1e4): %ld iterations, %ld evaluations, f = %.3e, "
      "max|x-x*| = %.3e, %s\n",
      r.iterations, r.evaluations, r.loss, error, r.stop_reason.c_str());
  EXPECT_LT(error, 1e-10);
  EXPECT_EQ(r.stop_reason, "tolerance_gradient");
}

TEST(Lbfgs, RunsExactlyMaxIterationsWithoutTolerances) {
  for (long n : {1L, 2L, 7L, 20L}) {
    Parameters<double> p;
    rosenbrock_start(p);
    LbfgsOptions o;
    o.max_iterations = n;
    o.tolerance_gradient = 0;
    o.tolerance_change = 0;
    long calls = 0, last = 0;
    const LbfgsResult r = lbfgs_minimize<double>(p, evaluator(p, rosenbrock, &calls), o,
                                                 [&](long k, double) { EXPECT_EQ(k, ++last); });
    EXPECT_EQ(r.iterations, n);
    EXPECT_EQ(last, n);
    EXPECT_EQ(r.stop_reason, "max_iterations");
    EXPECT_EQ(r.evaluations, calls);
  }
}

TEST(Lbfgs, ZeroIterationsEvaluatesOnce) {
  Parameters<double> p;
  rosenbrock_start(p);
  LbfgsOptions o;
  o.max_iterations = 0;
  const LbfgsResult r = lbfgs_minimize<double>(p, evaluator(p, rosenbrock), o);
  EXPECT_EQ(r.iterations, 0);
  EXPECT_EQ(r.evaluations, 1);
  EXPECT_EQ(r.stop_reason, "max_iterations");
  std::vector<double> g(2);
  EXPECT_DOUBLE_EQ(r.loss, rosenbrock({-1.2, 1.0}, g));
}

TEST(Lbfgs, StopsAtGradientTolerance) {
  Parameters<double> p;
  quadratic_start(p);
  LbfgsOptions o;
  o.tolerance_gradient = 1e-4;
  o.max_iterations = 1000;
  const LbfgsResult r = lbfgs_minimize<double>(p, evaluator(p, quadratic), o);
  EXPECT_EQ(r.stop_reason, "tolerance_gradient");
  const std::vector<double> g = to_host(p.gradients());  // the gradient at the returned point
  double g_max = 0;
  for (double gi : g) g_max = std::max(g_max, std::abs(gi));
  EXPECT_LE(g_max, 1e-4);
  EXPECT_GT(g_max, 0.0);
}

TEST(Lbfgs, StopsAtLossChangeTolerance) {
  Parameters<double> p;
  quadratic_start(p);
  LbfgsOptions o;
  o.tolerance_change = 1e-6;
  o.max_iterations = 1000;
  double previous = 0, last = 0;
  const LbfgsResult r = lbfgs_minimize<double>(p, evaluator(p, quadratic), o, [&](long, double f) {
    previous = last;
    last = f;
  });
  EXPECT_EQ(r.stop_reason, "tolerance_change");
  EXPECT_LE(std::abs(last - previous), 1e-6 * std::max(1.0, std::abs(last)));
  EXPECT_EQ(r.loss, last);
}

TEST(Lbfgs, StopsAtMaxEvaluations) {
  Parameters<double> p;
  rosenbrock_start(p);
  LbfgsOptions o;
  o.max_evaluations = 15;
  long calls = 0;
  const LbfgsResult r = lbfgs_minimize<double>(p, evaluator(p, rosenbrock, &calls), o);
  EXPECT_EQ(r.stop_reason, "max_evaluations");
  EXPECT_EQ(calls, 15);
  EXPECT_EQ(r.evaluations, 15);
  EXPECT_GT(r.iterations, 0);
  std::vector<double> g(2);
  EXPECT_DOUBLE_EQ(r.loss, rosenbrock(to_host(p.values()), g));
}

TEST(Lbfgs, NonFiniteLossStopsAtTheBestFinitePoint) {
  Parameters<double> p;
  rosenbrock_start(p);
  long calls = 0;
  double lowest_finite = std::numeric_limits<double>::infinity();
  auto poisoned = [&](const std::vector<double>& x, std::vector<double>& g) {
    if (++calls > 12) {
      g.assign(g.size(), std::nan(""));
      return std::nan("");
    }
    const double f = rosenbrock(x, g);
    lowest_finite = std::min(lowest_finite, f);
    return f;
  };
  std::vector<double> accepted_x, g(2);
  double accepted_f = rosenbrock({-1.2, 1.0}, g);
  const LbfgsResult r =
      lbfgs_minimize<double>(p, evaluator(p, poisoned), LbfgsOptions{}, [&](long, double f) {
        accepted_x = to_host(p.values());
        accepted_f = f;
      });
  EXPECT_EQ(r.stop_reason, "non_finite");
  EXPECT_GT(r.iterations, 0);
  EXPECT_EQ(r.evaluations, 13);
  const std::vector<double> x = to_host(p.values());
  EXPECT_EQ(x, accepted_x);
  EXPECT_EQ(r.loss, accepted_f);
  EXPECT_EQ(r.loss, lowest_finite);
  EXPECT_DOUBLE_EQ(r.loss, rosenbrock(x, g));
  EXPECT_EQ(to_host(p.gradients()), g);  // gradients restored with the point
}

TEST(Lbfgs, WrongGradientFailsTheLineSearchAndKeepsTheStart) {
  // The gradient's sign is flipped: no step along "descent" decreases f.
  Parameters<double> p;
  rosenbrock_start(p);
  auto liar = [](const std::vector<double>& x, std::vector<double>& g) {
    const double f = rosenbrock(x, g);
    for (double& gi : g) gi = -gi;
    return f;
  };
  const LbfgsResult r = lbfgs_minimize<double>(p, evaluator(p, liar), LbfgsOptions{});
  EXPECT_EQ(r.stop_reason, "line_search_failed");
  EXPECT_EQ(r.iterations, 0);
  EXPECT_EQ(to_host(p.values()), (std::vector<double>{-1.2, 1.0}));
  std::vector<double> g(2);
  EXPECT_DOUBLE_EQ(r.loss, rosenbrock({-1.2, 1.0}, g));
}

TEST(Lbfgs, FloatRosenbrock) {
  Parameters<float> p;
  rosenbrock_start(p);
  LbfgsOptions o;
  o.tolerance_gradient = 1e-5;
  const LbfgsResult r = lbfgs_minimize<float>(p, evaluator(p, rosenbrock), o);
  const std::vector<double> x = to_host(p.values());
  std::printf("  rosenbrock (float): %ld iterations, |x-1| = %.2e, %s\n", r.iterations,
              std::max(std::abs(x[0] - 1), std::abs(x[1] - 1)), r.stop_reason.c_str());
  EXPECT_NEAR(x[0], 1.0, 1e-3);
  EXPECT_NEAR(x[1], 1.0, 2e-3);
}

// ---------------------------------------------------------------------------- MLP end to end

TEST(Optimizers, MlpFitAdamThenLbfgs) {
  constexpr std::size_t kPoints = 64;
  Network<double> net(make_mlp<double>({1, 16, 16, 1}, Activation::tanh), 3);
  Matrix<double> x("x", kPoints, 1), target("t", kPoints, 1), dy("dy", kPoints, 1);
  auto hx = Kokkos::create_mirror_view(x);
  auto ht = Kokkos::create_mirror_view(target);
  for (std::size_t i = 0; i < kPoints; ++i) {
    hx(i, 0) = -1.0 + 2.0 * double(i) / double(kPoints - 1);
    ht(i, 0) = std::sin(M_PI * hx(i, 0));
  }
  Kokkos::deep_copy(x, hx);
  Kokkos::deep_copy(target, ht);
  auto evaluate = [&] {
    net.parameters().zero_gradients();
    auto& forward = net.forward(x);
    const double loss = mse_loss(forward.y, target, dy, double(kPoints));
    net.backward(forward, dy);
    return loss;
  };

  const double initial = evaluate();
  auto adam = make_optimizer(OptimizerOptions{}, net.parameters());
  double after_adam = initial;
  for (int k = 0; k < 2000; ++k) {
    after_adam = evaluate();
    adam->step(net.parameters(), 1e-2);
  }
  after_adam = evaluate();
  LbfgsOptions o;
  o.max_iterations = 200;
  const LbfgsResult r = lbfgs_minimize<double>(net.parameters(), evaluate, o);
  std::printf(
      "  mlp sin(pi x): initial %.3e, after 2000 Adam %.3e (/%.0f), after L-BFGS %.3e "
      "(/%.0f; %ld iterations, %ld evaluations, %s)\n",
      initial, after_adam, initial / after_adam, r.loss, after_adam / r.loss, r.iterations,
      r.evaluations, r.stop_reason.c_str());
  EXPECT_LT(after_adam, initial / 100);
  EXPECT_LT(r.loss, after_adam / 10);
  EXPECT_NEAR(evaluate(), r.loss, 1e-15);  // parameters are left at the reported point
}
