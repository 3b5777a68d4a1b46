// Message passing on a partitioned mesh (mesh/distributed_graph.hpp, nn/halo_exchange.hpp): a
// network [halo exchange, MessagePassing] × 2–3 in float64 on a simplex mesh of the unit square or
// cube distributed with one layer of overlap gives, per global vertex, the outputs, input
// gradients and (summed over ranks) parameter gradients of the same network on the serial mesh
// (built on PETSC_COMM_SELF inside the test on every rank) to 1e-12 relative; its distributed
// backward agrees with central differences of the rank-reduced loss. Triangles and tetrahedra,
// sum and mean aggregation. Also: the halo reduce is the transpose of the halo update (float64,
// float32), and a mesh distributed without overlap is an error. Runs at 1, 2 and 4 ranks.
#include <gtest/gtest.h>
#include <petscdmplex.h>
#include <petscsf.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/mesh/distributed_graph.hpp"
#include "karman/mesh/plex.hpp"
#include "karman/nn/halo_exchange.hpp"
#include "karman/nn/message_passing.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"
#include "support/kokkos_env.hpp"
#include "support/mpi_world.hpp"
#include "support/nn_checks.hpp"

using namespace karman;
using namespace karman::nn;
using karman::testing::random_matrix;
using karman::testing::to_vector;

namespace {

constexpr std::size_t kNodeFeatures = 3;
constexpr double kTolerance = 1e-12;  // distributed against serial, relative to the largest value

// The simplex mesh of [0, 1]^dim with `faces` cells per side: each square cut into 2 triangles,
// each cube into 6 tetrahedra (Kuhn), interior vertices moved a little so that the edges differ;
// interpolated, on `comm` (all of it on the communicator's first rank). Made from a cell list:
// Debian's PETSc has no mesh generator for DMPlexCreateBoxMesh's simplices.
petsc::DM box_mesh(MPI_Comm comm, int dim, PetscInt faces) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  const PetscInt side = faces + 1, vertices = dim == 2 ? side * side : side * side * side;
  auto vertex = [&](PetscInt i, PetscInt j, PetscInt k) { return i + side * (j + side * k); };
  std::vector<PetscInt> cells;
  std::vector<PetscReal> coordinates;
  if (rank == 0) {
    for (PetscInt v = 0; v < vertices; ++v) {
      const PetscInt index[3] = {v % side, (v / side) % side, v / (side * side)};
      for (int d = 0; d < dim; ++d) {
        const double x = double(index[d]) / faces;
        const bool interior = index[d] > 0 && index[d] < faces;
        coordinates.push_back(x + (interior ? 0.15 / faces * std::sin(7.0 * v + d) : 0.0));
      }
    }
    const PetscInt layers = dim == 2 ? 1 : faces;
    for (PetscInt k = 0; k < layers; ++k)
      for (PetscInt j = 0; j < faces; ++j)
        for (PetscInt i = 0; i < faces; ++i) {
          if (dim == 2) {
            const PetscInt a = vertex(i, j, 0), b = vertex(i + 1, j, 0), c = vertex(i, j + 1, 0),
                           d = vertex(i + 1, j + 1, 0);
            cells.insert(cells.end(), {a, b, d, a, d, c});
            continue;
          }
          // Kuhn: one tetrahedron per order of the axes, from corner (i, j, k) to the opposite.
          int axes[3] = {0, 1, 2};
          do {
            PetscInt at[3] = {i, j, k};
            PetscInt tet[4];
            tet[0] = vertex(at[0], at[1], at[2]);
            for (int s = 0; s < 3; ++s) {
              ++at[axes[s]];
              tet[s + 1] = vertex(at[0], at[1], at[2]);
            }
            cells.insert(cells.end(), tet, tet + 4);
          } while (std::next_permutation(axes, axes + 3));
        }
  }
  const PetscInt corners = dim + 1;
  petsc::DM dm;
  KARMAN_PETSC(DMPlexCreateFromCellListPetsc(
      comm, dim, static_cast<PetscInt>(cells.size()) / corners, rank == 0 ? vertices : 0, corners,
      PETSC_TRUE, cells.data(), dim, coordinates.data(), dm.out()));
  return dm;
}

// The serial box mesh's graph on this rank alone.
mesh::DistributedGraph serial_graph(int dim, PetscInt faces) {
  const petsc::DM dm = box_mesh(PETSC_COMM_SELF, dim, faces);
  return mesh::make_distributed_graph(dm, static_cast<PetscSF>(nullptr));
}

// The same mesh made on the world's first rank, distributed with one layer of overlap, its global
// vertex numbers from the migration SF.
mesh::DistributedGraph partitioned_graph(int dim, PetscInt faces) {
  const petsc::DM serial = box_mesh(test::world(), dim, faces);
  petsc::DM distributed;
  PetscSF migration = nullptr;
  KARMAN_PETSC(DMPlexDistribute(serial, 1, &migration, distributed.out()));
  if (!distributed) return mesh::make_distributed_graph(serial, migration);  // one rank
  mesh::DistributedGraph graph = mesh::make_distributed_graph(distributed, migration);
  KARMAN_PETSC(PetscSFDestroy(&migration));
  return graph;
}

// Σ over ranks and rows of a ∘ b, a and b [N_local, W].
template <class T>
double dot_over_ranks(const Matrix<T>& a, const Matrix<T>& b) {
  const auto va = to_vector(a), vb = to_vector(b);
  double sum = 0;
  for (std::size_t i = 0; i < va.size(); ++i) sum += va[i] * vb[i];
  MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_DOUBLE, MPI_SUM, test::world());
  return sum;
}

// The halo's reduce is the transpose of its update: ⟨update(x), y⟩ = ⟨x, reduce(y)⟩ over all
// ranks, for random x and y (halo rows included), and reduce leaves the halo rows 0.
template <class T>
void check_halo_transpose(double tolerance) {
  const mesh::DistributedGraph g = partitioned_graph(2, 6);
  const std::size_t width = 5;
  const int rank = test::world_rank();
  const Matrix<T> x = random_matrix<T>(g.local, width, 30 + rank);
  const Matrix<T> y = random_matrix<T>(g.local, width, 40 + rank);
  Matrix<T> updated("updated", g.local, width), reduced("reduced", g.local, width);
  Kokkos::deep_copy(updated, x);
  Kokkos::deep_copy(reduced, y);
  g.halo.update(updated);
  g.halo.reduce(reduced);
  const double left = dot_over_ranks(updated, y), right = dot_over_ranks(x, reduced);
  EXPECT_NEAR(left, right, tolerance * std::abs(left));
  const auto halo_rows = to_vector(reduced);
  for (std::size_t i = g.owned * width; i < halo_rows.size(); ++i) ASSERT_EQ(halo_rows[i], 0);
  // The owned rows of update(x) are x's own.
  const auto owned_x = to_vector(x), owned_updated = to_vector(updated);
  for (std::size_t i = 0; i < g.owned * width; ++i) ASSERT_EQ(owned_updated[i], owned_x[i]);
}

// Node inputs [N_local, 3]: smooth functions of the coordinates.
Matrix<double> node_inputs(const mesh::DistributedGraph& g) {
  const auto x = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g.coordinates);
  Matrix<double> h("h0", g.local, kNodeFeatures);
  auto host = Kokkos::create_mirror_view(h);
  for (long n = 0; n < g.local; ++n) {
    const double a = x(n, 0), b = x(n, 1), c = g.dim > 2 ? x(n, 2) : 0.0;
    host(n, 0) = std::sin(M_PI * a) * std::cos(M_PI * b) + c;
    host(n, 1) = a * b - 0.5 * c;
    host(n, 2) = 1.0 + a * a - b + c * c;
  }
  Kokkos::deep_copy(h, host);
  return h;
}

// The loss weights dL/dh_L [N_local, 3]: smooth on owned nodes, 0 on halo nodes (the loss counts
// each vertex once, on its owner).
Matrix<double> loss_weights(const mesh::DistributedGraph& g) {
  const auto x = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g.coordinates);
  Matrix<double> w("w", g.local, kNodeFeatures);
  auto host = Kokkos::create_mirror_view(w);
  for (long n = 0; n < g.local; ++n)
    for (std::size_t c = 0; c < kNodeFeatures; ++c)
      host(n, c) = n < g.owned ? std::cos(x(n, 0) + 2 * x(n, 1) + 0.5 * c) : 0.0;
  Kokkos::deep_copy(w, host);
  return w;
}

// [halo exchange, MessagePassing] × L on a distributed graph: node width 3, edge and message width
// D + 1 (so both residuals apply), one tanh hidden layer of 8 in each MLP, the given aggregation
// per layer. Parameters random (counter-based: the same on every rank).
class DistributedNetwork {
 public:
  DistributedNetwork(const mesh::DistributedGraph& g, const std::vector<Aggregation>& aggregation)
      : m_graph(g), m_edge_width(g.dim + 1) {
    for (std::size_t l = 0; l < aggregation.size(); ++l) {
      m_exchanges.push_back(
          std::make_unique<HaloExchange<double>>(g.halo, kNodeFeatures, m_edge_width));
      MessagePassingOptions o;
      o.node_features = kNodeFeatures;
      o.edge_features = o.message_width = m_edge_width;
      o.hidden = {8};
      o.activation = Activation::tanh;
      o.aggregation = aggregation[l];
      m_layers.push_back(std::make_unique<MessagePassing<double>>(o));
      m_layers.back()->declare(m_parameters, "layer." + std::to_string(l) + ".");
    }
    m_parameters.allocate();
    Kokkos::deep_copy(m_parameters.values(),
                      karman::testing::flat(random_matrix(1, m_parameters.size(), 17, 0.5)));
  }
  Parameters<double>& parameters() { return m_parameters; }

  // h0 [N_local, 3] → h_L [N_local, 3] (owned rows meaningful). Collective.
  Matrix<double> forward(const Matrix<double>& h0) {
    m_workspace.reset();
    m_contexts.clear();
    Matrix<double> h = h0, e = m_graph.edge_features;
    for (std::size_t l = 0; l < m_layers.size(); ++l) {
      for (GraphModule<double>* module : {static_cast<GraphModule<double>*>(m_exchanges[l].get()),
                                          static_cast<GraphModule<double>*>(m_layers[l].get())}) {
        GraphContext<double>& c = module->forward(m_graph.graph, h, e, Pass::values(), m_workspace);
        m_contexts.emplace_back(module, &c);
        h = c.h_out;
        e = c.e_out;
      }
    }
    return h;
  }
  // dh_L [N_local, 3] → dh0 [N_local, 3] (owned rows: the gradient of the rank-summed loss; halo
  // rows 0). Adds this rank's part of the parameter gradients. Collective.
  Matrix<double> backward(const Matrix<double>& dh_last) {
    Matrix<double> dh = dh_last;
    Matrix<double> de("de_last", m_graph.graph.edges, m_edge_width);  // e_L is not read: 0
    for (std::size_t k = m_contexts.size(); k-- > 0;) {
      auto [module, context] = m_contexts[k];
      module->backward(*context, dh, de);
      dh = context->dh;
      de = context->de;
    }
    return dh;
  }

 private:
  const mesh::DistributedGraph& m_graph;
  std::size_t m_edge_width;
  std::vector<std::unique_ptr<HaloExchange<double>>> m_exchanges;
  std::vector<std::unique_ptr<MessagePassing<double>>> m_layers;
  Parameters<double> m_parameters;
  Workspace<double> m_workspace;
  std::vector<std::pair<GraphModule<double>*, GraphContext<double>*>> m_contexts;
};

// What one forward and backward gives: outputs and input gradients per global vertex (this rank's
// owned ones; -infinity elsewhere), parameter gradients summed over `comm`.
struct Run {
  std::vector<std::vector<double>> outputs, input_gradients;  // [N_global][3]
  std::vector<double> parameter_gradients;                    // [P]
};

Run run(const mesh::DistributedGraph& g, const std::vector<Aggregation>& aggregation,
        MPI_Comm comm) {
  DistributedNetwork net(g, aggregation);
  net.parameters().zero_gradients();
  const auto h = to_vector(net.forward(node_inputs(g)));
  const auto dh0 = to_vector(net.backward(loss_weights(g)));
  Run r;
  r.outputs.assign(g.global_nodes, {});
  r.input_gradients.assign(g.global_nodes, {});
  for (long n = 0; n < g.owned; ++n) {
    const auto first = h.begin() + n * kNodeFeatures;
    r.outputs[g.global_numbers[n]].assign(first, first + kNodeFeatures);
    const auto dfirst = dh0.begin() + n * kNodeFeatures;
    r.input_gradients[g.global_numbers[n]].assign(dfirst, dfirst + kNodeFeatures);
  }
  r.parameter_gradients = to_vector(net.parameters().gradients());
  MPI_Allreduce(MPI_IN_PLACE, r.parameter_gradients.data(),
                static_cast<int>(r.parameter_gradients.size()), MPI_DOUBLE, MPI_SUM, comm);
  return r;
}

// max |a − b| over the vertices this rank owns in `a`, relative to max |b| over all vertices, the
// largest over the ranks.
double vertex_difference(const std::vector<std::vector<double>>& a,
                         const std::vector<std::vector<double>>& b) {
  double difference = 0, scale = 0;
  for (std::size_t v = 0; v < b.size(); ++v)
    for (std::size_t c = 0; c < b[v].size(); ++c) {
      scale = std::max(scale, std::abs(b[v][c]));
      if (!a[v].empty()) difference = std::max(difference, std::abs(a[v][c] - b[v][c]));
    }
  MPI_Allreduce(MPI_IN_PLACE, &difference, 1, MPI_DOUBLE, MPI_MAX, test::world());
  return difference / scale;
}

double relative_max_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double difference = 0, scale = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    difference = std::max(difference, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return difference / scale;
}

long sum_over_ranks(long value) {
  MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_LONG, MPI_SUM, test::world());
  return value;
}

void compare(const mesh::DistributedGraph& parallel, const mesh::DistributedGraph& serial,
             const std::vector<Aggregation>& aggregation) {
  const int dim = serial.dim;

  // The partition: every vertex owned once, every directed mesh edge on exactly one rank, and the
  // same coordinates per global number as the serial mesh (the numbering is the serial one).
  ASSERT_EQ(parallel.global_nodes, serial.global_nodes);
  EXPECT_EQ(sum_over_ranks(parallel.owned), serial.local);
  EXPECT_EQ(sum_over_ranks(parallel.graph.edges), serial.graph.edges);
  if (test::world_size() > 1) {
    EXPECT_GT(sum_over_ranks(parallel.local - parallel.owned), 0);
  }
  const auto xp = to_vector(parallel.coordinates), xs = to_vector(serial.coordinates);
  for (long n = 0; n < parallel.local; ++n)
    for (int d = 0; d < dim; ++d)
      ASSERT_EQ(xp[n * dim + d], xs[parallel.global_numbers[n] * dim + d])
          << "vertex " << parallel.global_numbers[n];

  const Run p = run(parallel, aggregation, test::world());
  const Run s = run(serial, aggregation, PETSC_COMM_SELF);
  const double outputs = vertex_difference(p.outputs, s.outputs);
  const double inputs = vertex_difference(p.input_gradients, s.input_gradients);
  const double parameters = relative_max_difference(p.parameter_gradients, s.parameter_gradients);
  if (test::world_rank() == 0)
    std::printf(
        "[ measured ] %dD, %d ranks, %ld vertices: max relative difference to one rank: "
        "outputs %.3g, input gradients %.3g, parameter gradients %.3g\n",
        dim, test::world_size(), serial.global_nodes, outputs, inputs, parameters);
  EXPECT_LT(outputs, kTolerance);
  EXPECT_LT(inputs, kTolerance);
  EXPECT_LT(parameters, kTolerance);
}

void compare_with_serial(int dim, PetscInt faces, const std::vector<Aggregation>& aggregation) {
  compare(partitioned_graph(dim, faces), serial_graph(dim, faces), aggregation);
}

// A Gmsh mesh read by mesh::PlexMesh (distributed by PTScotch with one layer of overlap, its
// vertices numbered as on one rank) against the same file read on this rank alone.
void compare_gmsh_with_serial(const std::string& name,
                              const std::vector<Aggregation>& aggregation) {
  mesh::MeshSpec spec;
  spec.file = std::string(KARMAN_SOURCE_DIR) + "/meshes/" + name + ".msh";
  spec.overlap = 1;
  const mesh::PlexMesh distributed(test::world(), spec);
  spec.overlap = 0;
  const mesh::PlexMesh alone(PETSC_COMM_SELF, spec);
  compare(mesh::make_distributed_graph(distributed.dm(), distributed.ghosted_numbers()),
          mesh::make_distributed_graph(alone.dm(), static_cast<PetscSF>(nullptr)), aggregation);
}

}  // namespace

TEST(DistributedMessagePassing, GmshMeshMatchesOneRank) {
  compare_gmsh_with_serial("square", {Aggregation::sum, Aggregation::mean});
}

TEST(DistributedGraph, HaloReduceIsTheTransposeOfUpdate) {
  check_halo_transpose<double>(1e-13);
  check_halo_transpose<float>(1e-5);
}

TEST(DistributedGraph, MeshWithoutOverlapIsRejected) {
  if (test::world_size() == 1) GTEST_SKIP() << "one rank: nothing to distribute";
  const petsc::DM serial = box_mesh(test::world(), 2, 4);
  petsc::DM distributed;
  PetscSF migration = nullptr;
  KARMAN_PETSC(DMPlexDistribute(serial, 0, &migration, distributed.out()));
  const std::vector<long> numbers = mesh::serial_vertex_numbers(distributed, migration);
  KARMAN_PETSC(PetscSFDestroy(&migration));
  EXPECT_THROW(mesh::make_distributed_graph(distributed, numbers), InternalError);
}

TEST(DistributedMessagePassing, TrianglesSumAggregationMatchesOneRank) {
  compare_with_serial(2, 8, {Aggregation::sum, Aggregation::sum, Aggregation::sum});
}

TEST(DistributedMessagePassing, TetrahedraMeanAggregationMatchesOneRank) {
  compare_with_serial(3, 4, {Aggregation::mean, Aggregation::mean, Aggregation::mean});
}

TEST(DistributedMessagePassing, MixedAggregationMatchesOneRank) {
  compare_with_serial(2, 6, {Aggregation::mean, Aggregation::sum});
}

TEST(DistributedMessagePassing, BackwardAgainstFiniteDifferences) {
  // L = Σ over ranks of Σ_{owned i, c} w_ic h_L(i, c): its gradient with respect to a few
  // parameters and a few node inputs (a perturbed input lives on its owner; the first halo
  // exchange carries it to the copies) against central differences.
  const mesh::DistributedGraph g = partitioned_graph(2, 6);
  DistributedNetwork net(g, {Aggregation::sum, Aggregation::mean, Aggregation::sum});
  const Matrix<double> h0 = node_inputs(g), w = loss_weights(g);
  auto loss = [&] {
    double value = karman::testing::dot(net.forward(h0), w);
    MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_SUM, test::world());
    return value;
  };
  net.parameters().zero_gradients();
  net.forward(h0);
  const auto dh0 = to_vector(net.backward(w));
  auto dtheta = to_vector(net.parameters().gradients());
  MPI_Allreduce(MPI_IN_PLACE, dtheta.data(), static_cast<int>(dtheta.size()), MPI_DOUBLE, MPI_SUM,
                test::world());

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
  const std::size_t size = net.parameters().size();
  for (const std::size_t i : {std::size_t(0), size / 7, size / 3, size / 2, size - 1}) {
    auto values =
        Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), net.parameters().values());
    numeric.push_back(central([&](double delta) {
      values(i) += delta;
      Kokkos::deep_copy(net.parameters().values(), values);
    }));
    analytic.push_back(dtheta[i]);
  }

  // Inputs: vertex 0, the last vertex and the smallest vertex some rank holds as a halo copy
  // (its gradient comes back through the halo reduce), channel 1.
  long halo_vertex = g.global_nodes;
  for (long n = g.owned; n < g.local; ++n) halo_vertex = std::min(halo_vertex, g.global_numbers[n]);
  MPI_Allreduce(MPI_IN_PLACE, &halo_vertex, 1, MPI_LONG, MPI_MIN, test::world());
  std::vector<long> vertices = {0, g.global_nodes - 1};
  if (halo_vertex < g.global_nodes) vertices.push_back(halo_vertex);
  auto h0_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), h0);
  for (const long v : vertices) {
    const auto owned_end = g.global_numbers.begin() + g.owned;
    const auto found = std::find(g.global_numbers.begin(), owned_end, v);
    const long n = found == owned_end ? -1 : found - g.global_numbers.begin();
    numeric.push_back(central([&](double delta) {
      if (n >= 0) h0_host(n, 1) += delta;
      Kokkos::deep_copy(h0, h0_host);
    }));
    double gradient = n >= 0 ? dh0[n * kNodeFeatures + 1] : 0.0;
    MPI_Allreduce(MPI_IN_PLACE, &gradient, 1, MPI_DOUBLE, MPI_SUM, test::world());
    analytic.push_back(gradient);
  }
  for (std::size_t k = 0; k < analytic.size(); ++k)
    EXPECT_NEAR(analytic[k], numeric[k], 1e-6 * std::max(1.0, std::abs(numeric[k])))
        << "entry " << k << (k < 5 ? " (parameter)" : " (input)");
  if (test::world_rank() == 0)
    std::printf("[ measured ] finite differences, %d ranks: relative error %.3g\n",
                test::world_size(), karman::testing::relative_error(analytic, numeric));
  EXPECT_LT(karman::testing::relative_error(analytic, numeric), 1e-6);
}
