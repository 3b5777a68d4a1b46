#include "karman/nn/loss_combination.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "karman/core/error.hpp"

namespace karman::nn {
namespace {

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

double norm(const std::vector<double>& a) { return std::sqrt(dot(a, a)); }

std::vector<double> unit(const std::vector<double>& a) {
  const double length = norm(a);
  std::vector<double> u(a.size(), 0.0);
  if (length > 0)
    for (std::size_t i = 0; i < a.size(); ++i) u[i] = a[i] / length;
  return u;
}

// ProjectionLength: the unit direction g_u scaled by Σ_i g_iᵀ g_u.
std::vector<double> projected(std::vector<double> direction,
                              const std::vector<std::vector<double>>& gradients) {
  direction = unit(direction);
  double length = 0.0;
  for (const auto& g : gradients) length += dot(g, direction);
  for (double& d : direction) d *= length;
  return direction;
}

// Solve the small dense system A a = b (A m × m, row-major) by Gaussian elimination with partial
// pivoting; false when a pivot is below `tiny` (A numerically singular).
bool solve_dense(std::vector<double> a, std::vector<double>& b, double tiny) {
  const std::size_t m = b.size();
  for (std::size_t col = 0; col < m; ++col) {
    std::size_t pivot = col;
    for (std::size_t row = col + 1; row < m; ++row)
      if (std::abs(a[row * m + col]) > std::abs(a[pivot * m + col])) pivot = row;
    if (std::abs(a[pivot * m + col]) <= tiny) return false;
    if (pivot != col) {
      for (std::size_t k = 0; k < m; ++k) std::swap(a[col * m + k], a[pivot * m + k]);
      std::swap(b[col], b[pivot]);
    }
    for (std::size_t row = col + 1; row < m; ++row) {
      const double factor = a[row * m + col] / a[col * m + col];
      for (std::size_t k = col; k < m; ++k) a[row * m + k] -= factor * a[col * m + k];
      b[row] -= factor * b[col];
    }
  }
  for (std::size_t col = m; col-- > 0;) {
    for (std::size_t k = col + 1; k < m; ++k) b[col] -= a[col * m + k] * b[k];
    b[col] /= a[col * m + col];
  }
  return true;
}

}  // namespace

std::vector<double> config_direction(const std::vector<std::vector<double>>& gradients) {
  KARMAN_VERIFY(!gradients.empty(), "config_direction: no gradients");
  const std::size_t size = gradients.front().size();
  std::vector<std::vector<double>> units;  // rows of U, the nonzero gradients made unit
  for (const auto& g : gradients)
    if (norm(g) > 0) units.push_back(unit(g));
  if (units.empty()) return std::vector<double>(size, 0.0);
  // The least-norm x with U x = 1 is x = Uᵀ a, (U Uᵀ) a = 1: an m × m Gram system.
  const std::size_t m = units.size();
  std::vector<double> gram(m * m), a(m, 1.0);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < m; ++j) gram[i * m + j] = dot(units[i], units[j]);
  if (!solve_dense(gram, a, 1e-13)) {
    // Parallel unit gradients make U Uᵀ singular (the system is still consistent): a ridge of
    // 1e-12 (the Gram diagonal is 1) picks a least-squares solution, good to ~1e-12.
    for (std::size_t i = 0; i < m; ++i) gram[i * m + i] += 1e-12;
    a.assign(m, 1.0);
    KARMAN_VERIFY(solve_dense(gram, a, 0.0), "config_direction: singular Gram system");
  }
  std::vector<double> x(size, 0.0);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t k = 0; k < size; ++k) x[k] += a[i] * units[i][k];
  return projected(x, gradients);
}

std::vector<double> config_direction_two(const std::vector<double>& g1,
                                         const std::vector<double>& g2) {
  const std::vector<double> u1 = unit(g1), u2 = unit(g2);
  const double cosine = dot(u1, u2), norm1 = norm(g1), norm2 = norm(g2);
  std::vector<double> o1(g1.size()), o2(g1.size());
  for (std::size_t k = 0; k < g1.size(); ++k) {
    o1[k] = g2[k] - norm2 * cosine * u1[k];  // g_2 without its part along g_1
    o2[k] = g1[k] - norm1 * cosine * u2[k];
  }
  // A zero or a parallel pair leaves no orthogonal parts: the general rule handles those.
  if (norm(o1) == 0 || norm(o2) == 0 || std::abs(cosine) > 1 - 1e-12)
    return config_direction({g1, g2});
  // Equal weights: U(o_1) and U(o_2) have the same inner product √(1 − cos²) with u_2 and u_1,
  // and zero with u_1 and u_2 respectively, so their sum is equally inclined to both.
  const std::vector<double> n1 = unit(o1), n2 = unit(o2);
  std::vector<double> direction(g1.size());
  for (std::size_t k = 0; k < g1.size(); ++k) direction[k] = n1[k] + n2[k];
  return projected(direction, {g1, g2});
}

std::vector<double> annealing_estimates(const std::vector<std::vector<double>>& gradients) {
  std::vector<double> estimates(gradients.size(), 1.0);
  double largest = 0.0;
  for (double g : gradients.front()) largest = std::max(largest, std::abs(g));
  for (std::size_t i = 1; i < gradients.size(); ++i) {
    double mean = 0.0;
    for (double g : gradients[i]) mean += std::abs(g);
    mean /= static_cast<double>(gradients[i].size());
    estimates[i] = mean > 0 ? largest / mean : std::numeric_limits<double>::quiet_NaN();
  }
  return estimates;
}

LossCombination::LossCombination(CombineOptions options, std::size_t terms, std::size_t parameters)
    : m_options(std::move(options)), m_terms(terms), m_parameters(parameters) {
  KARMAN_VERIFY(terms >= 2, "LossCombination: rule " + m_options.rule + " needs several terms");
  if (m_options.rule == "mconfig") {
    m_momentum.assign(terms, std::vector<double>(parameters, 0.0));
    m_second.assign(parameters, 0.0);
    m_pseudo.assign(parameters, 0.0);
    m_seen.assign(terms, 0.0);
  }
  m_lambda.assign(terms, 1.0);
}

bool LossCombination::wanted(long step, std::size_t term) const {
  if (m_options.rule != "mconfig") return true;
  return static_cast<std::size_t>(step) % m_terms == term;
}

std::vector<double> LossCombination::combine(long step, long stage_step,
                                             const std::vector<std::vector<double>>& gradients) {
  KARMAN_VERIFY(gradients.size() == m_terms, "LossCombination: the loss changed its terms");
  if (m_options.rule == "config")
    return m_terms == 2 ? config_direction_two(gradients[0], gradients[1])
                        : config_direction(gradients);
  if (m_options.rule == "mconfig") return mconfig(step, gradients);
  if (m_options.rule == "annealing") return annealing(stage_step, gradients);
  throw InternalError("LossCombination: unknown rule " + m_options.rule);
}

// The reference's PseudoMomentumOperator: m_k ← β1 m_k + (1 − β1) g_k for the term seen; once all
// were seen, d = ConFIG(m_i / (1 − β1^{t_i})), the pseudo-gradient of the pseudo momentum
// d (1 − β1^t) gives s (Adam's second moment), and the direction is d / (√ŝ + 1e-8).
std::vector<double> LossCombination::mconfig(long step,
                                             const std::vector<std::vector<double>>& gradients) {
  const double b1 = m_options.beta1, b2 = m_options.beta2;
  const std::size_t k = static_cast<std::size_t>(step) % m_terms;
  m_seen[k] += 1;
  for (std::size_t p = 0; p < m_parameters; ++p)
    m_momentum[k][p] = b1 * m_momentum[k][p] + (1 - b1) * gradients[k][p];
  if (std::any_of(m_seen.begin(), m_seen.end(), [](double t) { return t == 0; }))
    return std::vector<double>(m_parameters, 0.0);
  m_updates += 1;
  std::vector<std::vector<double>> corrected(m_terms, std::vector<double>(m_parameters));
  for (std::size_t i = 0; i < m_terms; ++i) {
    const double bias = 1 - std::pow(b1, m_seen[i]);
    for (std::size_t p = 0; p < m_parameters; ++p) corrected[i][p] = m_momentum[i][p] / bias;
  }
  std::vector<double> direction =
      m_terms == 2 ? config_direction_two(corrected[0], corrected[1]) : config_direction(corrected);
  const double bias1 = 1 - std::pow(b1, m_updates), bias2 = 1 - std::pow(b2, m_updates);
  for (std::size_t p = 0; p < m_parameters; ++p) {
    const double pseudo = direction[p] * bias1;
    const double pseudo_gradient = (pseudo - b1 * m_pseudo[p]) / (1 - b1);
    m_pseudo[p] = pseudo;
    m_second[p] = b2 * m_second[p] + (1 - b2) * pseudo_gradient * pseudo_gradient;
    direction[p] /= std::sqrt(m_second[p] / bias2) + 1e-8;
  }
  return direction;
}

std::vector<double> LossCombination::annealing(long stage_step,
                                               const std::vector<std::vector<double>>& gradients) {
  if (stage_step % m_options.every == 0) {
    const std::vector<double> estimates = annealing_estimates(gradients);
    for (std::size_t i = 1; i < m_terms; ++i)
      if (std::isfinite(estimates[i]))
        m_lambda[i] = m_options.alpha * m_lambda[i] + (1 - m_options.alpha) * estimates[i];
  }
  std::vector<double> g = gradients.front();
  for (std::size_t i = 1; i < m_terms; ++i)
    for (std::size_t p = 0; p < m_parameters; ++p) g[p] += m_lambda[i] * gradients[i][p];
  return g;
}

void LossCombination::save(Checkpoint& c) const {
  c.strings["combine/rule"] = m_options.rule;
  c.arrays["combine/lambda"] = m_lambda;
  if (m_options.rule != "mconfig") return;
  for (std::size_t i = 0; i < m_terms; ++i)
    c.arrays[fmt::format("combine/momentum/{}", i)] = m_momentum[i];
  c.arrays["combine/second"] = m_second;
  c.arrays["combine/pseudo"] = m_pseudo;
  c.arrays["combine/seen"] = m_seen;
  c.scalars["combine/updates"] = m_updates;
}

void LossCombination::restore(const Checkpoint& c, const std::string& path) {
  auto array = [&](const std::string& name, std::size_t size) {
    const auto it = c.arrays.find(name);
    if (it == c.arrays.end() || it->second.size() != size)
      throw ConfigError(Place{path}, fmt::format("checkpoint: {} missing or of another size (a "
                                                 "run with another combine rule or loss?)",
                                                 name));
    return it->second;
  };
  if (c.strings.count("combine/rule") == 0 || c.strings.at("combine/rule") != m_options.rule)
    throw ConfigError(Place{path}, "checkpoint: written by a stage with another combine rule");
  m_lambda = array("combine/lambda", m_terms);
  if (m_options.rule != "mconfig") return;
  for (std::size_t i = 0; i < m_terms; ++i)
    m_momentum[i] = array(fmt::format("combine/momentum/{}", i), m_parameters);
  m_second = array("combine/second", m_parameters);
  m_pseudo = array("combine/pseudo", m_parameters);
  m_seen = array("combine/seen", m_terms);
  m_updates = c.scalar("combine/updates");
}

}  // namespace karman::nn
