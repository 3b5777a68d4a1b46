#pragma once
// Scalar fields of a case evaluated on a structured grid's owned box (storage order of
// mesh::StructuredGrid): expressions, HDF5 datasets and random fields alike.

#include <vector>

#include "karman/config/case.hpp"
#include "karman/core/expression.hpp"
#include "karman/mesh/grid.hpp"

namespace karman::pde {

std::vector<double> evaluate(const mesh::StructuredGrid& grid, const Expression& e, double t = 0);
// Collective (file reads and random fields are collective over the grid's communicator).
std::vector<double> evaluate(const mesh::StructuredGrid& grid, const config::FieldSpec& field,
                             double t = 0);

}  // namespace karman::pde
