// The structured-grid CNN layers (operators/precond/cnn_layers.hpp) and the multilevel CNN
// (cnn.hpp): each kernel against its plain reference loop, finite-difference gradients of the
// convolution (inputs, weights, bias) and of its tied transpose in 2D and 3D and of the whole
// multilevel CNN, the pools' and the transpose's backward equal to their adjoints
// (⟨P x, y⟩ = ⟨x, Pᵀ y⟩), the symmetric CNN's map symmetric and positive semi-definite, and the
// CNN's size independence (the same weights run on grids of different sizes).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "karman/core/random.hpp"
#include "karman/nn/network.hpp"
#include "operators/precond/cnn.hpp"
#include "operators/precond/cnn_layers.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::precond;
using namespace karman::testing;
using nn::Matrix;

namespace {

long points(const std::vector<long>& shape) {
  long n = 1;
  for (long e : shape) n *= e;
  return n;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double e : v) m = std::max(m, std::abs(e));
  return m;
}

double max_abs_difference(const Matrix<double>& a, const Matrix<double>& b) {
  const auto va = to_vector(a), vb = to_vector(b);
  double m = 0;
  for (std::size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

struct ConvCase {
  std::vector<long> shape;
  long in, out;
};

// 2D square and non-square (boundary on every side), 3D non-cubic, 1 to 3 channels.
const std::vector<ConvCase> kConvCases = {
    {{5, 5}, 2, 3}, {{4, 7}, 1, 2}, {{3, 4, 5}, 2, 2}, {{2, 3, 2}, 3, 1}};

class GridConvCase : public ::testing::TestWithParam<ConvCase> {};

TEST_P(GridConvCase, KernelMatchesTheReferenceLoop) {
  const ConvCase c = GetParam();
  const int dims = static_cast<int>(c.shape.size());
  auto owned = std::make_unique<GridConv<double>>(c.in, c.out, dims);
  GridConv<double>* conv = owned.get();
  conv->set_grid(c.shape);
  nn::Network<double> net(std::move(owned), 3);
  randomise_parameters(net, 11, 1.0);
  const long batch = 2;
  const Matrix<double> x = random_matrix(batch * points(c.shape), c.in, 7);
  const Matrix<double> y = net.forward(x).y;
  Matrix<double> expected("expected", y.extent(0), y.extent(1));
  grid_conv_reference(GridShape::of(c.shape), x, net.parameters().value(0),
                      net.parameters().value(1), expected);
  EXPECT_GT(max_abs(to_vector(expected)), 0.1);
  EXPECT_LT(max_abs_difference(y, expected), 1e-12);
}

TEST_P(GridConvCase, GradientsMatchFiniteDifferences) {
  const ConvCase c = GetParam();
  auto conv = std::make_unique<GridConv<double>>(c.in, c.out, static_cast<int>(c.shape.size()));
  conv->set_grid(c.shape);
  nn::Network<double> net(std::move(conv), 5);
  randomise_parameters(net, 23, 0.5);
  check_module(net, 2 * points(c.shape));
}

// y = Cᵀ x through a GridConvTranspose of a bias-free GridConv C that the wrapper owns and
// declares: the transpose's own input and weight gradients, checked by finite differences.
class TransposedConv : public nn::Module<double> {
 public:
  TransposedConv(long in, long out, const std::vector<long>& shape)
      : m_conv(in, out, static_cast<int>(shape.size()), /*bias=*/false), m_transpose(m_conv) {
    m_conv.set_grid(shape);
  }
  std::string kind() const override { return "transposed_conv"; }
  std::size_t in_features() const override { return m_transpose.in_features(); }
  std::size_t out_features() const override { return m_transpose.out_features(); }
  void declare(nn::Parameters<double>& parameters, const std::string& prefix) override {
    m_conv.declare(parameters, prefix);
  }
  void initialize(std::uint64_t seed) override { m_conv.initialize(seed); }
  GridConv<double>& conv() { return m_conv; }

 protected:
  struct Wrapped : nn::Context<double> {
    nn::Context<double>* inner = nullptr;
  };
  std::unique_ptr<nn::Context<double>> make_context() const override {
    return std::make_unique<Wrapped>();
  }
  void forward_impl(nn::Context<double>& context, nn::Workspace<double>& workspace) override {
    auto& c = as<Wrapped>(context);
    c.inner = &m_transpose.forward(c.x, nn::Pass::values(), workspace);
    c.y = c.inner->y;
  }
  void backward_impl(nn::Context<double>& context, const Matrix<double>& dy,
                     const nn::Gradient<double>& gradient) override {
    auto& c = as<Wrapped>(context);
    c.dx = m_transpose.backward(*c.inner, dy, gradient);
  }

 private:
  GridConv<double> m_conv;
  GridConvTranspose<double> m_transpose;
};

TEST_P(GridConvCase, TransposeGradientsMatchFiniteDifferences) {
  const ConvCase c = GetParam();
  nn::Network<double> net(std::make_unique<TransposedConv>(c.in, c.out, c.shape), 5);
  randomise_parameters(net, 43, 0.5);
  check_module(net, 2 * points(c.shape));
}

TEST_P(GridConvCase, TransposeIsTheAdjointOfTheConvolution) {
  // ⟨C x, y⟩ = ⟨x, Cᵀ y⟩ with one set of weights, x [2N, in] and y [2N, out] random.
  const ConvCase c = GetParam();
  auto owned = std::make_unique<TransposedConv>(c.in, c.out, c.shape);
  TransposedConv* wrapper = owned.get();
  nn::Network<double> net(std::move(owned), 5);
  randomise_parameters(net, 47, 1.0);
  const long rows = 2 * points(c.shape);
  const Matrix<double> x = random_matrix(rows, c.in, 8), y = random_matrix(rows, c.out, 9);
  const double transpose_side = dot(x, net.forward(y).y);
  nn::Workspace<double> workspace;
  const double conv_side = dot(wrapper->conv().forward(x, nn::Pass::values(), workspace).y, y);
  EXPECT_GT(std::abs(conv_side), 1e-3);
  EXPECT_NEAR(transpose_side, conv_side, 1e-12 * std::abs(conv_side));
}

INSTANTIATE_TEST_SUITE_P(Grids, GridConvCase, ::testing::ValuesIn(kConvCases));

TEST(GridConv, ZeroPaddingOutsideTheBox) {
  // A one-channel 3×3 kernel of ones without bias on a 3×3 grid of ones: every output is the
  // number of the point's neighbours inside the box (itself included): 4 at corners, 6 on edges,
  // 9 at the centre.
  auto owned = std::make_unique<GridConv<double>>(1, 1, 2, /*bias=*/false);
  owned->set_grid({3, 3});
  nn::Network<double> net(std::move(owned), 1);
  Kokkos::deep_copy(net.parameters().values(), 1.0);
  Matrix<double> x("x", 9, 1);
  Kokkos::deep_copy(x, 1.0);
  const std::vector<double> y = to_vector(net.forward(x).y);
  EXPECT_EQ(y, (std::vector<double>{4, 6, 4, 6, 9, 6, 4, 6, 4}));
}

// ⟨f(x), y⟩ = ⟨x, fᵀ(y)⟩ for a linear layer f whose backward is fᵀ, x and y random, and f
// against its reference loop.
template <class Layer, class Reference>
void check_adjoint(const std::vector<long>& fine, bool down, Reference reference) {
  const long channels = 3, batch = 2;
  const long fine_points = points(fine), coarse_points = fine_points >> fine.size();
  const long in_rows = batch * (down ? fine_points : coarse_points);
  const long out_rows = batch * (down ? coarse_points : fine_points);
  auto owned = std::make_unique<Layer>(channels, static_cast<int>(fine.size()));
  owned->set_grid(fine);
  nn::Network<double> net(std::move(owned), 1);
  const Matrix<double> x = random_matrix(in_rows, channels, 3);
  const Matrix<double> y = random_matrix(out_rows, channels, 4);
  nn::Context<double>& context = net.forward(x);
  ASSERT_EQ(context.y.extent(0), static_cast<std::size_t>(out_rows));
  const double forward_dot = dot(context.y, y);
  Matrix<double> expected("expected", out_rows, channels);
  reference(GridShape::of(fine), x, expected);
  EXPECT_LT(max_abs_difference(context.y, expected), 1e-14);
  const Matrix<double> adjoint = net.backward(context, y);
  EXPECT_NEAR(forward_dot, dot(x, adjoint), 1e-12 * std::abs(forward_dot) + 1e-14);
}

TEST(GridPools, DownAndUpAreCheckedAgainstTheirAdjointsAndReferences) {
  for (const std::vector<long>& fine :
       {std::vector<long>{4, 6}, std::vector<long>{8, 8}, std::vector<long>{2, 4, 6}}) {
    SCOPED_TRACE(fine.size());
    check_adjoint<GridPoolDown<double>>(fine, true, grid_pool_down_reference<double>);
    check_adjoint<GridUpsample<double>>(fine, false, grid_upsample_reference<double>);
  }
}

TEST(GridPools, UpsampleAtScaleOneOverTwoToTheDIsThePoolsAdjoint) {
  // ⟨pool(x), y⟩ = ⟨x, upsample_{1/2^d}(y)⟩: one pair of kernels serves both layers.
  const std::vector<long> fine{4, 6};
  const long channels = 2, fine_rows = points(fine), coarse_rows = fine_rows / 4;
  GridPoolDown<double> pool(channels, 2);
  GridUpsample<double> up(channels, 2, 0.25);
  pool.set_grid(fine);
  up.set_grid(fine);
  nn::Workspace<double> workspace;
  const Matrix<double> x = random_matrix(fine_rows, channels, 3);
  const Matrix<double> y = random_matrix(coarse_rows, channels, 4);
  const double pooled = dot(pool.forward(x, nn::Pass::values(), workspace).y, y);
  EXPECT_NEAR(pooled, dot(x, up.forward(y, nn::Pass::values(), workspace).y),
              1e-13 * std::abs(pooled));
}

TEST(GridPools, OddExtentsAreRefused) {
  GridPoolDown<double> pool(1, 2);
  EXPECT_THROW(pool.set_grid({4, 5}), InternalError);
}

TEST(CnnModel, GradientMatchesFiniteDifferences2d) {
  // 8×4 with coarsest 1: depth 3 (8×4, 4×2, 2×1), levels 2: the coarsest two share weights.
  CnnSpec spec;
  spec.width = 3;
  spec.levels = 2;
  spec.blocks = 1;
  spec.coarsest = 1;
  auto owned = std::make_unique<CnnModel<double>>(spec, 2, 1);
  owned->set_grid({8, 4});
  EXPECT_EQ(owned->depth(), 3);
  nn::Network<double> net(std::move(owned), spec.seed);
  randomise_parameters(net, 29, 0.5);
  check_module(net, 2 * 32);
}

TEST(CnnModel, GradientMatchesFiniteDifferences3d) {
  CnnSpec spec;
  spec.dims = 3;
  spec.width = 2;
  spec.levels = 2;
  spec.blocks = 2;
  spec.coarsest = 1;
  auto owned = std::make_unique<CnnModel<double>>(spec, 2, 1);
  owned->set_grid({4, 2, 4});
  EXPECT_EQ(owned->depth(), 2);
  nn::Network<double> net(std::move(owned), spec.seed);
  randomise_parameters(net, 31, 0.5);
  check_module(net, 32);
}

TEST(CnnModel, MaskedFeaturesGradientMatchesFiniteDifferences) {
  // The mask channel (random N(0, 1): fluid where ≥ 1/2) multiplies every level's features.
  for (const std::vector<long>& grid : {std::vector<long>{8, 4}, std::vector<long>{4, 2, 4}}) {
    SCOPED_TRACE(grid.size());
    CnnSpec spec;
    spec.dims = static_cast<int>(grid.size());
    spec.width = 2;
    spec.levels = 2;
    spec.blocks = 1;
    spec.coarsest = 1;
    spec.mask_features = true;
    spec.activation = nn::Activation::tanh;  // the chain rule through act' too
    auto owned = std::make_unique<CnnModel<double>>(spec, 2, 1);
    owned->set_grid(grid);
    nn::Network<double> net(std::move(owned), spec.seed);
    randomise_parameters(net, 37, 0.5);
    check_module(net, 2 * points(grid));
  }
}

TEST(CnnModel, MaskedFeaturesMakeALinearMapThatVanishesOnSolids) {
  // Identity activation, bias-free: f(α r₁ + β r₂) = α f(r₁) + β f(r₂) for one mask, and 0 on
  // every solid cell; a mask channel (the default) makes the map affine instead.
  const std::vector<long> grid{8, 8};
  const long n = points(grid);
  CnnSpec spec;
  spec.width = 3;
  spec.levels = 2;
  spec.blocks = 1;
  spec.coarsest = 2;
  spec.mask_features = true;
  auto owned = std::make_unique<CnnModel<double>>(spec, 2, 1);
  owned->set_grid(grid);
  nn::Network<double> net(std::move(owned), spec.seed);
  randomise_parameters(net, 41, 0.5);
  const Matrix<double> r1 = random_matrix(n, 1, 5), r2 = random_matrix(n, 1, 6);
  auto input = [&](double a, double b) {  // [a r₁ + b r₂, mask]: solid where i + j ≡ 0 mod 5
    Matrix<double> x("x", n, 2);
    for (long p = 0; p < n; ++p) {
      x(p, 0) = a * r1(p, 0) + b * r2(p, 0);
      x(p, 1) = (p / 8 + p % 8) % 5 == 0 ? 0.0 : 1.0;
    }
    return x;
  };
  const std::vector<double> f1 = to_vector(net.forward(input(1, 0)).y);
  const std::vector<double> f2 = to_vector(net.forward(input(0, 1)).y);
  const std::vector<double> f12 = to_vector(net.forward(input(2, -3)).y);
  std::vector<double> error(n);
  for (long p = 0; p < n; ++p) {
    error[p] = f12[p] - (2 * f1[p] - 3 * f2[p]);
    if ((p / 8 + p % 8) % 5 == 0) {
      EXPECT_EQ(f12[p], 0.0) << "solid cell " << p;
    }
  }
  EXPECT_GT(max_abs(f12), 1e-3);
  EXPECT_LT(max_abs(error), 1e-12 * max_abs(f12));
}

CnnSpec symmetric_spec(const std::vector<long>& grid) {
  CnnSpec spec;
  spec.dims = static_cast<int>(grid.size());
  spec.width = 3;
  spec.levels = 2;
  spec.blocks = 2;
  spec.coarsest = 1;
  spec.symmetric = true;
  return spec;
}

TEST(CnnModel, SymmetricGradientMatchesFiniteDifferences) {
  // Depth 3 in 2D (8×4, 4×2, 2×1: the coarsest two levels share weights) and 2 in 3D; the mask
  // channel random N(0, 1) (fluid where ≥ 1/2).
  for (const std::vector<long>& grid : {std::vector<long>{8, 4}, std::vector<long>{4, 2, 4}}) {
    SCOPED_TRACE(grid.size());
    const CnnSpec spec = symmetric_spec(grid);
    auto owned = std::make_unique<CnnModel<double>>(spec, 2, 1);
    owned->set_grid(grid);
    nn::Network<double> net(std::move(owned), spec.seed);
    randomise_parameters(net, 53, 0.5);
    check_module(net, 2 * points(grid));
  }
}

TEST(CnnModel, SymmetricMapIsSymmetricAndPositiveSemiDefinite) {
  // q = M r with xᵀ M y = yᵀ M x to round-off and xᵀ M x ≥ 0 for random x, y (0 on the solid
  // cells, as DCDM's r is), M zero on the solid cells, on a 16×8 grid (depth 4 with coarsest 1)
  // with solids where i + j ≡ 0 mod 5.
  const std::vector<long> grid{16, 8};
  const long n = points(grid);
  const CnnSpec spec = symmetric_spec(grid);
  auto owned = std::make_unique<CnnModel<double>>(spec, 2, 1);
  owned->set_grid(grid);
  EXPECT_EQ(owned->depth(), 4);
  nn::Network<double> net(std::move(owned), spec.seed);
  randomise_parameters(net, 59, 0.5);
  auto solid = [](long p) { return (p / 8 + p % 8) % 5 == 0; };
  auto input = [&](std::uint64_t seed) {  // [r, mask]
    const Matrix<double> r = random_matrix(n, 1, seed);
    Matrix<double> x("x", n, 2);
    for (long p = 0; p < n; ++p) {
      x(p, 0) = solid(p) ? 0.0 : r(p, 0);
      x(p, 1) = solid(p) ? 0.0 : 1.0;
    }
    return x;
  };
  const Matrix<double> x = input(5), y = input(6);
  const std::vector<double> mx = to_vector(net.forward(x).y), my = to_vector(net.forward(y).y);
  double x_my = 0, y_mx = 0, x_mx = 0, y_my = 0;
  for (long p = 0; p < n; ++p) {
    if (solid(p)) {
      EXPECT_EQ(mx[p], 0.0) << "solid cell " << p;
    }
    x_my += x(p, 0) * my[p], y_mx += y(p, 0) * mx[p];
    x_mx += x(p, 0) * mx[p], y_my += y(p, 0) * my[p];
  }
  EXPECT_GT(std::abs(x_my), 1e-3);
  EXPECT_NEAR(x_my, y_mx, 1e-12 * std::sqrt(x_mx * y_my));
  EXPECT_GT(x_mx, 0.0);
  EXPECT_GT(y_my, 0.0);
}

TEST(CnnModel, DepthFollowsTheGridWithTheSameWeights) {
  // One network on grids 8², 16² and 12² (coarsest 4): depths 2, 3 (16, 8, 4) and 3 (12, 6, 3);
  // the 8² output is unchanged by the forwards in between (nothing of a grid is kept in the
  // weights).
  EXPECT_EQ(cnn_level_shapes({16, 16}, 4).size(), 3u);
  EXPECT_EQ(cnn_level_shapes({12, 12}, 4).back(), (std::vector<long>{3, 3}));
  EXPECT_EQ(cnn_level_shapes({10, 8}, 4).size(), 2u);  // 5 is odd
  CnnSpec spec;
  spec.width = 4;
  spec.levels = 2;
  auto owned = std::make_unique<CnnModel<double>>(spec, 2, 1);
  CnnModel<double>* cnn = owned.get();
  nn::Network<double> net(std::move(owned), spec.seed);
  const Matrix<double> small = random_matrix(64, 2, 5), large = random_matrix(256, 2, 6);
  cnn->set_grid({8, 8});
  EXPECT_EQ(cnn->depth(), 2);
  const std::vector<double> first = to_vector(net.forward(small).y);
  cnn->set_grid({16, 16});
  EXPECT_EQ(cnn->depth(), 3);
  EXPECT_EQ(net.forward(large).y.extent(0), 256u);
  cnn->set_grid({8, 8});
  EXPECT_EQ(to_vector(net.forward(small).y), first);
}

}  // namespace
