#include "pinn/geometry_config.hpp"

#include <cctype>
#include <sstream>

namespace karman::pinn {

namespace {

const std::vector<std::string>& shape_types() {
  static const std::vector<std::string> types{"rectangle",    "box",       "disk",    "ball",
                                              "annulus",      "shell",     "polygon", "union",
                                              "intersection", "difference"};
  return types;
}

Vec3 read_point(const config::Node& node, std::string_view key, int dim) {
  const auto values = node.numbers(key, static_cast<std::size_t>(dim));
  Vec3 out{};
  for (int d = 0; d < dim; ++d) out[d] = values[d];
  return out;
}

ShapePtr read_box(const config::Node& node, int dim) {
  const Vec3 lower = read_point(node, "lower", dim), upper = read_point(node, "upper", dim);
  for (int d = 0; d < dim; ++d)
    if (!(upper[d] > lower[d]))
      node.fail("upper", "expected upper > lower in every coordinate (coordinate " +
                             std::to_string(d) + ")");
  return dim == 2 ? make_rectangle(lower, upper) : make_box(lower, upper);
}

ShapePtr read_round(const config::Node& node, int dim, bool hollow) {
  const Vec3 center = read_point(node, "center", dim);
  if (!hollow) {
    const double radius = node.number("radius", config::Bounds::positive());
    return dim == 2 ? make_disk(center, radius) : make_ball(center, radius);
  }
  const double inner = node.number("inner", config::Bounds::positive());
  const double outer = node.number("outer", config::Bounds::positive());
  if (!(inner < outer)) {
    std::ostringstream s;
    s << "expected inner < outer, got inner " << inner << " and outer " << outer;
    node.fail("inner", s.str());
  }
  return dim == 2 ? make_annulus(center, inner, outer) : make_shell(center, inner, outer);
}

ShapePtr read_polygon(const config::Node& node) {
  std::vector<std::array<double, 2>> vertices;
  for (const auto& row : node.number_rows("vertices", 2, 0)) vertices.push_back({row[0], row[1]});
  const std::string defect = polygon_defect(vertices);
  if (!defect.empty()) node.fail("vertices", defect);
  return make_polygon(vertices);
}

ShapePtr read_csg(const config::Node& node, CsgOperation op) {
  const config::Node a = node.child("a"), b = node.child("b");
  ShapePtr shape_a = read_shape(a), shape_b = read_shape(b);
  if (shape_a->dim() != shape_b->dim())
    node.fail("b", "a " + std::to_string(shape_b->dim()) + "D shape cannot be combined with a " +
                       std::to_string(shape_a->dim()) + "D one");
  std::string name_a = read_shape_name(a), name_b = read_shape_name(b);
  if (name_a.empty()) name_a = "a";
  if (name_b.empty()) name_b = "b";
  if (name_a == name_b) b.fail("name", "the operands of a CSG shape need different names");
  return make_csg(op, shape_a, shape_b, name_a, name_b);
}

}  // namespace

std::string read_shape_name(const config::Node& node) {
  const std::string name = node.str("name", "");
  if (!node.has("name")) return name;
  bool valid = !name.empty();
  for (char c : name)
    valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  if (!valid)
    node.fail("name", "expected a name of letters, digits, '_' or '-', got '" + name + "'");
  return name;
}

ShapePtr read_shape(const config::Node& node) {
  const std::string type = node.choice("type", shape_types());
  if (type == "rectangle") return read_box(node, 2);
  if (type == "box") return read_box(node, 3);
  if (type == "disk") return read_round(node, 2, false);
  if (type == "ball") return read_round(node, 3, false);
  if (type == "annulus") return read_round(node, 2, true);
  if (type == "shell") return read_round(node, 3, true);
  if (type == "polygon") return read_polygon(node);
  if (type == "union") return read_csg(node, CsgOperation::union_);
  if (type == "intersection") return read_csg(node, CsgOperation::intersection);
  return read_csg(node, CsgOperation::difference);
}

Geometry read_geometry(const config::Node& parent) {
  const config::Node node = parent.child("geometry");
  ShapePtr shape = read_shape(node);
  const std::string name = read_shape_name(node);
  if (!name.empty()) shape = make_named(shape, name);
  try {
    return Geometry(shape);
  } catch (const ConfigError& e) {
    throw ConfigError(node.place(), node.path() + ": " + e.what());
  }
}

SampleMethod read_sample_method(const config::Node& samples) {
  return sample_method_from_name(samples.choice("method", sample_method_names(), "uniform"));
}

std::vector<int> read_boundary_parts(const Geometry& geometry, const config::Node& node,
                                     std::string_view key) {
  const std::vector<std::string> selectors = node.strings(key);
  try {
    return geometry.select_parts(selectors);
  } catch (const ConfigError& e) {
    node.fail(key, e.what());
  }
}

}  // namespace karman::pinn
