// The PINN architectures beyond the plain MLP, in float64: Fourier features, SIREN, the modified
// (gated) MLP and the residual block. For each, against central differences:
// - the input gradient and the parameter gradient through forward/backward;
// - the value, ∂u/∂x_k and ∂²u/∂x_k² channels of a derivative pass;
// - the parameter gradient of a residual loss through a derivative pass and its backward;
// for every smooth activation where the architecture has a choice. Also: SIREN's initialisation
// bounds, the fixed Fourier matrix B (a function of the seed only), and make_network.
#include <gtest/gtest.h>

#include <cmath>

#include "karman/nn/architecture.hpp"
#include "karman/nn/fourier_features.hpp"
#include "karman/nn/linear.hpp"
#include "karman/nn/modified_mlp.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/sequential.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::nn;
using namespace karman::testing;

namespace {

const auto kSmoothActivations = ::testing::Values("tanh", "sin", "gelu", "silu", "softplus");

// The three checks for a freshly built network on `dims` inputs.
void check_all(const std::function<std::unique_ptr<Module<double>>()>& build, std::size_t dims,
               const std::string& label, double length = 1.0) {
  {
    Network<double> net(build(), 5);
    check_module(net, 6);
  }
  {
    Network<double> net(build(), 7);
    check_input_derivatives(net, dims, 9, 3, label, length);
  }
  {
    Network<double> net(build(), 9);
    check_residual_loss_gradient(net, dims, 7, 4, label);
  }
}

FourierOptions fourier(std::size_t count, double scale, std::uint64_t seed, bool include_input) {
  FourierOptions o;
  o.count = count;
  o.scale = scale;
  o.seed = seed;
  o.include_input = include_input;
  return o;
}

// [FourierFeatures, MLP]: the embedding's derivatives reach the weights of the MLP behind it.
std::unique_ptr<Module<double>> fourier_mlp(std::size_t dims, Activation act, bool include_input) {
  auto embedding =
      std::make_unique<FourierFeatures<double>>(dims, fourier(4, 0.7, 3, include_input));
  const std::size_t width = embedding->out_features();
  auto net = std::make_unique<Sequential<double>>();
  net->add(std::move(embedding));
  net->add(make_mlp<double>({width, 8, 8, 1}, act));
  return net;
}

// [periodic embedding, MLP] with the first input periodic (period 2) and the others copied through.
std::unique_ptr<Module<double>> periodic_mlp(std::size_t dims, Activation act, std::size_t modes) {
  std::vector<double> periods(dims, 0.0);
  periods[0] = 2.0;
  auto embedding = make_periodic_embedding<double>(periods, modes);
  const std::size_t width = embedding->out_features();
  auto net = std::make_unique<Sequential<double>>();
  net->add(std::move(embedding));
  net->add(make_mlp<double>({width, 8, 8, 1}, act));
  return net;
}

class ArchitectureTaylor : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

}  // namespace

TEST_P(ArchitectureTaylor, FourierFeaturesThenMlp) {
  const auto [name, dims] = GetParam();
  const std::size_t d = static_cast<std::size_t>(dims);
  for (bool include_input : {false, true})
    check_all([&] { return fourier_mlp(d, activation_from_name(name), include_input); }, d,
              name + (include_input ? " with x" : ""));
}

TEST_P(ArchitectureTaylor, PeriodicEmbeddingThenMlp) {
  const auto [name, dims] = GetParam();
  const std::size_t d = static_cast<std::size_t>(dims);
  for (std::size_t modes : {1, 3})
    check_all([&] { return periodic_mlp(d, activation_from_name(name), modes); }, d,
              name + " periodic modes " + std::to_string(modes));
}

TEST_P(ArchitectureTaylor, ModifiedMlp) {
  const auto [name, dims] = GetParam();
  const std::size_t d = static_cast<std::size_t>(dims);
  check_all(
      [&] {
        return std::make_unique<ModifiedMlp<double>>(std::vector<std::size_t>{d, 8, 8, 8, 1},
                                                     activation_from_name(name));
      },
      d, name);
}

TEST_P(ArchitectureTaylor, ResidualBlock) {
  const auto [name, dims] = GetParam();
  const std::size_t d = static_cast<std::size_t>(dims);
  const Activation act = activation_from_name(name);
  check_all(
      [&] {
        auto net = std::make_unique<Sequential<double>>();
        net->add(std::make_unique<Linear<double>>(d, 6, true, act));
        net->add(std::make_unique<Residual<double>>(make_mlp<double>({6, 6, 6}, act)));
        net->add(std::make_unique<Linear<double>>(6, 1));
        return net;
      },
      d, name);
}

INSTANTIATE_TEST_SUITE_P(SmoothActivations, ArchitectureTaylor,
                         ::testing::Combine(kSmoothActivations, ::testing::Values(2, 3)));

TEST(Siren, DerivativesAndGradients) {
  for (std::size_t d : {2, 3}) {
    // ω0 = 30 as the paper: the network varies over lengths of 1/30, and so do the FD steps.
    check_all([&] { return make_siren<double>({d, 8, 8, 1}); }, d, "siren", 1.0 / 30.0);
    check_all([&] { return make_siren<double>({d, 8, 8, 1}, 2.0, 3.0); }, d, "siren(2, 3)");
  }
}

TEST(Siren, TallBatchThroughTheBlockedProducts) {
  // 3 inputs, 30 points: 210 channel rows and 30 plain rows of 64-wide layers.
  Network<double> net(make_siren<double>({3, 64, 64, 1}, 5.0, 5.0), 2);
  check_input_derivatives(net, 3, 30, 8, "siren tall", 0.2);
  Network<double> plain(make_siren<double>({3, 64, 1}, 5.0, 5.0), 4);
  check_module(plain, 100);
}

TEST(Siren, InitialisationFollowsThePaper) {
  const double omega0 = 30.0, hidden = 20.0;
  Network<double> net(make_siren<double>({2, 40, 50, 1}, omega0, hidden), 3);
  // Bounds of the weights per layer: U(-1/in, 1/in) first, U(-√(6/in)/ω_h, √(6/in)/ω_h) after.
  const std::vector<std::pair<std::string, double>> bounds{
      {"0.weight", 1.0 / 2},
      {"1.weight", std::sqrt(6.0 / 40) / hidden},
      {"2.weight", std::sqrt(6.0 / 50) / hidden},
      {"0.bias", 1 / std::sqrt(2.0)},
      {"1.bias", 1 / std::sqrt(40.0)},
      {"2.bias", 1 / std::sqrt(50.0)}};
  const auto values =
      to_vector(Matrix<double>(net.parameters().values().data(), 1, net.parameters().size()));
  for (const auto& [name, bound] : bounds) {
    bool found = false;
    for (const ParameterInfo& info : net.parameters().infos()) {
      if (info.name != name) continue;
      found = true;
      double largest = 0;
      for (std::size_t e = info.offset; e < info.offset + info.size(); ++e)
        largest = std::max(largest, std::abs(values[e]));
      EXPECT_LE(largest, bound) << name;
      if (info.size() >= 40) {
        EXPECT_GT(largest, 0.8 * bound) << name << ": the draws should fill the interval";
      }
    }
    EXPECT_TRUE(found) << name;
  }
  auto& first = dynamic_cast<Linear<double>&>(dynamic_cast<Sequential<double>&>(net.module())[0]);
  EXPECT_EQ(first.frequency(), omega0);
}

TEST(FourierFeatures, MatrixIsAFunctionOfTheSeedOnly) {
  const FourierFeatures<double> a(2, fourier(300, 2.5, 7, false));
  const FourierFeatures<double> b(2, fourier(300, 2.5, 7, true));  // pass-through: same B
  const FourierFeatures<double> c(2, fourier(300, 2.5, 8, false));
  const auto ba = to_vector(a.frequencies()), bb = to_vector(b.frequencies()),
             bc = to_vector(c.frequencies());
  EXPECT_EQ(ba, bb);
  EXPECT_NE(ba, bc);
  // Entries are N(0, σ²): the sample standard deviation of 600 draws is within 10% of σ.
  double sum = 0, squares = 0;
  for (double v : ba) sum += v, squares += v * v;
  const double mean = sum / ba.size(), sd = std::sqrt(squares / ba.size() - mean * mean);
  EXPECT_NEAR(sd, 2.5, 0.25);
  EXPECT_NEAR(mean, 0.0, 0.3);
  EXPECT_EQ(b.out_features(), 602u);
}

TEST(FourierFeatures, ValuesAreSinAndCosOfTheProjection) {
  FourierFeatures<double> embedding(2, fourier(3, 1.0, 1, true));
  const Matrix<double> x = random_points(4, 2, 5);
  Workspace<double> workspace;
  const auto y = to_vector(embedding.forward(x, Pass::values(), workspace).y), xs = to_vector(x),
             b = to_vector(embedding.frequencies());
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 3; ++j) {
      const double p = 2 * M_PI * (xs[2 * i] * b[j] + xs[2 * i + 1] * b[3 + j]);
      EXPECT_NEAR(y[i * 8 + j], std::sin(p), 1e-14);
      EXPECT_NEAR(y[i * 8 + 3 + j], std::cos(p), 1e-14);
      EXPECT_EQ(y[i * 8 + 6], xs[2 * i]);
      EXPECT_EQ(y[i * 8 + 7], xs[2 * i + 1]);
    }
}

TEST(MakeNetwork, PlainMlpIsMakeMlp) {
  MlpSpec spec;
  spec.hidden = {16, 16};
  spec.seed = 4;
  Network<double> built(make_network<double>(spec, 2, 1), spec.seed);
  Network<double> direct(make_mlp<double>({2, 16, 16, 1}, Activation::tanh), spec.seed);
  EXPECT_EQ(built.module().kind(), "sequential");
  EXPECT_EQ(
      to_vector(Matrix<double>(built.parameters().values().data(), 1, built.parameters().size())),
      to_vector(
          Matrix<double>(direct.parameters().values().data(), 1, direct.parameters().size())));
}

// The embedded network is periodic in its periodic inputs: every channel of a derivative pass
// (value, ∂/∂x_k, ∂²/∂x_k²) is the same at x and at x shifted by whole periods, to round-off;
// and the layer's shape: 2·modes features per periodic input, then the others in order.
TEST(PeriodicEmbedding, NetworkIsPeriodicInEveryChannel) {
  const std::vector<double> periods{2.0, 0.0, 0.5};
  auto embedding = make_periodic_embedding<double>(periods, 3);
  EXPECT_EQ(embedding->out_features(), 2u * 3u * 2u + 1u);
  EXPECT_EQ(embedding->kind(), "periodic_embedding");
  auto body = std::make_unique<Sequential<double>>();
  const std::size_t width = embedding->out_features();
  body->add(std::move(embedding));
  body->add(make_mlp<double>({width, 10, 10, 1}, Activation::tanh));
  Network<double> net(std::move(body), 4);
  const std::size_t n = 7, d = 3;
  Matrix<double> x = random_points(n, d, 12), shifted("shifted", n, d);
  auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  auto hs = Kokkos::create_mirror_view(shifted);
  for (std::size_t i = 0; i < n; ++i) {
    hs(i, 0) = hx(i, 0) + 2.0 * (1 + static_cast<double>(i % 3));  // +2, +4, +6
    hs(i, 1) = hx(i, 1);
    hs(i, 2) = hx(i, 2) - 0.5 * static_cast<double>(i % 2);
  }
  Kokkos::deep_copy(shifted, hs);
  Matrix<double> a, b;
  taylor_input(x, a);
  taylor_input(shifted, b);
  const auto ya = to_vector(net.forward(a, Pass::derivatives(d)).y);
  const auto yb = to_vector(net.forward(b, Pass::derivatives(d)).y);
  ASSERT_EQ(ya.size(), (1 + 2 * d) * n);
  for (std::size_t r = 0; r < ya.size(); ++r)
    EXPECT_NEAR(ya[r], yb[r], 1e-12 * (1 + std::abs(ya[r]))) << "row " << r;
  // Not periodic in the copied-through input: moving it changes the value.
  hs(0, 1) += 0.3;
  Kokkos::deep_copy(shifted, hs);
  EXPECT_GT(std::abs(to_vector(net.forward(shifted).y)[0] - to_vector(net.forward(x).y)[0]), 1e-6);
}

TEST(MakeNetwork, EveryArchitectureWithAndWithoutFourierFeatures) {
  for (Architecture a : {Architecture::mlp, Architecture::modified_mlp, Architecture::siren})
    for (std::size_t count : {0, 5}) {
      MlpSpec spec;
      spec.architecture = a;
      spec.hidden = {8, 8};
      spec.activation = a == Architecture::siren ? Activation::sin : Activation::tanh;
      spec.omega0 = spec.hidden_omega0 = 3.0;
      spec.fourier = fourier(count, 1.0, 2, true);
      auto module = make_network<double>(spec, 2, 1);
      EXPECT_EQ(module->in_features(), 2u);
      EXPECT_EQ(module->out_features(), 1u);
      Network<double> net(std::move(module), 1);
      check_residual_loss_gradient(net, 2, 5, 6,
                                   std::string(to_string(a)) + " fourier " + std::to_string(count));
    }
}

// model.periodic: the periodic embedding first, then random Fourier features of its output.
TEST(MakeNetwork, PeriodicEmbeddingThenFourierFeatures) {
  for (std::size_t count : {0, 4}) {
    MlpSpec spec;
    spec.hidden = {8, 8};
    spec.periodic_modes = 2;
    spec.periods = {2.0, 0.0};
    spec.fourier = fourier(count, 1.0, 2, true);
    auto module = make_network<double>(spec, 2, 1);
    EXPECT_EQ(module->in_features(), 2u);
    Network<double> net(std::move(module), 1);
    check_residual_loss_gradient(net, 2, 5, 6, "periodic fourier " + std::to_string(count));
  }
}
