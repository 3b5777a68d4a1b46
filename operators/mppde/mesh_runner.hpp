#pragma once
// kind: mppde with a `mesh:` section: MP-PDE in 2D/3D on a partitioned unstructured mesh,
// trained on heat trajectories with a random coefficient from the finite-element reference
// (operators/mppde/mesh_data.hpp). runner.cpp's MppdeMethod hands such cases to this method.

#include <memory>

#include "karman/run/method.hpp"

namespace karman::mppde {

std::unique_ptr<run::Method> make_mesh_mppde_method();

}  // namespace karman::mppde
