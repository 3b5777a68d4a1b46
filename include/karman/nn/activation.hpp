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
