#pragma once
// The weights a run folder's checkpoint.h5 holds, for the resume tests of the CLI: name → values
// of every "parameters/..." array.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "karman/nn/checkpoint.hpp"

namespace karman::test {

inline std::map<std::string, std::vector<double>> parameters_of(
    const std::filesystem::path& checkpoint) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, values] : nn::load_checkpoint(MPI_COMM_SELF, checkpoint.string()).arrays)
    if (name.rfind("parameters/", 0) == 0) out[name] = values;
  return out;
}

}  // namespace karman::test
