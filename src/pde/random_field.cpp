// Gaussian random fields by spectral synthesis (see random_field.hpp).
//
// Covariance sigma^2 (-Laplacian + tau^2)^(-alpha) on the box B = prod_d [lower_d, upper_d]:
//   u(x) = sum_{k != 0} sqrt(lambda_k) xi_k phi_k(x),
//   lambda_k = sigma^2 (|omega_k|^2 + tau^2)^(-alpha),
// with phi_k = prod_d phi_{k_d}(x_d) an L2(B)-orthonormal eigenbasis of the Laplacian (L = L_d):
//   Neumann:  phi_k(x) = c_k cos(pi k (x - lower)/L) / sqrt(L),  c_0 = 1, c_k = sqrt(2),
//             omega = pi k / L;
//   periodic: phi_k(x) = cas(2 pi k (x - lower)/L) / sqrt(L),  cas = cos + sin,
//             omega = 2 pi k' / L,
// where k' is the signed frequency (k for k <= m/2, k - m above). With L = 1 the Neumann field is
// sum_k sigma (pi^2 |k|^2 + tau^2)^(-alpha/2) xi_k prod_d c_{k_d} cos(pi k_d x_d): the FNO
// benchmark's GRF.m (orthonormal idct2 of s tau^(alpha-1) (pi^2 |k|^2 + tau^2)^(-alpha/2) xi, on a
// cell-centred grid) when sigma = tau^(alpha-1), the 2D default. The 1/sqrt(L) keeps the covariance
// that of the operator on the box, so the pointwise variance does not grow with the box size.
//
// Both sums are one FFTW r2r transform on m_d evenly spaced nodes per dimension:
//   DCT-I (REDFT00) on x_j = lower + j L/(m-1), j < m: Y_j = X_0 + (-1)^j X_{m-1}
//     + 2 sum_{0<k<m-1} X_k cos(pi j k/(m-1)), so X_k = a_k/2 for interior k and a_k at the ends;
//   DHT on x_j = lower + j L/m, j < m: Y_j = sum_k X_k cas(2 pi j k/m), so X_k = a_k.
// Normally m_d = n_d and the transform nodes are the grid's nodes. When the basis and the grid
// disagree on periodicity the field is still exact: a periodic field on a non-periodic grid uses
// m = n - 1 and repeats node 0 at x = upper; a Neumann field on a periodic grid uses m = n + 1 and
// drops the node at x = upper. Either way grid node j is transform node j % m.
#include "karman/pde/random_field.hpp"

#include <fftw3.h>
#include <mpi.h>

#include <climits>
#include <cmath>
#include <cstdint>

#include "karman/core/error.hpp"
#include "karman/core/random.hpp"

namespace karman::pde {

namespace {

// One dimension of the synthesis: transform length m (= number of modes), the FFTW kind, and
// per mode k < m the squared wavenumber |omega_k|^2 and the factor basis normalisation x FFTW
// input scaling, so that X_k = sqrt(lambda_k) xi_k prod_d factor_d(k_d).
struct Axis {
  long m = 1;
  fftw_r2r_kind kind = FFTW_DHT;
  std::vector<double> omega2{0.0}, factor{1.0};
};

Axis make_axis(const mesh::GridShape& shape, const config::RandomFieldSpec& spec, int d) {
  Axis a;
  if (d >= shape.dim) return a;  // unused dimension: the single mode 0, factor 1
  const double length = shape.upper[d] - shape.lower[d];
  const long n = shape.n[d];
  a.kind = spec.periodic ? FFTW_DHT : FFTW_REDFT00;
  if (spec.periodic)
    a.m = shape.periodic ? n : n - 1;
  else
    a.m = shape.periodic ? n + 1 : n;
  a.omega2.assign(a.m, 0.0);
  a.factor.assign(a.m, 1.0 / std::sqrt(length));
  for (long k = 0; k < a.m; ++k) {
    double omega;
    if (spec.periodic) {
      omega = 2.0 * M_PI * (k <= a.m / 2 ? k : k - a.m) / length;
    } else {
      omega = M_PI * k / length;
      const bool interior = k > 0 && k < a.m - 1;
      // c_k = sqrt(2) for k > 0; REDFT00 doubles interior inputs, hence the 1/2.
      a.factor[k] *= (k > 0 ? std::sqrt(2.0) : 1.0) * (interior ? 0.5 : 1.0);
    }
    a.omega2[k] = omega * omega;
  }
  return a;
}

void check(const mesh::GridShape& shape, const config::RandomFieldSpec& spec) {
  KARMAN_VERIFY(shape.dim >= 1 && shape.dim <= 3, "random field: dimension must be 1, 2 or 3");
  for (int d = 0; d < shape.dim; ++d)
    KARMAN_VERIFY(shape.n[d] >= 2, "random field: needs at least 2 nodes per dimension");
  KARMAN_VERIFY(spec.sigma > 0.0, "random field: sigma must be set (> 0) by the config reader");
  KARMAN_VERIFY(shape.size() <= INT_MAX, "random field: grid too large for one transform");
}

}  // namespace

std::vector<double> random_field_global(const mesh::GridShape& shape,
                                        const config::RandomFieldSpec& spec) {
  check(shape, spec);
  const Axis ax[3] = {make_axis(shape, spec, 0), make_axis(shape, spec, 1),
                      make_axis(shape, spec, 2)};
  const long m0 = ax[0].m, m1 = ax[1].m, m2 = ax[2].m;

  // Transform input X[(k2 m1 + k1) m0 + k0], shape [m2][m1][m0]. The counter of xi_k is this
  // linear mode index, so every mode's draw is fixed by (seed, k) alone.
  std::vector<double> t(static_cast<std::size_t>(m0 * m1 * m2));
  for (long k2 = 0; k2 < m2; ++k2)
    for (long k1 = 0; k1 < m1; ++k1)
      for (long k0 = 0; k0 < m0; ++k0) {
        const long idx = (k2 * m1 + k1) * m0 + k0;
        if (idx == 0) continue;  // mean mode dropped: zero-mean field
        const double w2 = ax[0].omega2[k0] + ax[1].omega2[k1] + ax[2].omega2[k2];
        const double amplitude = spec.sigma * std::pow(w2 + spec.tau * spec.tau, -0.5 * spec.alpha);
        t[idx] = amplitude * standard_normal(spec.seed, static_cast<std::uint64_t>(idx)) *
                 ax[0].factor[k0] * ax[1].factor[k1] * ax[2].factor[k2];
      }

  // In-place r2r over the used dimensions, C order [m_{dim-1}]...[m_0] (x fastest).
  int dims[3], r = 0;
  fftw_r2r_kind kinds[3];
  for (int d = shape.dim - 1; d >= 0; --d, ++r) {
    dims[r] = static_cast<int>(ax[d].m);
    kinds[r] = ax[d].kind;
  }
  fftw_plan plan = fftw_plan_r2r(shape.dim, dims, t.data(), t.data(), kinds, FFTW_ESTIMATE);
  if (!plan) throw ExternalError("FFTW", 0, "random field: fftw_plan_r2r failed");
  fftw_execute(plan);
  fftw_destroy_plan(plan);

  // Grid node j is transform node j % m (identity unless basis and grid periodicity differ).
  const long n0 = shape.n[0], n1 = shape.n[1], n2 = shape.n[2];
  std::vector<double> u(static_cast<std::size_t>(shape.size()));
  for (long k = 0; k < n2; ++k)
    for (long j = 0; j < n1; ++j)
      for (long i = 0; i < n0; ++i) {
        double v = t[((k % m2) * m1 + j % m1) * m0 + i % m0];
        if (spec.thresholded) v = v >= spec.threshold ? spec.above : spec.below;
        u[(k * n1 + j) * n0 + i] = v;
      }
  return u;
}

std::vector<double> random_field(const mesh::StructuredGrid& grid,
                                 const config::RandomFieldSpec& spec) {
  // Rank 0 synthesises the whole field and broadcasts it; each rank keeps its owned box. Simple
  // and trivially rank-count independent, but O(N) memory per rank: since the modes are
  // counter-based, a distributed FFT (fftw_mpi r2r on slabs) is the scalable next step.
  check(grid.shape(), spec);  // on every rank, so a bad input cannot leave ranks in MPI_Bcast
  int rank;
  MPI_Comm_rank(grid.comm(), &rank);
  std::vector<double> global;
  if (rank == 0)
    global = random_field_global(grid.shape(), spec);
  else
    global.resize(static_cast<std::size_t>(grid.shape().size()));
  MPI_Bcast(global.data(), static_cast<int>(global.size()), MPI_DOUBLE, 0, grid.comm());
  return grid.extract_owned(global);
}

}  // namespace karman::pde
