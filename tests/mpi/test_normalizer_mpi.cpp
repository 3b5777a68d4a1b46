// Gaussian normaliser: fitted over all ranks' rows it gives the statistics of the whole data set
// (so the encoded data has mean 0 and std 1 globally), decode inverts encode, decode_backward and
// encode_backward are the derivatives of decode and encode, and the statistics survive a
// checkpoint. Runs at 1 and 2 ranks.
#include <gtest/gtest.h>

#include <cmath>

#include "karman/core/error.hpp"
#include "karman/core/random.hpp"
#include "karman/nn/normalizer.hpp"
#include "support/kokkos_env.hpp"

using namespace karman;
using namespace karman::nn;

namespace {

// Rows [first, first+count) of a 101×3 data set with column scales 1, 10, 1000 and offsets.
Matrix<double> my_rows(MPI_Comm comm) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const long total = 101, first = total * rank / size, count = total * (rank + 1) / size - first;
  Matrix<double> m("data", count, 3);
  auto h = Kokkos::create_mirror_view(m);
  for (long i = 0; i < count; ++i)
    for (int j = 0; j < 3; ++j)
      h(i, j) = std::pow(10.0, 2 * j) * standard_normal(5, 3 * (first + i) + j) + 7.0 * j;
  Kokkos::deep_copy(m, h);
  return m;
}

}  // namespace

TEST(GaussianNormalizer, StatisticsAreGlobalAndEncodeDecodeRoundTrips) {
  GaussianNormalizer<double> world("input", 0.0), self("input", 0.0);
  world.fit(MPI_COMM_WORLD, my_rows(MPI_COMM_WORLD));
  self.fit(MPI_COMM_SELF, my_rows(MPI_COMM_SELF));  // on one rank: the whole data set
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  auto wm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), world.mean());
  auto ws = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), world.std());
  if (size == 1) {
    auto sm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), self.mean());
    for (int j = 0; j < 3; ++j) EXPECT_EQ(wm(j), sm(j));
  }
  // Encoded rows over all ranks: mean 0, std 1 per column.
  Matrix<double> x = my_rows(MPI_COMM_WORLD), encoded("e", x.extent(0), 3),
                 decoded("d", x.extent(0), 3);
  world.encode(x, encoded);
  auto he = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), encoded);
  double sums[7] = {0, 0, 0, 0, 0, 0, static_cast<double>(x.extent(0))};
  for (std::size_t i = 0; i < he.extent(0); ++i)
    for (int j = 0; j < 3; ++j) sums[j] += he(i, j), sums[3 + j] += he(i, j) * he(i, j);
  MPI_Allreduce(MPI_IN_PLACE, sums, 7, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  for (int j = 0; j < 3; ++j) {
    EXPECT_NEAR(sums[j] / sums[6], 0.0, 1e-12);
    EXPECT_NEAR(sums[3 + j] / sums[6], 1.0, 1e-12);
    EXPECT_GT(ws(j), 0.5 * std::pow(10.0, 2 * j));
  }
  world.decode(encoded, decoded);
  auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  auto hd = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), decoded);
  for (std::size_t i = 0; i < hx.extent(0); ++i)
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(hd(i, j), hx(i, j), 1e-12 * std::pow(10.0, 2 * j));
}

// Central difference of Σ map(x) in x_j against the backward (both maps are affine: exact up to
// round-off); `map` is encode or decode, `backward` its derivative.
template <class Map, class Backward>
void check_derivative(Map map, Backward backward) {
  Matrix<double> x("x", 1, 3), y("y", 1, 3), dy("dy", 1, 3), dx("dx", 1, 3);
  Kokkos::deep_copy(dy, 1.0);
  backward(dy, dx);
  auto hdx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), dx);
  for (int j = 0; j < 3; ++j) {
    auto hx = Kokkos::create_mirror_view(x);
    auto sum_mapped = [&](double h) {
      for (int k = 0; k < 3; ++k) hx(0, k) = k == j ? h : 0.0;
      Kokkos::deep_copy(x, hx);
      map(x, y);
      auto hy = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y);
      return hy(0, 0) + hy(0, 1) + hy(0, 2);
    };
    const double numeric = (sum_mapped(1e-3) - sum_mapped(-1e-3)) / 2e-3;
    EXPECT_NEAR(hdx(0, j), numeric, 1e-7 * std::abs(numeric));
  }
}

TEST(GaussianNormalizer, DecodeBackwardIsTheDerivative) {
  GaussianNormalizer<double> n("output");
  n.fit(MPI_COMM_WORLD, my_rows(MPI_COMM_WORLD));
  check_derivative([&](const auto& x, const auto& y) { n.decode(x, y); },
                   [&](const auto& dy, const auto& dx) { n.decode_backward(dy, dx); });
}

TEST(GaussianNormalizer, EncodeBackwardIsTheDerivative) {
  GaussianNormalizer<double> n("input");
  n.fit(MPI_COMM_WORLD, my_rows(MPI_COMM_WORLD));
  check_derivative([&](const auto& x, const auto& y) { n.encode(x, y); },
                   [&](const auto& dy, const auto& dx) { n.encode_backward(dy, dx); });
}

TEST(GaussianNormalizer, SurvivesACheckpoint) {
  GaussianNormalizer<double> a("input"), b("input");
  a.fit(MPI_COMM_WORLD, my_rows(MPI_COMM_WORLD));
  Checkpoint c;
  a.store(c);
  b.restore(c, "memory");
  auto am = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), a.std());
  auto bm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b.std());
  for (int j = 0; j < 3; ++j) EXPECT_EQ(am(j), bm(j));
  GaussianNormalizer<double> other("target");
  EXPECT_THROW(other.restore(c, "memory"), ConfigError);
}
