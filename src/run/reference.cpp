// kind: reference — the PETSc solve of a case's PDE on its own: the baseline every learned
// method is compared with, and a tool in its own right (fields, convergence, timings).

#include "karman/run/reference.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <limits>

#include "fem_reference.hpp"
#include "karman/config/case.hpp"
#include "karman/core/log.hpp"
#include "karman/core/norms.hpp"
#include "karman/io/hdf5.hpp"
#include "karman/io/xdmf.hpp"
#include "karman/pde/fields.hpp"
#include "karman/run/method.hpp"
#include "karman/run/outputs.hpp"
#include "karman/solvers/elliptic.hpp"
#include "karman/solvers/navier_stokes.hpp"
#include "karman/solvers/transient.hpp"
#include "weno_reference.hpp"

namespace karman::run {
namespace {

// -∇·(a∇u) is elliptic only for a > 0: a zero or negative coefficient is bad input.
void require_positive(MPI_Comm comm, const std::vector<double>& a, const Place& place,
                      const char* key) {
  double local = std::numeric_limits<double>::infinity(), smallest;
  for (double v : a) local = std::min(local, v);
  MPI_Allreduce(&local, &smallest, 1, MPI_DOUBLE, MPI_MIN, comm);
  if (!(smallest > 0.0))
    throw ConfigError(place, fmt::format("{}: must be positive everywhere, its minimum is {:.6g}",
                                         key, smallest));
}

// Writes a field to fields.h5 and lists it for the XDMF sidecar.
using Store = std::function<void(const std::string& name, const std::vector<double>& values)>;

// a − b, elementwise.
std::vector<double> difference(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = a[i] - b[i];
  return out;
}

// The field minus its mean over the grid's nodes (a pressure's free constant removed).
std::vector<double> without_mean(MPI_Comm comm, long nodes, std::vector<double> values) {
  double local = 0.0, sum = 0.0;
  for (double v : values) local += v;
  MPI_Allreduce(&local, &sum, 1, MPI_DOUBLE, MPI_SUM, comm);
  for (double& v : values) v -= sum / static_cast<double>(nodes);
  return values;
}

// [a..., b...]: norms of a vector field from those of its stacked components.
std::vector<double> stacked(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> out(a);
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

std::string grid_text(const mesh::GridShape& g) {
  std::string out = std::to_string(g.n[0]);
  for (int d = 1; d < g.dim; ++d) out += "x" + std::to_string(g.n[d]);
  return out;
}

// Root attributes: the run, then the layout's description of the points (dim, periodic, shape,
// lower, upper, spacing), then the resolved case.
void write_grid_attributes(io::FieldWriter& w, const RunContext& ctx,
                           const config::ProblemSpec& p) {
  w.attribute("case", ctx.case_name);
  w.attribute("kind", std::string("reference"));
  w.attribute("pde", std::string(config::to_string(p.pde.type)));
  w.layout_attributes();
  w.attribute("config", ctx.resolved_yaml);
  w.attribute("karman_version", std::string(KARMAN_VERSION));
}

class ReferenceMethod : public Method {
 public:
  // float64 only (PETSc's scalar type): the registry refuses any other precision.
  void read(const config::Node& root, const std::string&) override {
    m_problem = config::read_problem(root);
    if (!explicit_weno()) solvers::check_solver_names(m_problem.solver);
    // PETSc 3.18 assembles the FEM Jacobian over overlap cells too (counting them twice).
    if (m_problem.mesh && m_problem.mesh->mesh.overlap != 0)
      root.child("mesh").fail("overlap",
                              "expected 0 for kind reference: the finite-element "
                              "solve runs on the partition without overlap");
  }

  std::string summary() const override {
    if (m_problem.mesh) return fem_reference_summary(m_problem);
    if (explicit_weno()) return weno_reference_summary(m_problem);
    return fmt::format("kind reference, pde {}, grid {}, {} + {}",
                       config::to_string(m_problem.pde.type), grid_text(m_problem.grid),
                       m_problem.solver.ksp, m_problem.solver.pc);
  }

  std::string run(RunContext& ctx) override {
    const auto& p = m_problem;
    if (ctx.resume)
      log().info("--resume: a reference solve keeps no checkpoint; solving from the start");
    if (p.mesh) return run_fem_reference(ctx, p);
    if (explicit_weno()) return run_weno_reference(ctx, p);
    mesh::StructuredGrid grid(ctx.comm, p.grid);
    log().info("grid {} ({} nodes) on {} rank(s)", grid_text(p.grid), p.grid.size(), ctx.size);
    io::FieldWriter writer(ctx.dir->staged("fields.h5"), grid);
    write_grid_attributes(writer, ctx, p);

    std::vector<std::string> fields;
    const Store store = [&](const std::string& name, const std::vector<double>& values) {
      writer.write_field(name, values);
      fields.push_back(name);
    };

    solvers::SolveStats stats;
    nlohmann::json metrics = nlohmann::json::object();
    std::vector<io::XdmfSnapshot> snapshots;
    std::vector<std::string> snapshot_fields{"reference"};
    if (p.pde.exact) snapshot_fields.push_back("error");
    if (config::traits(p.pde.type).reference == config::ReferenceSolver::navier_stokes) {
      stats = solve_flow(ctx, grid, store, metrics);
    } else {
      stats = solve_scalar(ctx, grid, writer, store, metrics, snapshots);
    }
    writer.close();
    const std::string xdmf_path = ctx.dir->staged("fields.xdmf");
    if (ctx.rank == 0)
      io::write_xdmf(xdmf_path, "fields.h5", grid, fields, snapshots,
                     snapshots.empty() ? std::vector<std::string>{} : snapshot_fields);

    report_reference_solve(ctx, stats, metrics, config::to_string(p.pde.type));
    (*ctx.report)["grid"] = {
        {"n", std::vector<long>(p.grid.n.begin(), p.grid.n.begin() + p.grid.dim)},
        {"lower", std::vector<double>(p.grid.lower.begin(), p.grid.lower.begin() + p.grid.dim)},
        {"upper", std::vector<double>(p.grid.upper.begin(), p.grid.upper.begin() + p.grid.dim)}};
    return stats.converged ? "ok" : "diverged";
  }

 private:
  // pde combined: the explicit finite-volume solver, no PETSc KSP or TS.
  bool explicit_weno() const {
    return config::traits(m_problem.pde.type).reference == config::ReferenceSolver::weno;
  }

  // Poisson, Darcy, Helmholtz (KSP), heat, Burgers, Allen–Cahn, wave (TS): the field
  // `reference`, with exact data its error.
  solvers::SolveStats solve_scalar(const RunContext& ctx, const mesh::StructuredGrid& grid,
                                   io::FieldWriter& writer, const Store& store,
                                   nlohmann::json& metrics,
                                   std::vector<io::XdmfSnapshot>& snapshots) {
    const auto& p = m_problem;
    solvers::SolveStats stats;
    std::vector<double> u;
    double t_final = 0.0;
    if (!p.pde.time_dependent()) {
      std::vector<double> a;
      if (p.pde.coefficient) {
        a = pde::evaluate(grid, *p.pde.coefficient);
        require_positive(ctx.comm, a, p.pde.coefficient->place, "pde.coefficient");
        store("coefficient", a);
      }
      store("source", pde::evaluate(grid, *p.pde.source));
      auto result = solvers::solve_elliptic(grid, p.pde, p.solver, a);
      u = std::move(result.u);
      stats = result.stats;
    } else {
      auto initial = pde::evaluate(grid, *p.pde.initial);
      store("initial", initial);
      if (p.pde.initial_velocity)
        store("initial_velocity", pde::evaluate(grid, *p.pde.initial_velocity));
      auto on_snapshot = [&](long index, double t, const std::vector<double>& state) {
        writer.write_snapshot(index, t, "reference", state);
        if (p.pde.exact) {
          auto exact = pde::evaluate(grid, *p.pde.exact, t);
          for (std::size_t i = 0; i < exact.size(); ++i) exact[i] = state[i] - exact[i];
          writer.write_snapshot(index, t, "error", exact);
        }
        snapshots.push_back({index, t});
        log().info("  t = {:.6g}", t);
      };
      auto result = solvers::solve_transient(grid, p.pde, *p.time, p.solver, initial, on_snapshot);
      u = std::move(result.u);
      t_final = result.time;
      stats = result.stats;
    }
    store("reference", u);

    if (p.pde.exact) {
      auto exact = pde::evaluate(grid, *p.pde.exact, t_final);
      auto norms = error_norms(grid, u, exact);
      std::vector<double> error(u.size());
      for (std::size_t i = 0; i < u.size(); ++i) error[i] = u[i] - exact[i];
      store("exact", exact);
      store("error", error);
      metrics["rel_l2"] = norms.rel_l2;
      metrics["max_abs"] = norms.max_abs;
      log().info("error vs exact: rel_l2 {:.3e}, max_abs {:.3e}", norms.rel_l2, norms.max_abs);
    }
    if (p.pde.time_dependent()) metrics["final_time"] = t_final;
    return stats;
  }

  // Steady Navier–Stokes: u, v, p (zero node mean), streamfunction, vorticity; with exact data
  // their errors, metrics rel_l2/max_abs of the velocity and rel_l2_pressure/max_abs_pressure.
  solvers::SolveStats solve_flow(const RunContext& ctx, const mesh::StructuredGrid& grid,
                                 const Store& store, nlohmann::json& metrics) {
    const auto& pde = m_problem.pde;
    auto flow = solvers::solve_navier_stokes(grid, pde, m_problem.solver);
    store("u", flow.u);
    store("v", flow.v);
    store("p", flow.p);
    store("streamfunction", flow.streamfunction);
    store("vorticity", flow.vorticity);
    const auto& s = flow.stats;
    log().info(
        "Newton ({}): {} iterations, ||F|| {:.3e} ({}); {} linear iterations ({} + {}); "
        "pressure: {} iterations",
        s.snes, s.nonlinear_iterations, s.residual_norm, s.reason, s.iterations, s.ksp, s.pc,
        flow.pressure_iterations);
    metrics["newton_iterations"] = s.nonlinear_iterations;
    metrics["pressure_iterations"] = flow.pressure_iterations;
    if (!pde.exact_velocity.empty()) {
      const auto u = pde::evaluate(grid, pde.exact_velocity[0]);
      const auto v = pde::evaluate(grid, pde.exact_velocity[1]);
      store("u_exact", u);
      store("v_exact", v);
      store("u_error", difference(flow.u, u));
      store("v_error", difference(flow.v, v));
      const auto norms = error_norms(grid, stacked(flow.u, flow.v), stacked(u, v), 2);
      metrics["rel_l2"] = norms.rel_l2;
      metrics["max_abs"] = norms.max_abs;
      log().info("velocity error vs exact: rel_l2 {:.3e}, max_abs {:.3e}", norms.rel_l2,
                 norms.max_abs);
    }
    if (pde.exact_pressure) {
      const auto p =
          without_mean(ctx.comm, grid.shape().size(), pde::evaluate(grid, *pde.exact_pressure));
      store("p_exact", p);
      store("p_error", difference(flow.p, p));
      const auto norms = error_norms(grid, flow.p, p);
      metrics["rel_l2_pressure"] = norms.rel_l2;
      metrics["max_abs_pressure"] = norms.max_abs;
      log().info("pressure error vs exact (zero means): rel_l2 {:.3e}, max_abs {:.3e}",
                 norms.rel_l2, norms.max_abs);
    }
    return flow.stats;
  }

  config::ProblemSpec m_problem;
};

}  // namespace

std::unique_ptr<Method> make_reference_method() { return std::make_unique<ReferenceMethod>(); }

}  // namespace karman::run
