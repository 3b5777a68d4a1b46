#include "operators/mppde/mesh_data.hpp"

#include <algorithm>
#include <cmath>
#include <exception>

#include "karman/core/collective.hpp"
#include "karman/core/error.hpp"
#include "karman/core/partition.hpp"
#include "karman/core/random.hpp"
#include "karman/core/timer.hpp"
#include "karman/fem/fem.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/pde/random_field.hpp"

namespace karman::mppde {
namespace {

constexpr long kInitialTerms = 4;
constexpr long kFieldNodes2d = 65, kFieldNodes3d = 33;  // κ's grid per dimension

// log(κ / kappa) = kappa_log_std · g / std(g) on the grid over `box` [2·dim].
struct LogCoefficient {
  mesh::GridShape grid;
  std::vector<double> field;
  double operator()(const double* x) const { return mesh::multilinear(grid, field, x); }
};

LogCoefficient log_coefficient(const HeatMeshSpec& spec, long trajectory,
                               const std::vector<double>& box, int dim) {
  LogCoefficient c;
  c.grid.dim = dim;
  for (int d = 0; d < dim; ++d) {
    c.grid.n[d] = dim == 2 ? kFieldNodes2d : kFieldNodes3d;
    c.grid.lower[d] = box[d];
    c.grid.upper[d] = box[dim + d];
  }
  config::RandomFieldSpec random;
  random.sigma = 1.0;  // rescaled below
  random.seed = mix64(spec.seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(trajectory));
  c.field = pde::random_field_global(c.grid, random);
  double mean = 0.0, square = 0.0;
  for (double v : c.field) mean += v;
  mean /= static_cast<double>(c.field.size());
  for (double v : c.field) square += (v - mean) * (v - mean);
  const double std = std::sqrt(square / static_cast<double>(c.field.size()));
  for (double& v : c.field) v = spec.kappa_log_std * (v - mean) / std;
  return c;
}

// u(x, 0) of trajectory k (amplitudes and wave numbers from the stream (seed, k)).
fem::Function initial_data(const HeatMeshSpec& spec, long trajectory,
                           const std::vector<double>& box, int dim) {
  std::vector<double> amplitude(kInitialTerms), waves(kInitialTerms * dim);
  const std::uint64_t stream = mix64(spec.seed ^ 0x5851F42D4C957F2DULL);
  const std::uint64_t counter = static_cast<std::uint64_t>(trajectory) * 64;
  for (long j = 0; j < kInitialTerms; ++j) {
    amplitude[j] = 2.0 * uniform01(stream, counter + j) - 1.0;
    for (int d = 0; d < dim; ++d)
      waves[j * dim + d] =
          1.0 + std::floor(uniform01(stream, counter + 8 + j * 3 + d) * spec.modes);
  }
  return [=](const double* x, double) {
    double u = 0.0;
    for (long j = 0; j < kInitialTerms; ++j) {
      double term = amplitude[j];
      for (int d = 0; d < dim; ++d)
        term *= std::sin(M_PI * waves[j * dim + d] * (x[d] - box[d]) / (box[dim + d] - box[d]));
      u += term;
    }
    return u;
  };
}

// u = 0 on every boundary part of the mesh (its physical groups of dimension dim − 1).
std::vector<fem::Condition> zero_on_boundary(const mesh::PlexMesh& mesh) {
  fem::Condition c;
  c.kind = fem::Condition::Kind::dirichlet;
  for (const mesh::GmshPhysicalGroup& g : mesh.header().groups)
    if (g.dim == mesh.dim() - 1) c.face_set_values.push_back(g.tag);
  KARMAN_VERIFY(!c.face_set_values.empty(), "heat_trajectories: the mesh has no boundary parts");
  c.value = [](const double*, double) { return 0.0; };
  return {c};
}

}  // namespace

MeshTrajectory solve_heat_trajectory(const mesh::PlexMesh& serial, const HeatMeshSpec& spec,
                                     long trajectory) {
  const int dim = serial.dim();
  const std::vector<double> box = serial.bounding_box();
  const LogCoefficient log_kappa = log_coefficient(spec, trajectory, box, dim);
  const long vertices = serial.global_count();

  fem::Problem problem;
  problem.equation = fem::Equation::heat;
  problem.order = 1;
  problem.initial = initial_data(spec, trajectory, box, dim);
  const std::vector<double> centroids = serial.local_cell_centroids();
  for (std::size_t c = 0; c < centroids.size() / dim; ++c)
    problem.cell_coefficient.push_back(spec.kappa * std::exp(log_kappa(&centroids[c * dim])));
  problem.conditions = zero_on_boundary(serial);
  problem.time.t_end = spec.t_end;
  problem.time.snapshots = spec.steps - 1;
  problem.time.dt = spec.t_end / static_cast<double>(problem.time.snapshots * spec.substeps);
  problem.time.scheme = spec.scheme;
  config::SolverSpec solver;
  solver.ksp = "preonly";
  solver.pc = "lu";

  MeshTrajectory out;
  out.u.assign(spec.steps * vertices, 0.0);
  const std::vector<long> numbers = serial.global_numbers();  // of the owned (all) vertices
  auto store = [&](long index, double, const std::vector<double>& values) {
    KARMAN_VERIFY(values.size() == numbers.size() && index < spec.steps,
                  "solve_heat_trajectory: a snapshot that is not every vertex");
    for (std::size_t i = 0; i < values.size(); ++i)
      out.u[index * vertices + numbers[i]] = values[i];
  };
  const Timer clock;
  fem::solve(serial.dm(), problem, solver, store);
  out.wall_s = clock.seconds();

  const std::vector<double> x = serial.coordinates();
  out.kappa.assign(vertices, 0.0);
  for (std::size_t i = 0; i < numbers.size(); ++i)
    out.kappa[numbers[i]] = spec.kappa * std::exp(log_kappa(&x[i * dim]));
  return out;
}

Trajectories heat_trajectories(MPI_Comm comm, const mesh::PlexMesh& serial,
                               const HeatMeshSpec& spec, long first, long count,
                               const std::vector<long>& nodes) {
  const long vertices = serial.global_count(), steps = spec.steps;
  const auto [mine_first, mine] = my_share(comm, count);
  std::vector<double> u, kappa;  // [mine, steps, N_global], [mine, N_global]
  std::exception_ptr error;
  try {
    for (long k = 0; k < mine; ++k) {
      const MeshTrajectory t = solve_heat_trajectory(serial, spec, first + mine_first + k);
      u.insert(u.end(), t.u.begin(), t.u.end());
      kappa.insert(kappa.end(), t.kappa.begin(), t.kappa.end());
    }
  } catch (...) {
    error = std::current_exception();
  }
  rethrow_on_all(comm, error);
  const std::vector<double> all_u = all_gather(comm, u), all_kappa = all_gather(comm, kappa);

  Trajectories d;
  d.count = count;
  d.steps = steps;
  d.nodes = static_cast<long>(nodes.size());
  d.t_max = spec.t_end;
  d.dt = spec.t_end / static_cast<double>(steps - 1);
  d.parameters = 0;
  d.node_parameters = 1;
  d.u.reserve(count * steps * d.nodes);
  for (long k = 0; k < count; ++k)
    for (long s = 0; s < steps; ++s)
      for (long g : nodes) d.u.push_back(all_u[(k * steps + s) * vertices + g]);
  for (long k = 0; k < count; ++k)
    for (long g : nodes) d.node_conditions.push_back(all_kappa[k * vertices + g] / spec.kappa);
  return d;
}

}  // namespace karman::mppde
