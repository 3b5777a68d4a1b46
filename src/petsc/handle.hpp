#pragma once
// Owning handles for PETSc objects, so a solver that throws half-way releases what it made.
//   petsc::Mat A;  KARMAN_PETSC(DMCreateMatrix(dm, A.out()));  MatMult(A, x, y);

#include <petscdm.h>
#include <petscksp.h>
#include <petscts.h>

namespace karman::petsc {

template <class T, PetscErrorCode (*Destroy)(T*)>
class Handle {
 public:
  Handle() = default;
  ~Handle() { reset(); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : m_object(other.m_object) { other.m_object = nullptr; }

  T* out() {  // for PETSc's create functions
    reset();
    return &m_object;
  }
  operator T() const { return m_object; }
  explicit operator bool() const { return m_object != nullptr; }
  void reset() {
    if (m_object) Destroy(&m_object);
  }

 private:
  T m_object = nullptr;
};

using Mat = Handle<::Mat, MatDestroy>;
using Vec = Handle<::Vec, VecDestroy>;
using KSP = Handle<::KSP, KSPDestroy>;
using TS = Handle<::TS, TSDestroy>;
using SNES = Handle<::SNES, SNESDestroy>;
using DM = Handle<::DM, DMDestroy>;
using MatNullSpace = Handle<::MatNullSpace, MatNullSpaceDestroy>;

}  // namespace karman::petsc
