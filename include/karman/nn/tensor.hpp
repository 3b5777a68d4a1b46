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

// Give `m` the shape rows×cols, allocating only when the shape changes: buffers are made once per
// batch shape and reused by every later step (no allocation inside a training step).
template <class T>
void ensure_shape(Matrix<T>& m, const std::string& label, std::size_t rows, std::size_t cols) {
  if (m.data() != nullptr && m.extent(0) == rows && m.extent(1) == cols) return;
  m = Matrix<T>(Kokkos::view_alloc(label, Kokkos::WithoutInitializing), rows, cols);
}

}  // namespace karman::nn
