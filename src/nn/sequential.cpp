#include "karman/nn/sequential.hpp"

#include "karman/core/error.hpp"
#include "karman/core/random.hpp"
#include "karman/nn/linear.hpp"

namespace karman::nn {

template <class T>
Sequential<T>& Sequential<T>::add(std::unique_ptr<Module<T>> module) {
  KARMAN_VERIFY(m_modules.empty() || m_modules.back()->out_features() == module->in_features(),
                "Sequential: widths do not chain");
  m_modules.push_back(std::move(module));
  return *this;
}

template <class T>
std::size_t Sequential<T>::in_features() const {
  return m_modules.empty() ? 0 : m_modules.front()->in_features();
}

template <class T>
std::size_t Sequential<T>::out_features() const {
  return m_modules.empty() ? 0 : m_modules.back()->out_features();
}

template <class T>
void Sequential<T>::declare(Parameters<T>& parameters, const std::string& prefix) {
  for (std::size_t i = 0; i < m_modules.size(); ++i)
    m_modules[i]->declare(parameters, prefix + std::to_string(i) + ".");
}

template <class T>
void Sequential<T>::initialize(std::uint64_t seed) {
  for (std::size_t i = 0; i < m_modules.size(); ++i) m_modules[i]->initialize(mix64(seed + i));
}

template <class T>
bool Sequential<T>::supports(const Pass& pass, GradientMode mode) const {
  for (const auto& m : m_modules)
    if (!m->supports(pass, mode)) return false;
  return true;
}

template <class T>
void Sequential<T>::forward_impl(Context<T>& context, Workspace<T>& workspace) {
  auto& c = this->template as<SequentialContext>(context);
  c.steps.clear();  // keeps its capacity: no allocation after the first step
  Matrix<T> h = c.x;
  for (auto& m : m_modules) {
    Context<T>& step = m->forward(h, c.pass, workspace);
    c.steps.push_back(&step);
    h = step.y;
  }
  c.y = h;
}

template <class T>
void Sequential<T>::backward_impl(Context<T>& context, const Matrix<T>& dy,
                                  const Gradient<T>& gradient) {
  auto& c = this->template as<SequentialContext>(context);
  Matrix<T> g = dy;
  for (std::size_t i = m_modules.size(); i-- > 0;)
    g = m_modules[i]->backward(*c.steps[i], g, gradient);
  c.dx = g;
}

template <class T>
void taylor_input(const Matrix<T>& x, Matrix<T>& stacked, const std::vector<double>& scales) {
  const std::size_t n = x.extent(0), dims = x.extent(1);
  KARMAN_VERIFY(scales.empty() || scales.size() == dims, "taylor_input: one scale per dimension");
  Vector<T> scale("karman::nn::taylor_input::scale", dims);
  auto host_scale = Kokkos::create_mirror_view(scale);
  for (std::size_t k = 0; k < dims; ++k)
    host_scale(k) = scales.empty() ? T(1) : static_cast<T>(scales[k]);
  Kokkos::deep_copy(scale, host_scale);
  ensure_shape(stacked, "karman::nn::taylor_input", (1 + 2 * dims) * n, dims);
  const Matrix<T> out = stacked;
  Kokkos::parallel_for(
      "karman::nn::taylor_input", Kokkos::RangePolicy<ExecutionSpace>(0, n),
      KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t c = 0; c < dims; ++c) {
          out(i, c) = x(i, c);
          for (std::size_t k = 0; k < dims; ++k) {
            out((1 + k) * n + i, c) = c == k ? scale(k) : T(0);  // ∂x_c/∂ξ_k
            out((1 + dims + k) * n + i, c) = T(0);               // ∂²x_c/∂x_k²
          }
        }
      });
}

template void taylor_input<float>(const Matrix<float>&, Matrix<float>&, const std::vector<double>&);
template void taylor_input<double>(const Matrix<double>&, Matrix<double>&,
                                   const std::vector<double>&);

// ------------------------------------------------------------------------------------ Residual

template <class T>
Residual<T>::Residual(std::unique_ptr<Module<T>> inner) : m_inner(std::move(inner)) {
  KARMAN_VERIFY(m_inner->in_features() == m_inner->out_features(),
                "Residual: f must keep the width");
}

template <class T>
void Residual<T>::declare(Parameters<T>& parameters, const std::string& prefix) {
  m_inner->declare(parameters, prefix + "inner.");
}

namespace {

// out = a + b, elementwise over [rows, cols].
template <class T>
void add(const Matrix<T>& a, const Matrix<T>& b, const Matrix<T>& out, const char* label) {
  const std::size_t cols = out.extent(1);
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<ExecutionSpace>(0, out.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t j = 0; j < cols; ++j) out(i, j) = a(i, j) + b(i, j);
      });
}

}  // namespace

template <class T>
void Residual<T>::forward_impl(Context<T>& context, Workspace<T>& workspace) {
  auto& c = this->template as<ResidualContext>(context);
  c.inner = &m_inner->forward(c.x, c.pass, workspace);
  ensure_shape(c.y, "karman::nn::residual::y", c.x.extent(0), c.x.extent(1));
  add(c.x, c.inner->y, c.y, "karman::nn::residual::forward");
}

template <class T>
void Residual<T>::backward_impl(Context<T>& context, const Matrix<T>& dy,
                                const Gradient<T>& gradient) {
  auto& c = this->template as<ResidualContext>(context);
  const Matrix<T> dfx = m_inner->backward(*c.inner, dy, gradient);
  ensure_shape(c.dx, "karman::nn::residual::dx", dy.extent(0), dy.extent(1));
  add(dy, dfx, c.dx, "karman::nn::residual::backward");
}

// ----------------------------------------------------------------------------------- Pointwise

template <class T>
void Pointwise<T>::forward_impl(Context<T>& c, Workspace<T>&) {
  const Matrix<T> x = c.x;
  ensure_shape(c.y, "karman::nn::activation::y", x.extent(0), m_width);
  const Matrix<T> y = c.y;
  const std::size_t cols = m_width;
  with_activation(m_activation, [&](auto act) {
    Kokkos::parallel_for(
        "karman::nn::activation::forward", Kokkos::RangePolicy<ExecutionSpace>(0, x.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          const T* KOKKOS_RESTRICT xi = &x(i, 0);
          T* KOKKOS_RESTRICT yi = &y(i, 0);
#pragma omp simd
          for (std::size_t j = 0; j < cols; ++j) yi[j] = activate(act.value, xi[j]);
        });
  });
}

template <class T>
void Pointwise<T>::backward_impl(Context<T>& c, const Matrix<T>& dy, const Gradient<T>&) {
  ensure_shape(c.dx, "karman::nn::activation::dx", dy.extent(0), m_width);
  const Matrix<T> dx = c.dx, x = c.x;
  const std::size_t cols = m_width;
  with_activation(m_activation, [&](auto act) {
    Kokkos::parallel_for(
        "karman::nn::activation::backward", Kokkos::RangePolicy<ExecutionSpace>(0, dy.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          const T* KOKKOS_RESTRICT xi = &x(i, 0);
          const T* KOKKOS_RESTRICT dyi = &dy(i, 0);
          T* KOKKOS_RESTRICT dxi = &dx(i, 0);
#pragma omp simd
          for (std::size_t j = 0; j < cols; ++j)
            dxi[j] = dyi[j] * activate_derivative(act.value, xi[j]);
        });
  });
}

template <class T>
std::unique_ptr<Sequential<T>> make_mlp(const std::vector<std::size_t>& widths, Activation hidden,
                                        bool bias, Init init) {
  KARMAN_VERIFY(widths.size() >= 2, "make_mlp: need at least input and output widths");
  auto mlp = std::make_unique<Sequential<T>>();
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    const bool last = i + 2 == widths.size();
    mlp->add(std::make_unique<Linear<T>>(widths[i], widths[i + 1], bias,
                                         last ? Activation::identity : hidden, init));
  }
  return mlp;
}

template class Sequential<float>;
template class Sequential<double>;
template class Residual<float>;
template class Residual<double>;
template class Pointwise<float>;
template class Pointwise<double>;
template std::unique_ptr<Sequential<float>> make_mlp<float>(const std::vector<std::size_t>&,
                                                            Activation, bool, Init);
template std::unique_ptr<Sequential<double>> make_mlp<double>(const std::vector<std::size_t>&,
                                                              Activation, bool, Init);

}  // namespace karman::nn
