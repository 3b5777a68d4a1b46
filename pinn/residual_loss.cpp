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

template <class E>
std::vector<double> evaluate_at(const E& e, const std::vector<double>& points, std::size_t dims) {
  std::vector<double> out(points.size() / dims);
  for (std::size_t i = 0; i < out.size(); ++i) {
    double p[3] = {0, 0, 0};
    for (std::size_t d = 0; d < dims; ++d) p[d] = points[i * dims + d];
    out[i] = e(p[0], p[1], p[2], 0.0);
  }
  return out;
}

}  // namespace

template <class T>
SteadyResidualLoss<T>::SteadyResidualLoss(nn::Network<T>& net, const config::PdeSpec& pde,
                                          const mesh::GridShape& box,
                                          const std::vector<double>& interior, long interior_total,
                                          const std::vector<double>& boundary, long boundary_total,
                                          double residual_weight, double boundary_weight)
    : m_net(net),
      m_map(InputMap::for_box(box)),
      m_dims(static_cast<std::size_t>(box.dim)),
      m_interior_total(static_cast<double>(interior_total)),
      m_boundary_total(static_cast<double>(boundary_total)),
      m_residual_weight(residual_weight),
      m_boundary_weight(boundary_weight) {
  KARMAN_VERIFY(pde.type == config::PdeType::poisson, "SteadyResidualLoss: Poisson only so far");
  nn::taylor_input(network_input<T>(m_map, interior), m_interior, m_map.scale);
  const std::size_t n = interior.size() / m_dims, m = boundary.size() / m_dims;
  const auto f = evaluate_at(*pde.source, interior, m_dims);
  const auto g = evaluate_at(*pde.boundary, boundary, m_dims);
  m_source = nn::Vector<T>("karman::pinn::source", n);
  m_dirichlet = nn::Matrix<T>("karman::pinn::dirichlet", m, 1);
  auto hf = Kokkos::create_mirror_view(m_source);
  auto hg = Kokkos::create_mirror_view(m_dirichlet);
  for (std::size_t i = 0; i < n; ++i) hf(i) = static_cast<T>(f[i]);
  for (std::size_t i = 0; i < m; ++i) hg(i, 0) = static_cast<T>(g[i]);
  Kokkos::deep_copy(m_source, hf);
  Kokkos::deep_copy(m_dirichlet, hg);
  m_boundary = network_input<T>(m_map, boundary);
  m_dy_interior = nn::Matrix<T>("karman::pinn::dy_interior", m_interior.extent(0), 1);
  m_dy_boundary = nn::Matrix<T>("karman::pinn::dy_boundary", m, 1);
}

template <class T>
std::vector<nn::LossTerm> SteadyResidualLoss<T>::operator()() {
  // Interior: r = poisson_residual(Σ_k u_kk, f); L_r = Σ r² / N_total.
  // ∂L_r/∂u_kk = -2 r / N_total (scaled by the term's weight for the backward pass).
  const nn::Matrix<T> channels = m_net.forward_taylor(m_interior, m_dims);
  const std::size_t n = m_source.extent(0), dims = m_dims;
  const nn::Matrix<T> dy = m_dy_interior;
  const nn::Vector<T> f = m_source;
  const T scale = static_cast<T>(2.0 * m_residual_weight / m_interior_total);
  Kokkos::deep_copy(dy, T(0));
  double residual_sum = 0;
  Kokkos::parallel_reduce(
      "karman::pinn::poisson_residual", Kokkos::RangePolicy<nn::ExecutionSpace>(0, n),
      KOKKOS_LAMBDA(const std::size_t i, double& local) {
        T laplacian = 0;
        for (std::size_t k = 0; k < dims; ++k) laplacian += channels((1 + dims + k) * n + i, 0);
        const T r = static_cast<T>(pde::poisson_residual(laplacian, f(i)));
        for (std::size_t k = 0; k < dims; ++k) dy((1 + dims + k) * n + i, 0) = -scale * r;
        local += static_cast<double>(r) * static_cast<double>(r);
      },
      residual_sum);
  m_net.backward_taylor(dy);

  // Boundary: L_b = Σ (u - g)² / M_total through the plain forward/backward.
  const nn::Matrix<T> u = m_net.forward(m_boundary);
  const double boundary = nn::mse_loss(u, m_dirichlet, m_dy_boundary, m_boundary_total);
  const nn::Matrix<T> dyb = m_dy_boundary;
  const T weight = static_cast<T>(m_boundary_weight);
  Kokkos::parallel_for(
      "karman::pinn::boundary_weight", Kokkos::RangePolicy<nn::ExecutionSpace>(0, dyb.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) { dyb(i, 0) *= weight; });
  m_net.backward(dyb);
  return {{"residual", m_residual_weight, residual_sum / m_interior_total},
          {"boundary", m_boundary_weight, boundary}};
}

template class SteadyResidualLoss<float>;
template class SteadyResidualLoss<double>;
template nn::Matrix<float> network_input<float>(const InputMap&, const std::vector<double>&);
template nn::Matrix<double> network_input<double>(const InputMap&, const std::vector<double>&);

}  // namespace karman::pinn
