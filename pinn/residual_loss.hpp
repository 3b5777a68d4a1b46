#pragma once
// PINN loss on a box (steady) or a space-time box (time-dependent, time the last input): the mean
// squared PDE residual at interior collocation points (derivatives by propagation through the
// network, Module::forward_taylor), the mean squared Dirichlet mismatch on the spatial boundary
// and, for time-dependent problems, the mean squared mismatch with the initial state at t = 0.
// Residuals are the pointwise definitions of karman/pde/equations.hpp, the same ones the PETSc
// discretisations use.
//
// Under data parallelism each rank holds its share of the points and normalises by the global
// counts, so the trainer's sum over ranks is the global loss.

#include <vector>

#include "karman/config/case.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/nn/loss.hpp"
#include "karman/nn/network.hpp"

namespace karman::pinn {

// The network sees x̂ = scale·x + shift ∈ [-1, 1]^dim for x in the box.
struct InputMap {
  std::vector<double> scale, shift;
  static InputMap for_box(const mesh::GridShape& box);
};

// Network inputs for physical points (row-major [n, dim]).
template <class T>
nn::Matrix<T> network_input(const InputMap& map, const std::vector<double>& points);

// Points of one kind (row-major [count, dim]) with the global count of their kind.
struct PointSet {
  std::vector<double> points;
  long total = 0;
};

struct LossWeights {
  double residual = 1.0, boundary = 1.0, initial = 1.0;
};

template <class T>
class ResidualLoss {
 public:
  // `box`: the (space-time) box the network is defined on; time-dependent PDEs have time as the
  // last of box.dim coordinates. `initial` is empty for steady PDEs.
  ResidualLoss(nn::Network<T>& net, const config::PdeSpec& pde, const mesh::GridShape& box,
               const PointSet& interior, const PointSet& boundary, const PointSet& initial,
               LossWeights weights);

  // Loss terms {residual, boundary[, initial]} of this rank; the gradient of their weighted sum
  // is added to the network's parameter gradients.
  std::vector<nn::LossTerm> operator()();

 private:
  struct DataTerm {  // a plain-forward term: MSE against given values
    std::string name;
    double weight = 1.0, total = 1.0;
    nn::Matrix<T> x, target, dy;  // [M, dim], [M, 1], [M, 1]
  };
  nn::LossTerm data_term(DataTerm& term);

  nn::Network<T>& m_net;
  config::PdeType m_type;
  double m_kappa;
  std::size_t m_dims, m_space_dims;
  double m_interior_total, m_residual_weight;
  nn::Matrix<T> m_interior;  // [(1+2·dims)·N, dims] stacked input channels
  nn::Vector<T> m_source;    // [N] f at the interior points
  nn::Matrix<T> m_dy_interior;
  std::vector<DataTerm> m_data;
};

}  // namespace karman::pinn
