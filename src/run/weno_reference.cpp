#include "weno_reference.hpp"

#include <fmt/format.h>

#include <cmath>

#include "karman/core/log.hpp"
#include "karman/core/norms.hpp"
#include "karman/io/hdf5.hpp"
#include "karman/io/xdmf.hpp"
#include "karman/solvers/weno.hpp"

namespace karman::run {
namespace {

// The solver's cells as a grid layout for the writer: its nodes are the cell centres
// (i + ½) dx, so lower and upper are shifted by dx/2 (the file's `lower` attribute is dx/2).
mesh::GridShape cell_centres(const mesh::GridShape& grid) {
  mesh::GridShape centres = grid;
  const double half = 0.5 * grid.spacing(0);
  centres.lower[0] += half;
  centres.upper[0] += half;
  return centres;
}

// ∫ δ dx over the periodic domain at time t (cell averages summed in cell order).
double source_total(MPI_Comm comm, const solvers::WenoSolver& solver, const solvers::Source& source,
                    double t) {
  std::vector<double> averages(static_cast<std::size_t>(solver.owned_cells()));
  source.cell_averages(t, solver.first_cell(), solver.dx(), averages);
  return solvers::total_mass(comm, averages, solver.dx());
}

// ∫ over [a, b] of ∫ δ dx by 3-point Gauss in time (the source is smooth in t).
double source_integral(MPI_Comm comm, const solvers::WenoSolver& solver,
                       const solvers::Source& source, double a, double b) {
  const double mid = 0.5 * (a + b), half = 0.5 * (b - a), offset = half * std::sqrt(0.6);
  return half / 9.0 *
         (5.0 * source_total(comm, solver, source, mid - offset) +
          8.0 * source_total(comm, solver, source, mid) +
          5.0 * source_total(comm, solver, source, mid + offset));
}

bool all_finite(MPI_Comm comm, const std::vector<double>& u) {
  int finite = 1, everywhere = 1;
  for (double v : u) finite &= std::isfinite(v) ? 1 : 0;
  MPI_Allreduce(&finite, &everywhere, 1, MPI_INT, MPI_MIN, comm);
  return everywhere == 1;
}

}  // namespace

std::string weno_reference_summary(const config::ProblemSpec& p) {
  return fmt::format(
      "kind reference, pde combined (alpha {}, beta {}, gamma {}), {} periodic cells on [0, {}), "
      "WENO5 + SSP-RK3 (cfl {}, face derivatives of order {})",
      p.pde.alpha, p.pde.beta, p.pde.gamma, p.grid.n[0], p.grid.upper[0], p.solver.cfl,
      p.solver.derivative_order);
}

std::string run_weno_reference(RunContext& ctx, const config::ProblemSpec& p) {
  const long n = p.grid.n[0];
  const double length = p.grid.upper[0] - p.grid.lower[0];
  solvers::WenoOptions options;
  options.cfl = p.solver.cfl;
  options.derivative_order = p.solver.derivative_order;
  solvers::WenoSolver solver(ctx.comm, n, length, {p.pde.alpha, p.pde.beta, p.pde.gamma}, options);
  mesh::StructuredGrid grid(ctx.comm, cell_centres(p.grid));
  // PETSc splits a 1D DMDA the same way whatever its stencil width.
  KARMAN_VERIFY(grid.start()[0] == solver.first_cell() && grid.count()[0] == solver.owned_cells(),
                "weno reference: the writer's grid and the solver own different cells");
  log().info("{} periodic cells on [0, {}) on {} rank(s), alpha {}, beta {}, gamma {}", n, length,
             ctx.size, p.pde.alpha, p.pde.beta, p.pde.gamma);

  io::FieldWriter writer(ctx.dir->staged("fields.h5"), grid);
  writer.attribute("case", ctx.case_name);
  writer.attribute("kind", std::string("reference"));
  writer.attribute("pde", std::string("combined"));
  writer.layout_attributes();
  writer.attribute("config", ctx.resolved_yaml);
  writer.attribute("karman_version", std::string(KARMAN_VERSION));

  const long first = solver.first_cell(), owned = solver.owned_cells();
  const double dx = solver.dx();
  const auto initial =
      solvers::cell_averages(p.pde.initial->expression.value(), 0.0, first, owned, dx);
  const solvers::ExpressionSource source(*p.pde.source);
  std::vector<double> times(static_cast<std::size_t>(p.time->snapshots + 1));
  for (std::size_t k = 0; k < times.size(); ++k)
    times[k] = p.time->t_end * static_cast<double>(k) / static_cast<double>(p.time->snapshots);

  std::vector<io::XdmfSnapshot> snapshots;
  double tv_largest = 0.0, integral = 0.0, previous_time = 0.0;
  auto on_output = [&](long k, double t, const std::vector<double>& u) {
    writer.write_snapshot(k, t, "reference", u);
    if (p.pde.exact) {
      auto error = solvers::cell_averages(*p.pde.exact, t, first, owned, dx);
      for (std::size_t i = 0; i < error.size(); ++i) error[i] = u[i] - error[i];
      writer.write_snapshot(k, t, "error", error);
    }
    snapshots.push_back({k, t});
    tv_largest = std::max(tv_largest, solvers::total_variation(ctx.comm, u));
    if (k > 0) integral += source_integral(ctx.comm, solver, source, previous_time, t);
    previous_time = t;
  };
  const auto u = solver.solve(initial, source, times, on_output);
  const double t_end = times.back();

  std::vector<std::string> fields{"initial", "reference"};
  writer.write_field("initial", initial);
  writer.write_field("reference", u);
  nlohmann::json metrics = {{"steps", solver.stats().steps},
                            {"wall_s", solver.stats().wall_s},
                            {"solve_s", solver.stats().wall_s},
                            {"final_time", t_end}};
  const double mass0 = solvers::total_mass(ctx.comm, initial, dx);
  const double mass1 = solvers::total_mass(ctx.comm, u, dx);
  metrics["total_variation_initial"] = solvers::total_variation(ctx.comm, initial);
  metrics["total_variation_final"] = solvers::total_variation(ctx.comm, u);
  metrics["total_variation_max"] = tv_largest;
  metrics["mass_initial"] = mass0;
  metrics["mass_final"] = mass1;
  metrics["source_integral"] = integral;
  metrics["mass_drift"] = mass1 - mass0 - integral;  // round-off, plus the Gauss rule's error in t
  if (p.pde.exact) {
    const auto exact = solvers::cell_averages(*p.pde.exact, t_end, first, owned, dx);
    const auto norms = error_norms(grid, u, exact);
    std::vector<double> error(u.size());
    for (std::size_t i = 0; i < u.size(); ++i) error[i] = u[i] - exact[i];
    writer.write_field("exact", exact);
    writer.write_field("error", error);
    fields.push_back("exact");
    fields.push_back("error");
    metrics["rel_l2"] = norms.rel_l2;
    metrics["max_abs"] = norms.max_abs;
    log().info("error vs exact cell averages: rel_l2 {:.3e}, max_abs {:.3e}", norms.rel_l2,
               norms.max_abs);
  }
  writer.close();
  if (ctx.rank == 0) {
    std::vector<std::string> snapshot_fields{"reference"};
    if (p.pde.exact) snapshot_fields.push_back("error");
    io::write_xdmf(ctx.dir->staged("fields.xdmf"), "fields.h5", grid, fields, snapshots,
                   snapshot_fields);
  }
  const bool finite = all_finite(ctx.comm, u);
  log().info(
      "WENO5 + SSP-RK3: {} steps to t = {:.6g} in {:.4f} s; TV {:.6g} -> {:.6g}, mass drift {:.3e}",
      solver.stats().steps, t_end, solver.stats().wall_s,
      metrics["total_variation_initial"].get<double>(),
      metrics["total_variation_final"].get<double>(), mass1 - mass0 - integral);
  (*ctx.report)["metrics"] = std::move(metrics);
  (*ctx.report)["baseline"] = {{"solver", "weno5"},
                               {"ts", "ssprk3"},
                               {"steps", solver.stats().steps},
                               {"cfl", p.solver.cfl},
                               {"derivative_order", p.solver.derivative_order},
                               {"wall_s", solver.stats().wall_s}};
  (*ctx.report)["pde"] = "combined";
  (*ctx.report)["grid"] = {{"n", std::vector<long>{n}},
                           {"lower", std::vector<double>{p.grid.lower[0]}},
                           {"upper", std::vector<double>{p.grid.upper[0]}}};
  return finite ? "ok" : "diverged";
}

}  // namespace karman::run
