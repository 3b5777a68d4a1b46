#pragma once
// DCDM's direction map on a structured 2D obstacle grid: a Fourier neural operator
// (operators/fno/, whose layers have their gradient checks) from [r/‖r‖ on the cells (0 on solid
// cells), fluid mask] to q on the cells, read back on the fluid cells. An FNO rather than a CNN
// because it exists with gradient checks and is resolution-free: the same weights apply at the
// held-out sizes (set_grid). Trained on the scale-free loss of dcdm.hpp with Adam; used inside
// -ksp_type dcdm as a PCSHELL (the KSP's PC is its direction map).

#include <petscksp.h>

#include <memory>
#include <vector>

#include "karman/nn/network.hpp"
#include "karman/nn/optimizer.hpp"
#include "operators/fno/fno.hpp"
#include "operators/precond/dcdm.hpp"

namespace karman::precond {

class DcdmNetwork {
 public:
  explicit DcdmNetwork(const fno::FnoSpec& spec);
  nn::Parameters<double>& parameters() { return m_net->parameters(); }

  // q = NN(r) on grid's fluid cells. r: [fluid cells] (normalised by the caller). Returns [fluid].
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

  fno::FnoModel<double>* m_model = nullptr;  // owned by m_net
  std::unique_ptr<nn::Network<double>> m_net;
};

// Make `pc` a PCSHELL applying q = network(r) on `grid` (both must outlive the PC's use). The
// shell checks the vector's size against the grid's fluid cells (PETSc error otherwise).
void set_network_pc(PC pc, DcdmNetwork& network, const ObstacleGrid& grid);

}  // namespace karman::precond
