#pragma once
// DCDM's direction map on the Jacobi-scaled problem (case key model.scaling: jacobi): the map that
// reads the coefficient through A's diagonal. With D = diag(A) and Ã = D^(−1/2) A D^(−1/2), the
// network f is trained on Ã (its Ritz vectors, its loss) and applied as
//   q = D^(−1/2) f(D^(−1/2) r),
// which makes DCDM on A x = b the DCDM of f on Ã x̃ = D^(−1/2) b, x̃ = D^(1/2) x (the A-inner
// products of such directions are Ã's of the unscaled ones). Ã has a unit diagonal whatever κ is,
// so a map that does not see κ meets a more Poisson-like operator.

#include <petscksp.h>

#include "operators/precond/dcdm_network.hpp"

namespace karman::precond {

// grid with its matrix replaced by D^(−1/2) A D^(−1/2) (same pattern, cells and rows).
ObstacleGrid jacobi_scaled(const ObstacleGrid& grid);

// Make `pc` (of a KSP on A, any row layout) a PCSHELL applying q = D^(−1/2) f(D^(−1/2) r), f the
// gathered network map of dcdm_parallel.hpp on `scaled` (jacobi_scaled of A's grid). D comes from
// the PC's operator at its first application. `network` and `scaled` must outlive the PC's use.
void set_jacobi_network_pc(PC pc, DcdmNetwork* network, const ObstacleGrid& scaled);

}  // namespace karman::precond
