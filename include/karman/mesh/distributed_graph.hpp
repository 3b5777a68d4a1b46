#pragma once
// The graph of a distributed mesh for learned layers (message passing on a partitioned DMPlex).
//
// Local nodes of a rank, [N_local] = [N_owned + N_halo]:
//   nodes [0, N_owned)        the mesh vertices this rank owns (not leaves of the DM's point SF),
//                             in increasing global number;
//   nodes [N_owned, N_local)  halo: copies of other ranks' vertices present through the overlap,
//                             in increasing global number.
// Edges: every mesh edge (an interpolated DMPlex's depth-1 point, cone = its two vertices) in
// both directions, kept where the receiver is owned. With one layer of overlap every edge that
// touches an owned vertex is on the rank, so each message is computed on exactly one rank and an
// owned node aggregates all its edges; halo nodes receive none (their layer outputs are not
// read: the next halo exchange overwrites them). Directed graph, row = receiver, col = sender,
// sorted by receiver then by the sender's global number (the same order on any rank count).
// Edge features [E, D + 1] = (x_i − x_j, ‖x_i − x_j‖) as mesh::edge_geometry (i receives).
//
// Halo exchange (Halo): a PetscSF over the local nodes, roots the owned nodes, leaves the halo
// nodes, made from the DM's point SF. Before a message-passing layer update() copies the owners'
// rows [N_local, W] into their halo copies (PetscSFBcast); its transpose reduce() adds the halo
// rows of a gradient to their owners' rows (PetscSFReduce, MPI_SUM) and zeroes the halo rows.
// A batch of B samples of the graph side by side (row b·N_local + n is node n of sample b, as
// MP-PDE batches its graphs) has the halo Halo::batched(B): the same exchange on every sample.
//
// Global vertex numbers (0 .. N_global − 1, each vertex once over all ranks, the same for any
// rank count) come from the caller, or from the migration SF that DMPlexDistribute returns.

#include <mpi.h>

#include <memory>
#include <vector>

#include "karman/mesh/graph.hpp"

// PETSc's handles, declared exactly as petscdmtypes.h and petscsftypes.h do, so that this header
// stays free of PETSc (the declarations agree when both are seen).
typedef struct _p_DM* DM;
typedef struct _p_PetscSF* PetscSF;

namespace karman::mesh {

// Owners → halo copies of node rows [N_local, W] (owned rows first, then halo rows).
class Halo {
 public:
  Halo() = default;  // no halo: update and reduce do nothing
  // Takes ownership of `sf` (roots: nodes [0, owned); leaves: nodes in [owned, local)).
  Halo(MPI_Comm comm, long owned, long local, PetscSF sf);

  MPI_Comm comm() const { return m_comm; }
  long owned() const { return m_owned; }  // per sample
  long local() const { return m_local; }  // per sample
  long halo() const { return m_local - m_owned; }
  long copies() const { return m_copies; }          // samples side by side (1 unless batched)
  long rows() const { return m_copies * m_local; }  // rows of the values update() takes
  PetscSF sf() const { return m_sf.get(); }

  // Collective. The halo of `copies` samples side by side, rows [copies·N_local]: sample b's
  // halo row b·N_local + n ← its owner's row b·N'_local + n' (N'_local the owner rank's). Of an
  // unbatched halo (copies() == 1); a halo without SF gives one without SF.
  Halo batched(long copies) const;

  // Collective. values [rows(), W]: every halo row ← its owner's row.
  template <class T>
  void update(const nn::Matrix<T>& values) const;
  // Collective. gradients [rows(), W]: every owned row += the rows of its halo copies on all
  // ranks; then the halo rows ← 0 (the transpose of update). Rows of a type other than PETSc's
  // real (float here) are summed in PetscReal on a copy: PETSc's SF sums only its own types.
  template <class T>
  void reduce(const nn::Matrix<T>& gradients) const;

 private:
  MPI_Comm m_comm = MPI_COMM_SELF;
  long m_owned = 0, m_local = 0, m_copies = 1;
  std::shared_ptr<struct _p_PetscSF> m_sf;  // PetscSFDestroy at the last copy
};

struct DistributedGraph {
  int dim = 0;                       // D: coordinates per vertex
  long owned = 0;                    // N_owned
  long local = 0;                    // N_local = N_owned + N_halo
  long global_nodes = 0;             // N_global: vertices of the whole mesh
  std::vector<long> points;          // [N_local] the DM point (vertex) of each local node
  std::vector<long> global_numbers;  // [N_local]
  nn::Matrix<double> coordinates;    // [N_local, D]
  Graph graph;                       // directed, N_local nodes, every receiver owned
  nn::Matrix<double> edge_features;  // [E, D + 1] (x_i − x_j, ‖x_i − x_j‖)
  Halo halo;
};

// Collective. The global number of every vertex v of the distributed `dm` ([vEnd − vStart],
// entry v − vStart) from the migration SF DMPlexDistribute returned (with its overlap): the
// vertex's point in the serial mesh minus the serial mesh's first vertex point. The mesh that was
// distributed must be serial (all on one rank, as DMPlexCreateGmshFromFile and
// DMPlexCreateBoxMesh make it): InternalError otherwise. A null `migration` means `dm` is that
// serial mesh itself (one rank, or DMPlexDistribute returned no new mesh).
std::vector<long> serial_vertex_numbers(DM dm, PetscSF migration);

// Collective. The graph of the interpolated DMPlex `dm` (distributed with one layer of overlap,
// or serial). vertex_numbers: [vEnd − vStart] the global number of each vertex of `dm` (entry
// v − vStart), the same on every rank that holds a copy. InternalError for a mesh that is not
// interpolated, distributed without overlap, or numbers that are not 0 .. N_global − 1 each
// owned once.
DistributedGraph make_distributed_graph(DM dm, const std::vector<long>& vertex_numbers);
// The same with the numbers from serial_vertex_numbers(dm, migration).
DistributedGraph make_distributed_graph(DM dm, PetscSF migration);

}  // namespace karman::mesh
