#pragma once
// Pointwise activations σ and their derivatives, as inline functions usable inside any Kokkos
// kernel. Higher derivatives (for PINN residuals) belong here too, next to the first.
// tanh, exp, log1p and float erf come from fastmath.hpp (vectorisable, within 2 ulp of std::),
// so the fused kernels' `omp simd` loops vectorise for tanh, SiLU, softplus and float GELU;
// double erf (GELU) and sin are still std:: calls.

#include <Kokkos_Core.hpp>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "karman/nn/fastmath.hpp"

namespace karman::nn {

enum class Activation { identity, tanh, gelu, silu, sin, relu, softplus };

Activation activation_from_name(const std::string& name);  // InternalError if unknown
const char* to_string(Activation a);
const std::vector<std::string>& activation_names();

template <class T>
KOKKOS_INLINE_FUNCTION T activate(Activation a, T x) {
  using fastmath::erf, fastmath::exp, fastmath::log1p, fastmath::tanh, std::sin, std::abs;
  switch (a) {
    case Activation::identity:
      return x;
    case Activation::tanh:
      return tanh(x);
    // Exact GELU (erf form, as PyTorch's default and the FNO reference).
    case Activation::gelu:
      return T(0.5) * x * (T(1) + erf(x * T(0.70710678118654752440)));
    case Activation::silu:
      return x / (T(1) + exp(-x));
    case Activation::sin:
      return sin(x);
    case Activation::relu:
      return x > T(0) ? x : T(0);
    // log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|).
    case Activation::softplus:
      return (x > T(0) ? x : T(0)) + log1p(exp(-abs(x)));
  }
  return x;
}

template <class T>
KOKKOS_INLINE_FUNCTION T activate_derivative(Activation a, T x) {
  using fastmath::erf, fastmath::exp, fastmath::tanh, std::cos;
  switch (a) {
    case Activation::identity:
      return T(1);
    case Activation::tanh: {
      const T t = tanh(x);
      return T(1) - t * t;
    }
    case Activation::gelu: {
      const T cdf = T(0.5) * (T(1) + erf(x * T(0.70710678118654752440)));
      const T pdf = T(0.39894228040143267794) * exp(T(-0.5) * x * x);
      return cdf + x * pdf;
    }
    case Activation::silu: {
      const T s = T(1) / (T(1) + exp(-x));
      return s * (T(1) + x * (T(1) - s));
    }
    case Activation::sin:
      return cos(x);
    case Activation::relu:
      return x > T(0) ? T(1) : T(0);
    case Activation::softplus:
      return T(1) / (T(1) + exp(-x));
  }
  return T(1);
}

// σ and its first three derivatives at x in one evaluation (PINN derivative propagation).
template <class T>
struct ActivationJet {
  T s0, s1, s2, s3;
};

template <class T>
KOKKOS_INLINE_FUNCTION ActivationJet<T> activate_jet(Activation a, T x) {
  using fastmath::erf, fastmath::exp, fastmath::tanh, std::cos, std::sin;
  switch (a) {
    case Activation::identity:
      return {x, T(1), T(0), T(0)};
    case Activation::tanh: {
      // s1 = 1 - t², s2 = -2 t s1, s3 = -2 s1² + 4 t² s1.
      const T t = tanh(x), s1 = T(1) - t * t;
      return {t, s1, T(-2) * t * s1, T(-2) * s1 * s1 + T(4) * t * t * s1};
    }
    case Activation::gelu: {
      // x Φ(x): s1 = Φ + x φ, s2 = φ (2 - x²), s3 = x φ (x² - 4).
      const T cdf = T(0.5) * (T(1) + erf(x * T(0.70710678118654752440)));
      const T pdf = T(0.39894228040143267794) * exp(T(-0.5) * x * x);
      return {x * cdf, cdf + x * pdf, pdf * (T(2) - x * x), x * pdf * (x * x - T(4))};
    }
    case Activation::silu: {
      // x g(x) with the logistic g, p = g (1 - g): s1 = g (1 + x (1 - g)), s2 = p q with
      // q = 2 + x (1 - 2g), s3 = p ((1 - 2g)(q + 1) - 2 x p).
      const T g = T(1) / (T(1) + exp(-x)), p = g * (T(1) - g), q = T(2) + x * (T(1) - T(2) * g);
      return {x * g, g * (T(1) + x * (T(1) - g)), p * q,
              p * ((T(1) - T(2) * g) * (q + T(1)) - T(2) * x * p)};
    }
    case Activation::sin:
      return {sin(x), cos(x), -sin(x), -cos(x)};
    case Activation::relu:
      return {x > T(0) ? x : T(0), x > T(0) ? T(1) : T(0), T(0), T(0)};
    case Activation::softplus: {
      // s1 = g(x), s2 = g (1 - g), s3 = s2 (1 - 2g).
      const T g = T(1) / (T(1) + exp(-x)), p = g * (T(1) - g);
      return {activate(a, x), g, p, p * (T(1) - T(2) * g)};
    }
  }
  return {x, T(1), T(0), T(0)};
}

// Whether σ'' carries information, so that second derivatives of a network with this hidden
// activation mean something. ReLU's vanish almost everywhere.
inline bool has_second_derivative(Activation a) { return a != Activation::relu; }

// σ'(x) given also y = σ(x), which makes tanh's derivative a multiply: 1 - y².
template <class T>
KOKKOS_INLINE_FUNCTION T activate_derivative(Activation a, T x, T y) {
  return a == Activation::tanh ? T(1) - y * y : activate_derivative(a, x);
}

// Call f(std::integral_constant<Activation, a>{}): kernels instantiated per activation, so the
// switch folds away and the inner loop vectorises (math calls resolve to SIMD variants).
template <class F>
void with_activation(Activation a, F&& f) {
  using A = Activation;
  switch (a) {
    case A::identity:
      return f(std::integral_constant<A, A::identity>{});
    case A::tanh:
      return f(std::integral_constant<A, A::tanh>{});
    case A::gelu:
      return f(std::integral_constant<A, A::gelu>{});
    case A::silu:
      return f(std::integral_constant<A, A::silu>{});
    case A::sin:
      return f(std::integral_constant<A, A::sin>{});
    case A::relu:
      return f(std::integral_constant<A, A::relu>{});
    case A::softplus:
      return f(std::integral_constant<A, A::softplus>{});
  }
}

}  // namespace karman::nn
