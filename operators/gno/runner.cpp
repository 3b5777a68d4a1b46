#include "operators/gno/runner.hpp"

namespace karman::gno {
namespace {

// Reads data.problem and hands the case to that problem's method.
class GnoMethod : public run::Method {
 public:
  void read(const config::Node& root, const std::string& precision) override {
    const config::Node data = root.child("data");
    const std::string problem = data.choice("problem", {"darcy", "poisson_shapes"}, "darcy");
    m_method = problem == "darcy" ? make_darcy_gno_method() : make_shapes_gno_method();
    m_method->read(root, precision);
  }
  std::string summary() const override { return m_method->summary(); }
  std::string run(run::RunContext& context) override { return m_method->run(context); }

 private:
  std::unique_ptr<run::Method> m_method;
};

}  // namespace

std::unique_ptr<run::Method> make_gno_method() { return std::make_unique<GnoMethod>(); }

}  // namespace karman::gno
