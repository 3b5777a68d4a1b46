#include "ksp.hpp"

#include "check.hpp"
#include "karman/core/error.hpp"

namespace karman::petsc {

config::SolverSpec solver(const std::string& ksp, const std::string& pc, double rtol, double atol,
                          long max_it) {
  config::SolverSpec spec;
  spec.ksp = ksp;
  spec.pc = pc;
  spec.rtol = rtol;
  spec.atol = atol;
  spec.max_it = max_it;
  return spec;
}

namespace {

// spec.options ("name", "value"; no dash) enter the database as -<prefix><name>, unless the
// command line already set that option.
void add_case_options(const config::SolverSpec& spec, const std::string& prefix) {
  for (const auto& [name, value] : spec.options) {
    const std::string option = "-" + prefix + name;
    PetscBool set;
    KARMAN_PETSC(PetscOptionsHasName(nullptr, nullptr, option.c_str(), &set));
    if (!set)
      KARMAN_PETSC(
          PetscOptionsSetValue(nullptr, option.c_str(), value.empty() ? nullptr : value.c_str()));
  }
}

}  // namespace

void configure_ksp(::KSP ksp, const config::SolverSpec& spec, const std::string& prefix,
                   Options options) {
  if (!prefix.empty()) KARMAN_PETSC(KSPSetOptionsPrefix(ksp, prefix.c_str()));
  PC pc;
  KARMAN_PETSC(KSPGetPC(ksp, &pc));
  KARMAN_PETSC(KSPSetType(ksp, spec.ksp.c_str()));
  KARMAN_PETSC(PCSetType(pc, spec.pc.c_str()));
  KARMAN_PETSC(KSPSetTolerances(ksp, spec.rtol, spec.atol, PETSC_DEFAULT,
                                static_cast<PetscInt>(spec.max_it)));
  if (options == Options::ignore) return;
  add_case_options(spec, prefix);
  from_options([&] { KARMAN_PETSC(KSPSetFromOptions(ksp)); });
}

KSP make_ksp(MPI_Comm comm, ::Mat a, const config::SolverSpec& spec, const std::string& prefix,
             Options options) {
  KSP ksp;
  KARMAN_PETSC(KSPCreate(comm, ksp.out()));
  KARMAN_PETSC(KSPSetOperators(ksp, a, a));
  configure_ksp(ksp, spec, prefix, options);
  return ksp;
}

void from_options(const std::function<void()>& set_from_options) {
  try {
    set_from_options();
  } catch (const ExternalError& e) {
    throw ConfigError("PETSc options (solver.options or the command line): " +
                      std::string(e.what()));
  }
}

}  // namespace karman::petsc
