#pragma once
// Errors in collective code: when some ranks fail, every rank must leave with the same error, or
// the others would wait forever in the next collective call.

#include <mpi.h>

#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace karman {

// Collective. A failure on some ranks (error non-null there) becomes the same exception on every
// rank: the lowest failing rank rethrows its own, the others a copy of its message of the same
// kind (ConfigError, ExternalError naming that rank, or InternalError). Returns when no rank
// failed.
void rethrow_on_all(MPI_Comm comm, std::exception_ptr error);

// Collective. Runs `work` on rank 0 only (a file write, say) and rethrows its failure on every
// rank as rethrow_on_all does.
void run_on_rank0(MPI_Comm comm, const std::function<void()>& work);

// Collective. True on every rank when rank 0 sees `path`, so that all ranks take the same branch
// (resume or start afresh) even where their views of the file system differ.
bool exists_on_rank0(MPI_Comm comm, const std::string& path);

// Collective. Every rank's values, concatenated in rank order, on every rank.
std::vector<double> all_gather(MPI_Comm comm, const std::vector<double>& mine);

}  // namespace karman
