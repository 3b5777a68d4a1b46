#include "karman/nn/case_sections.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace karman::nn {

namespace {

std::vector<std::size_t> read_widths(const config::Node& model) {
  std::vector<std::size_t> widths;
  for (double w : model.number_list("hidden", 1, config::Bounds::between(1, 1 << 16))) {
    if (w != static_cast<double>(static_cast<std::size_t>(w)))
      model.fail("hidden", "expected whole numbers of neurons");
    widths.push_back(static_cast<std::size_t>(w));
  }
  return widths;
}

FourierOptions read_fourier(const config::Node& fourier, std::uint64_t model_seed) {
  FourierOptions options;
  options.count = static_cast<std::size_t>(fourier.required_integer("count", 1, 1 << 16));
  options.scale = fourier.number("scale", 1.0, config::Bounds::positive());
  options.seed =
      static_cast<std::uint64_t>(fourier.integer("seed", static_cast<long>(model_seed), 0));
  options.include_input = fourier.flag("include_input", false);
  return options;
}

// SIREN fixes its activation (sin) and initialisation; ω0 belongs to SIREN only.
void read_architecture_keys(const config::Node& model, MlpSpec& spec) {
  const bool siren = spec.architecture == Architecture::siren;
  if (siren) {
    if (model.has("activation") && model.str("activation") != "sin")
      model.fail("activation", "sin or nothing: a siren's layers are sin(omega0·z)");
    if (model.has("init"))
      model.fail("init", "no init for a siren (its initialisation is part of the architecture)");
    spec.activation = Activation::sin;
    spec.omega0 = model.number("omega0", 30.0, config::Bounds::positive());
    spec.hidden_omega0 = model.number("hidden_omega0", 30.0, config::Bounds::positive());
    return;
  }
  for (const char* key : {"omega0", "hidden_omega0"})
    if (model.has(key)) model.fail(key, "no such key unless architecture is siren");
  if (spec.architecture == Architecture::modified_mlp) {
    if (spec.hidden.size() < 2)
      model.fail("hidden", "at least two hidden layers for a modified_mlp");
    for (std::size_t w : spec.hidden)
      if (w != spec.hidden.front())
        model.fail("hidden", "equal hidden widths for a modified_mlp (its gates mix U and V)");
  }
  spec.activation = activation_from_name(model.choice("activation", activation_names(), "tanh"));
  spec.init = init_from_name(
      model.choice("init", {"xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"},
                   "xavier_uniform"));
}

}  // namespace

MlpSpec read_mlp(const config::Node& model, const std::vector<double>& periods) {
  MlpSpec spec;
  spec.architecture =
      architecture_from_name(model.choice("architecture", architecture_names(), "mlp"));
  if (model.has("hidden")) spec.hidden = read_widths(model);
  read_architecture_keys(model, spec);
  spec.seed = static_cast<std::uint64_t>(model.integer("seed", 0, 0));
  if (model.has("fourier_features"))
    spec.fourier = read_fourier(model.child("fourier_features"), spec.seed);
  if (model.has("periodic")) {
    if (std::none_of(periods.begin(), periods.end(), [](double p) { return p > 0.0; }))
      model.fail("periodic",
                 "a periodic input: the embedding needs a periodic grid (grid.periodic, as for "
                 "burgers and allen_cahn)");
    spec.periodic_modes =
        static_cast<std::size_t>(model.child("periodic").integer("modes", 1, 1, 1024));
    spec.periods = periods;
  }
  return spec;
}

namespace {

StageOptions read_stage(const config::Node& node, bool least_squares, bool in_epochs) {
  StageOptions s;
  s.optimizer = node.choice("optimizer", {"adam", "adamw", "sgd", "lbfgs", "natural_gradient"});
  if (s.optimizer == "natural_gradient" && !least_squares)
    node.fail("optimizer",
              "natural_gradient needs a loss that is a sum of squared residuals (kind pinn); "
              "expected adam, adamw, sgd or lbfgs");
  if (in_epochs && s.optimizer == "lbfgs")
    node.fail("optimizer", "training in mini-batch epochs: expected adam, adamw or sgd");
  if (in_epochs && node.has("steps"))
    node.fail("steps", "this kind counts training in epochs: expected `epochs`");
  s.steps = node.required_integer(in_epochs ? "epochs" : "steps", 0);
  if (s.optimizer == "natural_gradient") {
    GaussNewtonOptions& g = s.gauss_newton;
    g.linear_solver = node.choice("linear_solver", {"svd", "cg"}, "svd");
    g.damping = node.number("damping", 0.0, config::Bounds::at_least(0));
    g.svd_rcond = node.number("svd_rcond", 1e-12, config::Bounds::at_least(0));
    g.cg_rtol = node.number("cg_rtol", 1e-10, config::Bounds::positive());
    g.cg_max_iterations = node.integer("cg_max_iterations", 2000, 1);
    g.line_search_points = node.integer("line_search_points", 31, 1, 60);
    g.tolerance_change = node.number("tolerance_change", 0.0, config::Bounds::at_least(0));
    return s;
  }
  if (s.optimizer == "lbfgs") {
    s.lbfgs.history = node.integer("history", 20, 1, 1000);
    s.lbfgs.tolerance_gradient =
        node.number("tolerance_gradient", 1e-12, config::Bounds::at_least(0));
    s.lbfgs.tolerance_change = node.number("tolerance_change", 1e-15, config::Bounds::at_least(0));
    s.lbfgs.max_line_search = node.integer("max_line_search", 25, 1, 1000);
    return s;
  }
  s.first_order.type = s.optimizer;
  s.schedule.base = node.number("lr", 1e-3, config::Bounds::positive());
  s.schedule.type = node.choice(
      "schedule", {"constant", "step", "multistep", "exponential", "cosine"}, "constant");
  s.schedule.gamma = node.number("gamma", 0.5, config::Bounds::positive());
  s.schedule.every = node.integer("every", 100, 1);
  if (s.schedule.type == "multistep") {
    if (!node.has("milestones"))
      node.fail("milestones", "schedule multistep needs its milestones (a list of steps)");
    for (double m : node.number_list("milestones", 1, config::Bounds::at_least(0))) {
      if (m != std::floor(m) || m > static_cast<double>(std::numeric_limits<long>::max() / 2))
        node.fail("milestones", "milestones must be whole steps (or epochs)");
      s.schedule.milestones.push_back(static_cast<long>(m));
    }
  }
  s.schedule.min = node.number("min_lr", 0.0, config::Bounds::at_least(0));
  s.schedule.warmup = node.integer("warmup", 0, 0);
  s.first_order.weight_decay = node.number("weight_decay", 0.0, config::Bounds::at_least(0));
  s.clip = node.number("clip", 0.0, config::Bounds::at_least(0));
  if (s.optimizer == "sgd") {
    s.first_order.momentum = node.number("momentum", 0.0, config::Bounds::between(0, 1));
    s.first_order.nesterov = node.flag("nesterov", false);
  } else {
    s.first_order.beta1 = node.number("beta1", 0.9, config::Bounds::between(0, 1));
    s.first_order.beta2 = node.number("beta2", 0.999, config::Bounds::between(0, 1));
    s.first_order.epsilon = node.number("epsilon", 1e-8, config::Bounds::positive());
  }
  return s;
}

}  // namespace

TrainingSpec read_training(const config::Node& training, bool least_squares, bool in_epochs) {
  TrainingSpec spec;
  spec.in_epochs = in_epochs;
  for (const auto& stage : training.mappings("stages"))
    spec.trainer.stages.push_back(read_stage(stage, least_squares, in_epochs));
  spec.batch_size = training.integer("batch_size", 0, 0);
  spec.shuffle_seed = static_cast<std::uint64_t>(training.integer("shuffle_seed", 0, 0));
  spec.trainer.log_every = training.integer("log_every", 100, 1);
  spec.trainer.checkpoint_every = training.integer("checkpoint_every", 0, 0);
  spec.trainer.validate_every = training.integer("validate_every", 0, 0);
  spec.trainer.target_loss = training.number("target_loss", 0.0, config::Bounds::at_least(0));
  if (training.has("reproducible")) spec.reproducible = training.flag("reproducible", false);
  spec.chunks = training.integer("chunks", 16, 1);
  return spec;
}

void epochs_to_steps(TrainingSpec& spec, long per_epoch) {
  if (!spec.in_epochs) return;
  for (StageOptions& stage : spec.trainer.stages) {
    stage.steps *= per_epoch;
    stage.schedule.every *= per_epoch;
    stage.schedule.warmup *= per_epoch;
    for (long& milestone : stage.schedule.milestones) milestone *= per_epoch;
  }
  spec.trainer.checkpoint_every *= per_epoch;
  spec.trainer.validate_every *= per_epoch;
  spec.in_epochs = false;
}

}  // namespace karman::nn
