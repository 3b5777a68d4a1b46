// The trainer: data-parallel training gives the same losses as one rank (float64, to round-off),
// a run stopped half-way and resumed from its checkpoint ends with bitwise the same weights as
// an uninterrupted run, a signal received by one rank stops every rank at the same step with a
// checkpoint that resumes bitwise (mid-Adam and mid-L-BFGS), and a diverging run stops with its
// last good checkpoint intact. Runs at 1 and 2 ranks.
#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "karman/core/error.hpp"
#include "karman/core/interrupt.hpp"
#include "karman/core/random.hpp"
#include "karman/nn/checkpoint.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/sequential.hpp"
#include "karman/nn/trainer.hpp"
#include "support/kokkos_env.hpp"

using namespace karman;
using namespace karman::nn;

namespace {

constexpr long kSamples = 96;

// A regression problem whose rows [first, first + count) a rank holds: y = sin(3x₀)·x₁ on
// counter-based random points, so every rank count sees the same global data set.
struct Problem {
  Network<double> net;
  Matrix<double> x, y, dy;
  double total;

  Problem(MPI_Comm comm, std::uint64_t seed = 3)
      : net(make_mlp<double>({2, 16, 16, 1}, Activation::tanh), seed) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    const long first = kSamples * rank / size, count = kSamples * (rank + 1) / size - first;
    x = Matrix<double>("x", count, 2);
    y = Matrix<double>("y", count, 1);
    dy = Matrix<double>("dy", count, 1);
    auto hx = Kokkos::create_mirror_view(x);
    auto hy = Kokkos::create_mirror_view(y);
    for (long i = 0; i < count; ++i) {
      hx(i, 0) = 2 * uniform01(7, 2 * (first + i)) - 1;
      hx(i, 1) = 2 * uniform01(7, 2 * (first + i) + 1) - 1;
      hy(i, 0) = std::sin(3 * hx(i, 0)) * hx(i, 1);
    }
    Kokkos::deep_copy(x, hx);
    Kokkos::deep_copy(y, hy);
    total = kSamples;
  }

  LossFunction loss() {
    return [this](long) {
      auto& forward = net.forward(x);
      const double value = mse_loss(forward.y, y, dy, total);
      net.backward(forward, dy);
      return std::vector<LossTerm>{{"data", 1.0, value}};
    };
  }
};

std::vector<StageOptions> adam_then_lbfgs(long adam_steps, long lbfgs_steps, double lr = 1e-2) {
  StageOptions adam;
  adam.optimizer = "adam";
  adam.steps = adam_steps;
  adam.first_order.type = "adam";
  adam.schedule.type = "cosine";
  adam.schedule.base = lr;
  StageOptions lbfgs;
  lbfgs.optimizer = "lbfgs";
  lbfgs.steps = lbfgs_steps;
  lbfgs.lbfgs.tolerance_change = 0;
  lbfgs.lbfgs.tolerance_gradient = 0;
  return {adam, lbfgs};
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

TEST(Trainer, DataParallelMatchesOneRank) {
  TrainerOptions options;
  options.stages = adam_then_lbfgs(60, 20);
  options.quiet = true;
  Problem world(MPI_COMM_WORLD), self(MPI_COMM_SELF);
  auto a = Trainer<double>(MPI_COMM_WORLD, world.net.parameters(), world.loss(), options).run();
  auto b = Trainer<double>(MPI_COMM_SELF, self.net.parameters(), self.loss(), options).run();
  ASSERT_EQ(a.history.size(), b.history.size());
  for (std::size_t i = 0; i < a.history.size(); ++i)
    EXPECT_NEAR(a.history[i].loss, b.history[i].loss, 1e-10 * std::abs(b.history[i].loss))
        << "step " << i + 1;
  EXPECT_NEAR(a.final_loss, b.final_loss, 1e-10 * b.final_loss);
  EXPECT_LT(a.final_loss, 0.05 * a.history.front().loss);  // it did learn
}

TEST(Trainer, ResumeIsBitwiseIdentical) {
  TrainerOptions options;
  options.stages = adam_then_lbfgs(40, 15);
  options.quiet = true;
  options.checkpoint_every = 10;

  Problem full(MPI_COMM_WORLD);
  options.checkpoint_path = scratch("trainer_full");
  auto uninterrupted =
      Trainer<double>(MPI_COMM_WORLD, full.net.parameters(), full.loss(), options).run();
  EXPECT_EQ(uninterrupted.stop_reason, "completed");

  // Stopped in the middle of the Adam stage, as if killed after its checkpoint...
  Problem first(MPI_COMM_WORLD);
  options.checkpoint_path = scratch("trainer_resume");
  options.stop_after = 25;
  auto stopped =
      Trainer<double>(MPI_COMM_WORLD, first.net.parameters(), first.loss(), options).run();
  EXPECT_EQ(stopped.stop_reason, "stopped");
  EXPECT_EQ(stopped.steps, 25);

  // ...then a new process: fresh model (other initial weights), resumed from the file.
  Problem second(MPI_COMM_WORLD, /*seed=*/99);
  options.stop_after = -1;
  const Checkpoint c = load_checkpoint(MPI_COMM_WORLD, options.checkpoint_path);
  restore_parameters(c, second.net.parameters(), options.checkpoint_path);
  auto resumed =
      Trainer<double>(MPI_COMM_WORLD, second.net.parameters(), second.loss(), options).run(&c);
  EXPECT_EQ(resumed.steps, uninterrupted.steps);
  EXPECT_EQ(resumed.history.size(), uninterrupted.history.size());
  const auto a = weights(full.net.parameters()), b = weights(second.net.parameters());
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)), 0) << "weights differ";
  EXPECT_EQ(resumed.final_loss, uninterrupted.final_loss);
}

// The last rank sends itself SIGUSR1 while computing the loss of step `signal_step` (0-based);
// only it has the signal, so the others learn of it through the trainer's collective check.
// The run must stop on every rank after the same step, with a checkpoint from which a fresh
// process resumes to bitwise the uninterrupted weights. Returns the interrupted run's result.
TrainingResult expect_signal_resumes(const std::string& name, long signal_step, long expected_steps,
                                     long expected_checkpoint_step) {
  enable_interrupts();  // Trainer::run catches the signal while it runs
  clear_interrupt();
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  TrainerOptions options;
  options.stages = adam_then_lbfgs(40, 15);
  options.quiet = true;
  options.checkpoint_every = 10;  // the signal's step is not one of these

  Problem full(MPI_COMM_WORLD);
  options.checkpoint_path = scratch(name + "_full");
  Trainer<double>(MPI_COMM_WORLD, full.net.parameters(), full.loss(), options).run();

  Problem first(MPI_COMM_WORLD);
  options.checkpoint_path = scratch(name);
  LossFunction loss = [&, inner = first.loss()](long step) {
    if (step == signal_step && rank == size - 1) raise(SIGUSR1);
    return inner(step);
  };
  const TrainingResult stopped =
      Trainer<double>(MPI_COMM_WORLD, first.net.parameters(), loss, options).run();
  clear_interrupt();
  EXPECT_EQ(stopped.stop_reason, "interrupted");
  EXPECT_EQ(stopped.steps, expected_steps);
  EXPECT_NE(stopped.message.find("interrupted by SIGUSR1"), std::string::npos) << stopped.message;
  long steps[2] = {stopped.steps, -stopped.steps}, extremes[2];
  MPI_Allreduce(steps, extremes, 2, MPI_LONG, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(extremes[0], -extremes[1]) << "the ranks stopped at different steps";

  Problem second(MPI_COMM_WORLD, /*seed=*/99);
  const Checkpoint c = load_checkpoint(MPI_COMM_WORLD, options.checkpoint_path);
  EXPECT_EQ(c.scalar("step"), expected_checkpoint_step);
  restore_parameters(c, second.net.parameters(), options.checkpoint_path);
  const TrainingResult resumed =
      Trainer<double>(MPI_COMM_WORLD, second.net.parameters(), second.loss(), options).run(&c);
  EXPECT_EQ(resumed.stop_reason, "completed");
  const auto a = weights(full.net.parameters()), b = weights(second.net.parameters());
  EXPECT_TRUE(a == b) << "weights differ";
  return stopped;
}

TEST(Trainer, SignalMidAdamCheckpointsThatStepOnEveryRankAndResumesBitwise) {
  // Signalled during step 24 (0-based 23): every rank stops after it and checkpoints step 24.
  const TrainingResult r = expect_signal_resumes("trainer_sigusr1_adam", 23, 24, 24);
  EXPECT_NE(r.message.find("at step 24"), std::string::npos) << r.message;
}

TEST(Trainer, SignalDuringLbfgsResumesTheStageFromItsStart) {
  // L-BFGS keeps no resumable state mid-stage: stopped after its first iteration (step 41), the
  // checkpoint is the Adam stage's end (step 40) and the stage runs again on resume.
  const TrainingResult r = expect_signal_resumes("trainer_sigusr1_lbfgs", 40, 41, 40);
  EXPECT_NE(r.message.find("lbfgs stage 2"), std::string::npos) << r.message;
}

TEST(Trainer, NonFiniteLossStopsWithTheLastGoodCheckpoint) {
  TrainerOptions options;
  options.stages = adam_then_lbfgs(200, 5, /*lr=*/1e3);
  options.stages[0].optimizer = options.stages[0].first_order.type = "sgd";
  options.stages[0].schedule.type = "constant";
  options.quiet = true;
  options.checkpoint_every = 1;
  options.checkpoint_path = scratch("trainer_nan");
  Problem p(MPI_COMM_WORLD);
  // Plain SGD with an absurd learning rate: the weights and the loss grow until they overflow.
  auto r = Trainer<double>(MPI_COMM_WORLD, p.net.parameters(), p.loss(), options).run();
  EXPECT_EQ(r.stop_reason, "non_finite");
  EXPECT_LT(r.steps, 200);
  EXPECT_NE(r.message.find("last good checkpoint"), std::string::npos) << r.message;
  const Checkpoint c = load_checkpoint(MPI_COMM_WORLD, options.checkpoint_path);
  EXPECT_LE(c.scalar("step"), r.steps);
  Problem restored(MPI_COMM_WORLD);
  restore_parameters(c, restored.net.parameters(), options.checkpoint_path);
  for (double w : weights(restored.net.parameters())) ASSERT_TRUE(std::isfinite(w));
}

TEST(Trainer, MissingCheckpointIsAConfigError) {
  EXPECT_THROW(load_checkpoint(MPI_COMM_WORLD, "no_such_checkpoint.h5"), ConfigError);
}
