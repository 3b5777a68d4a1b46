// GoogleTest main for Karman: MPI and PETSc are initialised once for the whole executable, so the
// same test body runs at 1 and at 2 ranks (ctest runs the `mpi` executables under mpiexec).
#include <gtest/gtest.h>
#include <petscsys.h>

#include "operators/precond/dcdm.hpp"
#include "operators/precond/petsc_factor.hpp"
#include "petsc/check.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (PetscInitialize(&argc, &argv, nullptr, nullptr)) return 1;
  karman::petsc::install_error_handler();
  karman::precond::register_karman_pc();  // -pc_type karman, as in the karman executable
  karman::precond::register_dcdm_ksp();   // -ksp_type dcdm, likewise
  int rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  // One rank's listener is enough; failures on other ranks still set the exit status.
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int status = RUN_ALL_TESTS();
  int worst = 0;
  MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MAX, PETSC_COMM_WORLD);
  PetscFinalize();
  return worst;
}
