#pragma once
// kind: mppde, the message-passing neural PDE solver on the E1/E2/E3 equation family (float32
// and float64).

#include <memory>

#include "karman/run/method.hpp"

namespace karman::mppde {

std::unique_ptr<run::Method> make_mppde_method();

}  // namespace karman::mppde
