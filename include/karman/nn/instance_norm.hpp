#pragma once
// Instance normalisation of node features (PyG's InstanceNorm without affine parameters, as
// MP-PDE normalises h after every message-passing layer): the rows of x are consecutive
// instances (graphs of a batch) of R rows each, and every column of every instance is normalised
// by that instance's statistics over its counted rows
//   μ_bj = mean_r x(bR + r, j),  σ²_bj = mean_r (x(bR + r, j) − μ_bj)²  (biased),
//   y(bR + r, j) = (x(bR + r, j) − μ_bj) / √(σ²_bj + ε)                  x, y [B·R, W]
// Backward (exact), per instance and column with ρ = 1/√(σ² + ε), n the counted rows:
//   dx_r = ρ (dy_r − [r counted] (Σ_all dy + y_r Σ_all dy ∘ y) / n).
//
// On a graph partitioned over ranks (set_communicator), each rank holds its part of every
// instance: R is then the LOCAL rows per instance, of which the first set_owned_rows() are the
// rank's own and count in the statistics; the others (halo copies of other ranks' rows) are
// normalised with the same statistics but not counted. The per-instance sums (and the counts n)
// are MPI_Allreduce'd, and the backward's sums run over every local row, halo rows included (a
// halo row's output depends on μ and σ too); the halo exchange's backward then adds a halo
// row's dx to its owner. Every rank must hold the same number of instances and call forward and
// backward together (both are collective).
// Sums run over fixed 64-row chunks in double, so they do not depend on the thread count.
// Values only, no parameters.

#include <mpi.h>

#include <optional>

#include "karman/nn/module.hpp"

namespace karman::nn {

struct InstanceNormOptions {
  std::size_t features = 0;  // W
  double eps = 1e-5;         // ε
};

template <class T>
class InstanceNorm : public Module<T> {
 public:
  explicit InstanceNorm(const InstanceNormOptions& options);

  std::string kind() const override { return "instance_norm"; }
  std::size_t in_features() const override { return m_options.features; }
  std::size_t out_features() const override { return m_options.features; }
  const InstanceNormOptions& options() const { return m_options; }

  // R, the (local) rows per instance; 0 (the default): all rows of x are one instance. A forward
  // whose rows R does not divide is an InternalError.
  void set_instance_rows(std::size_t rows) { m_instance_rows = rows; }
  std::size_t instance_rows() const { return m_instance_rows; }
  // The first `owned_per_instance` rows of each local instance count in the statistics (default:
  // all R). InternalError at the forward if more than R.
  void set_owned_rows(std::size_t owned_per_instance) { m_owned_rows = owned_per_instance; }
  // Statistics summed over `comm`'s ranks (MPI_COMM_NULL, the default: this rank's rows alone).
  void set_communicator(MPI_Comm comm) { m_comm = comm; }

  // [rows, cols] statistics in double (per instance and column).
  using Statistics = Kokkos::View<double**, Kokkos::LayoutRight, MemorySpace>;

 protected:
  struct InstanceNormContext : Context<T> {
    std::size_t instances = 0, instance_rows = 0, counted_rows = 0;  // B, R, owned rows
    Statistics partial;        // [B·chunks, ·] sums of 64-row chunks
    Statistics moments;        // [B, W + 1] μ, then the count n in column W
    Statistics inverse_std;    // [B, W] ρ = 1/√(σ² + ε)
    Statistics gradient_sums;  // [B, 2W] Σ_all dy, Σ_all dy ∘ y (backward)
  };
  std::unique_ptr<Context<T>> make_context() const override {
    return std::make_unique<InstanceNormContext>();
  }
  void forward_impl(Context<T>& context, Workspace<T>& workspace) override;
  void backward_impl(Context<T>& context, const Matrix<T>& dy,
                     const Gradient<T>& gradient) override;

 private:
  // c.instances, c.instance_rows, c.counted_rows from x's rows and the settings (InternalError if
  // they do not fit).
  void resolve_instances(InstanceNormContext& c) const;
  // sums(b, j) = Σ over the first `rows` rows r of instance b of f(bR + r, j), j < width, over
  // the communicator's ranks.
  template <class F>
  void instance_sums(InstanceNormContext& c, std::size_t rows, std::size_t width, F f,
                     Statistics& sums, const char* label) const;

  InstanceNormOptions m_options;
  std::size_t m_instance_rows = 0;
  std::optional<std::size_t> m_owned_rows;
  MPI_Comm m_comm = MPI_COMM_NULL;
};

}  // namespace karman::nn
