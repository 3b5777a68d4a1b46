// Case-file schema: defaults, types, ranges, unknown keys and overrides, each error naming the
// file, line and column.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "karman/config/case.hpp"
#include "karman/config/node.hpp"
#include "karman/nn/case_sections.hpp"

using namespace karman;
using namespace karman::config;

namespace {

std::string write_case(const std::string& name, const std::string& text) {
  std::ofstream(name) << text;
  return name;
}

std::string error_of(const std::string& file, const std::vector<std::string>& sets = {}) {
  try {
    auto doc = CaseFile::load(file, sets);
    read_problem(doc.root());
    doc.reject_unknown_keys();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

const char* kPoisson = R"yaml(pde:
  type: poisson
  source: "2*pi^2*sin(pi*x)*sin(pi*y)"
  exact: "sin(pi*x)*sin(pi*y)"
grid:
  n: 17
solver:
  rtol: 1e-8
)yaml";

}  // namespace

TEST(Config, ReadsDefaultsAndValues) {
  auto doc = CaseFile::load(write_case("ok.yaml", kPoisson));
  ProblemSpec p = read_problem(doc.root());
  doc.reject_unknown_keys();
  EXPECT_EQ(p.pde.type, PdeType::poisson);
  EXPECT_EQ(p.grid.dim, 2);
  EXPECT_EQ(p.grid.n[0], 17);
  EXPECT_EQ(p.grid.n[1], 17);
  EXPECT_DOUBLE_EQ(p.solver.rtol, 1e-8);
  EXPECT_EQ(p.solver.ksp, "cg");
  EXPECT_NEAR((*p.pde.exact)(0.5, 0.5), 1.0, 1e-15);
  EXPECT_NEAR((*p.pde.boundary)(0.5, 0.25), std::sin(M_PI * 0.25), 1e-15);
}

TEST(Config, UnknownKeySuggestsTheClosest) {
  std::string msg = error_of(write_case("typo.yaml", std::string(kPoisson) + "  rtoll: 3\n"));
  EXPECT_NE(msg.find("typo.yaml:9:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'solver.rtol'"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesLineAndColumn) {
  std::string text = kPoisson;
  text.replace(text.find("n: 17"), 5, "n: many");
  std::string msg = error_of(write_case("type.yaml", text));
  EXPECT_NE(msg.find("type.yaml:6:6: grid.n: expected integers, got 'many'"), std::string::npos)
      << msg;
}

TEST(Config, NegativeGridSizeIsRejected) {
  std::string text = kPoisson;
  text.replace(text.find("n: 17"), 5, "n: -4");
  std::string msg = error_of(write_case("neg.yaml", text));
  EXPECT_NE(msg.find("grid.n: expected integers at least 3, got -4"), std::string::npos) << msg;
}

TEST(Config, BadExpressionIsRejectedAtValidation) {
  std::string text = kPoisson;
  text.replace(text.find("sin(pi*x)"), 4, "sin(pi*w");
  std::string msg = error_of(write_case("expr.yaml", text));
  EXPECT_NE(msg.find("expr.yaml:3:11: pde.source: expression"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not parse"), std::string::npos) << msg;
}

TEST(Config, MalformedYaml) {
  std::string msg = error_of(write_case("bad.yaml", "pde: {type: poisson\ngrid: [1, 2\n"));
  EXPECT_EQ(msg.rfind("bad.yaml:", 0), 0u) << msg;
  EXPECT_NE(msg.find("malformed YAML"), std::string::npos) << msg;
}

TEST(Config, EnumerationSuggests) {
  std::string text = kPoisson;
  text.replace(text.find("poisson"), 7, "poison");
  std::string msg = error_of(write_case("enum.yaml", text));
  EXPECT_NE(msg.find("did you mean 'poisson'"), std::string::npos) << msg;
}

TEST(Config, OverridesReplaceAndCreateKeys) {
  auto doc =
      CaseFile::load(write_case("ov.yaml", kPoisson), {"grid.n=[9, 33]", "solver.pc=jacobi"});
  ProblemSpec p = read_problem(doc.root());
  doc.reject_unknown_keys();
  EXPECT_EQ(p.grid.n[0], 9);
  EXPECT_EQ(p.grid.n[1], 33);
  EXPECT_EQ(p.solver.pc, "jacobi");
  std::string msg = error_of("ov.yaml", {"grid.n=0"});
  EXPECT_NE(msg.find("--set grid.n=0"), std::string::npos) << msg;
  msg = error_of("ov.yaml", {"solver.typo=1"});
  EXPECT_NE(msg.find("unknown key 'solver.typo'"), std::string::npos) << msg;
}

TEST(Config, ConstantExpressionsAsNumbers) {
  auto doc = CaseFile::load(
      write_case("burgers.yaml", R"yaml(pde: {type: burgers, nu: 0.01/pi, initial: "-sin(pi*x)"}
grid: {n: 64, lower: -1, upper: 1}
time: {t_end: 1, dt: 0.01}
)yaml"));
  ProblemSpec p = read_problem(doc.root());
  doc.reject_unknown_keys();
  EXPECT_NEAR(p.pde.nu, 0.01 / M_PI, 1e-17);
  EXPECT_TRUE(p.grid.periodic);
  EXPECT_EQ(p.grid.dim, 1);
}

TEST(Config, MissingCoefficientFile) {
  std::string msg = error_of(write_case("darcy.yaml", R"yaml(pde:
  type: darcy
  coefficient: {file: does/not/exist.h5}
grid: {n: 9}
)yaml"));
  EXPECT_NE(
      msg.find("darcy.yaml:3:23: pde.coefficient.file: file 'does/not/exist.h5' does not exist"),
      std::string::npos)
      << msg;
}

TEST(Config, ClosestMatch) {
  EXPECT_EQ(closest_match("solvr", {"pde", "grid", "solver"}), "solver");
  EXPECT_EQ(closest_match("zzzzzz", {"pde", "grid", "solver"}), "");
}

// ------------------------------------------------------------------------------ model section

namespace {

// The model section `model_yaml` (indented under "model:") read by nn::read_mlp; "" if it is
// accepted, else the one-line error.
std::string model_error(const std::string& name, const std::string& model_yaml) {
  try {
    auto doc = CaseFile::load(write_case(name, "model:\n" + model_yaml));
    nn::read_mlp(doc.root().child_or_empty("model"));
    doc.reject_unknown_keys();
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
    return msg;
  }
  return "";
}

}  // namespace

TEST(ConfigModel, ReadsEveryArchitectureKey) {
  auto doc = CaseFile::load(write_case("model.yaml", R"yaml(model:
  architecture: modified_mlp
  hidden: [32, 32, 32]
  activation: gelu
  seed: 5
  fourier_features: {count: 16, scale: 2.5, include_input: true}
)yaml"));
  const nn::MlpSpec spec = nn::read_mlp(doc.root().child("model"));
  doc.reject_unknown_keys();
  EXPECT_EQ(spec.architecture, nn::Architecture::modified_mlp);
  EXPECT_EQ(spec.hidden, (std::vector<std::size_t>{32, 32, 32}));
  EXPECT_EQ(spec.activation, nn::Activation::gelu);
  EXPECT_EQ(spec.fourier.count, 16u);
  EXPECT_EQ(spec.fourier.scale, 2.5);
  EXPECT_EQ(spec.fourier.seed, 5u);  // the model's seed unless given
  EXPECT_TRUE(spec.fourier.include_input);

  auto siren =
      CaseFile::load(write_case("siren.yaml", "model: {architecture: siren, omega0: 10}\n"));
  const nn::MlpSpec s = nn::read_mlp(siren.root().child("model"));
  siren.reject_unknown_keys();
  EXPECT_EQ(s.activation, nn::Activation::sin);
  EXPECT_EQ(s.omega0, 10.0);
  EXPECT_EQ(s.hidden_omega0, 30.0);
  EXPECT_EQ(s.fourier.count, 0u);
}

TEST(ConfigModel, BadKeysGiveOneLineErrors) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"  architecture: resnet\n", "model.architecture"},
      {"  architecture: modified_mlp\n  hidden: [32, 16]\n", "equal hidden widths"},
      {"  architecture: modified_mlp\n  hidden: [32]\n", "at least two hidden layers"},
      {"  architecture: siren\n  activation: tanh\n", "model.activation: sin or nothing"},
      {"  architecture: siren\n  init: xavier_normal\n", "model.init: no init for a siren"},
      {"  architecture: siren\n  omega0: -3\n", "model.omega0"},
      {"  omega0: 30\n", "model.omega0: no such key unless architecture is siren"},
      {"  fourier_features: {scale: 1}\n", "model.fourier_features.count"},
      {"  fourier_features: {count: 0}\n", "model.fourier_features.count"},
      {"  fourier_features: {count: 8, scale: 0}\n", "model.fourier_features.scale"},
      {"  fourier_features: 8\n", "model.fourier_features: expected a mapping"},
      {"  fourier_features: {count: 8, scael: 2}\n", "did you mean 'model.fourier_features.scale'"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& [yaml, expected] = cases[i];
    const std::string msg = model_error("model" + std::to_string(i) + ".yaml", yaml);
    EXPECT_NE(msg.find(expected), std::string::npos) << yaml << " gave: " << msg;
    EXPECT_EQ(msg.rfind("model" + std::to_string(i) + ".yaml:", 0), 0u) << msg;
  }
}

TEST(Config, NewPdeTypesReadTheirKeysAndDefaults) {
  auto ac =
      CaseFile::load(write_case("ac.yaml", R"yaml(pde: {type: allen_cahn, initial: "x^2*cos(pi*x)"}
grid: {n: 64, lower: -1, upper: 1}
time: {t_end: 1, dt: 0.01}
)yaml"));
  ProblemSpec p = read_problem(ac.root());
  ac.reject_unknown_keys();
  EXPECT_EQ(p.pde.type, PdeType::allen_cahn);
  EXPECT_DOUBLE_EQ(p.pde.epsilon, 1e-4);
  EXPECT_DOUBLE_EQ(p.pde.reaction, 5.0);
  EXPECT_TRUE(p.grid.periodic);
  EXPECT_EQ(p.solver.ksp, "gmres");

  auto hh = CaseFile::load(write_case("hh.yaml", R"yaml(pde: {type: helmholtz, wavenumber: 4*pi}
grid: {n: 9, dim: 3}
)yaml"));
  p = read_problem(hh.root());
  hh.reject_unknown_keys();
  EXPECT_NEAR(p.pde.wavenumber, 4 * M_PI, 1e-14);
  EXPECT_FALSE(p.pde.time_dependent());
  EXPECT_EQ(p.solver.ksp, "gmres");  // indefinite: no CG
  EXPECT_EQ(p.solver.pc, "lu");

  auto wave = CaseFile::load(
      write_case("wave.yaml", R"yaml(pde: {type: wave, speed: 2, exact: "sin(pi*x)*cos(2*pi*t)"}
grid: {n: 33}
time: {t_end: 1, dt: 0.01}
)yaml"));
  p = read_problem(wave.root());
  wave.reject_unknown_keys();
  EXPECT_DOUBLE_EQ(p.pde.speed, 2.0);
  EXPECT_FALSE(p.grid.periodic);
  EXPECT_NEAR((*p.pde.initial_velocity)(0.3), 0.0, 0.0);  // default 0, not derived from exact
  EXPECT_NEAR((*p.pde.boundary)(1.0, 0.0, 0.0, 0.3), std::sin(M_PI) * std::cos(0.6 * M_PI), 1e-15);
}

TEST(Config, NewPdeTypesRejectBadInput) {
  const char* wave = R"yaml(pde: {type: wave, speed: 1, initial: "sin(pi*x)"}
grid: {n: 33}
time: {t_end: 1, dt: 0.01}
)yaml";
  std::string msg = error_of(write_case("wave_bad.yaml", wave), {"pde.speed=0"});
  EXPECT_NE(msg.find("pde.speed: expected a number positive"), std::string::npos) << msg;
  msg = error_of("wave_bad.yaml", {"grid.periodic=true"});
  EXPECT_NE(msg.find("grid.periodic: only burgers, allen_cahn, combined and convection support "
                     "periodic grids"),
            std::string::npos)
      << msg;
  msg = error_of("wave_bad.yaml", {"grid.dim=2"});
  EXPECT_NE(msg.find("grid.dim: expected 1: wave is a 1D equation"), std::string::npos) << msg;
  msg = error_of(write_case("ac_bad.yaml", R"yaml(pde: {type: allen_cahn, epsilon: -1, initial: "x"}
grid: {n: 16}
time: {t_end: 1, dt: 0.01}
)yaml"));
  EXPECT_NE(msg.find("pde.epsilon: expected a number positive"), std::string::npos) << msg;
  msg = error_of(write_case("hh_bad.yaml", R"yaml(pde: {type: helmholtz, wavenumber: 1, kappa: 2}
grid: {n: 9}
)yaml"));
  EXPECT_NE(msg.find("unknown key 'pde.kappa'"), std::string::npos) << msg;
  msg =
      error_of(write_case("hh_neg.yaml", "pde: {type: helmholtz, wavenumber: -1}\ngrid: {n: 9}\n"));
  EXPECT_NE(msg.find("pde.wavenumber: expected a number"), std::string::npos) << msg;
}
