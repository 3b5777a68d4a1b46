#pragma once
// Seeded weight initialisation. Entry e of parameter p draws from the counter-based stream
// (seed, p, e) (karman/core/random.hpp), so the same seed gives the same weights on any rank count
// and whatever else the model contains.

#include <cstdint>
#include <string>

#include "karman/nn/parameters.hpp"

namespace karman::nn {

enum class Init {
  zeros,
  xavier_uniform,   // U(-a, a), a = gain·sqrt(6 / (fan_in + fan_out))   (Glorot & Bengio 2010)
  xavier_normal,    // N(0, gain²·2 / (fan_in + fan_out))
  kaiming_uniform,  // U(-a, a), a = gain·sqrt(3 / fan_in)                (He et al. 2015)
  kaiming_normal,   // N(0, gain² / fan_in)
  uniform,          // U(-gain, gain)  (SIREN's first/hidden layers choose gain themselves)
};

Init init_from_name(const std::string& name);

// Fill parameter `index` of `parameters` (host computation, one copy to the device).
template <class T>
void initialize_parameter(Parameters<T>& parameters, std::size_t index, Init init,
                          std::size_t fan_in, std::size_t fan_out, double gain, std::uint64_t seed);

}  // namespace karman::nn
