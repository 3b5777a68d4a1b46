// The balancing two-level form of a one-level PC with Nicolaides' coarse space (see
// coarse_space.hpp).
#include "operators/precond/coarse_space.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <new>
#include <string>

#include "operators/precond/sparse.hpp"
#include "petsc/check.hpp"

namespace karman::precond {
namespace {

struct TwoLevel {
  PC fine = nullptr;        // F⁻¹, owned
  Mat a = nullptr;          // the operator of Q A and A Q (not owned: the PC's amat)
  int subdomains = 0;       // p: one per rank
  int rank = 0;             // this rank's subdomain
  PetscInt rows = 0;        // n_local
  std::vector<double> az;   // A Z on the rank's rows, column-major [n_local × p]
  std::vector<double> e_l;  // Cholesky factor of E = Zᵀ A Z, row-major [p × p], lower
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

// A z_r for every subdomain r, on this rank's rows: p matrix-vector products. [n_local × p].
std::vector<double> operator_on_subdomains(Mat a, int subdomains, int rank, PetscInt rows) {
  Vec z = nullptr, az = nullptr;
  KARMAN_PETSC(MatCreateVecs(a, &z, &az));
  std::vector<double> out(static_cast<std::size_t>(rows) * subdomains);
  for (int r = 0; r < subdomains; ++r) {
    KARMAN_PETSC(VecSet(z, r == rank ? 1.0 : 0.0));
    KARMAN_PETSC(MatMult(a, z, az));
    const PetscScalar* values = nullptr;
    KARMAN_PETSC(VecGetArrayRead(az, &values));
    std::copy(values, values + rows, out.begin() + static_cast<std::ptrdiff_t>(r) * rows);
    KARMAN_PETSC(VecRestoreArrayRead(az, &values));
  }
  KARMAN_PETSC(VecDestroy(&z));
  KARMAN_PETSC(VecDestroy(&az));
  return out;
}

// E = Zᵀ (A Z): row r is the sum of A Z over rank r's rows; each rank computes its own row and
// all gather them. Row-major [p × p].
std::vector<double> coarse_matrix(const TwoLevel& t, MPI_Comm comm) {
  std::vector<double> own_row(t.subdomains, 0.0), e(t.subdomains * t.subdomains);
  for (int r = 0; r < t.subdomains; ++r)
    for (PetscInt i = 0; i < t.rows; ++i) own_row[r] += t.az[r * t.rows + i];
  MPI_Allgather(own_row.data(), t.subdomains, MPI_DOUBLE, e.data(), t.subdomains, MPI_DOUBLE, comm);
  return e;
}

// (A Z)ᵀ x = Zᵀ A x (A symmetric): p dot products over the rank's rows and one reduction. [p].
std::vector<double> operator_sums(const TwoLevel& t, const PetscScalar* x, MPI_Comm comm) {
  std::vector<double> sums(t.subdomains, 0.0);
  for (int r = 0; r < t.subdomains; ++r)
    for (PetscInt i = 0; i < t.rows; ++i) sums[r] += t.az[r * t.rows + i] * x[i];
  MPI_Allreduce(MPI_IN_PLACE, sums.data(), t.subdomains, MPI_DOUBLE, MPI_SUM, comm);
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
    MPI_Comm_size(comm_of(pc), &t.subdomains);
    MPI_Comm_rank(comm_of(pc), &t.rank);
    KARMAN_PETSC(MatGetLocalSize(amat, &t.rows, nullptr));
    t.az = operator_on_subdomains(amat, t.subdomains, t.rank, t.rows);
    t.e_l = coarse_matrix(t, comm_of(pc));
    dense_cholesky(t.e_l, t.subdomains);
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
    const int p = t.subdomains;
    const std::vector<double> c = coarse_solve(t.e_l, subdomain_sums(x), p);
    const PetscScalar* in = nullptr;
    PetscScalar* s = nullptr;
    KARMAN_PETSC(VecGetArrayRead(x, &in));
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
    const double own = c[t.rank] - d[t.rank];  // Z (c − d) on this rank's rows
    PetscScalar* out = nullptr;
    KARMAN_PETSC(VecGetArrayWrite(y, &out));
    for (PetscInt i = 0; i < t.rows; ++i) out[i] = u[i] + own;
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
      viewer, "  balancing two-level: Nicolaides coarse space, %d vectors; fine PC:\n",
      t.subdomains));
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

std::vector<double> subdomain_sums(Vec x) {
  MPI_Comm comm = PetscObjectComm(reinterpret_cast<PetscObject>(x));
  int p = 0;
  MPI_Comm_size(comm, &p);
  PetscInt rows = 0;
  KARMAN_PETSC(VecGetLocalSize(x, &rows));
  const PetscScalar* values = nullptr;
  KARMAN_PETSC(VecGetArrayRead(x, &values));
  double own = 0.0;
  for (PetscInt i = 0; i < rows; ++i) own += values[i];
  KARMAN_PETSC(VecRestoreArrayRead(x, &values));
  std::vector<double> sums(p);
  MPI_Allgather(&own, 1, MPI_DOUBLE, sums.data(), 1, MPI_DOUBLE, comm);
  return sums;
}

void set_nicolaides_coarse_pc(PC pc, PC fine) {
  KARMAN_PETSC(PCSetType(pc, PCSHELL));
  auto* t = new TwoLevel;
  t->fine = fine;
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
  const std::vector<double> c = coarse_solve(t.e_l, subdomain_sums(x), t.subdomains);
  KARMAN_PETSC(VecSet(y, c[t.rank]));
}

}  // namespace karman::precond
