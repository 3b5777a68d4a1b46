#pragma once
// MP-PDE's data on an unstructured mesh: trajectories of the heat equation with a random
// coefficient,
//   u_t = ∇·(κ(x) ∇u)  in Ω,   u = 0 on ∂Ω,   t ∈ [0, t_end],
// solved by the finite-element reference (karman/fem/fem.hpp: P1 on the DMPlex, PETSc TS) and
// stored at `steps` equally spaced times, nodal values at the vertices by global vertex number.
//
// Trajectory k draws from streams keyed on (seed, k) only:
//   κ(x)   = kappa · exp(kappa_log_std · g(x) / std(g)), g a Gaussian random field (the FEM
//            reference's, karman/pde/random_field.hpp: α = 2, τ = 3, cosine basis) on a 65^dim
//            grid over the mesh's bounding box, multilinearly interpolated; the solver reads it at
//            the cell centroids (P0), the model at the vertices (κ / kappa, a node condition);
//   u(x,0) = Σ_{j<4} A_j Π_d sin(π m_jd x̂_d),  A_j ~ U[−1, 1],  m_jd ∈ {1..modes},
//            x̂ = (x − lower) / (upper − lower) per dimension (0 on the sides of the box).
// Each trajectory is solved on MPI_COMM_SELF by one rank (of the serial mesh, read on every
// rank), so the data do not depend on the rank count.

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "karman/mesh/plex.hpp"
#include "operators/mppde/rollout.hpp"

namespace karman::mppde {

struct HeatMeshSpec {
  long steps = 40;             // stored states, t_k = k·t_end / (steps − 1)
  double t_end = 1.0;          // the last state's time
  long substeps = 1;           // solver time steps between two stored states
  std::string scheme = "cn";   // the solver's TS scheme: cn | bdf2 | beuler
  long modes = 3;              // the initial data's largest wave number per dimension
  double kappa = 0.05;         // κ's geometric mean
  double kappa_log_std = 0.5;  // the standard deviation of log κ
  std::uint64_t seed = 1;      // trajectory k's draws: (seed, k)
};

// One trajectory on the serial mesh (every vertex on this rank): u [steps, N_global] and κ at the
// vertices [N_global], both by global vertex number; the solver's wall time.
struct MeshTrajectory {
  std::vector<double> u, kappa;
  double wall_s = 0.0;
};
MeshTrajectory solve_heat_trajectory(const mesh::PlexMesh& serial, const HeatMeshSpec& spec,
                                     long trajectory);

// Collective. Trajectories [first, first + count) at the nodes whose global vertex numbers are
// `nodes` (a rank's local nodes, halo included): each solved by one rank of `comm` on `serial`
// and shared. Node condition: κ / kappa. No per-trajectory parameters.
Trajectories heat_trajectories(MPI_Comm comm, const mesh::PlexMesh& serial,
                               const HeatMeshSpec& spec, long first, long count,
                               const std::vector<long>& nodes);

}  // namespace karman::mppde
