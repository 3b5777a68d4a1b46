// kind: dataset — an operator-learning dataset (inputs ↦ reference solutions: PETSc, or the
// pseudo-spectral vorticity solver for Navier–Stokes; HDF5) generated with the samples split over
// the ranks; `karman run --resume` continues an interrupted generation.

#include "karman/run/dataset.hpp"

#include <fmt/format.h>

#include <filesystem>

#include "karman/core/log.hpp"
#include "karman/data/operator_dataset.hpp"
#include "karman/run/method.hpp"
#include "karman/run/outputs.hpp"
#include "karman/solvers/elliptic.hpp"

namespace karman::run {
namespace {

class DatasetMethod : public Method {
 public:
  // float64 only (solved and stored in PETSc's scalar type): the registry refuses any other.
  void read(const config::Node& root, const std::string&) override {
    m_spec = data::read_dataset_spec(root.child("data"));
    if (!uses_petsc()) return;  // the vorticity solver has no KSP to check
    try {
      solvers::check_solver_names(solver());
    } catch (const ConfigError& e) {
      // Its message names the key `solver.*`; here the section is data.<problem>.solver.
      std::string message = e.what();
      const std::size_t at = message.rfind(": solver.");
      if (at != std::string::npos)
        message.insert(at + 2, fmt::format("data.{}.", data::to_string(m_spec.problem)));
      throw ConfigError(message);
    }
  }

  std::string summary() const override {
    const long m = m_spec.training_resolution();
    return fmt::format("kind dataset, {}, {} samples at {} (fine {}, stride {}), {}",
                       data::to_string(m_spec.problem), m_spec.samples,
                       m_spec.dim() == 2 ? fmt::format("{}x{}", m, m) : std::to_string(m),
                       m_spec.resolution, m_spec.stride, solver_name());
  }

  std::string run(RunContext& ctx) override {
    // data.file is relative to the working directory; by default the dataset is the run's.
    const std::string path = m_spec.file.empty()
                                 ? (std::filesystem::path(ctx.dir->path()) / "dataset.h5").string()
                                 : m_spec.file;
    data::GenerateOptions options;
    options.resume = ctx.resume;
    options.config_yaml = ctx.resolved_yaml;
    log().info("dataset {} on {} rank(s): {}", path, ctx.size, data::describe(m_spec));
    data::GenerateSummary s = data::generate_dataset(ctx.comm, m_spec, path, options);
    if (uses_petsc() && s.stats.ksp.empty())  // all kept
      s.stats.ksp = solver().ksp, s.stats.pc = solver().pc;
    if (!uses_petsc() && s.stats.ts.empty()) s.stats.ts = solver_name();
    const double per_sample = s.solved > 0 ? s.solve_s / static_cast<double>(s.solved) : 0.0;
    log().info("dataset {}: {} samples ({} solved, {} kept), {:.4f} s and {:.1f} {} per solve ({})",
               path, s.samples, s.solved, s.kept, per_sample, s.mean_iterations,
               uses_petsc() ? "iterations" : "time steps", solver_name());
    (*ctx.report)["metrics"] = {{"samples", s.samples},
                                {"solved", s.solved},
                                {"kept", s.kept},
                                {"generate_s", s.wall_s},
                                {"solve_s_per_sample", per_sample},
                                {"iterations_mean", s.mean_iterations}};
    (*ctx.report)["baseline"] = baseline_json(s.stats);  // figures of the last solve of rank 0
    if (!uses_petsc()) (*ctx.report)["baseline"]["solver"] = "karman vorticity (FFTW)";
    (*ctx.report)["baseline"]["solve_s_per_sample"] = per_sample;
    (*ctx.report)["dataset"] = {{"file", path},
                                {"problem", data::to_string(m_spec.problem)},
                                {"resolution", m_spec.resolution},
                                {"stride", m_spec.stride},
                                {"training_resolution", m_spec.training_resolution()}};
    return "ok";
  }

 private:
  // Darcy and Burgers are PETSc solves; Navier–Stokes is Karman's pseudo-spectral solver.
  bool uses_petsc() const { return m_spec.problem != data::Problem::navier_stokes; }

  const config::SolverSpec& solver() const {
    return m_spec.problem == data::Problem::darcy ? m_spec.darcy.solver : m_spec.burgers.solver;
  }

  std::string solver_name() const {
    return uses_petsc() ? solver().ksp + " + " + solver().pc
                        : std::string("pseudo-spectral CN/AB2");
  }

  data::DatasetSpec m_spec;
};

}  // namespace

std::unique_ptr<Method> make_dataset_method() { return std::make_unique<DatasetMethod>(); }

}  // namespace karman::run
