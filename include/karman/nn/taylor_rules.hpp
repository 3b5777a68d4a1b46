#pragma once
// Per-entry rules of derivative propagation on the channel-stacked layout of Module::
// forward_taylor: one neuron of one point carries (a, a_k, a_kk) for k < dims, the value, first
// and pure second derivatives. Inline, for use inside any Kokkos kernel.

#include <Kokkos_Core.hpp>

namespace karman::nn::taylor {

// y = f(p) with f's jet (s1, s2) = (f'(p), f''(p)):  y_k = s1 p_k,  y_kk = s2 p_k² + s1 p_kk.
template <class T>
KOKKOS_INLINE_FUNCTION void chain(T s1, T s2, T pk, T pkk, T& yk, T& ykk) {
  yk = s1 * pk;
  ykk = s2 * pk * pk + s1 * pkk;
}

// The adjoint of `chain` for one direction k, given the gradients (gk, gkk) of y_k and y_kk and
// s3 = f'''(p): adds to the value's gradient p̄ and returns p̄_k, p̄_kk. (The value's own term
// g·s1 is the caller's.)
template <class T>
KOKKOS_INLINE_FUNCTION void chain_adjoint(T s1, T s2, T s3, T pk, T pkk, T gk, T gkk, T& p_bar,
                                          T& pk_bar, T& pkk_bar) {
  p_bar += gk * s2 * pk + gkk * (s3 * pk * pk + s2 * pkk);
  pk_bar = gk * s1 + T(2) * gkk * s2 * pk;
  pkk_bar = gkk * s1;
}

// y = a·b (entrywise) for one direction k:  y_k = a_k b + a b_k,  y_kk = a_kk b + 2 a_k b_k + a
// b_kk.
template <class T>
KOKKOS_INLINE_FUNCTION void product(T a, T ak, T akk, T b, T bk, T bkk, T& yk, T& ykk) {
  yk = ak * b + a * bk;
  ykk = akk * b + T(2) * ak * bk + a * bkk;
}

// The adjoint of `product` for direction k, given (gk, gkk): adds to the values' gradients ā, b̄
// and returns the derivative channels' gradients. (The value's own terms g·b, g·a are the
// caller's.)
template <class T>
KOKKOS_INLINE_FUNCTION void product_adjoint(T a, T ak, T akk, T b, T bk, T bkk, T gk, T gkk,
                                            T& a_bar, T& ak_bar, T& akk_bar, T& b_bar, T& bk_bar,
                                            T& bkk_bar) {
  a_bar += gk * bk + gkk * bkk;
  ak_bar = gk * b + T(2) * gkk * bk;
  akk_bar = gkk * b;
  b_bar += gk * ak + gkk * akk;
  bk_bar = gk * a + T(2) * gkk * ak;
  bkk_bar = gkk * a;
}

}  // namespace karman::nn::taylor
