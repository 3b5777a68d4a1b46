#pragma once
// Case-file sections shared by every learned method: `model` (an MLP, modified MLP or SIREN,
// optionally behind Fourier features; built by make_network) and `training` (stages of
// optimizers, schedules, checkpoints). Each key is documented in cases/README.md.

#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

#include "karman/config/node.hpp"
#include "karman/nn/activation.hpp"
#include "karman/nn/architecture.hpp"
#include "karman/nn/init.hpp"
#include "karman/nn/trainer.hpp"

namespace karman::nn {

struct TrainingSpec {
  TrainerOptions trainer;
  long batch_size = 0;  // samples per step over all ranks; 0: the whole training set
  std::uint64_t shuffle_seed = 0;
  // Fixed-order sums over `chunks` global chunks (the same losses on any rank count); unset: on in
  // float64, off in float32 (reproducible_sums).
  std::optional<bool> reproducible;
  long chunks = 16;
  // Counted in epochs (kind fno): a stage's `epochs` instead of `steps`, and its schedule's
  // `every` and `warmup`, `checkpoint_every` and `validate_every` are epochs until
  // epochs_to_steps converts them once the method knows its steps per epoch.
  bool in_epochs = false;
};

// Whether training sums its gradients in fixed-order chunks: the case's training.reproducible, by
// default on in float64 (the same loss history on any rank count; the chunked step measured as
// fast as one allreduce) and off in float32 (one MPI_Allreduce per step: float32 rounding differs
// by rank count anyway far above the allreduce's).
template <class T>
bool reproducible_sums(const TrainingSpec& training) {
  return training.reproducible.value_or(std::is_same_v<T, double>);
}

// `periods`: one per network input, the period of a periodic input in the network's coordinates
// (0: not periodic); `model.periodic` needs one (empty: the kind has no periodic inputs).
MlpSpec read_mlp(const config::Node& model, const std::vector<double>& periods = {});
// `least_squares`: the method's loss is a sum of squared residuals (kind pinn), so the
// natural_gradient (Gauss–Newton) optimizer is available.
// `in_epochs`: read lengths in epochs (see TrainingSpec::in_epochs).
TrainingSpec read_training(const config::Node& training, bool least_squares = false,
                           bool in_epochs = false);

// Turn a spec read in epochs into steps (mini-batches): every epoch-counted length × per_epoch.
void epochs_to_steps(TrainingSpec& spec, long per_epoch);

}  // namespace karman::nn
