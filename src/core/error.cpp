#include "karman/core/error.hpp"

namespace karman {

std::string Place::str() const {
  if (file.empty()) return {};
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

ConfigError::ConfigError(const Place& place, const std::string& what)
    : std::runtime_error(place.str().empty() ? what : place.str() + ": " + what) {}

ExternalError::ExternalError(const std::string& library, int code, const std::string& what)
    : std::runtime_error(library + " error " + std::to_string(code) + ": " + what), m_code(code) {}

}  // namespace karman
