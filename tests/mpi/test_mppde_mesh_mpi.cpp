// MP-PDE on a partitioned mesh (operators/mppde: MpPdeModel::set_partition, Rollout on a
// mesh_sample): on meshes/square.msh distributed by PTScotch with one layer of overlap, a small
// model in float64 gives, per global vertex, the same owned predictions of a two-window rollout,
// the same accumulated errors and the same pushforward loss and parameter gradients (summed over
// ranks) as the same model on the serial mesh (read on this rank alone) to 1e-12 relative; and
// its distributed backward (parameters and node inputs, a halo vertex's included) agrees with
// central differences of the rank-summed loss; float32 agrees to its round-off. Runs at 1, 2
// and 4 ranks; Halo::batched's update and reduce are transposes of each other over a batch.
#include <gtest/gtest.h>
#include <petscsys.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "karman/mesh/distributed_graph.hpp"
#include "karman/mesh/plex.hpp"
#include "operators/mppde/mesh_graph.hpp"
#include "operators/mppde/model.hpp"
#include "operators/mppde/rollout.hpp"
#include "support/kokkos_env.hpp"
#include "support/mpi_world.hpp"
#include "support/nn_checks.hpp"
#include "support/rank_compare.hpp"

using namespace karman;
using namespace karman::mppde;
using karman::testing::random_matrix;
using karman::testing::to_vector;

using karman::test::by_global_vertex;
using karman::test::owned_difference;
using karman::test::relative_difference;
using karman::test::summed_over_ranks;

namespace {

constexpr double kTolerance = 1e-12;  // distributed against serial, relative
constexpr long kWindow = 4, kSteps = 20, kTrajectories = 3;

// A rank's part of the square mesh as MP-PDE's sample graph (distributed with one layer of
// overlap), or the whole mesh on this rank alone (`alone`).
struct MeshSample {
  explicit MeshSample(bool alone)
      : mesh(alone ? PETSC_COMM_SELF : test::world(), spec(alone)),
        graph(alone ? mesh::make_distributed_graph(mesh.dm(), static_cast<PetscSF>(nullptr))
                    : mesh::make_distributed_graph(mesh.dm(), mesh.ghosted_numbers())),
        sample(mesh_sample(graph, mesh.bounding_box())) {}
  static mesh::MeshSpec spec(bool alone) {
    mesh::MeshSpec s;
    s.file = std::string(KARMAN_SOURCE_DIR) + "/meshes/square.msh";
    s.overlap = alone ? 0 : 1;
    return s;
  }
  mesh::PlexMesh mesh;
  mesh::DistributedGraph graph;
  SampleGraph sample;
};

// Smooth trajectories at the sample's local nodes (a function of position, time and trajectory,
// so halo copies hold their owners' values), one parameter each.
Trajectories smooth_trajectories(const SampleGraph& s) {
  Trajectories d;
  d.count = kTrajectories;
  d.steps = kSteps;
  d.nodes = s.nodes;
  d.dt = 0.05;
  d.t_max = d.dt * (kSteps - 1);
  d.parameters = 1;
  for (long k = 0; k < kTrajectories; ++k) {
    d.conditions.push_back(0.3 + 0.2 * k);
    for (long t = 0; t < kSteps; ++t)
      for (long n = 0; n < s.nodes; ++n) {
        const double x = s.positions[2 * n], y = s.positions[2 * n + 1], time = t * d.dt;
        d.u.push_back(std::sin(M_PI * (1 + k) * x + 0.7 * time) * std::cos(2.0 * y - time) +
                      0.1 * k * x * y);
      }
  }
  return d;
}

MpPdeSpec tiny_spec() {
  MpPdeSpec s;
  s.hidden = 32;
  s.time_window = kWindow;
  s.layers = 2;
  return s;
}

// The model with random parameters (the same on every rank).
template <class T = double>
struct Model {
  Model() : model(tiny_spec(), 2, 2) {
    model.declare(parameters, "");
    parameters.allocate();
    const nn::Matrix<T> values = random_matrix<T>(1, parameters.size(), 7, 0.3);
    Kokkos::deep_copy(parameters.values(), nn::Vector<T>(values.data(), values.size()));
  }
  MpPdeModel<T> model;
  nn::Parameters<T> parameters;
  nn::Workspace<T> workspace;
};

void report(const char* what, double value) {
  if (test::world_rank() == 0)
    std::printf("[ measured ] %d ranks: %s %.3g\n", test::world_size(), what, value);
}

// What a rollout gives on one graph: the second window's prediction per global vertex, the
// accumulated errors, the pushforward loss and its parameter gradients (summed over the ranks
// of a partitioned graph; the serial graph is on every rank whole).
struct RolloutRun {
  std::vector<double> second_window, accumulated, gradients;
  double loss = 0;
};

template <class T = double>
RolloutRun run_rollout(const MeshSample& m) {
  const bool partitioned = m.mesh.comm() != PETSC_COMM_SELF;
  auto total = [&](std::vector<double> v) { return partitioned ? summed_over_ranks(v) : v; };
  Model<T> net;
  const Trajectories data = smooth_trajectories(m.sample);
  Rollout<T> rollout(net.model, m.sample, data);
  RolloutRun r;
  rollout.load({0, 1, 2}, {kWindow, kWindow, 2 * kWindow});
  net.workspace.reset();
  rollout.feed_back(rollout.predict(net.workspace).h_out);
  net.workspace.reset();
  r.second_window = by_global_vertex(m.graph, rollout.predict(net.workspace).h_out);
  r.accumulated =
      total(rollout.accumulated_error(net.workspace, 0, kTrajectories, 1, 2).per_trajectory);
  net.parameters.zero_gradients();
  r.loss =
      total({rollout.pushforward_loss(net.workspace, {0, 2}, {kWindow, 2 * kWindow}, 1, 2.0)})[0];
  r.gradients = total(to_vector(net.parameters.gradients()));
  return r;
}

}  // namespace

TEST(MpPdeMesh, BatchedHaloReduceIsTheTransposeOfUpdate) {
  const MeshSample m(false);
  const mesh::Halo halo = m.graph.halo.batched(3);
  ASSERT_EQ(halo.rows(), 3 * m.graph.local);
  const int rank = test::world_rank();
  const nn::Matrix<double> x = random_matrix(halo.rows(), 4, 30 + rank);
  const nn::Matrix<double> y = random_matrix(halo.rows(), 4, 40 + rank);
  nn::Matrix<double> updated("updated", halo.rows(), 4), reduced("reduced", halo.rows(), 4);
  Kokkos::deep_copy(updated, x);
  Kokkos::deep_copy(reduced, y);
  halo.update(updated);
  halo.reduce(reduced);
  const double left = summed_over_ranks({karman::testing::dot(updated, y)})[0];
  const double right = summed_over_ranks({karman::testing::dot(x, reduced)})[0];
  EXPECT_NEAR(left, right, 1e-13 * std::abs(left));
  // Every sample's halo rows hold their owners' rows of the same sample: the positions.
  const long local = m.graph.local, global = m.graph.global_nodes;
  nn::Matrix<double> numbers("numbers", halo.rows(), 1);
  auto host = Kokkos::create_mirror_view(numbers);
  for (long b = 0; b < 3; ++b)
    for (long n = 0; n < local; ++n)
      host(b * local + n, 0) = n < m.graph.owned ? b * global + m.graph.global_numbers[n] : -1.0;
  Kokkos::deep_copy(numbers, host);
  halo.update(numbers);
  Kokkos::deep_copy(host, numbers);
  for (long b = 0; b < 3; ++b)
    for (long n = 0; n < local; ++n)
      ASSERT_EQ(host(b * local + n, 0), double(b * global + m.graph.global_numbers[n]));
}

TEST(MpPdeMesh, RolloutAndGradientsMatchOneRank) {
  const MeshSample partitioned(false), alone(true);
  ASSERT_EQ(partitioned.graph.global_nodes, alone.graph.global_nodes);
  const RolloutRun p = run_rollout(partitioned), s = run_rollout(alone);
  const double prediction = owned_difference(p.second_window, s.second_window);
  const double accumulated = relative_difference(p.accumulated, s.accumulated);
  const double loss = std::abs(p.loss - s.loss) / std::abs(s.loss);
  const double gradients = relative_difference(p.gradients, s.gradients);
  report("second window's prediction, relative difference to one rank", prediction);
  report("accumulated errors, relative difference", accumulated);
  report("pushforward loss, relative difference", loss);
  report("parameter gradients, relative difference", gradients);
  EXPECT_LT(prediction, kTolerance);
  EXPECT_LT(accumulated, kTolerance);
  EXPECT_LT(loss, kTolerance);
  EXPECT_LT(gradients, kTolerance);
  EXPECT_GT(s.loss, 0.0);
}

TEST(MpPdeMesh, Float32RolloutAndGradientsMatchOneRank) {
  // The same in float32 (the halo's reduce sums in PetscReal): round-off of float sums only.
  const MeshSample partitioned(false), alone(true);
  const RolloutRun p = run_rollout<float>(partitioned), s = run_rollout<float>(alone);
  const double prediction = owned_difference(p.second_window, s.second_window);
  const double gradients = relative_difference(p.gradients, s.gradients);
  report("float32: second window's prediction, relative difference", prediction);
  report("float32: parameter gradients, relative difference", gradients);
  EXPECT_LT(prediction, 1e-5);
  EXPECT_LT(relative_difference(p.accumulated, s.accumulated), 1e-4);
  EXPECT_LT(gradients, 1e-4);
}

TEST(MpPdeMesh, DistributedBackwardAgainstFiniteDifferences) {
  // L = Σ over ranks of Σ_{owned rows} w ∘ model(h) on a batch of two samples; w and h smooth
  // functions of the position (halo rows of h hold values the exchange overwrites: 0 here, so a
  // model that read them would fail the comparison).
  const MeshSample m(false);
  Model<> net;
  const long batch = 2, n = m.sample.nodes, in = net.model.node_in_features();
  const BatchGraph<double> g = batched<double>(m.sample, batch);
  net.model.set_instance_nodes(n);
  net.model.set_time_step(0.05);
  net.model.set_partition(m.sample.halo->batched(batch));
  nn::Matrix<double> h("h", batch * n, in), w("w", batch * n, kWindow);
  auto hh = Kokkos::create_mirror_view(h);
  auto wh = Kokkos::create_mirror_view(w);
  for (long b = 0; b < batch; ++b)
    for (long i = 0; i < n; ++i) {
      const double x = m.sample.positions[2 * i], y = m.sample.positions[2 * i + 1];
      const bool owned = i < m.sample.owned;
      for (long c = 0; c < in; ++c)
        hh(b * n + i, c) =
            owned ? std::sin(1.3 * x + 0.7 * c + b) * std::cos(2.1 * y - 0.3 * c) : 0.0;
      for (long c = 0; c < kWindow; ++c)
        wh(b * n + i, c) = owned ? std::cos(x + 2 * y + 0.5 * c + b) : 0.0;
    }
  Kokkos::deep_copy(h, hh);
  Kokkos::deep_copy(w, wh);
  auto loss = [&] {
    net.workspace.reset();
    auto& c = net.model.forward(g.graph, h, g.geometry, nn::Pass::values(), net.workspace);
    return summed_over_ranks({karman::testing::dot(c.h_out, w)})[0];
  };
  net.parameters.zero_gradients();
  net.workspace.reset();
  auto& c = net.model.forward(g.graph, h, g.geometry, nn::Pass::values(), net.workspace);
  net.model.backward(c, w, c.e_out);
  const std::vector<double> dh = to_vector(c.dh);
  const std::vector<double> dtheta = summed_over_ranks(to_vector(net.parameters.gradients()));

  const double step = 1e-6;
  auto central = [&](auto&& perturb) {
    perturb(step);
    const double plus = loss();
    perturb(-2 * step);
    const double minus = loss();
    perturb(step);
    return (plus - minus) / (2 * step);
  };
  std::vector<double> analytic, numeric;
  // Parameters: the first and middle entries of every tensor.
  auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), net.parameters.values());
  for (const nn::ParameterInfo& info : net.parameters.infos())
    for (const std::size_t i : {info.offset, info.offset + info.size() / 2}) {
      numeric.push_back(central([&](double delta) {
        values(i) += delta;
        Kokkos::deep_copy(net.parameters.values(), values);
      }));
      analytic.push_back(dtheta[i]);
    }
  // Inputs of sample 1: vertex 0, the last vertex and the smallest vertex some rank holds as a
  // halo copy, in a window column (read through the edge differences too), a position and a
  // condition column; perturbed on the owner.
  long halo_vertex = m.graph.global_nodes;
  for (long i = m.graph.owned; i < m.graph.local; ++i)
    halo_vertex = std::min(halo_vertex, m.graph.global_numbers[i]);
  MPI_Allreduce(MPI_IN_PLACE, &halo_vertex, 1, MPI_LONG, MPI_MIN, test::world());
  std::vector<long> vertices = {0, m.graph.global_nodes - 1};
  if (halo_vertex < m.graph.global_nodes) vertices.push_back(halo_vertex);
  for (const long v : vertices)
    for (const long column : {1L, kWindow - 1, kWindow, in - 1}) {
      const auto owned_end = m.graph.global_numbers.begin() + m.graph.owned;
      const auto found = std::find(m.graph.global_numbers.begin(), owned_end, v);
      const long row = found == owned_end ? -1 : n + (found - m.graph.global_numbers.begin());
      numeric.push_back(central([&](double delta) {
        if (row >= 0) hh(row, column) += delta;
        Kokkos::deep_copy(h, hh);
      }));
      analytic.push_back(summed_over_ranks({row >= 0 ? dh[row * in + column] : 0.0})[0]);
    }
  // The halo rows of dh are 0 (their values are never read).
  for (long b = 0; b < batch; ++b)
    for (long i = m.sample.owned; i < n; ++i)
      for (long col = 0; col < in; ++col) ASSERT_EQ(dh[(b * n + i) * in + col], 0.0);
  const double error = karman::testing::relative_error(analytic, numeric);
  report("finite differences of the distributed backward, relative error", error);
  for (std::size_t k = 0; k < analytic.size(); ++k)
    EXPECT_NEAR(analytic[k], numeric[k], 1e-6 * std::max(1.0, std::abs(numeric[k])))
        << "entry " << k;
  EXPECT_LT(error, 1e-6);
}
