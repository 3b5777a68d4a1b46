// SPD test matrices, CSR exchange with PETSc AIJ matrices, and path A's Ã (see petsc_factor.hpp).
#include "operators/precond/petsc_factor.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "karman/core/error.hpp"
#include "petsc/check.hpp"

namespace karman::precond {
namespace {

// An AIJ matrix of global size rows×rows (block rows per rank) whose owned rows are filled by
// fill_row(row, cols, values); at most max_per_row entries a row.
template <class FillRow>
void assemble(MPI_Comm comm, PetscInt rows, PetscInt max_per_row, FillRow fill_row, Mat* out) {
  Mat a;
  KARMAN_PETSC(MatCreate(comm, &a));
  KARMAN_PETSC(MatSetSizes(a, PETSC_DECIDE, PETSC_DECIDE, rows, rows));
  KARMAN_PETSC(MatSetType(a, MATAIJ));
  KARMAN_PETSC(MatSeqAIJSetPreallocation(a, max_per_row, nullptr));
  KARMAN_PETSC(MatMPIAIJSetPreallocation(a, max_per_row, nullptr, max_per_row, nullptr));
  PetscInt first = 0, last = 0;
  KARMAN_PETSC(MatGetOwnershipRange(a, &first, &last));
  std::vector<PetscInt> cols;
  std::vector<PetscScalar> values;
  for (PetscInt row = first; row < last; ++row) {
    cols.clear();
    values.clear();
    fill_row(row, cols, values);
    KARMAN_PETSC(MatSetValues(a, 1, &row, static_cast<PetscInt>(cols.size()), cols.data(),
                              values.data(), INSERT_VALUES));
  }
  KARMAN_PETSC(MatAssemblyBegin(a, MAT_FINAL_ASSEMBLY));
  KARMAN_PETSC(MatAssemblyEnd(a, MAT_FINAL_ASSEMBLY));
  *out = a;
}

}  // namespace

void create_diffusion_2d(MPI_Comm comm, PetscInt n, const std::vector<double>& kappa_nodes,
                         Mat* out) {
  const PetscInt nodes = n + 2;  // nodes per side, boundary included
  KARMAN_VERIFY(static_cast<PetscInt>(kappa_nodes.size()) == nodes * nodes,
                "kappa must be given on the (n+2)×(n+2) nodes");
  auto kappa = [&](PetscInt x, PetscInt y) { return kappa_nodes[y * nodes + x]; };
  // Unknown (x, y), 1 ≤ x, y ≤ n, is row (y−1)·n + (x−1); boundary neighbours are Dirichlet.
  auto fill_row = [&](PetscInt row, std::vector<PetscInt>& cols, std::vector<PetscScalar>& values) {
    const PetscInt x = row % n + 1, y = row / n + 1;
    const std::array<std::array<PetscInt, 2>, 4> neighbours{
        {{x, y - 1}, {x - 1, y}, {x + 1, y}, {x, y + 1}}};  // column order
    double diagonal = 0.0;
    for (const auto& [nx, ny] : neighbours) {
      const double face = 0.5 * (kappa(x, y) + kappa(nx, ny));
      diagonal += face;
      const bool interior = nx >= 1 && nx <= n && ny >= 1 && ny <= n;
      if (!interior) continue;
      const PetscInt col = (ny - 1) * n + (nx - 1);
      if (col > row && (cols.empty() || cols.back() < row)) {
        cols.push_back(row);  // keep the diagonal in column order
        values.push_back(0.0);
      }
      cols.push_back(col);
      values.push_back(-face);
    }
    if (cols.empty() || cols.back() < row) {
      cols.push_back(row);
      values.push_back(0.0);
    }
    for (std::size_t k = 0; k < cols.size(); ++k)
      if (cols[k] == row) values[k] = diagonal;
  };
  assemble(comm, n * n, 5, fill_row, out);
}

void create_poisson_2d(MPI_Comm comm, PetscInt n, Mat* out) {
  create_diffusion_2d(comm, n, std::vector<double>((n + 2) * (n + 2), 1.0), out);
}

void create_poisson_3d(MPI_Comm comm, PetscInt n, Mat* out) {
  auto fill_row = [n](PetscInt row, std::vector<PetscInt>& cols, std::vector<PetscScalar>& values) {
    const PetscInt x = row % n, y = (row / n) % n, z = row / (n * n);
    const std::array<PetscInt, 3> coord{x, y, z}, stride{1, n, n * n};
    for (int axis = 2; axis >= 0; --axis)  // below the diagonal, farthest first
      if (coord[axis] > 0) cols.push_back(row - stride[axis]), values.push_back(-1.0);
    cols.push_back(row), values.push_back(6.0);
    for (int axis = 0; axis < 3; ++axis)
      if (coord[axis] < n - 1) cols.push_back(row + stride[axis]), values.push_back(-1.0);
  };
  assemble(comm, n * n * n, 7, fill_row, out);
}

namespace {

// A SeqAIJ block's own CSR arrays, copied at once (MatGetRowIJ hands out the matrix's row
// offsets and column indices, sorted within rows): at 1024² the row-by-row MatGetRow copy below
// cost a few tenths of a second of the PC's set-up. False (csr untouched) for other types.
bool copy_seq_aij(Mat block, PetscInt rows, CsrMatrix& csr) {
  PetscBool is_aij = PETSC_FALSE;
  KARMAN_PETSC(
      PetscObjectBaseTypeCompare(reinterpret_cast<PetscObject>(block), MATSEQAIJ, &is_aij));
  if (!is_aij) return false;
  PetscInt n = 0;
  const PetscInt *row_ptr = nullptr, *col = nullptr;
  PetscBool done = PETSC_FALSE;
  KARMAN_PETSC(MatGetRowIJ(block, 0, PETSC_FALSE, PETSC_FALSE, &n, &row_ptr, &col, &done));
  if (!done) return false;
  const PetscScalar* values = nullptr;
  KARMAN_PETSC(MatSeqAIJGetArrayRead(block, &values));
  KARMAN_VERIFY(n == rows, "MatGetRowIJ: the block's row count");
  const PetscInt nnz = row_ptr[n];
  csr.row_ptr.assign(row_ptr, row_ptr + n + 1);
  csr.col.assign(col, col + nnz);
  csr.values.assign(values, values + nnz);
  KARMAN_PETSC(MatSeqAIJRestoreArrayRead(block, &values));
  KARMAN_PETSC(MatRestoreRowIJ(block, 0, PETSC_FALSE, PETSC_FALSE, &n, &row_ptr, &col, &done));
  return true;
}

}  // namespace

CsrMatrix local_diagonal_block(Mat a) {
  Mat block = nullptr;  // borrowed: the matrix itself when sequential
  KARMAN_PETSC(MatGetDiagonalBlock(a, &block));
  PetscInt rows = 0, cols = 0;
  KARMAN_PETSC(MatGetLocalSize(block, &rows, &cols));
  KARMAN_VERIFY(rows == cols, "the diagonal block of a square matrix is square");
  CsrMatrix csr;
  csr.rows = rows;
  if (copy_seq_aij(block, rows, csr)) return csr;
  csr.row_ptr.assign(1, 0);
  for (PetscInt row = 0; row < rows; ++row) {
    PetscInt count = 0;
    const PetscInt* row_cols = nullptr;
    const PetscScalar* row_values = nullptr;
    KARMAN_PETSC(MatGetRow(block, row, &count, &row_cols, &row_values));
    csr.col.insert(csr.col.end(), row_cols, row_cols + count);  // AIJ rows are sorted
    csr.values.insert(csr.values.end(), row_values, row_values + count);
    KARMAN_PETSC(MatRestoreRow(block, row, &count, &row_cols, &row_values));
    csr.row_ptr.push_back(csr.nnz());
  }
  return csr;
}

namespace {

const char* const kCutCouplingKey = "karman_cut_coupling";  // a Vec composed on a sequential block
const char* const kGlobalRowsKey = "karman_global_rows";    // a PetscInt in a container, the same

// The coupling attach_cut_coupling gave a sequential block; false (dropped untouched) if none.
bool attached_cut_coupling(Mat a, std::vector<double>& dropped) {
  PetscObject attached = nullptr;
  KARMAN_PETSC(PetscObjectQuery(reinterpret_cast<PetscObject>(a), kCutCouplingKey, &attached));
  if (!attached) return false;
  Vec cut = reinterpret_cast<Vec>(attached);
  PetscInt n = 0;
  KARMAN_PETSC(VecGetLocalSize(cut, &n));
  KARMAN_VERIFY(static_cast<std::size_t>(n) == dropped.size(),
                "the attached cut coupling must have one value per row of the block");
  const PetscScalar* values = nullptr;
  KARMAN_PETSC(VecGetArrayRead(cut, &values));
  dropped.assign(values, values + n);
  KARMAN_PETSC(VecRestoreArrayRead(cut, &values));
  return true;
}

// The global row count attach_cut_coupling gave a sequential block; 0 if none.
std::int64_t attached_global_rows(Mat a) {
  PetscObject attached = nullptr;
  KARMAN_PETSC(PetscObjectQuery(reinterpret_cast<PetscObject>(a), kGlobalRowsKey, &attached));
  if (!attached) return 0;
  void* rows = nullptr;
  KARMAN_PETSC(PetscContainerGetPointer(reinterpret_cast<PetscContainer>(attached), &rows));
  return static_cast<std::int64_t>(*static_cast<const PetscInt*>(rows));
}

}  // namespace

void attach_cut_coupling(Mat block, const std::vector<double>& dropped, std::int64_t global_rows) {
  Vec cut = nullptr;
  KARMAN_PETSC(VecCreateSeq(PETSC_COMM_SELF, static_cast<PetscInt>(dropped.size()), &cut));
  PetscScalar* values = nullptr;
  KARMAN_PETSC(VecGetArrayWrite(cut, &values));
  std::copy(dropped.begin(), dropped.end(), values);
  KARMAN_PETSC(VecRestoreArrayWrite(cut, &values));
  // The block holds the only references: replaced at the next attach, freed with the block.
  KARMAN_PETSC(PetscObjectCompose(reinterpret_cast<PetscObject>(block), kCutCouplingKey,
                                  reinterpret_cast<PetscObject>(cut)));
  KARMAN_PETSC(VecDestroy(&cut));
  PetscInt* rows = nullptr;
  KARMAN_PETSC(PetscMalloc1(1, &rows));
  *rows = static_cast<PetscInt>(global_rows);
  PetscContainer holder = nullptr;
  KARMAN_PETSC(PetscContainerCreate(PETSC_COMM_SELF, &holder));
  KARMAN_PETSC(PetscContainerSetPointer(holder, rows));
  KARMAN_PETSC(PetscContainerSetUserDestroy(holder, PetscContainerUserDestroyDefault));
  KARMAN_PETSC(PetscObjectCompose(reinterpret_cast<PetscObject>(block), kGlobalRowsKey,
                                  reinterpret_cast<PetscObject>(holder)));
  KARMAN_PETSC(PetscContainerDestroy(&holder));
}

LocalBlock local_block(Mat a) {
  LocalBlock block{local_diagonal_block(a), {}};
  block.dropped.assign(block.rows, 0.0);
  PetscBool is_mpi = PETSC_FALSE;
  // MPIAIJ and the types derived from it (its device variants) keep an off-diagonal block.
  KARMAN_PETSC(PetscObjectBaseTypeCompare(reinterpret_cast<PetscObject>(a), MATMPIAIJ, &is_mpi));
  if (!is_mpi) {
    attached_cut_coupling(a, block.dropped);  // an ASM block's; otherwise nothing was cut
    block.global_rows = attached_global_rows(a);
    return block;
  }
  PetscInt global_rows = 0;
  KARMAN_PETSC(MatGetSize(a, &global_rows, nullptr));
  block.global_rows = global_rows;
  Mat diagonal = nullptr, off_diagonal = nullptr;  // borrowed
  KARMAN_PETSC(MatMPIAIJGetSeqAIJ(a, &diagonal, &off_diagonal, nullptr));
  for (PetscInt row = 0; row < static_cast<PetscInt>(block.rows); ++row) {
    PetscInt count = 0;
    const PetscScalar* values = nullptr;
    KARMAN_PETSC(MatGetRow(off_diagonal, row, &count, nullptr, &values));
    for (PetscInt k = 0; k < count; ++k) block.dropped[row] += std::abs(values[k]);
    KARMAN_PETSC(MatRestoreRow(off_diagonal, row, &count, nullptr, &values));
  }
  return block;
}

FactorProvider partitioned_provider(FactorProvider provider, std::int64_t parts) {
  return [provider = std::move(provider), parts](const LocalBlock& a, const LowerPattern& lower) {
    std::vector<double> l(lower.nnz(), 0.0);  // zero between blocks
    const std::vector<std::int64_t> bounds = row_layout(a.rows, parts);
    for (std::int64_t q = 0; q < parts; ++q) {
      const LocalBlock block = diagonal_block(a, bounds[q], bounds[q + 1]);
      const LowerPattern block_lower = lower_pattern(block);
      const std::vector<double> block_l = provider(block, block_lower);
      KARMAN_VERIFY(static_cast<std::int64_t>(block_l.size()) == block_lower.nnz(),
                    "partitioned_provider: the factor must have one value per entry of tril");
      // Both patterns list a row's entries by increasing column; the block's are the entries
      // whose column is in the block, so walk each row's entries side by side.
      for (std::int64_t i = bounds[q]; i < bounds[q + 1]; ++i) {
        std::int64_t p = block_lower.row_ptr[i - bounds[q]];
        for (std::int64_t e = lower.row_ptr[i]; e < lower.row_ptr[i + 1]; ++e)
          if (lower.col[e] >= bounds[q]) l[e] = block_l[p++];
      }
    }
    return l;
  };
}

void create_block_diagonal_aij(MPI_Comm comm, const CsrMatrix& block, Mat* out) {
  const auto n = static_cast<PetscInt>(block.rows);
  PetscInt first = 0;  // global index of this rank's first row
  MPI_Exscan(&n, &first, 1, MPIU_INT, MPI_SUM, comm);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) first = 0;  // MPI_Exscan leaves rank 0's result undefined
  const std::vector<PetscInt> row_ptr(block.row_ptr.begin(), block.row_ptr.end());
  std::vector<PetscInt> col(block.col.begin(), block.col.end());
  Mat a;
  KARMAN_PETSC(MatCreate(comm, &a));
  KARMAN_PETSC(MatSetSizes(a, n, n, PETSC_DETERMINE, PETSC_DETERMINE));
  KARMAN_PETSC(MatSetType(a, MATAIJ));
  // Only the call matching the type acts: sequential with local columns, MPI with global ones.
  KARMAN_PETSC(MatSeqAIJSetPreallocationCSR(a, row_ptr.data(), col.data(), block.values.data()));
  for (PetscInt& c : col) c += first;
  KARMAN_PETSC(MatMPIAIJSetPreallocationCSR(a, row_ptr.data(), col.data(), block.values.data()));
  *out = a;
}

void create_seq_aij(const CsrMatrix& csr, Mat* out) {
  create_block_diagonal_aij(PETSC_COMM_SELF, csr, out);
}

void create_pattern_product(Mat a, const LowerPattern& lower, const std::vector<double>& l,
                            Mat* a_tilde) {
  const CsrMatrix csr = local_diagonal_block(a);
  KARMAN_VERIFY(csr.rows == lower.rows, "the factor's pattern must be tril of this matrix");
  require_positive_diagonal(lower, l);
  create_block_diagonal_aij(PetscObjectComm(reinterpret_cast<PetscObject>(a)),
                            pattern_product(csr, lower, l), a_tilde);
}

}  // namespace karman::precond
