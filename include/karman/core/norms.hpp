#pragma once
// Error norms between two distributed fields (each rank passes its owned part): the figures of
// report.json `metrics` and of `karman compare`.

#include <mpi.h>

#include <cstddef>
#include <vector>

namespace karman::mesh {
class FieldLayout;
}

namespace karman {

struct ErrorNorms {
  double rel_l2 = 0.0;   // ||a - b||_2 / ||b||_2 (absolute L2 when ||b|| = 0)
  double l2 = 0.0;       // ||a - b||_2 over all points (discrete, unweighted)
  double max_abs = 0.0;  // max |a - b|
  double reference_l2 = 0.0;
};

// Local, no communication: ||a - b||_2 / ||b||_2 over the `count` values from index `first` of
// both vectors (absolute L2 when ||b|| = 0), e.g. the error of one sample of a dataset.
double relative_l2(const std::vector<double>& approx, const std::vector<double>& reference,
                   std::size_t first, std::size_t count);

ErrorNorms error_norms(MPI_Comm comm, const std::vector<double>& approx,
                       const std::vector<double>& reference);

// The same for fields of a layout: `approx` and `reference` hold this rank's owned values of
// `components` stacked fields ([components, n_owned]); sums run over the layout's communicator.
// The norms are unweighted point sums, the same figures as the MPI_Comm overload.
ErrorNorms error_norms(const mesh::FieldLayout& layout, const std::vector<double>& approx,
                       const std::vector<double>& reference, int components = 1);

}  // namespace karman
