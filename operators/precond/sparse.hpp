#pragma once
// Sparse SPD matrices as plain CSR (no PETSc here, so the GNN side can read them too), the
// lower-triangular pattern tril(A) that a learned factor L lives on, the IC(0) values of that
// pattern (the reference factor a GNN corrects), and the application of M⁻¹ = (L Lᵀ)⁻¹.
//
// Conventions: n = rows, nnz = entries of A, nnz_L = entries of tril(A) (diagonal included).
// Column indices are sorted within each row, so the diagonal is the last entry of a tril row.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace karman::precond {

// Square n×n matrix in compressed sparse rows (the local diagonal block of a PETSc AIJ matrix).
struct CsrMatrix {
  std::int64_t rows = 0;
  std::vector<std::int64_t> row_ptr;  // [n+1]
  std::vector<std::int64_t> col;      // [nnz], sorted per row
  std::vector<double> values;         // [nnz]
  std::int64_t nnz() const { return static_cast<std::int64_t>(col.size()); }
};

// A rank's diagonal block of A with what the partition cut from it. In the block alone a row cut
// by the partition looks like a Dirichlet boundary row (its diagonal dominates its row);
// `dropped` tells them apart. A LocalBlock IS the block's CSR matrix (so a factor provider written
// for a CsrMatrix accepts it), plus, per row,
//   dropped_i = Σ_{j outside the block} |a_ij|    [n] (0 on one rank, and on uncut rows).
// and the row count of the matrix it was cut from (what the relaxation model's h = N^(−1/d) reads:
// a block must be relaxed as the whole problem's grid, not as a grid of its own size).
struct LocalBlock : CsrMatrix {
  std::vector<double> dropped;   // [n]; empty means all zero
  std::int64_t global_rows = 0;  // rows of the whole matrix; 0: the block is the whole matrix
  double dropped_at(std::int64_t row) const { return dropped.empty() ? 0.0 : dropped[row]; }
  std::int64_t problem_rows() const { return global_rows > 0 ? global_rows : rows; }
};

// PETSc's default (PETSC_DECIDE) row layout of n rows on `parts` ranks: block q has
// n / parts rows, plus one for q < n mod parts. Returns the block boundaries [parts + 1].
std::vector<std::int64_t> row_layout(std::int64_t n, std::int64_t parts);

// Rows [first, last) of `a` as a block: the entries with columns in [first, last), re-indexed
// from 0; every other entry of those rows adds its |a_ij| to the block's dropped (on top of a's).
LocalBlock diagonal_block(const LocalBlock& a, std::int64_t first, std::int64_t last);

// The pattern of tril(A): where L lives. position_in_a maps each entry to its index in A's col /
// values, so "A's value at L's entry p" is a.values[position_in_a[p]].
struct LowerPattern {
  std::int64_t rows = 0;
  std::vector<std::int64_t> row_ptr;        // [n+1]
  std::vector<std::int64_t> col;            // [nnz_L], sorted, diagonal last in each row
  std::vector<std::int64_t> position_in_a;  // [nnz_L]
  std::int64_t nnz() const { return static_cast<std::int64_t>(col.size()); }
  std::int64_t diagonal(std::int64_t row) const { return row_ptr[row + 1] - 1; }
};

// A matrix (or factor) that cannot define an SPD preconditioner: not symmetric, missing or
// non-positive diagonal, a non-positive IC(0) pivot (singular or indefinite).
class NotSpdError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// tril(A) with its map into A; throws NotSpdError when a row has no diagonal entry.
LowerPattern lower_pattern(const CsrMatrix& a);

// Throws NotSpdError naming the first (i, j) with |a_ij − a_ji| > rel_tol · max|a|. One pass with
// a cursor per row (sorted columns); anything but a clean match falls back to the search below,
// which names the entry.
void require_symmetric(const CsrMatrix& a, double rel_tol = 1e-12);
// The reference check: a binary search for each entry's mirror (the same verdict and message).
void require_symmetric_by_search(const CsrMatrix& a, double rel_tol = 1e-12);

// Throws NotSpdError unless every L_ii > 0 (l: [nnz_L]).
void require_positive_diagonal(const LowerPattern& lower, const std::vector<double>& l);

// IC(0): the L on tril(A) with (L Lᵀ)_ij = a_ij for every (i, j) in pattern(A). Returns [nnz_L].
// Checks symmetry; throws NotSpdError on a pivot ≤ pivot_tol · a_ii (singular or indefinite A).
std::vector<double> ic0_values(const CsrMatrix& a, const LowerPattern& lower,
                               double pivot_tol = 1e-10);

// Modified IC(0) (Gustafsson): IC(0) on the same pattern, but each update that IC(0) drops (fill
// outside tril(A)) is moved, times ω, onto the two diagonals it would have coupled, so for ω = 1
// (L Lᵀ) 1 = A 1: M keeps A's row sums and so its action on smooth vectors. ω = 0 is IC(0).
// For 2D/3D Poisson MIC(0) needs O(h^-1) CG iterations against IC(0)'s O(h^-2) condition number
// growth. Right-looking (column by column). Checks symmetry; throws NotSpdError on a pivot ≤
// pivot_tol · a_ii. Returns [nnz_L].
std::vector<double> mic0_values(const CsrMatrix& a, const LowerPattern& lower, double omega = 1.0,
                                double pivot_tol = 1e-10);

// Ã = pattern(A) ∘ (L Lᵀ): A's pattern with the entries of L Lᵀ there (fill outside is dropped).
// A Kokkos kernel on the host execution space (Kokkos must be initialised).
CsrMatrix pattern_product(const CsrMatrix& a, const LowerPattern& lower,
                          const std::vector<double>& l);

// out = (L Lᵀ)⁻¹ v by a forward solve with L and a backward solve with Lᵀ. v, out: [n]
// (may alias). Triangular solves are sequential; level scheduling is a follow-up.
void apply_factor_inverse(const LowerPattern& lower, const std::vector<double>& l, const double* v,
                          double* out);

// (L Lᵀ)⁻¹ as the PC applies it every CG iteration: the same two sweeps as apply_factor_inverse
// (the simple reference it is tested against), on compact copies of L built once at set-up. Both
// sweeps gather (row form), each row's values divided by its pivot L_ii, with 32-bit columns:
//   L y = v:   y_i = v_i / L_ii − Σ_{j<i} (L_ij / L_ii) y_j        (rows of L)
//   Lᵀ x = y:  x_i = y_i / L_ii − Σ_{j>i} (L_ji / L_ii) x_j        (rows of Lᵀ: columns of L)
// The sweeps are sequential (each row needs the rows before it), so a row's time is the latency
// of its chain on the row just computed: the coupling to that neighbour (j = i − 1 forward, i + 1
// backward; the grid's x neighbour) is kept apart, its value carried in a register and applied
// last, so the chain is one FMA per row instead of a store, a reload, an FMA and a multiply.
class FactorSolver {
 public:
  FactorSolver() = default;
  FactorSolver(const LowerPattern& lower, const std::vector<double>& l);  // l: [nnz_L], L_ii > 0
  std::int64_t rows() const { return static_cast<std::int64_t>(m_inverse_diagonal.size()); }
  // out = (L Lᵀ)⁻¹ v. v, out: [n] (may alias).
  void apply(const double* v, double* out) const;

 private:
  // One triangle in row form, every value divided by its row's pivot; the entry coupling row i to
  // the row swept just before it (column i − 1 forward, i + 1 backward) is in `neighbour` [n] (0
  // when absent), the others in CSR.
  struct Sweep {
    std::vector<std::int64_t> row_ptr;  // [n + 1]
    std::vector<std::int32_t> col;
    std::vector<double> values;
    std::vector<double> neighbour;  // [n]
  };
  Sweep m_forward, m_backward;
  std::vector<double> m_inverse_diagonal;  // [n] 1 / L_ii
};

}  // namespace karman::precond
