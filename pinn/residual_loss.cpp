#include "pinn/residual_loss.hpp"

#include <algorithm>
#include <cmath>

#include "karman/core/error.hpp"
#include "karman/pde/equations.hpp"

namespace karman::pinn {

InputMap InputMap::for_box(const mesh::GridShape& box) {
  InputMap map;
  for (int d = 0; d < box.dim; ++d) {
    const double length = box.upper[d] - box.lower[d];
    map.scale.push_back(2.0 / length);
    map.shift.push_back(-1.0 - 2.0 * box.lower[d] / length);
  }
  return map;
}

template <class T>
nn::Matrix<T> network_input(const InputMap& map, const std::vector<double>& points) {
  const std::size_t dims = map.scale.size(), n = points.size() / dims;
  nn::Matrix<T> x("karman::pinn::input", n, dims);
  auto h = Kokkos::create_mirror_view(x);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t d = 0; d < dims; ++d)
      h(i, d) = static_cast<T>(map.scale[d] * points[i * dims + d] + map.shift[d]);
  Kokkos::deep_copy(x, h);
  return x;
}

namespace {

// e(x, y, z, t) at points whose first `space` coordinates are x, y, z and whose last (if the
// point has one more) is t.
std::vector<double> evaluate_at(const Expression& e, const std::vector<double>& points,
                                std::size_t dims, std::size_t space) {
  std::vector<double> out(points.size() / dims);
  for (std::size_t i = 0; i < out.size(); ++i) {
    double p[3] = {0, 0, 0};
    for (std::size_t d = 0; d < space; ++d) p[d] = points[i * dims + d];
    const double t = dims > space ? points[i * dims + space] : 0.0;
    out[i] = e(p[0], p[1], p[2], t);
  }
  return out;
}

// Channel c of output o at point i of a network output [C·N, O].
template <class T>
struct ChannelJet {
  nn::Matrix<T> y;
  std::size_t n, i;
  KOKKOS_INLINE_FUNCTION T operator()(int c, int o) const { return y(c * n + i, o); }
};

// The scalar u = g + φN from the network's N, with
//   u = g + φN,  u_k = g_k + φ_k N + φ N_k,  u_kk = g_kk + φ_kk N + 2 φ_k N_k + φ N_kk,
// then the PDE residual of u and its linearisation chained back to N's channels.
template <class T>
struct LocalJet {
  T v[max_channels];
  KOKKOS_INLINE_FUNCTION T operator()(int c, int) const { return v[c]; }
};

template <class T, class Jet>
KOKKOS_INLINE_FUNCTION void hard_residual(const PointPdeParameters& p, const Jet& net,
                                          const Jet& phi, const Jet& g, T f,
                                          PointLinearisation<T>& out) {
  LocalJet<T> u;
  const T n0 = net(0, 0), phi0 = phi(0, 0);
  u.v[0] = g(0, 0) + phi0 * n0;
  for (int k = 0; k < p.dims; ++k) {
    const int first = 1 + k, second = 1 + p.dims + k;
    u.v[first] = g(first, 0) + phi(first, 0) * n0 + phi0 * net(first, 0);
    u.v[second] = g(second, 0) + phi(second, 0) * n0 + T(2) * phi(first, 0) * net(first, 0) +
                  phi0 * net(second, 0);
  }
  point_residual(p, u, f, out);
  for (int q = 0; q < p.components(); ++q) {
    T by_u[max_channels] = {};
    for (int c = 0; c < 1 + 2 * p.dims; ++c) by_u[c] = out.dr[q][c][0];
    out.dr[q][0][0] = by_u[0] * phi0;
    for (int k = 0; k < p.dims; ++k) {
      const int first = 1 + k, second = 1 + p.dims + k;
      out.dr[q][0][0] += by_u[first] * phi(first, 0) + by_u[second] * phi(second, 0);
      out.dr[q][first][0] = by_u[first] * phi0 + T(2) * by_u[second] * phi(first, 0);
      out.dr[q][second][0] = by_u[second] * phi0;
    }
  }
}

}  // namespace

HardTransform HardTransform::at(const HardDirichlet& hard, const std::vector<double>& points,
                                int dims) {
  KARMAN_VERIFY(dims == hard.distance->dim(),
                "HardTransform: the points and the distance function differ in dimension");
  const std::size_t dim = static_cast<std::size_t>(dims), n = points.size() / dim;
  const std::size_t channels = 1 + 2 * dim;
  HardTransform t;
  t.phi.assign(channels * n, 0.0);
  t.g.assign(channels * n, 0.0);
  std::vector<double> value, gradient, second;
  hard.distance->evaluate(points, value, gradient, second);
  for (std::size_t i = 0; i < n; ++i) {
    double x[3] = {0, 0, 0};
    for (std::size_t d = 0; d < dim; ++d) x[d] = points[dim * i + d];
    t.phi[i] = value[i];
    const double g0 = hard.value(x[0], x[1], x[2], 0);
    t.g[i] = g0;
    for (std::size_t k = 0; k < dim; ++k) {
      t.phi[(1 + k) * n + i] = gradient[dim * i + k];
      t.phi[(1 + dim + k) * n + i] = second[dim * i + k];
      // Fourth-order central differences of g along axis k.
      const double h = 1e-3 * std::max(1.0, std::abs(x[k]));
      auto at = [&](double shift) {
        double y[3] = {x[0], x[1], x[2]};
        y[k] += shift;
        return hard.value(y[0], y[1], y[2], 0);
      };
      const double p1 = at(h), m1 = at(-h), p2 = at(2 * h), m2 = at(-2 * h);
      t.g[(1 + k) * n + i] = (-p2 + 8 * p1 - 8 * m1 + m2) / (12 * h);
      t.g[(1 + dim + k) * n + i] = (-p2 + 16 * p1 - 30 * g0 + 16 * m1 - m2) / (12 * h * h);
    }
  }
  return t;
}

template <class T>
ResidualLoss<T>::ResidualLoss(nn::Network<T>& net, const config::PdeSpec& pde,
                              const mesh::GridShape& box, const PointSet& interior,
                              const PointSet& boundary, const PointSet& initial,
                              LossWeights weights, const BoundaryConditions* conditions,
                              const InverseProblem* inverse)
    : m_net(net), m_channels(1 + 2 * static_cast<std::size_t>(box.dim)) {
  if (conditions) m_hard = conditions->hard;
  if (inverse) {
    KARMAN_VERIFY(config::traits(pde.type).pinn_inverse, "ResidualLoss: inverse problems are heat");
    m_kappa = inverse->kappa_parameter;
  }
  const config::PdeTraits& traits = config::traits(pde.type);
  if (!traits.pinn)
    throw InternalError(std::string("ResidualLoss: no PINN residual for pde '") + traits.name +
                        "'");
  m_pde.pde = pde.type;
  m_pde.dims = box.dim;
  m_pde.space = pde.time_dependent() ? box.dim - 1 : box.dim;
  m_pde.outputs = static_cast<int>(net.module().out_features());
  m_pde.kappa = pde.kappa;
  m_pde.nu = pde.nu;
  m_pde.epsilon = pde.epsilon;
  m_pde.reaction = pde.reaction;
  m_pde.wavenumber = pde.wavenumber;
  m_pde.speed = pde.speed;
  const std::size_t dims = static_cast<std::size_t>(box.dim);
  const std::size_t space = static_cast<std::size_t>(m_pde.space);
  const InputMap map = InputMap::for_box(box);

  Term residual;
  residual.name = "residual";
  residual.weight = weights.residual;
  residual.total = static_cast<double>(interior.total);
  residual.kind = Kind::pde;
  residual.points = interior.points.size() / dims;
  residual.components = static_cast<std::size_t>(m_pde.components());
  nn::taylor_input(network_input<T>(map, interior.points), residual.x, map.scale);
  residual.data = pde.source
                      ? device_column<T>(evaluate_at(*pde.source, interior.points, dims, space),
                                         "karman::pinn::source")
                      : nn::Matrix<T>("karman::pinn::source", residual.points, 1);
  if (m_hard) {
    const HardTransform h = HardTransform::at(*m_hard, interior.points, box.dim);
    residual.phi = device_column<T>(h.phi, "karman::pinn::phi");
    residual.g = device_column<T>(h.g, "karman::pinn::g");
  }
  m_terms.push_back(std::move(residual));

  if (traits.boundary == config::BoundaryKind::periodic)  // as the reference's grid
    m_terms.push_back(periodic_term(weights.boundary, boundary, 0, box, map));
  else if (traits.boundary == config::BoundaryKind::velocity)  // p's constant is free
    m_terms.push_back(data_term("boundary", weights.boundary, boundary,
                                {&pde.velocity[0], &pde.velocity[1]}, map));
  else if (conditions) {  // the geometry's conditions: soft Dirichlet, then Neumann and Robin
    for (const DirichletCondition& c : conditions->soft)
      m_terms.push_back(data_term(c.name, c.weight, c.points, {&c.value}, map));
    for (const FluxCondition& c : conditions->flux) m_terms.push_back(flux_term(c, map));
  } else {
    m_terms.push_back(data_term("boundary", weights.boundary, boundary, {&*pde.boundary}, map));
  }
  if (pde.time_dependent()) {
    KARMAN_VERIFY(pde.initial && pde.initial->expression,
                  "ResidualLoss: initial state must be an expression");
    m_terms.push_back(
        data_term("initial", weights.initial, initial, {&*pde.initial->expression}, map));
  }
  if (inverse)
    m_terms.push_back(values_term("observations", inverse->weight, inverse->observations,
                                  {inverse->values}, map));
  if (traits.second_order_in_time)  // u_t(x, 0) too
    m_terms.push_back(axis_derivative_term("initial_velocity", weights.initial_velocity, initial,
                                           box.dim - 1, *pde.initial_velocity, map));
  const std::size_t outputs = static_cast<std::size_t>(m_pde.outputs);
  for (Term& term : m_terms) {
    const std::size_t channels = term.taylor() ? m_channels : 1, n = term.points;
    term.r = nn::Matrix<T>("karman::pinn::r", term.components, term.residual_points());
    term.dr = decltype(term.dr)("karman::pinn::dr", n, term.components, channels * outputs);
    term.seed = nn::Matrix<T>("karman::pinn::seed", channels * n, outputs);
    if (term.kind == Kind::pde) continue;
    // Data, derivative and periodic terms are linear in the channels: constant linearisations
    //   data        ∂(u_o − g)/∂u_o = 1
    //   derivative  ∂(Σ_c a_c·channel_c − g)/∂channel_c = a_c (u and its first derivatives)
    //   periodic    ∂(c_L − c_R)/∂c_L = 1, ∂(c_L − c_R)/∂c_R = −1 for c = u, ∂u/∂x_axis.
    auto dr = Kokkos::create_mirror_view(term.dr);
    const auto phi = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), term.phi);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t q = 0; q < term.components; ++q) {
        if (term.kind == Kind::data) {  // hard condition: ∂(g + φN − target)/∂N = φ
          dr(i, q, static_cast<std::size_t>(term.outputs[q])) = m_hard ? phi(i, 0) : T(1);
        } else if (term.kind == Kind::derivative) {
          for (std::size_t c = 0; c <= dims; ++c)
            dr(i, q, c * outputs) = static_cast<T>(term.linear[i * (1 + dims) + c]);
        } else {
          const std::size_t channel = q == 0 ? 0 : 1 + static_cast<std::size_t>(term.axis);
          dr(i, q, channel * outputs) = i < n / 2 ? T(1) : T(-1);
        }
      }
    Kokkos::deep_copy(term.dr, dr);
  }
}

template <class T>
typename ResidualLoss<T>::Term ResidualLoss<T>::derivative_term(const std::string& name,
                                                                double weight, const PointSet& set,
                                                                std::vector<double> linear,
                                                                std::vector<double> target,
                                                                const InputMap& map) {
  const std::size_t dims = map.scale.size();
  Term term;
  term.name = name;
  term.kind = Kind::derivative;
  term.weight = weight;
  term.total = static_cast<double>(set.total);
  term.points = set.points.size() / dims;
  KARMAN_VERIFY(linear.size() == term.points * (1 + dims) && target.size() == term.points,
                "derivative_term: linear [points, 1 + dims] and target [points]");
  term.linear = std::move(linear);
  nn::taylor_input(network_input<T>(map, set.points), term.x, map.scale);
  term.data = device_column<T>(target, "karman::pinn::target");
  return term;
}

template <class T>
typename ResidualLoss<T>::Term ResidualLoss<T>::axis_derivative_term(const std::string& name,
                                                                     double weight,
                                                                     const PointSet& set, int axis,
                                                                     const Expression& target,
                                                                     const InputMap& map) {
  const std::size_t dims = map.scale.size(), n = set.points.size() / dims;
  std::vector<double> linear(n * (1 + dims), 0.0);
  for (std::size_t i = 0; i < n; ++i)
    linear[i * (1 + dims) + 1 + static_cast<std::size_t>(axis)] = 1;
  return derivative_term(
      name, weight, set, std::move(linear),
      evaluate_at(target, set.points, dims, static_cast<std::size_t>(m_pde.space)), map);
}

template <class T>
typename ResidualLoss<T>::Term ResidualLoss<T>::flux_term(const FluxCondition& condition,
                                                          const InputMap& map) {
  const std::size_t dims = map.scale.size(), n = condition.points.points.size() / dims;
  KARMAN_VERIFY(condition.normals.size() == n * dims, "flux_term: one normal per point");
  std::vector<double> target = evaluate_at(condition.value, condition.points.points, dims, dims);
  std::vector<double> linear(n * (1 + dims));
  std::optional<HardTransform> h;
  if (m_hard) h = HardTransform::at(*m_hard, condition.points.points, static_cast<int>(dims));
  for (std::size_t i = 0; i < n; ++i) {
    const double* normal = &condition.normals[i * dims];
    double* a = &linear[i * (1 + dims)];
    if (!h) {  // u = N
      a[0] = condition.alpha;
      for (std::size_t k = 0; k < dims; ++k) a[1 + k] = normal[k];
      continue;
    }
    // u = g + φN: α·u + n·∇u = (α·φ + n·∇φ)·N + φ·n·∇N + (α·g + n·∇g), channels of HardTransform.
    const double phi = h->phi[i];
    double n_grad_phi = 0, n_grad_g = 0;
    for (std::size_t k = 0; k < dims; ++k) {
      n_grad_phi += normal[k] * h->phi[(1 + k) * n + i];
      n_grad_g += normal[k] * h->g[(1 + k) * n + i];
    }
    a[0] = condition.alpha * phi + n_grad_phi;
    for (std::size_t k = 0; k < dims; ++k) a[1 + k] = normal[k] * phi;
    target[i] -= condition.alpha * h->g[i] + n_grad_g;
    if (!std::isfinite(a[0]) || !std::isfinite(target[i])) {
      // On a hard part itself (a corner it shares with this one) φ is not differentiable; u = g
      // holds there exactly, and the point adds nothing.
      std::fill(a, a + 1 + dims, 0.0);
      target[i] = 0;
    }
  }
  return derivative_term(condition.name, condition.weight, condition.points, std::move(linear),
                         std::move(target), map);
}

template <class T>
typename ResidualLoss<T>::Term ResidualLoss<T>::periodic_term(double weight, const PointSet& set,
                                                              int axis, const mesh::GridShape& box,
                                                              const InputMap& map) {
  const std::size_t dims = static_cast<std::size_t>(box.dim), pairs = set.points.size() / dims;
  std::vector<double> faces(2 * pairs * dims);
  for (std::size_t side = 0; side < 2; ++side)
    for (std::size_t i = 0; i < pairs; ++i)
      for (std::size_t d = 0; d < dims; ++d)
        faces[(side * pairs + i) * dims + d] = d == static_cast<std::size_t>(axis)
                                                   ? (side == 0 ? box.lower[d] : box.upper[d])
                                                   : set.points[i * dims + d];
  Term term;
  term.name = "periodic";
  term.kind = Kind::periodic;
  term.weight = weight;
  term.total = static_cast<double>(set.total);
  term.points = 2 * pairs;
  term.components = 2;
  term.axis = axis;
  nn::taylor_input(network_input<T>(map, faces), term.x, map.scale);
  term.data = nn::Matrix<T>("karman::pinn::no_data", term.points, 1);
  term.unfolded = nn::Matrix<T>("karman::pinn::unfolded", term.points, m_net.parameters().size());
  return term;
}

template <class T>
typename ResidualLoss<T>::Term ResidualLoss<T>::data_term(
    const std::string& name, double weight, const PointSet& set,
    const std::vector<const Expression*>& targets, const InputMap& map) {
  const std::size_t dims = map.scale.size();
  std::vector<std::vector<double>> values;
  for (const Expression* target : targets)
    values.push_back(evaluate_at(*target, set.points, dims, static_cast<std::size_t>(m_pde.space)));
  return values_term(name, weight, set, values, map);
}

template <class T>
typename ResidualLoss<T>::Term ResidualLoss<T>::values_term(
    const std::string& name, double weight, const PointSet& set,
    const std::vector<std::vector<double>>& values, const InputMap& map) {
  const std::size_t dims = map.scale.size();
  Term term;
  term.name = name;
  term.weight = weight;
  term.total = static_cast<double>(set.total);
  term.points = set.points.size() / dims;
  term.components = values.size();
  term.x = network_input<T>(map, set.points);
  term.data = nn::Matrix<T>("karman::pinn::target", term.points, term.components);
  auto data = Kokkos::create_mirror_view(term.data);
  for (std::size_t q = 0; q < values.size(); ++q) {
    for (std::size_t i = 0; i < term.points; ++i) data(i, q) = static_cast<T>(values[q][i]);
    term.outputs.push_back(static_cast<int>(q));
  }
  if (m_hard) {  // u = g + φN: the network's part of the mismatch is φN − (target − g)
    const HardTransform h = HardTransform::at(*m_hard, set.points, static_cast<int>(dims));
    std::vector<double> phi(term.points);
    for (std::size_t i = 0; i < term.points; ++i) {
      phi[i] = h.phi[i];  // the value channel (rows [0, n) of the stacked layout)
      for (std::size_t q = 0; q < values.size(); ++q) data(i, q) -= static_cast<T>(h.g[i]);
    }
    term.phi = device_column<T>(phi, "karman::pinn::phi");
  }
  Kokkos::deep_copy(term.data, data);
  return term;
}

template <class T>
double ResidualLoss<T>::evaluate(Term& term) {
  const std::size_t n = term.points, components = term.components;
  const nn::Matrix<T> r = term.r, data = term.data;
  double sum = 0;
  const nn::Pass pass = term.taylor() ? nn::Pass::derivatives(static_cast<std::size_t>(m_pde.dims))
                                      : nn::Pass::values();
  term.context = &m_net.forward(term.x, pass, m_workspace);
  const nn::Matrix<T> y = term.context->y;
  if (term.kind == Kind::periodic) {
    const std::size_t pairs = n / 2, derivative = 1 + static_cast<std::size_t>(term.axis);
    Kokkos::parallel_reduce(
        "karman::pinn::periodic_residual", Kokkos::RangePolicy<nn::ExecutionSpace>(0, pairs),
        KOKKOS_LAMBDA(const std::size_t i, double& local) {
          for (std::size_t q = 0; q < 2; ++q) {
            const std::size_t c = q == 0 ? 0 : derivative;
            const T rq = y(c * n + i, 0) - y(c * n + pairs + i, 0);
            r(q, i) = rq;
            local += static_cast<double>(rq) * static_cast<double>(rq);
          }
        },
        sum);
  } else if (term.kind == Kind::derivative) {
    // r = Σ_c a_c·y_c − target over the value and first-derivative channels; a_c is dr's
    // constant linearisation.
    const auto dr = term.dr;
    const std::size_t outputs = static_cast<std::size_t>(m_pde.outputs);
    const std::size_t linear_channels = 1 + static_cast<std::size_t>(m_pde.dims);
    Kokkos::parallel_reduce(
        "karman::pinn::derivative_residual", Kokkos::RangePolicy<nn::ExecutionSpace>(0, n),
        KOKKOS_LAMBDA(const std::size_t i, double& local) {
          T ri = -data(i, 0);
          for (std::size_t c = 0; c < linear_channels; ++c)
            ri += dr(i, 0, c * outputs) * y(c * n + i, 0);
          r(0, i) = ri;
          local += static_cast<double>(ri) * static_cast<double>(ri);
        },
        sum);
  } else if (term.kind == Kind::pde) {
    if (m_kappa) load_kappa();
    if (m_kappa) {  // ∂r/∂κ = −Δu, for the gradient and the Jacobian column of κ
      nn::ensure_shape(term.dkappa, "karman::pinn::dkappa", n, 1);
      const nn::Matrix<T> dk = term.dkappa;
      const std::size_t second = 1 + static_cast<std::size_t>(m_pde.dims);
      const std::size_t space = static_cast<std::size_t>(m_pde.space);
      Kokkos::parallel_for(
          "karman::pinn::dkappa", Kokkos::RangePolicy<nn::ExecutionSpace>(0, n),
          KOKKOS_LAMBDA(const std::size_t i) {
            T laplacian = 0;
            for (std::size_t k = 0; k < space; ++k) laplacian += y((second + k) * n + i, 0);
            dk(i, 0) = -laplacian;
          });
    }
    const auto dr = term.dr;
    const PointPdeParameters p = m_pde;
    const std::size_t outputs = static_cast<std::size_t>(p.outputs);
    const std::size_t channels = m_channels;
    const bool hard = term.phi.extent(0) > 0;
    const nn::Matrix<T> phi = term.phi, g = term.g;
    const bool weighted = term.point_weight.extent(0) > 0;
    const nn::Vector<T> point_weight = term.point_weight;
    Kokkos::parallel_reduce(
        "karman::pinn::pde_residual", Kokkos::RangePolicy<nn::ExecutionSpace>(0, n),
        KOKKOS_LAMBDA(const std::size_t i, double& local) {
          PointLinearisation<T> lin;
          if (hard)  // u = g + φN: the residual of u's jet, chained back to N's channels
            hard_residual(p, ChannelJet<T>{y, n, i}, ChannelJet<T>{phi, n, i},
                          ChannelJet<T>{g, n, i}, data(i, 0), lin);
          else
            point_residual(p, ChannelJet<T>{y, n, i}, data(i, 0), lin);
          for (std::size_t q = 0; q < components; ++q) {
            r(q, i) = lin.r[q];
            local += (weighted ? static_cast<double>(point_weight(i)) : 1.0) *
                     static_cast<double>(lin.r[q]) * static_cast<double>(lin.r[q]);
            for (std::size_t c = 0; c < channels; ++c)
              for (std::size_t o = 0; o < outputs; ++o) dr(i, q, c * outputs + o) = lin.dr[q][c][o];
          }
        },
        sum);
    if (!m_bin_of_point.empty()) record_bin_sums(term);
  } else {
    int matched[max_outputs] = {0, 0, 0};
    for (std::size_t q = 0; q < components; ++q) matched[q] = term.outputs[q];
    const int o0 = matched[0], o1 = matched[1], o2 = matched[2];
    const auto dr = term.dr;  // 1, or φ under a hard condition
    Kokkos::parallel_reduce(
        "karman::pinn::data_residual", Kokkos::RangePolicy<nn::ExecutionSpace>(0, n),
        KOKKOS_LAMBDA(const std::size_t i, double& local) {
          const int output[max_outputs] = {o0, o1, o2};
          for (std::size_t q = 0; q < components; ++q) {
            const T rq = dr(i, q, output[q]) * y(i, output[q]) - data(i, q);
            r(q, i) = rq;
            local += static_cast<double>(rq) * static_cast<double>(rq);
          }
        },
        sum);
  }
  return sum;
}

template <class T>
void ResidualLoss<T>::build_seed(Term& term, T factor, int component) {
  const std::size_t n = term.points, components = term.components;
  const std::size_t outputs = term.seed.extent(1), channels = term.seed.extent(0) / n;
  const std::size_t residual_points = term.residual_points();  // periodic: point i's pair i mod
  const nn::Matrix<T> seed = term.seed, r = term.r;
  const auto dr = term.dr;
  const bool weighted = term.point_weight.extent(0) > 0;  // causal: w_bin · r, w a constant
  const nn::Vector<T> point_weight = term.point_weight;
  Kokkos::parallel_for(
      "karman::pinn::seed", Kokkos::RangePolicy<nn::ExecutionSpace>(0, n),
      KOKKOS_LAMBDA(const std::size_t i) {
        T coefficient[max_components];
        const T weight = weighted ? point_weight(i) : T(1);
        for (std::size_t q = 0; q < components; ++q)
          coefficient[q] = component < 0 ? factor * weight * r(q, i % residual_points)
                                         : (static_cast<int>(q) == component ? factor : T(0));
        for (std::size_t c = 0; c < channels; ++c)
          for (std::size_t o = 0; o < outputs; ++o) {
            T sum = 0;
            for (std::size_t q = 0; q < components; ++q)
              sum += coefficient[q] * dr(i, q, c * outputs + o);
            seed(c * n + i, o) = sum;
          }
      });
}

template <class T>
std::vector<nn::LossTerm> ResidualLoss<T>::operator()(const nn::TermHooks* hooks) {
  // L_term = w/N_total Σ r², so the backward seed is (2w/N_total) r ∂r/∂(channels).
  std::vector<nn::LossTerm> terms;
  m_workspace.reset();
  for (std::size_t k = 0; k < m_terms.size(); ++k) {
    Term& term = m_terms[k];
    const double sum = evaluate(term);
    if (!hooks || hooks->wanted(k)) {
      build_seed(term, static_cast<T>(2.0 * term.weight / term.total), -1);
      m_net.backward(*term.context, term.seed);
      if (m_kappa && term.kind == Kind::pde)
        add_kappa_gradient(term, static_cast<T>(2.0 * term.weight / term.total));
    }
    if (hooks) hooks->done(k);
    terms.push_back({term.name, term.weight, sum / term.total});
  }
  return terms;
}

template <class T>
std::size_t ResidualLoss<T>::rows() const {
  std::size_t rows = 0;
  for (const Term& term : m_terms) rows += term.components * term.residual_points();
  return rows;
}

template <class T>
std::vector<nn::LossTerm> ResidualLoss<T>::residuals(const nn::Vector<T>& r,
                                                     const nn::Matrix<T>& jacobian) {
  KARMAN_VERIFY(r.extent(0) == rows(), "ResidualLoss::residuals: r must have rows() entries");
  KARMAN_VERIFY(m_bin_of_point.empty(),
                "ResidualLoss::residuals: causal weights are for gradients");
  std::vector<nn::LossTerm> terms;
  std::size_t offset = 0;
  m_workspace.reset();
  for (Term& term : m_terms) {
    const double sum = evaluate(term);
    terms.push_back({term.name, term.weight, sum / term.total});
    // Scaled residuals sqrt(w/N_total)·r_q(x_i), so that Σ r² is the weighted loss.
    const T scale = static_cast<T>(std::sqrt(term.weight / term.total));
    const std::size_t n = term.residual_points(), block = term.components * n;
    const nn::Matrix<T> unscaled = term.r;
    const std::size_t first = offset;
    Kokkos::parallel_for(
        "karman::pinn::scaled_residuals", Kokkos::RangePolicy<nn::ExecutionSpace>(0, block),
        KOKKOS_LAMBDA(const std::size_t j) { r(first + j) = scale * unscaled(j / n, j % n); });
    if (jacobian.extent(0) > 0) {
      for (std::size_t q = 0; q < term.components; ++q) {
        build_seed(term, scale, static_cast<int>(q));
        const auto rows_of_q = std::make_pair(offset + q * n, offset + (q + 1) * n);
        const nn::Matrix<T> block_rows = Kokkos::subview(jacobian, rows_of_q, Kokkos::ALL);
        if (term.kind == Kind::periodic) {
          // Rows of both faces (seeded +1 and −1), then row i = J_lower(i) − J_upper(i).
          m_net.backward(*term.context, term.seed, nn::Gradient<T>::per_point(term.unfolded));
          const nn::Matrix<T> unfolded = term.unfolded;
          const std::size_t params = jacobian.extent(1);
          Kokkos::parallel_for(
              "karman::pinn::fold_pairs",
              Kokkos::MDRangePolicy<nn::ExecutionSpace, Kokkos::Rank<2>>({0, 0}, {n, params}),
              KOKKOS_LAMBDA(const std::size_t i, const std::size_t k) {
                block_rows(i, k) = unfolded(i, k) + unfolded(n + i, k);
              });
        } else {
          m_net.backward(*term.context, term.seed, nn::Gradient<T>::per_point(block_rows));
          if (m_kappa && term.kind == Kind::pde) write_kappa_column(term, scale, block_rows);
        }
      }
    }
    offset += block;
  }
  return terms;
}

template <class T>
typename ResidualLoss<T>::Term& ResidualLoss<T>::pde_term() {
  for (Term& term : m_terms)
    if (term.kind == Kind::pde) return term;
  throw InternalError("ResidualLoss: no residual term");
}

template <class T>
void ResidualLoss<T>::set_time_bins(long bins) {
  KARMAN_VERIFY(bins > 0 && m_pde.space < m_pde.dims, "ResidualLoss: time bins need time");
  // The time input x̂_t ∈ [−1, 1] (the last column of the value rows [0, n) of the stacked x).
  const Term& term = pde_term();
  const auto x = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), term.x);
  const std::size_t time = static_cast<std::size_t>(m_pde.dims) - 1;
  m_bin_of_point.resize(term.points);
  for (std::size_t i = 0; i < term.points; ++i) {
    const double fraction = (static_cast<double>(x(i, time)) + 1.0) / 2.0;
    m_bin_of_point[i] = std::clamp(static_cast<long>(fraction * bins), 0L, bins - 1);
  }
  m_bin_sums.assign(static_cast<std::size_t>(bins), 0.0);
  set_time_weights(std::vector<double>(static_cast<std::size_t>(bins), 1.0));
}

template <class T>
void ResidualLoss<T>::set_time_weights(const std::vector<double>& weights) {
  KARMAN_VERIFY(weights.size() == m_bin_sums.size(), "ResidualLoss: one weight per time bin");
  Term& term = pde_term();
  if (term.point_weight.extent(0) != term.points)
    term.point_weight = nn::Vector<T>("karman::pinn::point_weight", term.points);
  auto h = Kokkos::create_mirror_view(term.point_weight);
  for (std::size_t i = 0; i < term.points; ++i) h(i) = static_cast<T>(weights[m_bin_of_point[i]]);
  Kokkos::deep_copy(term.point_weight, h);
}

template <class T>
std::vector<double> ResidualLoss<T>::residual_squares() {
  m_workspace.reset();
  Term& term = pde_term();
  evaluate(term);
  const auto r = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), term.r);
  std::vector<double> squares(term.points, 0.0);
  for (std::size_t i = 0; i < term.points; ++i)
    for (std::size_t q = 0; q < term.components; ++q)
      squares[i] += static_cast<double>(r(q, i)) * static_cast<double>(r(q, i));
  return squares;
}

// Host sums in point order: the same bits for a chunk wherever it runs.
template <class T>
void ResidualLoss<T>::record_bin_sums(const Term& term) {
  const auto r = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), term.r);
  std::fill(m_bin_sums.begin(), m_bin_sums.end(), 0.0);
  for (std::size_t i = 0; i < term.points; ++i)
    for (std::size_t q = 0; q < term.components; ++q)
      m_bin_sums[m_bin_of_point[i]] += static_cast<double>(r(q, i)) * static_cast<double>(r(q, i));
}

template <class T>
void ResidualLoss<T>::load_kappa() {
  const auto kappa =
      Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_net.parameters().value(*m_kappa));
  m_pde.kappa = static_cast<double>(kappa(0, 0));
}

// ∂L/∂κ += factor · Σ_i r_i ∂r_i/∂κ (the pde term; factor = 2w/N).
template <class T>
void ResidualLoss<T>::add_kappa_gradient(const Term& term, T factor) {
  const nn::Matrix<T> r = term.r, dk = term.dkappa;
  T sum = 0;
  Kokkos::parallel_reduce(
      "karman::pinn::kappa_gradient", Kokkos::RangePolicy<nn::ExecutionSpace>(0, term.points),
      KOKKOS_LAMBDA(const std::size_t i, T& local) { local += r(0, i) * dk(i, 0); }, sum);
  const nn::Matrix<T> gradient = m_net.parameters().gradient(*m_kappa);
  Kokkos::parallel_for(
      "karman::pinn::kappa_gradient_add", Kokkos::RangePolicy<nn::ExecutionSpace>(0, 1),
      KOKKOS_LAMBDA(const std::size_t) { gradient(0, 0) += factor * sum; });
}

// Column κ of the pde term's Jacobian rows: scale · ∂r_i/∂κ.
template <class T>
void ResidualLoss<T>::write_kappa_column(const Term& term, T scale, const nn::Matrix<T>& rows) {
  const nn::Matrix<T> dk = term.dkappa;
  const std::size_t column = m_net.parameters().info(*m_kappa).offset;
  Kokkos::parallel_for(
      "karman::pinn::kappa_column", Kokkos::RangePolicy<nn::ExecutionSpace>(0, term.points),
      KOKKOS_LAMBDA(const std::size_t i) { rows(i, column) = scale * dk(i, 0); });
}

template class ResidualLoss<float>;
template class ResidualLoss<double>;
template nn::Matrix<float> network_input<float>(const InputMap&, const std::vector<double>&);
template nn::Matrix<double> network_input<double>(const InputMap&, const std::vector<double>&);

}  // namespace karman::pinn
