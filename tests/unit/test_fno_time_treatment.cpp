// The Navier–Stokes time treatments of kind fno (operators/fno/time_treatment.hpp) without a
// network: the space-time layout conversions (file [T, P] <-> model [P·T], inputs repeated along
// time) put every value where the 3D grid [ny, nx, T] expects it and round-trip exactly; the
// space-time prediction hands the network the 3D grid and returns the file layout; the
// autoregressive rollout feeds its own predictions back (a network exact for a known recurrence
// reproduces the whole trajectory, one that is off by one per step drifts by one per step).
#include <gtest/gtest.h>

#include <vector>

#include "operators/fno/time_treatment.hpp"

using namespace karman::fno;

namespace {

// Distinct values: v(s, c, p) = 1000 s + 100 c + p (+ 0.5 to keep 0 out).
std::vector<double> numbered(long count, long channels, long points) {
  std::vector<double> v;
  for (long s = 0; s < count; ++s)
    for (long c = 0; c < channels; ++c)
      for (long p = 0; p < points; ++p) v.push_back(1000.0 * s + 100.0 * c + p + 0.5);
  return v;
}

TEST(FnoTimeTreatment, SpaceTimeLayoutPutsTimeLastAndRoundTrips) {
  const long count = 2, steps = 3, points = 5;
  const std::vector<double> file = numbered(count, steps, points);  // [count, T, P]
  const std::vector<double> model = time_last(file, count, steps, points);
  for (long s = 0; s < count; ++s)
    for (long t = 0; t < steps; ++t)
      for (long p = 0; p < points; ++p)
        EXPECT_EQ(model[(s * points + p) * steps + t], file[(s * steps + t) * points + p]);
  EXPECT_EQ(time_first(model, count, steps, points), file);
}

TEST(FnoTimeTreatment, SpaceTimeInputsAreTheStatesRepeatedAlongTime) {
  const long count = 2, channels = 4, points = 3, steps = 5;
  const std::vector<double> in = numbered(count, channels, points);
  const std::vector<double> repeated = repeat_in_time(in, count, channels, points, steps);
  ASSERT_EQ(repeated.size(), in.size() * steps);
  for (long s = 0; s < count; ++s)
    for (long c = 0; c < channels; ++c)
      for (long p = 0; p < points; ++p)
        for (long t = 0; t < steps; ++t)
          EXPECT_EQ(repeated[((s * channels + c) * points + p) * steps + t],
                    in[(s * channels + c) * points + p]);
}

TEST(FnoTimeTreatment, SpaceTimePredictionRunsOnTheSpaceTimeGrid) {
  const long count = 2, k = 4, steps = 3;
  const std::vector<long> space = {2, 3};
  const long points = 6;
  auto treatment = make_time_treatment(TimeMode::space_time, k, steps);
  EXPECT_EQ(treatment->model_in(), k);
  EXPECT_EQ(treatment->model_out(), 1);
  EXPECT_EQ(treatment->model_grid(space), (std::vector<long>{2, 3, steps}));
  const std::vector<double> inputs = numbered(count, k, points);
  const std::vector<double> truth = numbered(count, steps, points);  // outputs [count, T, P]
  // A network that checks what it is given and answers the truth in the model's layout.
  auto network = [&](const std::vector<double>& x, long n, const std::vector<long>& grid) {
    EXPECT_EQ(n, count);
    EXPECT_EQ(grid, (std::vector<long>{2, 3, steps}));
    EXPECT_EQ(x, repeat_in_time(inputs, count, k, points, steps));
    return treatment->model_outputs(truth, count, points);
  };
  EXPECT_EQ(treatment->predict(inputs, count, space, network), truth);
}

// w_{t+1} = w_t − 0.5 w_{t−K+1} + p at each point p: the exact one-step network.
std::vector<double> next_state(const std::vector<double>& window, long count, long k, long points) {
  std::vector<double> next(static_cast<std::size_t>(count * points));
  for (long s = 0; s < count; ++s)
    for (long p = 0; p < points; ++p)
      next[s * points + p] = window[(s * k + k - 1) * points + p] -
                             0.5 * window[(s * k) * points + p] + static_cast<double>(p);
  return next;
}

TEST(FnoTimeTreatment, AutoregressiveRolloutOfAnExactStepIsTheTrajectory) {
  const long count = 2, k = 3, steps = 6, points = 4;
  const std::vector<double> inputs = numbered(count, k, points);
  // The trajectory by the recurrence: [count, K + T, P].
  std::vector<double> truth;
  for (long s = 0; s < count; ++s) {
    std::vector<double> states(inputs.begin() + s * k * points,
                               inputs.begin() + (s + 1) * k * points);
    for (long t = 0; t < steps; ++t) {
      const std::vector<double> window(states.end() - k * points, states.end());
      const std::vector<double> next = next_state(window, 1, k, points);
      states.insert(states.end(), next.begin(), next.end());
    }
    truth.insert(truth.end(), states.begin() + k * points, states.end());  // outputs only
  }
  auto treatment = make_time_treatment(TimeMode::autoregressive, k, steps);
  EXPECT_EQ(treatment->model_out(), 1);
  long calls = 0;
  auto network = [&](const std::vector<double>& x, long n, const std::vector<long>& grid) {
    ++calls;
    EXPECT_EQ(grid, (std::vector<long>{2, 2}));
    return next_state(x, n, k, points);
  };
  const std::vector<double> rollout = treatment->predict(inputs, count, {2, 2}, network);
  EXPECT_EQ(calls, steps);  // one batched network evaluation per time step
  ASSERT_EQ(rollout.size(), truth.size());
  for (std::size_t i = 0; i < truth.size(); ++i) EXPECT_DOUBLE_EQ(rollout[i], truth[i]) << i;
  // The windows it trains on are the trajectories' (inputs then outputs per sample).
  const std::vector<double> all = trajectories(inputs, truth, count, k, steps, points);
  EXPECT_EQ(std::vector<double>(all.begin() + (k + steps) * points + k * points,
                                all.begin() + 2 * (k + steps) * points),
            std::vector<double>(truth.begin() + steps * points, truth.end()));
}

TEST(FnoTimeTreatment, AutoregressiveRolloutFeedsItsPredictionsBack) {
  const long count = 1, k = 2, steps = 5, points = 3;
  const std::vector<double> inputs(static_cast<std::size_t>(k * points), 0.0);
  // "The last state + 1": without teacher forcing the error grows by one per step.
  auto network = [&](const std::vector<double>& x, long, const std::vector<long>&) {
    std::vector<double> next(x.end() - points, x.end());
    for (double& v : next) v += 1;
    return next;
  };
  const auto rollout =
      make_time_treatment(TimeMode::autoregressive, k, steps)->predict(inputs, count, {3}, network);
  for (long t = 0; t < steps; ++t)
    for (long p = 0; p < points; ++p) EXPECT_EQ(rollout[t * points + p], t + 1.0);
}

TEST(FnoTimeTreatment, DirectIsTheIdentity) {
  auto treatment = make_time_treatment(TimeMode::direct, 3, 4);
  EXPECT_EQ(treatment->model_in(), 3);
  EXPECT_EQ(treatment->model_out(), 4);
  EXPECT_EQ(treatment->model_grid({5, 6}), (std::vector<long>{5, 6}));
  const std::vector<double> x = numbered(2, 3, 30);
  EXPECT_EQ(treatment->model_inputs(x, 2, 30), x);
  EXPECT_EQ(time_mode_from_name("space_time"), TimeMode::space_time);
  EXPECT_EQ(to_string(TimeMode::autoregressive), "autoregressive");
}

}  // namespace
