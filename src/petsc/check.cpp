#include "check.hpp"

#include "karman/core/error.hpp"

namespace karman::petsc {
namespace {

std::string g_last_message;  // PETSc errors are raised on the calling thread only

PetscErrorCode record_error(MPI_Comm, int, const char*, const char*, PetscErrorCode code,
                            PetscErrorType type, const char* message, void*) {
  if (type == PETSC_ERROR_INITIAL) g_last_message = message ? message : "";
  return code;
}

}  // namespace

void install_error_handler() { PetscPushErrorHandler(record_error, nullptr); }

void throw_error(PetscErrorCode code, const char* call) {
  std::string message = g_last_message;
  g_last_message.clear();
  if (message.empty()) {
    const char* text = nullptr;
    PetscErrorMessage(code, &text, nullptr);
    message = text ? text : "unknown PETSc error";
  }
  throw ExternalError("PETSc", static_cast<int>(code), message + " (in " + call + ")");
}

}  // namespace karman::petsc
