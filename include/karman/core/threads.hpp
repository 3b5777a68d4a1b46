#pragma once
// Threads inside a rank. A rank runs its Kokkos kernels on the default execution space (Serial:
// one thread; OpenMP: a team) and its large products on OpenBLAS; both should use the rank's share
// of the node's cores, no more (two pools spinning on the same cores slow each other down), no
// less (a node run as 1 rank × T threads must use T cores).

#include <mpi.h>

namespace karman {

// The threads each rank of `comm` should use: OMP_NUM_THREADS when set (the user's choice),
// otherwise the node's hardware threads divided by the ranks of `comm` on that node (at least 1).
int threads_per_rank(MPI_Comm comm);

// Kokkos::initialize with `threads` threads for a host-parallel execution space (Serial ignores
// it; 0: Kokkos' own default, OMP_NUM_THREADS or every hardware thread). The app passes
// threads_per_rank(comm). When OMP_PROC_BIND is unset it is set to "false" first: that is what
// the OpenMP runtime already does without it (threads not bound), and it stops Kokkos' OpenMP
// back-end from printing a three-line warning on every run. Binding remains the user's (and the
// MPI launcher's) choice: `mpiexec --bind-to none` or `--map-by slot:PE=T` for T threads per rank.
void initialize_kokkos(int threads);

}  // namespace karman
