#include "pinn/lagrangian.hpp"

#include <algorithm>
#include <cmath>

#include "karman/core/error.hpp"
#include "karman/core/partition.hpp"
#include "karman/core/random.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/nn/chunked_loss.hpp"
#include "karman/run/outputs.hpp"
#include "pinn/sampling.hpp"

namespace karman::pinn {

LagrangianWeights read_lagrangian(const config::Node& root, const config::ProblemSpec& problem,
                                  const nn::TrainingSpec& training) {
  if (problem.pde.type != config::PdeType::convection)
    root.fail("formulation",
              "expected eulerian: the lagrangian formulation solves pde.type convection "
              "(u_t + c u_x = nu u_xx) only");
  const auto stages = root.child("training").mappings("stages");
  for (std::size_t i = 0; i < stages.size(); ++i)
    if (training.trainer.stages[i].optimizer == "natural_gradient")
      stages[i].fail("optimizer",
                     "expected adam, adamw, sgd or lbfgs: the lagrangian formulation has no "
                     "per-point Jacobians (natural_gradient) yet");
  if (root.child_or_empty("samples").integer("resample_every", 0, 0) != 0)
    root.child("samples").fail("resample_every",
                               "expected 0: the lagrangian formulation keeps its points");
  const config::Node loss = root.child_or_empty("loss");
  if (loss.has("residual"))
    loss.fail("residual",
              "not used by the lagrangian formulation: its weights are loss.characteristic and "
              "loss.state");
  LagrangianWeights w;
  w.characteristic = loss.number("characteristic", 1.0, config::Bounds::at_least(0));
  w.state = loss.number("state", 1.0, config::Bounds::at_least(0));
  w.initial = loss.number("initial", 1.0, config::Bounds::at_least(0));
  w.periodic = loss.number("boundary", 1.0, config::Bounds::at_least(0));
  return w;
}

// ------------------------------------------------------------------------------------ branches
namespace {

// Two modules on the same input, outputs side by side: y = [a(x) | b(x)], dx = dx_a + dx_b.
// Every channel of a derivative pass is stacked the same way, so whatever both support (but no
// per-point Jacobian rows: each branch would write only its own columns of a row).
// `zero_a_output`: a's last declared tensors (its output layer's weight and bias) start at zero,
// so a starts as the zero function.
template <class T>
class Branches : public nn::Module<T> {
 public:
  Branches(std::unique_ptr<nn::Module<T>> a, std::unique_ptr<nn::Module<T>> b, std::string name_a,
           std::string name_b, bool zero_a_output)
      : m_a(std::move(a)),
        m_b(std::move(b)),
        m_name_a(std::move(name_a)),
        m_name_b(std::move(name_b)),
        m_zero_a_output(zero_a_output) {
    KARMAN_VERIFY(m_a->in_features() == m_b->in_features(), "Branches: the same inputs");
  }
  std::string kind() const override { return "branches"; }
  std::size_t in_features() const override { return m_a->in_features(); }
  std::size_t out_features() const override { return m_a->out_features() + m_b->out_features(); }
  void declare(nn::Parameters<T>& parameters, const std::string& prefix) override {
    const std::size_t first = parameters.count();
    m_a->declare(parameters, prefix + m_name_a + ".");
    m_a_end = parameters.count();
    m_a_output = std::max(first, m_a_end - std::min<std::size_t>(2, m_a_end - first));
    m_b->declare(parameters, prefix + m_name_b + ".");
    m_parameters = &parameters;
  }
  void initialize(std::uint64_t seed) override {
    m_a->initialize(mix64(seed));
    m_b->initialize(mix64(seed + 1));
    if (m_zero_a_output)
      for (std::size_t k = m_a_output; k < m_a_end; ++k)
        Kokkos::deep_copy(m_parameters->value(k), T(0));
  }
  bool supports(const nn::Pass& pass, nn::GradientMode mode) const override {
    return mode != nn::GradientMode::per_point && m_a->supports(pass, mode) &&
           m_b->supports(pass, mode);
  }

 protected:
  struct BranchesContext : nn::Context<T> {
    nn::Context<T>* a = nullptr;
    nn::Context<T>* b = nullptr;
    nn::Matrix<T> dy_a, dy_b;  // [rows, out_a], [rows, out_b]: dy's columns of each branch
  };
  std::unique_ptr<nn::Context<T>> make_context() const override {
    return std::make_unique<BranchesContext>();
  }
  void forward_impl(nn::Context<T>& context, nn::Workspace<T>& workspace) override {
    auto& c = this->template as<BranchesContext>(context);
    c.a = &m_a->forward(c.x, c.pass, workspace);
    c.b = &m_b->forward(c.x, c.pass, workspace);
    const std::size_t rows = c.x.extent(0), na = m_a->out_features(), nb = m_b->out_features();
    nn::ensure_shape(c.y, "karman::pinn::branches::y", rows, na + nb);
    const nn::Matrix<T> y = c.y, ya = c.a->y, yb = c.b->y;
    Kokkos::parallel_for(
        "karman::pinn::branches_forward", Kokkos::RangePolicy<nn::ExecutionSpace>(0, rows),
        KOKKOS_LAMBDA(const std::size_t i) {
          for (std::size_t o = 0; o < na; ++o) y(i, o) = ya(i, o);
          for (std::size_t o = 0; o < nb; ++o) y(i, na + o) = yb(i, o);
        });
  }
  void backward_impl(nn::Context<T>& context, const nn::Matrix<T>& dy,
                     const nn::Gradient<T>& gradient) override {
    auto& c = this->template as<BranchesContext>(context);
    const std::size_t rows = dy.extent(0), na = m_a->out_features(), nb = m_b->out_features();
    nn::ensure_shape(c.dy_a, "karman::pinn::branches::dy_a", rows, na);
    nn::ensure_shape(c.dy_b, "karman::pinn::branches::dy_b", rows, nb);
    const nn::Matrix<T> dy_a = c.dy_a, dy_b = c.dy_b;
    Kokkos::parallel_for(
        "karman::pinn::branches_split", Kokkos::RangePolicy<nn::ExecutionSpace>(0, rows),
        KOKKOS_LAMBDA(const std::size_t i) {
          for (std::size_t o = 0; o < na; ++o) dy_a(i, o) = dy(i, o);
          for (std::size_t o = 0; o < nb; ++o) dy_b(i, o) = dy(i, na + o);
        });
    const nn::Matrix<T> dx_a = m_a->backward(*c.a, dy_a, gradient);
    const nn::Matrix<T> dx_b = m_b->backward(*c.b, dy_b, gradient);
    const std::size_t in = c.x.extent(1);
    nn::ensure_shape(c.dx, "karman::pinn::branches::dx", rows, in);
    const nn::Matrix<T> dx = c.dx;
    Kokkos::parallel_for(
        "karman::pinn::branches_dx",
        Kokkos::MDRangePolicy<nn::ExecutionSpace, Kokkos::Rank<2>>({0, 0}, {rows, in}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t k) {
          dx(i, k) = dx_a(i, k) + dx_b(i, k);
        });
  }

 private:
  std::unique_ptr<nn::Module<T>> m_a, m_b;
  std::string m_name_a, m_name_b;
  bool m_zero_a_output = false;
  nn::Parameters<T>* m_parameters = nullptr;
  std::size_t m_a_output = 0, m_a_end = 0;  // a's output tensors [m_a_output, m_a_end)
};

}  // namespace

template <class T>
std::unique_ptr<nn::Module<T>> make_lagrangian_network(const nn::MlpSpec& spec) {
  // The characteristic starts as the identity map x = ξ (N_x = 0): no fold (x_ξ = 1) where the
  // chain rule divides by x_ξ, and its initial and periodic conditions hold from the start.
  return std::make_unique<Branches<T>>(nn::make_network<T>(spec, 2, 1),
                                       nn::make_network<T>(spec, 2, 1), "characteristic", "state",
                                       /*zero_a_output=*/true);
}

// ---------------------------------------------------------------------------------------- loss
namespace {

template <class T>
struct StackedJet {  // channel c of output o at point i of a network output [C·N, O]
  nn::Matrix<T> y;
  std::size_t n, i;
  KOKKOS_INLINE_FUNCTION T operator()(int c, int o) const { return y(c * n + i, o); }
};

// (ξ, 0) for each ξ of `points` ([count, 1] space coordinates).
std::vector<double> at_time_zero(const std::vector<double>& space) {
  std::vector<double> out;
  for (double xi : space) out.insert(out.end(), {xi, 0.0});
  return out;
}

}  // namespace

template <class T>
LagrangianLoss<T>::LagrangianLoss(nn::Network<T>& net, const config::PdeSpec& pde,
                                  const mesh::GridShape& box, const PointSet& interior,
                                  const PointSet& periodic, const PointSet& initial,
                                  const LagrangianWeights& weights)
    : m_net(net) {
  KARMAN_VERIFY(box.dim == 2 && net.module().out_features() == 2,
                "LagrangianLoss: inputs (xi, t), outputs (N_x, N_u)");
  m_point.speed = pde.speed;
  m_point.nu = pde.nu;
  m_point.scale = pde.speed * box.upper[1];
  m_reported = {{"characteristic", weights.characteristic, 0.0},
                {"state", weights.state, 0.0},
                {"initial", weights.initial, 0.0},
                {"periodic", weights.periodic, 0.0}};
  const InputMap map = InputMap::for_box(box);

  Term inner = make_term(Kind::interior, interior.points, static_cast<double>(interior.total),
                         interior.points.size() / 2, 2, map);
  inner.reported[0] = 0, inner.reported[1] = 1;
  m_terms.push_back(std::move(inner));

  Term start = make_term(Kind::initial, initial.points, static_cast<double>(initial.total),
                         initial.points.size() / 2, 2, map);
  start.reported[0] = start.reported[1] = 2;
  std::vector<double> u0(start.points);
  for (std::size_t i = 0; i < start.points; ++i)
    u0[i] = (*pde.initial->expression)(initial.points[2 * i], 0, 0, 0);
  start.data = nn::Matrix<T>("karman::pinn::lagrangian::u0", start.points, 1);
  auto data = Kokkos::create_mirror_view(start.data);
  for (std::size_t i = 0; i < start.points; ++i) data(i, 0) = static_cast<T>(u0[i]);
  Kokkos::deep_copy(start.data, data);
  m_terms.push_back(std::move(start));

  // Periodic pairs: each point's t on the faces ξ = lower (first half) and ξ = upper.
  const std::size_t pairs = periodic.points.size() / 2;
  std::vector<double> faces(4 * pairs);
  for (std::size_t side = 0; side < 2; ++side)
    for (std::size_t i = 0; i < pairs; ++i) {
      faces[2 * (side * pairs + i)] = side == 0 ? box.lower[0] : box.upper[0];
      faces[2 * (side * pairs + i) + 1] = periodic.points[2 * i + 1];
    }
  Term wrap =
      make_term(Kind::periodic, faces, static_cast<double>(periodic.total), 2 * pairs, 4, map);
  for (int q = 0; q < 4; ++q) wrap.reported[q] = 3;
  m_terms.push_back(std::move(wrap));

  // The initial and periodic residuals are linear in the channels: constant linearisations.
  //   initial   ∂(s N_x)/∂N_x = s, ∂(N_u − u0)/∂N_u = 1
  //   periodic  components (N_u, ∂ξ N_u, s N_x, s ∂ξ N_x): +1 (·s) on the lower face, −1 (·s)
  //             on the upper one
  const T s = static_cast<T>(m_point.scale);
  for (std::size_t k = 1; k < m_terms.size(); ++k) {
    Term& term = m_terms[k];
    auto dr = Kokkos::create_mirror_view(term.dr);
    Kokkos::deep_copy(dr, T(0));
    for (std::size_t i = 0; i < term.points; ++i) {
      if (term.kind == Kind::initial) {
        dr(i, 0, 0 * 2 + 0) = s;
        dr(i, 1, 0 * 2 + 1) = T(1);
        continue;
      }
      const T sign = i < term.points / 2 ? T(1) : T(-1);
      dr(i, 0, 0 * 2 + 1) = sign;      // u
      dr(i, 1, 1 * 2 + 1) = sign;      // u_ξ
      dr(i, 2, 0 * 2 + 0) = sign * s;  // x − ξ
      dr(i, 3, 1 * 2 + 0) = sign * s;  // x_ξ
    }
    Kokkos::deep_copy(term.dr, dr);
  }
}

template <class T>
typename LagrangianLoss<T>::Term LagrangianLoss<T>::make_term(Kind kind,
                                                              const std::vector<double>& points,
                                                              double total, std::size_t count,
                                                              std::size_t components,
                                                              const InputMap& map) {
  Term term;
  term.kind = kind;
  term.points = count;
  term.components = components;
  term.total = total;
  nn::taylor_input(network_input<T>(map, points), term.x, map.scale);
  term.r = nn::Matrix<T>("karman::pinn::lagrangian::r", components, term.residual_points());
  term.dr =
      decltype(term.dr)("karman::pinn::lagrangian::dr", count, components, lagrangian_channels * 2);
  term.seed = nn::Matrix<T>("karman::pinn::lagrangian::seed", lagrangian_channels * count, 2);
  return term;
}

template <class T>
void LagrangianLoss<T>::evaluate(Term& term) {
  const std::size_t n = term.points;
  term.context = &m_net.forward(term.x, nn::Pass::derivatives(2), m_workspace);
  const nn::Matrix<T> y = term.context->y, r = term.r, data = term.data;
  const T s = static_cast<T>(m_point.scale);
  if (term.kind == Kind::interior) {
    const auto dr = term.dr;
    const LagrangianPointParameters p = m_point;
    Kokkos::parallel_for(
        "karman::pinn::lagrangian_residual", Kokkos::RangePolicy<nn::ExecutionSpace>(0, n),
        KOKKOS_LAMBDA(const std::size_t i) {
          LagrangianLinearisation<T> lin;
          lagrangian_residual(p, StackedJet<T>{y, n, i}, lin);
          for (int q = 0; q < 2; ++q) {
            r(q, i) = lin.r[q];
            for (int c = 0; c < lagrangian_channels; ++c)
              for (int o = 0; o < 2; ++o) dr(i, q, c * 2 + o) = lin.dr[q][c][o];
          }
        });
  } else if (term.kind == Kind::initial) {
    Kokkos::parallel_for(
        "karman::pinn::lagrangian_initial", Kokkos::RangePolicy<nn::ExecutionSpace>(0, n),
        KOKKOS_LAMBDA(const std::size_t i) {
          r(0, i) = s * y(i, 0);           // x(ξ, 0) − ξ
          r(1, i) = y(i, 1) - data(i, 0);  // u(ξ, 0) − u0(ξ)
        });
  } else {
    const std::size_t pairs = n / 2;
    Kokkos::parallel_for(
        "karman::pinn::lagrangian_periodic", Kokkos::RangePolicy<nn::ExecutionSpace>(0, pairs),
        KOKKOS_LAMBDA(const std::size_t i) {
          const std::size_t j = pairs + i, d_xi = n;  // rows of ∂ξ: n + point
          r(0, i) = y(i, 1) - y(j, 1);
          r(1, i) = y(d_xi + i, 1) - y(d_xi + j, 1);
          r(2, i) = s * (y(i, 0) - y(j, 0));
          r(3, i) = s * (y(d_xi + i, 0) - y(d_xi + j, 0));
        });
  }
}

template <class T>
void LagrangianLoss<T>::seed(Term& term) {
  const std::size_t n = term.points, components = term.components;
  const std::size_t residual_points = term.residual_points();  // periodic: point i's pair i mod
  T factor[max_components] = {};
  for (std::size_t q = 0; q < components; ++q) {
    const nn::LossTerm& reported = m_reported[static_cast<std::size_t>(term.reported[q])];
    factor[q] = static_cast<T>(2.0 * reported.weight / term.total);
  }
  const T f0 = factor[0], f1 = factor[1], f2 = factor[2], f3 = factor[3];
  const nn::Matrix<T> seed = term.seed, r = term.r;
  const auto dr = term.dr;
  Kokkos::parallel_for(
      "karman::pinn::lagrangian_seed", Kokkos::RangePolicy<nn::ExecutionSpace>(0, n),
      KOKKOS_LAMBDA(const std::size_t i) {
        const T f[max_components] = {f0, f1, f2, f3};
        for (int c = 0; c < lagrangian_channels; ++c)
          for (int o = 0; o < 2; ++o) {
            T sum = 0;
            for (std::size_t q = 0; q < components; ++q)
              sum += f[q] * r(q, i % residual_points) * dr(i, q, c * 2 + o);
            seed(c * n + i, o) = sum;
          }
      });
}

template <class T>
std::vector<nn::LossTerm> LagrangianLoss<T>::operator()() {
  std::vector<nn::LossTerm> out = m_reported;
  m_workspace.reset();
  for (Term& term : m_terms) {
    evaluate(term);
    seed(term);
    m_net.backward(*term.context, term.seed);
    const nn::Matrix<T> r = term.r;
    for (std::size_t q = 0; q < term.components; ++q) {
      double sum = 0;
      Kokkos::parallel_reduce(
          "karman::pinn::lagrangian_sum",
          Kokkos::RangePolicy<nn::ExecutionSpace>(0, term.residual_points()),
          KOKKOS_LAMBDA(const std::size_t i, double& local) {
            local += static_cast<double>(r(q, i)) * static_cast<double>(r(q, i));
          },
          sum);
      out[static_cast<std::size_t>(term.reported[q])].value += sum / term.total;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------- evaluation
std::vector<double> invert_characteristics(const std::vector<double>& targets, double lower,
                                           double period, int iterations,
                                           const CharacteristicMap& map) {
  auto wrap = [&](double a) {
    const double w = lower + std::fmod(a - lower, period);
    return w < lower ? w + period : (w >= lower + period ? w - period : w);
  };
  auto centred = [&](double d) { return d - period * std::round(d / period); };
  const std::size_t n = targets.size();
  std::vector<double> xi(n), x, x_xi;
  for (std::size_t i = 0; i < n; ++i) xi[i] = wrap(targets[i]);
  map(xi, x, x_xi);
  for (std::size_t i = 0; i < n; ++i) xi[i] = wrap(targets[i] - centred(x[i] - targets[i]));
  for (int k = 0; k < iterations; ++k) {
    map(xi, x, x_xi);
    for (std::size_t i = 0; i < n; ++i) xi[i] = wrap(xi[i] - centred(x[i] - targets[i]) / x_xi[i]);
  }
  return xi;
}

template <class T>
std::vector<double> lagrangian_predict(nn::Network<T>& net, const mesh::GridShape& box,
                                       double speed, const std::vector<double>& x, double t) {
  const InputMap map = InputMap::for_box(box);
  const double s = speed * box.upper[1];
  // x(ξ, t) = ξ + s N_x and x_ξ = 1 + s ∂ξ N_x at a batch of ξ; u = N_u there.
  std::vector<double> u;
  auto evaluate = [&](const std::vector<double>& xi, std::vector<double>& xs,
                      std::vector<double>& x_xi) {
    std::vector<double> points;
    for (double v : xi) points.insert(points.end(), {v, t});
    nn::Matrix<T> stacked;
    nn::taylor_input(network_input<T>(map, points), stacked, map.scale);
    const auto y = Kokkos::create_mirror_view_and_copy(
        Kokkos::HostSpace(), net.forward(stacked, nn::Pass::derivatives(2)).y);
    const std::size_t n = xi.size();
    xs.resize(n), x_xi.resize(n), u.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      xs[i] = xi[i] + s * static_cast<double>(y(i, 0));
      x_xi[i] = 1.0 + s * static_cast<double>(y(n + i, 0));
      u[i] = static_cast<double>(y(i, 1));
    }
  };
  const std::vector<double> xi = invert_characteristics(
      x, box.lower[0], box.upper[0] - box.lower[0], lagrangian_newton_iterations, evaluate);
  std::vector<double> xs, x_xi;
  evaluate(xi, xs, x_xi);  // u at the final ξ
  return u;
}

// ------------------------------------------------------------------------------------ training
namespace {

// The part `part` of `parts` of every point set (the Eulerian PINN's streams and seeds).
template <class T>
std::unique_ptr<LagrangianLoss<T>> loss_on_part(nn::Network<T>& net, const config::PdeSpec& pde,
                                                const mesh::GridShape& box,
                                                const LagrangianSamples& samples,
                                                const LagrangianWeights& weights, long part,
                                                long parts) {
  const ScopedStage timed_stage(Stage::data);
  const std::uint64_t seed = samples.seed;
  auto [first, count] = share(samples.interior, part, parts);
  auto [pfirst, pcount] = share(samples.periodic, part, parts);
  auto [ifirst, icount] = share(samples.initial, part, parts);
  mesh::GridShape space = box;
  space.dim = 1;
  const PointSet interior{interior_points(box, first, count, seed), samples.interior};
  const PointSet periodic{boundary_points(box, pfirst, pcount, mix64(seed + 1), 1),
                          samples.periodic};
  const PointSet initial{at_time_zero(interior_points(space, ifirst, icount, mix64(seed + 2))),
                         samples.initial};
  return std::make_unique<LagrangianLoss<T>>(net, pde, box, interior, periodic, initial, weights);
}

}  // namespace

template <class T>
nn::TrainingResult train_lagrangian(run::RunContext& ctx, nn::Network<T>& net,
                                    const config::PdeSpec& pde, const mesh::GridShape& box,
                                    const LagrangianSamples& samples,
                                    const LagrangianWeights& weights,
                                    const nn::TrainingSpec& training) {
  const bool reproducible = nn::reproducible_sums<T>(training);
  const auto [first, count] =
      reproducible ? my_share(ctx.comm, training.chunks) : std::pair<long, long>{ctx.rank, 1};
  const long part_count = reproducible ? training.chunks : ctx.size;
  std::vector<std::unique_ptr<LagrangianLoss<T>>> parts;
  for (long c = first; c < first + count; ++c)
    parts.push_back(loss_on_part(net, pde, box, samples, weights, c, part_count));
  if (!reproducible)
    return run::train<T>(
        ctx, net.parameters(), [&](long) { return (*parts[0])(); }, training.trainer);
  nn::ChunkedLoss loss{training.chunks,
                       [&, first = first](long, long chunk) {
                         return (*parts[static_cast<std::size_t>(chunk - first)])();
                       },
                       {}};
  return run::train<T>(ctx, net.parameters(), std::move(loss), training.trainer);
}

#define KARMAN_INSTANTIATE(T)                                                                     \
  template std::unique_ptr<nn::Module<T>> make_lagrangian_network<T>(const nn::MlpSpec&);         \
  template class LagrangianLoss<T>;                                                               \
  template std::vector<double> lagrangian_predict<T>(nn::Network<T>&, const mesh::GridShape&,     \
                                                     double, const std::vector<double>&, double); \
  template nn::TrainingResult train_lagrangian<T>(                                                \
      run::RunContext&, nn::Network<T>&, const config::PdeSpec&, const mesh::GridShape&,          \
      const LagrangianSamples&, const LagrangianWeights&, const nn::TrainingSpec&);
KARMAN_INSTANTIATE(float)
KARMAN_INSTANTIATE(double)
#undef KARMAN_INSTANTIATE

}  // namespace karman::pinn
