#include "karman/nn/chunked_loss.hpp"

#include <algorithm>
#include <climits>
#include <map>

#include "karman/core/error.hpp"
#include "karman/core/partition.hpp"
#include "karman/nn/gemm.hpp"

namespace karman::nn {
namespace {

// Deep enough for any tree over a `long` count of chunks (depth ≤ log2(chunks) + 1).
constexpr std::size_t kMaxDepth = 8 * sizeof(long) + 1;

// One BLAS thread while the chunks are evaluated. A chunk's products must not depend on the rank
// count, but the OpenBLAS threads per rank do (limit_blas_threads: cores / ranks on the node), and
// OpenBLAS's threaded GEMM driver splits the work differently from its serial one and, for some
// shapes, rounds differently (dW = Xᵀ·dZ of a 64-wide layer over 450 rows does, on this project's
// machine: tests/mpi/test_chunked_loss_mpi.cpp). Chunk-sized products gain little from threads.
long middle(ChunkRange node) { return node.first + (node.last - node.first) / 2; }

void cover(ChunkRange node, long first, long last, std::vector<ChunkRange>& out) {
  if (node.last <= first || node.first >= last || node.first == node.last) return;
  if (first <= node.first && node.last <= last) {
    out.push_back(node);
    return;
  }
  cover({node.first, middle(node)}, first, last, out);
  cover({middle(node), node.last}, first, last, out);
}

}  // namespace

std::vector<ChunkRange> tree_cover(long chunks, long first, long last) {
  std::vector<ChunkRange> nodes;
  cover({0, chunks}, first, last, nodes);
  return nodes;
}

OneBlasThread::OneBlasThread() : m_previous(set_blas_threads(1)) {}
OneBlasThread::~OneBlasThread() { set_blas_threads(m_previous); }

TreeSum::TreeSum(MPI_Comm comm, long chunks)
    : m_comm(comm), m_chunks(chunks), m_scratch(kMaxDepth) {
  int size;
  MPI_Comm_rank(comm, &m_rank);
  MPI_Comm_size(comm, &size);
  KARMAN_VERIFY(m_chunks >= size, "TreeSum: " + std::to_string(m_chunks) + " chunks for " +
                                      std::to_string(size) + " ranks");
  for (int r = 0; r < size; ++r) {
    const auto [first, count] = share(m_chunks, r, size);
    if (r == m_rank) m_first = first, m_count = count;
    m_covers.push_back(tree_cover(m_chunks, first, first + count));
  }
  m_partial.resize(m_covers[m_rank].size());
}

// `out` = the sum of node's chunks along the tree; `leaf` gives a node's value directly when it
// can (a single chunk evaluated here, or a partial sum received from a rank).
void TreeSum::sum(ChunkRange node, std::size_t depth, std::vector<double>& out, const Leaf& leaf) {
  if (leaf(node, out)) return;
  KARMAN_VERIFY(node.last - node.first > 1 && depth + 1 < m_scratch.size(),
                "TreeSum: no value for a single chunk");
  sum({node.first, middle(node)}, depth + 1, out, leaf);
  std::vector<double>& right = m_scratch[depth];  // m_scratch is never resized: no dangling
  sum({middle(node), node.last}, depth + 1, right, leaf);
  KARMAN_VERIFY(right.size() == out.size(), "TreeSum: chunks disagree on the vector length");
  for (std::size_t i = 0; i < out.size(); ++i) out[i] += right[i];
}

// Every rank's partial sums to every rank, then the tree above them: the same additions on all.
std::vector<double> TreeSum::gather_and_finish() {
  const std::size_t width = m_partial.front().size();
  m_send.clear();
  for (const auto& partial : m_partial) m_send.insert(m_send.end(), partial.begin(), partial.end());
  const int size = static_cast<int>(m_covers.size());
  std::vector<int> counts(size), offsets(size);
  long total = 0;
  for (int r = 0; r < size; ++r) {
    const long count = static_cast<long>(m_covers[r].size() * width);
    KARMAN_VERIFY(total + count <= INT_MAX, "TreeSum: partial sums exceed an MPI count");
    counts[r] = static_cast<int>(count);
    offsets[r] = static_cast<int>(total);
    total += count;
  }
  m_received.resize(static_cast<std::size_t>(total));
  MPI_Allgatherv(m_send.data(), counts[m_rank], MPI_DOUBLE, m_received.data(), counts.data(),
                 offsets.data(), MPI_DOUBLE, m_comm);
  std::map<ChunkRange, const double*> received;
  for (int r = 0; r < size; ++r)
    for (std::size_t k = 0; k < m_covers[r].size(); ++k)
      received[m_covers[r][k]] = m_received.data() + offsets[r] + k * width;
  std::vector<double> root;
  sum({0, m_chunks}, 0, root, [&](ChunkRange node, std::vector<double>& out) {
    const auto it = received.find(node);
    if (it == received.end()) return false;
    out.assign(it->second, it->second + width);
    return true;
  });
  return root;
}

std::vector<double> TreeSum::operator()(
    const std::function<void(long, std::vector<double>&)>& chunk_value) {
  const Leaf one_chunk = [&](ChunkRange node, std::vector<double>& out) {
    if (node.last - node.first != 1) return false;
    chunk_value(node.first, out);
    return true;
  };
  const std::vector<ChunkRange>& mine = m_covers[m_rank];
  for (std::size_t k = 0; k < mine.size(); ++k) sum(mine[k], 0, m_partial[k], one_chunk);
  // One rank holds the root already.
  return m_covers.size() == 1 ? m_partial.front() : gather_and_finish();
}

template <class T>
ChunkedSum<T>::ChunkedSum(MPI_Comm comm, Parameters<T>& parameters, ChunkedLoss loss)
    : m_parameters(parameters), m_loss(std::move(loss)), m_tree(comm, m_loss.chunks) {}

// out = [gradient of chunk's loss (parameters), its term values].
template <class T>
void ChunkedSum<T>::evaluate_chunk(long step, long chunk, std::vector<double>& out) {
  m_parameters.zero_gradients();
  const std::vector<LossTerm> terms = m_loss.evaluate(step, chunk);
  if (m_terms.empty()) m_terms = terms;
  KARMAN_VERIFY(terms.size() == m_terms.size(), "ChunkedSum: chunks disagree on the loss terms");
  auto gradients =
      Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_parameters.gradients());
  const std::size_t n = gradients.extent(0);
  out.resize(n + terms.size());
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<double>(gradients(i));
  for (std::size_t k = 0; k < terms.size(); ++k) out[n + k] = terms[k].value;
}

template <class T>
std::vector<LossTerm> ChunkedSum<T>::operator()(long step) {
  std::vector<double> total;
  {
    const OneBlasThread serial_products;
    total = m_tree([&](long chunk, std::vector<double>& out) { evaluate_chunk(step, chunk, out); });
  }
  auto gradients = Kokkos::create_mirror_view(m_parameters.gradients());
  const std::size_t n = gradients.extent(0);
  for (std::size_t i = 0; i < n; ++i) gradients(i) = static_cast<T>(total[i]);
  Kokkos::deep_copy(m_parameters.gradients(), gradients);
  std::vector<LossTerm> terms = m_terms;
  for (std::size_t k = 0; k < terms.size(); ++k) terms[k].value = total[n + k];
  return terms;
}

// out = [gradient of term 0, ..., of term m−1 (parameters each), the m term values].
template <class T>
void ChunkedSum<T>::evaluate_chunk_terms(long step, long chunk, const TermHooks& hooks,
                                         std::vector<double>& out) {
  m_parameters.zero_gradients();
  out.clear();
  const TermHooks take{hooks.wanted, [&](std::size_t term) {
                         KARMAN_VERIFY(out.size() == term * m_parameters.size(),
                                       "ChunkedSum: terms done out of order");
                         auto g = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                                      m_parameters.gradients());
                         for (std::size_t i = 0; i < g.extent(0); ++i)
                           out.push_back(static_cast<double>(g(i)));
                         m_parameters.zero_gradients();
                       }};
  const std::vector<LossTerm> terms = m_loss.evaluate_terms(step, chunk, take);
  if (m_terms.empty()) m_terms = terms;
  KARMAN_VERIFY(terms.size() == m_terms.size() && out.size() == terms.size() * m_parameters.size(),
                "ChunkedSum: chunks disagree on the loss terms");
  for (const LossTerm& term : terms) out.push_back(term.value);
}

template <class T>
std::vector<LossTerm> ChunkedSum<T>::by_term(long step,
                                             const std::function<bool(std::size_t)>& wanted,
                                             std::vector<std::vector<double>>& gradients) {
  KARMAN_VERIFY(has_terms(), "ChunkedSum: the loss gives no per-term gradients");
  std::vector<double> total;
  {
    const OneBlasThread serial_products;
    const TermHooks hooks{wanted, {}};
    total = m_tree([&](long chunk, std::vector<double>& out) {
      evaluate_chunk_terms(step, chunk, hooks, out);
    });
  }
  const std::size_t n = m_parameters.size(), m = m_terms.size();
  gradients.assign(m, std::vector<double>(n));
  for (std::size_t k = 0; k < m; ++k)
    std::copy(total.begin() + k * n, total.begin() + (k + 1) * n, gradients[k].begin());
  std::vector<LossTerm> terms = m_terms;
  for (std::size_t k = 0; k < m; ++k) terms[k].value = total[m * n + k];
  return terms;
}

template class ChunkedSum<float>;
template class ChunkedSum<double>;

}  // namespace karman::nn
