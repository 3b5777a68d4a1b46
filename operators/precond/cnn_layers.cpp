// Structured-grid convolution and 2× pooling layers (operators/precond/cnn_layers.hpp).
#include "operators/precond/cnn_layers.hpp"

#include <cmath>
#include <string>

#include "karman/core/error.hpp"
#include "karman/nn/init.hpp"

namespace karman::precond {
namespace {

using nn::ExecutionSpace;

// The 2^dims children of coarse point index I in the fine grid: child c's index along d is
// 2·I_d + bit d of c.
KOKKOS_INLINE_FUNCTION long child(const GridShape& fine, const long coarse_index[3], int c) {
  long i[3] = {0, 0, 0};
  for (int d = 0; d < fine.dims; ++d) i[d] = 2 * coarse_index[d] + ((c >> d) & 1);
  return fine.point(i);
}

// The coarse point containing fine point index i.
KOKKOS_INLINE_FUNCTION long parent(const GridShape& coarse, const long fine_index[3]) {
  long i[3] = {0, 0, 0};
  for (int d = 0; d < coarse.dims; ++d) i[d] = fine_index[d] / 2;
  return coarse.point(i);
}

void check_rows(const std::string& what, std::size_t rows, long points, std::size_t cols,
                long channels) {
  KARMAN_VERIFY(
      points > 0 && rows > 0 && rows % points == 0 && cols == static_cast<std::size_t>(channels),
      what + ": input must be [B·N, " + std::to_string(channels) +
          "] with N = " + std::to_string(points) + " (set_grid first), got [" +
          std::to_string(rows) + ", " + std::to_string(cols) + "]");
}

}  // namespace

GridShape GridShape::of(const std::vector<long>& shape) {
  KARMAN_VERIFY(!shape.empty() && shape.size() <= 3, "GridShape: 1 to 3 dimensions");
  GridShape g;
  g.dims = static_cast<int>(shape.size());
  for (int d = 0; d < g.dims; ++d) {
    KARMAN_VERIFY(shape[d] >= 1, "GridShape: extents must be positive");
    g.n[d] = shape[d];
    g.points *= shape[d];
  }
  return g;
}

std::vector<long> coarse_shape(const std::vector<long>& fine) {
  std::vector<long> coarse(fine);
  for (long& n : coarse) {
    KARMAN_VERIFY(n >= 2 && n % 2 == 0, "coarse_shape: every extent must be even to pool 2x");
    n /= 2;
  }
  return coarse;
}

namespace {

// ---- The kernels: the convolution C, its transpose Cᵀ and C's weight gradient; the 2×
// restriction and prolongation, each the other's adjoint up to a scale. GridConv and
// GridConvTranspose use the first three with their roles swapped, GridPoolDown and GridUpsample
// the last two.

// y [B·N, out] = C x + bias: y(p, o) = bias(o) + Σ_k Σ_i W(k, i, o) x(p + offset_k, i).
template <class T>
void conv_apply(const GridShape& g, const Matrix<T>& x, const Matrix<T>& w, const Matrix<T>& bias,
                const Matrix<T>& y) {
  const long stencil = g.stencil(), in = static_cast<long>(x.extent(1));
  const long out = static_cast<long>(y.extent(1));
  Kokkos::parallel_for(
      "karman::cnn::conv_forward", Kokkos::RangePolicy<ExecutionSpace>(0, x.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        const long b = static_cast<long>(r) / g.points;
        long i[3];
        g.index(static_cast<long>(r) % g.points, i);
        T* KOKKOS_RESTRICT yr = &y(r, 0);
        for (long o = 0; o < out; ++o) yr[o] = bias.data() ? bias(0, o) : T(0);
        for (long k = 0; k < stencil; ++k) {
          const long q = g.neighbour(i, k);
          if (q < 0) continue;
          const T* KOKKOS_RESTRICT xq = &x(b * g.points + q, 0);
          for (long ci = 0; ci < in; ++ci) {
            const T xv = xq[ci];
            const T* KOKKOS_RESTRICT wk = &w(k * in + ci, 0);
#pragma omp simd
            for (long o = 0; o < out; ++o) yr[o] += wk[o] * xv;
          }
        }
      });
}

// x [B·N, in] = Cᵀ y: x(q, i) = Σ_k Σ_o W(k, i, o) y(q − offset_k, o) (point q is the offset-k
// neighbour of the point at the mirrored offset K−1−k).
template <class T>
void conv_apply_transpose(const GridShape& g, const Matrix<T>& y, const Matrix<T>& w,
                          const Matrix<T>& x) {
  const long stencil = g.stencil(), in = static_cast<long>(x.extent(1));
  const long out = static_cast<long>(y.extent(1));
  Kokkos::parallel_for(
      "karman::cnn::conv_transpose", Kokkos::RangePolicy<ExecutionSpace>(0, x.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        const long b = static_cast<long>(r) / g.points;
        long i[3];
        g.index(static_cast<long>(r) % g.points, i);
        T* KOKKOS_RESTRICT xr = &x(r, 0);
        for (long ci = 0; ci < in; ++ci) xr[ci] = T(0);
        for (long k = 0; k < stencil; ++k) {
          const long p = g.neighbour(i, stencil - 1 - k);
          if (p < 0) continue;
          const T* KOKKOS_RESTRICT yp = &y(b * g.points + p, 0);
          for (long ci = 0; ci < in; ++ci) {
            const T* KOKKOS_RESTRICT wk = &w(k * in + ci, 0);
            T sum = 0;
#pragma omp simd reduction(+ : sum)
            for (long o = 0; o < out; ++o) sum += wk[o] * yp[o];
            xr[ci] += sum;
          }
        }
      });
}

// dw [K·in, out] = keep·dw + Σ_p x(p + offset_k, i) dy(p, o): one offset k (weight rows
// [k·in, (k+1)·in)) per work item, summed over the points in a fixed order (the same result on
// every run and thread count). Cᵀ's weight gradient is this with x and dy swapped.
template <class T>
void conv_weight_gradient(const GridShape& g, const Matrix<T>& x, const Matrix<T>& dy, T keep,
                          const Matrix<T>& dw) {
  const long stencil = g.stencil(), in = static_cast<long>(x.extent(1));
  const long out = static_cast<long>(dy.extent(1));
  const std::size_t rows = x.extent(0);
  Kokkos::parallel_for(
      "karman::cnn::conv_weight_gradient", Kokkos::RangePolicy<ExecutionSpace>(0, stencil),
      KOKKOS_LAMBDA(const long k) {
        for (long ci = 0; ci < in; ++ci)
          for (long o = 0; o < out; ++o) dw(k * in + ci, o) *= keep;
        for (std::size_t r = 0; r < rows; ++r) {
          const long b = static_cast<long>(r) / g.points;
          long i[3];
          g.index(static_cast<long>(r) % g.points, i);
          const long q = g.neighbour(i, k);
          if (q < 0) continue;
          const T* KOKKOS_RESTRICT xq = &x(b * g.points + q, 0);
          const T* KOKKOS_RESTRICT dyr = &dy(r, 0);
          for (long ci = 0; ci < in; ++ci) {
            const T xv = xq[ci];
            T* KOKKOS_RESTRICT dwr = &dw(k * in + ci, 0);
#pragma omp simd
            for (long o = 0; o < out; ++o) dwr[o] += xv * dyr[o];
          }
        }
      });
}

// Coarse y [B·Nc, C] = scale · Σ over the 2^dims children of each coarse point of fine x.
template <class T>
void restrict_sum(const GridShape& fine, const GridShape& coarse, T scale, const Matrix<T>& x,
                  const Matrix<T>& y) {
  const long channels = static_cast<long>(x.extent(1));
  const int children = 1 << fine.dims;
  Kokkos::parallel_for(
      "karman::cnn::restrict", Kokkos::RangePolicy<ExecutionSpace>(0, y.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        const long b = static_cast<long>(r) / coarse.points;
        long i[3];
        coarse.index(static_cast<long>(r) % coarse.points, i);
        T* KOKKOS_RESTRICT yr = &y(r, 0);
        for (long ch = 0; ch < channels; ++ch) yr[ch] = T(0);
        for (int k = 0; k < children; ++k) {
          const T* KOKKOS_RESTRICT xr = &x(b * fine.points + child(fine, i, k), 0);
#pragma omp simd
          for (long ch = 0; ch < channels; ++ch) yr[ch] += scale * xr[ch];
        }
      });
}

// Fine y [B·Nf, C] = scale · the parent's value of coarse x: restrict_sum's adjoint.
template <class T>
void prolong_copy(const GridShape& fine, const GridShape& coarse, T scale, const Matrix<T>& x,
                  const Matrix<T>& y) {
  const long channels = static_cast<long>(x.extent(1));
  Kokkos::parallel_for(
      "karman::cnn::prolong", Kokkos::RangePolicy<ExecutionSpace>(0, y.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        const long b = static_cast<long>(r) / fine.points;
        long i[3];
        fine.index(static_cast<long>(r) % fine.points, i);
        const T* KOKKOS_RESTRICT xr = &x(b * coarse.points + parent(coarse, i), 0);
        T* KOKKOS_RESTRICT yr = &y(r, 0);
#pragma omp simd
        for (long ch = 0; ch < channels; ++ch) yr[ch] = scale * xr[ch];
      });
}

}  // namespace

// ---- GridConv

template <class T>
GridConv<T>::GridConv(long in_channels, long out_channels, int dims, bool bias)
    : m_in(in_channels), m_out(out_channels), m_dims(dims), m_bias(bias) {
  KARMAN_VERIFY(dims >= 1 && dims <= 3 && in_channels >= 1 && out_channels >= 1,
                "GridConv: 1 to 3 dimensions and positive channel counts");
}

template <class T>
void GridConv<T>::set_grid(const std::vector<long>& shape) {
  KARMAN_VERIFY(static_cast<int>(shape.size()) == m_dims, "GridConv: grid of the wrong dimension");
  m_grid = GridShape::of(shape);
}

template <class T>
void GridConv<T>::declare(nn::Parameters<T>& parameters, const std::string& prefix) {
  m_parameters = &parameters;
  const long stencil = GridShape::of(std::vector<long>(m_dims, 1)).stencil();
  m_weight = parameters.declare(prefix + "weight", stencil * m_in, m_out);
  if (m_bias) m_bias_index = parameters.declare(prefix + "bias", 1, m_out);
}

template <class T>
void GridConv<T>::initialize(std::uint64_t seed) {
  const std::size_t fan_in = m_parameters->info(m_weight).rows;  // K·in
  // kaiming_uniform's bound is gain·sqrt(3/fan_in): gain 1/√3 gives 1/sqrt(fan_in).
  nn::initialize_parameter(*m_parameters, m_weight, nn::Init::kaiming_uniform, fan_in, m_out,
                           1.0 / std::sqrt(3.0), seed);
  if (m_bias)
    nn::initialize_parameter(*m_parameters, m_bias_index, nn::Init::uniform, fan_in, m_out,
                             1.0 / std::sqrt(static_cast<double>(fan_in)), seed);
}

template <class T>
void GridConv<T>::forward_impl(nn::Context<T>& context, nn::Workspace<T>&) {
  auto& c = this->template as<ConvContext>(context);
  check_rows("GridConv", c.x.extent(0), m_grid.points, c.x.extent(1), m_in);
  c.grid = m_grid;
  nn::ensure_shape(c.y, "karman::cnn::conv_y", c.x.extent(0), m_out);
  const Matrix<T> bias = m_bias ? m_parameters->value(m_bias_index) : Matrix<T>();
  conv_apply(m_grid, c.x, m_parameters->value(m_weight), bias, c.y);
}

template <class T>
void GridConv<T>::backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                                const nn::Gradient<T>& gradient) {
  auto& c = this->template as<ConvContext>(context);
  nn::ensure_shape(c.dx, "karman::cnn::conv_dx", c.x.extent(0), m_in);
  conv_apply_transpose(c.grid, dy, m_parameters->value(m_weight), c.dx);
  if (!gradient.parameters()) return;
  const T keep = gradient.keep();
  conv_weight_gradient(c.grid, c.x, dy, keep, m_parameters->gradient(m_weight));
  if (!m_bias) return;
  const Matrix<T> db = m_parameters->gradient(m_bias_index);
  const std::size_t rows = dy.extent(0);
  Kokkos::parallel_for(
      "karman::cnn::conv_bias_gradient", Kokkos::RangePolicy<ExecutionSpace>(0, m_out),
      KOKKOS_LAMBDA(const long o) {
        T sum = 0;
        for (std::size_t r = 0; r < rows; ++r) sum += dy(r, o);
        db(0, o) = keep * db(0, o) + sum;
      });
}

// ---- GridConvTranspose

template <class T>
GridConvTranspose<T>::GridConvTranspose(GridConv<T>& conv) : m_conv(conv) {
  KARMAN_VERIFY(!conv.m_bias, "GridConvTranspose: the transpose of a linear (bias-free) GridConv");
}

template <class T>
void GridConvTranspose<T>::forward_impl(nn::Context<T>& context, nn::Workspace<T>&) {
  auto& c = this->template as<typename GridConv<T>::ConvContext>(context);
  const GridShape g = m_conv.m_grid;
  check_rows("GridConvTranspose", c.x.extent(0), g.points, c.x.extent(1), m_conv.m_out);
  c.grid = g;
  nn::ensure_shape(c.y, "karman::cnn::conv_transpose_y", c.x.extent(0), m_conv.m_in);
  conv_apply_transpose(g, c.x, m_conv.m_parameters->value(m_conv.m_weight), c.y);
}

template <class T>
void GridConvTranspose<T>::backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                                         const nn::Gradient<T>& gradient) {
  auto& c = this->template as<typename GridConv<T>::ConvContext>(context);
  const nn::Parameters<T>& parameters = *m_conv.m_parameters;
  nn::ensure_shape(c.dx, "karman::cnn::conv_transpose_dx", c.x.extent(0), m_conv.m_out);
  // (Cᵀ)ᵀ = C, and y = Cᵀ x gives dW(k, i, o) = Σ_p dy(p + offset_k, i) x(p, o).
  conv_apply(c.grid, dy, parameters.value(m_conv.m_weight), Matrix<T>(), c.dx);
  if (gradient.parameters())
    conv_weight_gradient(c.grid, dy, c.x, gradient.keep(), parameters.gradient(m_conv.m_weight));
}

// ---- GridPoolDown: the mean of the children; its adjoint gives every child 1/2^dims of it.

template <class T>
void GridPoolDown<T>::set_grid(const std::vector<long>& fine) {
  KARMAN_VERIFY(static_cast<int>(fine.size()) == m_dims,
                "GridPoolDown: grid of the wrong dimension");
  m_fine = GridShape::of(fine);
  m_coarse = GridShape::of(coarse_shape(fine));
}

template <class T>
void GridPoolDown<T>::forward_impl(nn::Context<T>& context, nn::Workspace<T>&) {
  auto& c = this->template as<PoolContext>(context);
  check_rows("GridPoolDown", c.x.extent(0), m_fine.points, c.x.extent(1), m_channels);
  c.fine = m_fine, c.coarse = m_coarse;
  const long batch = static_cast<long>(c.x.extent(0)) / m_fine.points;
  nn::ensure_shape(c.y, "karman::cnn::pool_y", batch * m_coarse.points, m_channels);
  restrict_sum(m_fine, m_coarse, T(1) / static_cast<T>(1 << m_dims), c.x, c.y);
}

template <class T>
void GridPoolDown<T>::backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                                    const nn::Gradient<T>&) {
  auto& c = this->template as<PoolContext>(context);
  nn::ensure_shape(c.dx, "karman::cnn::pool_dx", c.x.extent(0), m_channels);
  prolong_copy(c.fine, c.coarse, T(1) / static_cast<T>(1 << m_dims), dy, c.dx);
}

// ---- GridUpsample: `scale` times the parent's value; its adjoint sums the children.

template <class T>
void GridUpsample<T>::set_grid(const std::vector<long>& fine) {
  KARMAN_VERIFY(static_cast<int>(fine.size()) == m_dims,
                "GridUpsample: grid of the wrong dimension");
  m_fine = GridShape::of(fine);
  m_coarse = GridShape::of(coarse_shape(fine));
}

template <class T>
void GridUpsample<T>::forward_impl(nn::Context<T>& context, nn::Workspace<T>&) {
  auto& c = this->template as<UpContext>(context);
  check_rows("GridUpsample", c.x.extent(0), m_coarse.points, c.x.extent(1), m_channels);
  c.fine = m_fine, c.coarse = m_coarse;
  const long batch = static_cast<long>(c.x.extent(0)) / m_coarse.points;
  nn::ensure_shape(c.y, "karman::cnn::upsample_y", batch * m_fine.points, m_channels);
  prolong_copy(m_fine, m_coarse, m_scale, c.x, c.y);
}

template <class T>
void GridUpsample<T>::backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                                    const nn::Gradient<T>&) {
  auto& c = this->template as<UpContext>(context);
  nn::ensure_shape(c.dx, "karman::cnn::upsample_dx", c.x.extent(0), m_channels);
  restrict_sum(c.fine, c.coarse, m_scale, dy, c.dx);
}

// ---- Reference twins: plain loops, one output entry at a time.

template <class T>
void grid_conv_reference(const GridShape& grid, const Matrix<T>& x, const Matrix<T>& weight,
                         const Matrix<T>& bias, const Matrix<T>& y) {
  const long in = static_cast<long>(x.extent(1)), out = static_cast<long>(y.extent(1));
  const long batch = static_cast<long>(x.extent(0)) / grid.points;
  for (long b = 0; b < batch; ++b)
    for (long p = 0; p < grid.points; ++p) {
      long i[3] = {0, 0, 0};
      grid.index(p, i);
      for (long o = 0; o < out; ++o) {
        T sum = bias.data() ? bias(0, o) : T(0);
        for (long k = 0; k < grid.stencil(); ++k) {
          // Offset along d: digit d of k in base 3, minus 1.
          long j[3] = {0, 0, 0}, rest = k;
          for (int d = grid.dims - 1; d >= 0; --d) j[d] = i[d] + rest % 3 - 1, rest /= 3;
          const long q = grid.point(j);
          if (q < 0) continue;
          for (long ci = 0; ci < in; ++ci)
            sum += weight(k * in + ci, o) * x(b * grid.points + q, ci);
        }
        y(b * grid.points + p, o) = sum;
      }
    }
}

template <class T>
void grid_pool_down_reference(const GridShape& fine, const Matrix<T>& x, const Matrix<T>& y) {
  const long channels = static_cast<long>(x.extent(1));
  const long batch = static_cast<long>(x.extent(0)) / fine.points;
  const long coarse_points = fine.points >> fine.dims;
  for (std::size_t r = 0; r < y.extent(0); ++r)
    for (long ch = 0; ch < channels; ++ch) y(r, ch) = T(0);
  for (long b = 0; b < batch; ++b)
    for (long p = 0; p < fine.points; ++p) {
      long i[3] = {0, 0, 0};
      fine.index(p, i);
      long coarse = 0;
      for (int d = 0; d < fine.dims; ++d) coarse = coarse * (fine.n[d] / 2) + i[d] / 2;
      for (long ch = 0; ch < channels; ++ch)
        y(b * coarse_points + coarse, ch) += x(b * fine.points + p, ch) / T(1 << fine.dims);
    }
}

template <class T>
void grid_upsample_reference(const GridShape& fine, const Matrix<T>& x, const Matrix<T>& y) {
  const long channels = static_cast<long>(x.extent(1));
  const long coarse_points = fine.points >> fine.dims;
  const long batch = static_cast<long>(x.extent(0)) / coarse_points;
  for (long b = 0; b < batch; ++b)
    for (long p = 0; p < fine.points; ++p) {
      long i[3] = {0, 0, 0};
      fine.index(p, i);
      long coarse = 0;
      for (int d = 0; d < fine.dims; ++d) coarse = coarse * (fine.n[d] / 2) + i[d] / 2;
      for (long ch = 0; ch < channels; ++ch)
        y(b * fine.points + p, ch) = x(b * coarse_points + coarse, ch);
    }
}

template class GridConv<float>;
template class GridConv<double>;
template class GridPoolDown<float>;
template class GridPoolDown<double>;
template class GridUpsample<float>;
template class GridUpsample<double>;
template class GridConvTranspose<float>;
template class GridConvTranspose<double>;
template void grid_conv_reference(const GridShape&, const Matrix<double>&, const Matrix<double>&,
                                  const Matrix<double>&, const Matrix<double>&);
template void grid_pool_down_reference(const GridShape&, const Matrix<double>&,
                                       const Matrix<double>&);
template void grid_upsample_reference(const GridShape&, const Matrix<double>&,
                                      const Matrix<double>&);

}  // namespace karman::precond
