#pragma once
// All trainable parameters of a model live in one flat buffer of values and one of gradients,
// so the optimizer, the checkpoint and the data-parallel MPI_Allreduce each touch one array.
// Modules declare named tensors before allocation and read 2D views into the buffers after it:
//   values  [size]   gradients [size]
//   value(i) = values[offset_i : offset_i + rows_i*cols_i] viewed as [rows_i, cols_i]

#include <string>
#include <vector>

#include "karman/nn/tensor.hpp"

namespace karman::nn {

struct ParameterInfo {
  std::string name;  // "layer0.weight"
  std::size_t rows = 0, cols = 0;
  std::size_t offset = 0;
  std::size_t size() const { return rows * cols; }
};

template <class T>
class Parameters {
 public:
  // Declare a [rows, cols] tensor (a vector is [1, n]); returns its index. Before allocate().
  std::size_t declare(const std::string& name, std::size_t rows, std::size_t cols);
  // Make the flat buffers (values and gradients zeroed). Once.
  void allocate();
  bool allocated() const { return m_values.data() != nullptr; }

  std::size_t count() const { return m_info.size(); }
  std::size_t size() const { return m_size; }
  const ParameterInfo& info(std::size_t i) const { return m_info.at(i); }
  const std::vector<ParameterInfo>& infos() const { return m_info; }

  Vector<T> values() const { return m_values; }        // [size]
  Vector<T> gradients() const { return m_gradients; }  // [size]
  Matrix<T> value(std::size_t i) const;                // [rows_i, cols_i], aliasing values()
  Matrix<T> gradient(std::size_t i) const;             // [rows_i, cols_i], aliasing gradients()

  void zero_gradients() const;

 private:
  std::vector<ParameterInfo> m_info;
  std::size_t m_size = 0;
  Vector<T> m_values, m_gradients;
};

}  // namespace karman::nn
