#pragma once
// The method registry: every `kind` of case Karman runs, listed explicitly in methods.cpp (as
// PETSc's KSPRegisterAll lists its KSP types). Each entry names the precisions its method really
// runs, so a case asking for another one is refused at validation instead of being reported in
// one precision and run in another.

#include <memory>
#include <string>
#include <vector>

#include "karman/run/method.hpp"

namespace karman::app {

struct MethodEntry {
  const char* kind;
  const char* description;
  const char* default_precision;        // "float64" or "float32"
  std::vector<std::string> precisions;  // every precision the method runs, the default among them
  std::unique_ptr<run::Method> (*make)();  // the registration function in the method's folder
};

const std::vector<MethodEntry>& registered_methods();
std::vector<std::string> method_kinds();
// The entry of `kind` (one of method_kinds(); InternalError otherwise).
const MethodEntry& find_method(const std::string& kind);

}  // namespace karman::app
