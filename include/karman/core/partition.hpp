#pragma once
// Splitting `total` items (samples, collocation points) over the ranks of a communicator.

#include <mpi.h>

#include <utility>

namespace karman {

// [first, first + count) of this rank: contiguous, as even as possible, in rank order, so the
// union over ranks is 0..total-1 whatever the rank count.
inline std::pair<long, long> my_share(MPI_Comm comm, long total) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const long first = total * rank / size, last = total * (rank + 1) / size;
  return {first, last - first};
}

}  // namespace karman
