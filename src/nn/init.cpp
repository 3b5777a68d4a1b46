#include "karman/nn/init.hpp"

#include <cmath>

#include "karman/core/error.hpp"
#include "karman/core/random.hpp"

namespace karman::nn {

Init init_from_name(const std::string& name) {
  if (name == "zeros") return Init::zeros;
  if (name == "xavier_uniform" || name == "glorot_uniform") return Init::xavier_uniform;
  if (name == "xavier_normal" || name == "glorot_normal") return Init::xavier_normal;
  if (name == "kaiming_uniform" || name == "he_uniform") return Init::kaiming_uniform;
  if (name == "kaiming_normal" || name == "he_normal") return Init::kaiming_normal;
  if (name == "uniform") return Init::uniform;
  throw InternalError("unknown initialisation '" + name + "'");
}

template <class T>
void initialize_parameter(Parameters<T>& parameters, std::size_t index, Init init,
                          std::size_t fan_in, std::size_t fan_out, double gain,
                          std::uint64_t seed) {
  Matrix<T> value = parameters.value(index);
  auto host = Kokkos::create_mirror_view(value);
  // One independent stream per parameter tensor.
  const std::uint64_t stream = mix64(seed ^ mix64(0x6b61726d616e + index));
  const double fans = static_cast<double>(fan_in + fan_out), in = static_cast<double>(fan_in);
  double bound = 0.0, stddev = 0.0;
  switch (init) {
    case Init::zeros:
      break;
    case Init::xavier_uniform:
      bound = gain * std::sqrt(6.0 / fans);
      break;
    case Init::xavier_normal:
      stddev = gain * std::sqrt(2.0 / fans);
      break;
    case Init::kaiming_uniform:
      bound = gain * std::sqrt(3.0 / in);
      break;
    case Init::kaiming_normal:
      stddev = gain / std::sqrt(in);
      break;
    case Init::uniform:
      bound = gain;
      break;
  }
  std::uint64_t e = 0;
  for (std::size_t i = 0; i < host.extent(0); ++i)
    for (std::size_t j = 0; j < host.extent(1); ++j, ++e) {
      double v = 0.0;
      if (bound > 0.0) v = bound * (2.0 * uniform01(stream, e) - 1.0);
      if (stddev > 0.0) v = stddev * standard_normal(stream, e);
      host(i, j) = static_cast<T>(v);
    }
  Kokkos::deep_copy(value, host);
}

template void initialize_parameter<float>(Parameters<float>&, std::size_t, Init, std::size_t,
                                          std::size_t, double, std::uint64_t);
template void initialize_parameter<double>(Parameters<double>&, std::size_t, Init, std::size_t,
                                           std::size_t, double, std::uint64_t);

}  // namespace karman::nn
