#include "karman/nn/lbfgs.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "karman/core/error.hpp"

namespace karman::nn {

namespace {

using Range = Kokkos::RangePolicy<ExecutionSpace>;

// ------------------------------------------------------- flat-vector kernels, all of size [n]

// a·b, accumulated in double whatever T is.
template <class T>
double dot(const Vector<T>& a, const Vector<T>& b) {
  double sum = 0.0;
  Kokkos::parallel_reduce(
      "karman::nn::lbfgs::dot", Range(0, a.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i, double& local) {
        local += static_cast<double>(a(i)) * static_cast<double>(b(i));
      },
      sum);
  return sum;
}

// max_i |v_i|, or +inf if any entry is NaN or ±inf (one pass serves the gradient tolerance and
// the finiteness check).
template <class T>
double max_abs(const Vector<T>& v) {
  const double largest = std::numeric_limits<double>::max();
  const double inf = std::numeric_limits<double>::infinity();
  double result = 0.0;
  Kokkos::parallel_reduce(
      "karman::nn::lbfgs::max_abs", Range(0, v.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i, double& local) {
        const double a = std::abs(static_cast<double>(v(i)));
        const double value = a <= largest ? a : inf;  // NaN fails the comparison
        if (value > local) local = value;
      },
      Kokkos::Max<double>(result));
  return result;
}

// y ← y + a·x
template <class T>
void axpy(double a, const Vector<T>& x, const Vector<T>& y) {
  const T alpha = static_cast<T>(a);
  Kokkos::parallel_for(
      "karman::nn::lbfgs::axpy", Range(0, y.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) { y(i) += alpha * x(i); });
}

// y ← a·x (x and y may be the same view)
template <class T>
void scale(double a, const Vector<T>& x, const Vector<T>& y) {
  const T alpha = static_cast<T>(a);
  Kokkos::parallel_for(
      "karman::nn::lbfgs::scale", Range(0, y.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) { y(i) = alpha * x(i); });
}

// x ← x0 + t·d: the same kernel makes every trial point, so a point visited twice is bitwise
// the same point.
template <class T>
void move_to(const Vector<T>& x, const Vector<T>& x0, double t, const Vector<T>& d) {
  const T step = static_cast<T>(t);
  Kokkos::parallel_for(
      "karman::nn::lbfgs::move_to", Range(0, x.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) { x(i) = x0(i) + step * d(i); });
}

// out ← a − b
template <class T>
void subtract(const Vector<T>& a, const Vector<T>& b, const Vector<T>& out) {
  Kokkos::parallel_for(
      "karman::nn::lbfgs::subtract", Range(0, out.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) { out(i) = a(i) - b(i); });
}

// Row i of a [rows, n] matrix as a flat [n] vector (unmanaged: the matrix owns the memory).
template <class T>
Vector<T> row(const Matrix<T>& m, long i) {
  return Vector<T>(m.data() + static_cast<std::size_t>(i) * m.extent(1), m.extent(1));
}

// ------------------------------------------------------------------------ line-search helpers

// One point of the line search: φ(t) = f(x0 + t·d) and φ'(t) = ∇f(x0 + t·d)·d.
struct Trial {
  double t = 0.0, f = 0.0, dg = 0.0;
};

// Minimiser of the cubic interpolating φ and φ' at p and q (Nocedal & Wright eq. 3.59), clamped
// to [lower, upper]; the midpoint of the bounds when the cubic has no minimiser.
double cubic_minimizer(const Trial& p, const Trial& q, double lower, double upper) {
  const double d1 = p.dg + q.dg - 3.0 * (p.f - q.f) / (p.t - q.t);
  const double discriminant = d1 * d1 - p.dg * q.dg;
  if (discriminant >= 0.0) {
    const double d2 = std::copysign(std::sqrt(discriminant), q.t - p.t);
    const double t = q.t - (q.t - p.t) * (q.dg + d2 - d1) / (q.dg - p.dg + 2.0 * d2);
    if (std::isfinite(t)) return std::clamp(t, lower, upper);
  }
  return 0.5 * (lower + upper);
}

// A pair is kept only if the cosine between s and y is clearly positive: s·y > κ|s||y|. Then
// H stays positive definite and ρ = 1/(s·y) is not dominated by rounding in y = g₊ − g (which
// carries a relative error of order ε_T). κ = 1e-10 in double is the test of the brief; float
// needs a bound above its own ε.
template <class T>
constexpr double curvature_threshold() {
  return std::max(1e-10, 10.0 * static_cast<double>(std::numeric_limits<T>::epsilon()));
}

// ------------------------------------------------------------------------------------ solver

template <class T>
class Lbfgs {
 public:
  Lbfgs(Parameters<T>& parameters, const std::function<double()>& evaluate,
        const LbfgsOptions& options);
  LbfgsResult run(const std::function<void(long, double)>& on_iteration);

 private:
  enum class Search { wolfe, decrease, no_decrease, non_finite };
  struct LineSearch {
    double f0 = 0.0, dg0 = 0.0;  // φ(0), φ'(0) < 0
    long budget = 0, used = 0;   // evaluations allowed and spent
    Trial low;                   // lowest point with sufficient decrease so far (t = 0: none)
  };

  const char* stop_reason(long iterations, bool stepped, double f, double f_previous,
                          double g_max) const;
  long evaluation_budget() const;
  Search iterate(double f, double g_max);
  bool direction();
  void steepest_direction();
  Search search(double t0, double f0, double dg0);
  Search zoom(LineSearch& ls, Trial low, Trial high);
  Search end_search(const LineSearch& ls);
  bool probe(double t, LineSearch& ls, Trial& trial);
  bool armijo(const LineSearch& ls, const Trial& trial) const {
    return trial.f <= ls.f0 + m_options.c1 * trial.t * ls.dg0;
  }
  bool curvature(const LineSearch& ls, const Trial& trial) const {
    return std::abs(trial.dg) <= -m_options.c2 * ls.dg0;
  }
  void set_low(LineSearch& ls, const Trial& trial);
  void restore_start();
  void store_pair();
  void clear_history() { m_count = 0; }

  const std::function<double()>& m_evaluate;
  LbfgsOptions m_options;
  Vector<T> m_x, m_g;  // [n] the parameters' values and gradients
  long m_history;
  long m_slots;        // history + 1
  Matrix<T> m_s, m_y;  // [slots, n] ring of pairs s = x₊ − x, y = g₊ − g; a spare row takes the
                       // newest pair before its curvature test
  std::vector<double> m_rho, m_alpha;  // [slots]
  long m_oldest = 0, m_count = 0;      // ring position of the oldest pair, pairs held
  double m_gamma = 1.0;                // H₀ = γ I, γ = s·y / y·y of the newest pair
  Vector<T> m_d;                       // [n] search direction
  Vector<T> m_x0, m_g0;                // [n] point and gradient where the line search starts
  Vector<T> m_g_low;                   // [n] gradient at the line search's low point
  Trial m_trial;                       // the point the last line search accepted
  long m_evaluations = 0;
};

template <class T>
Lbfgs<T>::Lbfgs(Parameters<T>& parameters, const std::function<double()>& evaluate,
                const LbfgsOptions& options)
    : m_evaluate(evaluate),
      m_options(options),
      m_x(parameters.values()),
      m_g(parameters.gradients()),
      m_history(options.history),
      m_slots(options.history + 1) {
  const LbfgsOptions& o = options;
  KARMAN_VERIFY(parameters.allocated() && parameters.size() > 0, "lbfgs: no parameters");
  KARMAN_VERIFY(o.max_iterations >= 0 && o.max_evaluations >= 0, "lbfgs: negative limits");
  KARMAN_VERIFY(o.history >= 1 && o.max_line_search >= 1,
                "lbfgs: history and max_line_search must be >= 1");
  KARMAN_VERIFY(0.0 < o.c1 && o.c1 < o.c2 && o.c2 < 1.0, "lbfgs: need 0 < c1 < c2 < 1");
  KARMAN_VERIFY(o.tolerance_gradient >= 0.0 && o.tolerance_change >= 0.0,
                "lbfgs: negative tolerance");
  // Every buffer is made here, once; the iterations only reuse them.
  const std::size_t n = parameters.size();
  m_s = Matrix<T>("karman::nn::lbfgs::s", m_slots, n);
  m_y = Matrix<T>("karman::nn::lbfgs::y", m_slots, n);
  m_rho.assign(m_slots, 0.0);
  m_alpha.assign(m_slots, 0.0);
  m_d = Vector<T>("karman::nn::lbfgs::d", n);
  m_x0 = Vector<T>("karman::nn::lbfgs::x0", n);
  m_g0 = Vector<T>("karman::nn::lbfgs::g0", n);
  m_g_low = Vector<T>("karman::nn::lbfgs::g_low", n);
}

// The stop tests, in the order they are reported: a tolerance met at the current point wins over
// an exhausted budget.
template <class T>
const char* Lbfgs<T>::stop_reason(long iterations, bool stepped, double f, double f_previous,
                                  double g_max) const {
  const LbfgsOptions& o = m_options;
  if (g_max <= o.tolerance_gradient) return "tolerance_gradient";
  if (stepped && std::abs(f - f_previous) <= o.tolerance_change * std::max(1.0, std::abs(f)))
    return "tolerance_change";
  if (iterations >= o.max_iterations) return "max_iterations";
  if (o.max_evaluations > 0 && m_evaluations >= o.max_evaluations) return "max_evaluations";
  return nullptr;
}

template <class T>
long Lbfgs<T>::evaluation_budget() const {
  long budget = m_options.max_line_search;
  if (m_options.max_evaluations > 0)
    budget = std::min(budget, m_options.max_evaluations - m_evaluations);
  return budget;
}

// d = −H g0 by the two-loop recursion (N&W Alg. 7.4), newest pair first. Starting from q = −g0
// gives −H g0 directly. Returns false if d is not a finite descent direction.
template <class T>
bool Lbfgs<T>::direction() {
  scale(-1.0, m_g0, m_d);
  for (long j = m_count - 1; j >= 0; --j) {
    const long k = (m_oldest + j) % m_slots;
    m_alpha[k] = m_rho[k] * dot(row(m_s, k), m_d);
    axpy(-m_alpha[k], row(m_y, k), m_d);
  }
  scale(m_gamma, m_d, m_d);
  for (long j = 0; j < m_count; ++j) {
    const long k = (m_oldest + j) % m_slots;
    const double beta = m_rho[k] * dot(row(m_y, k), m_d);
    axpy(m_alpha[k] - beta, row(m_s, k), m_d);
  }
  const double dg = dot(m_g0, m_d);
  return std::isfinite(dg) && dg < 0.0;
}

template <class T>
void Lbfgs<T>::steepest_direction() {
  scale(-1.0, m_g0, m_d);
}

// One evaluation at x0 + t·d. False if the loss or the gradient is not finite.
template <class T>
bool Lbfgs<T>::probe(double t, LineSearch& ls, Trial& trial) {
  move_to(m_x, m_x0, t, m_d);
  const double f = m_evaluate();
  ++m_evaluations;
  ++ls.used;
  trial = {t, f, dot(m_g, m_d)};
  return std::isfinite(f) && std::isfinite(max_abs(m_g));
}

// The gradient buffer is overwritten by the next probe, so the low point's gradient is kept.
template <class T>
void Lbfgs<T>::set_low(LineSearch& ls, const Trial& trial) {
  ls.low = trial;
  Kokkos::deep_copy(m_g_low, m_g);
}

// Strong-Wolfe line search (N&W Alg. 3.5) along m_d from m_x0. On `wolfe` or `decrease` the
// parameters and gradients are at the accepted point and m_trial holds it; otherwise they are at
// the last probe.
template <class T>
typename Lbfgs<T>::Search Lbfgs<T>::search(double t0, double f0, double dg0) {
  LineSearch ls;
  ls.f0 = f0;
  ls.dg0 = dg0;
  ls.budget = evaluation_budget();
  ls.low = {0.0, f0, dg0};
  Trial previous = ls.low, current;
  double t = t0;
  while (ls.used < ls.budget) {
    if (!probe(t, ls, current)) return Search::non_finite;
    if (!armijo(ls, current) || current.f >= previous.f) return zoom(ls, previous, current);
    if (curvature(ls, current)) {
      m_trial = current;
      return Search::wolfe;
    }
    set_low(ls, current);
    if (current.dg >= 0.0) return zoom(ls, current, previous);
    // Still descending: extrapolate, at least doubling t and at most ×10 (as torch).
    t = cubic_minimizer(previous, current, 2.0 * current.t, 10.0 * current.t);
    previous = current;
  }
  return end_search(ls);
}

// Zoom (N&W Alg. 3.6) in the bracket between `low` (sufficient decrease, lowest φ so far) and
// `high`. Trial points come from cubic interpolation kept 10% of the bracket away from its ends,
// so the bracket shrinks by at least that much per evaluation.
template <class T>
typename Lbfgs<T>::Search Lbfgs<T>::zoom(LineSearch& ls, Trial low, Trial high) {
  while (ls.used < ls.budget) {
    const double a = std::min(low.t, high.t), b = std::max(low.t, high.t), width = b - a;
    if (width <= std::numeric_limits<double>::epsilon() * b) break;  // nothing left to resolve
    const double t = cubic_minimizer(low, high, a + 0.1 * width, b - 0.1 * width);
    Trial current;
    if (!probe(t, ls, current)) return Search::non_finite;
    if (!armijo(ls, current) || current.f >= low.f) {
      high = current;
      continue;
    }
    if (curvature(ls, current)) {
      m_trial = current;
      return Search::wolfe;
    }
    if (current.dg * (high.t - low.t) >= 0.0) high = low;
    low = current;
    set_low(ls, current);
  }
  return end_search(ls);
}

// Out of evaluations without a Wolfe point: take the lowest point with sufficient decrease (a
// real descent step), or report that there is none.
template <class T>
typename Lbfgs<T>::Search Lbfgs<T>::end_search(const LineSearch& ls) {
  if (ls.low.t == 0.0) return Search::no_decrease;
  move_to(m_x, m_x0, ls.low.t, m_d);
  Kokkos::deep_copy(m_g, m_g_low);
  m_trial = ls.low;
  return Search::decrease;
}

template <class T>
void Lbfgs<T>::restore_start() {
  Kokkos::deep_copy(m_x, m_x0);
  Kokkos::deep_copy(m_g, m_g0);
}

// s = x₊ − x0 (the step actually taken) and y = g₊ − g0 go into the spare row; the pair joins
// the history only if it passes the curvature test, dropping the oldest when full.
template <class T>
void Lbfgs<T>::store_pair() {
  const long k = (m_oldest + m_count) % m_slots;
  const Vector<T> s = row(m_s, k), y = row(m_y, k);
  subtract(m_x, m_x0, s);
  subtract(m_g, m_g0, y);
  const double sy = dot(s, y), ss = dot(s, s), yy = dot(y, y);
  if (!(sy > curvature_threshold<T>() * std::sqrt(ss * yy))) return;
  m_rho[k] = 1.0 / sy;
  m_gamma = sy / yy;
  if (m_count == m_history)
    m_oldest = (m_oldest + 1) % m_slots;
  else
    ++m_count;
}

// One iteration from the current point (loss f, max|g| = g_max): direction, then line search.
// Quasi-Newton steps are tried at t = 1; with no usable history, steepest descent at
// t = min(1, 1/max|g|) so that no parameter moves by more than 1 on the first trial.
template <class T>
typename Lbfgs<T>::Search Lbfgs<T>::iterate(double f, double g_max) {
  Kokkos::deep_copy(m_x0, m_x);
  Kokkos::deep_copy(m_g0, m_g);
  const double t_steepest = std::min(1.0, 1.0 / g_max);
  const bool steepest = m_count == 0 || !direction();
  if (steepest) {
    clear_history();
    steepest_direction();
  }
  Search outcome = search(steepest ? t_steepest : 1.0, f, dot(m_g0, m_d));
  if (outcome == Search::no_decrease && !steepest && evaluation_budget() > 0) {
    // A bad quasi-Newton model must not end the run: retry once along −g with a fresh history.
    clear_history();
    steepest_direction();
    outcome = search(t_steepest, f, dot(m_g0, m_d));
  }
  return outcome;
}

template <class T>
LbfgsResult Lbfgs<T>::run(const std::function<void(long, double)>& on_iteration) {
  LbfgsResult result;
  double f = m_evaluate(), f_previous = f;
  ++m_evaluations;
  double g_max = max_abs(m_g);
  const char* reason = nullptr;
  if (!std::isfinite(f) || !std::isfinite(g_max)) reason = "non_finite";
  while (reason == nullptr) {
    reason = stop_reason(result.iterations, result.iterations > 0, f, f_previous, g_max);
    if (reason != nullptr) break;
    const Search outcome = iterate(f, g_max);
    if (outcome == Search::non_finite || outcome == Search::no_decrease) {
      restore_start();  // the start of the line search is the best point so far
      if (outcome == Search::non_finite)
        reason = "non_finite";
      else
        reason = evaluation_budget() <= 0 ? "max_evaluations" : "line_search_failed";
      break;
    }
    store_pair();
    f_previous = f;
    f = m_trial.f;
    g_max = max_abs(m_g);
    ++result.iterations;
    if (on_iteration) on_iteration(result.iterations, f);
  }
  result.evaluations = m_evaluations;
  result.loss = f;
  result.stop_reason = reason;
  return result;
}

}  // namespace

template <class T>
LbfgsResult lbfgs_minimize(Parameters<T>& parameters, const std::function<double()>& evaluate,
                           const LbfgsOptions& options,
                           const std::function<void(long, double)>& on_iteration) {
  Lbfgs<T> solver(parameters, evaluate, options);
  return solver.run(on_iteration);
}

template LbfgsResult lbfgs_minimize<float>(Parameters<float>&, const std::function<double()>&,
                                           const LbfgsOptions&,
                                           const std::function<void(long, double)>&);
template LbfgsResult lbfgs_minimize<double>(Parameters<double>&, const std::function<double()>&,
                                            const LbfgsOptions&,
                                            const std::function<void(long, double)>&);

}  // namespace karman::nn
