#include "operators/precond/timed_solve.hpp"

#include <algorithm>

#include "karman/core/timer.hpp"
#include "operators/precond/gnn.hpp"
#include "operators/precond/petsc_factor.hpp"
#include "petsc/check.hpp"
#include "petsc/handle.hpp"

namespace karman::precond {

nlohmann::json TimedSolve::json() const {
  return {{"iterations", iterations},
          {"setup_s", setup_s},
          {"solve_s", solve_s},
          {"total_s", total_s()}};
}

TimedSolve timed_solve(Mat a, const char* ksp_type, double rtol, long max_iterations, int repeats,
                       const std::function<void(PC)>& configure) {
  TimedSolve best;
  for (int r = 0; r < repeats; ++r) {
    petsc::KSP ksp;
    petsc::Vec b, x;
    KARMAN_PETSC(KSPCreate(PetscObjectComm(reinterpret_cast<PetscObject>(a)), ksp.out()));
    KARMAN_PETSC(KSPSetOperators(ksp, a, a));
    KARMAN_PETSC(KSPSetType(ksp, ksp_type));
    KARMAN_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
    KARMAN_PETSC(
        KSPSetTolerances(ksp, rtol, 1e-50, PETSC_DEFAULT, static_cast<PetscInt>(max_iterations)));
    PC pc;
    KARMAN_PETSC(KSPGetPC(ksp, &pc));
    configure(pc);
    KARMAN_PETSC(MatCreateVecs(a, x.out(), b.out()));
    KARMAN_PETSC(VecSet(b, 1.0));
    Timer setup;
    KARMAN_PETSC(KSPSetUp(ksp));
    best.setup_s = std::min(best.setup_s, setup.seconds());
    Timer solve;
    KARMAN_PETSC(KSPSolve(ksp, b, x));
    best.solve_s = std::min(best.solve_s, solve.seconds());
    KSPConvergedReason reason;
    PetscInt its = 0;
    KARMAN_PETSC(KSPGetConvergedReason(ksp, &reason));
    KARMAN_PETSC(KSPGetIterationNumber(ksp, &its));
    best.iterations = reason > 0 ? its : -1;
    if (best.iterations < 0) break;
  }
  return best;
}

std::function<void(PC)> pc_of_type(const char* type) {
  return [type](PC pc) { KARMAN_PETSC(PCSetType(pc, type)); };
}

void mic0_pc(PC pc) {
  KARMAN_PETSC(PCSetType(pc, "karman"));
  pc_karman_set_factor_provider(pc, [](const LocalBlock& block, const LowerPattern& lower) {
    return reference_values(block, lower, ReferenceFactor::mic0);
  });
}

}  // namespace karman::precond
