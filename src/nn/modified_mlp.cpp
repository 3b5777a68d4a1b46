#include "karman/nn/modified_mlp.hpp"

#include "karman/core/error.hpp"
#include "karman/core/random.hpp"
#include "karman/nn/taylor_rules.hpp"

namespace karman::nn {
namespace {

// The gate H = U + Z ⊙ D, D = V − U, on channel stacks [C·N, h] (C = 1 + 2·dims; dims = 0 is a
// plain batch of N rows). D's channels are V's minus U's (D is linear in U and V), and Z ⊙ D
// follows the product rule. Row pointers of point i per channel (local to the kernel) let the
// loops over neurons vectorise, as in Linear.
template <class T>
void gate_forward(const Matrix<T>& u, const Matrix<T>& v, const Matrix<T>& z, const Matrix<T>& h,
                  std::size_t dims) {
  const std::size_t n = h.extent(0) / (1 + 2 * dims), width = h.extent(1);
  Kokkos::parallel_for(
      "karman::nn::modified_mlp::gate_forward", Kokkos::RangePolicy<ExecutionSpace>(0, n),
      KOKKOS_LAMBDA(const std::size_t i) {
        const T* KOKKOS_RESTRICT u0 = &u(i, 0);
        const T* KOKKOS_RESTRICT v0 = &v(i, 0);
        const T* KOKKOS_RESTRICT z0 = &z(i, 0);
        T* KOKKOS_RESTRICT h0 = &h(i, 0);
#pragma omp simd
        for (std::size_t j = 0; j < width; ++j) h0[j] = u0[j] + z0[j] * (v0[j] - u0[j]);
        for (std::size_t k = 0; k < dims; ++k) {
          const std::size_t rk = (1 + k) * n + i, rkk = (1 + dims + k) * n + i;
          const T* KOKKOS_RESTRICT uk = &u(rk, 0);
          const T* KOKKOS_RESTRICT ukk = &u(rkk, 0);
          const T* KOKKOS_RESTRICT vk = &v(rk, 0);
          const T* KOKKOS_RESTRICT vkk = &v(rkk, 0);
          const T* KOKKOS_RESTRICT zk = &z(rk, 0);
          const T* KOKKOS_RESTRICT zkk = &z(rkk, 0);
          T* KOKKOS_RESTRICT hk = &h(rk, 0);
          T* KOKKOS_RESTRICT hkk = &h(rkk, 0);
#pragma omp simd
          for (std::size_t j = 0; j < width; ++j) {
            T zd_k, zd_kk;
            taylor::product(z0[j], zk[j], zkk[j], v0[j] - u0[j], vk[j] - uk[j], vkk[j] - ukk[j],
                            zd_k, zd_kk);
            hk[j] = uk[j] + zd_k;
            hkk[j] = ukk[j] + zd_kk;
          }
        }
      });
}

// The adjoint of gate_forward: from g = ∂L/∂H (every channel) writes dz = ∂L/∂Z and adds
// ∂L/∂U = g − D̄ to du and ∂L/∂V = D̄ to dv. The values' Z̄ and D̄ gather a term from every
// direction k; they are accumulated in place (dz, and D̄ into dv and −D̄ into du).
template <class T>
void gate_backward(const Matrix<T>& u, const Matrix<T>& v, const Matrix<T>& z, const Matrix<T>& g,
                   const Matrix<T>& dz, const Matrix<T>& du, const Matrix<T>& dv,
                   std::size_t dims) {
  const std::size_t n = g.extent(0) / (1 + 2 * dims), width = g.extent(1);
  Kokkos::parallel_for(
      "karman::nn::modified_mlp::gate_backward", Kokkos::RangePolicy<ExecutionSpace>(0, n),
      KOKKOS_LAMBDA(const std::size_t i) {
        const T* KOKKOS_RESTRICT u0 = &u(i, 0);
        const T* KOKKOS_RESTRICT v0 = &v(i, 0);
        const T* KOKKOS_RESTRICT z0 = &z(i, 0);
        const T* KOKKOS_RESTRICT g0 = &g(i, 0);
        T* KOKKOS_RESTRICT dz0 = &dz(i, 0);
        T* KOKKOS_RESTRICT du0 = &du(i, 0);
        T* KOKKOS_RESTRICT dv0 = &dv(i, 0);
#pragma omp simd
        for (std::size_t j = 0; j < width; ++j) {
          const T d_bar = g0[j] * z0[j];
          dz0[j] = g0[j] * (v0[j] - u0[j]);
          du0[j] += g0[j] - d_bar;
          dv0[j] += d_bar;
        }
        for (std::size_t k = 0; k < dims; ++k) {
          const std::size_t rk = (1 + k) * n + i, rkk = (1 + dims + k) * n + i;
          const T* KOKKOS_RESTRICT uk = &u(rk, 0);
          const T* KOKKOS_RESTRICT ukk = &u(rkk, 0);
          const T* KOKKOS_RESTRICT vk = &v(rk, 0);
          const T* KOKKOS_RESTRICT vkk = &v(rkk, 0);
          const T* KOKKOS_RESTRICT zk = &z(rk, 0);
          const T* KOKKOS_RESTRICT zkk = &z(rkk, 0);
          const T* KOKKOS_RESTRICT gk = &g(rk, 0);
          const T* KOKKOS_RESTRICT gkk = &g(rkk, 0);
          T* KOKKOS_RESTRICT dzk = &dz(rk, 0);
          T* KOKKOS_RESTRICT dzkk = &dz(rkk, 0);
          T* KOKKOS_RESTRICT duk = &du(rk, 0);
          T* KOKKOS_RESTRICT dukk = &du(rkk, 0);
          T* KOKKOS_RESTRICT dvk = &dv(rk, 0);
          T* KOKKOS_RESTRICT dvkk = &dv(rkk, 0);
#pragma omp simd
          for (std::size_t j = 0; j < width; ++j) {
            T z_bar = T(0), d_bar = T(0), dk_bar, dkk_bar;
            taylor::product_adjoint(z0[j], zk[j], zkk[j], v0[j] - u0[j], vk[j] - uk[j],
                                    vkk[j] - ukk[j], gk[j], gkk[j], z_bar, dzk[j], dzkk[j], d_bar,
                                    dk_bar, dkk_bar);
            dz0[j] += z_bar;
            du0[j] -= d_bar;
            dv0[j] += d_bar;
            duk[j] += gk[j] - dk_bar;
            dukk[j] += gkk[j] - dkk_bar;
            dvk[j] += dk_bar;
            dvkk[j] += dkk_bar;
          }
        }
      });
}

// out = a + b + c, elementwise.
template <class T>
void sum3(const Matrix<T>& a, const Matrix<T>& b, const Matrix<T>& c, const Matrix<T>& out) {
  const std::size_t cols = out.extent(1);
  Kokkos::parallel_for(
      "karman::nn::modified_mlp::sum", Kokkos::RangePolicy<ExecutionSpace>(0, out.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t j = 0; j < cols; ++j) out(i, j) = a(i, j) + b(i, j) + c(i, j);
      });
}

}  // namespace

template <class T>
ModifiedMlp<T>::ModifiedMlp(const std::vector<std::size_t>& widths, Activation hidden, Init init) {
  KARMAN_VERIFY(widths.size() >= 4,
                "ModifiedMlp: need widths {in, h, h, ..., out} with at least two hidden layers");
  const std::size_t in = widths.front(), width = widths[1], out = widths.back();
  for (std::size_t i = 1; i + 1 < widths.size(); ++i)
    KARMAN_VERIFY(widths[i] == width, "ModifiedMlp: the hidden layers must have equal widths");
  m_u = std::make_unique<Linear<T>>(in, width, true, hidden, init);
  m_v = std::make_unique<Linear<T>>(in, width, true, hidden, init);
  m_first = std::make_unique<Linear<T>>(in, width, true, hidden, init);
  for (std::size_t i = 2; i + 1 < widths.size(); ++i)
    m_gates.push_back(std::make_unique<Linear<T>>(width, width, true, hidden, init));
  m_output = std::make_unique<Linear<T>>(width, out, true, Activation::identity, init);
}

template <class T>
void ModifiedMlp<T>::declare(Parameters<T>& parameters, const std::string& prefix) {
  m_u->declare(parameters, prefix + "encoder_u.");
  m_v->declare(parameters, prefix + "encoder_v.");
  m_first->declare(parameters, prefix + "hidden.0.");
  for (std::size_t k = 0; k < m_gates.size(); ++k)
    m_gates[k]->declare(parameters, prefix + "hidden." + std::to_string(k + 1) + ".");
  m_output->declare(parameters, prefix + "output.");
}

template <class T>
void ModifiedMlp<T>::initialize(std::uint64_t seed) {
  std::uint64_t layer = 0;
  for (Linear<T>* l : {m_u.get(), m_v.get(), m_first.get()}) l->initialize(mix64(seed + layer++));
  for (auto& gate : m_gates) gate->initialize(mix64(seed + layer++));
  m_output->initialize(mix64(seed + layer));
}

template <class T>
void ModifiedMlp<T>::forward_impl(Context<T>& context, Workspace<T>& workspace) {
  auto& c = this->template as<ModifiedMlpContext>(context);
  const Pass pass = c.pass;
  c.u = &m_u->forward(c.x, pass, workspace);
  c.v = &m_v->forward(c.x, pass, workspace);
  c.first = &m_first->forward(c.x, pass, workspace);
  Matrix<T> h = c.first->y;
  c.z.resize(m_gates.size());
  c.h.resize(m_gates.size());
  for (std::size_t k = 0; k < m_gates.size(); ++k) {
    c.z[k] = &m_gates[k]->forward(h, pass, workspace);
    ensure_shape(c.h[k], "karman::nn::modified_mlp::h", h.extent(0), h.extent(1));
    gate_forward(c.u->y, c.v->y, c.z[k]->y, c.h[k], pass.dims);
    h = c.h[k];
  }
  c.output = &m_output->forward(h, pass, workspace);
  c.y = c.output->y;
}

template <class T>
void ModifiedMlp<T>::backward_impl(Context<T>& context, const Matrix<T>& dy,
                                   const Gradient<T>& gradient) {
  auto& c = this->template as<ModifiedMlpContext>(context);
  const Matrix<T> u = c.u->y, v = c.v->y;
  const std::size_t rows = u.extent(0), width = u.extent(1);
  ensure_shape(c.du, "karman::nn::modified_mlp::du", rows, width);
  ensure_shape(c.dv, "karman::nn::modified_mlp::dv", rows, width);
  ensure_shape(c.dz, "karman::nn::modified_mlp::dz", rows, width);
  Kokkos::deep_copy(c.du, T(0));
  Kokkos::deep_copy(c.dv, T(0));
  Matrix<T> g = m_output->backward(*c.output, dy, gradient);  // ∂L/∂H_{L+1}
  for (std::size_t k = m_gates.size(); k-- > 0;) {
    gate_backward(u, v, c.z[k]->y, g, c.dz, c.du, c.dv, c.pass.dims);
    g = m_gates[k]->backward(*c.z[k], c.dz, gradient);  // ∂L/∂H_k
  }
  const Matrix<T> dx_first = m_first->backward(*c.first, g, gradient);
  const Matrix<T> dx_u = m_u->backward(*c.u, c.du, gradient);
  const Matrix<T> dx_v = m_v->backward(*c.v, c.dv, gradient);
  ensure_shape(c.dx, "karman::nn::modified_mlp::dx", rows, dx_first.extent(1));
  sum3(dx_first, dx_u, dx_v, c.dx);
}

template class ModifiedMlp<float>;
template class ModifiedMlp<double>;

}  // namespace karman::nn
