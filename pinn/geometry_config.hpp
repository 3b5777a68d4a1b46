#pragma once
// The `geometry:` section of a case file and the `samples.method` key (cases/README.md,
// "Geometry"). Bad input is one ConfigError line naming the file, line and key:
//
//   geometry:                       # the L-shape
//     type: difference
//     a: {type: rectangle, lower: [-1, -1], upper: [1, 1]}
//     b: {type: rectangle, lower: [0, 0], upper: [1, 1], name: notch}
//
// gives the parts a.left, a.bottom, a.right, a.top, notch.left, notch.bottom.

#include <string_view>
#include <vector>

#include "karman/config/node.hpp"
#include "pinn/distance_function.hpp"
#include "pinn/geometry.hpp"
#include "pinn/quasi_random.hpp"

namespace karman::pinn {

// The shape of a mapping with a `type` key (rectangle, box, disk, ball, annulus, shell, polygon,
// union, intersection, difference). Its optional `name` is applied by the caller (read_geometry
// or the CSG parent), so the shape comes back unnamed; read_shape_name reads it.
ShapePtr read_shape(const config::Node& node);
std::string read_shape_name(const config::Node& node);  // "" if the shape has no name

// The `geometry` mapping of `parent` (the case root).
Geometry read_geometry(const config::Node& parent);

// `samples.method` (default uniform).
SampleMethod read_sample_method(const config::Node& samples);

// Boundary parts named at `node.key` (a name, a group prefix or a list of them), checked
// against the geometry: an unknown name is a ConfigError at that key with a did-you-mean.
std::vector<int> read_boundary_parts(const Geometry& geometry, const config::Node& node,
                                     std::string_view key);

}  // namespace karman::pinn
