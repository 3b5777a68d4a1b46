#pragma once
// The networks a case's `model` section can ask for, and the one call that builds them:
//   mlp           Linear+σ hidden layers, a plain Linear out (make_mlp)
//   modified_mlp  the gated MLP of Wang, Teng & Perdikaris 2021 (ModifiedMlp)
//   siren         sin(ω0 (X W + b)) layers with their initialisation (Sitzmann et al. 2020)
// each optionally behind a random Fourier feature embedding (FourierFeatures).

#include <cstdint>
#include <memory>
#include <vector>

#include "karman/nn/activation.hpp"
#include "karman/nn/fourier_features.hpp"
#include "karman/nn/init.hpp"
#include "karman/nn/module.hpp"
#include "karman/nn/sequential.hpp"

namespace karman::nn {

enum class Architecture { mlp, modified_mlp, siren };

const char* to_string(Architecture a);
const std::vector<std::string>& architecture_names();
Architecture architecture_from_name(const std::string& name);  // InternalError if unknown

struct MlpSpec {
  Architecture architecture = Architecture::mlp;
  std::vector<std::size_t> hidden{64, 64, 64};
  Activation activation = Activation::tanh;  // siren: sin
  Init init = Init::xavier_uniform;          // mlp, modified_mlp (siren has its own)
  std::uint64_t seed = 0;
  FourierOptions fourier;  // fourier.count = 0: no embedding
  // The periodic embedding (model.periodic) of the inputs with periods[a] > 0 (in the network's
  // coordinates), periodic_modes harmonics each, before any Fourier features. 0: none.
  std::size_t periodic_modes = 0;
  std::vector<double> periods;
  double omega0 = 30.0;         // siren: frequency of the first layer
  double hidden_omega0 = 30.0;  // siren: frequency of the later sine layers
};

// SIREN with widths {in, h1, ..., out}: the first layer sin(ω0 (X W + b)) with
// W ~ U(−1/in, 1/in); later sine layers sin(ω_h (H W + b)) and the plain Linear output with
// W ~ U(−√(6/in)/ω_h, √(6/in)/ω_h); biases U(−1/√in, 1/√in) (the reference implementation's,
// PyTorch's default: zero biases would make the network odd in x).
template <class T>
std::unique_ptr<Sequential<T>> make_siren(const std::vector<std::size_t>& widths,
                                          double omega0 = 30.0, double hidden_omega0 = 30.0);

// The network `spec` describes, from `in` inputs to `out` outputs. Without Fourier features the
// mlp is exactly make_mlp's.
template <class T>
std::unique_ptr<Module<T>> make_network(const MlpSpec& spec, std::size_t in, std::size_t out);

}  // namespace karman::nn
