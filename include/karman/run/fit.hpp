#pragma once
// kind: fit, an MLP regression of an expression: the NN core's end-to-end check (float64 and
// float32).

#include <memory>

#include "karman/run/method.hpp"

namespace karman::run {

std::unique_ptr<Method> make_fit_method();

}  // namespace karman::run
