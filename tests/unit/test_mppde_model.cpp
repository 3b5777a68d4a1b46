// The MP-PDE model (operators/mppde/model.hpp) against central finite differences in float64 on a
// tiny batch of periodic line graphs: every input column (the window also through the edge
// differences u_i − u_j, the geometry, the conditions) and every parameter tensor; the model
// applied twice with the first prediction fed back, back-propagated through both steps; the
// pushforward trick's gradient (the unrolled step frozen) against differences of the one-step
// loss from the frozen input; the periodic line graph itself; the decoder shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/core/random.hpp"
#include "operators/mppde/graph.hpp"
#include "operators/mppde/model.hpp"
#include "operators/mppde/rollout.hpp"
#include "support/kokkos_env.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::mppde;
using namespace karman::testing;

namespace {

constexpr long kNodes = 8, kBatch = 2, kNeighbors = 2;

// A small model (H = 32, K = 4, 2 layers: the decoder is Conv1d(1→8, 16, stride 3) → 6, then
// Conv1d(8→1, 3) → 4) with random parameters, so every bias is exercised.
struct Tiny {
  explicit Tiny(long conditions = 2)
      : model(spec(), 1, conditions),
        sample(periodic_line(kNodes, kNeighbors)),
        graph(batched<double>(sample, kBatch)) {
    model.declare(parameters, "");
    parameters.allocate();
    model.initialize(3);
    Kokkos::deep_copy(parameters.values(), flat(random_matrix(1, parameters.size(), 7, 0.3)));
    model.set_instance_nodes(kNodes);
    model.set_time_step(0.1);
  }
  static MpPdeSpec spec() {
    MpPdeSpec s;
    s.hidden = 32;
    s.time_window = 4;
    s.layers = 2;
    s.neighbors = kNeighbors;
    return s;
  }
  long rows() const { return kNodes * kBatch; }

  MpPdeModel<double> model;
  nn::Parameters<double> parameters;
  SampleGraph sample;
  BatchGraph<double> graph;
  nn::Workspace<double> workspace;
};

std::vector<double> gradients(const nn::Parameters<double>& p) { return to_vector(p.gradients()); }

// Every parameter tensor's analytic gradient against its numeric one, named in the failure.
void expect_parameter_gradients(const nn::Parameters<double>& parameters,
                                const std::vector<double>& analytic,
                                const std::vector<double>& numeric, const std::string& label) {
  for (const nn::ParameterInfo& info : parameters.infos()) {
    const auto first = static_cast<std::ptrdiff_t>(info.offset);
    const auto last = first + static_cast<std::ptrdiff_t>(info.size());
    const std::vector<double> a(analytic.begin() + first, analytic.begin() + last);
    const std::vector<double> n(numeric.begin() + first, numeric.begin() + last);
    EXPECT_LT(relative_error(a, n), kGradientTolerance) << label << ": parameter " << info.name;
  }
}

// Smooth random trajectories [count, steps, nodes] with one parameter per trajectory.
Trajectories smooth_trajectories(long count, long steps, long nodes) {
  Trajectories d;
  d.count = count;
  d.steps = steps;
  d.nodes = nodes;
  d.dt = 0.05;
  d.t_max = d.dt * (steps - 1);
  d.parameters = 1;
  for (long k = 0; k < count; ++k) {
    d.conditions.push_back(uniform01(11, k));
    const double phase = 6.283 * uniform01(12, k), speed = 0.5 + uniform01(13, k);
    for (long s = 0; s < steps; ++s)
      for (long i = 0; i < nodes; ++i)
        d.u.push_back(std::sin(6.283 * (i + 0.5) / nodes - speed * s * d.dt + phase));
  }
  return d;
}

}  // namespace

TEST(MpPdeGraph, PeriodicLineReachesAcrossTheBoundary) {
  const SampleGraph g = periodic_line(6, 2);
  ASSERT_EQ(g.row.size(), 24u);  // 2·neighbors·n
  // Node 0 receives from 4, 5, 1, 2 with geometry (x_0 − x_j)/L = +2/6, +1/6, −1/6, −2/6.
  const std::vector<long> senders(g.col.begin(), g.col.begin() + 4);
  EXPECT_EQ(senders, (std::vector<long>{4, 5, 1, 2}));
  const std::vector<double> geometry(g.geometry.begin(), g.geometry.begin() + 4);
  for (std::size_t k = 0; k < 4; ++k)
    EXPECT_NEAR(geometry[k], (std::vector<double>{2. / 6, 1. / 6, -1. / 6, -2. / 6})[k], 1e-15);
  EXPECT_THROW(periodic_line(4, 2), InternalError);  // 2·neighbors must stay below n
  const BatchGraph<double> b = batched<double>(g, 3);
  EXPECT_EQ(b.graph.nodes, 18);
  EXPECT_EQ(b.graph.edges, 72);
  EXPECT_EQ(to_vector(b.graph.degree), std::vector<double>(18, 4.0));
}

TEST(MpPdeDecoder, ReferenceShapesAndLimits) {
  const auto k25 = decoder_shape(25, 128);
  ASSERT_TRUE(k25.has_value());
  EXPECT_EQ((128 - k25->kernel1) / k25->stride1 + 1 - k25->kernel2 + 1, 25);
  for (long window : {20L, 50L}) {
    const auto s = decoder_shape(window, 128);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ((128 - s->kernel1) / s->stride1 + 1 - s->kernel2 + 1, window);
  }
  EXPECT_TRUE(decoder_shape(36, 128).has_value());   // kernel2 = 2
  EXPECT_FALSE(decoder_shape(38, 128).has_value());  // would need kernel2 = 0
  EXPECT_FALSE(decoder_shape(4, 12).has_value());    // H below the first kernel
}

TEST(MpPdeGradient, EveryInputAndParameter) {
  Tiny t;
  const Matrix<double> h = random_matrix(t.rows(), t.model.node_in_features(), 1);
  const Matrix<double> e = t.graph.geometry;
  const Matrix<double> dy = random_matrix(t.rows(), t.model.node_out_features(), 2);
  auto loss = [&] {
    t.workspace.reset();
    return dot(t.model.forward(t.graph.graph, h, e, nn::Pass::values(), t.workspace).h_out, dy);
  };
  t.parameters.zero_gradients();
  t.workspace.reset();
  auto& c = t.model.forward(t.graph.graph, h, e, nn::Pass::values(), t.workspace);
  t.model.backward(c, dy, c.e_out);
  const std::vector<double> dh = to_vector(c.dh), de = to_vector(c.de);
  const std::vector<double> dtheta = gradients(t.parameters);
  EXPECT_LT(relative_error(dh, numeric_gradient(flat(h), loss)), kGradientTolerance) << "dh";
  EXPECT_LT(relative_error(de, numeric_gradient(flat(e), loss)), kGradientTolerance) << "de";
  expect_parameter_gradients(t.parameters, dtheta, numeric_gradient(t.parameters.values(), loss),
                             "one step");
}

// Two steps, the first prediction fed back as the second step's window (positions and
// conditions kept), back-propagated through both: L = Σ dy ∘ f(f(h)).
TEST(MpPdeGradient, TwoStepRolloutBackPropagatedThroughBothSteps) {
  Tiny t;
  const long window = t.model.window();
  const Matrix<double> h = random_matrix(t.rows(), t.model.node_in_features(), 1);
  const Matrix<double> dy = random_matrix(t.rows(), window, 2);
  Matrix<double> h2("h2", h.extent(0), h.extent(1));
  auto two_steps = [&]() -> nn::GraphContext<double>& {
    t.workspace.reset();
    auto& first =
        t.model.forward(t.graph.graph, h, t.graph.geometry, nn::Pass::values(), t.workspace);
    Kokkos::deep_copy(h2, h);
    Kokkos::deep_copy(Kokkos::subview(h2, Kokkos::ALL, std::make_pair(0L, window)), first.h_out);
    return t.model.forward(t.graph.graph, h2, t.graph.geometry, nn::Pass::values(), t.workspace);
  };
  auto loss = [&] { return dot(two_steps().h_out, dy); };

  t.parameters.zero_gradients();
  t.workspace.reset();
  auto& first =
      t.model.forward(t.graph.graph, h, t.graph.geometry, nn::Pass::values(), t.workspace);
  Kokkos::deep_copy(h2, h);
  Kokkos::deep_copy(Kokkos::subview(h2, Kokkos::ALL, std::make_pair(0L, window)), first.h_out);
  auto& second =
      t.model.forward(t.graph.graph, h2, t.graph.geometry, nn::Pass::values(), t.workspace);
  ASSERT_NE(&first, &second);  // two contexts from one workspace
  t.model.backward(second, dy, second.e_out);
  Matrix<double> dfirst("dfirst", t.rows(), window);
  Kokkos::deep_copy(dfirst, Kokkos::subview(second.dh, Kokkos::ALL, std::make_pair(0L, window)));
  const std::vector<double> dh_second = to_vector(second.dh);
  t.model.backward(first, dfirst, first.e_out);
  // h reaches the loss through the first step and through the second step's positions and
  // conditions (copied from h).
  std::vector<double> dh = to_vector(first.dh);
  const std::size_t in = t.model.node_in_features();
  for (std::size_t i = 0; i < dh.size(); ++i)
    if (i % in >= static_cast<std::size_t>(window)) dh[i] += dh_second[i];
  const std::vector<double> dtheta = gradients(t.parameters);
  EXPECT_LT(relative_error(dh, numeric_gradient(flat(h), loss)), kGradientTolerance) << "dh";
  expect_parameter_gradients(t.parameters, dtheta, numeric_gradient(t.parameters.values(), loss),
                             "two steps");
}

// The pushforward trick: one unrolled step without gradient, the loss on the second. Its
// gradient is the one-step loss's gradient at the frozen input (the first prediction).
TEST(MpPdeGradient, PushforwardIsTheOneStepGradientAtTheFrozenPrediction) {
  Tiny t(/*conditions=*/2);  // time and one parameter
  const Trajectories data = smooth_trajectories(3, 24, kNodes);
  Rollout<double> rollout(t.model, t.sample, data);
  const std::vector<long> trajectories = {0, 2}, starts = {4, 9};
  const double normaliser = 2.0;

  t.parameters.zero_gradients();
  const double value = rollout.pushforward_loss(t.workspace, trajectories, starts, 1, normaliser);
  const std::vector<double> analytic = gradients(t.parameters);
  EXPECT_EQ(rollout.starts(), (std::vector<long>{8, 13}));  // moved by K = 4

  rollout.load(trajectories, starts);
  t.workspace.reset();
  rollout.feed_back(rollout.predict(t.workspace).h_out);  // the frozen first step
  auto one_step_loss = [&] {
    t.workspace.reset();
    const Matrix<double> p = rollout.predict(t.workspace).h_out;
    const std::vector<double> pv = to_vector(p), yv = to_vector(rollout.targets());
    double sum = 0;
    for (std::size_t i = 0; i < pv.size(); ++i) sum += (pv[i] - yv[i]) * (pv[i] - yv[i]);
    return sum / normaliser;
  };
  EXPECT_NEAR(one_step_loss(), value, 1e-12 * value);
  expect_parameter_gradients(t.parameters, analytic,
                             numeric_gradient(t.parameters.values(), one_step_loss), "pushforward");
}

// The accumulated error of a full unroll equals the metric computed on the host from the
// predictions fed back window by window.
TEST(MpPdeRollout, AccumulatedErrorMatchesTheHostSum) {
  Tiny t(2);
  const Trajectories data = smooth_trajectories(3, 20, kNodes);
  Rollout<double> rollout(t.model, t.sample, data);
  const auto error = rollout.accumulated_error(t.workspace, 1, 2, /*ground_truth_windows=*/2, 2);
  ASSERT_EQ(error.windows, 3);  // steps 8..19 in windows of 4
  // The same rollout, window by window, summed here.
  std::vector<double> predicted(2 * data.steps * data.nodes, 0.0);
  rollout.load({1, 2}, {8, 8});
  for (long w = 0; w < 3; ++w) {
    t.workspace.reset();
    const Matrix<double> p = rollout.predict(t.workspace).h_out;
    const auto pv = to_vector(p);
    for (long b = 0; b < 2; ++b)
      for (long i = 0; i < kNodes; ++i)
        for (long l = 0; l < 4; ++l)
          predicted[(b * data.steps + 8 + 4 * w + l) * data.nodes + i] =
              pv[(b * kNodes + i) * 4 + l];
    rollout.feed_back(p);
  }
  const std::vector<double> host = accumulated_error(data, predicted, 1, 2, 8, 20);
  for (long b = 0; b < 2; ++b) EXPECT_NEAR(error.per_trajectory[b], host[b], 1e-12 * host[b]);
}
