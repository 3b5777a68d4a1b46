#pragma once
// Training checkpoints in HDF5, written whole to a temporary name and renamed, so a killed run
// never leaves a torn file. Layout of checkpoint.h5:
//   /arrays/<group>/<name>   float64 [n] (exact for float32 values): "parameters/0.weight",
//                            "optimizer/m", "normalizers/input.mean", ...
//   /  attributes            every scalar (float64) and string (config, precision, ...)
// Parameters are replicated on every rank, so rank 0 writes and every rank reads.

#include <mpi.h>

#include <map>
#include <string>
#include <vector>

#include "karman/nn/optimizer.hpp"
#include "karman/nn/parameters.hpp"

namespace karman::nn {

struct Checkpoint {
  std::map<std::string, std::vector<double>> arrays;
  std::map<std::string, double> scalars;
  std::map<std::string, std::string> strings;

  double scalar(const std::string& name) const;  // ConfigError if absent
  const std::string& string(const std::string& name) const;
};

// Rank 0 writes `path` atomically (path + ".tmp", then rename); collective.
void save_checkpoint(MPI_Comm comm, const std::string& path, const Checkpoint& checkpoint);
// Every rank reads; a missing or unreadable file is a ConfigError naming it. Collective.
Checkpoint load_checkpoint(MPI_Comm comm, const std::string& path);

// Parameters and optimizer state in and out of a checkpoint. Restoring checks every name and
// size against what the model declares (ConfigError on a mismatch: a different model).
template <class T>
void store_parameters(Checkpoint& c, const Parameters<T>& parameters);
template <class T>
void restore_parameters(const Checkpoint& c, Parameters<T>& parameters, const std::string& path);
template <class T>
void store_optimizer(Checkpoint& c, Optimizer<T>& optimizer);
template <class T>
void restore_optimizer(const Checkpoint& c, Optimizer<T>& optimizer, const std::string& path);

}  // namespace karman::nn
