// fastmath (vectorisable exp, tanh, log1p, float erf) against its reference twins, the std::
// functions evaluated in long double: dense sweeps in float and double with the largest error in
// ulp (and relative error) asserted, special points (zeros, tiny and huge arguments, overflow,
// underflow, ±inf, NaN), and the activations built on them against the same formulas written with
// std::. The sweeps evaluate fastmath inside `omp simd` loops, the way the layer kernels call it,
// so the vectorised code is what is checked.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "karman/nn/activation.hpp"
#include "karman/nn/fastmath.hpp"

using namespace karman::nn;

namespace {

// Spacing of T at the correctly rounded reference (denorm_min in the subnormal range, the spacing
// at max() when the reference overflows T).
template <class T>
double ulp_at(long double reference) {
  const long double a = std::fabs(reference);
  if (a < static_cast<long double>(std::numeric_limits<T>::min()))
    return std::numeric_limits<T>::denorm_min();
  const T clamped = a > static_cast<long double>(std::numeric_limits<T>::max())
                        ? std::numeric_limits<T>::max()
                        : static_cast<T>(a);
  int exponent = 0;
  std::frexp(clamped, &exponent);
  return std::ldexp(1.0, exponent - std::numeric_limits<T>::digits);
}

struct Worst {
  double ulp = 0, relative = 0, at_ulp = 0;
  std::size_t points = 0;
};

// Largest error of got against reference over the points, in ulp and relative (for normal
// results). Infinities must match exactly; a NaN reference needs a NaN.
template <class T>
Worst compare(const std::vector<T>& x, const std::vector<T>& got,
              long double (*reference)(long double)) {
  Worst w;
  w.points = x.size();
  for (std::size_t i = 0; i < x.size(); ++i) {
    const long double ref = reference(static_cast<long double>(x[i]));
    const T rounded = static_cast<T>(ref);
    double ulp = 0, rel = 0;
    if (std::isnan(ref) || std::isnan(got[i])) {
      ulp = std::isnan(ref) && std::isnan(got[i]) ? 0 : 1e30;
    } else if (std::isinf(rounded) || std::isinf(got[i])) {
      ulp = rounded == got[i] ? 0 : 1e30;
    } else {
      const long double diff = std::fabs(static_cast<long double>(got[i]) - ref);
      ulp = static_cast<double>(diff / ulp_at<T>(ref));
      if (std::fabs(ref) >= static_cast<long double>(std::numeric_limits<T>::min()))
        rel = static_cast<double>(diff / std::fabs(ref));
    }
    if (ulp > w.ulp) {
      w.ulp = ulp;
      w.at_ulp = static_cast<double>(x[i]);
    }
    w.relative = std::max(w.relative, rel);
  }
  return w;
}

// n points evenly over [lo, hi], or over [10^lo, 10^hi] (both signs) if logarithmic.
template <class T>
std::vector<T> sweep(double lo, double hi, std::size_t n, bool logarithmic = false) {
  std::vector<T> x;
  x.reserve(logarithmic ? 2 * n : n);
  for (std::size_t i = 0; i < n; ++i) {
    const double t = lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n - 1);
    if (!logarithmic) {
      x.push_back(static_cast<T>(t));
    } else {
      x.push_back(static_cast<T>(std::pow(10.0, t)));
      x.push_back(static_cast<T>(-std::pow(10.0, t)));
    }
  }
  return x;
}

enum class Fn { exp, tanh, log1p, erf };

long double reference_exp(long double x) { return std::exp(x); }
long double reference_tanh(long double x) { return std::tanh(x); }
long double reference_log1p(long double x) { return std::log1p(x); }
long double reference_erf(long double x) { return std::erf(x); }

template <class T>
std::vector<T> evaluate(Fn f, const std::vector<T>& x) {
  std::vector<T> y(x.size());
  const T* KOKKOS_RESTRICT in = x.data();
  T* KOKKOS_RESTRICT out = y.data();
  const std::size_t n = x.size();
  switch (f) {
    case Fn::exp:
#pragma omp simd
      for (std::size_t i = 0; i < n; ++i) out[i] = fastmath::exp(in[i]);
      break;
    case Fn::tanh:
#pragma omp simd
      for (std::size_t i = 0; i < n; ++i) out[i] = fastmath::tanh(in[i]);
      break;
    case Fn::log1p:
#pragma omp simd
      for (std::size_t i = 0; i < n; ++i) out[i] = fastmath::log1p(in[i]);
      break;
    case Fn::erf:
#pragma omp simd
      for (std::size_t i = 0; i < n; ++i) out[i] = fastmath::erf(in[i]);
      break;
  }
  return y;
}

template <class T>
Worst check(Fn f, const std::vector<T>& x) {
  long double (*reference)(long double) = f == Fn::exp     ? reference_exp
                                          : f == Fn::tanh  ? reference_tanh
                                          : f == Fn::log1p ? reference_log1p
                                                           : reference_erf;
  return compare(x, evaluate(f, x), reference);
}

template <class T>
const char* type_name() {
  return sizeof(T) == 4 ? "float" : "double";
}

// Asserts the bounds and prints the measured errors (they are quoted in the README).
template <class T>
void expect_within(const char* what, Fn f, const std::vector<T>& x, double max_ulp,
                   double max_relative) {
  const Worst w = check(f, x);
  std::printf("  %-34s %-6s %9zu points: max %.3f ulp (at %.17g), max relative %.3g\n", what,
              type_name<T>(), w.points, w.ulp, w.at_ulp, w.relative);
  EXPECT_LE(w.ulp, max_ulp) << what << " " << type_name<T>() << " at x = " << w.at_ulp;
  EXPECT_LE(w.relative, max_relative) << what << " " << type_name<T>();
}

constexpr std::size_t kDense = 2000001;  // step 5e-5 over [-50, 50]

}  // namespace

TEST(FastMath, ExpDouble) {
  expect_within<double>("exp [-50, 50]", Fn::exp, sweep<double>(-50, 50, kDense), 1.5, 2.5e-16);
  // Overflow (e^709.78 = max), and the subnormal range below e^-708.4 (absolute ulp there).
  expect_within<double>("exp [-750, 712]", Fn::exp, sweep<double>(-750, 712, kDense), 1.5, 2.5e-16);
  expect_within<double>("exp [-746, -707] (subnormal)", Fn::exp, sweep<double>(-746, -707, 400001),
                        1.5, 2.5e-16);
  expect_within<double>("exp ±[1e-300, 1]", Fn::exp, sweep<double>(-300, 0, 200001, true), 1.5,
                        2.5e-16);
}

TEST(FastMath, ExpFloat) {
  expect_within<float>("exp [-50, 50]", Fn::exp, sweep<float>(-50, 50, kDense), 1.5, 1.3e-7);
  expect_within<float>("exp [-110, 90]", Fn::exp, sweep<float>(-110, 90, kDense), 1.5, 1.3e-7);
  expect_within<float>("exp ±[1e-44, 1]", Fn::exp, sweep<float>(-44, 0, 200001, true), 1.5, 1.3e-7);
}

TEST(FastMath, TanhDouble) {
  expect_within<double>("tanh [-50, 50]", Fn::tanh, sweep<double>(-50, 50, kDense), 2.0, 4e-16);
  // Around the switch from the rational to the exponential form at 0.625.
  expect_within<double>("tanh [-2, 2]", Fn::tanh, sweep<double>(-2, 2, kDense), 2.0, 4e-16);
  // tanh(x) ~ x: full relative accuracy down to the subnormals.
  expect_within<double>("tanh ±[1e-320, 10]", Fn::tanh, sweep<double>(-320, 1, 400001, true), 2.0,
                        4e-16);
}

TEST(FastMath, TanhFloat) {
  expect_within<float>("tanh [-50, 50]", Fn::tanh, sweep<float>(-50, 50, kDense), 2.0, 2.4e-7);
  expect_within<float>("tanh [-2, 2]", Fn::tanh, sweep<float>(-2, 2, kDense), 2.0, 2.4e-7);
  expect_within<float>("tanh ±[1e-45, 10]", Fn::tanh, sweep<float>(-45, 1, 400001, true), 2.0,
                       2.4e-7);
}

TEST(FastMath, Log1p) {
  expect_within<double>("log1p [-1, 50]", Fn::log1p, sweep<double>(-1, 50, kDense), 1.5, 2.5e-16);
  expect_within<double>("log1p ±[1e-320, 1e300]", Fn::log1p, sweep<double>(-320, 300, 400001, true),
                        1.5, 2.5e-16);
  expect_within<float>("log1p [-1, 50]", Fn::log1p, sweep<float>(-1, 50, kDense), 1.5, 1.3e-7);
  expect_within<float>("log1p ±[1e-45, 1e38]", Fn::log1p, sweep<float>(-45, 38, 400001, true), 1.5,
                       1.3e-7);
}

TEST(FastMath, ErfFloat) {
  expect_within<float>("erf [-10, 10]", Fn::erf, sweep<float>(-10, 10, kDense), 2.0, 2.4e-7);
  // Around the switch from the polynomial to the exponential form at 0.875, and at 4.
  expect_within<float>("erf [0.8, 0.95]", Fn::erf, sweep<float>(0.8, 0.95, 400001), 2.0, 2.4e-7);
  expect_within<float>("erf [3.9, 4.1]", Fn::erf, sweep<float>(3.9, 4.1, 400001), 2.0, 2.4e-7);
  expect_within<float>("erf ±[1e-45, 1e3]", Fn::erf, sweep<float>(-45, 3, 400001, true), 2.0,
                       2.4e-7);
  constexpr float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(fastmath::erf(inf), 1.0f);
  EXPECT_EQ(fastmath::erf(-inf), -1.0f);
  EXPECT_TRUE(std::signbit(fastmath::erf(-0.0f)));
  EXPECT_TRUE(std::isnan(fastmath::erf(std::numeric_limits<float>::quiet_NaN())));
}

TEST(FastMath, SpecialPointsDouble) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> points = {0.0,  -0.0,  1e-300, -1e-300, 1e-8, -1e-8, 0.5,     -0.5,
                                      20.0, -20.0, 710.0,  -710.0,  inf,  -inf,  4.9e-324};
  for (Fn f : {Fn::exp, Fn::tanh}) {
    const Worst w = check(f, points);
    EXPECT_LE(w.ulp, 2.0) << "at x = " << w.at_ulp;
  }
  // Exact values.
  EXPECT_EQ(fastmath::exp(0.0), 1.0);
  EXPECT_EQ(fastmath::exp(710.0), inf);
  EXPECT_EQ(fastmath::exp(inf), inf);
  EXPECT_EQ(fastmath::exp(-746.0), 0.0);
  EXPECT_EQ(fastmath::exp(-inf), 0.0);
  EXPECT_GT(fastmath::exp(-710.0), 0.0);  // subnormal, not flushed
  EXPECT_TRUE(std::isnan(fastmath::exp(nan)));
  EXPECT_EQ(fastmath::tanh(1e-300), 1e-300);
  EXPECT_EQ(fastmath::tanh(-1e-300), -1e-300);
  EXPECT_EQ(fastmath::tanh(4.9e-324), 4.9e-324);
  EXPECT_EQ(fastmath::tanh(1e-8), std::tanh(1e-8));
  EXPECT_TRUE(std::signbit(fastmath::tanh(-0.0)));
  EXPECT_FALSE(std::signbit(fastmath::tanh(0.0)));
  for (double big : {20.0, 710.0, 1e300, inf}) {
    EXPECT_EQ(fastmath::tanh(big), 1.0);
    EXPECT_EQ(fastmath::tanh(-big), -1.0);
  }
  EXPECT_TRUE(std::isnan(fastmath::tanh(nan)));
  EXPECT_EQ(fastmath::log1p(1e-300), 1e-300);
  EXPECT_TRUE(std::signbit(fastmath::log1p(-0.0)));
  EXPECT_EQ(fastmath::log1p(-1.0), -inf);
  EXPECT_EQ(fastmath::log1p(inf), inf);
  EXPECT_TRUE(std::isnan(fastmath::log1p(-2.0)));
  EXPECT_TRUE(std::isnan(fastmath::log1p(-inf)));
  EXPECT_TRUE(std::isnan(fastmath::log1p(nan)));
}

TEST(FastMath, SpecialPointsFloat) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> points = {0.0f,  -0.0f,  1e-38f, -1e-38f, 1e-8f, -1e-8f, 0.5f,  -0.5f,
                                     20.0f, -20.0f, 89.0f,  -104.0f, inf,   -inf,   1e-45f};
  for (Fn f : {Fn::exp, Fn::tanh}) {
    const Worst w = check(f, points);
    EXPECT_LE(w.ulp, 2.0) << "at x = " << w.at_ulp;
  }
  EXPECT_EQ(fastmath::exp(0.0f), 1.0f);
  EXPECT_EQ(fastmath::exp(89.0f), inf);
  EXPECT_EQ(fastmath::exp(-inf), 0.0f);
  EXPECT_GT(fastmath::exp(-100.0f), 0.0f);  // subnormal, not flushed
  EXPECT_TRUE(std::isnan(fastmath::exp(nan)));
  EXPECT_EQ(fastmath::tanh(1e-30f), 1e-30f);
  EXPECT_EQ(fastmath::tanh(-1e-45f), -1e-45f);
  EXPECT_TRUE(std::signbit(fastmath::tanh(-0.0f)));
  for (float big : {20.0f, 1e30f, inf}) {
    EXPECT_EQ(fastmath::tanh(big), 1.0f);
    EXPECT_EQ(fastmath::tanh(-big), -1.0f);
  }
  EXPECT_TRUE(std::isnan(fastmath::tanh(nan)));
  EXPECT_EQ(fastmath::log1p(-1.0f), -inf);
  EXPECT_EQ(fastmath::log1p(inf), inf);
  EXPECT_TRUE(std::isnan(fastmath::log1p(-2.0f)));
  EXPECT_TRUE(std::isnan(fastmath::log1p(nan)));
}

namespace {

// The activations written with std:: (the code before fastmath): the reference twins.
template <class T>
T reference_activate(Activation a, T x) {
  switch (a) {
    case Activation::tanh:
      return std::tanh(x);
    case Activation::silu:
      return x / (T(1) + std::exp(-x));
    case Activation::softplus:
      return (x > T(0) ? x : T(0)) + std::log1p(std::exp(-std::abs(x)));
    case Activation::gelu:
      return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
    default:
      return activate(a, x);
  }
}

template <class T>
T reference_derivative(Activation a, T x) {
  switch (a) {
    case Activation::tanh: {
      const T t = std::tanh(x);
      return T(1) - t * t;
    }
    case Activation::silu: {
      const T s = T(1) / (T(1) + std::exp(-x));
      return s * (T(1) + x * (T(1) - s));
    }
    case Activation::softplus:
      return T(1) / (T(1) + std::exp(-x));
    case Activation::gelu: {
      const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
      const T pdf = T(0.39894228040143267794) * std::exp(T(-0.5) * x * x);
      return cdf + x * pdf;
    }
    default:
      return activate_derivative(a, x);
  }
}

// σ and σ' against the std:: formulas over [-40, 40]: σ within `ulps` relative (GELU: relative
// to max(|σ|, |x|)), σ' (O(1), with zeros) within `ulps`·max(1, |x|) absolute (SiLU's x·(1 - s)
// scales a 1-ulp difference of e^-x by |x|).
template <class T>
void check_activations(double ulps) {
  const double eps = std::numeric_limits<T>::epsilon();
  const auto x = sweep<T>(-40, 40, 160001);
  for (const auto& name : activation_names()) {
    const Activation a = activation_from_name(name);
    double worst_value = 0, worst_derivative = 0;
    for (const T xi : x) {
      const double ref = static_cast<double>(reference_activate(a, xi));
      const double got = static_cast<double>(activate(a, xi));
      // GELU's 1 + erf(x/√2) cancels for x < 0 in both forms: compare there against the size of
      // the terms, |x|, rather than the (tiny) value.
      const double size = a == Activation::gelu
                              ? std::max(std::abs(ref), std::abs(static_cast<double>(xi)))
                              : std::abs(ref);
      if (ref != got) worst_value = std::max(worst_value, std::abs(got - ref) / size);
      const double dref = static_cast<double>(reference_derivative(a, xi));
      const double dgot = static_cast<double>(activate_derivative(a, xi));
      const double scale = std::max(1.0, std::abs(static_cast<double>(xi)));
      worst_derivative = std::max(worst_derivative, std::abs(dgot - dref) / scale);
      // The cached-output form used by Linear's backward agrees with the plain one.
      const double dcached = static_cast<double>(activate_derivative(a, xi, activate(a, xi)));
      worst_derivative = std::max(worst_derivative, std::abs(dcached - dref) / scale);
    }
    std::printf("  %-9s %-6s value max relative %.3g, derivative max |error|/max(1, |x|) %.3g\n",
                name.c_str(), type_name<T>(), worst_value, worst_derivative);
    EXPECT_LE(worst_value, ulps * eps) << name;
    EXPECT_LE(worst_derivative, ulps * eps) << name;
  }
}

}  // namespace

TEST(FastMath, ActivationsMatchTheStdFormulasDouble) { check_activations<double>(4); }

TEST(FastMath, ActivationsMatchTheStdFormulasFloat) { check_activations<float>(4); }
