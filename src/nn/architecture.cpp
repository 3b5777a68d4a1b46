#include "karman/nn/architecture.hpp"

#include <cmath>

#include "karman/core/error.hpp"
#include "karman/nn/linear.hpp"
#include "karman/nn/modified_mlp.hpp"

namespace karman::nn {

const char* to_string(Architecture a) {
  switch (a) {
    case Architecture::mlp:
      return "mlp";
    case Architecture::modified_mlp:
      return "modified_mlp";
    case Architecture::siren:
      return "siren";
  }
  return "?";
}

const std::vector<std::string>& architecture_names() {
  static const std::vector<std::string> names{"mlp", "modified_mlp", "siren"};
  return names;
}

Architecture architecture_from_name(const std::string& name) {
  for (Architecture a : {Architecture::mlp, Architecture::modified_mlp, Architecture::siren})
    if (name == to_string(a)) return a;
  throw InternalError("unknown architecture '" + name + "'");
}

template <class T>
std::unique_ptr<Sequential<T>> make_siren(const std::vector<std::size_t>& widths, double omega0,
                                          double hidden_omega0) {
  KARMAN_VERIFY(widths.size() >= 3, "make_siren: need input, at least one hidden and output width");
  auto siren = std::make_unique<Sequential<T>>();
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    const bool first = i == 0, last = i + 2 == widths.size();
    const double in = static_cast<double>(widths[i]);
    LinearOptions layer;
    layer.activation = last ? Activation::identity : Activation::sin;
    layer.init = Init::uniform;
    layer.gain = first ? 1.0 / in : std::sqrt(6.0 / in) / hidden_omega0;
    layer.bias_init = Init::uniform;
    layer.bias_gain = 1.0 / std::sqrt(in);
    layer.frequency = last ? 1.0 : first ? omega0 : hidden_omega0;
    siren->add(std::make_unique<Linear<T>>(widths[i], widths[i + 1], layer));
  }
  return siren;
}

template <class T>
std::unique_ptr<Module<T>> make_network(const MlpSpec& spec, std::size_t in, std::size_t out) {
  // Embeddings, in order: periodic, then random Fourier features of what it gives.
  std::vector<std::unique_ptr<FourierFeatures<T>>> embeddings;
  if (spec.periodic_modes > 0) {
    KARMAN_VERIFY(spec.periods.size() == in, "make_network: one period per input");
    embeddings.push_back(make_periodic_embedding<T>(spec.periods, spec.periodic_modes));
  }
  if (spec.fourier.count > 0)
    embeddings.push_back(std::make_unique<FourierFeatures<T>>(
        embeddings.empty() ? in : embeddings.back()->out_features(), spec.fourier));
  std::vector<std::size_t> widths{embeddings.empty() ? in : embeddings.back()->out_features()};
  widths.insert(widths.end(), spec.hidden.begin(), spec.hidden.end());
  widths.push_back(out);

  std::unique_ptr<Module<T>> body;
  switch (spec.architecture) {
    case Architecture::mlp:
      body = make_mlp<T>(widths, spec.activation, true, spec.init);
      break;
    case Architecture::modified_mlp:
      body = std::make_unique<ModifiedMlp<T>>(widths, spec.activation, spec.init);
      break;
    case Architecture::siren:
      body = make_siren<T>(widths, spec.omega0, spec.hidden_omega0);
      break;
  }
  if (embeddings.empty()) return body;
  auto network = std::make_unique<Sequential<T>>();
  for (auto& embedding : embeddings) network->add(std::move(embedding));
  network->add(std::move(body));
  return network;
}

template std::unique_ptr<Sequential<float>> make_siren<float>(const std::vector<std::size_t>&,
                                                              double, double);
template std::unique_ptr<Sequential<double>> make_siren<double>(const std::vector<std::size_t>&,
                                                                double, double);
template std::unique_ptr<Module<float>> make_network<float>(const MlpSpec&, std::size_t,
                                                            std::size_t);
template std::unique_ptr<Module<double>> make_network<double>(const MlpSpec&, std::size_t,
                                                              std::size_t);

}  // namespace karman::nn
