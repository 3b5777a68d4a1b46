#pragma once
// kind: reference, the PETSc solve of a case's PDE on its own (float64: PETSc's scalar type).

#include <memory>

#include "karman/run/method.hpp"

namespace karman::run {

std::unique_ptr<Method> make_reference_method();

}  // namespace karman::run
