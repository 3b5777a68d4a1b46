#include "karman/nn/kernel_integral.hpp"

#include <algorithm>
#include <cmath>

#include "karman/core/error.hpp"
#include "karman/nn/gemm.hpp"
#include "karman/nn/init.hpp"

namespace karman::nn {

namespace {

using Range = Kokkos::RangePolicy<ExecutionSpace>;

// The materialised path keeps its kernel and messages for the backward; the factored path keeps
// nothing beyond the caller's v and g.
template <class T>
struct KernelIntegralContext : GraphContext<T> {
  Matrix<T> kernel;    // [E, w·w] κ_k (in-major: κ_k[b·w + a])
  Matrix<T> messages;  // [E, w] κ_k v_j
};

// A row-major buffer [rows·cols] seen as another row-major shape (no copy).
template <class T>
Matrix<T> reshaped(const Matrix<T>& m, std::size_t rows, std::size_t cols) {
  KARMAN_VERIFY(m.span_is_contiguous() && m.size() == rows * cols,
                "KernelIntegral: reshape of a buffer of another size");
  return Matrix<T>(m.data(), rows, cols);
}

template <class T>
Matrix<T> row_block(const Matrix<T>& m, std::size_t first, std::size_t count) {
  return Kokkos::subview(m, Kokkos::make_pair(first, first + count), Kokkos::ALL);
}

// Register tiles of the per-node sums over edges: kTileRows × kTileCols entries (4 × 32 floats or
// 4 × 16 doubles: 16 AVX2 / 8 AVX-512 accumulators, with room for the operands). A node's edges
// are taken kEdgeBatch at a time (their row pointers on the stack), so the tiles loop over a plain
// list instead of rescanning the incidence.
constexpr std::size_t kTileRows = 4;
template <class T>
constexpr std::size_t kTileCols = 128 / sizeof(T);
constexpr std::size_t kEdgeBatch = 128;

// out[x·ld + y] += Σ_{e < n} x_e[x] y_e[y]   x < nx, y < ny    out [nx, ny] (row stride ld);
// x_e = xs[e] [nx], y_e = ys[e] [ny]: a sum of n outer products.
template <class T>
KOKKOS_INLINE_FUNCTION void add_outer_sums(const T* const* xs, const T* const* ys, std::size_t n,
                                           std::size_t nx, std::size_t ny, T* out, std::size_t ld) {
  constexpr std::size_t cols = kTileCols<T>;
  for (std::size_t x0 = 0; x0 < nx; x0 += kTileRows)
    for (std::size_t y0 = 0; y0 < ny; y0 += cols) {
      if (x0 + kTileRows > nx || y0 + cols > ny) {  // an edge tile: plain loops
        const std::size_t x1 = std::min(nx, x0 + kTileRows), y1 = std::min(ny, y0 + cols);
        for (std::size_t e = 0; e < n; ++e)
          for (std::size_t x = x0; x < x1; ++x)
            for (std::size_t y = y0; y < y1; ++y) out[x * ld + y] += xs[e][x] * ys[e][y];
        continue;
      }
      T acc[kTileRows][cols] = {};
      for (std::size_t e = 0; e < n; ++e) {
        const T* KOKKOS_RESTRICT xe = xs[e] + x0;
        const T* KOKKOS_RESTRICT ye = ys[e] + y0;
        for (std::size_t a = 0; a < kTileRows; ++a) {
          const T xa = xe[a];
#pragma omp simd
          for (std::size_t b = 0; b < cols; ++b) acc[a][b] += xa * ye[b];
        }
      }
      for (std::size_t a = 0; a < kTileRows; ++a) {
        T* KOKKOS_RESTRICT to = out + (x0 + a) * ld + y0;
#pragma omp simd
        for (std::size_t b = 0; b < cols; ++b) to[b] += acc[a][b];
      }
    }
}

// out[y·stride] += Σ_{e < n} y_e[y]   y < ny: the outer sums' row or column of g̃'s constant 1.
template <class T>
KOKKOS_INLINE_FUNCTION void add_row_sums(const T* const* ys, std::size_t n, std::size_t ny, T* out,
                                         std::size_t stride) {
  constexpr std::size_t cols = kTileCols<T>;
  for (std::size_t y0 = 0; y0 < ny; y0 += cols) {
    const std::size_t count = std::min(cols, ny - y0);
    T acc[cols] = {};
    for (std::size_t e = 0; e < n; ++e) {
      const T* KOKKOS_RESTRICT ye = ys[e] + y0;
      if (count == cols) {
#pragma omp simd
        for (std::size_t b = 0; b < cols; ++b) acc[b] += ye[b];
      } else {
        for (std::size_t b = 0; b < count; ++b) acc[b] += ye[b];
      }
    }
    for (std::size_t b = 0; b < count; ++b) out[(y0 + b) * stride] += acc[b];
  }
}

// out_e[y] = Σ_{b < nb} x_e[b] u[b·ld + y]   y < ny, e < n: n rows x_e [nb] (xs) times one matrix
// u [nb, ny] (row stride ld), written to the rows outs[e] [ny].
template <class T>
KOKKOS_INLINE_FUNCTION void rows_times_matrix(const T* const* xs, std::size_t n, std::size_t nb,
                                              const T* u, std::size_t ld, std::size_t ny,
                                              T* const* outs) {
  constexpr std::size_t cols = kTileCols<T>;
  for (std::size_t e0 = 0; e0 < n; e0 += kTileRows)
    for (std::size_t y0 = 0; y0 < ny; y0 += cols) {
      if (e0 + kTileRows > n || y0 + cols > ny) {  // an edge tile: plain loops
        const std::size_t e1 = std::min(n, e0 + kTileRows), y1 = std::min(ny, y0 + cols);
        for (std::size_t e = e0; e < e1; ++e)
          for (std::size_t y = y0; y < y1; ++y) {
            T sum = 0;
            for (std::size_t b = 0; b < nb; ++b) sum += xs[e][b] * u[b * ld + y];
            outs[e][y] = sum;
          }
        continue;
      }
      T acc[kTileRows][cols] = {};
      for (std::size_t b = 0; b < nb; ++b) {
        const T* KOKKOS_RESTRICT ub = u + b * ld + y0;
        for (std::size_t a = 0; a < kTileRows; ++a) {
          const T xa = xs[e0 + a][b];
#pragma omp simd
          for (std::size_t c = 0; c < cols; ++c) acc[a][c] += xa * ub[c];
        }
      }
      for (std::size_t a = 0; a < kTileRows; ++a) {
        T* KOKKOS_RESTRICT to = outs[e0 + a] + y0;
#pragma omp simd
        for (std::size_t c = 0; c < cols; ++c) to[c] = acc[a][c];
      }
    }
}

}  // namespace

template <class T>
KernelIntegral<T>::KernelIntegral(const KernelIntegralOptions& options) : m_options(options) {
  KARMAN_VERIFY(options.width > 0 && options.rank > 0,
                "KernelIntegral: the width and the kernel rank must be positive");
}

template <class T>
void KernelIntegral<T>::declare(Parameters<T>& parameters, const std::string& prefix) {
  const std::size_t w = m_options.width, r1 = m_options.rank + 1;
  m_parameters = &parameters;
  m_theta = parameters.declare(prefix + "theta", w, r1 * w);
  if (m_options.root) m_root = parameters.declare(prefix + "root.weight", w, w);
  if (m_options.bias) m_bias = parameters.declare(prefix + "root.bias", 1, w);
}

template <class T>
void KernelIntegral<T>::initialize(std::uint64_t seed) {
  const std::size_t w = m_options.width, r1 = m_options.rank + 1;
  // PyTorch's Linear(R, w·w): U(±1/sqrt(fan-in)); here fan-in R + 1 (the bias row is a row of Θ)
  // and the 1/w that keeps κ v of order one.
  const double bound = 1.0 / (static_cast<double>(w) * std::sqrt(static_cast<double>(r1)));
  initialize_parameter(*m_parameters, m_theta, Init::uniform, r1, w * w, bound, seed);
  if (m_options.root)
    initialize_parameter(*m_parameters, m_root, Init::xavier_uniform, w, w, 1.0, seed);
  if (m_options.bias) initialize_parameter(*m_parameters, m_bias, Init::zeros, w, w, 0.0, seed);
}

template <class T>
std::size_t KernelIntegral<T>::block_nodes(std::size_t nodes) const {
  // The factored path's node buffers [block, (R + 1)·w] hold ~2²⁴ entries (64 MB in float32)
  // whatever N, rows enough for full-speed GEMMs: memory O(E·R) overall (de), not O(N·R·w).
  const std::size_t per_node = (m_options.rank + 1) * m_options.width;
  const std::size_t block = m_options.node_block > 0
                                ? m_options.node_block
                                : std::max<std::size_t>(32, (std::size_t(1) << 24) / per_node);
  return std::max<std::size_t>(1, std::min(block, nodes));
}

template <class T>
std::size_t KernelIntegral<T>::working_bytes(std::size_t nodes, std::size_t edges) const {
  const std::size_t w = m_options.width, r = m_options.rank, r1 = r + 1;
  // The layer's own outputs: h_out [N, w], dh [N, w], de [E, R].
  std::size_t bytes = 2 * nodes * w + (m_options.edge_input_gradient ? edges * r : 0);
  if (m_options.materialized) {
    // Kept: κ [E, w·w], messages [E, w]. Backward: dκ [E, w·w], dm and κ dm [E, w], ones [E],
    // Θ and dΘ [R + 1, w·w].
    bytes += 2 * edges * w * w + 3 * edges * w + edges + 2 * r1 * w * w + nodes * w;
  } else {
    // Nothing kept. Forward: S [block, (R + 1)·w]; backward: dS and dP [block, (R + 1)·w],
    // dv'/deg [N, w].
    bytes += 2 * block_nodes(nodes) * r1 * w + nodes * w;
  }
  return bytes * sizeof(T);
}

template <class T>
std::unique_ptr<GraphContext<T>> KernelIntegral<T>::make_context() const {
  return std::make_unique<KernelIntegralContext<T>>();
}

// ------------------------------------------------------------------------------------- forward

template <class T>
void KernelIntegral<T>::forward_impl(GraphContext<T>& context, Workspace<T>&) {
  KARMAN_VERIFY(context.graph.kind == mesh::Edges::directed,
                "KernelIntegral: the graph must be directed (row = receiver, col = sender)");
  ensure_shape(context.h_out, "karman::nn::kernel_integral::h_out", context.graph.nodes,
               m_options.width);
  // No edge output: e_out [E, 0].
  if (context.e_out.extent(0) != static_cast<std::size_t>(context.graph.edges) ||
      context.e_out.extent(1) != 0)
    context.e_out = Matrix<T>("karman::nn::kernel_integral::e_out", context.graph.edges, 0);
  if (m_options.materialized)
    integral_materialized(context);
  else
    integral_factored(context);
  root_forward(context);
}

template <class T>
void KernelIntegral<T>::integral_factored(GraphContext<T>& c) {
  const std::size_t w = m_options.width, r = m_options.rank, r1 = r + 1;
  const std::size_t nodes = c.graph.nodes, block = block_nodes(nodes);
  // Per block of receivers [first, first + count):
  //   S_i = (1/deg_i) Σ_{k: row(k) = i} v_j ⊗ g̃_k   [count, w·(R + 1)], S_i[b·(R + 1) + q]
  // one small outer-product sum per receiver (its [w, R + 1] block stays in cache), then
  //   a = S theta'   [count, w·(R + 1)] × [w·(R + 1), w]
  // with theta' = theta viewed as [w·(R + 1), w] (theta[b][q·w + a] is its row b·(R + 1) + q).
  ensure_shape(m_node_buffer, "karman::nn::kernel_integral::node_buffer", block, w * r1);
  const Matrix<T> s = m_node_buffer, v = c.h, g = c.e;
  const Matrix<T> theta = reshaped(m_parameters->value(m_theta), w * r1, w);
  const mesh::GraphIndex row = c.graph.row, col = c.graph.col, degree = c.graph.degree;
  const mesh::GraphIndex incident_ptr = c.graph.incident_ptr, incident = c.graph.incident;
  for (std::size_t first = 0; first < nodes; first += block) {
    const std::size_t count = std::min(block, nodes - first);
    Kokkos::parallel_for(
        "karman::nn::kernel_integral::receiver_outer_sums", Range(first, first + count),
        KOKKOS_LAMBDA(const std::size_t i) {
          T* KOKKOS_RESTRICT si = &s(i - first, 0);
          for (std::size_t q = 0; q < w * r1; ++q) si[q] = T(0);
          const T* senders[kEdgeBatch];  // v_j  [w]
          const T* kernels[kEdgeBatch];  // g_k  [R] (g̃_k's 1 is implicit)
          for (long p = incident_ptr(i); p < incident_ptr(i + 1);) {
            std::size_t n = 0;
            for (; p < incident_ptr(i + 1) && n < kEdgeBatch; ++p) {
              const long k = incident(p);
              if (row(k) != static_cast<long>(i)) continue;
              senders[n] = &v(col(k), 0);
              kernels[n++] = &g(k, 0);
            }
            add_outer_sums<T>(senders, kernels, n, w, r, si, r1);  // S_i[b, q < R]
            add_row_sums<T>(senders, n, w, si + r, r1);            // S_i[b, R]: g̃'s 1
          }
          if (degree(i) == 0) return;
          const T scale = T(1) / static_cast<T>(degree(i));
#pragma omp simd
          for (std::size_t q = 0; q < w * r1; ++q) si[q] *= scale;
        });
    gemm(Transpose::no, Transpose::no, T(1), row_block(s, 0, count), theta, T(0),
         row_block(c.h_out, first, count));
  }
}

template <class T>
void KernelIntegral<T>::integral_materialized(GraphContext<T>& context) {
  auto& c = this->template as<KernelIntegralContext<T>>(context);
  const std::size_t w = m_options.width, r = m_options.rank, r1 = r + 1, ww = w * w;
  const std::size_t edges = c.graph.edges;
  // Θ [R + 1, w·w], Θ[q][b·w + a] = theta[b][q·w + a] (GKN's last Linear: weight rows, bias row).
  ensure_shape(m_kernel_table, "karman::nn::kernel_integral::kernel_table", r1, ww);
  const Matrix<T> table = m_kernel_table, theta = m_parameters->value(m_theta);
  Kokkos::parallel_for(
      "karman::nn::kernel_integral::kernel_table", Range(0, r1),
      KOKKOS_LAMBDA(const std::size_t q) {
        for (std::size_t b = 0; b < w; ++b)
          for (std::size_t a = 0; a < w; ++a) table(q, b * w + a) = theta(b, q * w + a);
      });
  // κ = g̃ Θ = Θ[R] (every row) + g Θ[:R]  [E, w·w]
  ensure_shape(c.kernel, "karman::nn::kernel_integral::kernel", edges, ww);
  const Matrix<T> kernel = c.kernel;
  Kokkos::parallel_for(
      "karman::nn::kernel_integral::kernel_bias", Range(0, edges),
      KOKKOS_LAMBDA(const std::size_t k) {
        for (std::size_t q = 0; q < ww; ++q) kernel(k, q) = table(r, q);
      });
  gemm(Transpose::no, Transpose::no, T(1), c.e, row_block(table, 0, r), T(1), kernel);
  // m_k = κ_k v_j: m_k[a] = Σ_b v_j[b] κ_k[b·w + a]  [E, w]
  ensure_shape(c.messages, "karman::nn::kernel_integral::messages", edges, w);
  const Matrix<T> messages = c.messages, v = c.h;
  const mesh::GraphIndex col = c.graph.col;
  Kokkos::parallel_for(
      "karman::nn::kernel_integral::messages", Range(0, edges), KOKKOS_LAMBDA(const std::size_t k) {
        T* KOKKOS_RESTRICT mk = &messages(k, 0);
        const T* KOKKOS_RESTRICT vj = &v(col(k), 0);
        for (std::size_t a = 0; a < w; ++a) mk[a] = T(0);
        for (std::size_t b = 0; b < w; ++b) {
          const T* KOKKOS_RESTRICT kb = &kernel(k, b * w);
          const T vb = vj[b];
#pragma omp simd
          for (std::size_t a = 0; a < w; ++a) mk[a] += vb * kb[a];
        }
      });
  mesh::segment_mean<T>(c.graph, messages, c.h_out);
}

template <class T>
void KernelIntegral<T>::root_forward(GraphContext<T>& c) {
  if (m_options.root)
    gemm(Transpose::no, Transpose::no, T(1), c.h, m_parameters->value(m_root), T(1), c.h_out);
  if (!m_options.bias) return;
  const Matrix<T> out = c.h_out, b = m_parameters->value(m_bias);
  const std::size_t w = m_options.width;
  Kokkos::parallel_for(
      "karman::nn::kernel_integral::bias", Range(0, out.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) {
        T* KOKKOS_RESTRICT oi = &out(i, 0);
        const T* KOKKOS_RESTRICT bias = &b(0, 0);
#pragma omp simd
        for (std::size_t a = 0; a < w; ++a) oi[a] += bias[a];
      });
}

// ------------------------------------------------------------------------------------ backward

template <class T>
void KernelIntegral<T>::backward_impl(GraphContext<T>& c, const Matrix<T>& dh_out, const Matrix<T>&,
                                      const Gradient<T>& gradient) {
  const std::size_t w = m_options.width, nodes = c.graph.nodes;
  // da_i = dv'_i / deg_i  [N, w] (0 at a receiver without edges: it reaches no edge anyway)
  ensure_shape(m_scaled, "karman::nn::kernel_integral::scaled", nodes, w);
  const Matrix<T> scaled = m_scaled;
  const mesh::GraphIndex degree = c.graph.degree;
  Kokkos::parallel_for(
      "karman::nn::kernel_integral::scaled", Range(0, nodes), KOKKOS_LAMBDA(const std::size_t i) {
        const T scale = degree(i) > 0 ? T(1) / static_cast<T>(degree(i)) : T(0);
        for (std::size_t a = 0; a < w; ++a) scaled(i, a) = scale * dh_out(i, a);
      });
  ensure_shape(c.dh, "karman::nn::kernel_integral::dh", nodes, w);
  if (m_options.edge_input_gradient)
    ensure_shape(c.de, "karman::nn::kernel_integral::de", c.graph.edges, m_options.rank);
  else
    c.de = Matrix<T>();
  if (m_options.materialized)
    integral_backward_materialized(c, gradient);
  else
    integral_backward_factored(c, gradient);
  root_backward(c, dh_out, gradient);
}

template <class T>
void KernelIntegral<T>::integral_backward_factored(GraphContext<T>& c,
                                                   const Gradient<T>& gradient) {
  const std::size_t w = m_options.width, r = m_options.rank, r1 = r + 1;
  const std::size_t nodes = c.graph.nodes, block = block_nodes(nodes);
  const Matrix<T> theta = m_parameters->value(m_theta);     // [w, (R + 1)·w]
  const Matrix<T> theta_rows = reshaped(theta, w * r1, w);  // theta' [w·(R + 1), w]
  ensure_shape(m_node_buffer, "karman::nn::kernel_integral::node_buffer", block, r1 * w);
  ensure_shape(m_node_gradient, "karman::nn::kernel_integral::node_gradient", block, r1 * w);
  const Matrix<T> dsums = m_node_buffer, dproducts = m_node_gradient, da = m_scaled;
  const Matrix<T> v = c.h, g = c.e, dg = c.de;
  const bool edge_gradient = m_options.edge_input_gradient;
  const mesh::GraphIndex row = c.graph.row, col = c.graph.col;
  const mesh::GraphIndex incident_ptr = c.graph.incident_ptr, incident = c.graph.incident;
  for (std::size_t first = 0; first < nodes; first += block) {
    const std::size_t count = std::min(block, nodes - first);
    // Per sender j of the block, over its edges k (col(k) = j, receiver i = row(k)):
    //   dP_j = Σ_k g̃_k ⊗ da_i   [R + 1, w]   (P = v theta: P_j[q·w + a])
    Kokkos::parallel_for(
        "karman::nn::kernel_integral::sender_outer_sums", Range(first, first + count),
        KOKKOS_LAMBDA(const std::size_t j) {
          T* KOKKOS_RESTRICT dpj = &dproducts(j - first, 0);
          for (std::size_t q = 0; q < r1 * w; ++q) dpj[q] = T(0);
          const T* kernels[kEdgeBatch];    // g_k  [R]
          const T* receivers[kEdgeBatch];  // da_i [w]
          for (long p = incident_ptr(j); p < incident_ptr(j + 1);) {
            std::size_t n = 0;
            for (; p < incident_ptr(j + 1) && n < kEdgeBatch; ++p) {
              const long k = incident(p);
              if (col(k) != static_cast<long>(j)) continue;
              kernels[n] = &g(k, 0);
              receivers[n++] = &da(row(k), 0);
            }
            add_outer_sums<T>(kernels, receivers, n, r, w, dpj, w);  // dP_j[q < R, :]
            add_row_sums<T>(receivers, n, w, dpj + r * w, 1);        // dP_j[R, :]: g̃'s 1
          }
        });
    // dtheta (+)= vᵀ dP  [w, (R + 1)·w];  dv = dP thetaᵀ  [count, w]
    const Matrix<T> dp = row_block(dproducts, 0, count);
    if (gradient.parameters())
      gemm(Transpose::yes, Transpose::no, T(1), row_block(v, first, count), dp,
           first == 0 ? gradient.keep() : T(1), m_parameters->gradient(m_theta));
    gemm(Transpose::no, Transpose::yes, T(1), dp, theta, T(0), row_block(c.dh, first, count));
    if (!edge_gradient) continue;
    // dg_kq = P_j[q, :] · da_i = Σ_b v_j[b] dS_i[b, q] with dS = da theta'ᵀ  [count, w·(R + 1)]
    // (the forward's S_i = ... v_j ⊗ g̃_k / deg_i): per receiver, its edges' rows v_j times its
    // [w, R + 1] block, in cache.
    const Matrix<T> ds = row_block(dsums, 0, count);
    gemm(Transpose::no, Transpose::yes, T(1), row_block(da, first, count), theta_rows, T(0), ds);
    Kokkos::parallel_for(
        "karman::nn::kernel_integral::edge_input_gradient", Range(first, first + count),
        KOKKOS_LAMBDA(const std::size_t i) {
          const T* senders[kEdgeBatch];  // v_j  [w]
          T* gradients[kEdgeBatch];      // dg_k [R]
          for (long p = incident_ptr(i); p < incident_ptr(i + 1);) {
            std::size_t n = 0;
            for (; p < incident_ptr(i + 1) && n < kEdgeBatch; ++p) {
              const long k = incident(p);
              if (row(k) != static_cast<long>(i)) continue;
              senders[n] = &v(col(k), 0);
              gradients[n++] = &dg(k, 0);
            }
            rows_times_matrix<T>(senders, n, w, &ds(i - first, 0), r1, r, gradients);
          }
        });
  }
}

template <class T>
void KernelIntegral<T>::integral_backward_materialized(GraphContext<T>& context,
                                                       const Gradient<T>& gradient) {
  auto& c = this->template as<KernelIntegralContext<T>>(context);
  const std::size_t w = m_options.width, r = m_options.rank, r1 = r + 1, ww = w * w;
  const std::size_t edges = c.graph.edges;
  // dm_k = dv'_i / deg_i  [E, w]
  ensure_shape(m_message_gradient, "karman::nn::kernel_integral::message_gradient", edges, w);
  const Matrix<T> dm = m_message_gradient, v = c.h, kernel = c.kernel;
  mesh::gather<T>(c.graph, mesh::End::row, m_scaled, dm);
  // dκ_k = v_j ⊗ dm_k  [E, w·w];  (κ_k dm_k)[b] = Σ_a κ_k[b·w + a] dm_k[a]  [E, w]
  ensure_shape(m_edge_gradient, "karman::nn::kernel_integral::edge_gradient", edges, ww);
  ensure_shape(m_edge_vector, "karman::nn::kernel_integral::edge_vector", edges, w);
  const Matrix<T> dkernel = m_edge_gradient, back = m_edge_vector;
  const mesh::GraphIndex col = c.graph.col;
  Kokkos::parallel_for(
      "karman::nn::kernel_integral::kernel_gradient", Range(0, edges),
      KOKKOS_LAMBDA(const std::size_t k) {
        const T* KOKKOS_RESTRICT dmk = &dm(k, 0);
        for (std::size_t b = 0; b < w; ++b) {
          T* KOKKOS_RESTRICT dkb = &dkernel(k, b * w);
          const T* KOKKOS_RESTRICT kb = &kernel(k, b * w);
          const T vb = v(col(k), b);
          T sum = 0;
#pragma omp simd reduction(+ : sum)
          for (std::size_t a = 0; a < w; ++a) {
            dkb[a] = vb * dmk[a];
            sum += kb[a] * dmk[a];
          }
          back(k, b) = sum;
        }
      });
  // dv_j = Σ_{k: col(k) = j} κ_k dm_k
  Kokkos::deep_copy(c.dh, T(0));
  mesh::scatter_add<T>(c.graph, mesh::End::col, back, c.dh);
  // dg = dκ Θ[:R]ᵀ  [E, R]
  const Matrix<T> table = m_kernel_table;
  if (m_options.edge_input_gradient)
    gemm(Transpose::no, Transpose::yes, T(1), dkernel, row_block(table, 0, r), T(0), c.de);
  if (!gradient.parameters()) return;
  // dΘ = g̃ᵀ dκ  [R + 1, w·w]: gᵀ dκ and the bias row Σ_k dκ_k; then into theta's layout.
  ensure_shape(m_table_gradient, "karman::nn::kernel_integral::table_gradient", r1, ww);
  const Matrix<T> dtable = m_table_gradient;
  gemm(Transpose::yes, Transpose::no, T(1), c.e, dkernel, T(0), row_block(dtable, 0, r));
  if (m_ones.extent(0) != edges) {
    ensure_shape(m_ones, "karman::nn::kernel_integral::ones", edges, 1);
    Kokkos::deep_copy(m_ones, T(1));
  }
  gemm(Transpose::yes, Transpose::no, T(1), m_ones, dkernel, T(0), row_block(dtable, r, 1));
  const Matrix<T> dtheta = m_parameters->gradient(m_theta);
  const bool accumulate = gradient.mode == GradientMode::accumulate;
  Kokkos::parallel_for(
      "karman::nn::kernel_integral::theta_gradient", Range(0, w),
      KOKKOS_LAMBDA(const std::size_t b) {
        for (std::size_t q = 0; q < r1; ++q)
          for (std::size_t a = 0; a < w; ++a) {
            const T d = dtable(q, b * w + a);
            dtheta(b, q * w + a) = accumulate ? dtheta(b, q * w + a) + d : d;
          }
      });
}

template <class T>
void KernelIntegral<T>::root_backward(GraphContext<T>& c, const Matrix<T>& dh_out,
                                      const Gradient<T>& gradient) {
  if (m_options.root) {
    gemm(Transpose::no, Transpose::yes, T(1), dh_out, m_parameters->value(m_root), T(1), c.dh);
    if (gradient.parameters())
      gemm(Transpose::yes, Transpose::no, T(1), c.h, dh_out, gradient.keep(),
           m_parameters->gradient(m_root));
  }
  if (!m_options.bias || !gradient.parameters()) return;
  const Matrix<T> dbias = m_parameters->gradient(m_bias);
  const bool accumulate = gradient.mode == GradientMode::accumulate;
  const std::size_t nodes = c.graph.nodes;
  Kokkos::parallel_for(
      "karman::nn::kernel_integral::dbias", Range(0, m_options.width),
      KOKKOS_LAMBDA(const std::size_t a) {
        T sum = 0;
        for (std::size_t i = 0; i < nodes; ++i) sum += dh_out(i, a);
        dbias(0, a) = accumulate ? dbias(0, a) + sum : sum;
      });
}

template class KernelIntegral<float>;
template class KernelIntegral<double>;

}  // namespace karman::nn
