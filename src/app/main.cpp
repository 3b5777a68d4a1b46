// karman: the command-line front end. Karman's own options are long options (--set, --output);
// single-dash options (-ksp_type cg, -log_view) are PETSc's and go to PetscInitialize.
//
//   karman run CASE.yaml [--set a.b=value]... [--output DIR] [--resume] [--quiet] [-petsc ...]
//   karman validate CASE.yaml... [--set a.b=value]... [--keys [--json | --markdown]]
//   karman info [--json] [--mesh FILE]
//   karman compare A.h5 B.h5 [--field NAME]
//   karman post RUN_DIR... [--output DIR]

#include <petscsys.h>

#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cctype>
#include <iostream>

#include "commands.hpp"
#include "karman/core/error.hpp"
#include "karman/core/interrupt.hpp"
#include "karman/core/log.hpp"
#include "karman/core/threads.hpp"
#include "karman/nn/gemm.hpp"
#include "operators/precond/dcdm.hpp"
#include "operators/precond/petsc_factor.hpp"
#include "petsc/check.hpp"
#include "petsc/events.hpp"

namespace {

bool is_petsc_option(const std::string& arg) {
  return arg.size() > 2 && arg[0] == '-' && arg[1] != '-' &&
         std::isalpha(static_cast<unsigned char>(arg[1])) && arg != "-h";
}

bool looks_like_value(const std::string& arg) {
  if (arg.empty() || arg[0] != '-') return true;
  return arg.size() > 1 && (std::isdigit(static_cast<unsigned char>(arg[1])) || arg[1] == '.');
}

// Split argv into Karman's arguments and PETSc's (each PETSc option with its value, if any).
void split_arguments(int argc, char** argv, std::vector<std::string>& ours,
                     std::vector<char*>& petsc) {
  petsc.push_back(argv[0]);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (is_petsc_option(arg)) {
      petsc.push_back(argv[i]);
      if (i + 1 < argc && looks_like_value(argv[i + 1]) && !std::string(argv[i + 1]).empty() &&
          std::string(argv[i + 1]).find(".yaml") == std::string::npos)
        petsc.push_back(argv[++i]);
    } else {
      ours.push_back(arg);
    }
  }
  petsc.push_back(nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> ours;
  std::vector<char*> petsc_args;
  split_arguments(argc, argv, ours, petsc_args);
  int petsc_argc = static_cast<int>(petsc_args.size()) - 1;
  char** petsc_argv = petsc_args.data();
  if (PetscInitialize(&petsc_argc, &petsc_argv, nullptr, nullptr)) return 1;
  karman::petsc::install_error_handler();
  // Training and dataset generation catch SIGTERM, SIGUSR1 and SIGINT while they run (PETSc's
  // handlers elsewhere): a time limit's signal ends them with a checkpoint and status
  // "interrupted" (core/interrupt.hpp).
  karman::enable_interrupts();
  karman::precond::register_karman_pc();  // -pc_type karman: the learned CG preconditioner
  karman::precond::register_dcdm_ksp();   // -ksp_type dcdm: the deep conjugate direction method
  int rank = 0, size = 1;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  karman::initialize_kokkos(karman::threads_per_rank(PETSC_COMM_WORLD));
  karman::nn::limit_blas_threads(PETSC_COMM_WORLD);

  CLI::App cli{"Karman: physics-informed and learned PDE solvers beside PETSc references",
               "karman"};
  cli.require_subcommand(1);
  cli.set_version_flag("--version", KARMAN_VERSION);
  // A usage error is bad input like any other: one line on stderr (CLI11's default adds a second).
  cli.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "karman: error: " + std::string(e.what()) + " (see karman --help)\n";
  });
  karman::app::RunOptions run;
  run.petsc_options.assign(petsc_args.begin() + 1, petsc_args.end() - 1);  // argv[0], nullptr
  auto* run_cmd = cli.add_subcommand("run", "run a case and write its run folder");
  run_cmd->add_option("case", run.case_file, "case file (YAML)")->required();
  run_cmd->add_option("--set", run.overrides, "override a case key: a.b=value (repeatable)");
  run_cmd->add_option("--output", run.output, "run folder (default: runs/<case name>)");
  run_cmd->add_flag("--resume", run.resume, "continue from the run folder's checkpoint");
  run_cmd->add_flag("--quiet", run.quiet, "only warnings and errors on the terminal");
  std::vector<std::string> validate_files, validate_sets;
  bool validate_keys = false, keys_json = false, keys_markdown = false;
  auto* validate_cmd = cli.add_subcommand("validate", "check case files against the schema");
  validate_cmd->add_option("case", validate_files, "case file(s) (YAML)")->required();
  validate_cmd->add_option("--set", validate_sets, "override a case key: a.b=value (repeatable)");
  auto* keys_flag = validate_cmd->add_flag(
      "--keys", validate_keys,
      "list every key the schema read for these cases, per kind: type, default, range, meaning");
  validate_cmd->add_flag("--json", keys_json, "with --keys: as JSON")->needs(keys_flag);
  validate_cmd
      ->add_flag("--markdown", keys_markdown, "with --keys: as the tables of cases/README.md")
      ->needs(keys_flag);
  auto* info_cmd =
      cli.add_subcommand("info", "versions, Kokkos backend, MPI, HDF5; with --mesh a mesh file");
  std::string info_mesh;
  info_cmd->add_option("--mesh", info_mesh,
                       "a Gmsh mesh: its cells, vertices, boundary parts and its partition over "
                       "the ranks of this run");
  bool info_json = false;
  info_cmd->add_flag("--json", info_json,
                     "the same facts as one JSON object on stdout, with the ranks, threads, hosts "
                     "and cores of this run");
  std::string file_a, file_b, field;
  auto* compare_cmd = cli.add_subcommand("compare", "error norms between fields of two HDF5 files");
  compare_cmd->add_option("a", file_a, "approximation (HDF5)")->required();
  compare_cmd->add_option("b", file_b, "reference (HDF5)")->required();
  compare_cmd->add_option("--field", field, "field under /fields (default: every common one)");
  std::vector<std::string> post_dirs;
  std::string post_output;
  auto* post_cmd = cli.add_subcommand(
      "post", "figures and index.html of finished run folders (RUN_DIR/post/), side by side");
  post_cmd->add_option("run_dirs", post_dirs, "run folders")->required();
  post_cmd->add_option("--output", post_output,
                       "folder of the comparison of several runs (default: the first run's "
                       "post/compare)");

  int status = 0;
  try {
    std::vector<std::string> reversed(ours.rbegin(), ours.rend());
    cli.parse(reversed);
    karman::init_logging(rank, run.quiet);
    if (*run_cmd) {
      karman::petsc::start_event_logging();  // report.json's timings.petsc
      status = karman::app::run_case(PETSC_COMM_WORLD, run);
    } else if (*validate_cmd && validate_keys) {
      status = karman::app::list_case_keys(PETSC_COMM_WORLD, validate_files, validate_sets,
                                           keys_json       ? "json"
                                           : keys_markdown ? "markdown"
                                                           : "text");
    } else if (*validate_cmd) {
      for (const auto& file : validate_files)
        status =
            std::max(status, karman::app::validate_case(PETSC_COMM_WORLD, file, validate_sets));
    } else if (*info_cmd) {
      status = info_mesh.empty() ? karman::app::print_info(PETSC_COMM_WORLD, info_json)
                                 : karman::app::print_mesh_info(PETSC_COMM_WORLD, info_mesh);
    } else if (*compare_cmd) {
      status = karman::app::compare_files(PETSC_COMM_WORLD, file_a, file_b, field);
    } else if (*post_cmd) {
      status = karman::app::post_runs(PETSC_COMM_WORLD, post_dirs, post_output);
    }
  } catch (const CLI::ParseError& e) {
    status = rank == 0 ? cli.exit(e) : (e.get_exit_code() != 0);
    status = status ? 1 : 0;
  } catch (const karman::ConfigError& e) {
    // Bad input is seen identically by every rank: report once, exit cleanly.
    if (rank == 0) std::cerr << "karman: error: " << e.what() << std::endl;
    status = 1;
  } catch (const std::exception& e) {
    std::cerr << "karman: error [rank " << rank << "]: " << e.what() << std::endl;
    if (size > 1) MPI_Abort(PETSC_COMM_WORLD, 1);
    status = 1;
  }
  if (karman::interrupt_signal() != 0) {
    // A run that stopped on a signal has saved everything: a repeated signal, or mpiexec's
    // SIGTERM to the ranks once one has exited with status 1, must not kill it while it
    // finalises. PETSc's handler is popped first, or PetscFinalize would restore the default
    // action of SIGTERM.
    PetscPopSignalHandler();
    karman::ignore_interrupts();
  }
  Kokkos::finalize();
  PetscFinalize();
  return status;
}
