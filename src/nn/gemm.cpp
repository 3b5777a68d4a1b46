#include "karman/nn/gemm.hpp"

#include <cblas.h>
#include <libxsmm.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/core/threads.hpp"

namespace karman::nn {
namespace {

// libxsmm's JIT kernels pay off for small inner dimensions; beyond them BLAS blocks better.
constexpr std::size_t kSmallLimit = 128;
constexpr std::size_t kRowBlock = 64;  // batch rows per JIT kernel call
// Rows of one partial sum of a reduction over the batch (Xᵀ·dZ): a multiple of kRowBlock, fixed
// so that the partial sums, and their fixed-order total, do not depend on the thread count.
constexpr std::size_t kSumRows = 16 * kRowBlock;

constexpr bool kHostMemory = Kokkos::SpaceAccessibility<Kokkos::HostSpace, MemorySpace>::accessible;

// The libxsmm paths run on the host threads (OpenMP Kokkos: one row block or partial sum per
// iteration; Serial Kokkos: a loop).
using HostRange = Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>;

enum class Backend { libxsmm, libxsmm_sum, blas, reference };

// Rows and columns of op(X).
template <class T>
std::size_t rows_of(const Matrix<T>& x, Transpose t) {
  return t == Transpose::no ? x.extent(0) : x.extent(1);
}
template <class T>
std::size_t cols_of(const Matrix<T>& x, Transpose t) {
  return t == Transpose::no ? x.extent(1) : x.extent(0);
}

Backend choose(Transpose ta, Transpose tb, std::size_t m, std::size_t n, std::size_t k) {
  if (!kHostMemory) return Backend::reference;
  // op(B) = Bᵀ is small: it is transposed into a scratch copy, so the product still streams the
  // tall A through libxsmm (the input gradient dZ·Wᵀ of every layer).
  if (ta == Transpose::no && n <= kSmallLimit && k <= kSmallLimit && m >= kRowBlock)
    return Backend::libxsmm;
  // Aᵀ·B with A and B tall-skinny: a sum over the batch rows (the weight gradient Xᵀ·dZ and the
  // bias gradient 1ᵀ·dZ), in partial sums of kSumRows rows.
  if (ta == Transpose::yes && tb == Transpose::no && m <= kSmallLimit && n <= kSmallLimit &&
      k >= kRowBlock)
    return Backend::libxsmm_sum;
  return Backend::blas;
}

// B (small) transposed into a per-thread scratch buffer that is reused across calls.
template <class T>
Matrix<T> transposed_copy(const Matrix<T>& B) {
  thread_local std::vector<T> scratch;
  const std::size_t rows = B.extent(0), cols = B.extent(1);
  if (scratch.size() < rows * cols) scratch.resize(rows * cols);
  Matrix<T> Bt(scratch.data(), cols, rows);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) Bt(j, i) = B(i, j);
  return Bt;
}

template <class T>
void check_shapes(Transpose ta, Transpose tb, const Matrix<T>& A, const Matrix<T>& B,
                  const Matrix<T>& C) {
  const std::size_t m = rows_of(A, ta), k = cols_of(A, ta);
  if (rows_of(B, tb) != k || C.extent(0) != m || C.extent(1) != cols_of(B, tb))
    throw InternalError("gemm: shapes do not match (" + std::to_string(m) + "x" +
                        std::to_string(k) + " times " + std::to_string(rows_of(B, tb)) + "x" +
                        std::to_string(cols_of(B, tb)) + " into " + std::to_string(C.extent(0)) +
                        "x" + std::to_string(C.extent(1)) + ")");
}

CBLAS_TRANSPOSE cblas_of(Transpose t) { return t == Transpose::no ? CblasNoTrans : CblasTrans; }

void blas(Transpose ta, Transpose tb, float alpha, const Matrix<float>& A, const Matrix<float>& B,
          float beta, const Matrix<float>& C) {
  cblas_sgemm(CblasRowMajor, cblas_of(ta), cblas_of(tb), C.extent(0), C.extent(1), rows_of(B, tb),
              alpha, A.data(), A.extent(1), B.data(), B.extent(1), beta, C.data(), C.extent(1));
}

void blas(Transpose ta, Transpose tb, double alpha, const Matrix<double>& A,
          const Matrix<double>& B, double beta, const Matrix<double>& C) {
  cblas_dgemm(CblasRowMajor, cblas_of(ta), cblas_of(tb), C.extent(0), C.extent(1), rows_of(B, tb),
              alpha, A.data(), A.extent(1), B.data(), B.extent(1), beta, C.data(), C.extent(1));
}

// Row-major C[M,N] = A[M,K] B[K,N] is column-major C'(N×M) = B'(N×K) A'(K×M): one libxsmm kernel
// of shape (m = N, n = block, k = K) per block of rows of A and C. Every row of C comes from one
// kernel call whatever the thread count, so the result does not depend on it.
template <class T, class Kernel>
void xsmm_blocks(Kernel full, Kernel tail, const Matrix<T>& A, const Matrix<T>& B,
                 const Matrix<T>& C) {
  const std::size_t M = C.extent(0);
  const std::size_t blocks = (M + kRowBlock - 1) / kRowBlock;
  Kokkos::parallel_for("karman::nn::gemm::xsmm_row_blocks", HostRange(0, blocks),
                       [=](const std::size_t b) {
                         const std::size_t row = b * kRowBlock;
                         const Kernel kernel = row + kRowBlock <= M ? full : tail;
                         kernel(&B(0, 0), &A(row, 0), &C(row, 0));
                       });
}

// libxsmm's JIT dispatch per precision: a kernel C'(m×n) = B'(m×k) A'(k×n) with the given lds.
libxsmm_smmfunction dispatch(float alpha, float beta, libxsmm_blasint m, libxsmm_blasint n,
                             libxsmm_blasint k) {
  return libxsmm_smmdispatch(m, n, k, &m, &k, &m, &alpha, &beta, nullptr, nullptr);
}
libxsmm_dmmfunction dispatch(double alpha, double beta, libxsmm_blasint m, libxsmm_blasint n,
                             libxsmm_blasint k) {
  return libxsmm_dmmdispatch(m, n, k, &m, &k, &m, &alpha, &beta, nullptr, nullptr);
}

template <class T>
void xsmm(T alpha, const Matrix<T>& A, const Matrix<T>& B, T beta, const Matrix<T>& C) {
  const libxsmm_blasint M = C.extent(0), K = A.extent(1), N = C.extent(1);
  const libxsmm_blasint rows = static_cast<libxsmm_blasint>(kRowBlock), tail = M % rows;
  auto full = dispatch(alpha, beta, N, rows, K);
  auto last = tail ? dispatch(alpha, beta, N, tail, K) : full;
  if (!full || !last) return blas(Transpose::no, Transpose::no, alpha, A, B, beta, C);
  xsmm_blocks<T>(full, last, A, B, C);
}

template <class T>
using HostCube =
    Kokkos::View<T***, Kokkos::LayoutRight, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>;

// Scratch of the batch reductions, reused across calls: [chunks, m, n] partial sums and a
// [chunks, m, kRowBlock] packing buffer (one slice per chunk, so the threads never share one).
template <class T>
struct SumScratch {
  std::vector<T> partial, packed;
};

// Xᵀ of one row block of X[rows, m] packed row-major [m, rows]: the kernel's B' operand. In
// libxsmm's column-major terms the block is m×rows (ld m) and the packed copy rows×m (ld rows);
// libxsmm's transpose is several times faster than the plain strided loop here.
template <class T>
void pack_transposed(const Matrix<T>& X, std::size_t row, std::size_t rows, T* packed) {
  const libxsmm_blasint m = X.extent(1), n = rows;
  libxsmm_otrans(packed, &X(row, 0), sizeof(T), m, n, m, n);
}

// C[m,n] = alpha·Xᵀ[m,R]·Y[R,n] + beta·C over R batch rows. Row-major C is column-major
// C'(n×m) = Y'(n×R)·(X')ᵀ: per row block, C'_partial += Y'_block(n×rows)·P(rows×m) with P the
// block of X packed transposed (libxsmm kernel m = n, n = m, k = rows, beta = 1). The rows go in
// fixed chunks of kSumRows, one partial sum each (in parallel over the host threads), and the
// partials are added in chunk order: bitwise the same result for every thread count.
template <class T>
void xsmm_sum(T alpha, const Matrix<T>& X, const Matrix<T>& Y, T beta, const Matrix<T>& C) {
  const std::size_t R = X.extent(0), m = X.extent(1), n = Y.extent(1);
  const std::size_t chunks = (R + kSumRows - 1) / kSumRows, tail = R % kRowBlock;
  const libxsmm_blasint lm = n, ln = m, rows = kRowBlock;
  auto full = dispatch(T(1), T(1), lm, ln, rows);
  auto last = tail ? dispatch(T(1), T(1), lm, ln, static_cast<libxsmm_blasint>(tail)) : full;
  if (!full || !last) return blas(Transpose::yes, Transpose::no, alpha, X, Y, beta, C);
  using Kernel = decltype(full);

  thread_local SumScratch<T> scratch;
  if (scratch.partial.size() < chunks * m * n) scratch.partial.resize(chunks * m * n);
  if (scratch.packed.size() < chunks * m * kRowBlock) scratch.packed.resize(chunks * m * kRowBlock);
  const HostCube<T> partial(scratch.partial.data(), chunks, m, n);
  const HostCube<T> packed(scratch.packed.data(), chunks, m, kRowBlock);
  Kokkos::parallel_for("karman::nn::gemm::xsmm_partial_sums", HostRange(0, chunks),
                       [=](const std::size_t c) {
                         T* sum = &partial(c, 0, 0);
                         std::fill(sum, sum + m * n, T(0));
                         const std::size_t end = std::min(R, (c + 1) * kSumRows);
                         for (std::size_t row = c * kSumRows; row < end; row += kRowBlock) {
                           const std::size_t block = std::min(kRowBlock, end - row);
                           const Kernel kernel = block == kRowBlock ? full : last;
                           pack_transposed(X, row, block, &packed(c, 0, 0));
                           kernel(&Y(row, 0), &packed(c, 0, 0), sum);
                         }
                       });
  Kokkos::parallel_for("karman::nn::gemm::xsmm_add_partials", HostRange(0, m),
                       [=](const std::size_t i) {
                         for (std::size_t j = 0; j < n; ++j) {
                           T total = 0;
                           for (std::size_t c = 0; c < chunks; ++c) total += partial(c, i, j);
                           C(i, j) = alpha * total + (beta == T(0) ? T(0) : beta * C(i, j));
                         }
                       });
}

}  // namespace

const char* gemm_backend(Transpose ta, Transpose tb, std::size_t m, std::size_t n, std::size_t k) {
  switch (choose(ta, tb, m, n, k)) {
    case Backend::libxsmm:
      return "libxsmm";
    case Backend::libxsmm_sum:
      return "libxsmm_sum";
    case Backend::blas:
      return "blas";
    case Backend::reference:
      return "reference";
  }
  return "?";
}

template <class T>
void gemm_reference(Transpose ta, Transpose tb, T alpha, const Matrix<T>& A, const Matrix<T>& B,
                    T beta, const Matrix<T>& C) {
  check_shapes(ta, tb, A, B, C);
  const std::int64_t K = static_cast<std::int64_t>(cols_of(A, ta));
  const std::int64_t M = static_cast<std::int64_t>(C.extent(0)),
                     N = static_cast<std::int64_t>(C.extent(1));
  const bool tra = ta == Transpose::yes, trb = tb == Transpose::yes;
  Kokkos::parallel_for(
      "karman::nn::gemm_reference",
      Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>({0, 0}, {M, N}),
      KOKKOS_LAMBDA(const std::int64_t i, const std::int64_t j) {
        T sum = 0;
        for (std::int64_t p = 0; p < K; ++p)
          sum += (tra ? A(p, i) : A(i, p)) * (trb ? B(j, p) : B(p, j));
        C(i, j) = alpha * sum + (beta == T(0) ? T(0) : beta * C(i, j));
      });
}

template <class T>
void gemm(Transpose ta, Transpose tb, T alpha, const Matrix<T>& A, const Matrix<T>& B, T beta,
          const Matrix<T>& C) {
  check_shapes(ta, tb, A, B, C);
  if (C.extent(0) == 0 || C.extent(1) == 0) return;
  if constexpr (!kHostMemory) {
    gemm_reference(ta, tb, alpha, A, B, beta, C);  // a device build routes to KokkosBlas here
  } else {
    switch (choose(ta, tb, C.extent(0), C.extent(1), cols_of(A, ta))) {
      case Backend::libxsmm:
        return xsmm(alpha, A, tb == Transpose::yes ? transposed_copy(B) : B, beta, C);
      case Backend::libxsmm_sum:
        return xsmm_sum(alpha, A, B, beta, C);
      default:
        return blas(ta, tb, alpha, A, B, beta, C);
    }
  }
}

int blas_threads() { return openblas_get_num_threads(); }

int set_blas_threads(int threads) {
  const int previous = openblas_get_num_threads();
  if (threads != previous) openblas_set_num_threads(threads);
  return previous;
}

int limit_blas_threads(MPI_Comm comm) {
  if (std::getenv("OPENBLAS_NUM_THREADS")) return openblas_get_num_threads();
  int threads = threads_per_rank(comm);  // OMP_NUM_THREADS, else cores / ranks on the node
  // With threads inside the rank (OpenMP Kokkos) BLAS gets as many as the execution space, never
  // more: BLAS and Kokkos threads do not run at the same time, and more would oversubscribe.
  const int concurrency = Kokkos::DefaultHostExecutionSpace().concurrency();  // Serial: 1
  if (concurrency > 1) threads = std::min(threads, concurrency);
  openblas_set_num_threads(threads);
  return threads;
}

template void gemm<float>(Transpose, Transpose, float, const Matrix<float>&, const Matrix<float>&,
                          float, const Matrix<float>&);
template void gemm<double>(Transpose, Transpose, double, const Matrix<double>&,
                           const Matrix<double>&, double, const Matrix<double>&);
template void gemm_reference<float>(Transpose, Transpose, float, const Matrix<float>&,
                                    const Matrix<float>&, float, const Matrix<float>&);
template void gemm_reference<double>(Transpose, Transpose, double, const Matrix<double>&,
                                     const Matrix<double>&, double, const Matrix<double>&);

}  // namespace karman::nn
