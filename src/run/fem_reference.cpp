// The finite-element reference: the case's PDE on its Gmsh mesh (DMPlex, PetscFE), written as
// per-vertex fields with the mesh (/mesh/vertices, /mesh/cells) and an XDMF sidecar with
// Triangle / Tetrahedron topology; a per-cell Darcy coefficient is a per-cell field.

#include "fem_reference.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "karman/core/log.hpp"
#include "karman/core/norms.hpp"
#include "karman/fem/fem.hpp"
#include "karman/io/hdf5.hpp"
#include "karman/io/xdmf.hpp"
#include "karman/mesh/plex.hpp"
#include "karman/pde/random_field.hpp"
#include "karman/run/outputs.hpp"

namespace karman::run {
namespace {

// An expression of a case as a function of a mesh point (dim coordinates) and time.
fem::Function function_of(const Expression& e, int dim) {
  return [e, dim](const double* x, double t) { return e(x[0], x[1], dim > 2 ? x[2] : 0.0, t); };
}

// f at every owned vertex ([n_owned], storage order).
std::vector<double> at_vertices(const mesh::PlexMesh& mesh, const fem::Function& f, double t) {
  const std::vector<double> x = mesh.coordinates();
  const int dim = mesh.dim();
  std::vector<double> out(mesh.owned_count());
  for (long i = 0; i < mesh.owned_count(); ++i) out[i] = f(&x[i * dim], t);
  return out;
}

// A Gaussian random field of the case (karman/pde/random_field.hpp) on a uniform grid over the
// mesh's bounding box, sampled at each local cell's centroid by multilinear interpolation: the
// same field on any rank count (every rank computes the whole grid field; small for a box).
std::vector<double> random_field_on_cells(const mesh::PlexMesh& mesh,
                                          const config::RandomFieldSpec& spec) {
  const int dim = mesh.dim();
  const std::vector<double> box = mesh.bounding_box();
  mesh::GridShape grid;
  grid.dim = dim;
  const long n = dim == 2 ? 257 : 65;
  for (int d = 0; d < dim; ++d) {
    grid.n[d] = n;
    grid.lower[d] = box[d];
    grid.upper[d] = box[dim + d];
  }
  // Interpolate the field itself and threshold at the cells: a thresholded grid field (values
  // `above` / `below`) would be thresholded twice, every cell coming out `above` when both are
  // above the threshold.
  config::RandomFieldSpec smooth = spec;
  smooth.thresholded = false;
  const std::vector<double> field = pde::random_field_global(grid, smooth);
  const std::vector<double> centroids = mesh.local_cell_centroids();
  const long cells = static_cast<long>(centroids.size()) / dim;
  std::vector<double> out(cells);
  for (long c = 0; c < cells; ++c) {
    double value = mesh::multilinear(grid, field, &centroids[c * dim]);
    if (spec.thresholded) value = value >= spec.threshold ? spec.above : spec.below;
    out[c] = value;
  }
  return out;
}

// Per-cell values [n_cells] of an HDF5 dataset, by global cell number, for the local cells.
std::vector<double> file_field_on_cells(MPI_Comm comm, const mesh::PlexMesh& mesh,
                                        const config::FieldSpec& spec) {
  const io::FileField field = io::read_field(comm, spec.file, spec.dataset);
  if (field.shape != std::vector<long>{mesh.cell_count()})
    throw ConfigError(spec.place, fmt::format("pde.coefficient: dataset '{}' in '{}' must hold one "
                                              "value per cell ([{}]) of the mesh",
                                              spec.dataset, spec.file, mesh.cell_count()));
  std::vector<double> out;
  for (long g : mesh.local_cell_numbers()) out.push_back(field.values[g]);
  return out;
}

// The owned cells' rows [n_owned_cells] of values on the local cells [n_local_cells].
std::vector<double> on_owned_cells(const mesh::PlexMesh& mesh, const std::vector<double>& local) {
  std::vector<double> out;
  out.reserve(mesh.owned_cells().size());
  for (long c : mesh.owned_cells()) out.push_back(local.at(c));
  return out;
}

// -∇·(a∇u) is elliptic only for a > 0.
void require_positive(MPI_Comm comm, const std::vector<double>& values, const Place& place) {
  double smallest = std::numeric_limits<double>::infinity();
  for (double v : values) smallest = std::min(smallest, v);
  MPI_Allreduce(MPI_IN_PLACE, &smallest, 1, MPI_DOUBLE, MPI_MIN, comm);
  if (!(smallest > 0.0))
    throw ConfigError(place, fmt::format("pde.coefficient: must be positive everywhere on the "
                                         "mesh, its minimum is {:.6g}",
                                         smallest));
}

// The Darcy coefficient: an expression (checked at the vertices and cell centroids), or per-cell
// values from a random field or a file (problem.cell_coefficient, on the local cells).
void set_coefficient(MPI_Comm comm, const mesh::PlexMesh& mesh, const config::FieldSpec& spec,
                     fem::Problem& problem) {
  if (spec.source == config::FieldSpec::Source::expression) {
    problem.coefficient = function_of(*spec.expression, mesh.dim());
    std::vector<double> values = at_vertices(mesh, problem.coefficient, 0.0);
    const std::vector<double> centroids = mesh.local_cell_centroids();
    for (std::size_t c = 0; c < centroids.size() / mesh.dim(); ++c)
      values.push_back(problem.coefficient(&centroids[c * mesh.dim()], 0.0));
    require_positive(comm, values, spec.place);
    return;
  }
  problem.cell_coefficient = spec.source == config::FieldSpec::Source::random
                                 ? random_field_on_cells(mesh, spec.random)
                                 : file_field_on_cells(comm, mesh, spec);
  require_positive(comm, problem.cell_coefficient, spec.place);
}

fem::Equation equation_of(config::PdeType type) {
  switch (type) {
    case config::PdeType::poisson:
      return fem::Equation::poisson;
    case config::PdeType::darcy:
      return fem::Equation::diffusion;
    case config::PdeType::heat:
      return fem::Equation::heat;
    case config::PdeType::advection_diffusion:
      return fem::Equation::advection_diffusion;
    default:
      throw InternalError("fem reference: no finite-element form of this PDE");
  }
}

fem::Problem problem_of(MPI_Comm comm, const mesh::PlexMesh& mesh,
                        const config::ProblemSpec& spec) {
  const config::PdeSpec& pde = spec.pde;
  const int dim = mesh.dim();
  fem::Problem problem;
  problem.equation = equation_of(pde.type);
  problem.order = spec.mesh->order;
  if (pde.source) problem.source = function_of(*pde.source, dim);
  if (pde.exact) problem.exact = function_of(*pde.exact, dim);
  if (pde.coefficient) set_coefficient(comm, mesh, *pde.coefficient, problem);
  problem.kappa = pde.kappa;
  problem.epsilon = pde.kappa;
  for (std::size_t d = 0; d < pde.advection.size(); ++d) problem.velocity[d] = pde.advection[d];
  if (pde.initial) {
    if (pde.initial->source != config::FieldSpec::Source::expression)
      throw ConfigError(pde.initial->place,
                        "pde.initial: expected an expression on a mesh (files and random "
                        "fields are read on grids only)");
    problem.initial = function_of(*pde.initial->expression, dim);
  }
  if (spec.time) {
    problem.time.t_end = spec.time->t_end;
    problem.time.dt = spec.time->dt;
    problem.time.scheme = spec.time->scheme;
    problem.time.snapshots = spec.time->snapshots;
  }
  for (const config::MeshCondition& c : spec.mesh->conditions)
    problem.conditions.push_back({c.kind == config::MeshCondition::Kind::dirichlet
                                      ? fem::Condition::Kind::dirichlet
                                      : fem::Condition::Kind::neumann,
                                  c.tags, function_of(*c.value, dim)});
  return problem;
}

nlohmann::json mesh_json(const mesh::PlexMesh& mesh, const config::MeshProblem& spec) {
  const mesh::PartitionSizes sizes = mesh.partition_sizes();
  return {{"file", spec.mesh.file},
          {"dim", mesh.dim()},
          {"cell_type", mesh.cell_type()},
          {"cells", mesh.cell_count()},
          {"vertices", mesh.global_count()},
          {"refine", spec.mesh.refine},
          {"order", spec.order},
          {"overlap", spec.mesh.overlap},
          {"partitioner", spec.mesh.partitioner},
          {"partition",
           {{"owned_cells", sizes.owned_cells},
            {"owned_vertices", sizes.owned_vertices},
            {"overlap_cells", sizes.overlap_cells},
            {"halo_vertices", sizes.halo_vertices}}}};
}

}  // namespace

std::string fem_reference_summary(const config::ProblemSpec& p) {
  const auto& m = *p.mesh;
  return fmt::format("kind reference, pde {}, mesh {} ({}D{}), P{} finite elements, {} + {}",
                     config::to_string(p.pde.type), m.mesh.file, m.mesh.dim,
                     m.mesh.refine ? fmt::format(", refined {}×", m.mesh.refine) : "", m.order,
                     p.solver.ksp, p.solver.pc);
}

std::string run_fem_reference(RunContext& ctx, const config::ProblemSpec& p) {
  mesh::PlexMesh mesh(ctx.comm, p.mesh->mesh);
  const mesh::PartitionSizes sizes = mesh.partition_sizes();
  log().info("mesh {}: {} {}s, {} vertices on {} rank(s) (owned vertices per rank {}..{})",
             p.mesh->mesh.file, mesh.cell_count(), mesh.cell_type(), mesh.global_count(), ctx.size,
             *std::min_element(sizes.owned_vertices.begin(), sizes.owned_vertices.end()),
             *std::max_element(sizes.owned_vertices.begin(), sizes.owned_vertices.end()));
  const fem::Problem problem = problem_of(ctx.comm, mesh, p);

  io::FieldWriter writer(ctx.dir->staged("fields.h5"), mesh);
  writer.attribute("case", ctx.case_name);
  writer.attribute("kind", std::string("reference"));
  writer.attribute("pde", std::string(config::to_string(p.pde.type)));
  writer.attribute("mesh_file", p.mesh->mesh.file);
  writer.attribute("order", static_cast<long>(p.mesh->order));
  writer.layout_attributes();
  writer.attribute("config", ctx.resolved_yaml);
  writer.attribute("karman_version", std::string(KARMAN_VERSION));
  std::vector<std::string> fields, cell_fields;
  auto store = [&](const std::string& name, const std::vector<double>& values) {
    writer.write_field(name, values);
    fields.push_back(name);
  };
  if (problem.source) store("source", at_vertices(mesh, problem.source, 0.0));
  if (problem.coefficient) store("coefficient", at_vertices(mesh, problem.coefficient, 0.0));
  if (!problem.cell_coefficient.empty()) {
    writer.write_field("coefficient", on_owned_cells(mesh, problem.cell_coefficient), mesh.cells());
    fields.push_back("coefficient");
    cell_fields.push_back("coefficient");
  }

  std::vector<io::XdmfSnapshot> snapshots;
  auto on_snapshot = [&](long index, double t, const std::vector<double>& u) {
    writer.write_snapshot(index, t, "reference", u);
    if (problem.exact) {
      std::vector<double> error = at_vertices(mesh, problem.exact, t);
      for (std::size_t i = 0; i < error.size(); ++i) error[i] = u[i] - error[i];
      writer.write_snapshot(index, t, "error", error);
    }
    snapshots.push_back({index, t});
    log().info("  t = {:.6g}", t);
  };
  const fem::Result result = fem::solve(mesh.dm(), problem, p.solver, on_snapshot);
  store("reference", result.vertex_values);

  nlohmann::json metrics = nlohmann::json::object();
  if (problem.exact) {
    const std::vector<double> exact = at_vertices(mesh, problem.exact, result.final_time);
    std::vector<double> error(exact.size());
    for (std::size_t i = 0; i < exact.size(); ++i) error[i] = result.vertex_values[i] - exact[i];
    store("exact", exact);
    store("error", error);
    const ErrorNorms nodal = error_norms(mesh, result.vertex_values, exact);
    metrics["l2_error"] = result.l2_error;
    metrics["rel_l2"] = result.l2_error / result.l2_exact_norm;
    metrics["max_abs"] = nodal.max_abs;
    log().info("error vs exact: L2 {:.3e} (relative {:.3e}), max at the vertices {:.3e}",
               result.l2_error, result.l2_error / result.l2_exact_norm, nodal.max_abs);
  }
  if (p.pde.time_dependent()) metrics["final_time"] = result.final_time;
  writer.close();
  if (ctx.rank == 0) {
    std::vector<std::string> snapshot_fields{"reference"};
    if (problem.exact) snapshot_fields.push_back("error");
    io::write_xdmf(ctx.dir->staged("fields.xdmf"), "fields.h5", mesh, fields, snapshots,
                   snapshots.empty() ? std::vector<std::string>{} : snapshot_fields, cell_fields);
  }
  report_reference_solve(ctx, result.stats, metrics, config::to_string(p.pde.type));
  (*ctx.report)["mesh"] = mesh_json(mesh, *p.mesh);
  return result.stats.converged ? "ok" : "diverged";
}

}  // namespace karman::run
