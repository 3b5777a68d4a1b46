#include "karman/core/collective.hpp"

#include <filesystem>
#include <string>

#include "karman/core/error.hpp"

namespace karman {

void rethrow_on_all(MPI_Comm comm, std::exception_ptr error) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int mine = error ? rank : size, first;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return;
  std::string message;
  int kind = 2;  // 0 ConfigError, 1 ExternalError, 2 other
  if (rank == first) {
    try {
      std::rethrow_exception(error);
    } catch (const ConfigError& e) {
      message = e.what(), kind = 0;
    } catch (const ExternalError& e) {
      message = e.what(), kind = 1;
    } catch (const std::exception& e) {
      message = e.what();
    }
  }
  int length = static_cast<int>(message.size());
  MPI_Bcast(&length, 1, MPI_INT, first, comm);
  MPI_Bcast(&kind, 1, MPI_INT, first, comm);
  message.resize(length);
  MPI_Bcast(message.data(), length, MPI_CHAR, first, comm);
  if (rank == first) std::rethrow_exception(error);
  if (kind == 0) throw ConfigError(message);
  if (kind == 1)
    throw ExternalError("karman", 0, "on rank " + std::to_string(first) + ": " + message);
  throw InternalError(message);
}

void run_on_rank0(MPI_Comm comm, const std::function<void()>& work) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  std::exception_ptr error;
  if (rank == 0) {
    try {
      work();
    } catch (...) {
      error = std::current_exception();
    }
  }
  rethrow_on_all(comm, error);
}

bool exists_on_rank0(MPI_Comm comm, const std::string& path) {
  int rank = 0, found = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) found = std::filesystem::exists(path) ? 1 : 0;
  MPI_Bcast(&found, 1, MPI_INT, 0, comm);
  return found != 0;
}

std::vector<double> all_gather(MPI_Comm comm, const std::vector<double>& mine) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  const int count = static_cast<int>(mine.size());
  std::vector<int> counts(size), offsets(size, 0);
  MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  for (int r = 1; r < size; ++r) offsets[r] = offsets[r - 1] + counts[r - 1];
  std::vector<double> all(static_cast<std::size_t>(offsets.back() + counts.back()));
  MPI_Allgatherv(mine.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(),
                 MPI_DOUBLE, comm);
  return all;
}

}  // namespace karman
