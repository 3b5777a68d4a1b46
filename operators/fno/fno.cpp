#include "operators/fno/fno.hpp"

#include <cmath>
#include <string>

#include "karman/core/error.hpp"
#include "karman/core/extents.hpp"

namespace karman::fno {
namespace {

using nn::Activation;
using nn::ExecutionSpace;

// The grid of one sample and its zero-padded extension, for the pad/crop/coordinate kernels.
struct GridMap {
  int dims = 0;
  long n[3] = {1, 1, 1};       // grid
  long padded[3] = {1, 1, 1};  // grid + padding

  // Point index in the grid of point p of the padded grid, or -1 inside the padding.
  KOKKOS_INLINE_FUNCTION long unpadded_point(long p) const {
    long flat = 0, stride = 1;
    for (int d = dims - 1; d >= 0; --d) {
      const long i = p % padded[d];
      p /= padded[d];
      if (i >= n[d]) return -1;
      flat += i * stride;
      stride *= n[d];
    }
    return flat;
  }
  // Coordinate d ∈ [0, 1] of grid point p: linspace(0, 1, n_d), as the reference's get_grid.
  template <class T>
  KOKKOS_INLINE_FUNCTION T coordinate(long p, int d) const {
    long stride = 1;
    for (int e = dims - 1; e > d; --e) stride *= n[e];
    const long i = (p / stride) % n[d];
    return n[d] > 1 ? static_cast<T>(i) / static_cast<T>(n[d] - 1) : T(0);
  }
};

GridMap grid_map(const std::vector<long>& shape, const std::vector<long>& padded) {
  GridMap g;
  g.dims = static_cast<int>(shape.size());
  for (int d = 0; d < g.dims; ++d) g.n[d] = shape[d], g.padded[d] = padded[d];
  return g;
}

// to [B·Np, C] = from [B·N, C] zero-padded at the far end of every dimension.
template <class T>
void pad(const Matrix<T>& from, const Matrix<T>& to, const GridMap& g, long points,
         long padded_points) {
  const std::size_t cols = to.extent(1);
  Kokkos::parallel_for(
      "karman::fno::pad", Kokkos::RangePolicy<ExecutionSpace>(0, to.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        const long b = static_cast<long>(r) / padded_points;
        const long p = g.unpadded_point(static_cast<long>(r) % padded_points);
        T* KOKKOS_RESTRICT dst = &to(r, 0);
        if (p < 0) {
          for (std::size_t c = 0; c < cols; ++c) dst[c] = T(0);
        } else {
          const T* KOKKOS_RESTRICT src = &from(b * points + p, 0);
#pragma omp simd
          for (std::size_t c = 0; c < cols; ++c) dst[c] = src[c];
        }
      });
}

// to [B·N, C] = the grid rows of from [B·Np, C] (the adjoint of pad).
template <class T>
void crop(const Matrix<T>& from, const Matrix<T>& to, const GridMap& g, long points,
          long padded_points) {
  const std::size_t cols = to.extent(1);
  Kokkos::parallel_for(
      "karman::fno::crop", Kokkos::RangePolicy<ExecutionSpace>(0, from.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        const long b = static_cast<long>(r) / padded_points;
        const long p = g.unpadded_point(static_cast<long>(r) % padded_points);
        if (p < 0) return;
        const T* KOKKOS_RESTRICT src = &from(r, 0);
        T* KOKKOS_RESTRICT dst = &to(b * points + p, 0);
#pragma omp simd
        for (std::size_t c = 0; c < cols; ++c) dst[c] = src[c];
      });
}

// z = s + p and a = GELU(z) (a aliases z in the last block, where activate is false).
template <class T>
void add_activate(const Matrix<T>& s, const Matrix<T>& p, const Matrix<T>& z, const Matrix<T>& a,
                  bool activate) {
  const std::size_t cols = z.extent(1);
  Kokkos::parallel_for(
      "karman::fno::block_forward", Kokkos::RangePolicy<ExecutionSpace>(0, z.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        const T* KOKKOS_RESTRICT si = &s(r, 0);
        const T* KOKKOS_RESTRICT pi = &p(r, 0);
        T* KOKKOS_RESTRICT zi = &z(r, 0);
        if (activate) {
          T* KOKKOS_RESTRICT ai = &a(r, 0);
#pragma omp simd
          for (std::size_t c = 0; c < cols; ++c) {
            const T sum = si[c] + pi[c];
            zi[c] = sum;
            ai[c] = nn::activate(Activation::gelu, sum);
          }
        } else {
#pragma omp simd
          for (std::size_t c = 0; c < cols; ++c) zi[c] = si[c] + pi[c];
        }
      });
}

// dz = (ds + dp) ∘ GELU'(z), or ds + dp when z is empty (the block input gradient itself).
template <class T>
void add_activation_gradient(const Matrix<T>& ds, const Matrix<T>& dp, const Matrix<T>& z,
                             const Matrix<T>& dz) {
  const std::size_t cols = dz.extent(1);
  const bool activate = z.data() != nullptr;
  Kokkos::parallel_for(
      "karman::fno::block_backward", Kokkos::RangePolicy<ExecutionSpace>(0, dz.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        const T* KOKKOS_RESTRICT dsi = &ds(r, 0);
        const T* KOKKOS_RESTRICT dpi = &dp(r, 0);
        T* KOKKOS_RESTRICT dzi = &dz(r, 0);
        if (activate) {
          const T* KOKKOS_RESTRICT zi = &z(r, 0);
#pragma omp simd
          for (std::size_t c = 0; c < cols; ++c)
            dzi[c] = (dsi[c] + dpi[c]) * nn::activate_derivative(Activation::gelu, zi[c]);
        } else {
#pragma omp simd
          for (std::size_t c = 0; c < cols; ++c) dzi[c] = dsi[c] + dpi[c];
        }
      });
}

// PyTorch's default for nn.Linear and nn.Conv1d (the reference's fc0, w0..w3, fc1, fc2):
// weights and bias U(±1/sqrt(fan_in)) (kaiming_uniform with a = √5).
nn::LinearOptions torch_default(long in, Activation activation) {
  nn::LinearOptions o;
  o.activation = activation;
  o.init = nn::Init::kaiming_uniform;
  o.gain = 1.0 / std::sqrt(3.0);  // bound = gain·sqrt(3/in) = 1/sqrt(in)
  o.bias_init = nn::Init::uniform;
  o.bias_gain = 1.0 / std::sqrt(static_cast<double>(in));
  return o;
}

}  // namespace

template <class T>
FnoModel<T>::FnoModel(const FnoSpec& spec, long in_channels, long out_channels)
    : m_spec(spec), m_in(in_channels), m_out(out_channels) {
  const long dim = dimension();
  KARMAN_VERIFY(dim >= 1 && dim <= 3, "FnoModel: modes must have 1 to 3 entries");
  KARMAN_VERIFY(m_spec.padding.empty() || static_cast<long>(m_spec.padding.size()) == dim,
                "FnoModel: padding must be empty or have one entry per dimension");
  if (m_spec.padding.empty()) m_spec.padding.assign(dim, 0);
  KARMAN_VERIFY(in_channels >= 1 && out_channels >= 1 && spec.width >= 1 && spec.layers >= 1 &&
                    spec.projection >= 1,
                "FnoModel: channels, width, layers and projection must be positive");
  const long lifted_in = in_channels + (spec.grid_features ? dim : 0);
  m_lift = std::make_unique<nn::Linear<T>>(lifted_in, spec.width,
                                           torch_default(lifted_in, Activation::identity));
  for (long l = 0; l < spec.layers; ++l) {
    m_spectral.push_back(std::make_unique<SpectralConv<T>>(spec.width, spec.width, spec.modes));
    m_pointwise.push_back(std::make_unique<nn::Linear<T>>(
        spec.width, spec.width, torch_default(spec.width, Activation::identity)));
  }
  m_projection = std::make_unique<nn::Linear<T>>(spec.width, spec.projection,
                                                 torch_default(spec.width, Activation::gelu));
  m_output = std::make_unique<nn::Linear<T>>(spec.projection, out_channels,
                                             torch_default(spec.projection, Activation::identity));
}

template <class T>
FnoModel<T>::~FnoModel() = default;

template <class T>
void FnoModel<T>::set_grid(const std::vector<long>& shape) {
  KARMAN_VERIFY(static_cast<long>(shape.size()) == dimension(),
                "FnoModel: the grid has " + std::to_string(shape.size()) +
                    " dimensions, the model " + std::to_string(dimension()));
  std::vector<long> padded(shape);
  for (std::size_t d = 0; d < shape.size(); ++d) {
    KARMAN_VERIFY(shape[d] >= 1, "FnoModel: grid sizes must be positive");
    padded[d] += m_spec.padding[d];
  }
  for (auto& spectral : m_spectral) spectral->set_grid(padded);
  m_shape = shape;
  m_padded_shape = padded;
  m_points = product(shape);
  m_padded_points = product(padded);
}

template <class T>
void FnoModel<T>::declare(nn::Parameters<T>& parameters, const std::string& prefix) {
  m_lift->declare(parameters, prefix + "lift.");
  for (long l = 0; l < m_spec.layers; ++l) {
    const std::string block = prefix + "blocks." + std::to_string(l) + ".";
    m_spectral[l]->declare(parameters, block + "spectral.");
    m_pointwise[l]->declare(parameters, block + "pointwise.");
  }
  m_projection->declare(parameters, prefix + "projection.");
  m_output->declare(parameters, prefix + "output.");
}

template <class T>
void FnoModel<T>::initialize(std::uint64_t seed) {
  // Every module draws from streams keyed on (seed, parameter index): one seed for all.
  m_lift->initialize(seed);
  for (long l = 0; l < m_spec.layers; ++l) {
    m_spectral[l]->initialize(seed);
    m_pointwise[l]->initialize(seed);
  }
  m_projection->initialize(seed);
  m_output->initialize(seed);
}

template <class T>
Matrix<T> FnoModel<T>::with_grid_features(FnoContext& c) const {
  const Matrix<T> x = c.x;
  if (!m_spec.grid_features) return x;
  const int dims = static_cast<int>(dimension());
  const std::size_t in = m_in;
  nn::ensure_shape(c.features, "karman::fno::features", x.extent(0), in + dims);
  const Matrix<T> features = c.features;
  const GridMap g = grid_map(m_shape, m_padded_shape);
  const long points = m_points;
  Kokkos::parallel_for(
      "karman::fno::grid_features", Kokkos::RangePolicy<ExecutionSpace>(0, x.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t c = 0; c < in; ++c) features(r, c) = x(r, c);
        const long p = static_cast<long>(r) % points;
        for (int d = 0; d < dims; ++d) features(r, in + d) = g.coordinate<T>(p, d);
      });
  return c.features;
}

template <class T>
void FnoModel<T>::forward_impl(nn::Context<T>& context, nn::Workspace<T>& workspace) {
  auto& c = this->template as<FnoContext>(context);
  const Matrix<T> x = c.x;
  KARMAN_VERIFY(m_points > 0, "FnoModel: set_grid before forward");
  KARMAN_VERIFY(x.extent(0) % m_points == 0 && x.extent(0) > 0,
                "FnoModel: input must be [B·N, " + std::to_string(m_in) +
                    "] with N = " + std::to_string(m_points) + ", got [" +
                    std::to_string(x.extent(0)) + ", " + std::to_string(x.extent(1)) + "]");
  const long batch = static_cast<long>(x.extent(0)) / m_points;
  const std::size_t rows = batch * m_points, padded_rows = batch * m_padded_points;
  const std::size_t width = m_spec.width;
  const GridMap g = grid_map(m_shape, m_padded_shape);
  const nn::Pass values = nn::Pass::values();

  c.lift = &m_lift->forward(with_grid_features(c), values, workspace);
  Matrix<T> a = c.lift->y;  // [B·N, width]
  if (padded()) {
    nn::ensure_shape(c.lifted_padded, "karman::fno::lifted_padded", padded_rows, width);
    pad(a, c.lifted_padded, g, m_points, m_padded_points);
    a = c.lifted_padded;
  }
  const long layers = m_spec.layers;
  c.z.resize(layers);
  c.a.resize(layers);
  c.spectral.resize(layers);
  c.pointwise.resize(layers);
  for (long l = 0; l < layers; ++l) {
    const bool last = l + 1 == layers;
    nn::ensure_shape(c.z[l], "karman::fno::block_z", padded_rows, width);
    if (last)
      c.a[l] = c.z[l];
    else
      nn::ensure_shape(c.a[l], "karman::fno::block_a", padded_rows, width);
    c.spectral[l] = &m_spectral[l]->forward(a, values, workspace);
    c.pointwise[l] = &m_pointwise[l]->forward(a, values, workspace);
    add_activate(c.spectral[l]->y, c.pointwise[l]->y, c.z[l], c.a[l], !last);
    a = c.a[l];
  }
  if (padded()) {
    nn::ensure_shape(c.cropped, "karman::fno::cropped", rows, width);
    crop(a, c.cropped, g, m_points, m_padded_points);
    a = c.cropped;
  }
  c.projection = &m_projection->forward(a, values, workspace);
  c.output = &m_output->forward(c.projection->y, values, workspace);
  c.y = c.output->y;
}

template <class T>
void FnoModel<T>::backward_impl(nn::Context<T>& context, const Matrix<T>& dy,
                                const nn::Gradient<T>& gradient) {
  auto& c = this->template as<FnoContext>(context);
  const long batch = static_cast<long>(c.rows()) / m_points;
  const std::size_t rows = batch * m_points, padded_rows = batch * m_padded_points;
  const std::size_t width = m_spec.width;
  const GridMap g = grid_map(m_shape, m_padded_shape);

  Matrix<T> da = m_projection->backward(*c.projection, m_output->backward(*c.output, dy, gradient),
                                        gradient);  // [B·N, width]
  if (padded()) {
    nn::ensure_shape(c.da, "karman::fno::da", padded_rows, width);
    pad(da, c.da, g, m_points, m_padded_points);
    da = c.da;
  }
  // The last block has no activation: its dz is da.
  Matrix<T> dz = da;
  nn::ensure_shape(c.dz, "karman::fno::dz", padded_rows, width);
  for (long l = m_spec.layers - 1; l >= 0; --l) {
    const Matrix<T> ds = m_spectral[l]->backward(*c.spectral[l], dz, gradient);
    const Matrix<T> dp = m_pointwise[l]->backward(*c.pointwise[l], dz, gradient);
    // Gradient of the previous block's pre-activation, or of block 0's input.
    add_activation_gradient(ds, dp, l > 0 ? c.z[l - 1] : Matrix<T>(), c.dz);
    dz = c.dz;
  }
  Matrix<T> dlift = c.dz;  // [B·Np, width]
  if (padded()) {
    nn::ensure_shape(c.dlift, "karman::fno::dlift", rows, width);
    crop(dlift, c.dlift, g, m_points, m_padded_points);
    dlift = c.dlift;
  }
  const Matrix<T> dfeatures = m_lift->backward(*c.lift, dlift, gradient);
  if (!m_spec.grid_features) {
    c.dx = dfeatures;
    return;
  }
  // The grid coordinates are constants: drop their columns.
  nn::ensure_shape(c.dx, "karman::fno::dx", rows, m_in);
  const Matrix<T> dx = c.dx;
  const std::size_t in = m_in;
  Kokkos::parallel_for(
      "karman::fno::input_gradient", Kokkos::RangePolicy<ExecutionSpace>(0, rows),
      KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t c = 0; c < in; ++c) dx(r, c) = dfeatures(r, c);
      });
}

FnoSpec read_fno(const config::Node& model, int dim) {
  KARMAN_VERIFY(dim >= 1 && dim <= 3, "read_fno: dim must be 1, 2 or 3");
  constexpr long kMaxSize = 1L << 20;
  FnoSpec spec;
  const long default_modes = dim == 1 ? 16 : dim == 2 ? 12 : 8;  // the reference scripts
  spec.modes = model.has("modes") ? model.integers("modes", dim, 1, kMaxSize)
                                  : std::vector<long>(dim, default_modes);
  spec.width = model.integer("width", 32, 1, kMaxSize);
  spec.layers = model.integer("layers", 4, 1, 1000);
  spec.projection = model.integer("projection", 128, 1, kMaxSize);
  if (model.has("padding")) spec.padding = model.integers("padding", dim, 0, kMaxSize);
  spec.grid_features = model.flag("grid_features", true);
  spec.seed = static_cast<std::uint64_t>(model.integer("seed", 1, 0));
  return spec;
}

template class FnoModel<float>;
template class FnoModel<double>;

}  // namespace karman::fno
