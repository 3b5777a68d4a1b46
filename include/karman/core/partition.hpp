#pragma once
// Splitting `total` items (samples, collocation points, chunks of a loss) into contiguous parts.

#include <mpi.h>

#include <utility>

namespace karman {

// [first, first + count) of part `part` of `parts`: contiguous, as even as possible, in part
// order, so the union over the parts is 0..total-1.
inline std::pair<long, long> share(long total, long part, long parts) {
  const long first = total * part / parts, last = total * (part + 1) / parts;
  return {first, last - first};
}

// This rank's share: the union over ranks is 0..total-1 whatever the rank count.
inline std::pair<long, long> my_share(MPI_Comm comm, long total) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  return share(total, rank, size);
}

}  // namespace karman
