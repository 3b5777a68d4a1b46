#pragma once
// PINN loss of a steady problem on a box: the mean squared PDE residual at interior collocation
// points (derivatives by propagation through the network, Module::forward_taylor) plus the mean
// squared Dirichlet mismatch at boundary points, each weighted. The residual is the pointwise
// definition of karman/pde/equations.hpp, the same one the PETSc discretisation uses.
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

template <class T>
class SteadyResidualLoss {
 public:
  SteadyResidualLoss(nn::Network<T>& net, const config::PdeSpec& pde, const mesh::GridShape& box,
                     const std::vector<double>& interior, long interior_total,
                     const std::vector<double>& boundary, long boundary_total,
                     double residual_weight, double boundary_weight);

  // Loss terms {residual, boundary} of this rank; their weighted gradient is added to the
  // network's parameter gradients.
  std::vector<nn::LossTerm> operator()();

 private:
  nn::Network<T>& m_net;
  InputMap m_map;
  std::size_t m_dims;
  double m_interior_total, m_boundary_total, m_residual_weight, m_boundary_weight;
  nn::Matrix<T> m_interior;   // [(1+2d)·N, d] stacked input channels
  nn::Vector<T> m_source;     // [N] f at the interior points
  nn::Matrix<T> m_boundary;   // [M, d]
  nn::Matrix<T> m_dirichlet;  // [M, 1] g at the boundary points
  nn::Matrix<T> m_dy_interior, m_dy_boundary;
};

}  // namespace karman::pinn
