#pragma once
// kind: pinn, a physics-informed network for a case's PDE, compared with the PETSc reference
// (float64 and float32).

#include <memory>

#include "karman/run/method.hpp"

namespace karman::pinn {

std::unique_ptr<run::Method> make_pinn_method();

}  // namespace karman::pinn
