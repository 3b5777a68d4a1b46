#include "commands.hpp"

#include <fftw3.h>
#include <fmt/format.h>
#include <hdf5.h>
#include <petscsys.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "karman/core/interrupt.hpp"
#include "karman/core/log.hpp"
#include "karman/core/norms.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/core/timer.hpp"
#include "karman/io/hdf5.hpp"
#include "karman/mesh/layout.hpp"
#include "karman/mesh/plex.hpp"
#include "karman/nn/gemm.hpp"
#include "karman/run/method.hpp"
#include "key_listing.hpp"
#include "methods.hpp"
#include "petsc/events.hpp"

namespace fs = std::filesystem;

namespace karman::app {
namespace {

struct LoadedCase {
  config::CaseFile file;
  std::string name, kind, precision, output;
  io::Compression compression;
  std::unique_ptr<run::Method> method;
};

// Section `hdf5`: how fields, snapshots and datasets are stored (io::Compression).
io::Compression read_compression(const config::Node& root) {
  io::Compression c;
  const config::Node hdf5 = root.child_or_empty("hdf5");
  c.deflate = hdf5.choice("compression", {"none", "gzip"}, "none") == "gzip";
  c.level = static_cast<int>(hdf5.integer("level", c.level, 1, 9));
  c.chunk_bytes = 1024 * hdf5.integer("chunk_kib", c.chunk_bytes / 1024, 1, 1L << 20);
  return c;
}

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return false;
  return name != "." && name != "..";
}

// The case's `precision`: the method's default, or one the method runs (its choices, so the key
// listing shows them). A method that cannot run float32 refuses it here, at the key, rather than
// report it and run float64.
std::string read_precision(const config::Node& root, const MethodEntry& method) {
  try {
    return root.choice("precision", method.precisions, method.default_precision);
  } catch (const ConfigError&) {
    // Not one of the method's: an unknown name gets the usual message, a known one this.
    const std::string precision =
        root.choice("precision", {"float64", "float32"}, method.default_precision);
    root.fail("precision", fmt::format("kind {} runs {} only, got '{}'", method.kind,
                                       fmt::join(method.precisions, " or "), precision));
  }
}

// Parse and validate the whole case: common keys, the method's keys, then reject unknown keys.
LoadedCase load_case(const std::string& path, const std::vector<std::string>& overrides) {
  LoadedCase c{config::CaseFile::load(path, overrides), {}, {}, {}, {}, {}, nullptr};
  config::Node root = c.file.root();
  // Defaults derived from the file name: the key listing says "optional".
  c.name = root.has("name") ? root.str("name") : fs::path(path).stem().string();
  if (!valid_name(c.name))
    root.fail("name", "expected letters, digits, '_', '-' or '.', got '" + c.name + "'");
  c.kind = root.choice("kind", method_kinds(), "reference");
  const MethodEntry& method = find_method(c.kind);
  c.precision = read_precision(root, method);
  c.output = root.str("output", "");  // empty: runs/<name>
  if (c.output.empty()) c.output = (fs::path("runs") / c.name).string();
  c.compression = read_compression(root);
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

// report.json's `timings`: this rank's seconds per stage (karman/core/stage_timer.hpp), `other`
// for what no stage covered (so that the stages sum to `wall_s`), and what PETSc's own logging
// attributes to its solver events.
nlohmann::json timings_json(double wall_s) {
  const StageClock& clock = StageClock::instance();
  nlohmann::json timings = nlohmann::json::object();
  for (Stage stage : all_stages) timings[stage_name(stage)] = clock.seconds(stage);
  timings["other"] = std::max(0.0, wall_s - clock.total());
  timings["petsc"] = petsc::solver_events();
  return timings;
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
  StageClock::instance().reset();
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  std::optional<ScopedStage> setup(std::in_place, Stage::setup);
  LoadedCase c = load_case(options.case_file, options.overrides);
  io::set_compression(c.compression);
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
  setup.reset();  // the method marks its own stages
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
  const double wall_s = wall.seconds();
  report["metrics"]["wall_s"] = wall_s;
  report["timings"] = timings_json(wall_s);
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

int list_case_keys(MPI_Comm comm, const std::vector<std::string>& case_files,
                   const std::vector<std::string>& overrides, const std::string& format) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  std::vector<CaseKeys> cases;
  for (const auto& file : case_files) {
    LoadedCase c = load_case(file, overrides);
    cases.push_back({file, c.kind, c.file.key_reads()});
  }
  if (rank == 0) print_case_keys(cases, format);
  return 0;
}

namespace {

// Each rank's host name and hardware threads, gathered to rank 0 (collective): host -> {ranks,
// cores} in the order the hosts first appear.
struct HostShare {
  std::string name;
  int ranks = 0, cores = 0;
};

std::vector<HostShare> hosts_of(MPI_Comm comm) {
  int rank, size, length = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  char mine[MPI_MAX_PROCESSOR_NAME] = {};
  MPI_Get_processor_name(mine, &length);
  const int my_cores = static_cast<int>(std::thread::hardware_concurrency());
  std::vector<char> names(rank == 0 ? static_cast<std::size_t>(size) * MPI_MAX_PROCESSOR_NAME : 1);
  std::vector<int> cores(rank == 0 ? size : 1);
  MPI_Gather(mine, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, names.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR,
             0, comm);
  MPI_Gather(&my_cores, 1, MPI_INT, cores.data(), 1, MPI_INT, 0, comm);
  std::vector<HostShare> hosts;
  if (rank != 0) return hosts;
  for (int r = 0; r < size; ++r) {
    const std::string name(&names[static_cast<std::size_t>(r) * MPI_MAX_PROCESSOR_NAME]);
    auto it = std::find_if(hosts.begin(), hosts.end(),
                           [&](const HostShare& h) { return h.name == name; });
    if (it == hosts.end()) it = hosts.insert(hosts.end(), HostShare{name, 0, cores[r]});
    ++it->ranks;
  }
  return hosts;
}

}  // namespace

int print_info(MPI_Comm comm, bool json) {
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
  const bool h5_deflate = H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0;
  const std::vector<HostShare> hosts = hosts_of(comm);  // collective
  if (rank != 0) return 0;
  std::string petsc_line(petsc_version);
  petsc_line.erase(petsc_line.find_last_not_of(' ') + 1);  // PETSc ends it with a space
  std::string mpi_line(mpi_version);
  mpi_line = mpi_line.substr(0, mpi_line.find_first_of(",\n"));
  const std::string kokkos_version = fmt::format("{}.{}.{}", KOKKOS_VERSION / 10000,
                                                 KOKKOS_VERSION / 100 % 100, KOKKOS_VERSION % 100);
  const std::string h5_version = fmt::format("{}.{}.{}", h5_major, h5_minor, h5_release);
  const int kokkos_threads = Kokkos::DefaultExecutionSpace().concurrency();
  std::vector<std::string> methods;
  for (const auto& m : registered_methods()) methods.push_back(m.kind);
  if (json) {
    nlohmann::json hosts_json = nlohmann::json::array();
    for (const auto& h : hosts)
      hosts_json.push_back({{"name", h.name}, {"ranks", h.ranks}, {"cores", h.cores}});
    const nlohmann::json info = {
        {"karman_version", KARMAN_VERSION},
        {"mpi", {{"library", mpi_line}, {"ranks", size}}},
        {"petsc", {{"version", petsc_line}}},
        {"kokkos",
         {{"version", kokkos_version},
          {"execution_space", Kokkos::DefaultExecutionSpace::name()},
          {"threads_per_rank", kokkos_threads}}},
        {"hdf5",
         {{"version", h5_version}, {"parallel", h5_parallel != 0}, {"deflate", h5_deflate}}},
        {"fftw", {{"version", std::string(fftw_version)}}},
        {"blas", {{"library", "OpenBLAS"}, {"threads_per_rank", nn::blas_threads()}}},
        {"hosts", hosts_json},
        {"methods", methods}};
    fmt::print("{}\n", info.dump(2));
    return 0;
  }
  fmt::print("karman {}\n", KARMAN_VERSION);
  fmt::print("  MPI      {} ({} rank(s) on {} host(s))\n", mpi_line, size, hosts.size());
  fmt::print("  PETSc    {}\n", petsc_line);
  fmt::print("  Kokkos   {}, default execution space {}, {} thread(s) per rank\n", kokkos_version,
             Kokkos::DefaultExecutionSpace::name(), kokkos_threads);
  fmt::print("  HDF5     {} ({}){}\n", h5_version, h5_parallel ? "parallel" : "serial",
             h5_deflate ? ", deflate filter" : ", no deflate filter");
  fmt::print("  FFTW     {}\n", fftw_version);
  fmt::print("  BLAS     OpenBLAS, {} thread(s) per rank\n", nn::blas_threads());
  for (const auto& h : hosts)
    fmt::print("  host     {}: {} rank(s), {} hardware thread(s)\n", h.name, h.ranks, h.cores);
  fmt::print("  methods  {}\n", fmt::join(methods, " "));
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

namespace {

// report.json of a run folder, or one error line naming it.
nlohmann::json read_report(const std::string& run_dir) {
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
  return report;
}

void print_report(const std::string& run_dir, const nlohmann::json& report) {
  fmt::print("run      {}\ncase     {} (kind {}, {} rank(s), {}), status {}\n", run_dir,
             report.value("case", "?"), report.value("kind", "?"), report.value("ranks", 0),
             report.value("precision", "?"), report.value("status", "?"));
  auto print_section = [](const char* title, const nlohmann::json& section) {
    if (!section.is_object()) return;
    fmt::print("{}\n", title);
    for (const auto& [key, value] : section.items())
      if (value.is_number_float())
        fmt::print("  {:<22} {:.6g}\n", key, value.get<double>());
      else if (value.is_array() && value.size() > 4)  // a history: drawn, not printed
        fmt::print("  {:<22} [{} values]\n", key, value.size());
      else if (!value.is_object())
        fmt::print("  {:<22} {}\n", key, value.dump());
  };
  print_section("metrics", report.value("metrics", nlohmann::json()));
  print_section("baseline", report.value("baseline", nlohmann::json()));
}

// The figure script: an installed karman's <prefix>/share/karman/post (the executable lies in
// <prefix>/bin), else the source tree it was built from (a build-tree binary).
fs::path post_script() {
  const char* name = "karman_post.py";
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed =
        exe.parent_path().parent_path() / KARMAN_INSTALL_DATADIR / "karman" / "post" / name;
    if (fs::is_regular_file(installed)) return installed;
  }
  const fs::path source = fs::path(KARMAN_SOURCE_POST_DIR) / name;
  if (fs::is_regular_file(source)) return source;
  throw ConfigError(
      "karman post: " + std::string(name) + " is neither in " +
      (exe.parent_path().parent_path() / KARMAN_INSTALL_DATADIR / "karman/post").string() +
      " nor in " + KARMAN_SOURCE_POST_DIR + ": is karman installed?");
}

// Debian's python3 (where apt puts python3-matplotlib), unless KARMAN_PYTHON names another;
// a python3 on the PATH when /usr/bin has none.
std::string python_interpreter() {
  if (const char* chosen = std::getenv("KARMAN_PYTHON"); chosen && *chosen) return chosen;
  return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

// Runs `python SCRIPT ARGS...` and returns its exit status; 127 when python cannot be started.
int run_python(const std::string& python, const fs::path& script,
               const std::vector<std::string>& args) {
  std::vector<std::string> words{python, script.string()};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  const pid_t child = fork();
  if (child < 0) throw ExternalError("posix", errno, "karman post: cannot start " + python);
  if (child == 0) {
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int raw = 0;
  while (waitpid(child, &raw, 0) < 0)
    if (errno != EINTR) throw ExternalError("posix", errno, "karman post: lost " + python);
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
}

}  // namespace

int post_runs(MPI_Comm comm, const std::vector<std::string>& run_dirs, const std::string& output) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  // Every folder is checked before anything is drawn: a typo in the third leaves no half post.
  std::vector<nlohmann::json> reports;
  for (const auto& dir : run_dirs) reports.push_back(read_report(dir));
  const fs::path script = post_script();
  int status = 0;
  if (rank == 0) {
    for (std::size_t i = 0; i < run_dirs.size(); ++i) print_report(run_dirs[i], reports[i]);
    std::vector<std::string> args = run_dirs;
    if (!output.empty()) args.insert(args.end(), {"--output", output});
    const std::string python = python_interpreter();
    status = run_python(python, script, args);
    if (status == 127)
      std::cerr << "karman: error: karman post: cannot run " << python
                << " (Debian: apt install python3 python3-matplotlib python3-h5py)" << std::endl;
  }
  // The script printed its own one-line error; every rank exits with its status.
  MPI_Bcast(&status, 1, MPI_INT, 0, comm);
  return status == 0 ? 0 : 1;
}

}  // namespace karman::app
