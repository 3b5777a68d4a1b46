#pragma once
// Counter-based random numbers: the k-th number of stream `seed` is a pure function of
// (seed, k), so any rank can draw any entry and results never depend on the decomposition.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace karman {

// SplitMix64 finaliser: a bijective 64-bit mix with good avalanche.
inline std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform in (0, 1), never 0 (safe for log).
inline double uniform01(std::uint64_t seed, std::uint64_t counter) {
  std::uint64_t bits = mix64(mix64(seed) ^ mix64(counter * 2 + 1));
  return (static_cast<double>(bits >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

// Standard normal by Box–Muller from two independent uniforms of the same counter.
inline double standard_normal(std::uint64_t seed, std::uint64_t counter) {
  double u1 = uniform01(seed, 2 * counter), u2 = uniform01(seed, 2 * counter + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// A permutation of 0..n-1 (Fisher–Yates) drawn from stream `seed`: the same on every rank. The
// mini-batch order of epoch e is epoch_permutation(n, mix64(shuffle_seed ^ mix64(e))).
inline std::vector<long> epoch_permutation(long n, std::uint64_t seed) {
  std::vector<long> p(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) p[i] = i;
  for (long i = n - 1; i > 0; --i) {
    const long j = static_cast<long>(uniform01(seed, static_cast<std::uint64_t>(i)) * (i + 1));
    std::swap(p[i], p[std::min(j, i)]);
  }
  return p;
}

// The mini-batches of a training set shuffled every epoch: batch b of epoch e (step e·per_epoch
// + b) is positions [b·batch, (b + 1)·batch) of epoch_permutation(items, mix64(seed ^ mix64(e))),
// the same on every rank; items beyond per_epoch·batch sit out that epoch.
class EpochBatches {
 public:
  EpochBatches(long items, long batch, std::uint64_t seed)
      : m_items(items), m_batch(std::max(1L, batch)), m_seed(seed) {}
  long per_epoch() const { return std::max(1L, m_items / m_batch); }
  // The items of step `step`'s batch, in batch order (the epoch's permutation is kept).
  std::vector<long> batch(long step) {
    const long epoch = step / per_epoch(), b = step % per_epoch();
    if (epoch != m_epoch) {
      m_permutation =
          epoch_permutation(m_items, mix64(m_seed ^ mix64(static_cast<std::uint64_t>(epoch))));
      m_epoch = epoch;
    }
    const long first = std::min(b * m_batch, m_items), last = std::min(first + m_batch, m_items);
    return {m_permutation.begin() + first, m_permutation.begin() + last};
  }

 private:
  long m_items, m_batch;
  std::uint64_t m_seed;
  long m_epoch = -1;
  std::vector<long> m_permutation;
};

}  // namespace karman
