#include "karman/run/method.hpp"

namespace karman::app {

// Every kind of case Karman runs. A new method adds one line here.
const std::vector<MethodEntry>& registered_methods() {
  static const std::vector<MethodEntry> methods = {
      {"reference", "PETSc reference solve of a PDE (finite differences on a DMDA)",
       make_reference_method},
      {"fit", "MLP regression of an expression from samples (NN-core check: Adam, then L-BFGS)",
       make_fit_method},
      {"pinn", "physics-informed network for a PDE, compared with the PETSc reference",
       make_pinn_method},
      {"dataset", "operator-learning dataset (FNO) of PETSc solves, HDF5", make_dataset_method},
      {"fno", "Fourier neural operator trained on a PETSc-made dataset, timed against PETSc",
       make_fno_method},
      {"precond", "learned CG preconditioner (GNN factor) timed against PETSc's PCs",
       make_precond_method},
  };
  return methods;
}

std::vector<std::string> method_kinds() {
  std::vector<std::string> kinds;
  for (const auto& m : registered_methods()) kinds.emplace_back(m.kind);
  return kinds;
}

// PINNs and fits default to float64, the neural operators to float32 (DESIGN.md, NN core).
std::string default_precision(const std::string& kind) {
  return kind == "fno" ? "float32" : "float64";
}

std::unique_ptr<Method> make_method(const std::string& kind) {
  for (const auto& m : registered_methods())
    if (kind == m.kind) return m.make();
  return nullptr;
}

}  // namespace karman::app
