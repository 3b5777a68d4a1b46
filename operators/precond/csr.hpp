#pragma once
// A sparse matrix in compressed sparse row form, on the host: the exchange format between
// PETSc (the local diagonal block of an AIJ matrix) and the learned preconditioner.
//   row_ptr [n + 1]: entries of row i are [row_ptr[i], row_ptr[i + 1])
//   col     [nnz]  : column of each entry, increasing within a row
//   values  [nnz]  : the entries (empty for a pattern only); nnz = col.size()

#include <vector>

namespace karman::precond {

struct Csr {
  long n = 0;
  std::vector<long> row_ptr, col;
  std::vector<double> values;
};

}  // namespace karman::precond
