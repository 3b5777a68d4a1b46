// The multilevel residual CNN (operators/precond/cnn.hpp).
#include "operators/precond/cnn.hpp"

#include <algorithm>
#include <string>

#include "karman/core/error.hpp"

namespace karman::precond {
namespace {

using nn::Activation;
using nn::ExecutionSpace;

// h = act(a), entry by entry.
template <class T>
void activate_all(Activation act, const Matrix<T>& a, const Matrix<T>& h) {
  const std::size_t cols = a.extent(1);
  Kokkos::parallel_for(
      "karman::cnn::activate", Kokkos::RangePolicy<ExecutionSpace>(0, a.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t c = 0; c < cols; ++c) h(r, c) = nn::activate(act, a(r, c));
      });
}

// out = a + b.
template <class T>
void add(const Matrix<T>& a, const Matrix<T>& b, const Matrix<T>& out) {
  const std::size_t cols = a.extent(1);
  Kokkos::parallel_for(
      "karman::cnn::add", Kokkos::RangePolicy<ExecutionSpace>(0, a.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t c = 0; c < cols; ++c) out(r, c) = a(r, c) + b(r, c);
      });
}

// din = through + dh ∘ act'(a), or dh ∘ act'(a) when `through` is empty.
template <class T>
void activation_gradient(Activation act, const Matrix<T>& through, const Matrix<T>& dh,
                         const Matrix<T>& a, const Matrix<T>& din) {
  const std::size_t cols = a.extent(1);
  const bool residual = through.data() != nullptr;
  Kokkos::parallel_for(
      "karman::cnn::activation_gradient", Kokkos::RangePolicy<ExecutionSpace>(0, a.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t c = 0; c < cols; ++c)
          din(r, c) =
              (residual ? through(r, c) : T(0)) + dh(r, c) * nn::activate_derivative(act, a(r, c));
      });
}

}  // namespace

std::vector<std::vector<long>> cnn_level_shapes(const std::vector<long>& shape, long coarsest) {
  std::vector<std::vector<long>> shapes{shape};
  auto coarsens = [coarsest](const std::vector<long>& s) {
    for (long n : s)
      if (n <= coarsest || n % 2 != 0) return false;
    return true;
  };
  while (coarsens(shapes.back())) shapes.push_back(coarse_shape(shapes.back()));
  return shapes;
}

template <class T>
CnnModel<T>::CnnModel(const CnnSpec& spec, long in_channels, long out_channels)
    : m_spec(spec), m_in(in_channels), m_out(out_channels) {
  KARMAN_VERIFY(spec.dims >= 1 && spec.dims <= 3 && spec.width >= 1 && spec.levels >= 1 &&
                    spec.blocks >= 0 && spec.coarsest >= 1 && in_channels >= 1 && out_channels >= 1,
                "CnnModel: 1 to 3 dimensions, positive width, levels, coarsest and channels");
  const long width = spec.width;
  m_lift = std::make_unique<GridConv<T>>(in_channels, width, spec.dims);
  m_output = std::make_unique<GridConv<T>>(width, out_channels, spec.dims);
  for (long k = 0; k < spec.levels * spec.blocks; ++k) {
    m_down.push_back(std::make_unique<GridConv<T>>(width, width, spec.dims));
    m_up.push_back(std::make_unique<GridConv<T>>(width, width, spec.dims));
  }
  m_pool = std::make_unique<GridPoolDown<T>>(width, spec.dims);
  m_upsample = std::make_unique<GridUpsample<T>>(width, spec.dims);
}

template <class T>
CnnModel<T>::~CnnModel() = default;

template <class T>
void CnnModel<T>::set_grid(const std::vector<long>& shape) {
  KARMAN_VERIFY(static_cast<int>(shape.size()) == m_spec.dims,
                "CnnModel: grid of the wrong dimension");
  m_shapes = cnn_level_shapes(shape, m_spec.coarsest);
}

template <class T>
void CnnModel<T>::declare(nn::Parameters<T>& parameters, const std::string& prefix) {
  m_parameters = &parameters;
  m_first_parameter = parameters.count();
  m_lift->declare(parameters, prefix + "lift.");
  for (std::size_t k = 0; k < m_down.size(); ++k)
    m_down[k]->declare(parameters, prefix + "down." + std::to_string(k) + ".");
  for (std::size_t k = 0; k < m_up.size(); ++k)
    m_up[k]->declare(parameters, prefix + "up." + std::to_string(k) + ".");
  m_output->declare(parameters, prefix + "output.");
  m_end_parameter = parameters.count();
}

template <class T>
void CnnModel<T>::initialize(std::uint64_t seed) {
  // Every convolution draws from streams keyed on (seed, parameter index): one seed for all.
  m_lift->initialize(seed);
  for (auto& c : m_down) c->initialize(seed);
  for (auto& c : m_up) c->initialize(seed);
  m_output->initialize(seed);
}

template <class T>
GridConv<T>& CnnModel<T>::conv(bool up, long level, long block) {
  const long shared = std::min(level, m_spec.levels - 1);
  return *(up ? m_up : m_down)[shared * m_spec.blocks + block];
}

template <class T>
Matrix<T> CnnModel<T>::block_forward(GridConv<T>& conv, const std::vector<long>& shape,
                                     BlockRecord& record, const Matrix<T>& a,
                                     nn::Workspace<T>& workspace) {
  record.in = a;
  record.module = &conv;
  nn::ensure_shape(record.h, "karman::cnn::block_h", a.extent(0), a.extent(1));
  activate_all(m_spec.activation, a, record.h);
  conv.set_grid(shape);
  record.conv = &conv.forward(record.h, nn::Pass::values(), workspace);
  nn::ensure_shape(record.out, "karman::cnn::block_out", a.extent(0), a.extent(1));
  add(a, record.conv->y, record.out);
  return record.out;
}

template <class T>
Matrix<T> CnnModel<T>::block_backward(BlockRecord& record, const Matrix<T>& dout,
                                      const nn::Gradient<T>& gradient) {
  const Matrix<T> dh = record.module->backward(*record.conv, dout, gradient);
  nn::ensure_shape(record.din, "karman::cnn::block_din", dout.extent(0), dout.extent(1));
  activation_gradient(m_spec.activation, dout, dh, record.in, record.din);
  return record.din;
}

template <class T>
void CnnModel<T>::forward_impl(nn::Context<T>& context, nn::Workspace<T>& workspace) {
  auto& c = this->template as<CnnContext>(context);
  KARMAN_VERIFY(!m_shapes.empty(), "CnnModel: set_grid before forward");
  const nn::Pass values = nn::Pass::values();
  const long depth = this->depth(), blocks = m_spec.blocks;
  c.shapes = m_shapes;
  c.down.resize(depth * blocks);
  c.up.resize((depth - 1) * blocks);
  c.pool.resize(depth - 1);
  c.upsample.resize(depth - 1);
  c.skip_sum.resize(depth - 1);
  c.skip_gradient.resize(depth - 1);
  std::vector<Matrix<T>> skip(depth - 1);

  m_lift->set_grid(c.shapes[0]);
  c.lift = &m_lift->forward(c.x, values, workspace);
  Matrix<T> a = c.lift->y;  // [B·N_l, width] on the current level
  for (long l = 0; l < depth; ++l) {
    for (long j = 0; j < blocks; ++j)
      a = block_forward(conv(false, l, j), c.shapes[l], c.down[l * blocks + j], a, workspace);
    if (l + 1 < depth) {
      skip[l] = a;
      m_pool->set_grid(c.shapes[l]);
      c.pool[l] = &m_pool->forward(a, values, workspace);
      a = c.pool[l]->y;
    }
  }
  for (long l = depth - 2; l >= 0; --l) {
    m_upsample->set_grid(c.shapes[l]);
    c.upsample[l] = &m_upsample->forward(a, values, workspace);
    nn::ensure_shape(c.skip_sum[l], "karman::cnn::skip_sum", skip[l].extent(0), skip[l].extent(1));
    add(c.upsample[l]->y, skip[l], c.skip_sum[l]);
    a = c.skip_sum[l];
    for (long j = 0; j < blocks; ++j)
      a = block_forward(conv(true, l, j), c.shapes[l], c.up[l * blocks + j], a, workspace);
  }
  c.a_last = a;
  nn::ensure_shape(c.h_last, "karman::cnn::h_last", a.extent(0), a.extent(1));
  activate_all(m_spec.activation, a, c.h_last);
  m_output->set_grid(c.shapes[0]);
  c.output = &m_output->forward(c.h_last, values, workspace);
  c.y = c.output->y;
}

template <class T>
void CnnModel<T>::backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                                const nn::Gradient<T>& gradient) {
  auto& c = this->template as<CnnContext>(context);
  const long depth = static_cast<long>(c.shapes.size()), blocks = m_spec.blocks;
  // Shared convolutions add one gradient per use: overwrite is zeroing, then accumulating.
  if (gradient.mode == nn::GradientMode::overwrite) {
    for (std::size_t k = m_first_parameter; k < m_end_parameter; ++k)
      Kokkos::deep_copy(m_parameters->gradient(k), T(0));
    backward_impl(context, dy, nn::Gradient<T>::accumulate());
    return;
  }
  const Matrix<T> dh = m_output->backward(*c.output, dy, gradient);
  nn::ensure_shape(c.dh_last, "karman::cnn::dh_last", dh.extent(0), dh.extent(1));
  activation_gradient(m_spec.activation, Matrix<T>(), dh, c.a_last, c.dh_last);
  Matrix<T> da = c.dh_last;
  // The up path in reverse: level 0 first. The gradient at a skip sum goes both to the skip
  // (kept for the down path) and through the up-sampling to the coarser level. Contexts keep
  // the grids of their forward, so the shared modules need no re-gridding here.
  std::vector<Matrix<T>> dskip(depth - 1);
  for (long l = 0; l + 1 < depth; ++l) {
    for (long j = blocks - 1; j >= 0; --j) da = block_backward(c.up[l * blocks + j], da, gradient);
    dskip[l] = da;
    da = m_upsample->backward(*c.upsample[l], da, gradient);
  }
  // The down path in reverse: coarsest level first.
  for (long l = depth - 1; l >= 0; --l) {
    if (l + 1 < depth) {
      const Matrix<T> pooled = m_pool->backward(*c.pool[l], da, gradient);
      nn::ensure_shape(c.skip_gradient[l], "karman::cnn::skip_gradient", pooled.extent(0),
                       pooled.extent(1));
      add(pooled, dskip[l], c.skip_gradient[l]);
      da = c.skip_gradient[l];
    }
    for (long j = blocks - 1; j >= 0; --j)
      da = block_backward(c.down[l * blocks + j], da, gradient);
  }
  c.dx = m_lift->backward(*c.lift, da, gradient);
}

template class CnnModel<float>;
template class CnnModel<double>;

}  // namespace karman::precond
