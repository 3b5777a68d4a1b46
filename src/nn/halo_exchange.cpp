#include "karman/nn/halo_exchange.hpp"

#include <utility>

#include "karman/core/error.hpp"

namespace karman::nn {

template <class T>
HaloExchange<T>::HaloExchange(mesh::Halo halo, std::size_t node_features, std::size_t edge_features)
    : m_halo(std::move(halo)), m_node_features(node_features), m_edge_features(edge_features) {}

template <class T>
void HaloExchange<T>::forward_impl(GraphContext<T>& c, Workspace<T>& workspace) {
  (void)workspace;
  KARMAN_VERIFY(c.graph.nodes == m_halo.rows(),
                "halo_exchange: a graph of " + std::to_string(c.graph.nodes) +
                    " nodes, the halo's has " + std::to_string(m_halo.rows()));
  ensure_shape(c.h_out, "karman::nn::halo_exchange::h_out", c.h.extent(0), c.h.extent(1));
  Kokkos::deep_copy(c.h_out, c.h);
  m_halo.update(c.h_out);
  c.e_out = c.e;
}

template <class T>
void HaloExchange<T>::backward_impl(GraphContext<T>& c, const Matrix<T>& dh_out,
                                    const Matrix<T>& de_out, const Gradient<T>& gradient) {
  (void)gradient;  // no parameters
  ensure_shape(c.dh, "karman::nn::halo_exchange::dh", dh_out.extent(0), dh_out.extent(1));
  Kokkos::deep_copy(c.dh, dh_out);
  m_halo.reduce(c.dh);
  c.de = de_out;
}

template class HaloExchange<float>;
template class HaloExchange<double>;

}  // namespace karman::nn
