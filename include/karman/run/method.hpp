#pragma once
// A method: what a case's `kind` runs (pinn, fno, precond, ...). Each method folder exposes the
// function that makes its Method; the CLI lists them with their precisions in
// src/app/methods.cpp (as PETSc's KSPRegisterAll), never through static initialisers.

#include <mpi.h>

#include <nlohmann/json.hpp>
#include <string>

#include "karman/config/node.hpp"
#include "karman/run/run_directory.hpp"

namespace karman::run {

struct RunContext {
  MPI_Comm comm;
  int rank = 0, size = 1;
  std::string case_name, case_file, resolved_yaml, precision;
  RunDirectory* dir = nullptr;
  nlohmann::json* report = nullptr;  // the method fills "metrics", "baseline" and extras
  bool resume = false;               // --resume: continue from the run folder's checkpoint
  std::string message = {};          // when the status is not "ok": why, in one line
};

class Method {
 public:
  virtual ~Method() = default;
  // Read and validate every key the method uses (unknown keys are rejected afterwards).
  // `precision` is one the method's registry entry lists as supported.
  virtual void read(const config::Node& root, const std::string& precision) = 0;
  // One line for `karman validate`.
  virtual std::string summary() const = 0;
  // Returns the run's status: "ok", or why the result is not trustworthy ("diverged", ...).
  virtual std::string run(RunContext& context) = 0;
};

}  // namespace karman::run
