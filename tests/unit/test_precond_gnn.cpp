// The learned preconditioner's network and loss (operators/precond): finite-difference gradients
// of the factor loss and of GNN + loss, SPD by construction (positive diagonal for any weights),
// exact IC(0) at initialisation, and a few Adam steps that lower the loss on an 8×8 Poisson matrix;
// the classical FSAI (closed form in 1D, its defining properties against dense products), the
// learned-FSAI loss (dense loop, FD gradient), the GNN on an FSAI reference, and the row blocks of
// a partition with the coupling they lose (the graph's δ feature).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

#include "karman/core/random.hpp"
#include "karman/nn/optimizer.hpp"
#include "operators/precond/condition_loss.hpp"
#include "operators/precond/factor_loss.hpp"
#include "operators/precond/fsai.hpp"
#include "operators/precond/fsai_loss.hpp"
#include "operators/precond/gnn.hpp"
#include "operators/precond/sparse.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::precond;
using namespace karman::testing;
using nn::Matrix;
using nn::Vector;

namespace {

// -∇·(κ∇u) on an m×m grid of interior nodes (spacing 1, Dirichlet walls), 5-point stencil with
// face coefficients the mean of κ at the two nodes. κ ≡ 1 is the Poisson matrix (4, −1).
CsrMatrix diffusion_matrix(long m, const std::function<double(long, long)>& kappa) {
  CsrMatrix a;
  a.rows = m * m;
  a.row_ptr.assign(1, 0);
  auto face = [&](long x0, long y0, long x1, long y1) {
    return 0.5 * (kappa(x0, y0) + kappa(x1, y1));
  };
  for (long y = 0; y < m; ++y)
    for (long x = 0; x < m; ++x) {
      const long neighbours[4][2] = {{x, y - 1}, {x - 1, y}, {x + 1, y}, {x, y + 1}};
      double diagonal = 0.0;
      std::vector<std::pair<long, double>> row;
      for (const auto& nb : neighbours) {
        const double k = face(x, y, nb[0], nb[1]);
        diagonal += k;
        if (nb[0] >= 0 && nb[0] < m && nb[1] >= 0 && nb[1] < m)
          row.push_back({nb[1] * m + nb[0], -k});
      }
      row.push_back({y * m + x, diagonal});
      std::sort(row.begin(), row.end());
      for (const auto& [j, v] : row) {
        a.col.push_back(j);
        a.values.push_back(v);
      }
      a.row_ptr.push_back(static_cast<long>(a.col.size()));
    }
  return a;
}

CsrMatrix poisson_matrix(long m) {
  return diffusion_matrix(m, [](long, long) { return 1.0; });
}

// κ = exp(1.5 sin(x) cos(0.7 y)): a smooth log-varying coefficient (a factor ~20 across).
CsrMatrix variable_matrix(long m) {
  return diffusion_matrix(
      m, [](long x, long y) { return std::exp(1.5 * std::sin(0.9 * x) * std::cos(0.7 * y)); });
}

// IC(0) of A on tril(A) (the library's; its entries are in lower_triangle(a)'s order).
std::vector<double> incomplete_cholesky(const CsrMatrix& a) {
  return ic0_values(a, lower_pattern(a));
}

std::vector<double> dense(const CsrMatrix& a) {
  std::vector<double> d(a.rows * a.rows, 0.0);
  for (long i = 0; i < a.rows; ++i)
    for (long e = a.row_ptr[i]; e < a.row_ptr[i + 1]; ++e) d[i * a.rows + a.col[e]] = a.values[e];
  return d;
}

// Pairs (x, b): b [n, k] standard normal, x = A⁻¹ b by a dense Cholesky solve.
void make_pairs(const CsrMatrix& a, long k, std::uint64_t seed, Matrix<double>& x,
                Matrix<double>& b) {
  const long n = a.rows;
  std::vector<double> c = dense(a);
  for (long j = 0; j < n; ++j) {  // in place: lower factor C
    for (long p = 0; p < j; ++p) c[j * n + j] -= c[j * n + p] * c[j * n + p];
    c[j * n + j] = std::sqrt(c[j * n + j]);
    for (long i = j + 1; i < n; ++i) {
      for (long p = 0; p < j; ++p) c[i * n + j] -= c[i * n + p] * c[j * n + p];
      c[i * n + j] /= c[j * n + j];
    }
  }
  b = random_matrix(n, k, seed);
  x = Matrix<double>("x", n, k);
  auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b);
  auto hx = Kokkos::create_mirror_view(x);
  for (long s = 0; s < k; ++s) {
    std::vector<double> z(n);
    for (long i = 0; i < n; ++i) {
      z[i] = hb(i, s);
      for (long p = 0; p < i; ++p) z[i] -= c[i * n + p] * z[p];
      z[i] /= c[i * n + i];
    }
    for (long i = n - 1; i >= 0; --i) {
      for (long p = i + 1; p < n; ++p) z[i] -= c[p * n + i] * z[p];
      z[i] /= c[i * n + i];
    }
    for (long i = 0; i < n; ++i) hx(i, s) = z[i];
  }
  Kokkos::deep_copy(x, hx);
}

Vector<double> device_vector(const std::vector<double>& host) {
  Vector<double> v("v", host.size());
  auto h = Kokkos::create_mirror_view(v);
  for (std::size_t i = 0; i < host.size(); ++i) h(i) = host[i];
  Kokkos::deep_copy(v, h);
  return v;
}

std::vector<double> host_vector(const Vector<double>& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<double>(h.data(), h.data() + h.size());
}

// Σ_s ‖P' P v_s − y_s‖² / Σ_s ‖y_s‖² with T dense and plain host loops, P = Tᵀ, P' = T (the
// Cholesky factor: v = x, y = b) or P = T, P' = Tᵀ (FSAI: v = b, y = x): an independent check of
// FactorLoss and FsaiLoss.
double dense_loss(const CsrMatrix& lower, const std::vector<double>& t, const Matrix<double>& v,
                  const Matrix<double>& y, bool inner_transposed) {
  const long n = lower.rows;
  std::vector<double> td(n * n, 0.0);  // T, row-major
  for (long i = 0; i < n; ++i)
    for (long e = lower.row_ptr[i]; e < lower.row_ptr[i + 1]; ++e) td[i * n + lower.col[e]] = t[e];
  // (T or Tᵀ) u, as the flag says
  const auto product = [&](bool transposed, const std::vector<double>& u) {
    std::vector<double> out(n, 0.0);
    for (long i = 0; i < n; ++i)
      for (long j = 0; j < n; ++j) {
        if (transposed)
          out[j] += td[i * n + j] * u[i];
        else
          out[i] += td[i * n + j] * u[j];
      }
    return out;
  };
  auto hv = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  auto hy = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y);
  double num = 0.0, den = 0.0;
  for (std::size_t s = 0; s < v.extent(1); ++s) {
    std::vector<double> column(n);
    for (long i = 0; i < n; ++i) column[i] = hv(i, s);
    const std::vector<double> z = product(!inner_transposed, product(inner_transposed, column));
    for (long i = 0; i < n; ++i) {
      num += (z[i] - hy(i, s)) * (z[i] - hy(i, s));
      den += hy(i, s) * hy(i, s);
    }
  }
  return num / den;
}

// The classical FSAI of A on tril(A), in lower_triangle(a)'s order.
std::vector<double> classical_fsai(const CsrMatrix& a) { return fsai_values(a, lower_pattern(a)); }

// A model with its parameters, every entry drawn from scale·N(0, 1) (so no layer is zero).
struct Model {
  FactorGnn gnn;
  nn::Parameters<double>& parameters;
  explicit Model(const FactorGnnOptions& options = {})
      : gnn(options, 11), parameters(gnn.parameters()) {}
  void randomize(double scale, std::uint64_t seed) {
    randomise_parameters(parameters, seed, scale);
  }
};

// Preconditioned CG on A with M = L Lᵀ (two triangular solves), from x0 = 0 to ‖r‖ ≤ 1e-8‖b‖.
long pcg_iterations(const CsrMatrix& a, const CsrMatrix& lower, const std::vector<double>& l) {
  const long n = a.rows;
  auto apply_a = [&](const std::vector<double>& v) {
    std::vector<double> w(n, 0.0);
    for (long i = 0; i < n; ++i)
      for (long e = a.row_ptr[i]; e < a.row_ptr[i + 1]; ++e) w[i] += a.values[e] * v[a.col[e]];
    return w;
  };
  auto apply_m_inverse = [&](const std::vector<double>& r) {
    std::vector<double> z = r;
    for (long i = 0; i < n; ++i) {  // L z = r (diagonal last in each row)
      const long last = lower.row_ptr[i + 1] - 1;
      for (long e = lower.row_ptr[i]; e < last; ++e) z[i] -= l[e] * z[lower.col[e]];
      z[i] /= l[last];
    }
    for (long i = n - 1; i >= 0; --i) {  // Lᵀ z = z, column-oriented
      const long last = lower.row_ptr[i + 1] - 1;
      z[i] /= l[last];
      for (long e = lower.row_ptr[i]; e < last; ++e) z[lower.col[e]] -= l[e] * z[i];
    }
    return z;
  };
  auto dot = [](const std::vector<double>& u, const std::vector<double>& v) {
    double s = 0.0;
    for (std::size_t i = 0; i < u.size(); ++i) s += u[i] * v[i];
    return s;
  };
  std::vector<double> x(n, 0.0), r(n);
  for (long i = 0; i < n; ++i) r[i] = standard_normal(99, i);
  const double target = 1e-8 * std::sqrt(dot(r, r));
  std::vector<double> z = apply_m_inverse(r), p = z;
  double rz = dot(r, z);
  for (long it = 1; it <= 10 * n; ++it) {
    const std::vector<double> q = apply_a(p);
    const double alpha = rz / dot(p, q);
    for (long i = 0; i < n; ++i) x[i] += alpha * p[i], r[i] -= alpha * q[i];
    if (std::sqrt(dot(r, r)) <= target) return it;
    z = apply_m_inverse(r);
    const double rz_next = dot(r, z);
    for (long i = 0; i < n; ++i) p[i] = z[i] + rz_next / rz * p[i];
    rz = rz_next;
  }
  return -1;
}

}  // namespace

TEST(PrecondFactorLoss, GradientMatchesFiniteDifferences) {
  const CsrMatrix a = poisson_matrix(6);
  const CsrMatrix lower = lower_triangle(a);
  std::vector<double> l = incomplete_cholesky(a);
  for (std::size_t e = 0; e < l.size(); ++e) l[e] *= 1.0 + 0.2 * standard_normal(3, e);
  Matrix<double> x, b;
  make_pairs(a, 3, 5, x, b);
  const Vector<double> lv = device_vector(l), dl("dl", l.size()), scratch("scratch", l.size());
  FactorLoss loss(lower);
  const double value = loss.evaluate(lv, x, b, dl);
  EXPECT_NEAR(value, dense_loss(lower, l, x, b, true), 1e-12 * value);
  const std::vector<double> numeric =
      numeric_gradient(lv, [&] { return loss.evaluate(lv, x, b, scratch); });
  EXPECT_LT(relative_error(host_vector(dl), numeric), kGradientTolerance);
}

TEST(PrecondConditionLoss, GradientMatchesFiniteDifferences) {
  // The soft log condition number of M⁻¹A through dense generalized eigenvalues: its gradient
  // with respect to every entry of L against central differences (a perturbed IC(0) factor, so
  // the spectrum has no special structure).
  const CsrMatrix a = poisson_matrix(5);
  const LowerPattern pattern = lower_pattern(a);
  std::vector<double> l = incomplete_cholesky(a);
  for (std::size_t e = 0; e < l.size(); ++e) l[e] *= 1.0 + 0.2 * standard_normal(4, e);
  ConditionLoss loss(a, pattern);
  std::vector<double> dl, scratch;
  const double value = loss.evaluate(l, dl);
  EXPECT_GT(loss.lambda_max(), loss.lambda_min());
  // The soft extremes bracket log κ from outside: f ≥ log(λ_max / λ_min).
  EXPECT_GE(value, std::log(loss.lambda_max() / loss.lambda_min()) - 1e-12);
  std::vector<double> numeric(l.size());
  for (std::size_t e = 0; e < l.size(); ++e) {
    const double h = 1e-6 * std::max(1.0, std::abs(l[e])), saved = l[e];
    l[e] = saved + h;
    const double plus = loss.evaluate(l, scratch);
    l[e] = saved - h;
    const double minus = loss.evaluate(l, scratch);
    l[e] = saved;
    numeric[e] = (plus - minus) / (2 * h);
  }
  EXPECT_LT(relative_error(dl, numeric), kGradientTolerance);
}

TEST(PrecondConditionLoss, ModifiedIcHasASmallerConditionNumberThanIcZero) {
  const CsrMatrix a = poisson_matrix(12);
  const LowerPattern pattern = lower_pattern(a);
  ConditionLoss loss(a, pattern);
  std::vector<double> dl;
  const double ic0 = loss.evaluate(ic0_values(a, pattern), dl);
  const double mic0 = loss.evaluate(mic0_values(a, pattern), dl);
  EXPECT_LT(mic0, ic0);
}

TEST(PrecondFactorLoss, ExactFactorHasZeroLossAndIcZeroDoesNot) {
  // On a tridiagonal matrix tril(A) holds the exact Cholesky factor, so IC(0) is exact.
  const CsrMatrix a{5,
                    {0, 2, 5, 8, 11, 13},
                    {0, 1, 0, 1, 2, 1, 2, 3, 2, 3, 4, 3, 4},
                    {2, -1, -1, 2, -1, -1, 2, -1, -1, 2, -1, -1, 2}};
  Matrix<double> x, b;
  make_pairs(a, 2, 8, x, b);
  const Vector<double> dl("dl", 9);
  EXPECT_LT(factor_loss(lower_triangle(a), device_vector(incomplete_cholesky(a)), x, b, dl), 1e-24);
  const CsrMatrix p = poisson_matrix(5);
  make_pairs(p, 2, 8, x, b);
  const Vector<double> dl2("dl", lower_triangle(p).col.size());
  EXPECT_GT(factor_loss(lower_triangle(p), device_vector(incomplete_cholesky(p)), x, b, dl2), 1e-4);
}

TEST(PrecondGnn, GradientOfLossMatchesFiniteDifferences) {
  // The last matrix is a block cut from a larger one: its graph carries the dropped coupling.
  const LocalBlock cut = diagonal_block(LocalBlock{variable_matrix(7), {}}, 0, 30);
  for (const bool diagonal_only : {false, true})
    for (const LocalBlock& a :
         {LocalBlock{poisson_matrix(6), {}}, LocalBlock{variable_matrix(6), {}}, cut}) {
      const MatrixGraph graph =
          make_matrix_graph(a, incomplete_cholesky(a), FactorKind::cholesky, a.dropped);
      FactorGnnOptions options;
      options.diagonal_only = diagonal_only;
      Model model(options);
      model.randomize(0.3, 21);
      Matrix<double> x, b;
      make_pairs(a, 4, 6, x, b);
      FactorLoss loss(lower_triangle(a));
      const Vector<double> dl("dl", graph.topology.edges);
      auto evaluate = [&] { return loss.evaluate(model.gnn.forward(graph), x, b, dl); };
      model.parameters.zero_gradients();
      evaluate();
      model.gnn.backward(dl);
      const std::vector<double> analytic = host_vector(model.parameters.gradients());
      const std::vector<double> numeric = numeric_gradient(model.parameters.values(), evaluate);
      EXPECT_LT(relative_error(analytic, numeric), kGradientTolerance)
          << (diagonal_only ? "diagonal only" : "full correction");
    }
}

// max_k |u_k − v_k| / max_k |v_k|
double max_relative_difference(const std::vector<double>& u, const std::vector<double>& v) {
  double difference = 0.0, scale = 0.0;
  for (std::size_t k = 0; k < v.size(); ++k) {
    difference = std::max(difference, std::abs(u[k] - v[k]));
    scale = std::max(scale, std::abs(v[k]));
  }
  return difference / scale;
}

// The split edge Linear (e W_e + (h W_i)_i + (h W_j)_j) against the plain concatenation
// [e, h_i, h_j] W, with the same parameters: L and every parameter gradient agree to rounding.
TEST(PrecondGnn, SplitEdgeInputMatchesConcatenation) {
  const LocalBlock cut = diagonal_block(LocalBlock{variable_matrix(9), {}}, 0, 50);
  for (const LocalBlock& a : {LocalBlock{poisson_matrix(7), {}}, cut}) {
    const MatrixGraph graph =
        make_matrix_graph(a, incomplete_cholesky(a), FactorKind::cholesky, a.dropped);
    std::vector<double> dl_host(graph.topology.edges);
    for (long k = 0; k < graph.topology.edges; ++k) dl_host[k] = standard_normal(5, k);
    const Vector<double> dl = device_vector(dl_host);
    std::vector<double> l[2], gradients[2];
    for (const bool concatenated : {false, true}) {
      FactorGnnOptions options;
      options.concatenated_edge_input = concatenated;
      Model model(options);
      model.randomize(0.5, 33);
      model.parameters.zero_gradients();
      l[concatenated] = host_vector(model.gnn.forward(graph));
      model.gnn.backward(dl);
      gradients[concatenated] = host_vector(model.parameters.gradients());
    }
    EXPECT_LT(max_relative_difference(l[0], l[1]), 1e-12);
    EXPECT_LT(max_relative_difference(gradients[0], gradients[1]), 1e-12);
  }
}

// The inference-only forward (fused kernels, one edge buffer) against the training forward, its
// reference twin: the same L to rounding for every supported width, layer count (one layer: the
// first edge kernel is also the last), the diagonal-only mode, the relaxation correction (every
// layer's node update, the row head on h^K, then the RelaxedIc factorisation) and a cut block; a
// second call on another graph reuses and resizes the buffers. In float32 (the set-up's default)
// the same L to kFloat32Tolerance relatively: float's rounding through the layers, amplified by
// these random weights (0.5·N(0, 1), pre-activations of several units).
TEST(PrecondGnn, InferenceForwardMatchesTrainingForward) {
  constexpr double kFloat32Tolerance = 5e-5;
  double largest_error32 = 0.0;
  const LocalBlock cut = diagonal_block(LocalBlock{variable_matrix(9), {}}, 0, 50);
  const std::vector<LocalBlock> matrices = {LocalBlock{variable_matrix(8), {}}, cut,
                                            LocalBlock{poisson_matrix(5), {}}};
  for (const Correction correction : {Correction::multiplicative, Correction::relaxation})
    for (const std::size_t width : {8, 16, 32})
      for (const std::size_t layers : {1, 3})
        for (const bool diagonal_only : {false, true}) {
          const bool relaxation = correction == Correction::relaxation;
          if (relaxation && diagonal_only) continue;  // no per-edge correction to restrict
          FactorGnnOptions options;
          options.correction = correction;
          options.reference = relaxation ? ReferenceFactor::mic0 : ReferenceFactor::ic0;
          options.width = width;
          options.layers = layers;
          options.diagonal_only = diagonal_only;
          options.inference = InferencePrecision::float64;
          Model model(options);
          model.randomize(0.5, 40 + width + layers);
          // Relaxation: a row head negative on every row gives MIC(0) (ω = 1, δ = 0 below the
          // ramp; saturated layers can make every row alike) and would make the comparison
          // trivial: the head's bias 0.5 and its weights 0.1·N(0, 1) (0.2 × 0.5) keep the rows
          // above the ramp and different.
          if (relaxation)
            for (std::size_t p = 0; p < model.parameters.count(); ++p) {
              const std::string& name = model.parameters.info(p).name;
              if (name == "gnn.head.bias") Kokkos::deep_copy(model.parameters.value(p), 0.5);
              if (name != "gnn.head.weight") continue;
              auto head = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                              model.parameters.value(p));
              for (std::size_t r = 0; r < head.extent(0); ++r)
                for (std::size_t c = 0; c < head.extent(1); ++c) head(r, c) *= 0.2;
              Kokkos::deep_copy(model.parameters.value(p), head);
            }
          FactorGnnOptions single = options;
          single.inference = InferencePrecision::float32;
          Model model32(single);
          Kokkos::deep_copy(model32.parameters.values(), model.parameters.values());
          for (const LocalBlock& a : matrices) {
            const std::vector<double> reference =
                reference_values(a, lower_pattern(a), options.reference);
            const MatrixGraph graph =
                make_matrix_graph(a, reference, FactorKind::cholesky, a.dropped, relaxation);
            const std::vector<double> inferred = host_vector(model.gnn.infer(graph));
            const std::vector<double> trained = host_vector(model.gnn.forward(graph));
            ASSERT_EQ(inferred.size(), trained.size());
            EXPECT_LT(max_relative_difference(inferred, trained), 1e-12)
                << "width " << width << ", " << layers << " layers"
                << (diagonal_only ? ", diagonal only" : "") << (relaxation ? ", relaxation" : "")
                << ", " << a.rows << " rows";
            const std::vector<double> inferred32 = host_vector(model32.gnn.infer(graph));
            const double error32 = max_relative_difference(inferred32, trained);
            EXPECT_LT(error32, kFloat32Tolerance)
                << "float32, width " << width << ", " << layers << " layers"
                << (diagonal_only ? ", diagonal only" : "") << (relaxation ? ", relaxation" : "")
                << ", " << a.rows << " rows";
            largest_error32 = std::max(largest_error32, error32);
            // A network that moved L away from the reference: the comparison is not trivial.
            // (Relaxation: ω_i − 1 = O(h) and δ_i = O(h²) move L less than per-edge factors.)
            EXPECT_GT(max_relative_difference(trained, reference), relaxation ? 1e-4 : 1e-3)
                << "width " << width << ", " << layers << " layers"
                << (relaxation ? ", relaxation" : "");
          }
        }
  // The float32 path ran in float: its differences are above double's rounding.
  EXPECT_GT(largest_error32, 1e-10);
  std::printf("float32 inference: largest relative difference to forward() %.3g\n",
              largest_error32);
}

TEST(PrecondGnn, DiagonalOnlyKeepsTheOffDiagonalOfIcZero) {
  const CsrMatrix a = variable_matrix(6);
  const CsrMatrix lower = lower_triangle(a);
  const std::vector<double> ic0 = incomplete_cholesky(a);
  const MatrixGraph graph = make_matrix_graph(a, ic0);
  FactorGnnOptions options;
  options.diagonal_only = true;
  Model model(options);
  model.randomize(0.5, 31);
  const std::vector<double> l = host_vector(model.gnn.forward(graph));
  double largest_change = 0.0;
  for (long i = 0; i < lower.rows; ++i)
    for (long e = lower.row_ptr[i]; e < lower.row_ptr[i + 1]; ++e)
      if (lower.col[e] == i)
        largest_change = std::max(largest_change, std::abs(l[e] / ic0[e] - 1.0));
      else
        EXPECT_EQ(l[e], ic0[e]) << "entry " << e;
  EXPECT_GT(largest_change, 1e-3);  // the diagonal did move
}

TEST(PrecondPartition, BlocksFollowPetscLayoutAndKeepTheDroppedCoupling) {
  EXPECT_EQ(row_layout(10, 3), (std::vector<std::int64_t>{0, 4, 7, 10}));  // remainder first
  EXPECT_EQ(row_layout(8, 1), (std::vector<std::int64_t>{0, 8}));
  EXPECT_THROW(row_layout(3, 4), std::invalid_argument);
  // Poisson 6×6 on two ranks: rows 0..17 | 18..35, three grid lines each. Every entry of A is in
  // a block or dropped, the dropped total is the coupling between the blocks (2 × 6 entries of
  // |−1|), and the cut rows are exactly the rows with a neighbour across the cut.
  const LocalBlock a{poisson_matrix(6), {}};
  ASSERT_EQ(row_layout(36, 2), (std::vector<std::int64_t>{0, 18, 36}));
  const LocalBlock top = diagonal_block(a, 0, 18), bottom = diagonal_block(a, 18, 36);
  EXPECT_EQ(top.rows, 18);
  EXPECT_EQ(top.nnz() + bottom.nnz() + 12, a.nnz());
  double total = 0.0;
  for (double d : top.dropped) total += d;
  for (double d : bottom.dropped) total += d;
  EXPECT_DOUBLE_EQ(total, 12.0);
  for (long i = 0; i < 18; ++i) EXPECT_EQ(top.dropped[i], i >= 12 ? 1.0 : 0.0) << "row " << i;
  // Splitting a block again adds to what it dropped already.
  const LocalBlock inner = diagonal_block(bottom, 0, 6);  // rows 18..23
  EXPECT_EQ(inner.dropped[0], 2.0);                       // row 18: up (row 12) and down (24)
  // The feature δ = dropped / a_ii reaches the graph.
  const MatrixGraph graph =
      make_matrix_graph(top, incomplete_cholesky(top), FactorKind::cholesky, top.dropped);
  auto features = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.node_features);
  EXPECT_EQ(features(17, 3), 0.25);
  EXPECT_EQ(features(0, 3), 0.0);
}

TEST(PrecondGnn, UntrainedNetworkReturnsIcZeroExactly) {
  const CsrMatrix a = variable_matrix(6);
  const std::vector<double> ic0 = incomplete_cholesky(a);
  const MatrixGraph graph = make_matrix_graph(a, ic0);
  Model model;  // default initialisation: the head is zero
  const std::vector<double> l = host_vector(model.gnn.forward(graph));
  ASSERT_EQ(l.size(), ic0.size());
  for (std::size_t e = 0; e < l.size(); ++e) EXPECT_EQ(l[e], ic0[e]) << "entry " << e;
}

// The GNN owns one flat buffer as nn::Network does: every module's tensors declared in it under
// "gnn.", initialised from the seed alone (same seed, same values; another seed, others).
TEST(PrecondGnn, OwnsItsNamedParametersInitialisedFromTheSeed) {
  FactorGnnOptions options;
  options.width = 4;
  options.layers = 2;
  const FactorGnn a(options, 5), b(options, 5), c(options, 6);
  // encoders (2 Linear), 2 edge MLPs and 1 node MLP (2 Linear each), head: weight and bias each
  EXPECT_EQ(a.parameters().count(), 2u * (2 + 2 * 2 + 2 + 1));
  EXPECT_EQ(a.parameters().info(0).name, "gnn.edge_encoder.weight");
  EXPECT_EQ(a.parameters().infos().back().name, "gnn.head.bias");
  const std::size_t w = options.width;
  const std::size_t expected_size = (4 * w + w) * 2                    // encoders [4, W] + [1, W]
                                    + 2 * (3 * w * w + w + w * w + w)  // edge MLPs
                                    + (2 * w * w + w + w * w + w)      // node MLP
                                    + (w + 1);                         // head
  EXPECT_EQ(a.parameters().size(), expected_size);
  const std::vector<double> va = host_vector(a.parameters().values());
  EXPECT_EQ(va, host_vector(b.parameters().values()));
  EXPECT_NE(va, host_vector(c.parameters().values()));
}

TEST(PrecondGnn, DiagonalIsPositiveForLargeRandomWeights) {
  const CsrMatrix a = variable_matrix(6);
  const CsrMatrix lower = lower_triangle(a);
  const MatrixGraph graph = make_matrix_graph(a, incomplete_cholesky(a));
  Model model;
  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    model.randomize(5.0, 100 + seed);
    const std::vector<double> l = host_vector(model.gnn.forward(graph));
    double smallest = HUGE_VAL;
    for (long i = 0; i < lower.rows; ++i)
      smallest = std::min(smallest, l[lower.row_ptr[i + 1] - 1]);
    EXPECT_GT(smallest, 0.0) << "seed " << seed;
    for (double v : l) EXPECT_TRUE(std::isfinite(v));
  }
}

TEST(PrecondGnn, AdamStepsLowerTheLossOnPoisson) {
  const CsrMatrix a = poisson_matrix(8);
  const CsrMatrix lower = lower_triangle(a);
  const std::vector<double> ic0 = incomplete_cholesky(a);
  const MatrixGraph graph = make_matrix_graph(a, ic0);
  Model model;
  Matrix<double> x, b, x_held, b_held;
  make_pairs(a, 32, 1, x, b);
  make_pairs(a, 32, 2, x_held, b_held);
  FactorLoss loss(lower);
  const Vector<double> dl("dl", graph.topology.edges);
  auto optimizer = nn::make_optimizer<double>(nn::OptimizerOptions{}, model.parameters);

  const double initial = loss.evaluate(model.gnn.forward(graph), x, b, dl);
  const double initial_held = loss.evaluate(model.gnn.forward(graph), x_held, b_held, dl);
  for (int step = 0; step < 60; ++step) {
    model.parameters.zero_gradients();
    loss.evaluate(model.gnn.forward(graph), x, b, dl);
    model.gnn.backward(dl);
    optimizer->step(model.parameters, 3e-3);
  }
  const std::vector<double> learned = host_vector(model.gnn.forward(graph));
  const double final_train = loss.evaluate(model.gnn.forward(graph), x, b, dl);
  const double final_held = loss.evaluate(model.gnn.forward(graph), x_held, b_held, dl);
  const long cg_ic0 = pcg_iterations(a, lower, ic0), cg_learned = pcg_iterations(a, lower, learned);
  std::printf(
      "[ precond ] 8x8 Poisson loss: train %.4e -> %.4e, held-out %.4e -> %.4e; "
      "PCG iterations IC(0) %ld, learned %ld\n",
      initial, final_train, initial_held, final_held, cg_ic0, cg_learned);
  EXPECT_LT(final_train, 0.8 * initial);
  EXPECT_LT(final_held, initial_held);
  EXPECT_GT(cg_learned, 0);  // converged
}

TEST(PrecondFsai, ClosedFormOnTheTridiagonalLaplacian) {
  // tridiag(−1, 2, −1): row 0 solves [2] ĝ = 1, G_00 = 1/√2; row i > 0 solves
  // [[2, −1], [−1, 2]] ĝ = e_2, ĝ = (1, 2)/3, so (G_i,i−1, G_ii) = (1, 2)/√6.
  const long n = 6;
  CsrMatrix a;
  a.rows = n;
  a.row_ptr.assign(1, 0);
  for (long i = 0; i < n; ++i) {
    for (long j = std::max(0L, i - 1); j <= std::min(n - 1, i + 1); ++j) {
      a.col.push_back(j);
      a.values.push_back(j == i ? 2.0 : -1.0);
    }
    a.row_ptr.push_back(static_cast<long>(a.col.size()));
  }
  const std::vector<double> g = classical_fsai(a);
  ASSERT_EQ(g.size(), static_cast<std::size_t>(2 * n - 1));
  EXPECT_NEAR(g[0], 1.0 / std::sqrt(2.0), 1e-15);
  for (long i = 1; i < n; ++i) {
    EXPECT_NEAR(g[2 * i - 1], 1.0 / std::sqrt(6.0), 1e-15) << "row " << i;
    EXPECT_NEAR(g[2 * i], 2.0 / std::sqrt(6.0), 1e-15) << "row " << i;
  }
}

TEST(PrecondFsai, DefiningPropertiesHoldAgainstDenseProducts) {
  // (G A)_ij = 0 for j < i in row i's pattern and (G A Gᵀ)_ii = 1: the two conditions that define
  // the FSAI on a pattern, checked with dense products on Poisson and a variable coefficient.
  for (const CsrMatrix& a : {poisson_matrix(6), variable_matrix(6)}) {
    const long n = a.rows;
    const CsrMatrix lower = lower_triangle(a);
    const std::vector<double> g = classical_fsai(a), ad = dense(a);
    std::vector<double> gd(n * n, 0.0), ga(n * n, 0.0);
    for (long i = 0; i < n; ++i)
      for (long e = lower.row_ptr[i]; e < lower.row_ptr[i + 1]; ++e)
        gd[i * n + lower.col[e]] = g[e];
    for (long i = 0; i < n; ++i)
      for (long k = 0; k < n; ++k)
        for (long j = 0; j < n; ++j) ga[i * n + j] += gd[i * n + k] * ad[k * n + j];
    double scale = 0.0;  // max |(G A)_ij|: the size the zero conditions are measured against
    for (double v : ga) scale = std::max(scale, std::abs(v));
    for (long i = 0; i < n; ++i) {
      EXPECT_GT(g[lower.row_ptr[i + 1] - 1], 0.0) << "G_ii, row " << i;
      double gagt_ii = 0.0;
      for (long j = 0; j < n; ++j) gagt_ii += ga[i * n + j] * gd[i * n + j];
      EXPECT_NEAR(gagt_ii, 1.0, 1e-12) << "row " << i;
      for (long e = lower.row_ptr[i]; e < lower.row_ptr[i + 1] - 1; ++e)
        EXPECT_LT(std::abs(ga[i * n + lower.col[e]]), 1e-12 * scale)
            << "(G A)(" << i << ", " << lower.col[e] << ")";
    }
  }
}

TEST(PrecondFsai, IndefiniteMatrixIsRejected) {
  CsrMatrix a = poisson_matrix(3);
  for (long e = a.row_ptr[4]; e < a.row_ptr[5]; ++e)
    if (a.col[e] == 4) a.values[e] = -1.0;  // a negative diagonal in the middle row
  EXPECT_THROW(classical_fsai(a), NotSpdError);
}

TEST(PrecondFsaiLoss, MatchesDenseLoopAndGradientMatchesFiniteDifferences) {
  for (const CsrMatrix& a : {poisson_matrix(6), variable_matrix(5)}) {
    const CsrMatrix lower = lower_triangle(a);
    std::vector<double> g = classical_fsai(a);
    for (std::size_t e = 0; e < g.size(); ++e) g[e] *= 1.0 + 0.2 * standard_normal(4, e);
    Matrix<double> x, b;
    make_pairs(a, 3, 5, x, b);
    const Vector<double> gv = device_vector(g), dg("dg", g.size()), scratch("scratch", g.size());
    FsaiLoss loss(lower);
    const double value = loss.evaluate(gv, x, b, dg);
    EXPECT_NEAR(value, dense_loss(lower, g, b, x, false), 1e-12 * value);
    const std::vector<double> numeric =
        numeric_gradient(gv, [&] { return loss.evaluate(gv, x, b, scratch); });
    EXPECT_LT(relative_error(host_vector(dg), numeric), kGradientTolerance);
  }
}

TEST(PrecondGnn, FsaiReferenceStartsExactAndGradientMatchesFiniteDifferences) {
  const CsrMatrix a = variable_matrix(6);
  const std::vector<double> fsai = classical_fsai(a);
  const MatrixGraph graph = make_matrix_graph(a, fsai, FactorKind::fsai);
  Model untrained;  // the head is zero: the classical FSAI, exactly
  const std::vector<double> g0 = host_vector(untrained.gnn.forward(graph));
  for (std::size_t e = 0; e < g0.size(); ++e) EXPECT_EQ(g0[e], fsai[e]) << "entry " << e;

  Model model;
  model.randomize(0.3, 23);
  Matrix<double> x, b;
  make_pairs(a, 4, 6, x, b);
  FsaiLoss loss(lower_triangle(a));
  const Vector<double> dg("dg", graph.topology.edges);
  auto evaluate = [&] { return loss.evaluate(model.gnn.forward(graph), x, b, dg); };
  model.parameters.zero_gradients();
  evaluate();
  model.gnn.backward(dg);
  const std::vector<double> analytic = host_vector(model.parameters.gradients());
  const std::vector<double> numeric = numeric_gradient(model.parameters.values(), evaluate);
  EXPECT_LT(relative_error(analytic, numeric), kGradientTolerance);
}
