#pragma once
// kind: precond, a learned CG preconditioner timed against PETSc's PCs (float64 only: the GNN,
// its factor and the CG all run in PETSc's scalar type).

#include <memory>

#include "karman/run/method.hpp"

namespace karman::precond {

std::unique_ptr<run::Method> make_precond_method();

}  // namespace karman::precond
