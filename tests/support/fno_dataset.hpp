#pragma once
// Helpers of the operator-learning dataset tests (tests/mpi/test_fno_*dataset_mpi.cpp): specs
// through the case reader, whole files read on every rank, samples of a [N, C, points] block.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "karman/config/case.hpp"
#include "karman/core/error.hpp"
#include "karman/data/operator_dataset.hpp"
#include "support/mpi_world.hpp"

namespace karman::test {

// Remove a file and its .partial (rank 0), then wait for it.
inline void remove_dataset(const std::string& path) {
  if (world_rank() == 0) {
    std::filesystem::remove(path);
    std::filesystem::remove(path + ".partial");
  }
  MPI_Barrier(world());
}

// A DatasetSpec through the case reader, from the YAML of a `data:` section (written to a file
// named after `stem`, the rank count and the rank).
inline data::DatasetSpec spec_from(const std::string& data_yaml, const std::string& stem) {
  const std::string path =
      stem + "_np" + std::to_string(world_size()) + "_" + std::to_string(world_rank()) + ".yaml";
  std::ofstream(path) << "data: " << data_yaml << "\n";
  auto file = config::CaseFile::load(path);
  data::DatasetSpec spec = data::read_dataset_spec(file.root().child("data"));
  file.reject_unknown_keys();
  return spec;
}

// The whole dataset on every rank.
inline data::OperatorData read_all(const std::string& path) {
  const auto info = data::inspect_dataset(world(), path);
  return data::read_operator_data(world(), path, 0, info.samples);
}

// Sample k of a [N, C, points] block.
inline std::vector<double> sample_of(const std::vector<double>& block, long samples, long k) {
  const std::size_t per = block.size() / samples;
  return {block.begin() + k * per, block.begin() + (k + 1) * per};
}

// The ConfigError message of `f`, or "" when it does not throw one.
template <class F>
std::string config_error(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& text, const std::string& piece) {
  return text.find(piece) != std::string::npos;
}

inline double norm(const std::vector<double>& v) {
  return std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0));
}

}  // namespace karman::test
