#pragma once
// kind: dataset, an operator-learning dataset of PETSc solves (float64: PETSc's scalar type, and
// the stored HDF5 samples).

#include <memory>

#include "karman/run/method.hpp"

namespace karman::fno {

std::unique_ptr<run::Method> make_dataset_method();

}  // namespace karman::fno
