// DCDM's network direction map (operators/precond/dcdm_network.hpp).
#include "operators/precond/dcdm_network.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "karman/core/error.hpp"
#include "petsc/check.hpp"

namespace karman::precond {
namespace {

constexpr long kInputs = 2;  // r on the cells, the fluid mask

// The host copy of a network matrix (Serial or OpenMP: the same memory, no copy).
auto host(const nn::Matrix<double>& m) {
  return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
}

}  // namespace

DcdmNetwork::DcdmNetwork(const fno::FnoSpec& spec) {
  auto model = std::make_unique<fno::FnoModel<double>>(spec, kInputs, 1);
  m_dims = static_cast<int>(spec.modes.size());
  fno::FnoModel<double>* fno = model.get();
  m_set_grid = [fno](const std::vector<long>& shape) { fno->set_grid(shape); };
  m_net = std::make_unique<nn::Network<double>>(std::move(model), spec.seed);
}

DcdmNetwork::DcdmNetwork(const CnnSpec& spec) {
  auto model = std::make_unique<CnnModel<double>>(spec, kInputs, 1);
  CnnModel<double>* cnn = model.get();
  m_set_grid = [cnn](const std::vector<long>& shape) { cnn->set_grid(shape); };
  m_dims = spec.dims;
  m_unit_rms = true;
  m_net = std::make_unique<nn::Network<double>>(std::move(model), spec.seed);
}

nn::Matrix<double> DcdmNetwork::inputs(const ObstacleGrid& grid,
                                       const std::vector<const std::vector<double>*>& vectors) {
  const std::int64_t cells = grid.cells();
  for (const std::vector<double>* v : vectors)
    if (static_cast<std::int64_t>(v->size()) != grid.a.rows)
      throw std::invalid_argument(fmt::format(
          "DCDM network: a vector of {} entries for {} fluid cells", v->size(), grid.a.rows));
  if (grid.dims != m_dims)
    throw std::invalid_argument(
        fmt::format("DCDM network: a {}D network on a {}D grid", m_dims, grid.dims));
  m_set_grid(std::vector<long>(grid.dims, static_cast<long>(grid.n)));
  nn::Matrix<double> x("dcdm_inputs", vectors.size() * cells, kInputs);
  auto h = Kokkos::create_mirror_view(x);
  for (std::size_t b = 0; b < vectors.size(); ++b) {
    double scale = 1.0;
    if (m_unit_rms) {
      double norm2 = 0.0;
      for (double v : *vectors[b]) norm2 += v * v;
      if (norm2 > 0.0) scale = std::sqrt(static_cast<double>(grid.a.rows) / norm2);
    }
    for (std::int64_t c = 0; c < cells; ++c) {
      const std::int64_t row = grid.row[c];
      h(b * cells + c, 0) = row < 0 ? 0.0 : scale * (*vectors[b])[row];
      h(b * cells + c, 1) = row < 0 ? 0.0 : 1.0;
    }
  }
  Kokkos::deep_copy(x, h);
  return x;
}

std::vector<double> DcdmNetwork::apply(const ObstacleGrid& grid, const std::vector<double>& r) {
  const auto y = host(m_net->forward(inputs(grid, {&r})).y);  // [n², 1]
  std::vector<double> q(grid.a.rows);
  for (std::int64_t c = 0; c < grid.cells(); ++c)
    if (grid.row[c] >= 0) q[grid.row[c]] = y(c, 0);
  return q;
}

double DcdmNetwork::mean_loss(const ObstacleGrid& grid,
                              const std::vector<std::vector<double>>& vectors) {
  double sum = 0.0;
  for (const std::vector<double>& b : vectors) sum += dcdm_loss(grid.a, b, apply(grid, b)).value;
  return sum / static_cast<double>(vectors.size());
}

double DcdmNetwork::train_step(const ObstacleGrid& grid,
                               const std::vector<std::vector<double>>& batch,
                               nn::Optimizer<double>& optimizer, double lr) {
  const std::int64_t cells = grid.cells();
  std::vector<const std::vector<double>*> vectors;
  for (const std::vector<double>& b : batch) vectors.push_back(&b);
  nn::Context<double>& context = m_net->forward(inputs(grid, vectors));
  const auto y = host(context.y);  // [B·n², 1]
  nn::Matrix<double> dy("dcdm_dy", batch.size() * cells, 1);
  auto dy_host = Kokkos::create_mirror_view(dy);  // ∂(mean loss)/∂y, 0 on solid cells
  double sum = 0.0;
  const double weight = 1.0 / static_cast<double>(batch.size());
  std::vector<double> q(grid.a.rows);
  for (std::size_t b = 0; b < batch.size(); ++b) {
    for (std::int64_t c = 0; c < cells; ++c)
      if (grid.row[c] >= 0) q[grid.row[c]] = y(b * cells + c, 0);
    const DcdmLoss loss = dcdm_loss(grid.a, batch[b], q);
    sum += loss.value;
    for (std::int64_t c = 0; c < cells; ++c)
      dy_host(b * cells + c, 0) = grid.row[c] < 0 ? 0.0 : weight * loss.gradient[grid.row[c]];
  }
  Kokkos::deep_copy(dy, dy_host);
  m_net->parameters().zero_gradients();
  m_net->backward(context, dy);
  optimizer.step(m_net->parameters(), lr);
  return sum * weight;
}

namespace {

struct NetworkPc {
  DcdmNetwork* network = nullptr;
  const ObstacleGrid* grid = nullptr;
};

PetscErrorCode apply_network(PC pc, Vec in, Vec out) {
  NetworkPc* ctx = nullptr;
  PetscCall(PCShellGetContext(pc, &ctx));
  PetscInt n = 0;
  PetscCall(VecGetLocalSize(in, &n));
  PetscCheck(n == ctx->grid->a.rows, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "DCDM network: vector of %" PetscInt_FMT " rows, the grid has %" PetscInt_FMT
             " fluid cells",
             n, static_cast<PetscInt>(ctx->grid->a.rows));
  const PetscScalar* r = nullptr;
  PetscCall(VecGetArrayRead(in, &r));
  std::vector<double> q;
  try {
    q = ctx->network->apply(*ctx->grid, std::vector<double>(r, r + n));
  } catch (const std::exception& e) {
    PetscCall(VecRestoreArrayRead(in, &r));
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_LIB, "DCDM network: %s", e.what());
  }
  PetscCall(VecRestoreArrayRead(in, &r));
  PetscScalar* y = nullptr;
  PetscCall(VecGetArrayWrite(out, &y));
  std::copy(q.begin(), q.end(), y);
  PetscCall(VecRestoreArrayWrite(out, &y));
  return 0;
}

PetscErrorCode destroy_network_pc(PC pc) {
  NetworkPc* ctx = nullptr;
  PetscCall(PCShellGetContext(pc, &ctx));
  delete ctx;
  return 0;
}

}  // namespace

void set_network_pc(PC pc, DcdmNetwork& network, const ObstacleGrid& grid) {
  KARMAN_PETSC(PCSetType(pc, PCSHELL));
  KARMAN_PETSC(PCShellSetContext(pc, new NetworkPc{&network, &grid}));
  KARMAN_PETSC(PCShellSetApply(pc, apply_network));
  KARMAN_PETSC(PCShellSetDestroy(pc, destroy_network_pc));
  KARMAN_PETSC(PCShellSetName(pc, "dcdm network direction map"));
}

}  // namespace karman::precond
