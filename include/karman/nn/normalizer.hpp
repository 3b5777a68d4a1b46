#pragma once
// Per-channel Gaussian normaliser: x̂ = (x - mean) / (std + eps) per column, fitted on the
// training data (over all ranks) and saved in checkpoints with the weights, so a model is always
// applied with the statistics it was trained with. decode is the inverse map, and
// decode_backward carries a gradient through it (dL/dx̂ = dL/dx · (std + eps)), encode_backward
// one through encode (a rollout feeds decoded predictions back encoded).

#include <mpi.h>

#include <string>

#include "karman/nn/checkpoint.hpp"
#include "karman/nn/tensor.hpp"

namespace karman::nn {

template <class T>
class GaussianNormalizer {
 public:
  explicit GaussianNormalizer(std::string name, double eps = 1e-5)
      : m_name(std::move(name)), m_eps(eps) {}

  // Mean and (population) standard deviation of every column of the rows all ranks hold.
  void fit(MPI_Comm comm, const Matrix<T>& data);
  bool fitted() const { return m_mean.data() != nullptr; }
  std::size_t channels() const { return m_mean.extent(0); }

  void encode(const Matrix<T>& x, const Matrix<T>& out) const;           // out may alias x
  void decode(const Matrix<T>& x, const Matrix<T>& out) const;           // out may alias x
  void decode_backward(const Matrix<T>& dy, const Matrix<T>& dx) const;  // dx may alias dy
  // dL/dx = dL/dx̂ / (std + eps): a gradient through encode. dx may alias dy.
  void encode_backward(const Matrix<T>& dy, const Matrix<T>& dx) const;

  void store(Checkpoint& c) const;  // arrays "normalizers/<name>.mean", ".std"
  void restore(const Checkpoint& c, const std::string& path);

  Vector<T> mean() const { return m_mean; }
  Vector<T> std() const { return m_std; }

 private:
  std::string m_name;
  double m_eps;
  Vector<T> m_mean, m_std;  // [channels]
};

}  // namespace karman::nn
