#include "karman/pde/fields.hpp"

#include "karman/io/hdf5.hpp"
#include "karman/pde/random_field.hpp"

namespace karman::pde {

std::vector<double> evaluate(const mesh::StructuredGrid& grid, const Expression& e, double t) {
  return grid.sample([&](double x, double y, double z) { return e(x, y, z, t); });
}

std::vector<double> evaluate(const mesh::StructuredGrid& grid, const config::FieldSpec& field,
                             double t) {
  switch (field.source) {
    case config::FieldSpec::Source::expression:
      return evaluate(grid, *field.expression, t);
    case config::FieldSpec::Source::file:
      try {
        return io::read_grid_field(field.file, field.dataset, grid);
      } catch (const ConfigError& e) {
        // Name the case-file key as well as the HDF5 file.
        throw ConfigError(field.place, std::string("field from file: ") + e.what());
      }
    case config::FieldSpec::Source::random:
      return random_field(grid, field.random);
  }
  throw InternalError("evaluate: unknown field source");
}

}  // namespace karman::pde
