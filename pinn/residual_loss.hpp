#pragma once
// PINN loss on a box (steady) or a space-time box (time-dependent, time the last input): the mean
// squared PDE residual at interior collocation points (derivatives by propagation through the
// network, a derivative pass of Module::forward), the mean squared Dirichlet mismatch on the
// spatial boundary (or, on a geometry's parts, Dirichlet, Neumann and Robin mismatches, the
// normal derivative from the same derivative pass) and, for time-dependent problems, the mean
// squared mismatch with the initial state at t = 0. Residuals are the pointwise kernels of
// pinn/point_residual.hpp (the definitions of karman/pde/equations.hpp, the same ones the PETSc
// discretisations use). The loss is available both as terms with their gradient (first-order
// optimisers, L-BFGS) and as scaled residuals with their Jacobian (Gauss–Newton / natural
// gradient).
//
// Under data parallelism each rank holds its share of the points and normalises by the global
// counts, so the trainer's sum over ranks is the global loss.

#include <memory>
#include <optional>
#include <vector>

#include "karman/config/case.hpp"
#include "karman/mesh/grid.hpp"
#include "karman/nn/loss.hpp"
#include "karman/nn/loss_combination.hpp"
#include "karman/nn/network.hpp"
#include "pinn/distance_function.hpp"
#include "pinn/point_residual.hpp"

namespace karman::pinn {

// The network sees x̂ = scale·x + shift ∈ [-1, 1]^dim for x in the box.
struct InputMap {
  std::vector<double> scale, shift;
  static InputMap for_box(const mesh::GridShape& box);
};

// Network inputs for physical points (row-major [n, dim]).
template <class T>
nn::Matrix<T> network_input(const InputMap& map, const std::vector<double>& points);

// Host values as a device column [n, 1] (converted to T).
template <class T>
nn::Matrix<T> device_column(const std::vector<double>& values, const char* label) {
  nn::Matrix<T> m(std::string(label), values.size(), std::size_t(1));
  auto h = Kokkos::create_mirror_view(m);
  for (std::size_t i = 0; i < values.size(); ++i) h(i, 0) = static_cast<T>(values[i]);
  Kokkos::deep_copy(m, h);
  return m;
}

// Points of one kind (row-major [count, dim]) with the global count of their kind.
struct PointSet {
  std::vector<double> points;
  long total = 0;
};

struct LossWeights {
  double residual = 1.0, boundary = 1.0, initial = 1.0;
  double initial_velocity = 1.0;  // wave: u_t(x, 0)
};

// Dirichlet conditions of a steady scalar PDE on parts of a geometry (`conditions` in a case):
// each soft condition is its own loss term, weight/total · Σ (u − g)²; a hard one is built into
// the network's output, u = g + φ·N with φ an approximate distance function that vanishes on its
// parts (so u = g there exactly and no term is needed).
struct DirichletCondition {
  std::string name;  // loss-term name
  PointSet points;
  Expression value;
  double weight = 1.0;
};
// A Neumann or Robin condition of a steady scalar PDE on parts of a geometry: ∂u/∂n + α·u = g at
// boundary points with their outward unit normals n (α = 0: Neumann), its own loss term
// weight/total · Σ (n·∇u + α·u − g)². n·∇u comes from the first-derivative channels of the
// network's derivative pass (under a hard condition, of u = g_D + φN by the product rule).
struct FluxCondition {
  std::string name;  // loss-term name
  PointSet points;
  std::vector<double> normals;  // [count, dims]: the outward unit normal at each point
  double alpha = 0.0;
  Expression value;
  double weight = 1.0;
};
struct HardDirichlet {
  std::shared_ptr<const DistanceFunction> distance;
  Expression value;
};
struct BoundaryConditions {
  std::vector<DirichletCondition> soft;
  std::vector<FluxCondition> flux;
  std::optional<HardDirichlet> hard;
};

// Heat with an unknown diffusivity κ (an inverse problem): κ is the network's parameter
// `kappa_parameter` (a Network coefficient) learned through the residual u_t − κΔu − f, and the
// observations of u are one more data term, "observations".
struct InverseProblem {
  std::size_t kappa_parameter = 0;
  PointSet observations;       // (x, y, t) of this rank's observations
  std::vector<double> values;  // u observed there
  double weight = 1.0;
};

// The hard-condition transform u = g + φ·N at points (row-major [n, dims]): φ and g with their
// first and pure second derivatives, channel-stacked like forward_taylor's output, [C·n].
// g's derivatives are fourth-order central differences of the expression (step 1e-3 of the
// point's scale), φ's are exact.
struct HardTransform {
  std::vector<double> phi, g;
  static HardTransform at(const HardDirichlet& hard, const std::vector<double>& points, int dims);
};

template <class T>
class ResidualLoss {
 public:
  // `box`: the (space-time) box the network is defined on; time-dependent PDEs have time as the
  // last of box.dim coordinates. `initial` is empty for steady PDEs.
  // `boundary`: the points of the default condition (Dirichlet pde.boundary on the whole box
  // boundary; periodic for burgers; the velocity for navier_stokes). With `conditions` (steady
  // scalar PDEs on a geometry), those replace it.
  ResidualLoss(nn::Network<T>& net, const config::PdeSpec& pde, const mesh::GridShape& box,
               const PointSet& interior, const PointSet& boundary, const PointSet& initial,
               LossWeights weights, const BoundaryConditions* conditions = nullptr,
               const InverseProblem* inverse = nullptr);

  // Loss terms {residual, boundary[, initial]} of this rank; the gradient of their weighted sum
  // is added to the network's parameter gradients. With `hooks` (loss-combination rules), only
  // the wanted terms are back-propagated and hooks->done(k) follows term k's backward: each term
  // has its own forward on its own points, so the split costs no more than the sum.
  std::vector<nn::LossTerm> operator()(const nn::TermHooks* hooks = nullptr);
  std::size_t term_count() const { return m_terms.size(); }

  // The same loss as a sum of squares, loss = Σ_ranks Σ_j r_j², for Gauss–Newton: this rank's
  // scaled residuals r [rows()] and, when `jacobian` is not empty, their Jacobian [rows(), P].
  // Row blocks follow the terms (residual, boundary, initial), component-major within a term.
  std::size_t rows() const;
  std::vector<nn::LossTerm> residuals(const nn::Vector<T>& r, const nn::Matrix<T>& jacobian);

  // Causal training (pinn/causal.hpp; time-dependent PDEs, gradient stages): the residual term's
  // points fall into `bins` equal bins of the time interval. Each evaluation then weights the
  // squared residuals of bin b by weights[b] (a constant: no gradient through it) and records
  // this part's unweighted sums Σ_{points in bin b} Σ_q r_q² in bin_sums() [bins].
  void set_time_bins(long bins);
  void set_time_weights(const std::vector<double>& weights);  // [bins]
  const std::vector<double>& bin_sums() const { return m_bin_sums; }

  // Σ_q r_q² at each interior point [points], the network as it is (no gradient): what adaptive
  // sampling (pinn/adaptive.hpp) ranks candidates by.
  std::vector<double> residual_squares();

 private:
  // One loss term, weight/total · Σ_i Σ_q r_q(x_i)². Its residuals are the PDE at collocation
  // points (derivative channels), an output's mismatch with given values, or the mismatch of
  // u and ∂u/∂x_axis between paired points on opposite faces of a periodic direction, or the
  // mismatch of a fixed linear combination a_0·u + Σ_k a_k·∂u/∂x_k with given values
  // (derivative: the wave's u_t(x, 0) with a = e_t; Neumann and Robin conditions with
  // a = (α, n) per point).
  enum class Kind { pde, data, periodic, derivative };
  struct Term {
    std::string name;
    Kind kind = Kind::data;
    double weight = 1.0, total = 1.0;
    std::size_t points = 0, components = 1;  // periodic: points = 2·pairs (lower faces first)
    std::vector<int> outputs;                // data terms: the output matched by each component
    std::vector<double> linear;              // derivative: a_c(x_i) [points, 1 + dims]
    int axis = 0;                            // periodic: the periodic input
    nn::Matrix<T> x;                         // [points, dims], or channel-stacked [C·points, dims]
    nn::Matrix<T> data;                      // [points, components]: source f, or target values
    nn::Matrix<T> r;                         // [components, residual points] unscaled residuals
    Kokkos::View<T***, Kokkos::LayoutRight, nn::MemorySpace> dr;  // [points, components, C·O]
    nn::Matrix<T> seed;      // [C·points or points, O] backward seed
    nn::Matrix<T> unfolded;  // periodic: [points, P] per-point Jacobian before pairing
    nn::Matrix<T> phi, g;    // hard condition: [C·points, 1] channels (pde), [points, 1] (data)
    nn::Matrix<T> dkappa;    // inverse problem (pde term): ∂r/∂κ = −Δu [points, 1]
    nn::Vector<T> point_weight;         // causal (pde term): [points] its bin's weight (empty: 1)
    nn::Context<T>* context = nullptr;  // the network's forward on x (in m_workspace)
    bool taylor() const { return kind != Kind::data; }
    std::size_t residual_points() const { return kind == Kind::periodic ? points / 2 : points; }
  };
  double evaluate(Term& term);  // forward, r and dr; returns Σ r² (causal: Σ w r²)
  Term& pde_term();
  void record_bin_sums(const Term& term);
  // seed(c·N + i, o) = Σ_q coefficient_q(i) · dr(i, q, c·O + o); coefficient_q(i) = factor ·
  // r(q, i) for the loss gradient, or factor · [q == component] for one Jacobian block.
  void build_seed(Term& term, T factor, int component);
  Term data_term(const std::string& name, double weight, const PointSet& set,
                 const std::vector<const Expression*>& targets, const InputMap& map);
  // The same with the target values given: values[q][i] for component q at point i.
  Term values_term(const std::string& name, double weight, const PointSet& set,
                   const std::vector<std::vector<double>>& values, const InputMap& map);
  // Inverse problem: κ from its parameter into m_pde; its gradient and Jacobian column.
  void load_kappa();
  void add_kappa_gradient(const Term& term, T factor);
  void write_kappa_column(const Term& term, T scale, const nn::Matrix<T>& rows);
  // u(lower, ·) = u(upper, ·) and ∂u/∂x_axis likewise, at the points of `set` moved to both faces.
  Term periodic_term(double weight, const PointSet& set, int axis, const mesh::GridShape& box,
                     const InputMap& map);
  // a_0·u + Σ_k a_k·∂u/∂x_k = target at the points of `set` (linear [points, 1 + dims],
  // target [points]).
  Term derivative_term(const std::string& name, double weight, const PointSet& set,
                       std::vector<double> linear, std::vector<double> target, const InputMap& map);
  // ∂u/∂x_axis = target (the wave's initial velocity).
  Term axis_derivative_term(const std::string& name, double weight, const PointSet& set, int axis,
                            const Expression& target, const InputMap& map);
  // ∂u/∂n + α·u = g; under a hard condition u = g_D + φN, the coefficients act on N's channels:
  // a_0 = α·φ + n·∇φ, a_k = n_k·φ, and the target loses α·g_D + n·∇g_D.
  Term flux_term(const FluxCondition& condition, const InputMap& map);

  nn::Network<T>& m_net;
  // One context per term, reset at every evaluation of the loss: the terms' shapes differ (C·N
  // derivative rows, N value rows), and each keeps its own buffers from step to step.
  nn::Workspace<T> m_workspace;
  PointPdeParameters m_pde;
  std::size_t m_channels;  // C = 1 + 2·dims
  std::vector<Term> m_terms;
  std::optional<HardDirichlet> m_hard;
  std::optional<std::size_t> m_kappa;  // parameter index of a learned κ
  std::vector<long> m_bin_of_point;    // causal: [pde term points] time bin of each
  std::vector<double> m_bin_sums;      // causal: [bins] of the last evaluation
};

}  // namespace karman::pinn
