// Loss-combination rules in the trainer (a stage's `combine`), on a chunked loss of two
// conflicting regression terms: the per-term gradients are summed along the fixed tree, so the
// whole loss history of config, mconfig and annealing is bitwise the same on every rank count
// as on one rank; and a run stopped mid-stage and resumed from its checkpoint (the rule's
// momenta and weights in it) ends with bitwise the weights of an uninterrupted run. Runs at 1
// and 2 ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "karman/core/random.hpp"
#include "karman/nn/checkpoint.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/sequential.hpp"
#include "karman/nn/trainer.hpp"
#include "support/kokkos_env.hpp"

using namespace karman;
using namespace karman::nn;

namespace {

constexpr long kChunks = 8, kPerChunk = 12;

// Two terms on the same points that pull the network apart: y = sin(3x₀)·x₁ and y = −x₀ (weight
// 4), each a mean squared error over all kChunks·kPerChunk points.
struct TwoTerms {
  Network<double> net;
  std::vector<Matrix<double>> x, first, second;  // [chunk] [kPerChunk, ·]
  Matrix<double> dy{"dy", kPerChunk, 1};

  explicit TwoTerms(std::uint64_t seed = 3)
      : net(make_mlp<double>({2, 12, 12, 1}, Activation::tanh), seed) {
    for (long c = 0; c < kChunks; ++c) {
      x.emplace_back("x", kPerChunk, 2);
      first.emplace_back("y1", kPerChunk, 1);
      second.emplace_back("y2", kPerChunk, 1);
      auto hx = Kokkos::create_mirror_view(x.back());
      auto h1 = Kokkos::create_mirror_view(first.back());
      auto h2 = Kokkos::create_mirror_view(second.back());
      for (long i = 0; i < kPerChunk; ++i) {
        const long j = c * kPerChunk + i;
        hx(i, 0) = 2 * uniform01(7, 2 * j) - 1;
        hx(i, 1) = 2 * uniform01(7, 2 * j + 1) - 1;
        h1(i, 0) = std::sin(3 * hx(i, 0)) * hx(i, 1);
        h2(i, 0) = -hx(i, 0);
      }
      Kokkos::deep_copy(x.back(), hx);
      Kokkos::deep_copy(first.back(), h1);
      Kokkos::deep_copy(second.back(), h2);
    }
  }

  std::vector<LossTerm> chunk(long c, const TermHooks* hooks) {
    const double total = kChunks * kPerChunk;
    std::vector<LossTerm> terms;
    const std::vector<std::pair<const char*, double>> names{{"first", 1.0}, {"second", 4.0}};
    for (std::size_t k = 0; k < 2; ++k) {
      auto& forward = net.forward(x[c]);
      const double value = mse_loss(forward.y, k == 0 ? first[c] : second[c], dy, total);
      if (!hooks || hooks->wanted(k)) {
        const Matrix<double> d = dy;
        const double weight = names[k].second;
        Kokkos::parallel_for(
            "test::weight", kPerChunk, KOKKOS_LAMBDA(const int i) { d(i, 0) *= weight; });
        net.backward(forward, dy);
      }
      if (hooks) hooks->done(k);
      terms.push_back({names[k].first, names[k].second, value});
    }
    return terms;
  }

  ChunkedLoss loss() {
    return {kChunks, [this](long, long c) { return chunk(c, nullptr); },
            [this](long, long c, const TermHooks& hooks) { return chunk(c, &hooks); }};
  }
};

TrainerOptions adam_with(const std::string& rule, long steps) {
  StageOptions adam;
  adam.optimizer = "adam";
  adam.steps = steps;
  adam.first_order.type = "adam";
  adam.schedule.base = 1e-2;
  adam.combine.rule = rule;
  adam.combine.every = 3;
  TrainerOptions options;
  options.stages = {adam};
  options.quiet = true;
  return options;
}

std::vector<double> weights(const Parameters<double>& p) {
  auto h = Kokkos::create_mirror(Kokkos::HostSpace(), p.values());
  Kokkos::deep_copy(h, p.values());
  return std::vector<double>(h.data(), h.data() + h.size());
}

std::string scratch(const std::string& name) {
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return name + "_np" + std::to_string(size) + ".h5";
}

}  // namespace

TEST(LossCombinationTrainer, EveryRankCountGivesTheSameHistoryBitwise) {
  for (const char* rule : {"config", "mconfig", "annealing"}) {
    TwoTerms world, self;
    const TrainerOptions options = adam_with(rule, 30);
    auto a = Trainer<double>(MPI_COMM_WORLD, world.net.parameters(), world.loss(), options).run();
    auto b = Trainer<double>(MPI_COMM_SELF, self.net.parameters(), self.loss(), options).run();
    ASSERT_EQ(a.history.size(), 30u) << rule;
    ASSERT_EQ(b.history.size(), 30u) << rule;
    for (std::size_t i = 0; i < a.history.size(); ++i) {
      EXPECT_EQ(a.history[i].loss, b.history[i].loss) << rule << " step " << i + 1;
      EXPECT_EQ(a.history[i].terms, b.history[i].terms) << rule << " step " << i + 1;
    }
    EXPECT_LT(a.final_loss, a.history.front().loss) << rule;  // it did learn
  }
}

TEST(LossCombinationTrainer, ResumeMidStageIsBitwiseIdentical) {
  for (const char* rule : {"mconfig", "annealing", "config"}) {
    TrainerOptions options = adam_with(rule, 40);
    options.checkpoint_every = 10;
    TwoTerms full;
    options.checkpoint_path = scratch(std::string("combine_full_") + rule);
    auto uninterrupted =
        Trainer<double>(MPI_COMM_WORLD, full.net.parameters(), full.loss(), options).run();

    TwoTerms first;
    options.checkpoint_path = scratch(std::string("combine_resume_") + rule);
    options.stop_after = 25;  // mid-stage, off the annealing period and the mconfig cycle
    auto stopped =
        Trainer<double>(MPI_COMM_WORLD, first.net.parameters(), first.loss(), options).run();
    EXPECT_EQ(stopped.stop_reason, "stopped") << rule;

    TwoTerms second(/*seed=*/99);
    options.stop_after = -1;
    const Checkpoint c = load_checkpoint(MPI_COMM_WORLD, options.checkpoint_path);
    restore_parameters(c, second.net.parameters(), options.checkpoint_path);
    auto resumed =
        Trainer<double>(MPI_COMM_WORLD, second.net.parameters(), second.loss(), options).run(&c);
    EXPECT_EQ(resumed.steps, uninterrupted.steps) << rule;
    const auto a = weights(full.net.parameters()), b = weights(second.net.parameters());
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)), 0)
        << rule << ": weights differ";
    EXPECT_EQ(resumed.final_loss, uninterrupted.final_loss) << rule;
  }
}
