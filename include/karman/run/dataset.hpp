#pragma once
// kind: dataset, an operator-learning dataset of PETSc solves (float64: PETSc's scalar type, and
// the stored HDF5 samples; karman/data/operator_dataset.hpp).

#include <memory>

#include "karman/run/method.hpp"

namespace karman::run {

std::unique_ptr<Method> make_dataset_method();

}  // namespace karman::run
