#pragma once
// DCDM on several ranks (issue 19, acceptance: "DCDM runs under mpiexec -n 2"). The obstacle
// matrix is an MPIAIJ matrix split by rows in cell order (storage.hpp's create_distributed_aij);
// -ksp_type dcdm, its dot products and products with A run on every rank. The network direction
// map itself is serial: each application gathers r to rank 0 (VecScatterCreateToZero), rank 0
// runs the network on the whole grid, and the result is scattered back to the ranks' rows. The
// network is small (a few thousand weights) and one forward on the whole grid is what one rank
// does anyway, so at p ranks the map costs one rank's forward plus a gather and a scatter of N
// values per iteration, while the other ranks wait: the map does not get faster with ranks.
//
// Rank 0 holds the only network that is applied; the others may hold an identical copy (trained
// from the same seed, or loaded from the same checkpoint), which is not used.

#include <petscksp.h>

#include "operators/precond/dcdm_network.hpp"

namespace karman::precond {

// Make `pc` a PCSHELL applying q = network(r) on `grid`, with r and q distributed as the KSP's
// vectors are (any row layout of grid's fluid cells, in cell order) on the PC's communicator.
// `network` and `grid` must outlive the PC's use; only rank 0's network is used (the others' may
// be null). On one rank it is set_network_pc with one copy more. A vector whose global size is not
// grid's fluid cell count is a PETSc error on every rank; so is a network error on rank 0.
void set_gathered_network_pc(PC pc, DcdmNetwork* network, const ObstacleGrid& grid);

// Block Jacobi with IC(0) on each rank's diagonal block (the `icc` baseline at p ranks: PETSc's
// ICC is sequential); on one rank the same as -pc_type icc (one block, the whole matrix).
void block_icc_pc(PC pc);

// Block Jacobi with MIC(0) of each rank's diagonal block as it is (the `mic0` baseline at p
// ranks); on one rank exactly mic0_pc. Not the lumped form of reference_values (the cut coupling
// moved onto the diagonal): on obstacle grids a fluid cell whose only fluid neighbour lies on
// another rank gets a zero diagonal there (measured: 64², 6 shapes, 2 ranks, pivot 2e-16), while
// the unlumped block keeps the cut as a Dirichlet face and stays SPD.
void block_mic0_pc(PC pc);

}  // namespace karman::precond
