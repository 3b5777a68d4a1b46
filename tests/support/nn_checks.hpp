#pragma once
// Finite-difference checks of NN modules in float64, shared by the NN unit tests:
// - check_module: the input gradient and every parameter gradient of L = Σ dy ∘ f(x) through
//   forward/backward;
// - check_rollout: the same through a module applied several times with shared weights;
// - check_input_derivatives: the value, ∂u/∂x_k and ∂²u/∂x_k² channels of a derivative pass
//   against central differences of forward();
// - check_residual_loss_gradient: the parameter gradient of a PINN-like residual loss through
//   a derivative pass and its backward against central differences over the parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "karman/core/random.hpp"
#include "karman/nn/network.hpp"

namespace karman::testing {

using nn::Matrix;
using nn::Network;
using nn::Vector;

constexpr double kFdStep = 1e-6;             // parameter and input steps of numeric_gradient
constexpr double kGradientTolerance = 1e-6;  // relative error of a whole gradient

// Entries scale·N(0, 1) of stream `seed`.
template <class T = double>
Matrix<T> random_matrix(std::size_t rows, std::size_t cols, std::uint64_t seed,
                        double scale = 1.0) {
  Matrix<T> m("m", rows, cols);
  auto h = Kokkos::create_mirror_view(m);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j)
      h(i, j) = static_cast<T>(scale * standard_normal(seed, i * cols + j));
  Kokkos::deep_copy(m, h);
  return m;
}

// Every parameter scale·N(0, 1) of stream `seed`: weights far from any initialisation, so a
// gradient check or a comparison of two code paths sees every term.
inline void randomise_parameters(nn::Parameters<double>& parameters, std::uint64_t seed,
                                 double scale) {
  const auto values = parameters.values();
  auto h = Kokkos::create_mirror_view(values);
  for (std::size_t i = 0; i < h.size(); ++i) h(i) = scale * standard_normal(seed, i);
  Kokkos::deep_copy(values, h);
}

inline void randomise_parameters(Network<double>& net, std::uint64_t seed, double scale) {
  randomise_parameters(net.parameters(), seed, scale);
}

// n points uniform in [-1, 1]^dims (where a PINN's network sees its box).
inline Matrix<double> random_points(std::size_t n, std::size_t dims, std::uint64_t seed) {
  Matrix<double> x("x", n, dims);
  auto h = Kokkos::create_mirror_view(x);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < dims; ++k) h(i, k) = 2 * uniform01(seed, i * dims + k) - 1;
  Kokkos::deep_copy(x, h);
  return x;
}

// Any view's entries (values, parameters, integer indices) as doubles on the host.
template <class View>
std::vector<double> to_vector(const View& v) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<double>(host.data(), host.data() + host.size());
}

inline double dot(const Matrix<double>& a, const Matrix<double>& b) {
  const auto va = to_vector(a), vb = to_vector(b);
  double s = 0;
  for (std::size_t i = 0; i < va.size(); ++i) s += va[i] * vb[i];
  return s;
}

// ||a - b|| / max(||a||, ||b||, tiny): the relative error of a whole gradient.
inline double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return std::sqrt(diff) / std::max({std::sqrt(na), std::sqrt(nb), 1e-300});
}

inline Vector<double> flat(const Matrix<double>& m) { return Vector<double>(m.data(), m.size()); }

// Central differences of `loss` with respect to every entry of the flat view `v`.
inline std::vector<double> numeric_gradient(const Vector<double>& v,
                                            const std::function<double()>& loss,
                                            double eps = kFdStep) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  std::vector<double> g(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) {
    const double saved = h(i);
    h(i) = saved + eps;
    Kokkos::deep_copy(v, h);
    const double plus = loss();
    h(i) = saved - eps;
    Kokkos::deep_copy(v, h);
    const double minus = loss();
    h(i) = saved;
    g[i] = (plus - minus) / (2 * eps);
  }
  Kokkos::deep_copy(v, h);
  return g;
}

inline std::vector<double> parameter_gradient(const Network<double>& net) {
  return to_vector(Matrix<double>(net.parameters().gradients().data(), 1, net.parameters().size()));
}

// dx and every parameter gradient of net for L = Σ dy ∘ f(x), x and dy random.
inline void check_module(Network<double>& net, std::size_t batch, double input_scale = 1.0) {
  const std::size_t in = net.module().in_features(), out = net.module().out_features();
  Matrix<double> x = random_matrix(batch, in, 1, input_scale);
  const Matrix<double> dy = random_matrix(batch, out, 2);
  auto loss = [&] { return dot(net.forward(x).y, dy); };

  net.parameters().zero_gradients();
  nn::Context<double>& forward = net.forward(x);
  const std::vector<double> dx = to_vector(net.backward(forward, dy));
  const std::vector<double> dtheta = parameter_gradient(net);
  // The other gradient modes of the same backward: none leaves the gradients alone, overwrite
  // writes what accumulate added to zeros, and the input gradient is the same in every mode.
  net.backward(forward, dy, nn::Gradient<double>::none());
  EXPECT_EQ(parameter_gradient(net), dtheta) << "gradient mode none";
  const std::vector<double> dx_overwrite =
      to_vector(net.backward(forward, dy, nn::Gradient<double>::overwrite()));
  EXPECT_EQ(parameter_gradient(net), dtheta) << "gradient mode overwrite";
  EXPECT_EQ(dx_overwrite, dx) << "input gradient under overwrite";

  EXPECT_LT(relative_error(dx, numeric_gradient(flat(x), loss)), kGradientTolerance)
      << "input gradient";
  if (net.parameters().size() > 0) {
    EXPECT_LT(relative_error(dtheta, numeric_gradient(net.parameters().values(), loss)),
              kGradientTolerance)
        << "parameter gradient";
  }
}

// A rollout: the network applied `steps` times with its own weights, each step's input the last
// step's output (in = out), every step's context from one workspace, then the backward through
// all of them. dx and every parameter gradient of L = Σ dy ∘ f^steps(x) against central
// differences; a second rollout reuses the same contexts (made once, not per step).
inline void check_rollout(Network<double>& net, std::size_t batch, int steps) {
  nn::Module<double>& f = net.module();
  ASSERT_EQ(f.in_features(), f.out_features()) << "a rollout feeds outputs back as inputs";
  Matrix<double> x = random_matrix(batch, f.in_features(), 1);
  const Matrix<double> dy = random_matrix(batch, f.out_features(), 2);
  nn::Workspace<double> workspace;
  std::vector<nn::Context<double>*> contexts(steps);
  auto rollout = [&] {
    workspace.reset();
    Matrix<double> h = x;
    for (int t = 0; t < steps; ++t) {
      contexts[t] = &f.forward(h, nn::Pass::values(), workspace);
      h = contexts[t]->y;
    }
    return h;
  };
  auto loss = [&] { return dot(rollout(), dy); };

  net.parameters().zero_gradients();
  rollout();
  const std::vector<nn::Context<double>*> first = contexts;
  Matrix<double> g = dy;
  for (int t = steps; t-- > 0;) g = f.backward(*contexts[t], g);
  const std::vector<double> dx = to_vector(g), dtheta = parameter_gradient(net);

  EXPECT_LT(relative_error(dx, numeric_gradient(flat(x), loss)), kGradientTolerance)
      << "input gradient through the rollout";
  EXPECT_LT(relative_error(dtheta, numeric_gradient(net.parameters().values(), loss)),
            kGradientTolerance)
      << "parameter gradient through the rollout";
  rollout();
  EXPECT_EQ(contexts, first) << "every rollout reuses the workspace's contexts";
  for (int t = 1; t < steps; ++t) EXPECT_NE(contexts[t], contexts[t - 1]) << "one per step";
}

inline void check_module(std::unique_ptr<nn::Module<double>> root, std::size_t batch,
                         double input_scale = 1.0) {
  Network<double> net(std::move(root), 11);
  check_module(net, batch, input_scale);
}

// u at every point, with coordinate k of every point shifted by delta.
inline std::vector<double> shifted_values(Network<double>& net, const Matrix<double>& x,
                                          std::size_t k, double delta) {
  Matrix<double> moved("moved", x.extent(0), x.extent(1));
  auto h = Kokkos::create_mirror_view(moved);
  Kokkos::deep_copy(h, x);
  for (std::size_t i = 0; i < h.extent(0); ++i) h(i, k) += delta;
  Kokkos::deep_copy(moved, h);
  return to_vector(net.forward(moved).y);
}

// The channels of a derivative pass at n random points against forward() and central differences
// of it, Richardson-extrapolated from the steps h and h/2 (error O(h⁴)), h = 1e-3·length with
// `length` the length over which the network varies.
inline void check_input_derivatives(Network<double>& net, std::size_t dims, std::size_t n,
                                    std::uint64_t seed, const std::string& label,
                                    double length = 1.0) {
  const Matrix<double> x = random_points(n, dims, seed);
  Matrix<double> stacked;
  nn::taylor_input(x, stacked);
  const std::vector<double> channels =
      to_vector(net.forward(stacked, nn::Pass::derivatives(dims)).y);
  const std::vector<double> u = to_vector(net.forward(x).y);
  const double h = 1e-3 * length;
  for (std::size_t i = 0; i < n; ++i)
    EXPECT_NEAR(channels[i], u[i], 1e-13 * std::max(1.0, std::abs(u[i]))) << label << " u";
  for (std::size_t k = 0; k < dims; ++k) {
    const auto plus = shifted_values(net, x, k, h), minus = shifted_values(net, x, k, -h);
    const auto plus_half = shifted_values(net, x, k, h / 2),
               minus_half = shifted_values(net, x, k, -h / 2);
    for (std::size_t i = 0; i < n; ++i) {
      const auto extrapolated = [](double coarse, double fine) { return (4 * fine - coarse) / 3; };
      const double first =
          extrapolated((plus[i] - minus[i]) / (2 * h), (plus_half[i] - minus_half[i]) / h);
      const double second = extrapolated((plus[i] - 2 * u[i] + minus[i]) / (h * h),
                                         (plus_half[i] - 2 * u[i] + minus_half[i]) / (h * h / 4));
      // Relative errors, with a floor of the magnitude expected of a unit-size u.
      const double first_scale = std::max(1.0 / length, std::abs(first));
      const double second_scale = std::max(1.0 / (length * length), std::abs(second));
      EXPECT_NEAR(channels[(1 + k) * n + i], first, 1e-8 * first_scale)
          << label << " du/dx" << k << " at point " << i;
      EXPECT_NEAR(channels[(1 + dims + k) * n + i], second, 1e-6 * second_scale)
          << label << " d2u/dx" << k << "2 at point " << i;
    }
  }
}

// L = Σ_i ½ r_i², r = a·u + Σ_k b_k u_k + Σ_k c_k u_kk - f (every channel enters; c_k = -1,
// a = b = 0 is a Poisson residual): the parameter gradient of a derivative pass's backward against
// central differences over the parameters.
inline void check_residual_loss_gradient(Network<double>& net, std::size_t dims, std::size_t n,
                                         std::uint64_t seed, const std::string& label) {
  const std::size_t channels = 1 + 2 * dims;
  const Matrix<double> x = random_points(n, dims, seed);
  Matrix<double> stacked;
  nn::taylor_input(x, stacked);
  std::vector<double> a(n), f(n), b(n * dims), c(n * dims);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = standard_normal(11, i), f[i] = standard_normal(12, i);
    for (std::size_t k = 0; k < dims; ++k)
      b[i * dims + k] = standard_normal(13, i * dims + k),
                   c[i * dims + k] = standard_normal(14, i * dims + k);
  }
  auto residuals = [&](const std::vector<double>& y) {
    std::vector<double> r(n);
    for (std::size_t i = 0; i < n; ++i) {
      r[i] = a[i] * y[i] - f[i];
      for (std::size_t k = 0; k < dims; ++k)
        r[i] += b[i * dims + k] * y[(1 + k) * n + i] + c[i * dims + k] * y[(1 + dims + k) * n + i];
    }
    return r;
  };
  auto loss = [&] {
    double sum = 0;
    for (double ri : residuals(to_vector(net.forward(stacked, nn::Pass::derivatives(dims)).y)))
      sum += 0.5 * ri * ri;
    return sum;
  };
  net.parameters().zero_gradients();
  nn::Context<double>& forward = net.forward(stacked, nn::Pass::derivatives(dims));
  const auto r = residuals(to_vector(forward.y));
  Matrix<double> dy("dy", channels * n, 1);
  auto hdy = Kokkos::create_mirror_view(dy);
  for (std::size_t i = 0; i < n; ++i) {
    hdy(i, 0) = r[i] * a[i];
    for (std::size_t k = 0; k < dims; ++k) {
      hdy((1 + k) * n + i, 0) = r[i] * b[i * dims + k];
      hdy((1 + dims + k) * n + i, 0) = r[i] * c[i * dims + k];
    }
  }
  Kokkos::deep_copy(dy, hdy);
  net.backward(forward, dy);
  const std::vector<double> analytic = parameter_gradient(net);
  EXPECT_LT(relative_error(analytic, numeric_gradient(net.parameters().values(), loss)),
            kGradientTolerance)
      << label;
}

}  // namespace karman::testing
