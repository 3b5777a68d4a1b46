#pragma once
// PETSc calls inside Karman: KARMAN_PETSC(KSPSolve(ksp, b, x)) throws ExternalError with PETSc's
// own message instead of printing a traceback, so main can report it on one line.

#include <petscsys.h>

#include <string>

namespace karman::petsc {

// Install the handler that records PETSc's first error message (called once after PetscInitialize).
void install_error_handler();
[[noreturn]] void throw_error(PetscErrorCode code, const char* call);

}  // namespace karman::petsc

#define KARMAN_PETSC(call)                                                           \
  do {                                                                               \
    PetscErrorCode karman_petsc_code_ = (call);                                      \
    if (karman_petsc_code_) ::karman::petsc::throw_error(karman_petsc_code_, #call); \
  } while (0)
