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
//
// Distributed synthesis (random_field). The transform array X [m2][m1][m0] (x fastest) is
// transformed line by line, every line of an axis by the same FFTW 1-D plan on a contiguous copy,
// in two slab phases:
//   phase 1  slabs of the slowest used axis s = dim-1: each rank draws the modes of its slab (xi_k
//            is keyed on the global mode index, so no rank needs another's draws) and transforms
//            along the axes 0 .. dim-2, whose lines lie inside the slab;
//   transpose (MPI_Alltoallv) to slabs of axis t = dim-2, where the lines of axis s are whole;
//   phase 2  transform along s;
//   and a last MPI_Alltoallv to the grid's DMDA owned boxes (grid node j reads transform node
//   j % m, so a node repeated at x = upper may go to two ranks).
// Why bitwise the same on any rank count: a value's line along each axis holds the same inputs
// whatever the slabs are, and goes through a plan made with the same length, kind, flags
// (FFTW_ESTIMATE: no timing) and buffer alignment (fftw_malloc), that is the same codelets; the
// axes are always done in the order x, y, z. random_field_global does exactly this on one slab,
// so it is the serial twin, bit for bit (and equal to FFTW's multi-dimensional r2r plan on the
// shapes tested). The one way to break it would be FFTW wisdom from FFTW_MEASURE planning of the
// same 1-D size imported in some processes and not others; Karman neither makes nor imports any.
// Memory: a rank holds O(N/P) values plus one line (P capped by the slab axes' lengths); in 1D
// the whole field is one line, held by rank 0 until the last exchange.
#include "karman/pde/random_field.hpp"

#include <fftw3.h>
#include <mpi.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

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
using Axes = std::array<Axis, 3>;

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

Axes make_axes(const mesh::GridShape& shape, const config::RandomFieldSpec& spec) {
  return {make_axis(shape, spec, 0), make_axis(shape, spec, 1), make_axis(shape, spec, 2)};
}

void check(const mesh::GridShape& shape, const config::RandomFieldSpec& spec) {
  KARMAN_VERIFY(shape.dim >= 1 && shape.dim <= 3, "random field: dimension must be 1, 2 or 3");
  for (int d = 0; d < shape.dim; ++d)
    KARMAN_VERIFY(shape.n[d] >= 2 && shape.n[d] < INT_MAX,
                  "random field: needs 2 to INT_MAX - 1 nodes per dimension");
  KARMAN_VERIFY(spec.sigma > 0.0, "random field: sigma must be set (> 0) by the config reader");
}

// A box of transform nodes, [lo_d, hi_d) along each axis d (x first); its values are stored
// x fastest. An empty box has some hi_d <= lo_d.
struct Box {
  std::array<long, 3> lo{0, 0, 0}, hi{0, 0, 0};
  long extent(int d) const { return std::max(0L, hi[d] - lo[d]); }
  long size() const { return extent(0) * extent(1) * extent(2); }
  // Where transform node (i, j, k), inside the box, is stored.
  long offset(long i, long j, long k) const {
    return ((k - lo[2]) * extent(1) + (j - lo[1])) * extent(0) + (i - lo[0]);
  }
};

Box intersection(const Box& a, const Box& b) {
  Box c;
  for (int d = 0; d < 3; ++d) {
    c.lo[d] = std::max(a.lo[d], b.lo[d]);
    c.hi[d] = std::min(a.hi[d], b.hi[d]);
  }
  return c;
}

// The index range [first, last) of slab `part` of `parts` along an axis of length m: lengths
// differ by at most one, the larger first (parts beyond m are empty).
std::pair<long, long> slab_range(long m, int part, int parts) {
  const long base = m / parts, extra = m % parts;
  const long first = part * base + std::min<long>(part, extra);
  return {first, first + base + (part < extra ? 1 : 0)};
}

// The slab (of slab_range) holding index i < m.
int slab_of(long m, int parts, long i) {
  const long base = m / parts, extra = m % parts;
  if (i < extra * (base + 1)) return static_cast<int>(i / (base + 1));
  return static_cast<int>(extra + (i - extra * (base + 1)) / base);  // base > 0 here
}

// Slab `part` of the whole transform box split along `axis`; axis -1 puts the whole box in
// part 0 (1D: the field is a single line).
Box slab_box(const std::array<long, 3>& m, int axis, int part, int parts) {
  Box b;
  b.hi = m;
  if (axis < 0) {
    if (part != 0) b.hi = b.lo;
  } else {
    std::tie(b.lo[axis], b.hi[axis]) = slab_range(m[axis], part, parts);
  }
  return b;
}

// The bytes of field values, exchange buffers and FFTW scratch a rank holds at once (largest so
// far), as RandomFieldStats reports it.
class WorkingSet {
 public:
  void hold(std::size_t bytes) {
    m_live += bytes;
    m_peak = std::max(m_peak, m_live);
  }
  void release(std::size_t bytes) { m_live -= bytes; }
  std::size_t peak() const { return m_peak; }

 private:
  std::size_t m_live = 0, m_peak = 0;
};

std::size_t bytes_of(const std::vector<double>& v) { return v.capacity() * sizeof(double); }

// Frees v and takes it off the working set.
void discard(std::vector<double>& v, WorkingSet& ws) {
  ws.release(bytes_of(v));
  std::vector<double>().swap(v);
}

// X_k (see Axis) for the modes of `box`, x fastest. The counter of xi_k is the global linear
// mode index (k2 m1 + k1) m0 + k0, so a mode's draw is fixed by (seed, k) alone; the mean mode
// is dropped (zero-mean field).
std::vector<double> synthesise_modes(const Axes& ax, const Box& box,
                                     const config::RandomFieldSpec& spec) {
  std::vector<double> x(static_cast<std::size_t>(box.size()));
  const long m0 = ax[0].m, m1 = ax[1].m;
  for (long k2 = box.lo[2]; k2 < box.hi[2]; ++k2)
    for (long k1 = box.lo[1]; k1 < box.hi[1]; ++k1)
      for (long k0 = box.lo[0]; k0 < box.hi[0]; ++k0) {
        const long idx = (k2 * m1 + k1) * m0 + k0;
        if (idx == 0) continue;
        const double w2 = ax[0].omega2[k0] + ax[1].omega2[k1] + ax[2].omega2[k2];
        const double amplitude = spec.sigma * std::pow(w2 + spec.tau * spec.tau, -0.5 * spec.alpha);
        x[box.offset(k0, k1, k2)] = amplitude *
                                    standard_normal(spec.seed, static_cast<std::uint64_t>(idx)) *
                                    ax[0].factor[k0] * ax[1].factor[k1] * ax[2].factor[k2];
      }
  return x;
}

// One FFTW 1-D r2r plan and its aligned scratch line: every line of an axis is copied in,
// transformed by this one plan and copied back, so its values do not depend on where the line
// lies in memory (stride, alignment) and hence not on the rank count.
class LinePlan {
 public:
  explicit LinePlan(const Axis& axis) : m_n(axis.m) {
    m_line = static_cast<double*>(fftw_malloc(sizeof(double) * static_cast<std::size_t>(m_n)));
    if (!m_line) throw ExternalError("FFTW", 0, "random field: fftw_malloc failed");
    m_plan = fftw_plan_r2r_1d(static_cast<int>(m_n), m_line, m_line, axis.kind, FFTW_ESTIMATE);
    if (!m_plan) {
      fftw_free(m_line);
      throw ExternalError("FFTW", 0, "random field: fftw_plan_r2r_1d failed");
    }
  }
  ~LinePlan() {
    fftw_destroy_plan(m_plan);
    fftw_free(m_line);
  }
  LinePlan(const LinePlan&) = delete;
  LinePlan& operator=(const LinePlan&) = delete;

  std::size_t bytes() const { return sizeof(double) * static_cast<std::size_t>(m_n); }

  // The line of m values starting at `first`, `stride` apart, transformed in place.
  void transform(double* first, long stride) const {
    for (long i = 0; i < m_n; ++i) m_line[i] = first[i * stride];
    fftw_execute(m_plan);
    for (long i = 0; i < m_n; ++i) first[i * stride] = m_line[i];
  }

 private:
  long m_n;
  double* m_line = nullptr;
  fftw_plan m_plan = nullptr;
};

// Every line along axis d of the values of `box` (whose extent along d is the whole axis)
// transformed in place.
void transform_axis(std::vector<double>& values, const Box& box, const Axis& axis, int d,
                    WorkingSet& ws) {
  if (box.size() == 0) return;  // a rank beyond the slab axis' length
  KARMAN_VERIFY(box.extent(d) == axis.m, "random field: a transform line is split");
  LinePlan plan(axis);
  ws.hold(plan.bytes());
  const long stride = d == 0 ? 1 : d == 1 ? box.extent(0) : box.extent(0) * box.extent(1);
  for (long k = 0; k < (d == 2 ? 1 : box.extent(2)); ++k)
    for (long j = 0; j < (d == 1 ? 1 : box.extent(1)); ++j)
      for (long i = 0; i < (d == 0 ? 1 : box.extent(0)); ++i)
        plan.transform(values.data() + (k * box.extent(1) + j) * box.extent(0) + i, stride);
  ws.release(plan.bytes());
}

// Appends the values of sub-box `part` of `box` (stored x fastest) to `out`, x fastest.
void pack(const std::vector<double>& values, const Box& box, const Box& part,
          std::vector<double>& out) {
  for (long k = part.lo[2]; k < part.hi[2]; ++k)
    for (long j = part.lo[1]; j < part.hi[1]; ++j)
      for (long i = part.lo[0]; i < part.hi[0]; ++i) out.push_back(values[box.offset(i, j, k)]);
}

int to_int(long n) {
  KARMAN_VERIFY(n >= 0 && n <= INT_MAX, "random field: an exchange exceeds INT_MAX values");
  return static_cast<int>(n);
}

// MPI_Alltoallv of doubles: send[] holds counts send_counts[r] for rank r in rank order, recv
// receives recv_counts[r] from rank r in rank order.
void exchange(MPI_Comm comm, const std::vector<double>& send, const std::vector<long>& send_counts,
              double* recv, const std::vector<long>& recv_counts) {
  const std::size_t ranks = send_counts.size();
  std::vector<int> sc(ranks), sd(ranks), rc(ranks), rd(ranks);
  long s = 0, r = 0;
  for (std::size_t p = 0; p < ranks; ++p) {
    sc[p] = to_int(send_counts[p]);
    sd[p] = to_int(s);
    rc[p] = to_int(recv_counts[p]);
    rd[p] = to_int(r);
    s += send_counts[p];
    r += recv_counts[p];
  }
  to_int(s);
  to_int(r);
  const int err = MPI_Alltoallv(send.data(), sc.data(), sd.data(), MPI_DOUBLE, recv, rc.data(),
                                rd.data(), MPI_DOUBLE, comm);
  if (err != MPI_SUCCESS) throw ExternalError("MPI", err, "random field: MPI_Alltoallv failed");
}

// The phase-1 slabs (of axis s) to the phase-2 slabs (of axis t). What rank p sends here is the
// part of p's slab inside this rank's: the range of p's indices along s, the slowest axis with
// extent above 1, so it is a contiguous run of this rank's storage and arrives in place.
std::vector<double> transpose(std::vector<double>& from, const std::array<long, 3>& m, int s, int t,
                              MPI_Comm comm, WorkingSet& ws) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  const Box mine1 = slab_box(m, s, rank, ranks), mine2 = slab_box(m, t, rank, ranks);
  std::vector<long> send_counts(ranks), recv_counts(ranks);
  std::vector<double> send;
  send.reserve(static_cast<std::size_t>(mine1.size()));
  ws.hold(bytes_of(send));
  for (int q = 0; q < ranks; ++q) {
    const Box part = intersection(mine1, slab_box(m, t, q, ranks));
    send_counts[q] = part.size();
    pack(from, mine1, part, send);
    recv_counts[q] = intersection(slab_box(m, s, q, ranks), mine2).size();
  }
  discard(from, ws);
  std::vector<double> to(static_cast<std::size_t>(mine2.size()));
  ws.hold(bytes_of(to));
  exchange(comm, send, send_counts, to.data(), recv_counts);
  discard(send, ws);
  return to;
}

// The grid indices g in [start, start + count) whose transform node g % m lies in [lo, hi).
std::vector<long> indices_within(long start, long count, long m, long lo, long hi) {
  std::vector<long> out;
  for (long g = start; g < start + count; ++g)
    if (g % m >= lo && g % m < hi) out.push_back(g);
  return out;
}

// The phase-2 slabs (of axis t) to the grid's owned boxes, grid node g reading transform node
// g % m. Rank r gets from this rank the nodes of r's box that this rank's slab holds, in r's
// storage order; r then takes its nodes from each source in that same order.
std::vector<double> to_owned_boxes(std::vector<double>& from, const std::array<long, 3>& m, int t,
                                   const mesh::StructuredGrid& grid, WorkingSet& ws) {
  MPI_Comm comm = grid.comm();
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  const Box mine2 = slab_box(m, t, rank, ranks);
  // Every rank's owned box: start then count, x first.
  std::array<long, 6> own{};
  for (int d = 0; d < 3; ++d) {
    own[d] = grid.start()[d];
    own[3 + d] = grid.count()[d];
  }
  std::vector<long> boxes(6 * static_cast<std::size_t>(ranks));
  MPI_Allgather(own.data(), 6, MPI_LONG, boxes.data(), 6, MPI_LONG, comm);

  // The nodes of rank r's box that this rank's slab holds: per axis, the grid indices.
  const auto wanted_by = [&](int r) {
    const long* box = &boxes[6 * static_cast<std::size_t>(r)];
    std::array<std::vector<long>, 3> idx;
    for (int d = 0; d < 3; ++d)
      idx[d] = indices_within(box[d], box[3 + d], m[d], mine2.lo[d], mine2.hi[d]);
    return idx;
  };
  std::vector<long> send_counts(ranks), recv_counts(ranks, 0);
  long total = 0;
  for (int r = 0; r < ranks; ++r) {
    const auto idx = wanted_by(r);
    send_counts[r] = static_cast<long>(idx[0].size() * idx[1].size() * idx[2].size());
    total += send_counts[r];
  }
  std::vector<double> send;
  send.reserve(static_cast<std::size_t>(total));
  ws.hold(bytes_of(send));
  for (int r = 0; r < ranks; ++r) {
    const auto idx = wanted_by(r);
    for (long k : idx[2])
      for (long j : idx[1])
        for (long i : idx[0]) send.push_back(from[mine2.offset(i % m[0], j % m[1], k % m[2])]);
  }
  discard(from, ws);

  // An owned node comes from the slab of its transform node along t (rank 0 in 1D), so its
  // source depends only on its index a < count_t along t.
  const long count_t = t < 0 ? 1 : grid.count()[t];
  std::vector<int> from_slab(static_cast<std::size_t>(count_t), 0);
  if (t >= 0)
    for (long a = 0; a < count_t; ++a)
      from_slab[a] = slab_of(m[t], ranks, (grid.start()[t] + a) % m[t]);
  const long plane = grid.local_size() / count_t;
  for (int p : from_slab) recv_counts[p] += plane;

  std::vector<double> recv(static_cast<std::size_t>(grid.local_size()));
  ws.hold(bytes_of(recv));
  exchange(comm, send, send_counts, recv.data(), recv_counts);
  discard(send, ws);

  std::vector<long> cursor(ranks, 0);
  for (int p = 1; p < ranks; ++p) cursor[p] = cursor[p - 1] + recv_counts[p - 1];
  std::vector<double> owned(static_cast<std::size_t>(grid.local_size()));
  ws.hold(bytes_of(owned));
  const auto& count = grid.count();
  std::size_t n = 0;
  for (long k = 0; k < count[2]; ++k)
    for (long j = 0; j < count[1]; ++j)
      for (long i = 0; i < count[0]; ++i) {
        const long a = t == 2 ? k : t == 1 ? j : t == 0 ? i : 0;
        owned[n++] = recv[static_cast<std::size_t>(cursor[from_slab[a]]++)];
      }
  discard(recv, ws);
  return owned;
}

void apply_threshold(std::vector<double>& u, const config::RandomFieldSpec& spec) {
  if (!spec.thresholded) return;
  for (double& v : u) v = v >= spec.threshold ? spec.above : spec.below;
}

}  // namespace

std::vector<double> random_field_global(const mesh::GridShape& shape,
                                        const config::RandomFieldSpec& spec) {
  check(shape, spec);
  const Axes ax = make_axes(shape, spec);
  const std::array<long, 3> m{ax[0].m, ax[1].m, ax[2].m};
  const Box all = slab_box(m, -1, 0, 1);
  WorkingSet unused;
  std::vector<double> t = synthesise_modes(ax, all, spec);
  for (int d = 0; d < shape.dim; ++d) transform_axis(t, all, ax[d], d, unused);

  // Grid node j is transform node j % m (identity unless basis and grid periodicity differ).
  const long n0 = shape.n[0], n1 = shape.n[1], n2 = shape.n[2];
  std::vector<double> u(static_cast<std::size_t>(shape.size()));
  for (long k = 0; k < n2; ++k)
    for (long j = 0; j < n1; ++j)
      for (long i = 0; i < n0; ++i)
        u[(k * n1 + j) * n0 + i] = t[all.offset(i % m[0], j % m[1], k % m[2])];
  apply_threshold(u, spec);
  return u;
}

std::vector<double> random_field(const mesh::StructuredGrid& grid,
                                 const config::RandomFieldSpec& spec, RandomFieldStats* stats) {
  const mesh::GridShape& shape = grid.shape();
  check(shape, spec);
  const Axes ax = make_axes(shape, spec);
  const std::array<long, 3> m{ax[0].m, ax[1].m, ax[2].m};
  const int s = shape.dim >= 2 ? shape.dim - 1 : -1;  // phase-1 slab axis (none in 1D)
  const int t = shape.dim - 2;                        // phase-2 slab axis (-1: none)
  const int last = shape.dim - 1;                     // the axis transformed in phase 2
  int rank, ranks;
  MPI_Comm_rank(grid.comm(), &rank);
  MPI_Comm_size(grid.comm(), &ranks);
  WorkingSet ws;

  const Box mine1 = slab_box(m, s, rank, ranks);
  std::vector<double> values = synthesise_modes(ax, mine1, spec);
  ws.hold(bytes_of(values));
  for (int d = 0; d < last; ++d) transform_axis(values, mine1, ax[d], d, ws);

  values = transpose(values, m, s, t, grid.comm(), ws);
  transform_axis(values, slab_box(m, t, rank, ranks), ax[last], last, ws);

  std::vector<double> owned = to_owned_boxes(values, m, t, grid, ws);
  apply_threshold(owned, spec);
  if (stats) stats->peak_bytes = ws.peak();
  return owned;
}

}  // namespace karman::pde
