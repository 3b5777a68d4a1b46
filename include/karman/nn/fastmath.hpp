#pragma once
// Vectorisable elementary functions for the element-wise kernels of the NN core: exp, tanh and
// log1p in float and double, erf in float (erf(double) forwards to std::erf). glibc's functions
// are calls the compiler cannot vectorise (its SIMD variants are declared only under
// -ffast-math, which Karman does not use), so a `#pragma omp simd` loop over an activation ran
// one element at a time. These are plain arithmetic on the value and its bits, without calls,
// tables or branches (selects only), so a loop calling them vectorises (AVX-512: 8 doubles or 16
// floats per instruction), and they run unchanged inside any Kokkos kernel. They are forced
// inline: a call left in a loop would stop its vectorisation.
//
// Accuracy, measured by tests/unit/test_nn_fastmath.cpp against glibc in long double over dense
// sweeps (max error): exp 0.89 ulp (double) / 0.92 ulp (float), tanh 1.35 / 1.37 ulp, log1p
// 0.74 / 0.75 ulp, erf (float) 1.03 ulp; tanh(x) ~ x and log1p(x) ~ x keep full relative
// accuracy down to the subnormals; overflow gives inf, underflow goes through the subnormals,
// tanh saturates to exactly ±1, NaN propagates. The std:: functions are the reference twins.
//
// Methods:
//   exp:   x = k·ln2 + r, |r| ≤ ln2/2, with k = round(x·log2 e) by the 1.5·2^p shifter trick and r
//          by Cody–Waite (ln2 split in two, the high part with trailing zeros so k·ln2_hi is
//          exact); e^r by its Taylor polynomial (degree 13 in double, 7 in float: truncation
//          below 0.05 ulp); e^x = e^r·2^k1·2^k2 with k1 + k2 = k, both factors built from
//          exponent bits, so overflow gives inf and subnormal results are rounded once. x is
//          clamped first so k stays in range.
//   tanh:  |x| < 0.625: x + x³·R(x²) with Cephes' minimax R (rational P2/Q3 in double,
//          polynomial of degree 4 in float), which keeps relative accuracy down to the smallest
//          subnormal; otherwise 1 − 2/(e^{2|x|} + 1), which saturates to 1 when e^{2|x|} = inf.
//          Sign restored by copysign. In double both branches share one division.
//   log1p: u = 1 + x reduced to m·2^k with m ∈ [√2/2, √2) through its bits; log(m) by
//          fdlibm/musl's s = f/(2+f) series (f = m − 1) plus the correction c/u for the rounding
//          of 1 + x; log1p(x) = k·ln2 + log(m) + c/u.
//   erf (float): Arm optimized-routines' two minimax pieces, the second through exp.

#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace karman::nn::fastmath {
namespace detail {

template <class T>
struct Bits;
template <>
struct Bits<float> {
  using U = std::uint32_t;
  using I = std::int32_t;
  static constexpr int kMantissa = 23;
  static constexpr I kBias = 127;
};
template <>
struct Bits<double> {
  using U = std::uint64_t;
  using I = std::int64_t;
  static constexpr int kMantissa = 52;
  static constexpr I kBias = 1023;
};

template <class To, class From>
KOKKOS_FORCEINLINE_FUNCTION To bit_cast(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast: sizes differ");
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}

// a·b + c, fused where the target has FMA (one rounding; the algorithms are accurate either way).
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T mul_add(T a, T b, T c) {
#if defined(__FMA__) || defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__) || \
    defined(__aarch64__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// cond ? a : b on the bits. The compiler keeps both operands computed (a plain ?: on doubles may
// be turned back into a branch around a floating-point operation, which -ftrapping-math, the
// default, then keeps from being if-converted: the loop would not vectorise).
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T select(bool cond, T a, T b) {
  using U = typename Bits<T>::U;
  const U mask = static_cast<U>(-static_cast<U>(cond));
  return bit_cast<T>(static_cast<U>((bit_cast<U>(a) & mask) | (bit_cast<U>(b) & ~mask)));
}

// v·2^k for |k| up to twice the exponent range: two exact power-of-two factors, so a result that
// overflows is inf and one in the subnormal range is rounded once.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T scale_by_power_of_two(T v, typename Bits<T>::I k) {
  using B = Bits<T>;
  using U = typename B::U;
  const typename B::I k1 = k / 2, k2 = k - k1;
  const T s1 = bit_cast<T>(static_cast<U>(static_cast<U>(k1 + B::kBias) << B::kMantissa));
  const T s2 = bit_cast<T>(static_cast<U>(static_cast<U>(k2 + B::kBias) << B::kMantissa));
  return v * s1 * s2;
}

// k = round(x·log2 e) as a float (kf) and as an integer (k), by adding 1.5·2^p: the integer lands
// in the low mantissa bits. Valid for |x·log2 e| < 2^(p-2); a NaN x gives a NaN kf.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION void round_log2e(T x, T& kf, typename Bits<T>::I& k) {
  using U = typename Bits<T>::U;
  constexpr T shifter = sizeof(T) == 4 ? T(0x1.8p23) : T(0x1.8p52);
  constexpr T log2e = T(1.44269504088896340736);
  const T t = mul_add(x, log2e, shifter);
  kf = t - shifter;
  k = static_cast<typename Bits<T>::I>(bit_cast<U>(t) - bit_cast<U>(shifter));
}

}  // namespace detail

// e^x in double (error about 1 ulp, see the header comment).
KOKKOS_FORCEINLINE_FUNCTION double exp(double x) {
  // e^710 = inf and e^-746 = 0 already; clamping keeps k in range. NaN passes (comparisons fail).
  x = x > 710.0 ? 710.0 : x;
  x = x < -746.0 ? -746.0 : x;
  double kf;
  std::int64_t k;
  detail::round_log2e(x, kf, k);
  double r = detail::mul_add(-kf, 6.93147180369123816490e-01, x);  // ln2_hi: 0x3fe62e42fee00000
  r = detail::mul_add(-kf, 1.90821492927058770002e-10, r);         // ln2_lo: 0x3dea39ef35793c76
  // Taylor polynomial of e^r to degree 13: truncation < 5e-18 relative for |r| ≤ ln2/2.
  double p = 1.0 / 6227020800.0;
  p = detail::mul_add(p, r, 1.0 / 479001600.0);
  p = detail::mul_add(p, r, 1.0 / 39916800.0);
  p = detail::mul_add(p, r, 1.0 / 3628800.0);
  p = detail::mul_add(p, r, 1.0 / 362880.0);
  p = detail::mul_add(p, r, 1.0 / 40320.0);
  p = detail::mul_add(p, r, 1.0 / 5040.0);
  p = detail::mul_add(p, r, 1.0 / 720.0);
  p = detail::mul_add(p, r, 1.0 / 120.0);
  p = detail::mul_add(p, r, 1.0 / 24.0);
  p = detail::mul_add(p, r, 1.0 / 6.0);
  p = detail::mul_add(p, r, 0.5);
  p = detail::mul_add(p, r, 1.0);
  p = detail::mul_add(p, r, 1.0);
  return detail::scale_by_power_of_two(p, k);
}

// e^x in float (about 1 ulp).
KOKKOS_FORCEINLINE_FUNCTION float exp(float x) {
  x = x > 89.0f ? 89.0f : x;  // e^89 = inf, e^-104 = 0 in float
  x = x < -104.0f ? -104.0f : x;
  float kf;
  std::int32_t k;
  detail::round_log2e(x, kf, k);
  float r = detail::mul_add(-kf, 0.693359375f, x);  // Cephes' ln2 split: 0x3f318000
  r = detail::mul_add(-kf, -2.12194440e-4f, r);
  // Taylor polynomial to degree 7: truncation < 1e-8 relative for |r| ≤ ln2/2.
  float p = 1.0f / 5040.0f;
  p = detail::mul_add(p, r, 1.0f / 720.0f);
  p = detail::mul_add(p, r, 1.0f / 120.0f);
  p = detail::mul_add(p, r, 1.0f / 24.0f);
  p = detail::mul_add(p, r, 1.0f / 6.0f);
  p = detail::mul_add(p, r, 0.5f);
  p = detail::mul_add(p, r, 1.0f);
  p = detail::mul_add(p, r, 1.0f);
  return detail::scale_by_power_of_two(p, k);
}

// tanh(x) in double (below 1.5 ulp).
KOKKOS_FORCEINLINE_FUNCTION double tanh(double x) {
  const double a = std::abs(x);
  const double s = a * a;
  // Cephes tanh.c: tanh(a) = a + a·s·P(s)/Q(s) for a < 0.625.
  const double p =
      detail::mul_add(detail::mul_add(-9.64399179425052238628e-1, s, -9.92877231001918586564e1), s,
                      -1.61468768441708447952e3);
  const double q =
      detail::mul_add(detail::mul_add(s + 1.12811678491632931402e2, s, 2.23548839060100448583e3), s,
                      4.84406305325125486048e3);
  const double e = exp(2.0 * a);  // inf for large a: 2/(inf + 1) = 0, tanh = 1
  const bool small = a < 0.625;
  const double ratio = detail::select(small, p, 2.0) / detail::select(small, q, e + 1.0);
  const double t = detail::select(small, detail::mul_add(a * s, ratio, a), 1.0 - ratio);
  return std::copysign(t, x);
}

// tanh(x) in float (below 1.5 ulp).
KOKKOS_FORCEINLINE_FUNCTION float tanh(float x) {
  const float a = std::abs(x);
  const float s = a * a;
  // Cephes tanhf.c: tanh(a) = a + a·s·P(s) for a < 0.625.
  float p = detail::mul_add(-5.70498872745e-3f, s, 2.06390887954e-2f);
  p = detail::mul_add(p, s, -5.37397155531e-2f);
  p = detail::mul_add(p, s, 1.33314422036e-1f);
  p = detail::mul_add(p, s, -3.33332819422e-1f);
  const float small = detail::mul_add(a * s, p, a);
  const float large = 1.0f - 2.0f / (exp(2.0f * a) + 1.0f);
  return std::copysign(detail::select(a < 0.625f, small, large), x);
}

namespace detail {

// log1p for float and double (musl's log1p/log1pf, made branch-free).
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T log1p(T x) {
  using B = Bits<T>;
  using U = typename B::U;
  constexpr bool single = sizeof(T) == 4;
  // Bits of √2/2 (of its high word in double) and the mantissa mask.
  constexpr U sqrt_half = single ? U(0x3f3504f3) : U(0x3fe6a09e00000000ULL);
  constexpr U one = static_cast<U>(static_cast<U>(B::kBias) << B::kMantissa);
  constexpr U mantissa = static_cast<U>((U(1) << B::kMantissa) - 1);
  constexpr typename B::I last = single ? 25 : 54;  // beyond 2^last, c/u is negligible
  constexpr T ln2_hi = single ? T(6.9313812256e-01) : T(6.93147180369123816490e-01);
  constexpr T ln2_lo = single ? T(9.0580006145e-06) : T(1.90821492927058770002e-10);

  const T u = T(1) + x;
  // u = m·2^k with m ∈ [√2/2, √2): shift the exponent so the cut falls at √2.
  U iu = static_cast<U>(bit_cast<U>(u) + (one - sqrt_half));
  const typename B::I k = static_cast<typename B::I>(iu >> B::kMantissa) - B::kBias;
  // c/u ≈ log(1+x) − log(u): the rounding error of u = 1 + x (exact differences).
  const T c_big = T(1) - (u - x), c_small = x - (u - T(1));
  const T c = select(k < last, select(k >= 2, c_big, c_small) / u, T(0));
  iu = static_cast<U>((iu & mantissa) + sqrt_half);
  const T f = bit_cast<T>(iu) - T(1);
  const T hfsq = T(0.5) * f * f;
  const T s = f / (T(2) + f);
  const T z = s * s, w = z * z;
  T t1, t2;
  if constexpr (single) {
    t1 = w * mul_add(w, 0.24279078841f, 0.40000972152f);
    t2 = z * mul_add(w, 0.28498786688f, 0.66666662693f);
  } else {
    t1 = w * mul_add(w, mul_add(w, 1.531383769920937332e-01, 2.222219843214978396e-01),
                     3.999999999940941908e-01);
    t2 = z * mul_add(w,
                     mul_add(w, mul_add(w, 1.479819860511658591e-01, 1.818357216161805012e-01),
                             2.857142874366239149e-01),
                     6.666666666666735130e-01);
  }
  const T dk = static_cast<T>(k);
  T r = s * (hfsq + (t2 + t1)) + (dk * ln2_lo + c) - hfsq + f + dk * ln2_hi;
  constexpr T inf = std::numeric_limits<T>::infinity();
  r = select((x == T(0)) | (x == inf), x, r);  // ±0 keeps its sign; +inf
  r = select(x == T(-1), -inf, r);
  r = select(x < T(-1), std::numeric_limits<T>::quiet_NaN(), r);
  return select(x != x, x, r);  // NaN
}

}  // namespace detail

// log(1 + x) in double and float (below 1 ulp).
KOKKOS_FORCEINLINE_FUNCTION double log1p(double x) { return detail::log1p(x); }
KOKKOS_FORCEINLINE_FUNCTION float log1p(float x) { return detail::log1p(x); }

// erf(x) in float (about 1 ulp). The method and minimax coefficients of Arm's optimized-routines
// erff (MIT): |x| < 0.875: x + x·A(x²); 0.875 ≤ |x| < 4: 1 − e^−(a + a·B(a)), a = |x|;
// beyond: ±1.
KOKKOS_FORCEINLINE_FUNCTION float erf(float x) {
  const float a = std::abs(x);
  const float x2 = x * x;
  float p = detail::mul_add(-0x1.3a1a82p-11f, x2, 0x1.473f48p-08f);
  p = detail::mul_add(p, x2, -0x1.b68bd2p-06f);
  p = detail::mul_add(p, x2, 0x1.ce1a46p-04f);
  p = detail::mul_add(p, x2, -0x1.8126e0p-02f);
  p = detail::mul_add(p, x2, 0x1.06eba6p-03f);
  const float small = detail::mul_add(p, x, x);
  float q = detail::mul_add(0x1.222900p-16f, a, -0x1.91d2ccp-12f);
  q = detail::mul_add(q, a, 0x1.fd1336p-9f);
  q = detail::mul_add(q, a, -0x1.8d6300p-6f);
  q = detail::mul_add(q, a, 0x1.b55cb0p-4f);
  q = detail::mul_add(q, a, 0x1.450aa0p-1f);
  q = detail::mul_add(q, a, 0x1.079d0cp-3f);
  q = detail::mul_add(q, a, a);
  const float large = std::copysign(detail::select(a < 4.0f, 1.0f - exp(-q), 1.0f), x);
  return detail::select(a < 0.875f, small, detail::select(x != x, x, large));
}

// erf(x) in double: std::erf (a call; no vectorisable double erf here yet), so that
// fastmath::erf can be used for both precisions.
KOKKOS_FORCEINLINE_FUNCTION double erf(double x) { return std::erf(x); }

}  // namespace karman::nn::fastmath
