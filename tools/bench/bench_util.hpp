#pragma once
// Helpers shared by the benchmarks in tools/bench: medians, precision names, the machine
// description and the execution configuration every JSON result carries (what was measured
// where, how, and when).

#include <cblas.h>
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace karman::bench {

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

template <class T>
const char* precision_name() {
  return sizeof(T) == 4 ? "float32" : "float64";
}

inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "unknown CPU";
}

inline std::string machine_description() {
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::string s = cpu_model() + ", " + std::to_string(openblas_get_num_procs()) + " cores";
#if defined(__AVX512F__)
  s += ", built for AVX-512";
#elif defined(__AVX2__)
  s += ", built for AVX2";
#endif
  s += "; OpenBLAS " + std::string(openblas_get_config()) + " core " + openblas_get_corename() +
       " (OPENBLAS_CORETYPE=" + (coretype ? coretype : "unset") + "), " +
       std::to_string(openblas_get_num_threads()) + " threads; Kokkos " +
       Kokkos::DefaultExecutionSpace::name() + "; gcc " + __VERSION__;
  return s;
}

inline std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

// How this process runs Karman, recorded next to every figure (key "execution"): MPI ranks, Kokkos
// threads per rank (the default execution space's concurrency: 1 for Serial), the execution
// space's name, OpenBLAS threads.
inline nlohmann::ordered_json execution_config() {
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  nlohmann::ordered_json j;
  j["ranks"] = ranks;
  j["threads"] = Kokkos::DefaultExecutionSpace().concurrency();
  j["kokkos_execution_space"] = Kokkos::DefaultExecutionSpace::name();
  j["blas_threads"] = openblas_get_num_threads();
  return j;
}

// True when the command line holds `flag` (Kokkos has taken its own options out by then).
inline bool has_flag(int argc, char** argv, const std::string& flag) {
  return std::find(argv + 1, argv + argc, flag) != argv + argc;
}

// main() of a benchmark: MPI and Kokkos around `run` (whose views must all be released before it
// returns), an exception reported on one line. With --execution-config it prints
// execution_config() as one JSON line and runs nothing (the bench scripts ask a build what its
// node configuration is).
template <class Run>
int bench_main(int argc, char** argv, const char* name, Run run) {
  MPI_Init(&argc, &argv);
  Kokkos::initialize(argc, argv);
  int status = 1;
  try {
    if (has_flag(argc, argv, "--execution-config")) {
      std::printf("%s\n", execution_config().dump().c_str());
      status = 0;
    } else {
      status = run();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
  }
  Kokkos::finalize();
  MPI_Finalize();
  return status;
}

}  // namespace karman::bench
