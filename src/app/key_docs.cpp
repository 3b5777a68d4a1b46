#include "key_docs.hpp"

namespace karman::app {

std::string key_meaning(const std::string&, const std::string&) { return {}; }

}  // namespace karman::app
