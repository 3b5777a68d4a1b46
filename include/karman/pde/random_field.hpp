#pragma once
// Gaussian random fields on a structured grid: u = sum_k sqrt(lambda_k) xi_k phi_k(x), with
// lambda_k = sigma^2 (|omega_k|^2 + tau^2)^(-alpha), xi_k ~ N(0, 1) and phi_k an orthonormal
// eigenbasis of the Laplacian on the box: cosines (Neumann) or Hartley "cas" products (periodic).
// The mean mode is dropped (zero-mean field). Each xi_k is drawn from a counter-based generator
// keyed on (seed, k), so a field is reproducible for a seed and independent of the rank count.

#include <cstddef>
#include <vector>

#include "karman/config/case.hpp"
#include "karman/mesh/grid.hpp"

namespace karman::pde {

// The whole field in natural order (x fastest), computed serially: the reference twin of
// random_field, bitwise equal to it (for per-sample fields of datasets and small grids).
std::vector<double> random_field_global(const mesh::GridShape& shape,
                                        const config::RandomFieldSpec& spec);

// What random_field held on the calling rank: the largest number of bytes of field values,
// exchange buffers and FFTW scratch alive at once. With P ranks it is about 1/P of the one-rank
// figure (plus one transform line), as the field is never whole on any rank (except in 1D, where
// it is a single line).
struct RandomFieldStats {
  std::size_t peak_bytes = 0;
};

// This rank's owned box of the same field, bitwise the same on any rank count (collective over
// the grid's communicator: a distributed transform, see random_field.cpp). `stats`, when given,
// receives this rank's working set.
std::vector<double> random_field(const mesh::StructuredGrid& grid,
                                 const config::RandomFieldSpec& spec,
                                 RandomFieldStats* stats = nullptr);

}  // namespace karman::pde
