#pragma once
// kind: precond, a learned CG preconditioner timed against PETSc's PCs (float64 only: the GNN,
// its factor and the CG all run in PETSc's scalar type).

#include <memory>

#include "karman/run/method.hpp"

namespace karman::precond {

std::unique_ptr<run::Method> make_precond_method();

// kind: dcdm, the Deep Conjugate Direction Method's FNO direction map trained on the obstacle
// Poisson problem and timed against PETSc's CG PCs (dcdm_runner.cpp; float64, one rank).
std::unique_ptr<run::Method> make_dcdm_method();

}  // namespace karman::precond
