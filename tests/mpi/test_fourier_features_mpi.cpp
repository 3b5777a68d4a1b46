// The fixed Fourier matrix B and every initial weight of a Fourier-feature network are the same
// on every rank (they come from counter-based streams of the seeds, never from the rank), so a
// data-parallel run starts from one model whatever the rank count. Runs at 1 and 2 ranks.
#include <gtest/gtest.h>
#include <mpi.h>

#include <vector>

#include "karman/nn/architecture.hpp"
#include "karman/nn/fourier_features.hpp"
#include "karman/nn/network.hpp"
#include "support/kokkos_env.hpp"

using namespace karman;
using namespace karman::nn;

namespace {

// Whether every rank holds the same `values` (entrywise min and max over ranks agree).
bool same_on_every_rank(std::vector<double> values) {
  std::vector<double> low(values.size()), high(values.size());
  MPI_Allreduce(values.data(), low.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_MIN,
                MPI_COMM_WORLD);
  MPI_Allreduce(values.data(), high.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_MAX,
                MPI_COMM_WORLD);
  return low == high && low == values;
}

template <class V>
std::vector<double> host_values(const V& view) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(h.data(), h.data() + h.size());
}

}  // namespace

TEST(FourierFeaturesMpi, MatrixAndWeightsAreTheSameOnEveryRank) {
  MlpSpec spec;
  spec.architecture = Architecture::modified_mlp;
  spec.hidden = {16, 16};
  spec.seed = 3;
  spec.fourier.count = 32;
  spec.fourier.scale = 4.0;
  spec.fourier.seed = 11;
  const FourierFeatures<double> embedding(2, spec.fourier);
  const std::vector<double> b = host_values(embedding.frequencies());
  EXPECT_TRUE(same_on_every_rank(b));
  Network<double> net(make_network<double>(spec, 2, 1), spec.seed);
  EXPECT_TRUE(same_on_every_rank(host_values(net.parameters().values())));
  // Built again from the same options: the same B (no state outside the seed).
  const FourierFeatures<double> again(2, spec.fourier);
  EXPECT_EQ(host_values(again.frequencies()), b);
}
