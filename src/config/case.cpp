#include "karman/config/case.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "karman/mesh/gmsh.hpp"

namespace karman::config {

const char* to_string(PdeType type) { return traits(type).name; }

namespace {

std::vector<std::string> pde_type_names() {
  std::vector<std::string> names;
  for (const PdeTraits& t : kPdeTraits) names.push_back(t.name);
  return names;
}

PdeType parse_pde_type(const std::string& name) {
  for (const PdeTraits& t : kPdeTraits)
    if (name == t.name) return t.type;
  KARMAN_VERIFY(false, "parse_pde_type: '" + name + "' passed choice() but is no PdeType");
  return PdeType::poisson;
}

// "a, b and c": the names of the PDEs that `has` holds for, in table order.
template <class Predicate>
std::string names_where(Predicate has) {
  std::vector<std::string> names;
  for (const PdeTraits& t : kPdeTraits)
    if (has(t)) names.push_back(t.name);
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  return out;
}

std::optional<Expression> optional_expression(const Node& node, std::string_view key) {
  if (!node.has(key)) return std::nullopt;
  return node.expression(key);
}

// Steady incompressible Navier–Stokes: ν, the boundary velocity and optional exact fields.
void read_navier_stokes(const Node& pde, PdeSpec& spec) {
  spec.nu = pde.number("nu", Bounds::positive());
  spec.velocity = pde.expressions("velocity", 2);
  spec.velocity_place = pde.place("velocity");
  if (pde.has("exact_velocity")) spec.exact_velocity = pde.expressions("exact_velocity", 2);
  spec.exact_pressure = optional_expression(pde, "exact_pressure");
  for (const auto& e : spec.velocity)
    if (e.uses_time()) pde.fail("velocity", "expected expressions in x and y (a steady flow)");
}

RandomFieldSpec read_random_field(const Node& node, int dim, bool periodic) {
  RandomFieldSpec spec;
  spec.alpha = node.number("alpha", 2.0, Bounds::positive());
  spec.tau = node.number("tau", 3.0, Bounds::positive());
  // Default scale as FNO's GRF.m (sigma = tau^(alpha - d/2)): the variance depends only weakly on
  // tau.
  spec.sigma = node.number("sigma", std::pow(spec.tau, spec.alpha - 0.5 * dim), Bounds::positive());
  spec.seed = static_cast<unsigned long>(node.integer("seed", 0, 0));
  spec.periodic = periodic;
  if (2.0 * spec.alpha <= dim)
    node.fail("alpha", "expected alpha > dim/2 so that the field has finite variance");
  if (node.has("threshold")) {
    Node t = node.child("threshold");
    spec.thresholded = true;
    spec.threshold = t.number("value", 0.0);
    spec.above = t.number("above", 12.0);
    spec.below = t.number("below", 3.0);
  }
  return spec;
}

}  // namespace

FieldSpec read_field(const Node& parent, std::string_view key, int dim) {
  FieldSpec spec;
  spec.place = parent.place(key);
  if (!parent.is_map(key)) {
    spec.source = FieldSpec::Source::expression;
    spec.expression = parent.expression(key);
    return spec;
  }
  Node node = parent.child(key);
  const bool from_file = node.has("file"), from_random = node.has("random");
  if (from_file == from_random)
    parent.fail(key, "expected an expression, {file: F, dataset: D} or {random: {...}}");
  if (from_file) {
    spec.source = FieldSpec::Source::file;
    spec.file = node.str("file");
    spec.dataset = node.str("dataset", "/fields/coefficient");
    if (!std::filesystem::is_regular_file(spec.file))
      node.fail("file", "file '" + spec.file + "' does not exist or is not a regular file");
    if (!std::ifstream(spec.file)) node.fail("file", "file '" + spec.file + "' cannot be read");
  } else {
    spec.source = FieldSpec::Source::random;
    spec.random =
        read_random_field(node.child("random"), dim, node.child("random").flag("periodic", false));
  }
  return spec;
}

mesh::GridShape read_grid(const Node& grid, PdeType type) {
  mesh::GridShape shape;
  const std::string name = to_string(type);
  const PdeTraits& pde = traits(type);
  const bool is_1d = PdeSpec::one_dimensional(type), periodic = PdeSpec::periodic(type);
  shape.dim = static_cast<int>(grid.integer("dim", pde.min_dim, 1, 3));
  if (is_1d && shape.dim != 1) grid.fail("dim", "expected 1: " + name + " is a 1D equation");
  if (!is_1d && shape.dim == 1) grid.fail("dim", "expected 2 or 3 for this PDE");
  if (shape.dim > pde.max_dim)  // navier_stokes: streamfunction–vorticity
    grid.fail("dim", "expected " + std::to_string(pde.max_dim) + ": " + name + " is solved in " +
                         std::to_string(pde.max_dim) + "D (streamfunction–vorticity)");
  shape.periodic = grid.flag("periodic", periodic);
  if (periodic && !shape.periodic) grid.fail("periodic", name + " is solved on a periodic grid");
  if (!periodic && shape.periodic)
    grid.fail("periodic", "only " + names_where([](const PdeTraits& t) {
                            return t.boundary == BoundaryKind::periodic;
                          }) + " support periodic grids");
  const long min_nodes = shape.periodic ? 4 : 3;
  auto n = grid.integers("n", shape.dim, min_nodes, std::numeric_limits<long>::max());
  if (type == PdeType::combined && n[0] < 6)  // the WENO5 stencil spans 6 cells
    grid.fail("n", "expected at least 6 cells for the combined equation's WENO5 solver");
  auto lower =
      grid.has("lower") ? grid.numbers("lower", shape.dim) : std::vector<double>(shape.dim, 0.0);
  // The combined equation's domain is [0, 16) (the MP-PDE experiments), its cells start at 0.
  const double default_upper = type == PdeType::combined ? 16.0 : 1.0;
  auto upper = grid.has("upper") ? grid.numbers("upper", shape.dim)
                                 : std::vector<double>(shape.dim, default_upper);
  if (type == PdeType::combined && lower[0] != 0.0)
    grid.fail("lower", "expected 0: the combined equation's cells cover [0, upper)");
  for (int d = 0; d < shape.dim; ++d) {
    shape.n[d] = n[d];
    shape.lower[d] = lower[d];
    shape.upper[d] = upper[d];
    if (!(upper[d] > lower[d])) grid.fail("upper", "expected upper > lower in every dimension");
  }
  return shape;
}

PdeSpec read_pde(const Node& pde, int dim) {
  PdeSpec spec;
  spec.type = parse_pde_type(pde.choice("type", pde_type_names()));
  if (spec.type == PdeType::navier_stokes) {
    read_navier_stokes(pde, spec);
    return spec;
  }
  spec.exact = optional_expression(pde, "exact");
  const PdeTraits& t = traits(spec.type);
  if (t.default_source) spec.source = pde.expression("source", t.default_source);
  if (t.boundary == BoundaryKind::dirichlet) {
    spec.boundary = optional_expression(pde, "boundary");
    if (!spec.boundary) spec.boundary = spec.exact ? *spec.exact : Expression("0", Place{});
  }
  // Each PDE's own coefficients.
  if (spec.type == PdeType::burgers) spec.nu = pde.number("nu", Bounds::positive());
  if (spec.type == PdeType::convection) {
    spec.speed = pde.number("speed", Bounds::positive());
    spec.nu = pde.number("nu", Bounds::at_least(0));
  }
  if (spec.type == PdeType::allen_cahn) {
    spec.epsilon = pde.number("epsilon", 1e-4, Bounds::positive());
    spec.reaction = pde.number("reaction", 5.0, Bounds::at_least(0));
  }
  if (spec.type == PdeType::helmholtz)
    spec.wavenumber = pde.number("wavenumber", Bounds::at_least(0));
  if (spec.type == PdeType::wave) {
    spec.speed = pde.number("speed", Bounds::positive());
    spec.initial_velocity = pde.expression("initial_velocity", "0");
  }
  if (spec.type == PdeType::darcy) spec.coefficient = read_field(pde, "coefficient", dim);
  if (spec.type == PdeType::combined) {
    spec.alpha = pde.number("alpha", 1.0);
    spec.beta = pde.number("beta", 0.0, Bounds::at_least(0));
    spec.gamma = pde.number("gamma", 0.0);
  }
  if (spec.type == PdeType::heat || spec.type == PdeType::advection_diffusion)
    spec.kappa = pde.number("kappa", 1.0, Bounds::positive());
  if (spec.type == PdeType::advection_diffusion)
    spec.advection = pde.numbers("advection", static_cast<std::size_t>(dim));
  if (spec.time_dependent()) {
    if (pde.has("initial"))
      spec.initial = read_field(pde, "initial", dim);
    else if (spec.exact)
      spec.initial = FieldSpec{FieldSpec::Source::expression, spec.exact, "", "", {}, pde.place()};
    else
      pde.fail("initial", "required for a time-dependent PDE without an exact solution");
    if (PdeSpec::periodic(spec.type) && spec.initial->source == FieldSpec::Source::random)
      spec.initial->random.periodic = true;
    if (spec.type == PdeType::combined && spec.initial->source != FieldSpec::Source::expression)
      pde.fail("initial", "expected an expression in x (the combined equation's initial data)");
  }
  return spec;
}

TimeSpec read_time(const Node& time) {
  TimeSpec spec;
  spec.t_end = time.number("t_end", Bounds::positive());
  spec.dt = time.number("dt", Bounds::positive());
  if (spec.dt > spec.t_end) time.fail("dt", "expected dt <= t_end");
  spec.scheme = time.choice("scheme", {"cn", "bdf2", "beuler", "rosw"}, "cn");
  spec.snapshots = time.integer("snapshots", 10, 0, 100000);
  return spec;
}

TimeSpec read_output_times(const Node& time) {
  TimeSpec spec;
  spec.t_end = time.number("t_end", Bounds::positive());
  spec.dt = spec.t_end;
  spec.snapshots = time.integer("snapshots", 10, 1, 100000);
  return spec;
}

namespace {

// The explicit WENO solver's settings (pde combined): no KSP or PC.
SolverSpec read_weno_solver(const Node& solver) {
  SolverSpec spec;
  spec.cfl = solver.number("cfl", 0.4, Bounds::positive());
  if (spec.cfl > 1.0) solver.fail("cfl", "expected at most 1 (SSP-RK3's stability limit)");
  spec.derivative_order = static_cast<int>(solver.integer("derivative_order", 4, 2, 4));
  if (spec.derivative_order == 3) solver.fail("derivative_order", "expected 2 or 4");
  return spec;
}

}  // namespace

SolverSpec read_solver(const Node& solver, const PdeSpec& pde) {
  if (traits(pde.type).reference == ReferenceSolver::weno) return read_weno_solver(solver);
  // Defaults are the fastest robust PETSc choice per problem: AMG-preconditioned CG for the SPD
  // steady problems; GMRES for the time steppers (their Dirichlet rows make the Jacobian
  // unsymmetric), with AMG in 2D/3D and LU-free block Jacobi/ILU for the 1D equations; for the
  // Navier–Stokes Newton steps (unsymmetric, indefinite) GMRES on a sparse LU (MUMPS in parallel).
  // Helmholtz is symmetric but indefinite once k² passes the smallest Dirichlet eigenvalue of
  // −Δ: CG breaks down there, and GMRES with AMG or ILU/ASM needs thousands of iterations from
  // k = 8π on (or stalls); GMRES on a sparse LU (MUMPS) solves every k in one iteration
  // (cases/README.md has the measured iteration counts).
  // The defaults are the rows of kPdeTraits.
  SolverSpec spec;
  spec.ksp = solver.str("ksp", traits(pde.type).default_ksp);
  spec.pc = solver.str("pc", traits(pde.type).default_pc);
  spec.ksp_place = solver.place("ksp");
  spec.pc_place = solver.place("pc");
  spec.rtol = solver.number("rtol", 1e-10, Bounds::positive());
  spec.atol = solver.number("atol", 1e-50, Bounds::positive());
  spec.max_it = solver.integer("max_it", 10000, 1);
  spec.options = solver.opaque_map("options");
  return spec;
}

namespace {

// A relative mesh path names a file beside the case file, else one in the working directory.
std::string resolve_mesh_path(const Node& mesh, const std::string& file) {
  namespace fs = std::filesystem;
  if (fs::path(file).is_absolute()) return file;
  const fs::path beside = fs::path(mesh.place("file").file).parent_path() / file;
  if (!mesh.place("file").file.empty() && fs::exists(beside)) return beside.lexically_normal();
  return file;
}

// "outer", "holes" and "walls": the names of a mesh's boundary parts.
std::string listed(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + ("'" + names[i] + "'");
  return out;
}

// The boundary parts of a mesh: its physical groups of dimension dim − 1, by name (a group
// without a name by its tag).
std::vector<std::pair<std::string, int>> boundary_parts(const mesh::GmshHeader& header, int dim) {
  std::vector<std::pair<std::string, int>> parts;
  for (const auto& g : header.groups_of_dimension(dim - 1))
    parts.emplace_back(g.name.empty() ? std::to_string(g.tag) : g.name, g.tag);
  return parts;
}

MeshCondition read_mesh_condition(const Node& node, const PdeSpec& pde,
                                  const std::vector<std::pair<std::string, int>>& parts) {
  MeshCondition c;
  c.place = node.place();
  c.kind = node.choice("type", {"dirichlet", "neumann"}) == "dirichlet"
               ? MeshCondition::Kind::dirichlet
               : MeshCondition::Kind::neumann;
  std::vector<std::string> names;
  for (const auto& part : parts) names.push_back(part.first);
  for (const std::string& name : node.strings("on")) {
    auto it = std::find_if(parts.begin(), parts.end(), [&](auto& p) { return p.first == name; });
    if (it == parts.end()) {
      std::string message =
          "the mesh has no boundary part '" + name + "' (its parts: " + listed(names) + ")";
      const std::string guess = closest_match(name, names);
      if (!guess.empty()) message += " (did you mean '" + guess + "'?)";
      node.fail("on", message);
    }
    c.parts.push_back(name);
    c.tags.push_back(it->second);
  }
  if (node.has("value"))
    c.value = node.expression("value");
  else if (c.kind == MeshCondition::Kind::dirichlet && pde.exact)
    c.value = *pde.exact;
  else if (c.kind == MeshCondition::Kind::dirichlet)
    node.fail("value",
              "required: a Dirichlet condition needs its data (there is no pde.exact "
              "to take it from)");
  else
    c.value = Expression("0", node.place());
  if (!pde.time_dependent() && c.value->uses_time())
    node.fail("value", "expected an expression in x, y, z (a steady problem)");
  return c;
}

}  // namespace

mesh::MeshSpec read_mesh(const Node& node, mesh::GmshHeader& header) {
  mesh::MeshSpec spec;
  spec.place = node.place("file");
  spec.file = resolve_mesh_path(node, node.str("file"));
  header = mesh::read_gmsh_header(spec.file, spec.place);
  spec.dim = static_cast<int>(node.integer("dim", header.dim, 2, 3));
  if (header.dim > 0 && header.dim != spec.dim)
    node.fail("dim", "the mesh file '" + spec.file + "' is a " + std::to_string(header.dim) +
                         "D mesh, not " + std::to_string(spec.dim) + "D");
  spec.refine = static_cast<int>(node.integer("refine", 0, 0, 8));
  spec.overlap = static_cast<int>(node.integer("overlap", 0, 0, 4));
  spec.partitioner =
      node.choice("partitioner", {"ptscotch", "simple", "shell", "gather"}, "ptscotch");
  return spec;
}

void read_mesh_conditions(const Node& root, const PdeSpec& pde, MeshProblem& problem) {
  const Node node = root.child("mesh");
  const auto parts = boundary_parts(problem.header, problem.mesh.dim);
  if (parts.empty())
    node.fail("file", "the mesh file '" + problem.mesh.file +
                          "' names no boundary parts "
                          "(physical groups of dimension " +
                          std::to_string(problem.mesh.dim - 1) +
                          "): a condition cannot say where it holds");
  for (const Node& c : root.mappings("conditions"))
    problem.conditions.push_back(read_mesh_condition(c, pde, parts));
  // Every part of the boundary has exactly one condition.
  for (const auto& [name, tag] : parts) {
    int count = 0;
    for (const auto& c : problem.conditions)
      count += static_cast<int>(std::count(c.parts.begin(), c.parts.end(), name));
    if (count == 0)
      root.fail("conditions", "the mesh's boundary part '" + name +
                                  "' has no condition (add one of type dirichlet or neumann "
                                  "on it; neumann with value 0 leaves it free)");
    if (count > 1)
      root.fail("conditions", "the mesh's boundary part '" + name + "' has " +
                                  std::to_string(count) + " conditions: expected one");
  }
}

ProblemSpec read_problem(const Node& root) {
  ProblemSpec spec;
  Node pde = root.child("pde");
  // The grid's dimension is needed by the PDE reader (random-field scaling), the PDE type by
  // the grid reader (Burgers is 1D periodic): read the type first.
  const PdeType type = parse_pde_type(pde.choice("type", pde_type_names()));
  if (root.has("mesh")) {
    if (root.has("grid"))
      root.fail("grid",
                "give either grid (a structured box) or mesh (an unstructured mesh), "
                "not both");
    if (!traits(type).on_mesh)
      pde.fail("type", "expected one of " + names_where([](const PdeTraits& t) {
                         return t.on_mesh;
                       }) + " on a mesh");
    MeshProblem problem;
    problem.mesh = read_mesh(root.child("mesh"), problem.header);
    problem.order = static_cast<int>(root.child("mesh").integer("order", 1, 1, 2));
    spec.pde = read_pde(pde, problem.mesh.dim);
    read_mesh_conditions(root, spec.pde, problem);
    spec.grid.dim = problem.mesh.dim;
    spec.mesh = std::move(problem);
    if (spec.pde.time_dependent()) {
      spec.time = read_time(root.child("time"));
      if (spec.time->scheme == "rosw")  // not tried with PETSc's FEM Jacobian
        root.child("time").fail("scheme", "expected cn, bdf2 or beuler on a mesh");
    }
    spec.solver = read_solver(root.child_or_empty("solver"), spec.pde);
    return spec;
  }
  if (!traits(type).on_grid)
    pde.fail("type", std::string(traits(type).name) +
                         " is solved on unstructured meshes only: give a `mesh` section instead "
                         "of `grid`");
  spec.grid = read_grid(root.child("grid"), type);
  spec.pde = read_pde(pde, spec.grid.dim);
  if (traits(type).reference == ReferenceSolver::weno)
    spec.time = read_output_times(root.child("time"));
  else if (spec.pde.time_dependent())
    spec.time = read_time(root.child("time"));
  spec.solver = read_solver(root.child_or_empty("solver"), spec.pde);
  return spec;
}

}  // namespace karman::config
