// Uses the installed Karman library: parses and evaluates case-file expressions. Returns nonzero
// if a value is wrong, so the install check fails on a broken library as well as a broken build.
#include <cmath>
#include <cstdio>

#include "karman/config/node.hpp"
#include "karman/core/expression.hpp"

namespace {

int failures = 0;

void expect_near(const char* what, double value, double expected) {
  if (!(std::fabs(value - expected) <= 1e-12 * std::fmax(1.0, std::fabs(expected)))) {
    std::fprintf(stderr, "consumer: %s = %.17g, expected %.17g\n", what, value, expected);
    ++failures;
  }
}

}  // namespace

int main() {
  const double pi = std::acos(-1.0);
  const karman::Expression f("2*pi^2*sin(pi*x)*sin(pi*y)", karman::Place{"consumer", 1, 1});
  expect_near("f(0.5, 0.25)", f(0.5, 0.25), 2.0 * pi * pi * std::sin(0.25 * pi));

  const karman::Expression decay("exp(-2*pi^2*0.1*t)*x", karman::Place{});
  expect_near("decay(2, t=0.5)", decay(2.0, 0.0, 0.0, 0.5), 2.0 * std::exp(-pi * pi * 0.1));
  if (!decay.uses_time() || f.uses_time()) {
    std::fprintf(stderr, "consumer: uses_time() is wrong\n");
    ++failures;
  }

  expect_near("0.01/pi", karman::evaluate_constant("0.01/pi", karman::Place{}), 0.01 / pi);

  bool rejected = false;
  try {
    karman::Expression bad("sin(pi*q)", karman::Place{"consumer", 2, 3});
  } catch (const karman::ConfigError&) {
    rejected = true;
  }
  if (!rejected) {
    std::fprintf(stderr, "consumer: an unknown variable was not rejected\n");
    ++failures;
  }

  if (!karman::config::Bounds::positive().contains(1e-300) ||
      karman::config::Bounds::positive().contains(0.0)) {
    std::fprintf(stderr, "consumer: Bounds::positive() is wrong\n");
    ++failures;
  }
  if (karman::config::closest_match("rtoll", {"rtol", "atol", "max_it"}) != "rtol") {
    std::fprintf(stderr, "consumer: closest_match is wrong\n");
    ++failures;
  }

  if (failures == 0) std::printf("consumer: Karman %s works from its install\n", KARMAN_VERSION);
  return failures == 0 ? 0 : 1;
}
