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
Matrix<T> ModifiedMlp<T>::forward_pass(Pass& pass, const Matrix<T>& x, bool taylor) {
  const std::size_t dims = pass.dims;
  auto apply = [&](Linear<T>& layer, const Matrix<T>& input) {
    return taylor ? layer.forward_taylor(input, dims) : layer.forward(input);
  };
  pass.u = apply(*m_u, x);
  pass.v = apply(*m_v, x);
  Matrix<T> h = apply(*m_first, x);
  pass.z.resize(m_gates.size());
  pass.h.resize(m_gates.size());
  for (std::size_t k = 0; k < m_gates.size(); ++k) {
    pass.z[k] = apply(*m_gates[k], h);
    ensure_shape(pass.h[k], "karman::nn::modified_mlp::h", h.extent(0), h.extent(1));
    gate_forward(pass.u, pass.v, pass.z[k], pass.h[k], dims);
    h = pass.h[k];
  }
  return apply(*m_output, h);
}

template <class T>
Matrix<T> ModifiedMlp<T>::backward_pass(Pass& pass, const Matrix<T>& dy, bool taylor) {
  auto adjoint = [&](Linear<T>& layer, const Matrix<T>& dout) {
    return taylor ? layer.backward_taylor(dout) : layer.backward(dout);
  };
  const std::size_t rows = pass.u.extent(0), width = pass.u.extent(1);
  ensure_shape(pass.du, "karman::nn::modified_mlp::du", rows, width);
  ensure_shape(pass.dv, "karman::nn::modified_mlp::dv", rows, width);
  ensure_shape(pass.dz, "karman::nn::modified_mlp::dz", rows, width);
  Kokkos::deep_copy(pass.du, T(0));
  Kokkos::deep_copy(pass.dv, T(0));
  Matrix<T> g = adjoint(*m_output, dy);  // ∂L/∂H_{L+1}
  for (std::size_t k = m_gates.size(); k-- > 0;) {
    gate_backward(pass.u, pass.v, pass.z[k], g, pass.dz, pass.du, pass.dv, pass.dims);
    g = adjoint(*m_gates[k], pass.dz);  // ∂L/∂H_k
  }
  const Matrix<T> dx_first = adjoint(*m_first, g);
  const Matrix<T> dx_u = adjoint(*m_u, pass.du);
  const Matrix<T> dx_v = adjoint(*m_v, pass.dv);
  ensure_shape(pass.dx, "karman::nn::modified_mlp::dx", rows, dx_first.extent(1));
  sum3(dx_first, dx_u, dx_v, pass.dx);
  return pass.dx;
}

template <class T>
Matrix<T> ModifiedMlp<T>::forward(const Matrix<T>& x) {
  m_plain.dims = 0;
  return forward_pass(m_plain, x, false);
}

template <class T>
Matrix<T> ModifiedMlp<T>::backward(const Matrix<T>& dy) {
  return backward_pass(m_plain, dy, false);
}

template <class T>
Matrix<T> ModifiedMlp<T>::forward_taylor(const Matrix<T>& x, std::size_t dims) {
  KARMAN_VERIFY(x.extent(0) % (1 + 2 * dims) == 0,
                "ModifiedMlp::forward_taylor: input is not [C·N, in]");
  m_taylor.dims = dims;
  return forward_pass(m_taylor, x, true);
}

template <class T>
Matrix<T> ModifiedMlp<T>::backward_taylor(const Matrix<T>& dy) {
  return backward_pass(m_taylor, dy, true);
}

template class ModifiedMlp<float>;
template class ModifiedMlp<double>;

}  // namespace karman::nn
