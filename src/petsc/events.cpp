#include "events.hpp"

#include <petsclog.h>

#include "check.hpp"

namespace karman::petsc {

void start_event_logging() {
  PetscBool active = PETSC_FALSE;
  KARMAN_PETSC(PetscLogIsActive(&active));
  if (!active) KARMAN_PETSC(PetscLogDefaultBegin());
}

nlohmann::json solver_events() {
  nlohmann::json events = nlohmann::json::object();
  PetscBool active = PETSC_FALSE;
  KARMAN_PETSC(PetscLogIsActive(&active));
  if (!active) return events;
  // The linear and nonlinear solves and what -log_view shows most of their time going to.
  for (const char* name :
       {"KSPSolve", "KSPSetUp", "PCSetUp", "PCApply", "MatMult", "SNESSolve", "TSStep"}) {
    PetscLogEvent event = -1;
    if (PetscLogEventGetId(name, &event) != 0 || event < 0) continue;  // not registered: unused
    PetscEventPerfInfo info;
    KARMAN_PETSC(PetscLogEventGetPerfInfo(0 /* the main stage */, event, &info));
    if (info.count == 0) continue;
    events[name] = {{"s", info.time}, {"count", info.count}, {"flops", info.flops}};
  }
  return events;
}

}  // namespace karman::petsc
