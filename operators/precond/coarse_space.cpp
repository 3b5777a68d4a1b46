// The balancing two-level form of a one-level PC with Nicolaides' coarse space (see
// coarse_space.hpp).
#include "operators/precond/coarse_space.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>
#include <vector>

#include "operators/precond/sparse.hpp"
#include "petsc/check.hpp"

namespace karman::precond {
namespace {

struct TwoLevel {
  PC fine = nullptr;        // F⁻¹, owned
  Mat a = nullptr;          // the operator of Q A and A Q (not owned: the PC's amat)
  int per_rank = 1;         // k: coarse vectors per rank (its rows in k contiguous pieces)
  int columns = 0;          // k p: the coarse space's dimension
  int rank = 0;             // this rank: its pieces are columns k·rank … k·rank + k − 1
  PetscInt rows = 0;        // n_local
  std::vector<int> piece;   // [n_local]: the column of Z that is 1 on each of the rank's rows
  std::vector<double> az;   // A Z on the rank's rows, column-major [n_local × k p]
  std::vector<double> e_l;  // Cholesky factor of E = Zᵀ A Z, row-major [k p × k p], lower
  Vec fine_in = nullptr, fine_out = nullptr;  // F⁻¹'s input (I − A Q) x and output
};

TwoLevel& context(PC pc) {
  void* ctx = nullptr;
  KARMAN_PETSC(PCShellGetContext(pc, &ctx));
  return *static_cast<TwoLevel*>(ctx);
}

MPI_Comm comm_of(PC pc) { return PetscObjectComm(reinterpret_cast<PetscObject>(pc)); }

// E = L Lᵀ in place (row-major p × p; the lower triangle of `e` becomes L). E is SPD when A is and
// Z has full rank; a pivot ≤ 0 means A is not (a singular A, e.g. all-Neumann, makes E singular).
void dense_cholesky(std::vector<double>& e, int p) {
  for (int j = 0; j < p; ++j) {
    double pivot = e[j * p + j];
    for (int k = 0; k < j; ++k) pivot -= e[j * p + k] * e[j * p + k];
    if (!(pivot > 0.0))
      throw NotSpdError("coarse space: the coarse matrix Zᵀ A Z is not positive definite (pivot " +
                        std::to_string(pivot) + " in row " + std::to_string(j) + ")");
    e[j * p + j] = std::sqrt(pivot);
    for (int i = j + 1; i < p; ++i) {
      double v = e[i * p + j];
      for (int k = 0; k < j; ++k) v -= e[i * p + k] * e[j * p + k];
      e[i * p + j] = v / e[j * p + j];
    }
  }
}

// c = E⁻¹ g by the two triangular solves with L (row-major p × p). g, c: [p].
std::vector<double> coarse_solve(const std::vector<double>& l, std::vector<double> g, int p) {
  for (int i = 0; i < p; ++i) {
    for (int k = 0; k < i; ++k) g[i] -= l[i * p + k] * g[k];
    g[i] /= l[i * p + i];
  }
  for (int i = p - 1; i >= 0; --i) {
    for (int k = i + 1; k < p; ++k) g[i] -= l[k * p + i] * g[k];
    g[i] /= l[i * p + i];
  }
  return g;
}

// A z_j for every column j of Z, on this rank's rows: k p matrix-vector products. [n_local × k p].
std::vector<double> operator_on_coarse_space(const TwoLevel& t) {
  Vec z = nullptr, az = nullptr;
  KARMAN_PETSC(MatCreateVecs(t.a, &z, &az));
  std::vector<double> out(static_cast<std::size_t>(t.rows) * t.columns);
  for (int j = 0; j < t.columns; ++j) {
    PetscScalar* values = nullptr;
    KARMAN_PETSC(VecGetArrayWrite(z, &values));
    for (PetscInt i = 0; i < t.rows; ++i) values[i] = t.piece[i] == j ? 1.0 : 0.0;
    KARMAN_PETSC(VecRestoreArrayWrite(z, &values));
    KARMAN_PETSC(MatMult(t.a, z, az));
    const PetscScalar* product = nullptr;
    KARMAN_PETSC(VecGetArrayRead(az, &product));
    std::copy(product, product + t.rows, out.begin() + static_cast<std::ptrdiff_t>(j) * t.rows);
    KARMAN_PETSC(VecRestoreArrayRead(az, &product));
  }
  KARMAN_PETSC(VecDestroy(&z));
  KARMAN_PETSC(VecDestroy(&az));
  return out;
}

// Zᵀ x on this rank's rows: the sums of x over its k pieces, gathered from every rank: [k p].
std::vector<double> piece_sums(const TwoLevel& t, const PetscScalar* x, MPI_Comm comm) {
  std::vector<double> own(t.per_rank, 0.0), sums(t.columns);
  for (PetscInt i = 0; i < t.rows; ++i) own[t.piece[i] - t.per_rank * t.rank] += x[i];
  MPI_Allgather(own.data(), t.per_rank, MPI_DOUBLE, sums.data(), t.per_rank, MPI_DOUBLE, comm);
  return sums;
}

// E = Zᵀ (A Z): the rows of this rank's pieces are sums of A Z over them; each rank computes its k
// rows and all gather them. Row-major [k p × k p].
std::vector<double> coarse_matrix(const TwoLevel& t, MPI_Comm comm) {
  const int n = t.columns;
  std::vector<double> own_rows(static_cast<std::size_t>(t.per_rank) * n, 0.0), e(n * n);
  for (int j = 0; j < n; ++j)
    for (PetscInt i = 0; i < t.rows; ++i)
      own_rows[(t.piece[i] - t.per_rank * t.rank) * n + j] += t.az[j * t.rows + i];
  MPI_Allgather(own_rows.data(), t.per_rank * n, MPI_DOUBLE, e.data(), t.per_rank * n, MPI_DOUBLE,
                comm);
  return e;
}

// (A Z)ᵀ x = Zᵀ A x (A symmetric): k p dot products over the rank's rows and one reduction. [k p].
std::vector<double> operator_sums(const TwoLevel& t, const PetscScalar* x, MPI_Comm comm) {
  std::vector<double> sums(t.columns, 0.0);
  for (int j = 0; j < t.columns; ++j)
    for (PetscInt i = 0; i < t.rows; ++i) sums[j] += t.az[j * t.rows + i] * x[i];
  MPI_Allreduce(MPI_IN_PLACE, sums.data(), t.columns, MPI_DOUBLE, MPI_SUM, comm);
  return sums;
}

// C++ exceptions must not cross PETSc's C frames: turn them into a PETSc error with the message.
template <class Body>
PetscErrorCode guarded(PC pc, Body body) {
  try {
    body();
  } catch (const std::exception& e) {
    SETERRQ(comm_of(pc), PETSC_ERR_ARG_WRONG, "PC nicolaides coarse space: %s", e.what());
  }
  return 0;
}

PetscErrorCode setup(PC pc) {
  return guarded(pc, [pc] {
    TwoLevel& t = context(pc);
    Mat amat = nullptr, pmat = nullptr;
    KARMAN_PETSC(PCGetOperators(pc, &amat, &pmat));
    KARMAN_PETSC(PCSetOperators(t.fine, amat, pmat));
    KARMAN_PETSC(PCSetUp(t.fine));
    KARMAN_PETSC(PCSetUpOnBlocks(t.fine));  // ASM's sub-PCs (the factors) are set-up work too
    t.a = amat;
    int ranks = 0;
    MPI_Comm_size(comm_of(pc), &ranks);
    MPI_Comm_rank(comm_of(pc), &t.rank);
    KARMAN_PETSC(MatGetLocalSize(amat, &t.rows, nullptr));
    if (t.rows < t.per_rank)
      throw NotSpdError("coarse space: " + std::to_string(t.per_rank) +
                        " vectors per rank on a rank with " + std::to_string(t.rows) + " rows");
    t.columns = t.per_rank * ranks;
    t.piece.resize(t.rows);
    for (PetscInt i = 0; i < t.rows; ++i)  // k contiguous pieces of (nearly) equal size
      t.piece[i] = t.per_rank * t.rank + static_cast<int>(i * t.per_rank / t.rows);
    t.az = operator_on_coarse_space(t);
    t.e_l = coarse_matrix(t, comm_of(pc));
    dense_cholesky(t.e_l, t.columns);
    KARMAN_PETSC(VecDestroy(&t.fine_in));
    KARMAN_PETSC(VecDestroy(&t.fine_out));
    KARMAN_PETSC(MatCreateVecs(amat, &t.fine_in, &t.fine_out));
  });
}

// y = (I − Q A) F⁻¹ (I − A Q) x + Q x, in the order
//   c = E⁻¹ Zᵀ x;  s = x − (A Z) c;  u = F⁻¹ s;  d = E⁻¹ (A Z)ᵀ u;  y = u + Z (c − d).
PetscErrorCode apply(PC pc, Vec x, Vec y) {
  return guarded(pc, [pc, x, y] {
    const TwoLevel& t = context(pc);
    const int p = t.columns;
    const PetscScalar* in = nullptr;
    PetscScalar* s = nullptr;
    KARMAN_PETSC(VecGetArrayRead(x, &in));
    const std::vector<double> c = coarse_solve(t.e_l, piece_sums(t, in, comm_of(pc)), p);
    KARMAN_PETSC(VecGetArrayWrite(t.fine_in, &s));
    for (PetscInt i = 0; i < t.rows; ++i) {
      double v = in[i];
      for (int r = 0; r < p; ++r) v -= t.az[r * t.rows + i] * c[r];
      s[i] = v;
    }
    KARMAN_PETSC(VecRestoreArrayWrite(t.fine_in, &s));
    KARMAN_PETSC(VecRestoreArrayRead(x, &in));
    KARMAN_PETSC(PCApply(t.fine, t.fine_in, t.fine_out));
    const PetscScalar* u = nullptr;
    KARMAN_PETSC(VecGetArrayRead(t.fine_out, &u));
    const std::vector<double> d = coarse_solve(t.e_l, operator_sums(t, u, comm_of(pc)), p);
    PetscScalar* out = nullptr;  // + Z (c − d)
    KARMAN_PETSC(VecGetArrayWrite(y, &out));
    for (PetscInt i = 0; i < t.rows; ++i) out[i] = u[i] + c[t.piece[i]] - d[t.piece[i]];
    KARMAN_PETSC(VecRestoreArrayWrite(y, &out));
    KARMAN_PETSC(VecRestoreArrayRead(t.fine_out, &u));
  });
}

PetscErrorCode view(PC pc, PetscViewer viewer) {
  PetscBool ascii = PETSC_FALSE;
  PetscCall(
      PetscObjectTypeCompare(reinterpret_cast<PetscObject>(viewer), PETSCVIEWERASCII, &ascii));
  if (!ascii) return 0;
  const TwoLevel& t = context(pc);
  PetscCall(PetscViewerASCIIPrintf(
      viewer, "  balancing two-level: Nicolaides coarse space, %d vectors; fine PC:\n", t.columns));
  PetscCall(PetscViewerASCIIPushTab(viewer));
  PetscCall(PCView(t.fine, viewer));
  PetscCall(PetscViewerASCIIPopTab(viewer));
  return 0;
}

PetscErrorCode destroy(PC pc) {
  TwoLevel* t = &context(pc);
  PetscCall(PCDestroy(&t->fine));
  PetscCall(VecDestroy(&t->fine_in));
  PetscCall(VecDestroy(&t->fine_out));
  delete t;
  return 0;
}

}  // namespace

void set_nicolaides_coarse_pc(PC pc, PC fine, int vectors_per_rank) {
  KARMAN_PETSC(PCSetType(pc, PCSHELL));
  auto* t = new TwoLevel;
  t->fine = fine;
  t->per_rank = vectors_per_rank;
  KARMAN_PETSC(PCShellSetContext(pc, t));
  KARMAN_PETSC(PCShellSetSetUp(pc, setup));
  KARMAN_PETSC(PCShellSetApply(pc, apply));
  KARMAN_PETSC(PCShellSetApplyTranspose(pc, apply));  // M is symmetric
  KARMAN_PETSC(PCShellSetView(pc, view));
  KARMAN_PETSC(PCShellSetDestroy(pc, destroy));
  KARMAN_PETSC(PCShellSetName(pc, "nicolaides"));
}

void apply_coarse_correction(PC pc, Vec x, Vec y) {
  const TwoLevel& t = context(pc);
  const PetscScalar* in = nullptr;
  KARMAN_PETSC(VecGetArrayRead(x, &in));
  const std::vector<double> c = coarse_solve(t.e_l, piece_sums(t, in, comm_of(pc)), t.columns);
  KARMAN_PETSC(VecRestoreArrayRead(x, &in));
  PetscScalar* out = nullptr;
  KARMAN_PETSC(VecGetArrayWrite(y, &out));
  for (PetscInt i = 0; i < t.rows; ++i) out[i] = c[t.piece[i]];
  KARMAN_PETSC(VecRestoreArrayWrite(y, &out));
}

}  // namespace karman::precond
