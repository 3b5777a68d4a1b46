// The Fourier layers of operators/fno: the batched FFT against a direct DFT and through a round
// trip, the spectral convolution against a direct (non-FFT) evaluation of the truncated Fourier
// multiplier, finite-difference gradients of SpectralConv and of the whole FNO, the BLAS mode
// mixing against plain loops, resolution independence, and the case-file reader.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <complex>
#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <vector>

#include "karman/config/node.hpp"
#include "karman/core/extents.hpp"
#include "karman/core/random.hpp"
#include "karman/nn/network.hpp"
#include "operators/fno/fft.hpp"
#include "operators/fno/fno.hpp"
#include "operators/fno/spectral_conv.hpp"
#include "operators/fno/truncated_dft.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::fno;
using namespace karman::testing;
using nn::Matrix;

namespace {

constexpr double kPi = 3.14159265358979323846;
using Complex = std::complex<double>;

// Multi-index of the C-order flat index p in a grid of extents `shape`.
std::vector<long> multi_index(long p, const std::vector<long>& shape) {
  std::vector<long> i(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) i[d] = p % shape[d], p /= shape[d];
  return i;
}

// e^{sign·2πi k·x/n} for integer wavenumber k and grid point x.
Complex phase(const std::vector<long>& k, const std::vector<long>& x,
              const std::vector<long>& shape, double sign) {
  double angle = 0;
  for (std::size_t d = 0; d < shape.size(); ++d)
    angle += 2 * kPi * static_cast<double>(k[d] * x[d]) / static_cast<double>(shape[d]);
  return std::polar(1.0, sign * angle);
}

template <class T>
std::vector<double> host_values(const Matrix<T>& m) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
  return std::vector<double>(h.data(), h.data() + h.size());
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

double max_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// ------------------------------------------------------------------------------------- FFT

const std::vector<std::vector<long>> kFftShapes = {{8}, {7}, {6, 7}, {5, 8}, {4, 5, 6}, {3, 4, 5}};

template <class T>
void check_round_trip(const std::vector<long>& shape, double tolerance) {
  const long batch = 3, channels = 2, n = product(shape);
  RealFft<T> fft(shape, batch, channels);
  ASSERT_EQ(fft.points(), n);
  const Matrix<T> x = random_matrix<T>(batch * n, channels, 5);
  Matrix<T> spectrum("spectrum", batch * fft.spectrum_points(), 2 * channels);
  Matrix<T> back("back", batch * n, channels);
  fft.forward(x, spectrum);
  const std::vector<double> before = host_values(x);
  fft.inverse(spectrum, back);
  EXPECT_EQ(host_values(x), before) << "forward must not modify its input";
  EXPECT_LT(max_difference(host_values(back), before), tolerance * max_abs(before))
      << "round trip of a grid of " << shape.size() << " dimensions, n = " << n;
}

TEST(FnoFft, RoundTripDouble) {
  for (const auto& shape : kFftShapes) check_round_trip<double>(shape, 1e-13);
}

TEST(FnoFft, RoundTripFloat) {
  for (const auto& shape : kFftShapes) check_round_trip<float>(shape, 2e-6);
}

// Every entry of the half spectrum against Σ_x x(x) e^{-2πi k·x/n}, for every sample and channel.
TEST(FnoFft, ForwardIsTheUnnormalisedDft) {
  for (const auto& shape : kFftShapes) {
    const long batch = 2, channels = 3, n = product(shape);
    RealFft<double> fft(shape, batch, channels);
    std::vector<long> half(shape);
    half.back() = shape.back() / 2 + 1;
    ASSERT_EQ(fft.spectrum_points(), product(half));
    const Matrix<double> x = random_matrix<double>(batch * n, channels, 9);
    Matrix<double> spectrum("spectrum", batch * fft.spectrum_points(), 2 * channels);
    fft.forward(x, spectrum);
    const auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
    const auto hs = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), spectrum);
    double error = 0, scale = 0;
    for (long b = 0; b < batch; ++b)
      for (long q = 0; q < product(half); ++q)
        for (long c = 0; c < channels; ++c) {
          Complex direct = 0;
          for (long p = 0; p < n; ++p)
            direct +=
                hx(b * n + p, c) * phase(multi_index(q, half), multi_index(p, shape), shape, -1.0);
          const long row = b * product(half) + q;
          error = std::max(error, std::abs(direct - Complex(hs(row, 2 * c), hs(row, 2 * c + 1))));
          scale = std::max(scale, std::abs(direct));
        }
    EXPECT_LT(error, 1e-13 * scale) << "grid of " << shape.size() << " dimensions, n = " << n;
  }
}

// A band-limited transform (the columns k_last < band) against the full one: forward agrees on
// those columns, and inverse of a spectrum that is zero beyond them agrees with the full inverse.
TEST(FnoFft, BandLimitedTransformsAgreeOnTheBand) {
  for (const auto& shape : kFftShapes) {
    const long batch = 2, channels = 3, n = product(shape), band = (shape.back() / 2 + 1) / 2 + 1;
    RealFft<double> full(shape, batch, channels), pruned(shape, batch, channels, band);
    const long nc = full.spectrum_points(), columns = shape.back() / 2 + 1;
    const Matrix<double> x = random_matrix<double>(batch * n, channels, 12);
    Matrix<double> a("a", batch * nc, 2 * channels), b("b", batch * nc, 2 * channels);
    full.forward(x, a);
    pruned.forward(x, b);
    auto ha = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), a);
    auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b);
    double error = 0, scale = 0;
    for (long r = 0; r < batch * nc; ++r)
      for (long c = 0; c < 2 * channels; ++c) {
        if (r % columns >= band) {
          ha(r, c) = 0;  // for the inverse below: zero beyond the band
          continue;
        }
        error = std::max(error, std::abs(ha(r, c) - hb(r, c)));
        scale = std::max(scale, std::abs(ha(r, c)));
      }
    EXPECT_LT(error, 1e-13 * scale) << "forward, n = " << n;
    Kokkos::deep_copy(a, ha);
    Kokkos::deep_copy(b, ha);
    Matrix<double> ya("ya", batch * n, channels), yb("yb", batch * n, channels);
    full.inverse(a, ya);
    pruned.inverse(b, yb);
    const auto expected = host_values(ya);
    EXPECT_GT(max_abs(expected), 1e-3);
    EXPECT_LT(max_difference(host_values(yb), expected), 1e-13 * max_abs(expected))
        << "inverse, n = " << n;
  }
}

// ------------------------------------------------------------------------- spectral convolution

struct SpectralCase {
  std::vector<long> shape, modes;
};

void PrintTo(const SpectralCase& c, std::ostream* os) {
  *os << "grid";
  for (long n : c.shape) *os << " " << n;
  *os << ", modes";
  for (long m : c.modes) *os << " " << m;
}

// The kept wavenumbers in the documented weight order: corners (bit d = negative wavenumbers of
// non-last dimension d), C order within a corner. Each as stored (k or n + k for negative k).
std::vector<std::vector<long>> kept_wavenumbers(const SpectralCase& c) {
  const std::size_t dim = c.modes.size();
  std::vector<std::vector<long>> out;
  for (long corner = 0; corner < (1L << (dim - 1)); ++corner)
    for (long j = 0; j < product(c.modes); ++j) {
      std::vector<long> k = multi_index(j, c.modes);
      for (std::size_t d = 0; d + 1 < dim; ++d)
        if ((corner >> d) & 1) k[d] += c.shape[d] - c.modes[d];
      out.push_back(k);
    }
  return out;
}

// y(x, o) = (1/N) Σ_kept c_k Re(Σ_i x̂(k, i) W(k, i, o) e^{2πi k·x/n}), x̂ by explicit DFT sums,
// c_k = 1 on the k_last = 0 and n_last/2 columns (their own conjugates), 2 elsewhere.
std::vector<double> direct_spectral_conv(const SpectralCase& c, const Matrix<double>& x,
                                         const Matrix<double>& weight, long in, long out) {
  const long n = product(c.shape), batch = static_cast<long>(x.extent(0)) / n;
  const long n_last = c.shape.back();
  const auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  const auto hw = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), weight);
  const auto modes = kept_wavenumbers(c);
  std::vector<double> y(batch * n * out, 0.0);
  for (long b = 0; b < batch; ++b)
    for (std::size_t m = 0; m < modes.size(); ++m) {
      const auto& k = modes[m];
      std::vector<Complex> x_hat(in, 0.0);
      for (long p = 0; p < n; ++p)
        for (long i = 0; i < in; ++i)
          x_hat[i] += hx(b * n + p, i) * phase(k, multi_index(p, c.shape), c.shape, -1.0);
      const double multiplicity = (k.back() == 0 || 2 * k.back() == n_last) ? 1.0 : 2.0;
      for (long o = 0; o < out; ++o) {
        Complex y_hat = 0;
        for (long i = 0; i < in; ++i)
          y_hat += x_hat[i] * Complex(hw(m * in + i, 2 * o), hw(m * in + i, 2 * o + 1));
        for (long p = 0; p < n; ++p)
          y[(b * n + p) * out + o] +=
              multiplicity / static_cast<double>(n) *
              (y_hat * phase(k, multi_index(p, c.shape), c.shape, 1.0)).real();
      }
    }
  return y;
}

// Random weights (randomise_parameters) have nonzero real and imaginary parts of both signs.
constexpr double kWeightScale = 0.3;

// 1D with the Nyquist mode kept, 2D with odd and even sizes (with and without the Nyquist
// column), 3D with the Nyquist wavenumber in the negative corners.
const std::vector<SpectralCase> kSpectralCases = {
    {{8}, {5}}, {{7}, {3}}, {{7, 8}, {3, 5}}, {{6, 9}, {3, 4}}, {{4, 4, 6}, {2, 2, 4}}};

class SpectralConvCase : public ::testing::TestWithParam<SpectralCase> {};

TEST_P(SpectralConvCase, MatchesTheDirectFourierMultiplier) {
  const SpectralCase c = GetParam();
  const long in = 3, out = 2, batch = 2, n = product(c.shape);
  auto owned = std::make_unique<SpectralConv<double>>(in, out, c.modes);
  SpectralConv<double>& conv = *owned;
  conv.set_grid(c.shape);
  nn::Network<double> net(std::move(owned), 3);
  randomise_parameters(net, 17, kWeightScale);
  const Matrix<double> x = random_matrix<double>(batch * n, in, 4);
  const std::vector<double> y = host_values(net.forward(x).y);
  const std::vector<double> direct = direct_spectral_conv(c, x, net.parameters().value(0), in, out);
  ASSERT_EQ(y.size(), direct.size());
  EXPECT_GT(max_abs(direct), 1e-3);
  EXPECT_LT(max_difference(y, direct), 1e-12 * max_abs(direct));
  EXPECT_EQ(conv.kept_modes(), static_cast<long>(kept_wavenumbers(c).size()));
}

TEST_P(SpectralConvCase, GradientsMatchFiniteDifferences) {
  const SpectralCase c = GetParam();
  auto conv = std::make_unique<SpectralConv<double>>(2, 3, c.modes);
  conv->set_grid(c.shape);
  nn::Network<double> net(std::move(conv), 5);
  randomise_parameters(net, 23, kWeightScale);
  check_module(net, 2 * product(c.shape));
}

// TruncatedDft (direct DFTs of the kept modes) against its reference twin, the full RealFft and
// a gather of the kept wavenumbers (forward), and RealFft::inverse of the half spectrum that is
// zero outside the kept modes (inverse).
template <class T>
void check_truncated_dft(const SpectralCase& c, double tolerance) {
  const long batch = 3, channels = 5, n = product(c.shape);
  TruncatedDft<T> dft(c.shape, c.modes, batch, channels);
  RealFft<T> fft(c.shape, batch, channels);
  const auto modes = kept_wavenumbers(c);
  const long kept = static_cast<long>(modes.size()), nc = fft.spectrum_points();
  ASSERT_EQ(dft.kept_modes(), kept);
  std::vector<long> half(c.shape);
  half.back() = c.shape.back() / 2 + 1;
  std::vector<long> flat(kept);  // mode m's row in one sample's half spectrum
  for (long m = 0; m < kept; ++m)
    for (std::size_t d = 0; d < half.size(); ++d) flat[m] = flat[m] * half[d] + modes[m][d];

  const Matrix<T> x = random_matrix<T>(batch * n, channels, 41);
  Matrix<T> spectrum("spectrum", batch * nc, 2 * channels),
      x_modes("x_modes", kept * batch, 2 * channels);
  fft.forward(x, spectrum);
  dft.forward(x, x_modes);
  auto hs = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), spectrum);
  auto hm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_modes);
  double error = 0, scale = 0;
  for (long m = 0; m < kept; ++m)
    for (long b = 0; b < batch; ++b)
      for (long k = 0; k < 2 * channels; ++k) {
        const double reference = hs(b * nc + flat[m], k);
        error = std::max(error, std::abs(reference - static_cast<double>(hm(m * batch + b, k))));
        scale = std::max(scale, std::abs(reference));
      }
  EXPECT_LT(error, tolerance * scale) << "forward";

  // Inverse of random mode values: the half spectrum holding them (zero elsewhere) through FFTW.
  const Matrix<T> y_modes = random_matrix<T>(kept * batch, 2 * channels, 43);
  const auto hy = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y_modes);
  Kokkos::deep_copy(hs, T(0));
  for (long m = 0; m < kept; ++m)
    for (long b = 0; b < batch; ++b)
      for (long k = 0; k < 2 * channels; ++k) hs(b * nc + flat[m], k) = hy(m * batch + b, k);
  Kokkos::deep_copy(spectrum, hs);
  Matrix<T> expected("expected", batch * n, channels), y("y", batch * n, channels);
  fft.inverse(spectrum, expected, /*normalise=*/false);
  const std::vector<double> before = host_values(y_modes);
  dft.inverse(y_modes, y);
  const std::vector<double> reference = host_values(expected);
  EXPECT_GT(max_abs(reference), 1e-2);
  EXPECT_LT(max_difference(host_values(y), reference), tolerance * max_abs(reference)) << "inverse";
  EXPECT_EQ(host_values(y_modes), before) << "inverse must not modify its input";
}

TEST_P(SpectralConvCase, TruncatedDftMatchesTheFftAndGather) {
  check_truncated_dft<double>(GetParam(), 1e-13);
  check_truncated_dft<float>(GetParam(), 2e-6);
}

// The layer's two transforms (TruncatedDft by default, RealFft + gather) give the same outputs
// and gradients.
TEST_P(SpectralConvCase, DftAndFftTransformsAgree) {
  const SpectralCase c = GetParam();
  const long in = 3, out = 2, batch = 2, n = product(c.shape);
  auto owned = std::make_unique<SpectralConv<double>>(in, out, c.modes);
  SpectralConv<double>& conv = *owned;
  conv.set_grid(c.shape);
  nn::Network<double> net(std::move(owned), 3);
  randomise_parameters(net, 19, kWeightScale);
  const Matrix<double> x = random_matrix<double>(batch * n, in, 6);
  const Matrix<double> dy = random_matrix<double>(batch * n, out, 7);
  auto run = [&](SpectralTransform transform) {
    conv.set_transform(transform);
    net.parameters().zero_gradients();
    nn::Context<double>& context = net.forward(x);
    std::vector<double> values = host_values(context.y);
    const std::vector<double> dx = host_values(net.backward(context, dy));
    const auto gradients =
        Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), net.parameters().gradients());
    const std::vector<double> dw(gradients.data(), gradients.data() + gradients.size());
    values.insert(values.end(), dx.begin(), dx.end());
    values.insert(values.end(), dw.begin(), dw.end());
    return values;
  };
  EXPECT_EQ(conv.transform(), SpectralTransform::dft);
  const std::vector<double> fft = run(SpectralTransform::fft), dft = run(SpectralTransform::dft);
  EXPECT_GT(max_abs(fft), 1e-2);
  EXPECT_LT(max_difference(dft, fft), 1e-12 * max_abs(fft));
}

INSTANTIATE_TEST_SUITE_P(Grids, SpectralConvCase, ::testing::ValuesIn(kSpectralCases));

TEST(FnoSpectralConv, ModesThatDoNotFitAreAConfigError) {
  SpectralConv<double> conv(2, 2, {5, 4});
  EXPECT_THROW(conv.set_grid({9, 16}), ConfigError);  // 2·5 > 9: the corners would overlap
  EXPECT_THROW(conv.set_grid({16, 5}), ConfigError);  // 5/2 + 1 < 4
  EXPECT_NO_THROW(conv.set_grid({10, 6}));
  EXPECT_NE(modes_fit_error({5, 4}, {9, 16}).find("dimension 0"), std::string::npos);
  EXPECT_EQ(modes_fit_error({5, 4}, {10, 6}), "");
}

// A band-limited input sampled on 8 and on 16 points: the output on 16 points at the even points
// equals the output on 8 points (the same weights at any resolution: zero-shot super-resolution).
TEST(FnoSpectralConv, IsResolutionIndependentForBandLimitedInputs) {
  auto owned = std::make_unique<SpectralConv<double>>(1, 1, std::vector<long>{3});
  SpectralConv<double>& conv = *owned;
  nn::Network<double> net(std::move(owned), 1);
  randomise_parameters(net, 31, kWeightScale);
  auto sample = [&](long n) {
    Matrix<double> x("x", n, 1);
    auto h = Kokkos::create_mirror_view(x);
    for (long p = 0; p < n; ++p) {
      const double t = static_cast<double>(p) / n;
      h(p, 0) = 0.7 + std::cos(2 * kPi * t) + 0.5 * std::sin(4 * kPi * t);
    }
    Kokkos::deep_copy(x, h);
    conv.set_grid({n});
    return host_values(net.forward(x).y);
  };
  const std::vector<double> coarse = sample(8), fine = sample(16);
  double error = 0;
  for (long p = 0; p < 8; ++p) error = std::max(error, std::abs(fine[2 * p] - coarse[p]));
  EXPECT_GT(max_abs(coarse), 1e-2);
  EXPECT_LT(error, 1e-13 * max_abs(coarse));
}

// ---------------------------------------------------------------------------------- mode GEMM

TEST(FnoModeGemm, BlasMatchesTheReferenceLoops) {
  const std::size_t modes = 7, m = 5, n = 4, k = 3;
  const ComplexOp ops[] = {ComplexOp::none, ComplexOp::conj_transpose};
  for (ComplexOp op_a : ops)
    for (ComplexOp op_b : ops) {
      const bool ta = op_a == ComplexOp::conj_transpose, tb = op_b == ComplexOp::conj_transpose;
      const Matrix<double> A = random_matrix<double>(modes * (ta ? k : m), 2 * (ta ? m : k), 1);
      const Matrix<double> B = random_matrix<double>(modes * (tb ? n : k), 2 * (tb ? k : n), 2);
      const Matrix<double> C = random_matrix<double>(modes * m, 2 * n, 3);
      const Matrix<double> C_ref = random_matrix<double>(modes * m, 2 * n, 3);
      mode_gemm(op_a, op_b, modes, 0.7, A, B, 0.3, C);
      mode_gemm_reference(op_a, op_b, modes, 0.7, A, B, 0.3, C_ref);
      const auto expected = host_values(C_ref);
      EXPECT_LT(max_difference(host_values(C), expected), 1e-14 * max_abs(expected))
          << "op_a conj " << ta << ", op_b conj " << tb;
      // One entry by hand: C[mode 6](1, 2) = 0.7 Σ_l op(A)(1, l) op(B)(l, 2) + 0.3 C(1, 2).
      const auto hA = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), A);
      const auto hB = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), B);
      const auto hC0 = Kokkos::create_mirror_view_and_copy(
          Kokkos::HostSpace(), random_matrix<double>(modes * m, 2 * n, 3));
      auto entry = [](const auto& h, std::size_t row, std::size_t col, bool conj) {
        return Complex(h(row, 2 * col), conj ? -h(row, 2 * col + 1) : h(row, 2 * col + 1));
      };
      const std::size_t mode = 6, i = 1, j = 2;
      Complex sum = 0;
      for (std::size_t l = 0; l < k; ++l)
        sum += (ta ? entry(hA, mode * k + l, i, true) : entry(hA, mode * m + i, l, false)) *
               (tb ? entry(hB, mode * n + j, l, true) : entry(hB, mode * k + l, j, false));
      const Complex want = 0.7 * sum + 0.3 * entry(hC0, mode * m + i, j, false);
      const std::size_t row = mode * m + i;
      EXPECT_NEAR(expected[row * 2 * n + 2 * j], want.real(), 1e-13);
      EXPECT_NEAR(expected[row * 2 * n + 2 * j + 1], want.imag(), 1e-13);
    }
}

// --------------------------------------------------------------------------------- FNO model

void check_fno(const FnoSpec& spec, const std::vector<long>& grid, long in, long out) {
  auto owned = std::make_unique<FnoModel<double>>(spec, in, out);
  owned->set_grid(grid);
  nn::Network<double> net(std::move(owned), spec.seed);
  const auto x = random_matrix<double>(2 * product(grid), in, 8);
  EXPECT_GT(max_abs(host_values(net.forward(x).y)), 1e-4);
  check_module(net, 2 * product(grid));
}

// The FNO applied four times to its own output (in = out = 1, the autoregressive shape): the
// spectral layers' contexts keep each step's modes.
TEST(FnoModel, GradientThroughAFourStepRollout) {
  FnoSpec spec;
  spec.modes = {2, 3};
  spec.width = 3;
  spec.layers = 2;
  spec.projection = 4;
  spec.padding = {1, 2};
  auto owned = std::make_unique<FnoModel<double>>(spec, 1, 1);
  owned->set_grid({5, 6});
  nn::Network<double> net(std::move(owned), spec.seed);
  // Weights of order one, so that a step neither shrinks nor blows up the input gradient: with
  // smaller weights it shrinks ~20× per step, and after four steps it is below what central
  // differences of the loss resolve.
  randomise_parameters(net, 23, 1.0);
  check_rollout(net, 2 * 30, 4);
}

TEST(FnoModel, Gradient1dWithPadding) {
  FnoSpec spec;
  spec.modes = {3};
  spec.width = 4;
  spec.layers = 2;
  spec.projection = 6;
  spec.padding = {2};
  check_fno(spec, {8}, 1, 1);
}

TEST(FnoModel, Gradient2dWithPadding) {
  FnoSpec spec;
  spec.modes = {2, 3};
  spec.width = 3;
  spec.layers = 2;
  spec.projection = 5;
  spec.padding = {2, 3};
  check_fno(spec, {6, 5}, 2, 1);
}

TEST(FnoModel, Gradient2dWithoutGridFeatures) {
  FnoSpec spec;
  spec.modes = {2, 2};
  spec.width = 3;
  spec.layers = 3;
  spec.projection = 4;
  spec.grid_features = false;
  check_fno(spec, {4, 5}, 1, 2);
}

// float32 (fftw3f, cgemm) against float64 (fftw3, zgemm): the same seed gives the same weights up
// to rounding, so forward and input gradient agree to single precision, in 2D with padding and
// in 3D.
template <class T>
std::vector<double> forward_and_gradient(const FnoSpec& spec, const std::vector<long>& grid) {
  auto owned = std::make_unique<FnoModel<T>>(spec, 2, 1);
  owned->set_grid(grid);
  nn::Network<T> net(std::move(owned), spec.seed);
  const long rows = 3 * product(grid);
  nn::Context<T>& forward = net.forward(random_matrix<T>(rows, 2, 8));
  std::vector<double> out = host_values(forward.y);
  const std::vector<double> dx = host_values(net.backward(forward, random_matrix<T>(rows, 1, 9)));
  out.insert(out.end(), dx.begin(), dx.end());
  return out;
}

TEST(FnoModel, FloatAgreesWithDouble) {
  FnoSpec spec2d;
  spec2d.modes = {4, 5};
  spec2d.width = 8;
  spec2d.padding = {3, 2};
  FnoSpec spec3d;
  spec3d.modes = {2, 3, 2};
  spec3d.width = 6;
  spec3d.layers = 2;
  for (const auto& [spec, grid] : {std::pair{spec2d, std::vector<long>{13, 16}},
                                   std::pair{spec3d, std::vector<long>{5, 6, 4}}}) {
    const auto single = forward_and_gradient<float>(spec, grid);
    const auto reference = forward_and_gradient<double>(spec, grid);
    EXPECT_GT(max_abs(reference), 1e-3);
    EXPECT_LT(max_difference(single, reference), 2e-5 * max_abs(reference)) << grid.size() << "D";
  }
}

// The reference's parameter count: lift (in + dim)·w + w, per block 2^(dim-1)·Π modes·w²
// complex weights and a 1×1 convolution w² + w, projection w·p + p, output p·out + out.
TEST(FnoModel, ParameterCountIsTheReferences) {
  FnoSpec spec;
  spec.modes = {12, 12};
  nn::Network<float> net(std::make_unique<FnoModel<float>>(spec, 1, 1), 1);
  const long w = 32, p = 128;
  const long expected = (3 * w + w) + 4 * (2 * 2 * 144 * w * w + w * w + w) + (w * p + p) + (p + 1);
  EXPECT_EQ(static_cast<long>(net.parameters().size()), expected);
}

// -------------------------------------------------------------------------------- case reader

FnoSpec read_model(const std::string& yaml, int dim) {
  // In the system's temporary folder, named after the process: never in the caller's folder.
  const std::string file = (std::filesystem::temp_directory_path() /
                            ("karman_fno_model_" + std::to_string(::getpid()) + ".yaml"))
                               .string();
  std::ofstream(file) << yaml;
  auto doc = config::CaseFile::load(file);
  FnoSpec spec = read_fno(doc.root().child("model"), dim);
  doc.reject_unknown_keys();
  return spec;
}

std::string read_error(const std::string& yaml, int dim) {
  try {
    read_model(yaml, dim);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(FnoCase, ReadsEveryKeyAndTheDefaults) {
  const FnoSpec d = read_model("model: {}\n", 2);
  EXPECT_EQ(d.modes, (std::vector<long>{12, 12}));
  EXPECT_EQ(d.width, 32);
  EXPECT_EQ(d.layers, 4);
  EXPECT_EQ(d.projection, 128);
  EXPECT_TRUE(d.padding.empty());
  EXPECT_TRUE(d.grid_features);
  EXPECT_EQ(d.seed, 1u);
  EXPECT_EQ(read_model("model: {}\n", 1).modes, (std::vector<long>{16}));
  const FnoSpec s = read_model(
      "model: {modes: [8, 6, 4], width: 20, layers: 3, projection: 64, padding: 6, "
      "grid_features: false, seed: 7}\n",
      3);
  EXPECT_EQ(s.modes, (std::vector<long>{8, 6, 4}));
  EXPECT_EQ(s.width, 20);
  EXPECT_EQ(s.layers, 3);
  EXPECT_EQ(s.projection, 64);
  EXPECT_EQ(s.padding, (std::vector<long>{6, 6, 6}));
  EXPECT_FALSE(s.grid_features);
  EXPECT_EQ(s.seed, 7u);
}

TEST(FnoCase, BadValuesNameTheKey) {
  EXPECT_NE(read_error("model: {modes: [12, 12, 3]}\n", 2).find("model.modes"), std::string::npos);
  EXPECT_NE(read_error("model: {modes: 0}\n", 1).find("model.modes"), std::string::npos);
  EXPECT_NE(read_error("model: {width: 0}\n", 2).find("model.width"), std::string::npos);
  EXPECT_NE(read_error("model: {padding: -1}\n", 2).find("model.padding"), std::string::npos);
  EXPECT_NE(read_error("model: {widht: 3}\n", 2).find("widht"), std::string::npos);
}

}  // namespace
