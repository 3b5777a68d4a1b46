#pragma once
// Gaussian random fields on a structured grid: u = sum_k sqrt(lambda_k) xi_k phi_k(x), with
// lambda_k = sigma^2 (|omega_k|^2 + tau^2)^(-alpha), xi_k ~ N(0, 1) and phi_k an orthonormal
// eigenbasis of the Laplacian on the box: cosines (Neumann) or Hartley "cas" products (periodic).
// The mean mode is dropped (zero-mean field). Each xi_k is drawn from a counter-based generator
// keyed on (seed, k), so a field is reproducible for a seed and independent of the rank count.

#include <vector>

#include "karman/config/case.hpp"
#include "karman/mesh/grid.hpp"

namespace karman::pde {

// The whole field in natural order (x fastest), computed with serial FFTW.
std::vector<double> random_field_global(const mesh::GridShape& shape,
                                        const config::RandomFieldSpec& spec);

// This rank's owned box of the same field (collective over the grid's communicator).
std::vector<double> random_field(const mesh::StructuredGrid& grid,
                                 const config::RandomFieldSpec& spec);

}  // namespace karman::pde
