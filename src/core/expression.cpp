#include "karman/core/expression.hpp"

#include <muParser.h>

#include <cmath>

namespace karman {

struct Expression::Impl {
  std::string text;
  double x = 0, y = 0, z = 0, t = 0;
  bool uses_time = false;
  mu::Parser parser;
};

namespace {

void define_constants(mu::Parser& parser) {
  parser.DefineConst("pi", M_PI);
  parser.DefineConst("e", M_E);
}

[[noreturn]] void throw_parse_error(const std::string& text, const Place& where,
                                    const mu::Parser::exception_type& e) {
  throw ConfigError(where, "expression '" + text + "' does not parse: " + e.GetMsg() +
                               " (variables x, y, z, t; constants pi, e)");
}

}  // namespace

Expression::Expression(const std::string& text, const Place& where)
    : m_impl(std::make_shared<Impl>()) {
  m_impl->text = text;
  try {
    mu::Parser& p = m_impl->parser;
    define_constants(p);
    p.DefineVar("x", &m_impl->x);
    p.DefineVar("y", &m_impl->y);
    p.DefineVar("z", &m_impl->z);
    p.DefineVar("t", &m_impl->t);
    p.SetExpr(text);
    // muParser parses lazily: evaluate once so syntax and unknown names fail here.
    p.Eval();
    m_impl->uses_time = p.GetUsedVar().count("t") > 0;
  } catch (const mu::Parser::exception_type& e) {
    throw_parse_error(text, where, e);
  }
}

double Expression::operator()(double x, double y, double z, double t) const {
  m_impl->x = x;
  m_impl->y = y;
  m_impl->z = z;
  m_impl->t = t;
  return m_impl->parser.Eval();
}

const std::string& Expression::text() const { return m_impl->text; }
bool Expression::uses_time() const { return m_impl->uses_time; }

double evaluate_constant(const std::string& text, const Place& where) {
  try {
    mu::Parser p;
    define_constants(p);
    p.SetExpr(text);
    return p.Eval();
  } catch (const mu::Parser::exception_type& e) {
    throw_parse_error(text, where, e);
  }
}

}  // namespace karman
