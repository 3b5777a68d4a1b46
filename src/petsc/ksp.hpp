#pragma once
// One way to set up a KSP: the types and tolerances of a case's `solver` section (or a fixed
// choice of the code, written in the same form), then PETSc's options database under the KSP's
// options prefix, so that command-line options win over the case.
//   petsc::KSP ksp = petsc::make_ksp(comm, A, case.solver);             // -ksp_type ... reach it
//   petsc::KSP p = petsc::make_ksp(comm, A, solver("cg", "gamg", 1e-8), "pressure_");

#include <mpi.h>
#include <petscksp.h>

#include <functional>
#include <string>

#include "handle.hpp"
#include "karman/config/case.hpp"

namespace karman::petsc {

// Whether the options database (command line, solver.options) is read after the code's settings.
// Training solves ignore it, so that a user's -ksp_ flags cannot change a trained model.
enum class Options { read, ignore };

// A solver chosen by the code rather than by a case; atol and max_it default to PETSc's own.
config::SolverSpec solver(const std::string& ksp, const std::string& pc, double rtol,
                          double atol = 1e-50, long max_it = 10000);

// Sets `ksp` to the KSP and PC types and the tolerances (rtol, atol, max_it) of `spec`, with the
// options prefix `prefix` (none when empty: a KSP inside a TS or SNES keeps its parent's). With
// Options::read, spec.options then enter the database under that prefix unless the command line
// already set them, and KSPSetFromOptions reads them; a bad option is a ConfigError.
void configure_ksp(::KSP ksp, const config::SolverSpec& spec, const std::string& prefix = "",
                   Options options = Options::read);

// A new KSP on `comm` for the operator `a` (also the matrix the PC is built from), configured by
// configure_ksp.
KSP make_ksp(MPI_Comm comm, ::Mat a, const config::SolverSpec& spec, const std::string& prefix = "",
             Options options = Options::read);

// Runs a *SetFromOptions call (KSP, SNES, TS); PETSc's complaint about an option becomes a
// ConfigError, since every rank reads the same options: it is the user's input.
void from_options(const std::function<void()>& set_from_options);

}  // namespace karman::petsc
