#include "karman/nn/activation.hpp"

#include "karman/core/error.hpp"

namespace karman::nn {

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = {"identity", "tanh", "gelu",    "silu",
                                                 "sin",      "relu", "softplus"};
  return names;
}

Activation activation_from_name(const std::string& name) {
  const auto& names = activation_names();
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<Activation>(i);
  if (name == "swish") return Activation::silu;
  throw InternalError("unknown activation '" + name + "'");
}

const char* to_string(Activation a) {
  return activation_names().at(static_cast<std::size_t>(a)).c_str();
}

}  // namespace karman::nn
