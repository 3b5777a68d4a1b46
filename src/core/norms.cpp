#include "karman/core/norms.hpp"

#include <cmath>

#include "karman/core/error.hpp"
#include "karman/mesh/layout.hpp"

namespace karman {

double relative_l2(const std::vector<double>& approx, const std::vector<double>& reference,
                   std::size_t first, std::size_t count) {
  KARMAN_VERIFY(first + count <= approx.size() && first + count <= reference.size(),
                "relative_l2: the range exceeds a vector");
  double error = 0.0, norm = 0.0;
  for (std::size_t i = first; i < first + count; ++i) {
    const double d = approx[i] - reference[i];
    error += d * d;
    norm += reference[i] * reference[i];
  }
  return norm > 0.0 ? std::sqrt(error / norm) : std::sqrt(error);
}

ErrorNorms error_norms(MPI_Comm comm, const std::vector<double>& approx,
                       const std::vector<double>& reference) {
  KARMAN_VERIFY(approx.size() == reference.size(), "error_norms: sizes differ");
  double local[2] = {0.0, 0.0}, local_max = 0.0;
  for (std::size_t i = 0; i < approx.size(); ++i) {
    const double d = approx[i] - reference[i];
    local[0] += d * d;
    local[1] += reference[i] * reference[i];
    local_max = std::max(local_max, std::abs(d));
  }
  double sums[2], global_max;
  MPI_Allreduce(local, sums, 2, MPI_DOUBLE, MPI_SUM, comm);
  MPI_Allreduce(&local_max, &global_max, 1, MPI_DOUBLE, MPI_MAX, comm);
  ErrorNorms out;
  out.l2 = std::sqrt(sums[0]);
  out.reference_l2 = std::sqrt(sums[1]);
  out.rel_l2 = out.reference_l2 > 0.0 ? out.l2 / out.reference_l2 : out.l2;
  out.max_abs = global_max;
  return out;
}

ErrorNorms error_norms(const mesh::FieldLayout& layout, const std::vector<double>& approx,
                       const std::vector<double>& reference, int components) {
  KARMAN_VERIFY(static_cast<long>(approx.size()) == components * layout.owned_count(),
                "error_norms: values are not the layout's owned points");
  return error_norms(layout.comm(), approx, reference);
}

}  // namespace karman
