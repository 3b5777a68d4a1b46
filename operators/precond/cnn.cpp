// The multilevel residual CNN (operators/precond/cnn.hpp).
#include "operators/precond/cnn.hpp"

#include <algorithm>
#include <string>

#include "karman/core/error.hpp"

namespace karman::precond {
namespace {

using nn::Activation;
using nn::ExecutionSpace;

// symmetric: the up path's factor per level, γ in M = Σ_l (γ 2^d)^l B_lᵀ B_l (cnn.hpp).
constexpr double kLevelGain = 4.0;

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

// out = a + mask ∘ b, mask [rows, 1] broadcast over the columns (a empty: out = mask ∘ b).
template <class T>
void add_masked(const Matrix<T>& a, const Matrix<T>& mask, const Matrix<T>& b,
                const Matrix<T>& out) {
  const std::size_t cols = b.extent(1);
  const bool sum = a.data() != nullptr;
  Kokkos::parallel_for(
      "karman::cnn::add_masked", Kokkos::RangePolicy<ExecutionSpace>(0, b.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t c = 0; c < cols; ++c)
          out(r, c) = (sum ? a(r, c) : T(0)) + mask(r, 0) * b(r, c);
      });
}

// x [rows, in] → the indicator mask(r) = [x(r, in − 1) ≥ 1/2] [rows, 1] and rest [rows, in − 1].
template <class T>
void split_last_channel(const Matrix<T>& x, const Matrix<T>& mask, const Matrix<T>& rest) {
  const std::size_t last = x.extent(1) - 1;
  Kokkos::parallel_for(
      "karman::cnn::split_mask", Kokkos::RangePolicy<ExecutionSpace>(0, x.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        mask(r, 0) = x(r, last) >= T(0.5) ? T(1) : T(0);
        for (std::size_t c = 0; c < last; ++c) rest(r, c) = x(r, c);
      });
}

// dx [rows, in] = [drest, 0]: the mask channel's gradient is 0 (a step function).
template <class T>
void join_zero_channel(const Matrix<T>& drest, const Matrix<T>& dx) {
  const std::size_t last = dx.extent(1) - 1;
  Kokkos::parallel_for(
      "karman::cnn::join_mask_gradient", Kokkos::RangePolicy<ExecutionSpace>(0, dx.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t c = 0; c < last; ++c) dx(r, c) = drest(r, c);
        dx(r, last) = T(0);
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
  KARMAN_VERIFY(!spec.mask_features || in_channels >= 2,
                "CnnModel: mask_features needs a mask channel after at least one other");
  KARMAN_VERIFY(
      !spec.symmetric || (in_channels >= 2 && out_channels == in_channels - 1 &&
                          !spec.mask_features && spec.activation == nn::Activation::identity),
      "CnnModel: symmetric needs a mask channel, in − 1 outputs, the identity "
      "activation and no mask_features");
  const long width = spec.width;
  const bool bias = !spec.mask_features && !spec.symmetric;
  const long lifted = spec.mask_features || spec.symmetric ? in_channels - 1 : in_channels;
  m_lift = std::make_unique<GridConv<T>>(lifted, width, spec.dims, bias);
  for (long k = 0; k < spec.levels * spec.blocks; ++k)
    m_down.push_back(std::make_unique<GridConv<T>>(width, width, spec.dims, bias));
  m_pool = std::make_unique<GridPoolDown<T>>(width, spec.dims);
  m_mask_pool = std::make_unique<GridPoolDown<T>>(1, spec.dims);
  if (spec.symmetric) {
    m_lift_transpose = std::make_unique<GridConvTranspose<T>>(*m_lift);
    for (auto& c : m_down) m_down_transpose.push_back(std::make_unique<GridConvTranspose<T>>(*c));
    m_upsample = std::make_unique<GridUpsample<T>>(width, spec.dims, T(kLevelGain));
    return;
  }
  m_output = std::make_unique<GridConv<T>>(width, out_channels, spec.dims, bias);
  for (long k = 0; k < spec.levels * spec.blocks; ++k)
    m_up.push_back(std::make_unique<GridConv<T>>(width, width, spec.dims, bias));
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
  if (m_output) m_output->declare(parameters, prefix + "output.");
  m_end_parameter = parameters.count();
}

template <class T>
void CnnModel<T>::initialize(std::uint64_t seed) {
  // Every convolution draws from streams keyed on (seed, parameter index): one seed for all.
  m_lift->initialize(seed);
  for (auto& c : m_down) c->initialize(seed);
  for (auto& c : m_up) c->initialize(seed);
  if (m_output) m_output->initialize(seed);
}

template <class T>
GridConv<T>& CnnModel<T>::conv(bool up, long level, long block) {
  return *(up ? m_up : m_down)[weight_set(level, block)];
}

template <class T>
Matrix<T> CnnModel<T>::block_forward(GridConv<T>& conv, nn::Module<T>& module,
                                     const std::vector<long>& shape, BlockRecord& record,
                                     const Matrix<T>& a, const Matrix<T>& mask,
                                     nn::Workspace<T>& workspace) {
  record.in = a;
  record.mask = mask;
  record.module = &module;
  nn::ensure_shape(record.h, "karman::cnn::block_h", a.extent(0), a.extent(1));
  activate_all(m_spec.activation, a, record.h);
  conv.set_grid(shape);
  record.conv = &module.forward(record.h, nn::Pass::values(), workspace);
  nn::ensure_shape(record.out, "karman::cnn::block_out", a.extent(0), a.extent(1));
  if (mask.data())
    add_masked(a, mask, record.conv->y, record.out);
  else
    add(a, record.conv->y, record.out);
  return record.out;
}

template <class T>
void CnnModel<T>::split_mask(CnnContext& c, nn::Workspace<T>& workspace) {
  const std::size_t rows = c.x.extent(0);
  const long depth = static_cast<long>(c.shapes.size());
  c.masks.resize(depth);
  c.mask_pool.resize(depth - 1);
  nn::ensure_shape(c.masks[0], "karman::cnn::mask", rows, 1);
  nn::ensure_shape(c.lift_x, "karman::cnn::lift_x", rows, c.x.extent(1) - 1);
  split_last_channel(c.x, c.masks[0], c.lift_x);
  for (long l = 0; l + 1 < depth; ++l) {
    m_mask_pool->set_grid(c.shapes[l]);
    c.mask_pool[l] = &m_mask_pool->forward(c.masks[l], nn::Pass::values(), workspace);
    c.masks[l + 1] = c.mask_pool[l]->y;
  }
}

template <class T>
Matrix<T> CnnModel<T>::block_backward(BlockRecord& record, const Matrix<T>& dout,
                                      const nn::Gradient<T>& gradient) {
  Matrix<T> dconv = dout;
  if (record.mask.data()) {  // ∂/∂conv.y of in + m ∘ conv.y
    nn::ensure_shape(record.dconv, "karman::cnn::block_dconv", dout.extent(0), dout.extent(1));
    add_masked(Matrix<T>(), record.mask, dout, record.dconv);
    dconv = record.dconv;
  }
  const Matrix<T> dh = record.module->backward(*record.conv, dconv, gradient);
  nn::ensure_shape(record.din, "karman::cnn::block_din", dout.extent(0), dout.extent(1));
  activation_gradient(m_spec.activation, dout, dh, record.in, record.din);
  return record.din;
}

template <class T>
void CnnModel<T>::down_forward(CnnContext& c, Matrix<T> a, nn::Workspace<T>& workspace) {
  const long depth = static_cast<long>(c.shapes.size()), blocks = m_spec.blocks;
  const bool masked = m_spec.mask_features;
  for (long l = 0; l < depth; ++l) {
    for (long j = 0; j < blocks; ++j) {
      GridConv<T>& down = conv(false, l, j);
      a = block_forward(down, down, c.shapes[l], c.down[l * blocks + j], a,
                        masked ? c.masks[l] : Matrix<T>(), workspace);
    }
    c.skip[l] = a;
    if (l + 1 < depth) {
      m_pool->set_grid(c.shapes[l]);
      c.pool[l] = &m_pool->forward(a, nn::Pass::values(), workspace);
      a = c.pool[l]->y;
    }
  }
}

template <class T>
Matrix<T> CnnModel<T>::down_backward(CnnContext& c, const nn::Gradient<T>& gradient) {
  const long depth = static_cast<long>(c.shapes.size()), blocks = m_spec.blocks;
  // Coarsest level first; the gradient at a level's a is its skip's plus the pool's.
  Matrix<T> da = c.dskip[depth - 1];
  for (long l = depth - 1; l >= 0; --l) {
    if (l + 1 < depth) {
      const Matrix<T> pooled = m_pool->backward(*c.pool[l], da, gradient);
      nn::ensure_shape(c.skip_gradient[l], "karman::cnn::skip_gradient", pooled.extent(0),
                       pooled.extent(1));
      add(pooled, c.dskip[l], c.skip_gradient[l]);
      da = c.skip_gradient[l];
    }
    for (long j = blocks - 1; j >= 0; --j)
      da = block_backward(c.down[l * blocks + j], da, gradient);
  }
  return da;
}

template <class T>
void CnnModel<T>::forward_impl(nn::Context<T>& context, nn::Workspace<T>& workspace) {
  auto& c = this->template as<CnnContext>(context);
  KARMAN_VERIFY(!m_shapes.empty(), "CnnModel: set_grid before forward");
  const nn::Pass values = nn::Pass::values();
  const long depth = this->depth(), blocks = m_spec.blocks;
  c.shapes = m_shapes;
  c.down.resize(depth * blocks);
  c.up.resize((m_spec.symmetric ? depth : depth - 1) * blocks);
  c.pool.resize(depth - 1);
  c.upsample.resize(depth - 1);
  c.skip.resize(depth);
  c.skip_sum.resize(depth - 1);
  c.skip_gradient.resize(depth - 1);
  c.dskip.resize(depth);
  if (m_spec.symmetric) return forward_symmetric(c, workspace);

  const bool masked = m_spec.mask_features;
  if (masked) split_mask(c, workspace);
  auto mask = [&](long l) { return masked ? c.masks[l] : Matrix<T>(); };
  m_lift->set_grid(c.shapes[0]);
  c.lift = &m_lift->forward(masked ? c.lift_x : c.x, values, workspace);
  Matrix<T> a = c.lift->y;  // [B·N_l, width] on the current level
  if (masked) {
    nn::ensure_shape(c.lifted, "karman::cnn::lifted", a.extent(0), a.extent(1));
    add_masked(Matrix<T>(), c.masks[0], a, c.lifted);
    a = c.lifted;
  }
  down_forward(c, a, workspace);
  a = c.skip[depth - 1];
  for (long l = depth - 2; l >= 0; --l) {
    m_upsample->set_grid(c.shapes[l]);
    c.upsample[l] = &m_upsample->forward(a, values, workspace);
    nn::ensure_shape(c.skip_sum[l], "karman::cnn::skip_sum", c.skip[l].extent(0),
                     c.skip[l].extent(1));
    add(c.upsample[l]->y, c.skip[l], c.skip_sum[l]);
    a = c.skip_sum[l];
    for (long j = 0; j < blocks; ++j) {
      GridConv<T>& up = conv(true, l, j);
      a = block_forward(up, up, c.shapes[l], c.up[l * blocks + j], a, mask(l), workspace);
    }
  }
  c.a_last = a;
  nn::ensure_shape(c.h_last, "karman::cnn::h_last", a.extent(0), a.extent(1));
  activate_all(m_spec.activation, a, c.h_last);
  m_output->set_grid(c.shapes[0]);
  c.output = &m_output->forward(c.h_last, values, workspace);
  c.y = c.output->y;
  if (masked) {
    nn::ensure_shape(c.masked_y, "karman::cnn::masked_y", c.y.extent(0), c.y.extent(1));
    add_masked(Matrix<T>(), c.masks[0], c.output->y, c.masked_y);
    c.y = c.masked_y;
  }
}

template <class T>
void CnnModel<T>::forward_symmetric(CnnContext& c, nn::Workspace<T>& workspace) {
  const nn::Pass values = nn::Pass::values();
  const long depth = static_cast<long>(c.shapes.size()), blocks = m_spec.blocks;
  split_mask(c, workspace);  // c.masks[0] [B·N, 1], c.lift_x [B·N, in − 1]
  nn::ensure_shape(c.masked_x, "karman::cnn::masked_x", c.lift_x.extent(0), c.lift_x.extent(1));
  add_masked(Matrix<T>(), c.masks[0], c.lift_x, c.masked_x);
  m_lift->set_grid(c.shapes[0]);
  c.lift = &m_lift->forward(c.masked_x, values, workspace);
  down_forward(c, c.lift->y, workspace);
  // Bᵀ: level l's blocks in reverse, each h ← h + Convᵀ h with the down path's weights.
  Matrix<T> h = c.skip[depth - 1];
  for (long l = depth - 1; l >= 0; --l) {
    for (long j = blocks - 1; j >= 0; --j) {
      const long k = weight_set(l, j);
      h = block_forward(*m_down[k], *m_down_transpose[k], c.shapes[l], c.up[l * blocks + j], h,
                        Matrix<T>(), workspace);
    }
    if (l == 0) break;
    m_upsample->set_grid(c.shapes[l - 1]);
    c.upsample[l - 1] = &m_upsample->forward(h, values, workspace);
    nn::ensure_shape(c.skip_sum[l - 1], "karman::cnn::skip_sum", c.skip[l - 1].extent(0),
                     c.skip[l - 1].extent(1));
    add(c.upsample[l - 1]->y, c.skip[l - 1], c.skip_sum[l - 1]);
    h = c.skip_sum[l - 1];
  }
  m_lift->set_grid(c.shapes[0]);
  c.output = &m_lift_transpose->forward(h, values, workspace);
  nn::ensure_shape(c.masked_y, "karman::cnn::masked_y", c.x.extent(0), m_out);
  add_masked(Matrix<T>(), c.masks[0], c.output->y, c.masked_y);
  c.y = c.masked_y;
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
  if (m_spec.symmetric) return backward_symmetric(c, dy, gradient);
  const bool masked = m_spec.mask_features;
  Matrix<T> doutput = dy;
  if (masked) {
    nn::ensure_shape(c.doutput, "karman::cnn::doutput", dy.extent(0), dy.extent(1));
    add_masked(Matrix<T>(), c.masks[0], dy, c.doutput);
    doutput = c.doutput;
  }
  const Matrix<T> dh = m_output->backward(*c.output, doutput, gradient);
  nn::ensure_shape(c.dh_last, "karman::cnn::dh_last", dh.extent(0), dh.extent(1));
  activation_gradient(m_spec.activation, Matrix<T>(), dh, c.a_last, c.dh_last);
  Matrix<T> da = c.dh_last;
  // The up path in reverse: level 0 first. The gradient at a skip sum goes both to the skip
  // (kept for the down path) and through the up-sampling to the coarser level. Contexts keep
  // the grids of their forward, so the shared modules need no re-gridding here.
  for (long l = 0; l + 1 < depth; ++l) {
    for (long j = blocks - 1; j >= 0; --j) da = block_backward(c.up[l * blocks + j], da, gradient);
    c.dskip[l] = da;
    da = m_upsample->backward(*c.upsample[l], da, gradient);
  }
  // The coarsest a has no skip of its own: its gradient is the up-sampling's alone.
  c.dskip[depth - 1] = da;
  da = down_backward(c, gradient);
  if (!masked) {
    c.dx = m_lift->backward(*c.lift, da, gradient);
    return;
  }
  nn::ensure_shape(c.dlift, "karman::cnn::dlift", da.extent(0), da.extent(1));
  add_masked(Matrix<T>(), c.masks[0], da, c.dlift);
  const Matrix<T> dlift_x = m_lift->backward(*c.lift, c.dlift, gradient);
  nn::ensure_shape(c.dx, "karman::cnn::dx", c.x.extent(0), c.x.extent(1));
  join_zero_channel(dlift_x, c.dx);
}

template <class T>
void CnnModel<T>::backward_symmetric(CnnContext& c, const Matrix<T>& dy,
                                     const nn::Gradient<T>& gradient) {
  const long depth = static_cast<long>(c.shapes.size()), blocks = m_spec.blocks;
  nn::ensure_shape(c.doutput, "karman::cnn::doutput", dy.extent(0), dy.extent(1));
  add_masked(Matrix<T>(), c.masks[0], dy, c.doutput);
  Matrix<T> dh = m_lift_transpose->backward(*c.output, c.doutput, gradient);
  // Bᵀ in reverse: level 0 first, its blocks in forward order; the gradient at a skip sum goes to
  // the skip and, through the up-sampling, to the coarser level.
  for (long l = 0; l < depth; ++l) {
    for (long j = 0; j < blocks; ++j) dh = block_backward(c.up[l * blocks + j], dh, gradient);
    c.dskip[l] = dh;
    if (l + 1 < depth) dh = m_upsample->backward(*c.upsample[l], dh, gradient);
  }
  const Matrix<T> da = down_backward(c, gradient);
  nn::ensure_shape(c.dlift, "karman::cnn::dlift", c.masked_x.extent(0), c.masked_x.extent(1));
  add_masked(Matrix<T>(), c.masks[0], m_lift->backward(*c.lift, da, gradient), c.dlift);
  nn::ensure_shape(c.dx, "karman::cnn::dx", c.x.extent(0), c.x.extent(1));
  join_zero_channel(c.dlift, c.dx);
}

template class CnnModel<float>;
template class CnnModel<double>;

}  // namespace karman::precond
