#include "karman/nn/parameters.hpp"

#include "karman/core/error.hpp"

namespace karman::nn {

template <class T>
std::size_t Parameters<T>::declare(const std::string& name, std::size_t rows, std::size_t cols) {
  KARMAN_VERIFY(!allocated(), "Parameters: declare after allocate (" + name + ")");
  m_info.push_back({name, rows, cols, m_size});
  m_size += rows * cols;
  return m_info.size() - 1;
}

template <class T>
void Parameters<T>::allocate() {
  KARMAN_VERIFY(!allocated(), "Parameters: allocated twice");
  m_values = Vector<T>("karman::nn::parameters", m_size);
  m_gradients = Vector<T>("karman::nn::gradients", m_size);
}

namespace {

// A [rows, cols] window of a flat buffer (unmanaged: the buffer owns the memory).
template <class T>
Matrix<T> window(const Vector<T>& flat, const ParameterInfo& p) {
  return Matrix<T>(flat.data() + p.offset, p.rows, p.cols);
}

}  // namespace

template <class T>
Matrix<T> Parameters<T>::value(std::size_t i) const {
  KARMAN_VERIFY(allocated(), "Parameters: value() before allocate()");
  return window(m_values, m_info.at(i));
}

template <class T>
Matrix<T> Parameters<T>::gradient(std::size_t i) const {
  KARMAN_VERIFY(allocated(), "Parameters: gradient() before allocate()");
  return window(m_gradients, m_info.at(i));
}

template <class T>
void Parameters<T>::zero_gradients() const {
  Kokkos::deep_copy(m_gradients, T(0));
}

template class Parameters<float>;
template class Parameters<double>;

}  // namespace karman::nn
