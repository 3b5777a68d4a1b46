// `karman post` on a short PINN run and a short FNO run (tests/cases/test_cli_runs.cpp posts one
// run of every kind): each run's post/ has the figures its kind calls for, valid PNGs of the
// promised size that are not blank, all embedded in a self-contained index.html with the report
// table; `karman post A B --output DIR` writes one table with a column per run and the training
// curves overlaid; a folder that is not a run, a missing python3 or matplotlib is one error line
// and nothing is drawn.
// test_cli_post_browser.cpp then opens these pages in headless Chromium (ctest fixture).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "support/cli.hpp"
#include "support/post_figures.hpp"

using namespace karman::test;

namespace {

std::vector<std::string> with_sets(std::vector<std::string> args,
                                   const std::vector<std::string>& sets) {
  for (const auto& s : sets) args.insert(args.end(), {"--set", s});
  return args;
}

// cases/pinn/poisson2d.yaml: a few Adam steps on a coarse grid (its PETSc baseline is CG).
CliResult short_pinn(const fs::path& dir) {
  return run_karman(
      dir, with_sets(
               {"run", (source_dir() / "cases" / "pinn" / "poisson2d.yaml").string(), "--output",
                "pinn", "--quiet"},
               {"samples.interior=256", "samples.boundary=64", "grid.n=17", "model.hidden=[16, 16]",
                "training.stages=[{optimizer: adam, steps: 30, lr: 5.0e-3}]"}));
}

// cases/fno/darcy2d.yaml: 10 samples on a 17² grid, 3 epochs validated after each, one test
// sample in fields.h5, zero-shot super-resolution at twice the resolution (which needs
// per-channel normalisers).
CliResult short_fno(const fs::path& dir) {
  return run_karman(
      dir, with_sets({"run", (source_dir() / "cases" / "fno" / "darcy2d.yaml").string(), "--output",
                      "fno", "--quiet"},
                     {"data.resolution=33", "data.stride=2", "data.samples=10", "data.train=6",
                      "data.test=4", "data.normalize=per_channel",
                      "model={modes: 4, width: 8, layers: 1, projection: 8}",
                      "training.batch_size=2", "training.validate_every=1",
                      "training.stages=[{optimizer: adam, epochs: 3, lr: 3.0e-3}]",
                      "evaluation={baseline_samples: 1, fields: 1, super_resolution: 2, "
                      "super_samples: 1}"}));
}

bool has(const std::set<std::string>& names, const std::string& name) {
  return names.count(name) > 0;
}

}  // namespace

// The folder test_cli_post_browser.cpp reads: <ctest dir>/cli-work/CliPost.PinnAndFnoReports.
TEST(CliPost, PinnAndFnoReports) {
  const fs::path dir = test_folder();
  const CliResult pinn = short_pinn(dir);
  ASSERT_EQ(pinn.status, 0) << pinn;
  const CliResult fno = short_fno(dir);
  ASSERT_EQ(fno.status, 0) << fno;
  // The residual histories and the per-sample test errors the figures are drawn from.
  const auto pinn_report = nlohmann::json::parse(read_text(dir / "pinn" / "report.json"));
  const auto& residuals = pinn_report["baseline"]["residual_history"];
  ASSERT_TRUE(residuals.is_array()) << pinn_report.dump(2);
  EXPECT_EQ(residuals.size(), pinn_report["baseline"]["iterations"].get<std::size_t>() + 1);
  EXPECT_LT(residuals.back().get<double>(), residuals.front().get<double>());
  const auto fno_report = nlohmann::json::parse(read_text(dir / "fno" / "report.json"));
  const auto& per_sample = fno_report["metrics"]["test_rel_l2"];
  ASSERT_EQ(per_sample.size(), 4u) << fno_report.dump(2);
  double sum = 0;
  for (const auto& e : per_sample) sum += e.get<double>();
  EXPECT_NEAR(sum / 4, fno_report["metrics"]["rel_l2"].get<double>(), 1e-12);

  const CliResult post = run_karman(dir, {"post", "pinn", "fno"});
  ASSERT_EQ(post.status, 0) << post;
  EXPECT_TRUE(post.error_lines().empty()) << post;
  EXPECT_NE(post.out.find("status ok"), std::string::npos) << post;

  const auto pinn_figures = expect_post_folder(dir / "pinn" / "post");
  for (const char* figure : {"fields_pinn.png", "training.png", "convergence.png"})
    EXPECT_TRUE(has(pinn_figures, figure)) << figure << " missing in pinn/post";
  const auto fno_figures = expect_post_folder(dir / "fno" / "post");
  for (const char* figure :
       {"fields_sample0_prediction.png", "fields_other.png", "training.png", "fno_errors.png",
        "fields_super_resolution_prediction.png", "convergence.png"})
    EXPECT_TRUE(has(fno_figures, figure)) << figure << " missing in fno/post";
  // The table is the report's: the PINN's rel_l2 as karman_post.py formats it (4 digits).
  const std::string page = read_text(dir / "pinn" / "post" / "index.html");
  const std::string rel_l2 =
      fmt::format("<td>{:.4g}</td>", pinn_report["metrics"]["rel_l2"].get<double>());
  EXPECT_NE(page.find("<td>metrics.rel_l2</td>" + rel_l2), std::string::npos) << rel_l2;

  // Several runs without --output: the comparison lands in the first one's post/compare.
  const fs::path compare = dir / "pinn" / "post" / "compare";
  ASSERT_TRUE(fs::is_regular_file(compare / "index.html"));
  const auto compared = expect_post_folder(compare);
  EXPECT_TRUE(has(compared, "training.png"));
  const std::string table = read_text(compare / "index.html");
  EXPECT_NE(table.find("<th>key</th><th>pinn</th><th>fno</th>"), std::string::npos);
  const CliResult elsewhere = run_karman(dir, {"post", "fno", "pinn", "--output", "both"});
  ASSERT_EQ(elsewhere.status, 0) << elsewhere;
  EXPECT_NE(read_text(dir / "both" / "index.html").find("<th>key</th><th>fno</th><th>pinn</th>"),
            std::string::npos);
}

TEST(CliPost, NotARunFolderIsOneLineAndDrawsNothing) {
  const fs::path dir = test_folder();
  fs::create_directories(dir / "run");
  write_text(dir / "run" / "report.json", R"({"case": "x", "kind": "reference"})");
  fs::create_directories(dir / "empty");
  const CliResult r = run_karman(dir, {"post", "run", "empty"});
  EXPECT_EQ(r.status, 1) << r;
  ASSERT_EQ(r.error_lines().size(), 1u) << r;
  EXPECT_NE(r.error_lines()[0].find("empty/report.json"), std::string::npos) << r;
  EXPECT_FALSE(fs::exists(dir / "run" / "post")) << "a failed post drew the first run";

  write_text(dir / "empty" / "report.json", "{ not json");
  const CliResult bad = run_karman(dir, {"post", "empty"});
  EXPECT_EQ(bad.status, 1) << bad;
  ASSERT_EQ(bad.error_lines().size(), 1u) << bad;
  EXPECT_NE(bad.error_lines()[0].find("not valid JSON"), std::string::npos) << bad;

  // No Python where KARMAN_PYTHON points, or one without matplotlib: one line each, exit status 1.
  setenv("KARMAN_PYTHON", "/nonexistent/python3", 1);
  const CliResult no_python = run_karman(dir, {"post", "run"});
  write_text(dir / "matplotlib.py", "raise ImportError('hidden by the test', name='matplotlib')\n");
  write_text(dir / "python", "#!/bin/sh\nPYTHONPATH=" + shell_quote(dir.string()) +
                                 " exec /usr/bin/python3 \"$@\"\n");
  fs::permissions(dir / "python", fs::perms::owner_all);
  setenv("KARMAN_PYTHON", (dir / "python").c_str(), 1);
  const CliResult no_matplotlib = run_karman(dir, {"post", "run"});
  unsetenv("KARMAN_PYTHON");
  EXPECT_EQ(no_python.status, 1) << no_python;
  ASSERT_EQ(no_python.error_lines().size(), 1u) << no_python;
  EXPECT_NE(no_python.error_lines()[0].find("/nonexistent/python3"), std::string::npos);
  EXPECT_EQ(no_matplotlib.status, 1) << no_matplotlib;
  ASSERT_EQ(no_matplotlib.error_lines().size(), 1u) << no_matplotlib;
  EXPECT_NE(no_matplotlib.error_lines()[0].find("'matplotlib' is missing"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "run" / "post"));

  // A report alone (no fields, no history) still gets its table.
  const CliResult bare = run_karman(dir, {"post", "run"});
  EXPECT_EQ(bare.status, 0) << bare;
  EXPECT_NE(read_text(dir / "run" / "post" / "index.html").find("<td>kind</td><td>reference</td>"),
            std::string::npos);
}
