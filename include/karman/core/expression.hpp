#pragma once
// A scalar expression from a case file, in the variables x, y, z, t, with the constants pi and e
// (muParser syntax: `2*pi^2*sin(pi*x)*sin(pi*y)`). Parsed once at construction, so a typo is a
// ConfigError at validation, never a failure half-way through a run.

#include <memory>
#include <string>

#include "karman/core/error.hpp"

namespace karman {

class Expression {
 public:
  Expression(const std::string& text, const Place& where);

  double operator()(double x, double y = 0.0, double z = 0.0, double t = 0.0) const;
  const std::string& text() const;
  bool uses_time() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> m_impl;  // shared: the parser holds pointers into Impl's variables
};

// A number given as a constant expression (`0.01/pi`); no variables allowed.
double evaluate_constant(const std::string& text, const Place& where);

}  // namespace karman
