#pragma once
// Matrices and training pairs of the learned CG preconditioner in HDF5 (issue 6): the pairs
// (x, b) that kind precond solves with PETSc (CG + GAMG, rtol 1e-10) are stored with their
// matrices so a later run trains on them without solving again, and a user brings held-out SPD
// matrices (test.matrices) in the same layout.
//
// Layout (float64 and int64; h5py reads it as it is):
//   /                    attributes: format = "karman-precond-matrices" (string), version (1),
//                        count (number of matrices), case (the generating case's resolved YAML;
//                        provenance, never parsed back)
//   /settings            attributes, all strings: what the pairs depend on ("problem",
//                        "train.sizes", ...), compared key by key when a file is reused
//   /matrices/<i>        i = 0 .. count-1; attributes: name ("poisson2d_16"), rows (n),
//                        role ("train", "validation" or "" for a matrix without a role)
//     row_ptr  int64   [n+1]   CSR row pointers, row_ptr[0] = 0, non-decreasing, last = nnz
//     col      int64   [nnz]   column indices, strictly increasing within a row, 0 <= col < n
//     values   float64 [nnz]   A's values: the whole square matrix (both triangles), symmetric
//     x, b     float64 [n, k]  A x_s = b_s for s < k (optional where pairs are not needed)
// A reader needs only /matrices/<i>/{row_ptr, col, values} (every attribute is optional and
// checked when present), so a matrix written by h5py or scipy (csr.indptr, csr.indices,
// csr.data after sort_indices()) is read as it is.
//
// Every matrix is checked on reading, and any defect is a ConfigError of one line naming the file,
// the matrix and what is wrong: a missing dataset, a file that is not HDF5 or is truncated, CSR
// arrays that disagree (row_ptr not monotone or not ending at nnz, a column out of range or
// repeated), x or b whose row count is not the matrix's, NaN or Inf, a matrix that is not
// symmetric, or one whose IC(0) breaks down (singular or indefinite). Nothing falls back.
//
// Matrices are replicated: rank 0 writes (path + ".partial", then renamed, so an interrupted run
// never leaves a torn file), every rank reads the whole file (the training matrices are built on
// MPI_COMM_SELF, the same on every rank; a test matrix is then split over the ranks by rows).

#include <mpi.h>
#include <petscmat.h>

#include <string>
#include <utility>
#include <vector>

#include "operators/precond/sparse.hpp"
#include "operators/precond/training.hpp"

namespace karman::precond {

// One matrix of a file: its name and role (attributes) with its pairs. On reading, pairs.ic0 is
// recomputed (IC(0) of pairs.a, which also checks that it is SPD); pairs.x and pairs.b are [n, 0]
// when the file has none.
struct StoredMatrix {
  std::string name;
  std::string role;
  TrainingPairs pairs;
};

struct MatrixFile {
  std::string case_yaml;                                      // root attribute `case`
  std::vector<std::pair<std::string, std::string>> settings;  // /settings (read back by name)
  std::vector<StoredMatrix> matrices;                         // /matrices/0, 1, ...
};

// Rank 0 writes `file` to `path` (parent folders created), atomically; collective (every rank
// gets rank 0's failure). x and b are written when they have at least one column.
void write_matrix_file(MPI_Comm comm, const std::string& path, const MatrixFile& file);

// Every rank reads and checks the whole file (see the header comment); collective. With
// `require_pairs`, every matrix must hold x and b (a training set).
MatrixFile read_matrix_file(MPI_Comm comm, const std::string& path, bool require_pairs);

// The matrix `whole` (the same on every rank) as an AIJ matrix on `comm` with its rows split over
// the ranks as PETSc splits them (PETSC_DECIDE, as create_poisson_2d). Collective.
void create_distributed_aij(MPI_Comm comm, const CsrMatrix& whole, Mat* out);

}  // namespace karman::precond
