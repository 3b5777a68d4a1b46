// Instance normalisation over ranks (nn/instance_norm.hpp with a communicator), at 1 and 2 ranks:
// 3 instances of 150 global rows; each rank holds, per instance, the rows it owns (every P-th
// row, P ranks) followed by 5 halo copies of other ranks' rows (of its own at 1 rank). Every
// local row's output equals the serial output of its global row, and the input gradient, with a
// halo row's dx added to its owner (what the halo exchange's backward does), equals the serial
// gradient of the same loss (dy of a global row = the sum of its copies' dy), to 1e-12, in
// float64; float32 agrees to 1e-5.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "karman/core/random.hpp"
#include "karman/nn/instance_norm.hpp"
#include "karman/nn/network.hpp"
#include "support/kokkos_env.hpp"
#include "support/mpi_world.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::nn;
using karman::testing::relative_error;
using karman::testing::to_vector;

namespace {

constexpr std::size_t kInstances = 3, kGlobalRows = 150, kWidth = 4, kHalo = 5;

// The global row of each local row of one instance: owned rows p, p + P, ..., then kHalo halo
// rows just after the last owned one (modulo the instance).
struct Partition {
  std::vector<std::size_t> local_to_global;
  std::size_t owned = 0;
};

Partition partition(int rank, int size) {
  Partition p;
  for (std::size_t g = rank; g < kGlobalRows; g += size) p.local_to_global.push_back(g);
  p.owned = p.local_to_global.size();
  for (std::size_t k = 1; k <= kHalo; ++k)
    p.local_to_global.push_back((p.local_to_global[p.owned - 1] + k) % kGlobalRows);
  return p;
}

double global_x(std::size_t b, std::size_t g, std::size_t j) {
  return 1.5 + 2.0 * standard_normal(21, (b * kGlobalRows + g) * kWidth + j);
}

// A local copy's dy: keyed by the rank too, so the copies of a row differ.
double local_dy(int rank, std::size_t b, std::size_t local, std::size_t j) {
  return standard_normal(22 + rank, (b * kGlobalRows + local) * kWidth + j);
}

template <class T>
Matrix<T> matrix_of(const std::vector<double>& values, std::size_t rows) {
  Matrix<T> m("m", rows, kWidth);
  auto host = Kokkos::create_mirror_view(m);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < kWidth; ++j) host(i, j) = static_cast<T>(values[i * kWidth + j]);
  Kokkos::deep_copy(m, host);
  return m;
}

template <class T>
void expect_distributed_equals_serial(double tolerance) {
  const int rank = test::world_rank(), size = test::world_size();
  const Partition p = partition(rank, size);
  const std::size_t local_rows = p.local_to_global.size();

  // Local x, dy [B·R_local, W]; the serial dy sums every copy's dy over the ranks.
  std::vector<double> x(kInstances * local_rows * kWidth), dy(x.size());
  std::vector<double> serial_x(kInstances * kGlobalRows * kWidth), serial_dy(serial_x.size(), 0.0);
  for (std::size_t b = 0; b < kInstances; ++b) {
    for (std::size_t g = 0; g < kGlobalRows; ++g)
      for (std::size_t j = 0; j < kWidth; ++j)
        serial_x[(b * kGlobalRows + g) * kWidth + j] = global_x(b, g, j);
    for (std::size_t l = 0; l < local_rows; ++l)
      for (std::size_t j = 0; j < kWidth; ++j) {
        const std::size_t g = p.local_to_global[l], at = (b * local_rows + l) * kWidth + j;
        x[at] = global_x(b, g, j);
        dy[at] = local_dy(rank, b, l, j);
        serial_dy[(b * kGlobalRows + g) * kWidth + j] += dy[at];
      }
  }
  MPI_Allreduce(MPI_IN_PLACE, serial_dy.data(), static_cast<int>(serial_dy.size()), MPI_DOUBLE,
                MPI_SUM, test::world());

  auto distributed = std::make_unique<InstanceNorm<T>>(InstanceNormOptions{kWidth});
  distributed->set_instance_rows(local_rows);
  distributed->set_owned_rows(p.owned);
  distributed->set_communicator(test::world());
  Network<T> net(std::move(distributed), 1);
  Context<T>& c = net.forward(matrix_of<T>(x, kInstances * local_rows));
  const std::vector<double> y = to_vector(c.y);
  const std::vector<double> dx = to_vector(net.backward(c, matrix_of<T>(dy, y.size() / kWidth)));

  auto serial_norm = std::make_unique<InstanceNorm<T>>(InstanceNormOptions{kWidth});
  serial_norm->set_instance_rows(kGlobalRows);
  Network<T> serial(std::move(serial_norm), 1);
  Context<T>& s = serial.forward(matrix_of<T>(serial_x, kInstances * kGlobalRows));
  const std::vector<double> serial_y = to_vector(s.y);
  const std::vector<double> serial_dx =
      to_vector(serial.backward(s, matrix_of<T>(serial_dy, kInstances * kGlobalRows)));

  // Outputs row by row; the input gradient gathered onto the global rows over the ranks.
  std::vector<double> expected_y(y.size()), gathered_dx(serial_dx.size(), 0.0);
  for (std::size_t b = 0; b < kInstances; ++b)
    for (std::size_t l = 0; l < local_rows; ++l)
      for (std::size_t j = 0; j < kWidth; ++j) {
        const std::size_t g = p.local_to_global[l], at = (b * local_rows + l) * kWidth + j;
        expected_y[at] = serial_y[(b * kGlobalRows + g) * kWidth + j];
        gathered_dx[(b * kGlobalRows + g) * kWidth + j] += dx[at];
      }
  MPI_Allreduce(MPI_IN_PLACE, gathered_dx.data(), static_cast<int>(gathered_dx.size()), MPI_DOUBLE,
                MPI_SUM, test::world());
  EXPECT_LT(relative_error(y, expected_y), tolerance) << "outputs on rank " << rank;
  EXPECT_LT(relative_error(gathered_dx, serial_dx), tolerance) << "input gradient";
}

}  // namespace

TEST(InstanceNormRanks, DistributedEqualsSerialDouble) {
  expect_distributed_equals_serial<double>(1e-12);
}

TEST(InstanceNormRanks, DistributedEqualsSerialFloat) {
  expect_distributed_equals_serial<float>(1e-5);
}
