#include "pinn/quasi_random.hpp"

#include <algorithm>
#include <boost/random/sobol.hpp>

#include "karman/core/error.hpp"
#include "karman/core/random.hpp"

namespace karman::pinn {

namespace {

// An independent sub-stream of `seed` for a purpose tag (per-dimension permutations, jitters,
// digital-shift masks), so the samplers never reuse each other's numbers.
std::uint64_t substream(std::uint64_t seed, std::uint64_t tag) {
  return mix64(mix64(seed) ^ mix64(0x5eed5eedULL + tag));
}

// The top 53 bits of a 64-bit integer as a double in (0, 1): the midpoint of its 2^-53 cell,
// so 0 and 1 never occur.
double to_unit_interval(std::uint64_t bits) {
  return (static_cast<double>(bits >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

}  // namespace

const std::vector<std::string>& sample_method_names() {
  static const std::vector<std::string> names{"uniform", "lhs", "sobol"};
  return names;
}

SampleMethod sample_method_from_name(const std::string& name) {
  const auto& names = sample_method_names();
  const auto it = std::find(names.begin(), names.end(), name);
  KARMAN_VERIFY(it != names.end(), "unknown sample method '" + name + "'");
  return static_cast<SampleMethod>(it - names.begin());
}

const std::string& sample_method_name(SampleMethod method) {
  return sample_method_names()[static_cast<int>(method)];
}

std::vector<double> uniform_points(int dim, long first, long count, std::uint64_t seed) {
  // Same counters as pinn::interior_points on a box: entry (i, d) is number i·dim + d.
  std::vector<double> points(static_cast<std::size_t>(count * dim));
  for (long i = 0; i < count; ++i)
    for (int d = 0; d < dim; ++d)
      points[i * dim + d] = uniform01(seed, static_cast<std::uint64_t>((first + i) * dim + d));
  return points;
}

std::vector<double> sobol_points(int dim, long first, long count, std::uint64_t seed) {
  KARMAN_VERIFY(dim >= 1 && dim <= max_sobol_dim, "Sobol' dimension out of range");
  KARMAN_VERIFY(first >= 0 && count >= 0, "negative Sobol' range");
  std::vector<std::uint64_t> shift(dim);
  for (int d = 0; d < dim; ++d) shift[d] = substream(seed, 1000 + d);

  // Boost's engine skips index 0: its output vector j is the Gray-code point g(j + 1). Point k
  // here is g(k), so k = 0 is the origin and k ≥ 1 is Boost's output k − 1. The first 2^m points
  // then form the whole net {g(0), ..., g(2^m − 1)} = {0, ..., 2^m − 1}.
  boost::random::sobol engine(static_cast<std::size_t>(dim));
  std::vector<double> points(static_cast<std::size_t>(count * dim));
  long i = 0;
  if (first == 0 && count > 0) {
    for (int d = 0; d < dim; ++d) points[d] = to_unit_interval(shift[d]);
    i = 1;
  }
  if (i < count) engine.seed(static_cast<std::uint64_t>(first + i - 1));
  for (; i < count; ++i)
    for (int d = 0; d < dim; ++d) points[i * dim + d] = to_unit_interval(engine() ^ shift[d]);
  return points;
}

std::vector<long> random_permutation(long n, std::uint64_t seed) {
  std::vector<long> perm(static_cast<std::size_t>(n));
  for (long k = 0; k < n; ++k) perm[k] = k;
  for (long k = n - 1; k > 0; --k) {
    const long j = static_cast<long>(uniform01(seed, static_cast<std::uint64_t>(k)) * (k + 1));
    std::swap(perm[k], perm[std::min(j, k)]);
  }
  return perm;
}

std::vector<double> latin_hypercube_points(int dim, long first, long count, long total,
                                           std::uint64_t seed) {
  KARMAN_VERIFY(first >= 0 && count >= 0 && first + count <= total,
                "Latin hypercube share outside [0, total)");
  // Every rank builds the same `dim` permutations of [0, total) (O(total) work, like reading the
  // whole design) and keeps its rows: the share never changes the design.
  std::vector<double> points(static_cast<std::size_t>(count * dim));
  const std::uint64_t jitter = substream(seed, 1);
  for (int d = 0; d < dim; ++d) {
    const std::vector<long> stratum = random_permutation(total, substream(seed, 100 + d));
    for (long i = 0; i < count; ++i) {
      const long row = first + i;
      const double u = uniform01(jitter, static_cast<std::uint64_t>(row * dim + d));
      points[i * dim + d] = (static_cast<double>(stratum[row]) + u) / static_cast<double>(total);
    }
  }
  return points;
}

std::vector<double> unit_cube_points(SampleMethod method, int dim, long first, long count,
                                     long total, std::uint64_t seed) {
  switch (method) {
    case SampleMethod::uniform:
      return uniform_points(dim, first, count, seed);
    case SampleMethod::sobol:
      return sobol_points(dim, first, count, seed);
    case SampleMethod::lhs:
      return latin_hypercube_points(dim, first, count, total, seed);
  }
  KARMAN_VERIFY(false, "unknown sample method");
}

}  // namespace karman::pinn
