// Reproducible data parallelism (karman/nn/chunked_loss.hpp): the summation tree's covers split
// [0, C) into whole tree nodes for any rank count; a chunk's GEMMs give the same bits wherever its
// rows sit in memory (libxsmm row blocks, BLAS packing, alignment); the chunked sum over the ranks
// is bitwise the one-rank sum (and the plain one-batch loss to round-off); and Adam then L-BFGS
// training with a chunked loss gives bitwise the one-rank loss history and weights, on every
// rank.
// Runs at 1 and 2 ranks: each rank also runs the one-rank computation on MPI_COMM_SELF.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "karman/core/partition.hpp"
#include "karman/core/random.hpp"
#include "karman/nn/chunked_loss.hpp"
#include "karman/nn/gemm.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/sequential.hpp"
#include "karman/nn/trainer.hpp"
#include "support/kokkos_env.hpp"

using namespace karman;
using namespace karman::nn;

namespace {

constexpr long kSamples = 203;  // not a multiple of the chunk counts: chunks of unequal sizes

// y = sin(3x₀)·x₁ on counter-based random points; chunk c holds rows share(kSamples, c, chunks).
// `comm` decides which chunks this process evaluates (all of them on MPI_COMM_SELF).
struct ChunkedProblem {
  Network<double> net;
  long chunks, samples, first;
  std::vector<Matrix<double>> x, y, dy;  // [chunks of this rank] [rows, 2], [rows, 1], [rows, 1]

  ChunkedProblem(MPI_Comm comm, long chunk_count, std::vector<std::size_t> widths = {2, 16, 16, 1},
                 long sample_count = kSamples)
      : net(make_mlp<double>(widths, Activation::tanh), 3),
        chunks(chunk_count),
        samples(sample_count) {
    long count;
    std::tie(first, count) = my_share(comm, chunks);
    for (long c = first; c < first + count; ++c) {
      const auto [row0, rows] = share(samples, c, chunks);
      x.emplace_back("x", rows, 2);
      y.emplace_back("y", rows, 1);
      dy.emplace_back("dy", rows, 1);
      fill(row0, x.back(), y.back());
    }
  }

  static void fill(long row0, Matrix<double>& x, Matrix<double>& y) {
    auto hx = Kokkos::create_mirror_view(x);
    auto hy = Kokkos::create_mirror_view(y);
    for (std::size_t i = 0; i < x.extent(0); ++i) {
      const auto row = static_cast<std::uint64_t>(row0 + static_cast<long>(i));
      hx(i, 0) = 2 * uniform01(7, 2 * row) - 1;
      hx(i, 1) = 2 * uniform01(7, 2 * row + 1) - 1;
      hy(i, 0) = std::sin(3 * hx(i, 0)) * hx(i, 1);
    }
    Kokkos::deep_copy(x, hx);
    Kokkos::deep_copy(y, hy);
  }

  ChunkedLoss loss() {
    return {chunks, [this](long, long chunk) {
              const std::size_t k = static_cast<std::size_t>(chunk - first);
              auto& forward = net.forward(x[k]);
              const double value = mse_loss(forward.y, y[k], dy[k], double(samples));
              net.backward(forward, dy[k]);
              // A second term, so the terms are summed along with the gradient.
              return std::vector<LossTerm>{{"data", 1.0, value},
                                           {"rows", 0.0, double(dy[k].extent(0))}};
            }};
  }
};

std::vector<double> host_copy(const Vector<double>& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<double>(h.data(), h.data() + h.size());
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// Rank 0's copy of `values` equals every rank's, bit for bit.
bool same_on_every_rank(std::vector<double> values) {
  std::vector<double> root = values;
  MPI_Bcast(root.data(), static_cast<int>(root.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  int same = same_bits(root, values), all;
  MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  return all;
}

}  // namespace

TEST(ChunkedLoss, TreeCoversSplitTheChunksIntoWholeNodes) {
  for (long chunks = 1; chunks <= 40; ++chunks)
    for (long ranks = 1; ranks <= chunks; ++ranks) {
      long next = 0;
      for (long r = 0; r < ranks; ++r) {
        const auto [first, count] = share(chunks, r, ranks);
        const auto nodes = tree_cover(chunks, first, first + count);
        // A contiguous range is covered by at most two nodes per tree level.
        EXPECT_LE(nodes.size(), 2 * (std::ceil(std::log2(double(chunks))) + 1));
        for (const auto& n : nodes) {
          ASSERT_EQ(n.first, next) << chunks << " chunks, " << ranks << " ranks";
          next = n.last;
        }
        ASSERT_EQ(next, first + count);
      }
      ASSERT_EQ(next, chunks);
    }
  // The one-rank cover is the root; two ranks over 16 chunks own one half each.
  EXPECT_EQ(tree_cover(16, 0, 16).size(), 1u);
  EXPECT_EQ(tree_cover(16, 8, 16).size(), 1u);
  EXPECT_EQ(tree_cover(7, 2, 7).size(), 2u);  // [2, 3) and [3, 7): 7 = [0, 3) + [3, 7)
}

// A chunk of a rank's rows is a row range of a bigger matrix (kind fit): at another rank count it
// starts at another row, with another alignment. The three products of a Linear layer (forward
// X·W through libxsmm's 64-row blocks, dW = Xᵀ·dZ and dX = dZ·Wᵀ through BLAS) must not notice.
TEST(ChunkedLoss, GemmOfAChunkDoesNotDependOnWhereItSits) {
  const std::size_t width = 64;
  Matrix<double> w("w", width, width), dw("dw", width, width), dw_alone("dw_alone", width, width);
  auto hw = Kokkos::create_mirror_view(w);
  for (std::size_t i = 0; i < width; ++i)
    for (std::size_t j = 0; j < width; ++j) hw(i, j) = uniform01(11, i * width + j) - 0.5;
  Kokkos::deep_copy(w, hw);
  for (long rows : {37L, 128L, 203L, 640L}) {
    for (long offset : {1L, 3L, 8L, 64L, 67L}) {
      Matrix<double> big("big", offset + rows + 5, width);
      auto hb = Kokkos::create_mirror_view(big);
      for (std::size_t i = 0; i < big.extent(0); ++i)
        for (std::size_t j = 0; j < width; ++j) hb(i, j) = uniform01(12, i * width + j) - 0.5;
      Kokkos::deep_copy(big, hb);
      const Matrix<double> chunk =
          Kokkos::subview(big, std::make_pair(offset, offset + rows), Kokkos::ALL);
      Matrix<double> alone("alone", rows, width);
      Kokkos::deep_copy(alone, chunk);
      Matrix<double> y("y", rows, width), y_alone("y_alone", rows, width);
      Matrix<double> dx("dx", rows, width), dx_alone("dx_alone", rows, width);
      gemm(Transpose::no, Transpose::no, 1.0, chunk, w, 0.0, y);
      gemm(Transpose::no, Transpose::no, 1.0, alone, w, 0.0, y_alone);
      Kokkos::deep_copy(dw, 0.25);
      Kokkos::deep_copy(dw_alone, 0.25);
      gemm(Transpose::yes, Transpose::no, 1.0, chunk, y, 1.0, dw);
      gemm(Transpose::yes, Transpose::no, 1.0, alone, y_alone, 1.0, dw_alone);
      gemm(Transpose::no, Transpose::yes, 1.0, chunk, w, 0.0, dx);
      gemm(Transpose::no, Transpose::yes, 1.0, alone, w, 0.0, dx_alone);
      auto bits = [](const Matrix<double>& m) {
        auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
        return std::vector<double>(h.data(), h.data() + h.size());
      };
      EXPECT_TRUE(same_bits(bits(y), bits(y_alone))) << rows << " rows at row " << offset;
      EXPECT_TRUE(same_bits(bits(dw), bits(dw_alone))) << rows << " rows at row " << offset;
      EXPECT_TRUE(same_bits(bits(dx), bits(dx_alone))) << rows << " rows at row " << offset;
    }
  }
}

// The BLAS threads per rank depend on the rank count (cores / ranks on the node), and OpenBLAS's
// threaded GEMM rounds differently from its serial one for some shapes (printed below): the sum
// evaluates its chunks on one BLAS thread, and restores the count afterwards.
TEST(ChunkedLoss, SumDoesNotDependOnTheBlasThreads) {
  const int before = blas_threads();
  std::vector<std::vector<double>> gradients, products;
  for (int threads : {1, 2}) {
    set_blas_threads(threads);
    ChunkedProblem p(MPI_COMM_SELF, 2, {2, 64, 64, 1}, 900);  // chunks of 450 rows
    ChunkedSum<double> sum(MPI_COMM_SELF, p.net.parameters(), p.loss());
    sum(0);
    gradients.push_back(host_copy(p.net.parameters().gradients()));
    EXPECT_EQ(blas_threads(), threads);
    // The raw product dW = Xᵀ·dZ of a 64-wide layer over 450 rows, for the record.
    Matrix<double> x("x", 450, 64), dw("dw", 64, 64);
    auto hx = Kokkos::create_mirror_view(x);
    for (std::size_t i = 0; i < x.size(); ++i) hx.data()[i] = uniform01(13, i) - 0.5;
    Kokkos::deep_copy(x, hx);
    gemm(Transpose::yes, Transpose::no, 1.0, x, x, 0.0, dw);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), dw);
    products.emplace_back(h.data(), h.data() + h.size());
  }
  set_blas_threads(before);
  EXPECT_TRUE(same_bits(gradients[0], gradients[1]));
  std::printf("    OpenBLAS Xᵀ·X over 450 rows, 1 vs 2 threads: %s\n",
              same_bits(products[0], products[1]) ? "same bits" : "different bits");
}

TEST(ChunkedLoss, SumOverRanksIsBitwiseTheOneRankSum) {
  for (long chunks : {2L, 7L, 16L}) {
    ChunkedProblem world(MPI_COMM_WORLD, chunks), self(MPI_COMM_SELF, chunks);
    ChunkedSum<double> over_ranks(MPI_COMM_WORLD, world.net.parameters(), world.loss());
    ChunkedSum<double> one_rank(MPI_COMM_SELF, self.net.parameters(), self.loss());
    const auto a = over_ranks(0), b = one_rank(0);
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[0].value, b[0].value) << chunks << " chunks";
    EXPECT_EQ(a[1].value, double(kSamples));  // every row counted once
    const auto ga = host_copy(world.net.parameters().gradients());
    const auto gb = host_copy(self.net.parameters().gradients());
    EXPECT_TRUE(same_bits(ga, gb)) << chunks << " chunks";
    EXPECT_TRUE(same_on_every_rank(ga));

    // And it is the loss: the whole set in one batch agrees to round-off.
    Network<double> whole(make_mlp<double>({2, 16, 16, 1}, Activation::tanh), 3);
    Matrix<double> x("x", kSamples, 2), y("y", kSamples, 1), dy("dy", kSamples, 1);
    ChunkedProblem::fill(0, x, y);
    whole.parameters().zero_gradients();
    auto& forward = whole.forward(x);
    const double loss = mse_loss(forward.y, y, dy, double(kSamples));
    whole.backward(forward, dy);
    EXPECT_NEAR(a[0].value, loss, 1e-14 * loss);
    const auto g = host_copy(whole.parameters().gradients());
    double scale = 0;
    for (double v : g) scale = std::max(scale, std::abs(v));
    for (std::size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(ga[i], g[i], 1e-13 * scale) << i;
  }
}

TEST(ChunkedLoss, AdamThenLbfgsHistoryIsBitwiseTheOneRankHistory) {
  StageOptions adam;
  adam.optimizer = adam.first_order.type = "adam";
  adam.steps = 60;
  adam.schedule.type = "cosine";
  adam.schedule.base = 1e-2;
  StageOptions lbfgs;
  lbfgs.optimizer = "lbfgs";
  lbfgs.steps = 150;  // long enough for an allreduce's round-off to grow visibly
  lbfgs.lbfgs.tolerance_change = 0;
  lbfgs.lbfgs.tolerance_gradient = 0;
  TrainerOptions options;
  options.stages = {adam, lbfgs};
  options.quiet = true;
  ChunkedProblem world(MPI_COMM_WORLD, 8), self(MPI_COMM_SELF, 8);
  auto a = Trainer<double>(MPI_COMM_WORLD, world.net.parameters(), world.loss(), options).run();
  auto b = Trainer<double>(MPI_COMM_SELF, self.net.parameters(), self.loss(), options).run();
  ASSERT_EQ(a.history.size(), b.history.size());
  std::vector<double> losses;
  for (std::size_t i = 0; i < a.history.size(); ++i) {
    ASSERT_EQ(a.history[i].loss, b.history[i].loss) << "step " << i + 1;
    losses.push_back(a.history[i].loss);
  }
  EXPECT_GT(a.history.size(), 150u);
  EXPECT_EQ(a.final_loss, b.final_loss);
  EXPECT_LT(a.final_loss, 0.01 * a.history.front().loss);  // it did learn
  const auto wa = host_copy(world.net.parameters().values());
  EXPECT_TRUE(same_bits(wa, host_copy(self.net.parameters().values())));
  EXPECT_TRUE(same_on_every_rank(wa));
  EXPECT_TRUE(same_on_every_rank(losses));
}
