// The relaxed modified IC(0) (operators/precond/relaxed_ic): with ω ≡ 1, δ ≡ 0 it is mic0_values
// exactly (2D and 3D), a constant ω is mic0_values(ω), every row with ω_i = 1 keeps its row sum
// (L Lᵀ 1)_i = (A 1)_i + δ_i a_ii whatever the other rows' ω, and the reverse pass matches central
// differences of the factorisation for ω and δ on small 2D (variable κ, 5- and 9-point) and 3D
// matrices. The GNN
// with the relaxation correction (a row head predicting ω, δ): MIC(0) exactly when untrained, and
// the parameter gradient of the factor loss through head → (ω, δ) → factorisation → L against
// finite differences, also on a block cut from a larger matrix (dropped coupling lumped); the
// set-up's graph (one RelaxedIc for the MIC(0) reference and L) equals the general one. The PC's
// FactorSolver applies such factors as the reference sweeps do.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "karman/core/random.hpp"
#include "operators/precond/factor_loss.hpp"
#include "operators/precond/gnn.hpp"
#include "operators/precond/relaxed_ic.hpp"
#include "operators/precond/sparse.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::precond;
using namespace karman::testing;

namespace {

// −∇·(κ∇u) on an m^dim grid of interior nodes (spacing 1, Dirichlet walls), 2·dim+1-point
// stencil, face coefficient the mean of κ at its two nodes; κ ≡ 1 is the Poisson matrix.
CsrMatrix diffusion_matrix(long m, int dim, const std::function<double(long)>& kappa) {
  const long n = dim == 2 ? m * m : m * m * m;
  const long stride[3] = {1, m, m * m};
  CsrMatrix a;
  a.rows = n;
  a.row_ptr.assign(1, 0);
  for (long i = 0; i < n; ++i) {
    std::vector<std::pair<long, double>> row;
    double diagonal = 0.0;
    for (int axis = 0; axis < dim; ++axis) {
      const long coordinate = (i / stride[axis]) % m;
      for (int side : {-1, 1}) {
        const bool inside = coordinate + side >= 0 && coordinate + side < m;
        const long j = i + side * stride[axis];
        const double k = inside ? 0.5 * (kappa(i) + kappa(j)) : kappa(i);
        diagonal += k;
        if (inside) row.push_back({j, -k});
      }
    }
    row.push_back({i, diagonal});
    std::sort(row.begin(), row.end());
    for (const auto& [j, v] : row) {
      a.col.push_back(j);
      a.values.push_back(v);
    }
    a.row_ptr.push_back(static_cast<long>(a.col.size()));
  }
  return a;
}

CsrMatrix poisson(long m, int dim) {
  return diffusion_matrix(m, dim, [](long) { return 1.0; });
}

// κ_i = exp(1.5 u_i), u_i ~ N(0, 1): a rough coefficient (contrast ~ 100 on a small grid).
CsrMatrix rough_diffusion(long m, int dim) {
  return diffusion_matrix(m, dim, [](long i) { return std::exp(1.5 * standard_normal(5, i)); });
}

// The 9-point Laplacian (8 on the diagonal, −κ_ij to all eight neighbours, κ_ij random in
// [0.5, 1.5]): unlike 5- and 7-point stencils, its rank-one updates also land on entries inside
// tril(A) (fill between the neighbours (x−1, y+1) and (x, y+1) of a node), so the reverse pass's
// path through the off-diagonal Schur entries is exercised.
CsrMatrix nine_point(long m) {
  CsrMatrix a;
  a.rows = m * m;
  a.row_ptr.assign(1, 0);
  const auto coupling = [m](long i, long j) {  // symmetric in (i, j)
    return 0.5 + uniform01(13, std::min(i, j) * m * m + std::max(i, j));
  };
  for (long y = 0; y < m; ++y)
    for (long x = 0; x < m; ++x) {
      const long i = y * m + x;
      std::vector<std::pair<long, double>> row;
      double diagonal = 0.0;
      for (long dy = -1; dy <= 1; ++dy)
        for (long dx = -1; dx <= 1; ++dx) {
          if (dx == 0 && dy == 0) continue;
          const long nx = x + dx, ny = y + dy;
          const bool inside = nx >= 0 && nx < m && ny >= 0 && ny < m;
          const double k = inside ? coupling(i, ny * m + nx) : 1.0;
          diagonal += k;
          if (inside) row.push_back({ny * m + nx, -k});
        }
      row.push_back({i, diagonal});
      std::sort(row.begin(), row.end());
      for (const auto& [j, v] : row) {
        a.col.push_back(j);
        a.values.push_back(v);
      }
      a.row_ptr.push_back(static_cast<long>(a.col.size()));
    }
  return a;
}

// ω_i ∈ [0.7, 1], δ_i ∈ [0, 0.05]: a generic point, away from the ω ≡ 1 row-sum case.
RowRelaxation random_relaxation(long n, std::uint64_t seed) {
  RowRelaxation r = RowRelaxation::mic0(n);
  for (long i = 0; i < n; ++i) {
    r.omega[i] = 0.7 + 0.3 * uniform01(seed, 2 * i);
    r.shift[i] = 0.05 * uniform01(seed, 2 * i + 1);
  }
  return r;
}

// (L Lᵀ 1) [n] for L on `lower`.
std::vector<double> factor_row_sums(const LowerPattern& lower, const std::vector<double>& l) {
  std::vector<double> column_sums(lower.rows, 0.0), out(lower.rows, 0.0);  // Lᵀ 1, then L (Lᵀ 1)
  for (long i = 0; i < lower.rows; ++i)
    for (long p = lower.row_ptr[i]; p < lower.row_ptr[i + 1]; ++p)
      column_sums[lower.col[p]] += l[p];
  for (long i = 0; i < lower.rows; ++i)
    for (long p = lower.row_ptr[i]; p < lower.row_ptr[i + 1]; ++p)
      out[i] += l[p] * column_sums[lower.col[p]];
  return out;
}

double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

TEST(RelaxedIc, UnitRelaxationIsModifiedIcZeroIn2dAnd3d) {
  for (const CsrMatrix& a : {poisson(7, 2), rough_diffusion(6, 2), poisson(4, 3), nine_point(6)}) {
    const RelaxedIc relaxed(a);
    const std::vector<double> l = relaxed.factor(RowRelaxation::mic0(a.rows));
    EXPECT_LE(max_abs_difference(l, mic0_values(a, lower_pattern(a))), 1e-14);
    // A constant ω is mic0_values(ω).
    RowRelaxation constant = RowRelaxation::mic0(a.rows);
    std::fill(constant.omega.begin(), constant.omega.end(), 0.9);
    EXPECT_LE(max_abs_difference(relaxed.factor(constant), mic0_values(a, lower_pattern(a), 0.9)),
              1e-14);
  }
}

// The set-up's sweeps (a cursor down the column for each update's target) against the reference
// sweep (a binary search per update): the same L bit for bit, for generic ω, δ and for MIC(0)
// (mic0_values has the cursor too), on 5-, 7- and 9-point stencils (the 9-point one has targets
// inside tril(A) off the diagonal) and on a block with lumped dropped coupling.
TEST(RelaxedIc, CursorSweepEqualsTheBinarySearchSweep) {
  const LocalBlock cut = diagonal_block(LocalBlock{rough_diffusion(8, 2), {}}, 10, 50);
  for (const LocalBlock& a : {LocalBlock{poisson(7, 2), {}}, LocalBlock{rough_diffusion(6, 2), {}},
                              LocalBlock{poisson(4, 3), {}}, LocalBlock{nine_point(6), {}}, cut}) {
    const RelaxedIc relaxed(a, a.dropped);
    const RowRelaxation generic = random_relaxation(a.rows, 17);
    EXPECT_EQ(relaxed.factor(generic), relaxed.factor_by_search(generic)) << a.rows << " rows";
    const RowRelaxation unit = RowRelaxation::mic0(a.rows);
    EXPECT_EQ(relaxed.factor(unit), relaxed.factor_by_search(unit)) << a.rows << " rows";
    if (a.dropped.empty()) {
      EXPECT_EQ(mic0_values(a, lower_pattern(a)), relaxed.factor_by_search(unit)) << a.rows;
    }
  }
}

// require_symmetric (a cursor per row) against require_symmetric_by_search: both accept symmetric
// matrices and reject the same asymmetric ones with the same message (an asymmetric value above
// or below the diagonal, an entry without its mirror).
TEST(RelaxedIc, CursorSymmetryCheckAgreesWithTheSearch) {
  const auto message = [](const std::function<void()>& check) -> std::string {
    try {
      check();
    } catch (const NotSpdError& e) {
      return e.what();
    }
    return "";
  };
  const CsrMatrix symmetric = rough_diffusion(6, 2);
  std::vector<CsrMatrix> asymmetric(3, symmetric);
  asymmetric[0].values[asymmetric[0].row_ptr[7] + 1] *= 1.001;  // row 7: above or below
  asymmetric[1].values[asymmetric[1].row_ptr[20]] *= 0.999;     // row 20's first entry (below)
  {  // drop the mirror (4, 3) of (3, 4): row 4 loses its entry in column 3
    CsrMatrix& m = asymmetric[2];
    const auto at = std::find(m.col.begin() + m.row_ptr[4], m.col.begin() + m.row_ptr[5], 3);
    ASSERT_NE(at, m.col.begin() + m.row_ptr[5]);
    const long p = at - m.col.begin();
    m.col.erase(m.col.begin() + p);
    m.values.erase(m.values.begin() + p);
    for (long i = 5; i <= m.rows; ++i) --m.row_ptr[i];
  }
  EXPECT_EQ(message([&] { require_symmetric(symmetric); }), "");
  EXPECT_EQ(message([&] { require_symmetric(poisson(4, 3)); }), "");
  for (const CsrMatrix& a : asymmetric) {
    const std::string fast = message([&] { require_symmetric(a); });
    EXPECT_NE(fast.find("not symmetric"), std::string::npos) << fast;
    EXPECT_EQ(fast, message([&] { require_symmetric_by_search(a); }));
  }
}

TEST(RelaxedIc, RowsWithUnitRelaxationKeepTheirRowSums) {
  const CsrMatrix a = rough_diffusion(8, 2);
  const RelaxedIc relaxed(a);
  RowRelaxation r = random_relaxation(a.rows, 3);
  for (long i = 0; i < a.rows; i += 3) r.omega[i] = 1.0;  // every third row keeps its sum
  const std::vector<double> l = relaxed.factor(r);
  const std::vector<double> sums = factor_row_sums(relaxed.pattern(), l);
  long changed = 0;
  for (long i = 0; i < a.rows; ++i) {
    double row_sum = 0.0, diagonal = 0.0;
    for (long p = a.row_ptr[i]; p < a.row_ptr[i + 1]; ++p) {
      row_sum += a.values[p];
      if (a.col[p] == i) diagonal = a.values[p];
    }
    const double expected = row_sum + r.shift[i] * diagonal;
    if (r.omega[i] == 1.0)
      EXPECT_NEAR(sums[i], expected, 1e-12 * diagonal) << "row " << i;
    else
      changed += std::abs(sums[i] - expected) > 1e-8 * diagonal;
  }
  EXPECT_GT(changed, 0);  // the others do not (the check can fail)
}

// ∂f/∂ω and ∂f/∂δ of f = Σ_p c_p L_p (c random) by the reverse pass against central differences.
void expect_gradient_matches_finite_differences(const CsrMatrix& a) {
  const RelaxedIc relaxed(a);
  const RowRelaxation r = random_relaxation(a.rows, 7);
  const std::vector<double> l = relaxed.factor(r);
  std::vector<double> c(l.size());
  for (std::size_t p = 0; p < c.size(); ++p) c[p] = standard_normal(9, p);
  const auto f = [&](const RowRelaxation& at) {
    const std::vector<double> values = relaxed.factor(at);
    double sum = 0.0;
    for (std::size_t p = 0; p < values.size(); ++p) sum += c[p] * values[p];
    return sum;
  };
  const RowRelaxation grad = relaxed.backward(r, l, c);
  constexpr double step = 1e-6;
  double error = 0.0, scale = 0.0;
  for (long i = 0; i < a.rows; ++i)
    for (int which = 0; which < 2; ++which) {
      RowRelaxation plus = r, minus = r;
      (which == 0 ? plus.omega : plus.shift)[i] += step;
      (which == 0 ? minus.omega : minus.shift)[i] -= step;
      const double fd = (f(plus) - f(minus)) / (2 * step);
      const double analytic = (which == 0 ? grad.omega : grad.shift)[i];
      error = std::max(error, std::abs(fd - analytic));
      scale = std::max(scale, std::abs(fd));
    }
  EXPECT_GT(scale, 1e-3);
  EXPECT_LE(error, 1e-7 * scale) << "max |fd| " << scale;
}

TEST(RelaxedIc, ReversePassMatchesFiniteDifferencesIn2d) {
  expect_gradient_matches_finite_differences(rough_diffusion(6, 2));
}

TEST(RelaxedIc, ReversePassMatchesFiniteDifferencesOnANinePointStencil) {
  expect_gradient_matches_finite_differences(nine_point(6));
}

TEST(RelaxedIc, ReversePassMatchesFiniteDifferencesIn3d) {
  expect_gradient_matches_finite_differences(rough_diffusion(4, 3));
}

TEST(RelaxedIc, LumpsTheDroppedCouplingLikeTheMic0Reference) {
  const CsrMatrix a = poisson(5, 2);
  std::vector<double> dropped(a.rows, 0.0);
  for (long i = 0; i < 5; ++i) dropped[i] = 1.0;  // the first grid line cut from its neighbours
  CsrMatrix lumped = a;
  const LowerPattern lower = lower_pattern(a);
  for (long i = 0; i < a.rows; ++i)
    lumped.values[lower.position_in_a[lower.diagonal(i)]] -= dropped[i];
  EXPECT_LE(max_abs_difference(RelaxedIc(a, dropped).factor(RowRelaxation::mic0(a.rows)),
                               mic0_values(lumped, lower)),
            1e-14);
}

// The PC's solver (both sweeps in row form, pivots folded into the values, the neighbour row's
// coupling carried apart) against the reference sweeps apply_factor_inverse, out of place and in
// place, on relaxed factors of 5-, 7- and 9-point matrices (the 9-point one has rows whose
// column i − 1 is absent and several couplings per row) and of a cut block.
TEST(RelaxedIc, FactorSolverMatchesTheReferenceSweeps) {
  const LocalBlock cut = diagonal_block(LocalBlock{rough_diffusion(8, 2), {}}, 10, 50);
  for (const LocalBlock& a : {LocalBlock{rough_diffusion(9, 2), {}}, LocalBlock{poisson(5, 3), {}},
                              LocalBlock{nine_point(7), {}}, cut}) {
    const std::vector<double> l = RelaxedIc(a, a.dropped).factor(random_relaxation(a.rows, 29));
    const LowerPattern lower = lower_pattern(a);
    std::vector<double> v(a.rows), expected(a.rows), fast(a.rows);
    for (long i = 0; i < a.rows; ++i) v[i] = standard_normal(31, i);
    apply_factor_inverse(lower, l, v.data(), expected.data());
    const FactorSolver solver(lower, l);
    solver.apply(v.data(), fast.data());
    double scale = 0.0;
    for (double x : expected) scale = std::max(scale, std::abs(x));
    EXPECT_LT(max_abs_difference(fast, expected), 1e-13 * scale) << a.rows << " rows";
    solver.apply(v.data(), v.data());
    EXPECT_LT(max_abs_difference(v, expected), 1e-13 * scale) << a.rows << " rows, in place";
  }
}

FactorGnnOptions relaxation_model() {
  FactorGnnOptions options;
  options.reference = ReferenceFactor::mic0;
  options.correction = Correction::relaxation;
  options.width = 8;
  options.layers = 2;
  return options;
}

std::vector<double> host_vector(const nn::Vector<double>& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<double>(h.data(), h.data() + h.size());
}

MatrixGraph relaxation_graph(const LocalBlock& a) {
  return make_matrix_graph(a, reference_values(a, lower_pattern(a), ReferenceFactor::mic0),
                           FactorKind::cholesky, a.dropped, true);
}

TEST(RelaxedIcGnn, UntrainedNetworkReturnsModifiedIcZeroExactly) {
  const LocalBlock a{rough_diffusion(6, 2), {}};
  const MatrixGraph graph = relaxation_graph(a);
  FactorGnn gnn(relaxation_model(), 3);
  const std::vector<double> l = host_vector(gnn.forward(graph));
  const std::vector<double> mic0 = mic0_values(a, lower_pattern(a));
  ASSERT_EQ(l.size(), mic0.size());
  for (std::size_t p = 0; p < l.size(); ++p) EXPECT_EQ(l[p], mic0[p]) << "entry " << p;
  // The inference-only forward (fused kernels, then the factorisation): the same L exactly.
  EXPECT_EQ(host_vector(gnn.infer(graph)), mic0);
}

// The set-up's graph (make_relaxation_graph: one RelaxedIc on the caller's pattern, the MIC(0)
// reference from its unit-relaxation factor) against the graph built the general way (its own
// RelaxedIc, reference_values' MIC(0)): the same reference and features bit for bit, on a whole
// matrix and on a cut block (dropped coupling lumped, problem rows of the whole), so a trained
// network's inference gives the same L exactly; and a pattern of another matrix is refused.
TEST(RelaxedIcGnn, SetUpGraphEqualsTheGeneralGraph) {
  const LocalBlock whole{rough_diffusion(9, 2), {}};
  const LocalBlock cut = diagonal_block(whole, 20, 60);
  for (const LocalBlock& a : {whole, cut, LocalBlock{poisson(5, 3), {}}}) {
    const LowerPattern lower = lower_pattern(a);
    const MatrixGraph general =
        make_matrix_graph(a, reference_values(a, lower, ReferenceFactor::mic0),
                          FactorKind::cholesky, a.dropped, true, a.problem_rows());
    const MatrixGraph setup = make_relaxation_graph(a, lower);
    EXPECT_EQ(host_vector(setup.reference), host_vector(general.reference)) << a.rows << " rows";
    const auto features = [](const nn::Matrix<double>& m) {
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
      return std::vector<double>(h.data(), h.data() + h.size());
    };
    EXPECT_EQ(features(setup.edge_features), features(general.edge_features));
    EXPECT_EQ(features(setup.node_features), features(general.node_features));
    EXPECT_EQ(setup.problem_rows, general.problem_rows);
    FactorGnn gnn(relaxation_model(), 3);
    randomise_parameters(gnn.parameters(), 23, 0.3);  // a moved head: L differs from MIC(0)
    const std::vector<double> l = host_vector(gnn.infer(setup));
    EXPECT_EQ(l, host_vector(gnn.infer(general)));
    EXPECT_GT(max_abs_difference(l, host_vector(general.reference)), 1e-6);
  }
  const LocalBlock a{poisson(4, 2), {}};
  EXPECT_THROW(make_relaxation_graph(a, lower_pattern(poisson(5, 2))), NotSpdError);
}

TEST(RelaxedIcGnn, GradientOfLossMatchesFiniteDifferences) {
  const LocalBlock cut = diagonal_block(LocalBlock{rough_diffusion(7, 2), {}}, 0, 30);
  for (const LocalBlock& a :
       {LocalBlock{rough_diffusion(5, 2), {}}, cut, LocalBlock{rough_diffusion(3, 3), {}}}) {
    const MatrixGraph graph = relaxation_graph(a);
    FactorGnn gnn(relaxation_model(), 3);
    nn::Parameters<double>& parameters = gnn.parameters();
    // Every weight 0.3·N(0, 1): rows on both sides of the head's ramp, none at its kink.
    randomise_parameters(parameters, 21, 0.3);
    // Any (x, b) exercise the chain; the loss only needs them fixed.
    const nn::Matrix<double> x = random_matrix(a.rows, 3, 4), b = random_matrix(a.rows, 3, 5);
    FactorLoss loss(lower_triangle(a));
    const nn::Vector<double> dl("dl", graph.topology.edges);
    auto evaluate = [&] { return loss.evaluate(gnn.forward(graph), x, b, dl); };
    parameters.zero_gradients();
    evaluate();
    gnn.backward(dl);
    const std::vector<double> analytic = host_vector(parameters.gradients());
    const std::vector<double> numeric = numeric_gradient(parameters.values(), evaluate);
    EXPECT_LT(relative_error(analytic, numeric), kGradientTolerance) << a.rows << " rows";
    double largest = 0.0;
    for (double g : numeric) largest = std::max(largest, std::abs(g));
    EXPECT_GT(largest, 1e-6);  // the head moved L: the check compares non-zero gradients
  }
}

}  // namespace
