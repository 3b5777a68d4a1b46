#pragma once
// kind: fno, a Fourier neural operator trained on a PETSc-made dataset (float32 and float64).

#include <memory>

#include "karman/run/method.hpp"

namespace karman::fno {

std::unique_ptr<run::Method> make_fno_method();

}  // namespace karman::fno
