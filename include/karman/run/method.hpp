#pragma once
// The runner registry: each `kind` of case is a Method. The core knows methods only through the
// explicit list in methods.cpp (as PETSc's KSPRegisterAll), never through static initialisers.

#include <mpi.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "karman/config/node.hpp"
#include "karman/run/run_directory.hpp"

namespace karman::app {

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
  virtual void read(const config::Node& root, const std::string& precision) = 0;
  // One line for `karman validate`.
  virtual std::string summary() const = 0;
  // Returns the run's status: "ok", or why the result is not trustworthy ("diverged", ...).
  virtual std::string run(RunContext& context) = 0;
};

struct MethodEntry {
  const char* kind;
  const char* description;
  std::unique_ptr<Method> (*make)();
};

const std::vector<MethodEntry>& registered_methods();
std::vector<std::string> method_kinds();
std::unique_ptr<Method> make_method(const std::string& kind);
std::string default_precision(const std::string& kind);

// Methods defined in this folder.
std::unique_ptr<Method> make_reference_method();
std::unique_ptr<Method> make_fit_method();
std::unique_ptr<Method> make_pinn_method();
std::unique_ptr<Method> make_dataset_method();
std::unique_ptr<Method> make_fno_method();
std::unique_ptr<Method> make_precond_method();

}  // namespace karman::app
