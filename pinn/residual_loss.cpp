#include "pinn/residual_loss.hpp"

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

template <class T>
nn::Matrix<T> column(const std::vector<double>& values, const char* label) {
  nn::Matrix<T> m(std::string(label), values.size(), std::size_t(1));
  auto h = Kokkos::create_mirror_view(m);
  for (std::size_t i = 0; i < values.size(); ++i) h(i, 0) = static_cast<T>(values[i]);
  Kokkos::deep_copy(m, h);
  return m;
}

}  // namespace

template <class T>
ResidualLoss<T>::ResidualLoss(nn::Network<T>& net, const config::PdeSpec& pde,
                              const mesh::GridShape& box, const PointSet& interior,
                              const PointSet& boundary, const PointSet& initial,
                              LossWeights weights)
    : m_net(net),
      m_type(pde.type),
      m_kappa(pde.kappa),
      m_dims(static_cast<std::size_t>(box.dim)),
      m_space_dims(pde.time_dependent() ? m_dims - 1 : m_dims),
      m_interior_total(static_cast<double>(interior.total)),
      m_residual_weight(weights.residual) {
  KARMAN_VERIFY(m_type == config::PdeType::poisson || m_type == config::PdeType::heat,
                "ResidualLoss: poisson and heat so far");
  const InputMap map = InputMap::for_box(box);
  nn::taylor_input(network_input<T>(map, interior.points), m_interior, map.scale);
  const auto f = evaluate_at(*pde.source, interior.points, m_dims, m_space_dims);
  m_source = nn::Vector<T>("karman::pinn::source", f.size());
  auto host_source = Kokkos::create_mirror_view(m_source);
  for (std::size_t i = 0; i < f.size(); ++i) host_source(i) = static_cast<T>(f[i]);
  Kokkos::deep_copy(m_source, host_source);
  m_dy_interior = nn::Matrix<T>("karman::pinn::dy_interior", m_interior.extent(0), 1);

  auto add_term = [&](const char* name, double weight, const PointSet& set, const Expression& e) {
    DataTerm term;
    term.name = name;
    term.weight = weight;
    term.total = static_cast<double>(set.total);
    term.x = network_input<T>(map, set.points);
    term.target =
        column<T>(evaluate_at(e, set.points, m_dims, m_space_dims), "karman::pinn::target");
    term.dy = nn::Matrix<T>("karman::pinn::dy_data", term.x.extent(0), 1);
    m_data.push_back(term);
  };
  add_term("boundary", weights.boundary, boundary, *pde.boundary);
  if (pde.time_dependent()) {
    KARMAN_VERIFY(pde.initial && pde.initial->expression,
                  "ResidualLoss: initial state must be an expression");
    add_term("initial", weights.initial, initial, *pde.initial->expression);
  }
}

template <class T>
nn::LossTerm ResidualLoss<T>::data_term(DataTerm& term) {
  const nn::Matrix<T> u = m_net.forward(term.x);
  const double value = nn::mse_loss(u, term.target, term.dy, term.total);
  const nn::Matrix<T> dy = term.dy;
  const T weight = static_cast<T>(term.weight);
  Kokkos::parallel_for(
      "karman::pinn::data_weight", Kokkos::RangePolicy<nn::ExecutionSpace>(0, dy.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) { dy(i, 0) *= weight; });
  m_net.backward(dy);
  return {term.name, term.weight, value};
}

template <class T>
std::vector<nn::LossTerm> ResidualLoss<T>::operator()() {
  // Interior: L_r = Σ r² / N_total with r linear in the channels:
  //   poisson  r = poisson_residual(Δu, f) = -Δu - f
  //   heat     r = heat_residual(u_t, κ, Δu, f) = u_t - κΔu - f   (t: the last input)
  // so ∂L_r/∂u_kk = -2 c r / N_total (c = 1 or κ) and ∂L_r/∂u_t = 2 r / N_total.
  const nn::Matrix<T> channels = m_net.forward_taylor(m_interior, m_dims);
  const std::size_t n = m_source.extent(0), dims = m_dims, space = m_space_dims;
  const nn::Matrix<T> dy = m_dy_interior;
  const nn::Vector<T> f = m_source;
  const T scale = static_cast<T>(2.0 * m_residual_weight / m_interior_total);
  const bool heat = m_type == config::PdeType::heat;
  const T kappa = static_cast<T>(m_kappa);
  Kokkos::deep_copy(dy, T(0));
  double residual_sum = 0;
  Kokkos::parallel_reduce(
      "karman::pinn::residual", Kokkos::RangePolicy<nn::ExecutionSpace>(0, n),
      KOKKOS_LAMBDA(const std::size_t i, double& local) {
        T laplacian = 0;
        for (std::size_t k = 0; k < space; ++k) laplacian += channels((1 + dims + k) * n + i, 0);
        const T u_t = heat ? channels((1 + space) * n + i, 0) : T(0);
        const T r = heat ? static_cast<T>(pde::heat_residual(u_t, kappa, laplacian, f(i)))
                         : static_cast<T>(pde::poisson_residual(laplacian, f(i)));
        const T c = heat ? kappa : T(1);
        for (std::size_t k = 0; k < space; ++k) dy((1 + dims + k) * n + i, 0) = -c * scale * r;
        if (heat) dy((1 + space) * n + i, 0) = scale * r;
        local += static_cast<double>(r) * static_cast<double>(r);
      },
      residual_sum);
  m_net.backward_taylor(dy);
  std::vector<nn::LossTerm> terms{{"residual", m_residual_weight, residual_sum / m_interior_total}};
  for (auto& term : m_data) terms.push_back(data_term(term));
  return terms;
}

template class ResidualLoss<float>;
template class ResidualLoss<double>;
template nn::Matrix<float> network_input<float>(const InputMap&, const std::vector<double>&);
template nn::Matrix<double> network_input<double>(const InputMap&, const std::vector<double>&);

}  // namespace karman::pinn
