#pragma once
// Tensors of the NN core: Kokkos views in the default execution space's memory. Activations are
// row-major [batch, features] (the batch runs along rows, so a layer is one GEMM with the batch
// as its long dimension); weights are [in, out], so a Linear layer is Y = X W + b.

#include <Kokkos_Core.hpp>
#include <cstddef>
#include <string>

namespace karman::nn {

using ExecutionSpace = Kokkos::DefaultExecutionSpace;
using MemorySpace = ExecutionSpace::memory_space;

template <class T>
using Matrix = Kokkos::View<T**, Kokkos::LayoutRight, MemorySpace>;  // [rows, cols]
template <class T>
using Vector = Kokkos::View<T*, MemorySpace>;  // [n]

// Map the pages of a large new host buffer [bytes] in one system call (madvise
// MADV_POPULATE_WRITE, Linux ≥ 5.14) instead of one page fault per 4 kB page at first touch: on
// virtual machines a fault costs tens of µs, so first touching GBs of activations took longer than
// the computation (a 1 GB buffer: 5.5 s faulting page by page, 1.1 s populated here). Buffers
// below 32 MB, device memory and kernels without the call are left alone; never fails.
void populate_host_pages(void* data, std::size_t bytes);

// Give `m` the shape rows×cols, allocating only when the shape changes: buffers are made once per
// batch shape and reused by every later step (no allocation inside a training step).
template <class T>
void ensure_shape(Matrix<T>& m, const std::string& label, std::size_t rows, std::size_t cols) {
  if (m.data() != nullptr && m.extent(0) == rows && m.extent(1) == cols) return;
  m = Matrix<T>(Kokkos::view_alloc(label, Kokkos::WithoutInitializing), rows, cols);
  if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, MemorySpace>::accessible)
    populate_host_pages(m.data(), m.span() * sizeof(T));
}

}  // namespace karman::nn
