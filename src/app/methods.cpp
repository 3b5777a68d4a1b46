#include "methods.hpp"

#include "karman/core/error.hpp"
#include "karman/run/dataset.hpp"
#include "karman/run/fit.hpp"
#include "karman/run/reference.hpp"
#include "operators/fno/runner.hpp"
#include "operators/gno/runner.hpp"
#include "operators/mppde/runner.hpp"
#include "operators/precond/runner.hpp"
#include "pinn/runner.hpp"

namespace karman::app {

// Every kind of case Karman runs. A new method adds one line here. PINNs and fits default to
// float64, the neural operators to float32 (DESIGN.md, NN core); PETSc solves (reference,
// dataset) and the learned preconditioner run float64 only.
const std::vector<MethodEntry>& registered_methods() {
  static const std::vector<MethodEntry> methods = {
      {"reference",
       "PETSc reference solve of a PDE (finite differences on a DMDA)",
       "float64",
       {"float64"},
       run::make_reference_method},
      {"fit",
       "MLP regression of an expression from samples (NN-core check: Adam, then L-BFGS)",
       "float64",
       {"float64", "float32"},
       run::make_fit_method},
      {"pinn",
       "physics-informed network for a PDE, compared with the PETSc reference",
       "float64",
       {"float64", "float32"},
       pinn::make_pinn_method},
      {"dataset",
       "operator-learning dataset (FNO) of PETSc solves, HDF5",
       "float64",
       {"float64"},
       run::make_dataset_method},
      {"fno",
       "Fourier neural operator trained on a PETSc-made dataset, timed against PETSc",
       "float32",
       {"float32", "float64"},
       fno::make_fno_method},
      {"precond",
       "learned CG preconditioner (GNN factor) timed against PETSc's PCs",
       "float64",
       {"float64"},
       precond::make_precond_method},
      {"dcdm",
       "Deep Conjugate Direction Method (FNO direction map) timed against PETSc's CG PCs",
       "float64",
       {"float64"},
       precond::make_dcdm_method},
      {"mppde",
       "message-passing neural PDE solver (E1-E3) against WENO5 at equal accumulated error",
       "float32",
       {"float32", "float64"},
       mppde::make_mppde_method},
      {"gno",
       "graph neural operator / graph network on grids and mesh shapes, timed against PETSc",
       "float32",
       {"float32", "float64"},
       gno::make_gno_method},
  };
  return methods;
}

std::vector<std::string> method_kinds() {
  std::vector<std::string> kinds;
  for (const auto& m : registered_methods()) kinds.emplace_back(m.kind);
  return kinds;
}

const MethodEntry& find_method(const std::string& kind) {
  for (const auto& m : registered_methods())
    if (kind == m.kind) return m;
  throw InternalError("no method of kind '" + kind + "' is registered");
}

}  // namespace karman::app
