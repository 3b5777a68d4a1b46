// The Poisson-on-many-shapes dataset (see shapes.hpp for the problem, the keys and the layout).
#include "operators/gno/shapes.hpp"

#include <fmt/format.h>
#include <gmsh.h>
#include <hdf5.h>
#include <petscdmplex.h>
#include <petscsf.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <map>

#include "io/hdf5_support.hpp"
#include "karman/core/collective.hpp"
#include "karman/core/error.hpp"
#include "karman/core/interrupt.hpp"
#include "karman/core/log.hpp"
#include "karman/core/progress.hpp"
#include "karman/core/random.hpp"
#include "karman/core/timer.hpp"
#include "karman/fem/fem.hpp"
#include "karman/mesh/gmsh.hpp"
#include "karman/nn/chunked_loss.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"

namespace karman::gno {

using namespace io::h5;

const std::vector<std::string>& builtin_shapes() {
  static const std::vector<std::string> names{"square", "disk",  "lshape",
                                              "ushape", "holes", "annulus"};
  return names;
}

namespace {

constexpr double pi = 3.14159265358979323846;

bool is_builtin(const std::string& shape) {
  const auto& names = builtin_shapes();
  return std::find(names.begin(), names.end(), shape) != names.end();
}

// "a, b, c"
template <class T>
std::string listed(const std::vector<T>& values) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i)
    out += fmt::format("{}{}", i ? ", " : "", values[i]);
  return out;
}

// ------------------------------------------------------------------------------- the case

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

// A shape file as given if it exists from the working directory, else next to the case file.
std::string resolve_shape_file(const std::string& shape, const Place& place) {
  if (file_exists(shape) || shape.empty() || shape[0] == '/') return shape;
  const std::size_t slash = place.file.rfind('/');
  if (slash == std::string::npos) return shape;
  const std::string beside = place.file.substr(0, slash + 1) + shape;
  return file_exists(beside) ? beside : shape;
}

// A [min, max] pair of numbers in `bounds`, min <= max.
std::pair<double, double> read_range(const config::Node& node, const char* key,
                                     std::pair<double, double> fallback) {
  if (!node.has(key)) return fallback;
  const auto values = node.number_list(key, 2, config::Bounds::positive());
  if (values.size() != 2 || values[0] > values[1])
    node.fail(key, "expected [min, max] with 0 < min <= max");
  return {values[0], values[1]};
}

ShapeSetSpec read_set(const config::Node& sets, const std::string& name) {
  const config::Node node = sets.child(name);
  ShapeSetSpec set;
  set.name = name;
  set.samples = node.required_integer("samples", 1);
  set.shapes = node.strings("shapes");
  for (std::string& shape : set.shapes) {
    if (is_builtin(shape)) continue;
    if (shape.find('.') == std::string::npos)
      node.fail("shapes", fmt::format("unknown shape '{}' (expected one of {} or a Gmsh .msh file)",
                                      shape, listed(builtin_shapes())));
    shape = resolve_shape_file(shape, node.place("shapes"));
    const mesh::GmshHeader header = mesh::read_gmsh_header(shape, node.place("shapes"));
    if (header.dim != 2)
      node.fail("shapes", fmt::format("'{}' is a {}D mesh, expected a 2D (triangle) mesh", shape,
                                      header.dim));
  }
  if (node.has("sources") && !node.is_sequence("sources")) {
    set.min_sources = set.max_sources = node.integer("sources", 1, 1);
  } else if (node.has("sources")) {
    const auto counts = node.number_list("sources", 1, config::Bounds::at_least(1));
    if (counts.size() > 2 || counts.front() > counts.back() ||
        counts.front() != std::floor(counts.front()) || counts.back() != std::floor(counts.back()))
      node.fail("sources", "expected a count of sources or [min, max] counts, integers >= 1");
    set.min_sources = static_cast<long>(counts.front());
    set.max_sources = static_cast<long>(counts.back());
  }
  return set;
}

config::SolverSpec default_solver() {
  config::SolverSpec solver;
  solver.ksp = "cg";
  solver.pc = "gamg";
  solver.rtol = 1e-10;
  return solver;
}

}  // namespace

ShapesSpec read_shapes_spec(const config::Node& data) {
  ShapesSpec spec;
  data.choice("problem", {"poisson_shapes"}, "poisson_shapes");
  spec.seed = static_cast<std::uint64_t>(data.integer("seed", 1, 0));
  spec.mesh_size = data.number("mesh_size", 0.05, config::Bounds{0.0, 0.5, true});
  const config::Node sources = data.child_or_empty("sources");
  std::tie(spec.min_amplitude, spec.max_amplitude) = read_range(sources, "amplitude", {5.0, 20.0});
  std::tie(spec.min_width, spec.max_width) = read_range(sources, "width", {0.05, 0.15});
  spec.dirichlet_amplitude =
      data.child_or_empty("dirichlet").number("amplitude", 1.0, config::Bounds::at_least(0.0));
  spec.file = data.str("file", "");
  const config::Node sets = data.child("sets");
  for (const std::string& name : sets.keys()) spec.sets.push_back(read_set(sets, name));
  if (spec.sets.empty()) data.fail("sets", "expected at least one named set of samples");
  spec.solver = default_solver();
  return spec;
}

std::string describe(const ShapesSpec& spec) {
  std::string sets;
  for (const ShapeSetSpec& set : spec.sets)
    sets +=
        fmt::format("{}{} {{samples {}, shapes [{}], sources [{}, {}]}}", sets.empty() ? "" : ", ",
                    set.name, set.samples, listed(set.shapes), set.min_sources, set.max_sources);
  return fmt::format(
      "problem poisson_shapes; seed {}; mesh_size {}; amplitude [{}, {}]; width [{}, {}]; "
      "dirichlet {}; sets [{}]; fem p1 {} {} rtol {}; gmsh {}",
      spec.seed, spec.mesh_size, spec.min_amplitude, spec.max_amplitude, spec.min_width,
      spec.max_width, spec.dirichlet_amplitude, sets, spec.solver.ksp, spec.solver.pc,
      spec.solver.rtol, GMSH_API_VERSION);
}

// ------------------------------------------------------------------------------- shapes

namespace {

// Counter-based draws of one stream: the i-th draw is a function of (stream, i) only.
class Draws {
 public:
  explicit Draws(std::uint64_t stream) : m_stream(stream) {}
  double uniform(double low, double high) {
    return low + (high - low) * uniform01(m_stream, m_counter++);
  }
  long integer(long low, long high) {  // in [low, high]
    const long k = low + static_cast<long>(uniform(0.0, 1.0) * static_cast<double>(high - low + 1));
    return std::min(k, high);
  }

 private:
  std::uint64_t m_stream, m_counter = 0;
};

using Point = std::array<double, 2>;

// Gmsh once per process, quiet, one thread (so that meshes do not depend on the machine).
void ensure_gmsh() {
  static const bool ready = [] {
    gmsh::initialize(0, nullptr, false);
    gmsh::option::setNumber("General.Terminal", 0);
    gmsh::option::setNumber("General.Verbosity", 0);
    gmsh::option::setNumber("General.NumThreads", 1);
    std::atexit([] { gmsh::finalize(); });
    return true;
  }();
  (void)ready;
}

// Rotates the points by quarter turns about the centre of [0, 1]².
std::vector<Point> turned(std::vector<Point> points, long quarter_turns) {
  for (long t = 0; t < quarter_turns % 4; ++t)
    for (Point& p : points) p = {1.0 - p[1], p[0]};
  return points;
}

int add_polygon_loop(const std::vector<Point>& corners, double h) {
  std::vector<int> points, lines;
  for (const Point& p : corners) points.push_back(gmsh::model::geo::addPoint(p[0], p[1], 0.0, h));
  for (std::size_t i = 0; i < points.size(); ++i)
    lines.push_back(gmsh::model::geo::addLine(points[i], points[(i + 1) % points.size()]));
  return gmsh::model::geo::addCurveLoop(lines);
}

// An ellipse with semi-axes a >= b, its major axis at angle `theta`, as four arcs.
int add_ellipse_loop(Point centre, double a, double b, double theta, double h) {
  const double c = std::cos(theta), s = std::sin(theta);
  const int middle = gmsh::model::geo::addPoint(centre[0], centre[1], 0.0, h);
  std::array<int, 4> ends;
  for (int q = 0; q < 4; ++q) {
    const double r = q % 2 ? b : a, sign = q < 2 ? 1.0 : -1.0;
    const double u = q % 2 ? -s : c, v = q % 2 ? c : s;  // major axis, then minor axis
    ends[q] =
        gmsh::model::geo::addPoint(centre[0] + sign * r * u, centre[1] + sign * r * v, 0.0, h);
  }
  std::vector<int> arcs;
  for (int q = 0; q < 4; ++q) {
    const int from = ends[q], to = ends[(q + 1) % 4];
    arcs.push_back(a == b ? gmsh::model::geo::addCircleArc(from, middle, to)
                          : gmsh::model::geo::addEllipseArc(from, middle, ends[0], to));
  }
  return gmsh::model::geo::addCurveLoop(arcs);
}

// The curve loops of a built-in shape, outer boundary first, parameters drawn from `draws`.
std::vector<int> shape_loops(const std::string& shape, Draws& draws, double h) {
  if (shape == "square") {
    const double aspect = draws.uniform(0.5, 1.0);
    const bool tall = draws.uniform(0.0, 1.0) < 0.5;
    const double w = tall ? aspect : 1.0, v = tall ? 1.0 : aspect;
    return {add_polygon_loop({{0, 0}, {w, 0}, {w, v}, {0, v}}, h)};
  }
  if (shape == "disk") {
    const double minor = draws.uniform(0.6, 1.0), theta = draws.uniform(0.0, pi);
    return {add_ellipse_loop({0.5, 0.5}, 0.5, 0.5 * minor, theta, h)};
  }
  if (shape == "lshape") {
    const double a = draws.uniform(0.35, 0.65), b = draws.uniform(0.35, 0.65);
    const long turns = draws.integer(0, 3);
    return {add_polygon_loop(turned({{0, 0}, {1, 0}, {1, b}, {a, b}, {a, 1}, {0, 1}}, turns), h)};
  }
  if (shape == "ushape") {
    const double left = draws.uniform(0.25, 0.4), right = 1.0 - draws.uniform(0.25, 0.4);
    const double bottom = draws.uniform(0.25, 0.5);
    const long turns = draws.integer(0, 3);
    return {add_polygon_loop(turned({{0, 0},
                                     {1, 0},
                                     {1, 1},
                                     {right, 1},
                                     {right, bottom},
                                     {left, bottom},
                                     {left, 1},
                                     {0, 1}},
                                    turns),
                             h)};
  }
  if (shape == "holes") {
    const double height = draws.uniform(0.6, 1.0);
    std::vector<int> loops{add_polygon_loop({{0, 0}, {1, 0}, {1, height}, {0, height}}, h)};
    const long count = draws.integer(1, 3);
    std::vector<std::array<double, 3>> holes;  // x, y, r
    // Rejection sampling with a fixed number of tries: holes stay 0.05 clear of the sides and of
    // each other (a hole that finds no place is left out, the same way on every rank).
    for (long tries = 0; tries < 200 && static_cast<long>(holes.size()) < count; ++tries) {
      const double r = draws.uniform(0.08, 0.18);
      const double x = draws.uniform(r + 0.05, 1.0 - r - 0.05);
      const double y = draws.uniform(r + 0.05, std::max(r + 0.05, height - r - 0.05));
      if (y + r + 0.05 > height) continue;
      bool clear = true;
      for (const auto& o : holes) clear = clear && std::hypot(x - o[0], y - o[1]) > r + o[2] + 0.05;
      if (clear) holes.push_back({x, y, r});
    }
    for (const auto& o : holes) loops.push_back(add_ellipse_loop({o[0], o[1]}, o[2], o[2], 0, h));
    return loops;
  }
  if (shape == "annulus") {
    const double r = draws.uniform(0.15, 0.3);
    const double offset = draws.uniform(0.0, 0.5 - r - 0.08), angle = draws.uniform(0.0, 2 * pi);
    return {add_ellipse_loop({0.5, 0.5}, 0.5, 0.5, 0, h),
            add_ellipse_loop({0.5 + offset * std::cos(angle), 0.5 + offset * std::sin(angle)}, r, r,
                             0, h)};
  }
  throw InternalError("mesh_shape: unknown built-in shape '" + shape + "'");
}

double signed_area(const std::vector<double>& v, long a, long b, long c) {
  return 0.5 * ((v[2 * b] - v[2 * a]) * (v[2 * c + 1] - v[2 * a + 1]) -
                (v[2 * c] - v[2 * a]) * (v[2 * b + 1] - v[2 * a + 1]));
}

// The current Gmsh model's 3-node triangles, counter-clockwise, on the nodes they use (in Gmsh's
// node order), and the vertices on edges of one triangle.
ShapeMesh extract_triangles(const std::string& shape) {
  std::vector<std::size_t> node_tags, element_tags, element_nodes;
  std::vector<double> coordinates, parametric;
  gmsh::model::mesh::getNodes(node_tags, coordinates, parametric, -1, -1, false, false);
  gmsh::model::mesh::getElementsByType(2, element_tags, element_nodes);
  if (element_nodes.empty())
    throw ConfigError(fmt::format("shape '{}': the mesh has no triangles", shape));
  std::map<std::size_t, std::size_t> position;  // node tag → row of `coordinates`
  for (std::size_t i = 0; i < node_tags.size(); ++i) position[node_tags[i]] = i;
  std::vector<long> local(node_tags.size(), -1);
  for (std::size_t tag : element_nodes) local[position.at(tag)] = 0;
  ShapeMesh mesh;
  long n = 0;
  for (std::size_t i = 0; i < node_tags.size(); ++i) {
    if (local[i] < 0) continue;
    local[i] = n++;
    mesh.vertices.push_back(coordinates[3 * i]);
    mesh.vertices.push_back(coordinates[3 * i + 1]);
  }
  for (std::size_t tag : element_nodes) mesh.cells.push_back(local[position.at(tag)]);
  for (std::size_t c = 0; c < mesh.cells.size(); c += 3)
    if (signed_area(mesh.vertices, mesh.cells[c], mesh.cells[c + 1], mesh.cells[c + 2]) < 0)
      std::swap(mesh.cells[c + 1], mesh.cells[c + 2]);
  // Boundary: the edges of one triangle.
  std::map<std::pair<long, long>, int> uses;
  for (std::size_t c = 0; c < mesh.cells.size(); c += 3)
    for (int e = 0; e < 3; ++e) {
      const long a = mesh.cells[c + e], b = mesh.cells[c + (e + 1) % 3];
      ++uses[{std::min(a, b), std::max(a, b)}];
    }
  mesh.boundary.assign(static_cast<std::size_t>(n), 0);
  for (const auto& [edge, count] : uses)
    if (count == 1) mesh.boundary[edge.first] = mesh.boundary[edge.second] = 1;
  return mesh;
}

}  // namespace

ShapeMesh mesh_shape(const std::string& shape, std::uint64_t stream, double mesh_size) {
  ensure_gmsh();
  try {
    gmsh::clear();
    if (is_builtin(shape)) {
      gmsh::model::add("shape");
      Draws draws(stream);
      const std::vector<int> loops = shape_loops(shape, draws, mesh_size);
      gmsh::model::geo::addPlaneSurface(loops);
      gmsh::model::geo::synchronize();
      gmsh::model::mesh::generate(2);
    } else {
      gmsh::open(shape);
    }
    ShapeMesh mesh = extract_triangles(shape);
    gmsh::clear();
    return mesh;
  } catch (const ConfigError&) {
    throw;
  } catch (const InternalError&) {
    throw;
  } catch (...) {  // Gmsh throws on errors (General.AbortOnError 2) and keeps the message
    std::string reason;
    gmsh::logger::getLastError(reason);
    gmsh::clear();
    throw ExternalError("Gmsh", 0, fmt::format("cannot mesh shape '{}': {}", shape, reason));
  }
}

std::vector<long> mesh_edges(const std::vector<long>& cells) {
  std::vector<std::pair<long, long>> edges;
  edges.reserve(cells.size());
  for (std::size_t c = 0; c + 2 < cells.size(); c += 3)
    for (int e = 0; e < 3; ++e) {
      const long a = cells[c + e], b = cells[c + (e + 1) % 3];
      edges.emplace_back(std::min(a, b), std::max(a, b));
    }
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  std::vector<long> out;
  out.reserve(2 * edges.size());
  for (const auto& [a, b] : edges) {
    out.push_back(a);
    out.push_back(b);
  }
  return out;
}

// ------------------------------------------------------------------------------- solving

namespace {

// The serial DMPlex of the triangles on `comm` (all of it on its rank 0: the other ranks pass no
// cells), interpolated, every boundary face (and its closure) in "Face Sets" with value 1. Vertex
// v of the mesh is the DMPlex point (number of cells) + v.
void create_plex(const ShapeMesh& mesh, petsc::DM& dm, MPI_Comm comm = PETSC_COMM_SELF) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const bool here = rank == 0;
  const std::vector<PetscInt> cells(mesh.cells.begin(), mesh.cells.end());
  const std::vector<PetscReal> coordinates(mesh.vertices.begin(), mesh.vertices.end());
  KARMAN_PETSC(DMPlexCreateFromCellListPetsc(
      comm, 2, here ? static_cast<PetscInt>(mesh.cells.size() / 3) : 0,
      here ? static_cast<PetscInt>(mesh.vertices.size() / 2) : 0, 3, PETSC_TRUE, cells.data(), 2,
      coordinates.data(), dm.out()));
  KARMAN_PETSC(DMCreateLabel(dm, "Face Sets"));
  DMLabel label;
  KARMAN_PETSC(DMGetLabel(dm, "Face Sets", &label));
  KARMAN_PETSC(DMPlexMarkBoundaryFaces(dm, 1, label));
  KARMAN_PETSC(DMPlexLabelComplete(dm, label));
}

}  // namespace

mesh::DistributedGraph distributed_sample_graph(MPI_Comm comm, const ShapeSample& sample) {
  const ShapeMesh mesh{sample.vertices, sample.cells, sample.boundary};
  petsc::DM serial;
  create_plex(mesh, serial, comm);
  PetscPartitioner partitioner;
  KARMAN_PETSC(DMPlexGetPartitioner(serial, &partitioner));
  KARMAN_PETSC(PetscPartitionerSetType(partitioner, PETSCPARTITIONERPTSCOTCH));
  KARMAN_PETSC(PetscPartitionerSetFromOptions(partitioner));
  PetscSF migration = nullptr;
  DM parallel = nullptr;
  KARMAN_PETSC(DMPlexDistribute(serial, 1, &migration, &parallel));
  if (!parallel) return mesh::make_distributed_graph(serial, static_cast<PetscSF>(nullptr));
  petsc::DM distributed;
  *distributed.out() = parallel;
  mesh::DistributedGraph graph = mesh::make_distributed_graph(distributed, migration);
  PetscSFDestroy(&migration);
  return graph;
}

PoissonOutcome solve_poisson(const ShapeMesh& mesh, const std::function<double(double, double)>& f,
                             const std::function<double(double, double)>& g,
                             const config::SolverSpec& solver,
                             const std::function<double(double, double)>& exact,
                             const std::vector<double>* initial_guess) {
  petsc::DM dm;
  create_plex(mesh, dm);
  fem::Problem problem;
  problem.equation = fem::Equation::poisson;
  problem.order = 1;
  problem.source = [f](const double* x, double) { return f(x[0], x[1]); };
  if (exact) problem.exact = [exact](const double* x, double) { return exact(x[0], x[1]); };
  problem.conditions = {{fem::Condition::Kind::dirichlet, {1}, [g](const double* x, double) {
                           return g(x[0], x[1]);
                         }}};
  if (initial_guess) problem.initial_guess = *initial_guess;  // one rank: every vertex is owned
  Timer timer;
  fem::Result result = fem::solve(dm, problem, solver);
  PoissonOutcome outcome;
  outcome.seconds = timer.seconds();
  if (!result.stats.converged)
    throw ExternalError("PETSc", 0,
                        "the finite-element solve did not converge: " + result.stats.reason);
  KARMAN_VERIFY(result.vertex_values.size() == mesh.vertices.size() / 2,
                "solve_poisson: one value per vertex expected");
  outcome.solution = std::move(result.vertex_values);
  outcome.iterations = result.stats.iterations;
  outcome.l2_error = result.l2_error;
  return outcome;
}

namespace {

// FNV-1a: a set's name as part of its samples' streams.
std::uint64_t name_hash(const std::string& name) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ULL;
  return h;
}

bool inside_triangle(const ShapeMesh& mesh, std::size_t c, double x, double y) {
  const std::vector<double>& v = mesh.vertices;
  for (int e = 0; e < 3; ++e) {
    const long a = mesh.cells[c + e], b = mesh.cells[c + (e + 1) % 3];
    const double cross =
        (v[2 * b] - v[2 * a]) * (y - v[2 * a + 1]) - (v[2 * b + 1] - v[2 * a + 1]) * (x - v[2 * a]);
    if (cross < 0) return false;
  }
  return true;
}

bool inside(const ShapeMesh& mesh, double x, double y) {
  for (std::size_t c = 0; c < mesh.cells.size(); c += 3)
    if (inside_triangle(mesh, c, x, y)) return true;
  return false;
}

// A point of Ω drawn uniformly by rejection from the mesh's bounding box.
Point point_inside(const ShapeMesh& mesh, Draws& draws) {
  double lo[2] = {1e300, 1e300}, hi[2] = {-1e300, -1e300};
  for (std::size_t i = 0; i < mesh.vertices.size(); ++i) {
    lo[i % 2] = std::min(lo[i % 2], mesh.vertices[i]);
    hi[i % 2] = std::max(hi[i % 2], mesh.vertices[i]);
  }
  for (int tries = 0; tries < 10000; ++tries) {
    const double x = draws.uniform(lo[0], hi[0]), y = draws.uniform(lo[1], hi[1]);
    if (inside(mesh, x, y)) return {x, y};
  }
  throw InternalError("point_inside: no point of the shape found in 10000 draws");
}

struct Source {
  Point centre;
  double amplitude, width;
};

struct Dirichlet {
  double c0, c1, c2;
  std::array<double, 2> b, phase, kx, ky;
  double operator()(double x, double y) const {
    double g = c0 + c1 * x + c2 * y;
    for (int j = 0; j < 2; ++j) g += b[j] * std::sin(pi * (kx[j] * x + ky[j] * y) + phase[j]);
    return g;
  }
};

Dirichlet draw_dirichlet(Draws& draws, double a) {
  Dirichlet g{};
  g.c0 = draws.uniform(-a, a);
  g.c1 = draws.uniform(-a, a);
  g.c2 = draws.uniform(-a, a);
  for (int j = 0; j < 2; ++j) {
    g.b[j] = draws.uniform(-0.2 * a, 0.2 * a);
    g.phase[j] = draws.uniform(0.0, 2 * pi);
    g.kx[j] = draws.uniform(-2.0, 2.0);
    g.ky[j] = draws.uniform(-2.0, 2.0);
  }
  return g;
}

}  // namespace

ShapeSample make_shape_sample(const ShapesSpec& spec, std::size_t set_index, long index) {
  const ShapeSetSpec& set = spec.sets.at(set_index);
  const std::uint64_t stream =
      mix64(spec.seed ^ mix64(name_hash(set.name) ^ mix64(static_cast<std::uint64_t>(index))));
  Draws choice(mix64(stream ^ 1)), sources_draws(mix64(stream ^ 3)),
      dirichlet_draws(mix64(stream ^ 4));
  ShapeSample sample;
  sample.shape = set.shapes[choice.integer(0, static_cast<long>(set.shapes.size()) - 1)];
  ShapeMesh mesh = mesh_shape(sample.shape, mix64(stream ^ 2), spec.mesh_size);

  std::vector<Source> sources(sources_draws.integer(set.min_sources, set.max_sources));
  for (Source& s : sources) {
    s.centre = point_inside(mesh, sources_draws);
    s.amplitude = sources_draws.uniform(spec.min_amplitude, spec.max_amplitude);
    s.width = sources_draws.uniform(spec.min_width, spec.max_width);
  }
  const auto f = [sources](double x, double y) {
    double value = 0.0;
    for (const Source& s : sources) {
      const double dx = x - s.centre[0], dy = y - s.centre[1];
      value += s.amplitude * std::exp(-(dx * dx + dy * dy) / (2 * s.width * s.width));
    }
    return value;
  };
  const Dirichlet g = draw_dirichlet(dirichlet_draws, spec.dirichlet_amplitude);

  // PETSc's reductions go through BLAS, whose threaded round-off depends on the thread count
  // (and so on the rank count): one thread keeps samples bitwise equal on any rank count.
  nn::OneBlasThread one_thread;
  PoissonOutcome outcome = solve_poisson(mesh, f, g, spec.solver);
  const long n = static_cast<long>(mesh.vertices.size() / 2);
  for (long i = 0; i < n; ++i) {
    sample.source.push_back(f(mesh.vertices[2 * i], mesh.vertices[2 * i + 1]));
    sample.dirichlet.push_back(g(mesh.vertices[2 * i], mesh.vertices[2 * i + 1]));
  }
  sample.vertices = std::move(mesh.vertices);
  sample.cells = std::move(mesh.cells);
  sample.boundary = std::move(mesh.boundary);
  sample.solution = std::move(outcome.solution);
  sample.fem_seconds = outcome.seconds;
  sample.fem_iterations = outcome.iterations;
  return sample;
}

namespace {

// The vertex at a point PETSc asks about: P1 interpolation and essential conditions evaluate f
// and g at the vertices only, at coordinates equal to the stored ones up to round-off.
class VertexLookup {
 public:
  explicit VertexLookup(const std::vector<double>& vertices) : m_vertices(vertices) {
    for (std::size_t i = 0; i < vertices.size() / 2; ++i) m_by_x.emplace_back(vertices[2 * i], i);
    std::sort(m_by_x.begin(), m_by_x.end());
  }
  std::size_t operator()(double x, double y) const {
    constexpr double tolerance = 1e-9;  // far below any mesh size, far above round-off
    auto it = std::lower_bound(m_by_x.begin(), m_by_x.end(), std::make_pair(x - tolerance, 0UL));
    for (; it != m_by_x.end() && it->first <= x + tolerance; ++it)
      if (std::abs(m_vertices[2 * it->second + 1] - y) <= tolerance) return it->second;
    throw InternalError(fmt::format("solve_sample: ({}, {}) is not a vertex of the sample", x, y));
  }

 private:
  const std::vector<double>& m_vertices;
  std::vector<std::pair<double, std::size_t>> m_by_x;  // (x, vertex), sorted
};

}  // namespace

PoissonOutcome solve_sample(const ShapeSample& sample, const config::SolverSpec& solver,
                            const std::vector<double>* initial_guess) {
  const ShapeMesh mesh{sample.vertices, sample.cells, sample.boundary};
  const VertexLookup vertex(mesh.vertices);
  nn::OneBlasThread one_thread;  // as make_shape_sample solves
  return solve_poisson(
      mesh, [&](double x, double y) { return sample.source[vertex(x, y)]; },
      [&](double x, double y) { return sample.dirichlet[vertex(x, y)]; }, solver, {},
      initial_guess);
}

// ------------------------------------------------------------------------------- the file

namespace {

const char* const kPending = "/pending";  // the partial file's finished samples

std::string pending_name(const std::string& set, long index) {
  return fmt::format("{}/{}/{:06d}", kPending, set, index);
}

Id create_file(const std::string& path) {
  return make_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose,
                 "cannot create file", path);
}

Id open_serial(const std::string& path, unsigned flags) {
  const hid_t file = H5Fopen(path.c_str(), flags, H5P_DEFAULT);
  if (file < 0)
    throw ConfigError(Place{path, 0, 0},
                      "not an HDF5 file, or not readable (remove it to start "
                      "over)");
  return Id(file, H5Fclose);
}

// A dataset [dims] of `file_type` from `values` (row-major), written whole.
template <class T>
void write_array(hid_t parent, const std::string& name, hid_t file_type, hid_t memory_type,
                 const std::vector<hsize_t>& dims, const std::vector<T>& values,
                 const std::string& path) {
  const std::string what = "cannot write dataset '" + name + "' in";
  Id space = make_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                     H5Sclose, what, path);
  Id data = make_id(H5Dcreate2(parent, name.c_str(), file_type, space.get(), H5P_DEFAULT,
                               H5P_DEFAULT, H5P_DEFAULT),
                    H5Dclose, what, path);
  const T none{};
  check(H5Dwrite(data.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                 values.empty() ? &none : values.data()),
        what, path);
}

// A whole numeric dataset converted to `memory_type`, with its dims.
template <class T>
std::vector<T> read_array(hid_t file, const std::string& name, hid_t memory_type,
                          const std::string& path, std::vector<hsize_t>* dims = nullptr) {
  Id data = open_dataset(file, path, name);
  const std::vector<hsize_t> shape = dataset_dims(data.get(), path);
  hsize_t size = 1;
  for (hsize_t d : shape) size *= d;
  std::vector<T> values(size);
  T none{};
  check(H5Dread(data.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                values.empty() ? &none : values.data()),
        "cannot read dataset '" + name + "' in", path);
  if (dims) *dims = shape;
  return values;
}

// One sample's arrays into `group` (the partial file's layout, or the final one's rows).
void write_sample_arrays(hid_t group, const ShapeSample& s, const std::string& path) {
  const hsize_t n = static_cast<hsize_t>(s.vertex_count()),
                m = static_cast<hsize_t>(s.cell_count());
  write_array(group, "vertices", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {n, 2}, s.vertices, path);
  write_array(group, "cells", H5T_STD_I64LE, H5T_NATIVE_LONG, {m, 3}, s.cells, path);
  write_array(group, "boundary", H5T_STD_U8LE, H5T_NATIVE_UCHAR, {n}, s.boundary, path);
  write_array(group, "source", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {n}, s.source, path);
  write_array(group, "dirichlet", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {n}, s.dirichlet, path);
  write_array(group, "solution", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {n}, s.solution, path);
}

// A finished sample in the partial file: its group gets the attribute `complete` last, so a
// sample cut off by a kill is recognised and made again.
void write_pending(hid_t file, const std::string& set, long index, const ShapeSample& s,
                   const std::string& path) {
  const std::string name = pending_name(set, index);
  if (link_exists(file, name))
    check(H5Ldelete(file, name.c_str(), H5P_DEFAULT), "cannot remove " + name + " in", path);
  Id pending = open_or_create_group(file, kPending, path);
  Id set_group = open_or_create_group(file, std::string(kPending) + "/" + set, path);
  Id group = open_or_create_group(file, name, path);
  write_sample_arrays(group.get(), s, path);
  put_string(group.get(), "shape", s.shape, path);
  put_scalar(group.get(), "fem_seconds", H5T_NATIVE_DOUBLE, &s.fem_seconds, path);
  put_scalar(group.get(), "fem_iterations", H5T_NATIVE_LONG, &s.fem_iterations, path);
  const long complete = 1;
  put_scalar(group.get(), "complete", H5T_NATIVE_LONG, &complete, path);
}

bool pending_complete(hid_t file, const std::string& set, long index, const std::string& path) {
  const std::string name = pending_name(set, index);
  if (!link_exists(file, name)) return false;
  Id group = make_id(H5Gopen2(file, name.c_str(), H5P_DEFAULT), H5Gclose, "cannot open", path);
  return long_attribute(group.get(), "complete", path, 0) == 1;
}

ShapeSample read_pending(hid_t file, const std::string& set, long index, const std::string& path) {
  const std::string name = pending_name(set, index);
  Id group = make_id(H5Gopen2(file, name.c_str(), H5P_DEFAULT), H5Gclose, "cannot open", path);
  ShapeSample s;
  s.vertices = read_array<double>(file, name + "/vertices", H5T_NATIVE_DOUBLE, path);
  s.cells = read_array<long>(file, name + "/cells", H5T_NATIVE_LONG, path);
  s.boundary = read_array<unsigned char>(file, name + "/boundary", H5T_NATIVE_UCHAR, path);
  s.source = read_array<double>(file, name + "/source", H5T_NATIVE_DOUBLE, path);
  s.dirichlet = read_array<double>(file, name + "/dirichlet", H5T_NATIVE_DOUBLE, path);
  s.solution = read_array<double>(file, name + "/solution", H5T_NATIVE_DOUBLE, path);
  s.shape = string_attribute(group.get(), "shape", path);
  Id seconds = make_id(H5Aopen(group.get(), "fem_seconds", H5P_DEFAULT), H5Aclose,
                       "cannot read fem_seconds of " + name + " in", path);
  check(H5Aread(seconds.get(), H5T_NATIVE_DOUBLE, &s.fem_seconds), "cannot read", path);
  s.fem_iterations = long_attribute(group.get(), "fem_iterations", path, 0);
  return s;
}

// The generator line of an existing file must be this spec's, or resuming would mix datasets.
void require_same_generator(hid_t file, const std::string& path, const ShapesSpec& spec) {
  io::h5::require_same_generator(file, path, describe(spec), "remove it to start over");
}

// A 1D attribute of variable-length UTF-8 strings (h5py reads a list of str).
void put_string_list(hid_t object, const std::string& name, const std::vector<std::string>& values,
                     const std::string& path) {
  const std::string what = "cannot write attribute '" + name + "' of";
  std::vector<const char*> texts;
  for (const std::string& value : values) texts.push_back(value.c_str());
  Id type = make_id(H5Tcopy(H5T_C_S1), H5Tclose, what, path);
  check(H5Tset_size(type.get(), H5T_VARIABLE), what, path);
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), what, path);
  put_array(object, name, type.get(), texts, path);
}

void put_root_attributes(hid_t file, const ShapesSpec& spec, const std::string& config_yaml,
                         const std::string& path) {
  put_string(file, "problem", "poisson_shapes", path);
  put_string(file, "generator", describe(spec), path);
  put_string(file, "config", config_yaml, path);
  put_string(file, "karman_version", KARMAN_VERSION, path);
  const long seed = static_cast<long>(spec.seed);
  put_scalar(file, "seed", H5T_NATIVE_LONG, &seed, path);
  put_scalar(file, "mesh_size", H5T_NATIVE_DOUBLE, &spec.mesh_size, path);
  std::vector<std::string> names;
  for (const ShapeSetSpec& set : spec.sets) names.push_back(set.name);
  put_string_list(file, "sets", names, path);
}

// The final layout of one set, from the partial file's samples (rank 0).
void write_final_set(hid_t partial, const std::string& partial_path, hid_t out,
                     const ShapeSetSpec& set, const std::string& path) {
  ShapeSample all;
  std::vector<long> vertex_offsets{0}, cell_offsets{0}, iterations;
  std::vector<double> seconds;
  std::vector<int> codes;
  for (long k = 0; k < set.samples; ++k) {
    ShapeSample s = read_pending(partial, set.name, k, partial_path);
    all.vertices.insert(all.vertices.end(), s.vertices.begin(), s.vertices.end());
    all.cells.insert(all.cells.end(), s.cells.begin(), s.cells.end());
    all.boundary.insert(all.boundary.end(), s.boundary.begin(), s.boundary.end());
    all.source.insert(all.source.end(), s.source.begin(), s.source.end());
    all.dirichlet.insert(all.dirichlet.end(), s.dirichlet.begin(), s.dirichlet.end());
    all.solution.insert(all.solution.end(), s.solution.begin(), s.solution.end());
    vertex_offsets.push_back(vertex_offsets.back() + s.vertex_count());
    cell_offsets.push_back(cell_offsets.back() + s.cell_count());
    seconds.push_back(s.fem_seconds);
    iterations.push_back(s.fem_iterations);
    const auto code = std::find(set.shapes.begin(), set.shapes.end(), s.shape) - set.shapes.begin();
    KARMAN_VERIFY(code < static_cast<long>(set.shapes.size()), "a sample's shape is not its set's");
    codes.push_back(static_cast<int>(code));
  }
  Id group = open_or_create_group(out, "/" + set.name, path);
  write_sample_arrays(group.get(), all, path);
  const hsize_t offsets = static_cast<hsize_t>(set.samples + 1),
                S = static_cast<hsize_t>(set.samples);
  write_array(group.get(), "vertex_offsets", H5T_STD_I64LE, H5T_NATIVE_LONG, {offsets},
              vertex_offsets, path);
  write_array(group.get(), "cell_offsets", H5T_STD_I64LE, H5T_NATIVE_LONG, {offsets}, cell_offsets,
              path);
  write_array(group.get(), "fem_seconds", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {S}, seconds, path);
  write_array(group.get(), "fem_iterations", H5T_STD_I64LE, H5T_NATIVE_LONG, {S}, iterations, path);
  write_array(group.get(), "shape", H5T_STD_I32LE, H5T_NATIVE_INT, {S}, codes, path);
  Id shape = make_id(H5Dopen2(group.get(), "shape", H5P_DEFAULT), H5Dclose, "cannot open", path);
  put_string_list(shape.get(), "names", set.shapes, path);
}

// Rank 0: the finished file from the partial one, written beside it and renamed into place.
void assemble(const ShapesSpec& spec, const std::string& path, const std::string& config_yaml) {
  const std::string partial = path + ".partial", assembling = path + ".assembling";
  {
    Id in = open_serial(partial, H5F_ACC_RDONLY);
    Id out = create_file(assembling);
    put_root_attributes(out.get(), spec, config_yaml, assembling);
    for (const ShapeSetSpec& set : spec.sets)
      write_final_set(in.get(), partial, out.get(), set, assembling);
    check(out.close(), "cannot close file", assembling);
  }
  if (std::rename(assembling.c_str(), path.c_str()) != 0)
    throw ExternalError("filesystem", errno,
                        "cannot rename '" + assembling + "' to '" + path + "'");
  std::remove(partial.c_str());
}

// A sample as doubles, to travel to rank 0: [set, index, n, m, seconds, iterations, shape length,
// vertices, cells, boundary, source, dirichlet, solution, shape characters].
std::vector<double> pack(std::size_t set, long index, const ShapeSample& s) {
  std::vector<double> out{static_cast<double>(set),
                          static_cast<double>(index),
                          static_cast<double>(s.vertex_count()),
                          static_cast<double>(s.cell_count()),
                          s.fem_seconds,
                          static_cast<double>(s.fem_iterations),
                          static_cast<double>(s.shape.size())};
  out.insert(out.end(), s.vertices.begin(), s.vertices.end());
  out.insert(out.end(), s.cells.begin(), s.cells.end());
  out.insert(out.end(), s.boundary.begin(), s.boundary.end());
  out.insert(out.end(), s.source.begin(), s.source.end());
  out.insert(out.end(), s.dirichlet.begin(), s.dirichlet.end());
  out.insert(out.end(), s.solution.begin(), s.solution.end());
  for (char c : s.shape) out.push_back(static_cast<unsigned char>(c));
  return out;
}

// Unpacks one sample starting at `at`, which moves past it.
ShapeSample unpack(const std::vector<double>& in, std::size_t& at, std::size_t& set, long& index) {
  set = static_cast<std::size_t>(in[at]);
  index = static_cast<long>(in[at + 1]);
  const auto n = static_cast<std::size_t>(in[at + 2]), m = static_cast<std::size_t>(in[at + 3]);
  ShapeSample s;
  s.fem_seconds = in[at + 4];
  s.fem_iterations = static_cast<long>(in[at + 5]);
  const auto chars = static_cast<std::size_t>(in[at + 6]);
  at += 7;
  const auto take = [&](std::size_t count) {
    std::vector<double> part(in.begin() + at, in.begin() + at + count);
    at += count;
    return part;
  };
  s.vertices = take(2 * n);
  for (double v : take(3 * m)) s.cells.push_back(static_cast<long>(v));
  for (double v : take(n)) s.boundary.push_back(static_cast<unsigned char>(v));
  s.source = take(n);
  s.dirichlet = take(n);
  s.solution = take(n);
  for (double c : take(chars)) s.shape.push_back(static_cast<char>(static_cast<unsigned char>(c)));
  return s;
}

// Every rank's packed samples on rank 0 (concatenated), empty elsewhere.
std::vector<double> gather_on_rank0(MPI_Comm comm, const std::vector<double>& mine) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const long long count = static_cast<long long>(mine.size());
  KARMAN_VERIFY(count < (1LL << 31), "a sample too large for one message");
  int my_count = static_cast<int>(count);
  std::vector<int> counts(size), displacements(size, 0);
  MPI_Gather(&my_count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm);
  long long total = 0;
  for (int r = 0; r < size; ++r) {
    displacements[r] = static_cast<int>(total);
    total += counts[r];
  }
  std::vector<double> all(rank == 0 ? static_cast<std::size_t>(total) : 0);
  MPI_Gatherv(mine.data(), my_count, MPI_DOUBLE, all.data(), counts.data(), displacements.data(),
              MPI_DOUBLE, 0, comm);
  return all;
}

struct SampleId {
  std::size_t set;
  long index;
};

// Every sample of every set, in order; rank r makes those at positions r, r + size, ...
std::vector<SampleId> all_samples(const ShapesSpec& spec) {
  std::vector<SampleId> ids;
  for (std::size_t s = 0; s < spec.sets.size(); ++s)
    for (long k = 0; k < spec.sets[s].samples; ++k) ids.push_back({s, k});
  return ids;
}

// Rank 0: the partial file opened for writing (made afresh if absent), its completed samples'
// flags [all_samples order] broadcast to every rank.
std::vector<unsigned char> open_partial(MPI_Comm comm, const ShapesSpec& spec,
                                        const std::string& partial, const std::string& config_yaml,
                                        Id& file) {
  const std::vector<SampleId> ids = all_samples(spec);
  std::vector<unsigned char> flags(ids.size(), 0);
  run_on_rank0(comm, [&] {
    if (file_exists(partial)) {
      file = open_serial(partial, H5F_ACC_RDWR);
      require_same_generator(file.get(), partial, spec);
      for (std::size_t i = 0; i < ids.size(); ++i)
        flags[i] = pending_complete(file.get(), spec.sets[ids[i].set].name, ids[i].index, partial);
    } else {
      file = create_file(partial);
      put_root_attributes(file.get(), spec, config_yaml, partial);
      check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "cannot flush", partial);
    }
  });
  MPI_Bcast(flags.data(), static_cast<int>(flags.size()), MPI_UNSIGNED_CHAR, 0, comm);
  return flags;
}

}  // namespace

ShapesGenerateSummary generate_shapes_dataset(MPI_Comm comm, const ShapesSpec& spec,
                                              const std::string& path,
                                              const ShapesGenerateOptions& options) {
  quiet_hdf5();
  Timer wall;
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const std::vector<SampleId> ids = all_samples(spec);
  ShapesGenerateSummary summary;
  summary.samples = static_cast<long>(ids.size());
  const std::string partial = path + ".partial";

  if (exists_on_rank0(comm, path)) {  // a finished dataset with these settings is kept
    run_on_rank0(comm, [&] {
      Id file = open_serial(path, H5F_ACC_RDONLY);
      require_same_generator(file.get(), path, spec);
    });
    summary.kept = summary.samples;
    summary.complete = true;
    summary.wall_s = wall.seconds();
    log().info("dataset {}: complete with these settings, nothing to do", path);
    return summary;
  }
  Id file;
  const std::vector<unsigned char> flags =
      open_partial(comm, spec, partial, options.config_yaml, file);
  summary.kept = static_cast<long>(std::count(flags.begin(), flags.end(), 1));
  std::vector<std::size_t> missing;  // this rank's, positions in `ids`
  for (std::size_t i = static_cast<std::size_t>(rank); i < ids.size(); i += size)
    if (!flags[i]) missing.push_back(i);
  long my_missing = static_cast<long>(missing.size()), rounds = 0;
  MPI_Allreduce(&my_missing, &rounds, 1, MPI_LONG, MPI_MAX, comm);
  bool interrupted = options.stop_after >= 0 && options.stop_after < rounds;
  if (interrupted) rounds = options.stop_after;
  const InterruptScope listening;  // SIGTERM, SIGUSR1, SIGINT: stop after the round in progress
  int stop_signal = 0;             // the signal any rank received
  if (summary.kept > 0)
    log().info("dataset {}: resuming, {} of {} samples already complete", partial, summary.kept,
               summary.samples);

  // Round r: every rank makes its r-th missing sample, rank 0 writes them all and flushes, so a
  // kill loses at most the round in progress.
  Progress progress("dataset poisson_shapes", summary.samples,
                    std::max<long>(1, summary.samples / 20), options.quiet, "samples");
  double local[2] = {0.0, 0.0};  // solved, solve seconds
  long done = summary.kept;
  for (long r = 0; r < rounds; ++r) {
    std::vector<double> packed;
    std::exception_ptr error;
    if (r < my_missing) {
      try {
        const SampleId id = ids[missing[r]];
        const ShapeSample sample = make_shape_sample(spec, id.set, id.index);
        packed = pack(id.set, id.index, sample);
        local[0] += 1.0;
        local[1] += sample.fem_seconds;
      } catch (...) {
        error = std::current_exception();
      }
    }
    rethrow_on_all(comm, error);
    const std::vector<double> all = gather_on_rank0(comm, packed);
    run_on_rank0(comm, [&] {
      for (std::size_t at = 0; at < all.size();) {
        std::size_t set;
        long index;
        const ShapeSample sample = unpack(all, at, set, index);
        write_pending(file.get(), spec.sets[set].name, index, sample, partial);
        ++done;
      }
      check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "cannot flush", partial);
    });
    MPI_Bcast(&done, 1, MPI_LONG, 0, comm);
    progress.update(done, fmt::format("{:.3f} s/sample", local[0] > 0 ? local[1] / local[0] : 0.0));
    if (r + 1 < rounds && (stop_signal = interrupt_requested(comm)) != 0) {
      interrupted = true;
      break;
    }
  }
  double totals[2];
  MPI_Allreduce(local, totals, 2, MPI_DOUBLE, MPI_SUM, comm);
  summary.solved = static_cast<long>(totals[0]);
  summary.solve_s = totals[1];
  run_on_rank0(comm, [&] { check(file.close(), "cannot close file", partial); });
  summary.complete = !interrupted;
  if (summary.complete) run_on_rank0(comm, [&] { assemble(spec, path, options.config_yaml); });
  summary.wall_s = wall.seconds();
  progress.finish(fmt::format("{} solved, {} kept, {:.3f} s/sample", summary.solved, summary.kept,
                              summary.solved ? summary.solve_s / summary.solved : 0.0));
  if (stop_signal != 0)
    throw Interrupted(fmt::format("interrupted by {} with {} of {} samples complete",
                                  signal_name(stop_signal), done, summary.samples));
  return summary;
}

// -------------------------------------------------------------------------- reading

std::vector<ShapeSample> read_shapes_set(const std::string& path, const std::string& set) {
  quiet_hdf5();
  Id file = open_serial(path, H5F_ACC_RDONLY);
  if (!link_exists(file.get(), "/" + set))
    throw ConfigError(Place{path, 0, 0}, fmt::format("the dataset has no set '{}'", set));
  const auto read_d = [&](const char* name, std::vector<hsize_t>* dims = nullptr) {
    return read_array<double>(file.get(), "/" + set + "/" + name, H5T_NATIVE_DOUBLE, path, dims);
  };
  const auto read_l = [&](const char* name) {
    return read_array<long>(file.get(), "/" + set + "/" + name, H5T_NATIVE_LONG, path);
  };
  const std::vector<long> vertex_offsets = read_l("vertex_offsets"),
                          cell_offsets = read_l("cell_offsets");
  const std::vector<double> vertices = read_d("vertices"), source = read_d("source"),
                            dirichlet = read_d("dirichlet"), solution = read_d("solution"),
                            seconds = read_d("fem_seconds");
  const std::vector<long> cells = read_l("cells"), iterations = read_l("fem_iterations"),
                          codes = read_l("shape");
  const std::vector<unsigned char> boundary =
      read_array<unsigned char>(file.get(), "/" + set + "/boundary", H5T_NATIVE_UCHAR, path);
  const std::size_t S = codes.size(), n = source.size();
  const auto bad = [&](const std::string& what) {
    return ConfigError(Place{path, 0, 0}, fmt::format("set '{}': {}", set, what));
  };
  if (vertex_offsets.size() != S + 1 || cell_offsets.size() != S + 1 || seconds.size() != S ||
      iterations.size() != S)
    throw bad(
        "vertex_offsets, cell_offsets, fem_seconds, fem_iterations and shape disagree on "
        "the number of samples");
  if (vertices.size() != 2 * n || dirichlet.size() != n || solution.size() != n ||
      boundary.size() != n || static_cast<std::size_t>(vertex_offsets.back()) != n ||
      static_cast<std::size_t>(cell_offsets.back()) * 3 != cells.size())
    throw bad("the per-vertex datasets or the offsets disagree on the number of vertices");
  // The shape names: the `names` attribute of /<set>/shape.
  std::vector<std::string> names;
  {
    Id shape = make_id(H5Dopen2(file.get(), ("/" + set + "/shape").c_str(), H5P_DEFAULT), H5Dclose,
                       "cannot open /" + set + "/shape in", path);
    Id attribute = make_id(H5Aopen(shape.get(), "names", H5P_DEFAULT), H5Aclose,
                           "cannot open attribute 'names' of /" + set + "/shape in", path);
    Id space = make_id(H5Aget_space(attribute.get()), H5Sclose, "cannot read 'names' in", path);
    std::vector<char*> text(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get())));
    Id type = make_id(H5Tcopy(H5T_C_S1), H5Tclose, "cannot read 'names' in", path);
    check(H5Tset_size(type.get(), H5T_VARIABLE), "cannot read 'names' in", path);
    check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "cannot read 'names' in", path);
    check(H5Aread(attribute.get(), type.get(), text.data()), "cannot read 'names' in", path);
    for (char* t : text) {
      names.emplace_back(t ? t : "");
      H5free_memory(t);
    }
  }
  std::vector<ShapeSample> samples(S);
  for (std::size_t k = 0; k < S; ++k) {
    const long v0 = vertex_offsets[k], v1 = vertex_offsets[k + 1];
    const long c0 = cell_offsets[k], c1 = cell_offsets[k + 1];
    if (v1 < v0 || c1 < c0 || codes[k] < 0 || codes[k] >= static_cast<long>(names.size()))
      throw bad(fmt::format("sample {} has inconsistent offsets or shape code", k));
    ShapeSample& s = samples[k];
    s.shape = names[codes[k]];
    s.vertices.assign(vertices.begin() + 2 * v0, vertices.begin() + 2 * v1);
    s.cells.assign(cells.begin() + 3 * c0, cells.begin() + 3 * c1);
    for (long c : s.cells)
      if (c < 0 || c >= v1 - v0)
        throw bad(fmt::format("sample {} has a cell outside its vertices", k));
    s.boundary.assign(boundary.begin() + v0, boundary.begin() + v1);
    s.source.assign(source.begin() + v0, source.begin() + v1);
    s.dirichlet.assign(dirichlet.begin() + v0, dirichlet.begin() + v1);
    s.solution.assign(solution.begin() + v0, solution.begin() + v1);
    s.fem_seconds = seconds[k];
    s.fem_iterations = iterations[k];
  }
  return samples;
}

}  // namespace karman::gno
