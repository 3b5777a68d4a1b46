#pragma once
// DCDM's direction map on a structured 2D (or, the CNN, 3D) obstacle grid: a network from [r on the
// cells (0 on solid cells), fluid mask] to q on the cells, read back on the fluid cells. Two kinds,
// both with weights independent of the grid (set_grid), so a network trained at one size applies at
// others:
// - a Fourier neural operator (operators/fno/): global modes; r enters as r/‖r‖;
// - a multilevel residual CNN (cnn.hpp): local 3×3 kernels on a V-cycle of grids; r enters as
//   r·sqrt(fluid cells)/‖r‖ (unit root-mean-square per cell), so the magnitudes its nonlinear
//   activations see are the same at every grid size (r/‖r‖ shrinks like 1/n per cell).
// Trained on the scale-free loss of dcdm.hpp with Adam; used inside -ksp_type dcdm as a PCSHELL
// (the KSP's PC is its direction map).

#include <petscksp.h>

#include <functional>
#include <memory>
#include <vector>

#include "karman/nn/network.hpp"
#include "karman/nn/optimizer.hpp"
#include "operators/fno/fno.hpp"
#include "operators/precond/cnn.hpp"
#include "operators/precond/dcdm.hpp"

namespace karman::precond {

class DcdmNetwork {
 public:
  explicit DcdmNetwork(const fno::FnoSpec& spec);
  explicit DcdmNetwork(const CnnSpec& spec);  // 2D or 3D grids by spec.dims
  nn::Parameters<double>& parameters() { return m_net->parameters(); }

  // q = NN(r) on grid's fluid cells. r: [fluid cells] (normalised by the caller). Returns [fluid].
  // std::invalid_argument on a size or dimension mismatch.
  std::vector<double> apply(const ObstacleGrid& grid, const std::vector<double>& r);

  // One Adam step on the mean DCDM loss of `batch` (unit vectors, [B][fluid cells]) on `grid`.
  // Returns the mean loss before the step.
  double train_step(const ObstacleGrid& grid, const std::vector<std::vector<double>>& batch,
                    nn::Optimizer<double>& optimizer, double lr);

  // The mean DCDM loss of `vectors` without training.
  double mean_loss(const ObstacleGrid& grid, const std::vector<std::vector<double>>& vectors);

 private:
  // x [B·n², 2]: the vectors scattered to the cells (channel 0), the fluid mask (channel 1).
  nn::Matrix<double> inputs(const ObstacleGrid& grid,
                            const std::vector<const std::vector<double>*>& vectors);

  std::function<void(const std::vector<long>&)> m_set_grid;  // the model's set_grid
  int m_dims = 2;                                            // the grids it runs on
  bool m_unit_rms = false;  // scale r to unit RMS per fluid cell (the CNN)
  std::unique_ptr<nn::Network<double>> m_net;
};

// Make `pc` a PCSHELL applying q = network(r) on `grid` (both must outlive the PC's use). The
// shell checks the vector's size against the grid's fluid cells (PETSc error otherwise).
void set_network_pc(PC pc, DcdmNetwork& network, const ObstacleGrid& grid);

}  // namespace karman::precond
