#pragma once
// Points of the open unit cube (0, 1)^dim for collocation, by one of three samplers. Every
// sampler is rank-independent: point i is a pure function of (seed, i) — and, for the Latin
// hypercube, of the total count — so a rank draws its share [first, first + count) and the
// global set is the same on any rank count.
//
//   uniform  counter-based pseudo-random numbers (karman/core/random.hpp).
//   sobol    the Sobol' sequence (Joe–Kuo direction numbers, Boost.Random) in Gray-code order
//            from index 0, with a random digital shift: every coordinate's 64-bit integer is
//            XORed with a seed-derived mask. A digital shift keeps the net property, so the first
//            2^m points of any seed form a (t, m, dim)-net as the plain sequence does (in 2D a
//            (0, m, 2)-net: one point in every dyadic box of area 2^-m).
//   lhs      Latin hypercube of `total` points: coordinate d of point i is
//            (π_d(i) + u_id) / total, with π_d a seed-derived permutation of [0, total). Each of
//            the `total` strata of every coordinate holds exactly one point.

#include <cstdint>
#include <string>
#include <vector>

namespace karman::pinn {

enum class SampleMethod { uniform, lhs, sobol };

// Case-file names, in the order of the enum: "uniform", "lhs", "sobol".
const std::vector<std::string>& sample_method_names();
SampleMethod sample_method_from_name(const std::string& name);  // a name from the list above
const std::string& sample_method_name(SampleMethod method);

// Highest dimension the Sobol' sampler supports here (the Boost table goes much further; the
// collocation samplers only need space and space-time of dimension ≤ 4).
constexpr int max_sobol_dim = 8;

// Row-major [count, dim] points of (0, 1)^dim: entries [first, first + count) of the stream.
// `total` is the size of the whole set (all ranks); only the Latin hypercube depends on it and
// requires first + count ≤ total.
std::vector<double> unit_cube_points(SampleMethod method, int dim, long first, long count,
                                     long total, std::uint64_t seed);

// The single samplers behind unit_cube_points.
std::vector<double> uniform_points(int dim, long first, long count, std::uint64_t seed);
std::vector<double> sobol_points(int dim, long first, long count, std::uint64_t seed);
std::vector<double> latin_hypercube_points(int dim, long first, long count, long total,
                                           std::uint64_t seed);

// A uniformly random permutation of [0, n), a pure function of (seed, n) (Fisher–Yates driven by
// the counter-based stream `seed`).
std::vector<long> random_permutation(long n, std::uint64_t seed);

}  // namespace karman::pinn
