#pragma once
// Errors. User input problems are ConfigError (one readable line, exit status 1); failures of
// PETSc, HDF5, MPI or the file system are ExternalError carrying the library's code; broken
// invariants are InternalError. `main` catches all three.

#include <stdexcept>
#include <string>

namespace karman {

// Where in a file a value came from. Line and column are 1-based; 0 means unknown.
struct Place {
  std::string file;
  int line = 0;
  int column = 0;
  std::string str() const;  // "case.yaml:12:5", "case.yaml" or "" when unknown
};

// Bad user input: a case file, an override, an input file. The message already names the place.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const Place& place, const std::string& what);
  explicit ConfigError(const std::string& what) : std::runtime_error(what) {}
};

// A dependency (PETSc, HDF5, MPI, FFTW, the OS) reported a failure.
class ExternalError : public std::runtime_error {
 public:
  ExternalError(const std::string& library, int code, const std::string& what);
  int code() const { return m_code; }

 private:
  int m_code;
};

// A broken invariant inside Karman: a bug, never the user's fault.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace karman

// Always-on check of an internal invariant (as MFEM_VERIFY).
#define KARMAN_VERIFY(cond, msg)                                                             \
  do {                                                                                       \
    if (!(cond))                                                                             \
      throw ::karman::InternalError(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                                    ": " + (msg));                                           \
  } while (0)
