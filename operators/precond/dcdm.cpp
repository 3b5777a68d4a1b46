// DCDM's training side (operators/precond/dcdm.hpp): the scale-free loss with its gradient, and
// the Ritz-vector training set built from A (the reference code's src/datasetcreate.py idea:
// a Lanczos run, Ritz vectors, Gaussian combinations weighted towards the low spectrum).
#include "operators/precond/dcdm.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "operators/precond/fsai.hpp"

namespace karman::precond {
namespace {

double dot(const std::vector<double>& u, const std::vector<double>& v) {
  double sum = 0.0;
  for (std::size_t i = 0; i < u.size(); ++i) sum += u[i] * v[i];
  return sum;
}

double max_abs(const std::vector<double>& u) {
  double m = 0.0;
  for (double x : u) m = std::max(m, std::abs(x));
  return m;
}

// u ← u + c v.
void axpy(double c, const std::vector<double>& v, std::vector<double>& u) {
  for (std::size_t i = 0; i < u.size(); ++i) u[i] += c * v[i];
}

std::vector<double> multiply(const CsrMatrix& a, const std::vector<double>& x) {
  std::vector<double> y(x.size());
  csr_multiply(a, x.data(), y.data());
  return y;
}

// Eigenpairs of a small dense symmetric matrix t ([m][m], row major) by cyclic Jacobi rotations:
// eigenvalues into `values` (unsorted), eigenvectors as the columns of `vectors` ([m][m]).
// Accurate to round-off relative to ‖t‖; O(m³) per sweep, for the m ≲ 10³ of a Lanczos run.
void jacobi_eigen(std::vector<double> t, std::int64_t m, std::vector<double>& values,
                  std::vector<double>& vectors) {
  vectors.assign(m * m, 0.0);
  for (std::int64_t i = 0; i < m; ++i) vectors[i * m + i] = 1.0;
  const auto at = [&](std::int64_t i, std::int64_t j) -> double& { return t[i * m + j]; };
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0, total = 0.0;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < m; ++j) (i == j ? total : off) += at(i, j) * at(i, j);
    if (off <= 1e-30 * (total + off)) break;
    for (std::int64_t p = 0; p < m; ++p)
      for (std::int64_t q = p + 1; q < m; ++q) {
        if (at(p, q) == 0.0) continue;
        // The rotation that zeroes t_pq (the smaller angle, for stability).
        const double theta = (at(q, q) - at(p, p)) / (2.0 * at(p, q));
        const double tan = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::hypot(theta, 1.0));
        const double c = 1.0 / std::hypot(tan, 1.0), s = tan * c;
        for (std::int64_t k = 0; k < m; ++k) {  // columns p, q
          const double kp = at(k, p), kq = at(k, q);
          at(k, p) = c * kp - s * kq;
          at(k, q) = s * kp + c * kq;
        }
        for (std::int64_t k = 0; k < m; ++k) {  // rows p, q
          const double pk = at(p, k), qk = at(q, k);
          at(p, k) = c * pk - s * qk;
          at(q, k) = s * pk + c * qk;
        }
        for (std::int64_t k = 0; k < m; ++k) {
          const double kp = vectors[k * m + p], kq = vectors[k * m + q];
          vectors[k * m + p] = c * kp - s * kq;
          vectors[k * m + q] = s * kp + c * kq;
        }
      }
  }
  values.resize(m);
  for (std::int64_t i = 0; i < m; ++i) values[i] = at(i, i);
}

// Lanczos with full reorthogonalisation (twice: Gram–Schmidt once is not enough in floating
// point): the orthonormal basis V ([m][n]) and the tridiagonal T = Vᵀ A V ([m][m]).
void lanczos(const CsrMatrix& a, std::vector<double> v, std::int64_t steps,
             std::vector<std::vector<double>>& basis, std::vector<double>& alpha,
             std::vector<double>& beta) {
  const double start_norm = std::sqrt(dot(v, v));
  for (double& x : v) x /= start_norm;
  for (std::int64_t j = 0; j < steps; ++j) {
    basis.push_back(v);
    std::vector<double> w = multiply(a, v);
    alpha.push_back(dot(v, w));
    for (int pass = 0; pass < 2; ++pass)
      for (const std::vector<double>& u : basis) axpy(-dot(u, w), u, w);
    const double norm = std::sqrt(dot(w, w));
    // An invariant subspace: the Ritz pairs so far are exact eigenpairs; stop.
    if (j + 1 == steps || norm <= 1e-12 * max_abs(alpha)) break;
    beta.push_back(norm);
    for (double& x : w) x /= norm;
    v = std::move(w);
  }
}

}  // namespace

DcdmLoss dcdm_loss(const CsrMatrix& a, const std::vector<double>& b, const std::vector<double>& q) {
  const auto n = static_cast<std::size_t>(a.rows);
  if (b.size() != n || q.size() != n)
    throw std::invalid_argument(fmt::format(
        "dcdm_loss: the matrix has {} rows, b {} and q {} entries", n, b.size(), q.size()));
  // w = A q [n]; s the line-search step; ρ = b − s w the residual left [n].
  const std::vector<double> w = multiply(a, q);
  const double q_aq = dot(q, w);
  if (!(q_aq > 0.0))
    throw std::invalid_argument(
        fmt::format("dcdm_loss: qᵀAq = {} (q = 0 or A not positive definite)", q_aq));
  const double s = dot(q, b) / q_aq;
  std::vector<double> rho = b;
  axpy(-s, w, rho);
  DcdmLoss loss;
  loss.value = dot(rho, rho);
  // With e = bᵀAq, f = ‖Aq‖²: L = ‖b‖² − 2 s e + s² f and ∂s/∂q = (b − 2 s w)/qᵀAq, so
  //   ∂L/∂q = 2 (s f − e) ∂s/∂q + 2 s A (s w − b) = −2 (wᵀρ) (b − 2 s w)/qᵀAq − 2 s A ρ.
  // (qᵀ∂L/∂q = 0: the loss does not see q's scale.)
  const std::vector<double> a_rho = multiply(a, rho);
  const double w_rho = dot(w, rho);
  loss.gradient.resize(n);
  for (std::size_t i = 0; i < n; ++i)
    loss.gradient[i] = -2.0 * w_rho * (b[i] - 2.0 * s * w[i]) / q_aq - 2.0 * s * a_rho[i];
  return loss;
}

RitzPairs lanczos_ritz_pairs(const CsrMatrix& a, std::int64_t steps, std::uint64_t seed) {
  if (steps < 1 || steps > a.rows)
    throw std::invalid_argument(
        fmt::format("lanczos_ritz_pairs: {} steps on a matrix of {} rows", steps, a.rows));
  std::mt19937_64 generator(seed);
  std::normal_distribution<double> normal;
  std::vector<double> z(a.rows);
  for (double& x : z) x = normal(generator);
  std::vector<std::vector<double>> basis;
  std::vector<double> alpha, beta;
  lanczos(a, multiply(a, z), steps, basis, alpha, beta);
  const auto m = static_cast<std::int64_t>(basis.size());
  std::vector<double> t(m * m, 0.0);
  for (std::int64_t i = 0; i < m; ++i) {
    t[i * m + i] = alpha[i];
    if (i + 1 < m) t[i * m + i + 1] = t[(i + 1) * m + i] = beta[i];
  }
  std::vector<double> values, y;  // y: [m][m], eigenvectors of T in its columns
  jacobi_eigen(std::move(t), m, values, y);
  std::vector<std::int64_t> order(m);
  for (std::int64_t k = 0; k < m; ++k) order[k] = k;
  std::sort(order.begin(), order.end(),
            [&](std::int64_t i, std::int64_t j) { return values[i] < values[j]; });
  RitzPairs ritz;
  for (std::int64_t k : order) {
    ritz.values.push_back(values[k]);
    std::vector<double> v(a.rows, 0.0);  // V y_k
    for (std::int64_t j = 0; j < m; ++j) axpy(y[j * m + k], basis[j], v);
    ritz.vectors.push_back(std::move(v));
  }
  return ritz;
}

std::vector<std::vector<double>> ritz_training_vectors(const RitzPairs& ritz, std::int64_t count,
                                                       std::int64_t theta, double low_weight,
                                                       std::uint64_t seed) {
  const auto m = static_cast<std::int64_t>(ritz.values.size());
  const double largest = m ? std::abs(ritz.values.back()) : 0.0;
  std::int64_t first = 0;  // the first Ritz value outside the null space
  while (first < m && ritz.values[first] < 1e-8 * largest) ++first;
  if (first == m) throw std::invalid_argument("ritz_training_vectors: no nonzero Ritz value");
  const std::int64_t low = m / 2 + theta;  // how many of the lowest get low_weight
  std::mt19937_64 generator(seed);
  std::normal_distribution<double> normal;
  std::vector<std::vector<double>> out;
  for (std::int64_t s = 0; s < count; ++s) {
    std::vector<double> b(ritz.vectors[first].size(), 0.0);
    for (std::int64_t k = first; k < m; ++k)
      axpy((k - first < low ? low_weight : 1.0) * normal(generator), ritz.vectors[k], b);
    const double norm = std::sqrt(dot(b, b));
    for (double& x : b) x /= norm;
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace karman::precond

namespace karman::precond {

namespace {

// The cells of an n^dims grid, x fastest: c = i_0 + n·i_1 + n²·i_2.
std::int64_t cell_count(std::int64_t n, int dims) {
  std::int64_t cells = 1;
  for (int d = 0; d < dims; ++d) cells *= n;
  return cells;
}

// The face neighbours of cell c in increasing cell order (lower ones from the slowest dimension
// down, then upper ones from the fastest up: the diagonal belongs between the two halves), −1
// beyond the outer box. Fills 2·dims entries.
void face_neighbours(std::int64_t n, int dims, std::int64_t c, std::int64_t* out) {
  std::int64_t stride[3] = {1, n, n * n}, index[3] = {0, 0, 0};
  for (int d = 0; d < dims; ++d) index[d] = (c / stride[d]) % n;
  for (int d = dims - 1, k = 0; d >= 0; --d, ++k) out[k] = index[d] > 0 ? c - stride[d] : -1;
  for (int d = 0; d < dims; ++d) out[dims + d] = index[d] < n - 1 ? c + stride[d] : -1;
}

// Fluid cells that no path of fluid faces connects to the outer box become solid (an enclosed
// pocket's all-Neumann block would be singular).
void fill_enclosed_pockets(std::int64_t n, int dims, std::vector<char>& solid) {
  const std::int64_t cells = cell_count(n, dims);
  std::vector<char> reached(cells, 0);
  std::vector<std::int64_t> stack;
  std::int64_t neighbours[6];
  for (std::int64_t c = 0; c < cells; ++c) {
    face_neighbours(n, dims, c, neighbours);
    const bool on_box =
        std::any_of(neighbours, neighbours + 2 * dims, [](std::int64_t d) { return d < 0; });
    if (!solid[c] && on_box) reached[c] = 1, stack.push_back(c);
  }
  while (!stack.empty()) {
    const std::int64_t c = stack.back();
    stack.pop_back();
    face_neighbours(n, dims, c, neighbours);
    for (int k = 0; k < 2 * dims; ++k) {
      const std::int64_t d = neighbours[k];
      if (d >= 0 && !solid[d] && !reached[d]) reached[d] = 1, stack.push_back(d);
    }
  }
  for (std::int64_t c = 0; c < cells; ++c)
    if (!reached[c]) solid[c] = 1;
}

// Shapes alternately round (disk, sphere) and axis-aligned boxes, half-widths or radius in
// [0.05, 0.15] of the box, drawn per shape as: half-widths (one for a round shape), then the
// centre per dimension inside a margin of 1/8.
std::vector<char> obstacles(std::int64_t n, int dims, std::int64_t count, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::uniform_real_distribution<double> unit;
  const std::int64_t cells = cell_count(n, dims);
  std::vector<char> solid(cells, 0);
  const double margin = 0.125;
  for (std::int64_t s = 0; s < count; ++s) {
    const bool round = s % 2 == 0;
    double half[3], centre[3];
    for (int d = 0; d < dims; ++d)
      half[d] = round && d > 0 ? half[0] : 0.05 + 0.1 * unit(generator);
    for (int d = 0; d < dims; ++d)
      centre[d] = margin + half[d] + (1 - 2 * (margin + half[d])) * unit(generator);
    for (std::int64_t c = 0; c < cells; ++c) {
      double r2 = 0.0;
      bool in_box = true;
      for (int d = 0; d < dims; ++d) {
        const std::int64_t i = (c / cell_count(n, d)) % n;
        const double x = (i + 0.5) / n - centre[d];
        r2 += x * x;
        in_box = in_box && std::abs(x) <= half[d];
      }
      if (round ? r2 <= half[0] * half[0] : in_box) solid[c] = 1;
    }
  }
  fill_enclosed_pockets(n, dims, solid);
  return solid;
}

ObstacleGrid obstacle_poisson(std::int64_t n, int dims, const std::vector<char>& solid) {
  const std::int64_t cells = n >= 1 ? cell_count(n, dims) : 0;
  if (n < 1 || static_cast<std::int64_t>(solid.size()) != cells)
    throw std::invalid_argument(
        fmt::format("obstacle_poisson_{}d: a mask of {} cells for a grid "
                    "of {} cells per side",
                    dims, solid.size(), n));
  ObstacleGrid grid;
  grid.n = n;
  grid.dims = dims;
  grid.solid = solid;
  grid.row.assign(cells, -1);
  std::int64_t fluid = 0;
  for (std::int64_t c = 0; c < cells; ++c)
    if (!solid[c]) grid.row[c] = fluid++;
  if (fluid == 0)
    throw std::invalid_argument(fmt::format("obstacle_poisson_{}d: every cell is solid", dims));
  CsrMatrix& a = grid.a;
  a.rows = fluid;
  a.row_ptr.assign(1, 0);
  std::int64_t neighbours[6];
  for (std::int64_t c = 0; c < cells; ++c) {
    if (solid[c]) continue;
    // Rows are in cell order and the neighbours come in increasing cell order, so the columns
    // come out sorted with the diagonal after the `dims` lower neighbours.
    face_neighbours(n, dims, c, neighbours);
    double diagonal = 0.0;
    std::int64_t diagonal_at = -1;
    for (int k = 0; k < 2 * dims; ++k) {
      if (k == dims) {
        diagonal_at = a.nnz();
        a.col.push_back(grid.row[c]);
        a.values.push_back(0.0);
      }
      const std::int64_t d = neighbours[k];
      if (d >= 0 && solid[d]) continue;  // Neumann wall: no flux, no entry
      diagonal += 1.0;                   // a fluid neighbour or the outer box's Dirichlet face
      if (d < 0) continue;
      a.col.push_back(grid.row[d]);
      a.values.push_back(-1.0);
    }
    a.values[diagonal_at] = diagonal;
    a.row_ptr.push_back(a.nnz());
  }
  return grid;
}

}  // namespace

std::vector<char> obstacles_2d(std::int64_t n, std::int64_t count, std::uint64_t seed) {
  return obstacles(n, 2, count, seed);
}

std::vector<char> obstacles_3d(std::int64_t n, std::int64_t count, std::uint64_t seed) {
  return obstacles(n, 3, count, seed);
}

ObstacleGrid obstacle_poisson_2d(std::int64_t n, const std::vector<char>& solid) {
  return obstacle_poisson(n, 2, solid);
}

ObstacleGrid obstacle_poisson_3d(std::int64_t n, const std::vector<char>& solid) {
  return obstacle_poisson(n, 3, solid);
}

}  // namespace karman::precond
