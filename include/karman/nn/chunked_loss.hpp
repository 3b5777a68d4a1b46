#pragma once
// Reproducible data parallelism: the same loss and gradient, bit for bit, on any number of ranks.
//
// A sum over ranks with MPI_Allreduce associates the partial sums by rank, so 1 and N ranks round
// differently (and the standard does not even promise every rank the same bits). Here the loss is
// split into a fixed number C of global chunks that does not depend on the rank count; each rank
// owns whole chunks (my_share of the C chunks), and the chunk results are added along one fixed
// binary tree over [0, C):
//
//   node [a, b) = node [a, m) + node [m, b),  m = a + (b - a) / 2;  leaf [c, c + 1) = chunk c.
//
// A rank sums the largest tree nodes inside its chunk range locally (at most ~2 log2 C of them),
// MPI_Allgatherv's those partial sums, and every rank finishes the same tree from them. One rank
// owns the root and so runs the very same additions: 1 and N ranks perform identical
// floating-point operations, provided each chunk's own evaluation does not depend on where it
// runs: it sees the same points in the same order whatever the rank count, and its products run
// on one BLAS thread (threaded OpenBLAS GEMMs round differently for some shapes, and the threads
// per rank depend on the rank count).
//
// Cost against one allreduce: a chunk is a smaller batch (less efficient GEMMs) and each rank
// receives its peers' partial sums (each [parameters + terms] doubles) instead of one reduced
// vector.

#include <mpi.h>

#include <functional>
#include <utility>
#include <vector>

#include "karman/nn/loss.hpp"
#include "karman/nn/loss_combination.hpp"
#include "karman/nn/parameters.hpp"

namespace karman::nn {

// Loss terms of chunk `chunk` (of the global chunks) at step `step`, normalised by the global
// counts; the gradients of their weighted sum are ADDED to the parameters' gradients. Every chunk
// returns the same terms (names and weights) in the same order.
using ChunkLossFunction = std::function<std::vector<LossTerm>(long step, long chunk)>;
// The same term by term (loss_combination.hpp): the gradients go through `hooks`.
using ChunkTermLossFunction =
    std::function<std::vector<LossTerm>(long step, long chunk, const TermHooks& hooks)>;

struct ChunkedLoss {
  long chunks = 1;  // global chunk count, independent of the rank count
  ChunkLossFunction evaluate;
  ChunkTermLossFunction evaluate_terms;  // optional: for loss-combination rules
};

// A node of the summation tree: chunks [first, last).
struct ChunkRange {
  long first = 0, last = 0;
  bool operator<(const ChunkRange& o) const {
    return std::pair(first, last) < std::pair(o.first, o.last);
  }
};

// The largest nodes of the summation tree over [0, chunks) that lie inside [first, last), in chunk
// order: the partial sums a rank owning those chunks can form on its own.
std::vector<ChunkRange> tree_cover(long chunks, long first, long last);

// The fixed-tree sum over `chunks` global chunks of per-chunk vectors (all of one length): each
// rank supplies the vectors of its own chunks (my_share of the chunks), and every rank receives
// the same bits of the total, whatever the rank count. Used for the loss gradient (ChunkedSum)
// and for the Gauss–Newton Gramian and right-hand side.
class TreeSum {
 public:
  // Throws InternalError when there are fewer chunks than ranks.
  TreeSum(MPI_Comm comm, long chunks);
  long chunks() const { return m_chunks; }
  long first() const { return m_first; }  // this rank's chunks: [first, first + count)
  long count() const { return m_count; }

  // `chunk_value(c, out)` writes chunk c's vector (called for this rank's chunks, in order).
  std::vector<double> operator()(
      const std::function<void(long, std::vector<double>&)>& chunk_value);

 private:
  using Leaf = std::function<bool(ChunkRange, std::vector<double>&)>;
  void sum(ChunkRange node, std::size_t depth, std::vector<double>& out, const Leaf& leaf);
  std::vector<double> gather_and_finish();

  MPI_Comm m_comm;
  int m_rank = 0;
  long m_chunks = 1, m_first = 0, m_count = 0;
  std::vector<std::vector<ChunkRange>> m_covers;  // [rank] its tree nodes
  std::vector<std::vector<double>> m_partial;     // [my cover nodes] partial sums
  std::vector<std::vector<double>> m_scratch;     // [tree depth] right-hand operands
  std::vector<double> m_send, m_received;         // packed partial sums, all ranks'
};

template <class T>
class ChunkedSum {
 public:
  // Throws InternalError when there are fewer chunks than ranks (a rank without chunks could not
  // tell the loss terms): callers check that first, with the case's key in the message.
  ChunkedSum(MPI_Comm comm, Parameters<T>& parameters, ChunkedLoss loss);

  // The global loss terms at `step` (the same bits on every rank and for any rank count); the
  // parameters' gradients are overwritten with the global gradient.
  std::vector<LossTerm> operator()(long step);
  // The same term by term: `gradients` [terms][parameters] receives each term's global gradient
  // (zero for the terms not `wanted`), every one summed along the same fixed tree, so the m
  // vectors too are the same bits on any rank count. The parameters' gradients are left zero.
  std::vector<LossTerm> by_term(long step, const std::function<bool(std::size_t)>& wanted,
                                std::vector<std::vector<double>>& gradients);
  bool has_terms() const { return static_cast<bool>(m_loss.evaluate_terms); }

 private:
  void evaluate_chunk(long step, long chunk, std::vector<double>& out);
  void evaluate_chunk_terms(long step, long chunk, const TermHooks& hooks,
                            std::vector<double>& out);

  Parameters<T>& m_parameters;
  ChunkedLoss m_loss;
  TreeSum m_tree;
  std::vector<LossTerm> m_terms;  // names and weights, from the first chunk
};

// One BLAS thread while chunks are evaluated (see ChunkedSum): a chunk's products must not depend
// on the threads per rank, which depend on the rank count.
class OneBlasThread {
 public:
  OneBlasThread();
  ~OneBlasThread();
  OneBlasThread(const OneBlasThread&) = delete;
  OneBlasThread& operator=(const OneBlasThread&) = delete;

 private:
  int m_previous;
};

}  // namespace karman::nn
