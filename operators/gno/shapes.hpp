#pragma once
// The Poisson-on-many-shapes dataset of Lötzsch, Ohler and Otterbach (2022) for `kind: gno`:
// random 2D shapes meshed with the Gmsh C++ API, and on each the P1 finite-element solution of
//   −Δu = f in Ω,   u = g on ∂Ω,
//   f(x) = Σ_s A_s exp(−|x − c_s|² / (2 σ_s²))         (n_sources Gaussian sources, c_s in Ω)
//   g(x) = c₀ + c₁x + c₂y + Σ_{j=1,2} b_j sin(π(k_j·x) + φ_j)   (|c_i| ≤ a, |b_j| ≤ a/5, |k_j| ≤ 2)
// with a = dirichlet.amplitude, solved by fem::solve (CG + GAMG, rtol 1e-10) on MPI_COMM_SELF.
//
// Shapes (each fits in [0, 1]², parameters drawn per sample):
//   square   a rectangle, long side 1, aspect in [0.5, 1], either orientation
//   disk     an ellipse, major axis 1, minor in [0.6, 1], rotated at random
//   lshape   the unit square less a corner rectangle (sides in [0.35, 0.65]), turned k·90°
//   ushape   a rectangle less a notch from the middle of one side, turned k·90°
//   holes    a rectangle (aspect in [0.6, 1]) less 1–3 disjoint circular holes
//   annulus  the unit-diameter disk less an off-centre disk of radius in [0.15, 0.3]
//   a path   a Gmsh mesh file (e.g. meshes/lshape.msh): its triangles, as they are (no mesh_size)
//
// Case keys (`data:` of kind gno):
//   problem: poisson_shapes
//   seed: 1                       every draw of sample k of set S is a function of (seed, S, k)
//   mesh_size: 0.05               Gmsh element size (the shapes' extent is 1)
//   sources: {amplitude: [5, 20], width: [0.05, 0.15]}   A_s and σ_s uniform in these ranges
//   dirichlet: {amplitude: 1.0}   a above
//   file: <path>                  (optional) where the dataset lives; the runner's default if
//   absent sets:                         named sets, in order; the first is the training set
//     train:      {samples: 48, shapes: [square, disk, lshape, holes], sources: [1, 2]}
//     seen:       {samples: 8,  shapes: [square, disk, lshape, holes], sources: [1, 2]}
//     unseen:     {samples: 8,  shapes: [ushape, annulus], sources: [1, 2]}
//     superposed: {samples: 8,  shapes: [square, disk, lshape, holes], sources: [3, 4]}
//   A sample's shape is drawn uniformly from its set's `shapes`, its number of sources uniformly
//   from the integer range `sources` ([min, max]; one number: exactly that many).
//
// File layout (HDF5, one group per set, S samples, Σn vertices and Σm triangles over them):
//   /<set>/vertices        [Σn, 2] float64   sample k's are rows vertex_offsets[k] … [k+1]
//   /<set>/vertex_offsets  [S+1]   int64
//   /<set>/cells           [Σm, 3] int64     vertex numbers local to the sample, counter-clockwise
//   /<set>/cell_offsets    [S+1]   int64
//   /<set>/boundary        [Σn]    uint8     1 on ∂Ω (vertices of edges with one triangle)
//   /<set>/source, dirichlet, solution  [Σn] float64   f, g and u_h at the vertices
//   /<set>/shape           [S]     int32     index into its attribute `names` (strings)
//   /<set>/fem_seconds     [S]     float64   wall time of the FEM solve (the classical baseline)
//   /<set>/fem_iterations  [S]     int64     its CG iterations
//   /                      attributes: problem, generator (every setting that determines the
//                          values, one line), config (the generating case), seed, mesh_size,
//                          sets (names, in order), karman_version.
// Every value except fem_seconds is bitwise the same on any rank count. Generation keeps the
// finished samples in `path.partial` (one group per sample, flushed as each round ends), so a
// killed run resumes where it stopped; once every sample is in, the file above is assembled and
// takes the name `path`.

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "karman/config/case.hpp"
#include "karman/config/node.hpp"
#include "karman/mesh/distributed_graph.hpp"

namespace karman::gno {

// The built-in random shapes, in the order of their codes.
const std::vector<std::string>& builtin_shapes();

struct ShapeSetSpec {
  std::string name;
  long samples = 0;
  std::vector<std::string> shapes;  // built-in names or Gmsh file paths
  long min_sources = 1, max_sources = 2;
};

struct ShapesSpec {
  std::uint64_t seed = 1;
  double mesh_size = 0.05;
  double min_amplitude = 5.0, max_amplitude = 20.0;  // A_s
  double min_width = 0.05, max_width = 0.15;         // σ_s
  double dirichlet_amplitude = 1.0;                  // a
  std::string file;                                  // "" : the runner chooses
  std::vector<ShapeSetSpec> sets;                    // the first is the training set
  config::SolverSpec solver;                         // cg + gamg, rtol 1e-10
};

// Reads `data:` (keys above). Every bad value is a ConfigError at its key; a shape file must be a
// 2D Gmsh mesh (relative paths are taken from the working directory, then the case's folder).
ShapesSpec read_shapes_spec(const config::Node& data);

// Every setting that determines the dataset's values, as one line (the `generator` attribute).
std::string describe(const ShapesSpec& spec);

// One sample: its mesh and fields. Vectors are row-major: vertices [n·2], cells [m·3].
struct ShapeSample {
  std::string shape;
  std::vector<double> vertices;
  std::vector<long> cells;
  std::vector<unsigned char> boundary;              // [n]
  std::vector<double> source, dirichlet, solution;  // [n]
  double fem_seconds = 0.0;
  long fem_iterations = 0;

  long vertex_count() const { return static_cast<long>(vertices.size() / 2); }
  long cell_count() const { return static_cast<long>(cells.size() / 3); }
};

// A mesh of one shape (no fields yet): its triangles counter-clockwise and its boundary vertices.
struct ShapeMesh {
  std::vector<double> vertices;
  std::vector<long> cells;
  std::vector<unsigned char> boundary;
};

// Meshes `shape` (a built-in name with parameters drawn from stream `stream`, or a file path)
// with Gmsh at element size `mesh_size`. Initialises Gmsh on first use (terminal output off;
// finalised at exit).
ShapeMesh mesh_shape(const std::string& shape, std::uint64_t stream, double mesh_size);

// Solves −Δu = f, u = g on ∂Ω on `mesh` with fem::solve (P1) on MPI_COMM_SELF: the vertex values,
// the wall time of the solve and its iterations; `exact` (may be empty) gives the L2 error.
// `initial_guess` (null: 0), one value per mesh vertex in the mesh's order, starts the KSP there
// (fem::Problem::initial_guess; another size is a ConfigError).
struct PoissonOutcome {
  std::vector<double> solution;
  double seconds = 0.0;
  long iterations = 0;
  double l2_error = -1.0;
};
PoissonOutcome solve_poisson(const ShapeMesh& mesh, const std::function<double(double, double)>& f,
                             const std::function<double(double, double)>& g,
                             const config::SolverSpec& solver,
                             const std::function<double(double, double)>& exact = {},
                             const std::vector<double>* initial_guess = nullptr);

// Sample `index` of set `set` (an index into spec.sets), made and solved on MPI_COMM_SELF.
ShapeSample make_shape_sample(const ShapesSpec& spec, std::size_t set, long index);

// The finite-element solve of a stored sample again (the classical baseline of a runner): f and g
// are the P1 interpolants of the sample's vertex values, as in the solve that made it, so the
// solution equals the stored one to the solver's tolerance. `initial_guess` (null: 0), one value
// per sample vertex in the sample's order (e.g. a model's prediction), starts the KSP there: the
// warm start, stopping at the same ||r|| ≤ rtol ||b|| as from 0, so `iterations` and `seconds`
// compare with the cold solve's (the stored fem_iterations and fem_seconds).
PoissonOutcome solve_sample(const ShapeSample& sample, const config::SolverSpec& solver,
                            const std::vector<double>* initial_guess = nullptr);

// Collective. The sample's mesh (the same sample on every rank) distributed over `comm` by PETSc's
// partitioner (PTScotch; -petscpartitioner_type overrides) with one layer of overlap, as the graph
// of its mesh edges into the owned vertices (mesh::make_distributed_graph: owned vertices, then
// halo copies; global numbers = the sample's vertex numbers).
mesh::DistributedGraph distributed_sample_graph(MPI_Comm comm, const ShapeSample& sample);

// The undirected edges of the sample's triangles, each (i, j) with i < j once, sorted: [E·2].
std::vector<long> mesh_edges(const std::vector<long>& cells);
inline std::vector<long> mesh_edges(const ShapeSample& sample) { return mesh_edges(sample.cells); }

struct ShapesGenerateOptions {
  std::string config_yaml;  // the generating case (attribute `config`)
  bool quiet = false;       // no progress bar
  long stop_after = -1;     // test hook: stop after this many rounds (one sample per rank each),
                            // leaving `path.partial` as a killed run would
};

struct ShapesGenerateSummary {
  long samples = 0, solved = 0, kept = 0;  // all sets; solved by this call, complete before it
  bool complete = false;                   // `path` holds the finished dataset
  double wall_s = 0.0, solve_s = 0.0;      // this call; FEM solves summed over all ranks
};

// Collective. Makes the dataset at `path`, resuming `path.partial` when it exists and was made
// with the same generator line (another one is a ConfigError naming the file). A finished `path`
// with the same generator is kept as it is. Samples are dealt to the ranks round-robin over all
// sets; each rank solves its own on MPI_COMM_SELF and rank 0 writes them.
ShapesGenerateSummary generate_shapes_dataset(MPI_Comm comm, const ShapesSpec& spec,
                                              const std::string& path,
                                              const ShapesGenerateOptions& options = {});

// The samples of set `set` in a finished dataset file (read on the calling rank alone). A missing
// file or set, or inconsistent offsets: ConfigError naming the file and the set.
std::vector<ShapeSample> read_shapes_set(const std::string& path, const std::string& set);

}  // namespace karman::gno
