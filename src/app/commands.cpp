#include "commands.hpp"

#include <fftw3.h>
#include <fmt/format.h>
#include <hdf5.h>
#include <petscsys.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "karman/core/interrupt.hpp"
#include "karman/core/log.hpp"
#include "karman/core/norms.hpp"
#include "karman/core/timer.hpp"
#include "karman/io/hdf5.hpp"
#include "karman/mesh/layout.hpp"
#include "karman/mesh/plex.hpp"
#include "karman/nn/gemm.hpp"
#include "karman/run/method.hpp"
#include "methods.hpp"

namespace fs = std::filesystem;

namespace karman::app {
namespace {

struct LoadedCase {
  config::CaseFile file;
  std::string name, kind, precision, output;
  std::unique_ptr<run::Method> method;
};

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return false;
  return name != "." && name != "..";
}

// The case's `precision`: the method's default, or one the method runs. A method that cannot run
// float32 refuses it here, at the key, rather than report it and run float64.
std::string read_precision(const config::Node& root, const MethodEntry& method) {
  const std::string precision =
      root.choice("precision", {"float64", "float32"}, method.default_precision);
  const auto& allowed = method.precisions;
  if (std::find(allowed.begin(), allowed.end(), precision) == allowed.end())
    root.fail("precision", fmt::format("kind {} runs {} only, got '{}'", method.kind,
                                       fmt::join(allowed, " or "), precision));
  return precision;
}

// Parse and validate the whole case: common keys, the method's keys, then reject unknown keys.
LoadedCase load_case(const std::string& path, const std::vector<std::string>& overrides) {
  LoadedCase c{config::CaseFile::load(path, overrides), {}, {}, {}, {}, nullptr};
  config::Node root = c.file.root();
  c.name = root.str("name", fs::path(path).stem().string());
  if (!valid_name(c.name))
    root.fail("name", "expected letters, digits, '_', '-' or '.', got '" + c.name + "'");
  c.kind = root.choice("kind", method_kinds(), "reference");
  const MethodEntry& method = find_method(c.kind);
  c.precision = read_precision(root, method);
  c.output = root.str("output", (fs::path("runs") / c.name).string());
  c.method = method.make();
  c.method->read(root, c.precision);
  c.file.reject_unknown_keys();
  return c;
}

std::string now_iso8601() {
  std::time_t t = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buffer;
}

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(2) << '\n';
  if (!out) throw ExternalError("filesystem", errno, "cannot write '" + path + "'");
}

// A word as a POSIX shell reads it back: bare when it holds only safe characters, else quoted.
std::string shell_word(const std::string& word) {
  const bool safe = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("@%+=:,./_-", c);
  });
  if (safe) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The command that continues an interrupted run: the same case, overrides, output, --quiet and
// PETSc options, with --resume (behind the launcher of a multi-rank run).
std::string resume_command(const RunOptions& options, const std::string& output, int size) {
  std::string command = size > 1 ? fmt::format("mpiexec -n {} karman run ", size) : "karman run ";
  command += shell_word(options.case_file);
  for (const auto& o : options.overrides) command += " --set " + shell_word(o);
  command += " --output " + shell_word(output) + " --resume";
  if (options.quiet) command += " --quiet";
  for (const auto& o : options.petsc_options) command += " " + shell_word(o);
  return command;
}

}  // namespace

int run_case(MPI_Comm comm, const RunOptions& options) {
  Timer wall;
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  LoadedCase c = load_case(options.case_file, options.overrides);
  const std::string output = options.output.empty() ? c.output : options.output;
  run::RunDirectory dir(comm, output);
  log_to_file(dir.staged("log.txt"));  // rank 0 only
  log().info("karman {}: case '{}' ({}), {} rank(s), output {}", KARMAN_VERSION, c.name,
             c.method->summary(), size, output);

  nlohmann::json report = {{"case", c.name},
                           {"kind", c.kind},
                           {"ranks", size},
                           {"precision", c.precision},
                           {"status", "running"},
                           {"case_file", options.case_file},
                           {"started", now_iso8601()},
                           {"karman_version", KARMAN_VERSION}};
  run::RunContext context{
      comm,        rank, size,   c.name, options.case_file, c.file.resolved_yaml(),
      c.precision, &dir, &report};
  context.resume = options.resume;
  std::string status;
  try {
    status = c.method->run(context);
  } catch (const Interrupted& e) {
    // Every rank stopped at the same step with its checkpoint or partial file written.
    status = "interrupted";
    context.message =
        fmt::format("{}; resume with: {}", e.what(), resume_command(options, output, size));
  }
  report["status"] = status;
  if (!context.message.empty()) report["message"] = context.message;
  report["metrics"]["wall_s"] = wall.seconds();
  const std::string report_path = dir.staged("report.json");
  if (rank == 0) write_json(report_path, report);
  log().info("wrote {}/{{{}}} in {:.2f} s", output, fmt::join(dir.staged_names(), ", "),
             wall.seconds());
  close_log_file();
  dir.commit();
  if (status == "interrupted") {
    if (rank == 0) std::cerr << "karman: " << context.message << "\n";
    return 1;
  }
  if (status != "ok") {
    if (rank == 0)
      std::cerr << "karman: error: "
                << (context.message.empty() ? "the run's status is '" + status + "'"
                                            : context.message)
                << " (see " << output << "/report.json)\n";
    return 1;
  }
  return 0;
}

int validate_case(MPI_Comm comm, const std::string& case_file,
                  const std::vector<std::string>& overrides) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  LoadedCase c = load_case(case_file, overrides);
  if (rank == 0) std::cout << case_file << ": valid (" << c.method->summary() << ")\n";
  return 0;
}

int print_info(MPI_Comm comm) {
  int rank, size, length;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING];
  MPI_Get_library_version(mpi_version, &length);
  char petsc_version[256];
  PetscGetVersion(petsc_version, sizeof petsc_version);
  unsigned h5_major, h5_minor, h5_release;
  H5get_libversion(&h5_major, &h5_minor, &h5_release);
  hbool_t h5_parallel = 0;
#ifdef H5_HAVE_PARALLEL
  h5_parallel = 1;
#endif
  if (rank != 0) return 0;
  std::string mpi_line(mpi_version);
  mpi_line = mpi_line.substr(0, mpi_line.find_first_of(",\n"));
  fmt::print("karman {}\n", KARMAN_VERSION);
  fmt::print("  MPI      {} ({} rank(s))\n", mpi_line, size);
  fmt::print("  PETSc    {}\n", petsc_version);
  fmt::print("  Kokkos   {}.{}.{}, default execution space {}, {} thread(s) per rank\n",
             KOKKOS_VERSION / 10000, KOKKOS_VERSION / 100 % 100, KOKKOS_VERSION % 100,
             Kokkos::DefaultExecutionSpace::name(), Kokkos::DefaultExecutionSpace().concurrency());
  fmt::print("  HDF5     {}.{}.{} ({})\n", h5_major, h5_minor, h5_release,
             h5_parallel ? "parallel" : "serial");
  fmt::print("  FFTW     {}\n", fftw_version);
  fmt::print("  BLAS     OpenBLAS, {} thread(s) per rank\n", nn::blas_threads());
  fmt::print("  methods ");
  for (const auto& m : registered_methods()) fmt::print(" {}", m.kind);
  fmt::print("\n");
  return 0;
}

int print_mesh_info(MPI_Comm comm, const std::string& file) {
  mesh::MeshSpec spec;
  spec.file = file;
  spec.place = Place{file, 0, 0};
  const mesh::PlexMesh mesh(comm, spec);
  const mesh::PartitionSizes sizes = mesh.partition_sizes();  // collective
  const std::vector<double> box = mesh.bounding_box();        // collective
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank != 0) return 0;
  fmt::print("{}: Gmsh {}{}, {}D, {} {}s, {} vertices\n", file, mesh.header().version,
             mesh.header().binary ? " (binary)" : "", mesh.dim(), mesh.cell_count(),
             mesh.cell_type(), mesh.global_count());
  // Cells' groups are regions, faces' groups the boundary parts a case's `conditions` name.
  for (int d = mesh.dim(); d >= 0; --d)
    for (const auto& g : mesh.header().groups_of_dimension(d)) {
      const char* what = d == mesh.dim()       ? "region  "
                         : d == mesh.dim() - 1 ? "boundary"
                                               : "group   ";
      fmt::print("  {} {} (physical tag {}, dimension {})\n", what,
                 g.name.empty() ? "(unnamed)" : g.name, g.tag, d);
    }
  fmt::print("  box      [{}] .. [{}]\n",
             fmt::join(std::vector<double>(box.begin(), box.begin() + mesh.dim()), ", "),
             fmt::join(std::vector<double>(box.begin() + mesh.dim(), box.end()), ", "));
  fmt::print(
      "  partition over {} rank(s) ({}): owned cells {}, owned vertices {}, halo vertices {}\n",
      sizes.owned_cells.size(), spec.partitioner, fmt::join(sizes.owned_cells, " "),
      fmt::join(sizes.owned_vertices, " "), fmt::join(sizes.halo_vertices, " "));
  return 0;
}

int compare_files(MPI_Comm comm, const std::string& a, const std::string& b,
                  const std::string& field) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  std::vector<std::string> names;
  if (!field.empty()) {
    names.push_back(field);
  } else {
    auto in_a = io::list_datasets(comm, a, "/fields"), in_b = io::list_datasets(comm, b, "/fields");
    for (const auto& n : in_a)
      if (std::find(in_b.begin(), in_b.end(), n) != in_b.end()) names.push_back(n);
    if (names.empty())
      throw ConfigError(Place{b, 0, 0}, "no field of '" + a + "' is also in this file");
  }
  // Read and check everything first, so an error leaves no half-printed table.
  std::vector<std::string> rows;
  for (const auto& name : names) {
    const std::string dataset = name.front() == '/' ? name : "/fields/" + name;
    const std::vector<long> shape_a = io::read_dataset_dims(comm, a, dataset),
                            shape_b = io::read_dataset_dims(comm, b, dataset);
    auto shape_text = [](const std::vector<long>& s) {
      std::string out;
      for (std::size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
      return out;
    };
    if (shape_a != shape_b)
      throw ConfigError(Place{b, 0, 0}, "field '" + name + "' has shape " + shape_text(shape_b) +
                                            " here but " + shape_text(shape_a) + " in '" + a + "'");
    // A file tells only its datasets' dims: each rank reads and sums a slab of the points.
    const mesh::SlabLayout layout(comm, shape_a);
    ErrorNorms e = error_norms(layout, io::read_grid_field(a, dataset, layout),
                               io::read_grid_field(b, dataset, layout));
    rows.push_back(fmt::format("{:<16} {:>16} {:>12.4e} {:>12.4e} {:>12.4e}", name,
                               shape_text(shape_a), e.rel_l2, e.max_abs, e.reference_l2));
  }
  if (rank == 0) {
    fmt::print("{:<16} {:>16} {:>12} {:>12} {:>12}\n", "field", "shape", "rel_l2", "max_abs",
               "l2(b)");
    for (const auto& row : rows) fmt::print("{}\n", row);
  }
  return 0;
}

int post_run(MPI_Comm comm, const std::string& run_dir) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  const fs::path report_path = fs::path(run_dir) / "report.json";
  std::ifstream in(report_path);
  if (!in)
    throw ConfigError(Place{report_path.string(), 0, 0},
                      "no report.json: is this a finished run folder?");
  nlohmann::json report;
  try {
    in >> report;
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(Place{report_path.string(), 0, 0},
                      std::string("not valid JSON: ") + e.what());
  }
  if (rank != 0) return 0;
  fmt::print("run      {}\ncase     {} (kind {}, {} rank(s), {}), status {}\n", run_dir,
             report.value("case", "?"), report.value("kind", "?"), report.value("ranks", 0),
             report.value("precision", "?"), report.value("status", "?"));
  auto print_section = [](const char* title, const nlohmann::json& section) {
    if (!section.is_object()) return;
    fmt::print("{}\n", title);
    for (const auto& [key, value] : section.items())
      if (value.is_number_float())
        fmt::print("  {:<22} {:.6g}\n", key, value.get<double>());
      else if (!value.is_object())
        fmt::print("  {:<22} {}\n", key, value.dump());
  };
  print_section("metrics", report.value("metrics", nlohmann::json()));
  print_section("baseline", report.value("baseline", nlohmann::json()));
  fmt::print("plots: tools/post/plot_run.py {}\n", run_dir);
  return 0;
}

}  // namespace karman::app
