#pragma once
// TENG, the time-evolving natural gradient (Chen et al., ICML 2024; pde-sim/teng): the network is
// a function of space only, u_θ(x) ≈ u(x, t_n), and is stepped in time. Per step the target
//   Euler  u_target = u_n + dt·F[u_n](t_n)
//   Heun   stage 1 as Euler, fitted to θ*; then u_target = u_n + dt/2·(F[u_n](t_n) +
//   F[u_θ*](t_n+1))
// is fitted by a few Gauss–Newton iterations of min_θ Σ_i (u_θ(x_i) − target_i)² / N over the
// collocation points, starting from the previous parameters. For u_t = F[u], F is minus the PINN's
// pointwise residual with u_t = 0 (pinn/point_residual.hpp), so every PDE is written once.
//
// The ansatz: u = φ(x)·N(x) with φ = Π_k 4(x_k − a_k)(b_k − x_k)/(b_k − a_k)² for PDEs with
// Dirichlet data (zero on the box boundary, so u vanishes there exactly), u = N(x) otherwise.
// The points are fixed for the whole run: `points` in space, drawn counter-based and split into
// `chunks` fixed chunks whose sums run along nn::TreeSum's tree (gauss_newton_minimize), so 1 and
// N ranks take bitwise the same steps in float64.

#include <mpi.h>

#include <string>
#include <vector>

#include "karman/config/case.hpp"
#include "karman/config/node.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/nn/gauss_newton.hpp"
#include "karman/nn/network.hpp"
#include "karman/run/method.hpp"
#include "pinn/point_residual.hpp"

namespace karman::pinn {

struct TengSpec {
  double dt = 0.0;
  long steps = 0;              // steps · dt = time.t_end
  std::string stage = "heun";  // euler | heun
  long iterations = 5;         // Gauss–Newton iterations per fit (per stage)
  long initial_iterations = 500;
  long points = 1024;  // collocation points in space, fixed for the run
  std::uint64_t seed = 1;
  long chunks = 16;
  long log_every = 100;           // steps between progress lines
  nn::GaussNewtonOptions solver;  // linear_solver, damping, svd_rcond of the fits
};

// `training` with method: teng. Fails (one line, exit 1) for a steady PDE, a PDE without a first
// order in time form, non-zero Dirichlet data, or a dt that does not divide t_end and the
// snapshot interval.
TengSpec read_teng(const config::Node& root, const config::ProblemSpec& problem);

// The PDE's pointwise parameters for a network of space inputs only (time is not an input).
PointPdeParameters teng_pde(const config::PdeSpec& pde, int space);

// Whether the TENG ansatz carries φ (PDEs with Dirichlet data on the box).
bool teng_vanishing_boundary(const config::PdeSpec& pde);

// The last fit of one step.
struct TengStepResult {
  double loss = 0.0;  // Σ_i (u_θ(x_i) − target_i)² / N after the fit
  long iterations = 0;
};

template <class T>
class TengStepper {
 public:
  // `space`: the box of x (grid.lower, grid.upper); `source`: f(x, t) or null.
  TengStepper(MPI_Comm comm, nn::Network<T>& net, const PointPdeParameters& pde,
              const mesh::GridShape& space, bool vanishing_boundary, const Expression* source,
              long points, long chunks, std::uint64_t seed);

  // Gauss–Newton fit of u_θ to u0 at the points.
  nn::GaussNewtonResult fit_initial(const Expression& u0, const nn::GaussNewtonOptions& options);
  // One time step t → t + dt (stage euler or heun), `options.max_iterations` per fit.
  TengStepResult step(double t, double dt, const std::string& stage,
                      const nn::GaussNewtonOptions& options);

  // u_θ at physical points (row-major [n, space]).
  std::vector<double> evaluate(const std::vector<double>& points);
  // This rank's points of block k, u_θ there and F[u_θ](t) there (tests).
  std::size_t blocks() const { return m_blocks.size(); }
  const std::vector<double>& points(std::size_t k) const { return m_blocks[k].physical; }
  std::vector<double> values(std::size_t k);
  std::vector<double> rhs(std::size_t k, double t);
  // Set block k's target to u_θ + dt·F[u_θ](t) (the Euler target) and return it.
  std::vector<double> euler_target(std::size_t k, double t, double dt);

 private:
  struct Block {
    std::vector<double> physical;          // [n, space]
    nn::Matrix<T> x;                       // [n, space] network input
    nn::Matrix<T> taylor;                  // [C·n, space] derivative-pass input
    nn::Matrix<T> phi;                     // [C·n, 1] φ's value, first and second derivatives
    nn::Matrix<T> target, start, f_start;  // [n, 1]: fit target, u_n, F[u_n]
  };
  nn::Matrix<T> forward_values(Block& b);         // u_θ [n, 1] (the context stays for a backward)
  nn::Matrix<T> forward_rhs(Block& b, double t);  // F[u_θ](t) [n, 1]
  nn::GaussNewtonResult fit(const nn::GaussNewtonOptions& options);
  nn::LeastSquares<T> least_squares();

  MPI_Comm m_comm;
  nn::Network<T>& m_net;
  PointPdeParameters m_pde;  // dims = space + 1 (time the last, absent from the network)
  int m_space;
  mesh::GridShape m_box;  // the space box (network inputs mapped to [-1, 1])
  bool m_vanishing;
  const Expression* m_source;
  long m_points, m_chunks;
  std::vector<Block> m_blocks;
  nn::Workspace<T> m_workspace;
  nn::Context<T>* m_context = nullptr;
};

// A state of the PETSc reference (owned grid nodes) and the network's prediction at its time.
struct TengSnapshot {
  long index = 0;
  double time = 0.0;
  std::vector<double> reference, prediction;
  double rel_l2 = 0.0;
};

// The whole TENG run: the initial fit, `spec.steps` steps, the prediction on the grid at each
// snapshot's time (filled in `snapshots`), history.csv (a row per step: time, fit loss, fit
// iterations, wall, and rel_l2 at the snapshot times) and the metrics it returns.
template <class T>
nlohmann::json march(run::RunContext& ctx, nn::Network<T>& net, const TengSpec& spec,
                     const config::ProblemSpec& problem, const mesh::StructuredGrid& grid,
                     std::vector<TengSnapshot>& snapshots);

}  // namespace karman::pinn
