#pragma once
// kind: gno — graph neural operators (the graph kernel network, Li et al. 2020) and the
// encoder–processor–decoder graph network (Lötzsch et al. 2022) trained on finite-difference or
// finite-element solutions: data.problem darcy (the FNO benchmark's Darcy flow on the unit
// square's grid, zero-shot on finer grids; darcy_runner.cpp) or poisson_shapes (Poisson on many
// mesh shapes, held-out shapes; shapes_runner.cpp).

#include <memory>

#include "karman/run/method.hpp"

namespace karman::gno {

std::unique_ptr<run::Method> make_gno_method();

// The two problems' methods (make_gno_method picks one by data.problem).
std::unique_ptr<run::Method> make_darcy_gno_method();
std::unique_ptr<run::Method> make_shapes_gno_method();

}  // namespace karman::gno
