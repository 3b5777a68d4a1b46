#pragma once
// Dense products of the NN core, all behind one call on row-major views:
//   C = alpha · op(A) · op(B) + beta · C,   op(X) = X or Xᵀ.
// Host builds send tall-skinny no-transpose products (batch × ≤128 × ≤128: MLP, GNN and
// spectral-mixing layers) to libxsmm JIT kernels over 64-row blocks of the batch, and the sums
// over the batch Aᵀ·B (≤128 × batch × ≤128: weight gradients Xᵀ·dZ, bias gradients 1ᵀ·dZ) to
// libxsmm kernels on 64-row blocks of A packed transposed, accumulated in partial sums of 1024
// rows that are added in a fixed order; everything else goes to BLAS; a device build would send
// them to KokkosBlas/cuBLAS. The row blocks and partial sums run in parallel over the host
// execution space (OpenMP Kokkos: its threads); both libxsmm paths give bitwise the same result
// for every thread count. gemm_reference is the plain Kokkos kernel every optimised path is
// tested against.

#include <mpi.h>

#include "karman/nn/tensor.hpp"

namespace karman::nn {

enum class Transpose { no, yes };

template <class T>
void gemm(Transpose trans_a, Transpose trans_b, T alpha, const Matrix<T>& A, const Matrix<T>& B,
          T beta, const Matrix<T>& C);

template <class T>
void gemm_reference(Transpose trans_a, Transpose trans_b, T alpha, const Matrix<T>& A,
                    const Matrix<T>& B, T beta, const Matrix<T>& C);

// Which backend gemm() picks for these sizes (for tests and benchmarks): "libxsmm", "blas",
// "libxsmm_sum", "reference".
const char* gemm_backend(Transpose trans_a, Transpose trans_b, std::size_t m, std::size_t n,
                         std::size_t k);

// BLAS threads per rank: when the ranks on a node already fill its cores, oversubscribed BLAS
// threads are slower than none, so each rank gets threads_per_rank (OMP_NUM_THREADS, else cores /
// ranks-on-node), and with threads inside the rank (OpenMP Kokkos) never more than the host
// execution space's threads. Left alone when OPENBLAS_NUM_THREADS is set. Returns the number of
// threads in use.
int limit_blas_threads(MPI_Comm comm);
int blas_threads();  // OpenBLAS threads of this rank
// Sets this rank's OpenBLAS threads; returns the previous count.
int set_blas_threads(int threads);

}  // namespace karman::nn
