#include "pinn/teng.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <fstream>

#include "karman/core/error.hpp"
#include "karman/core/log.hpp"
#include "karman/core/norms.hpp"
#include "karman/core/partition.hpp"
#include "karman/core/stage_timer.hpp"
#include "pinn/residual_loss.hpp"
#include "pinn/sampling.hpp"

namespace karman::pinn {
namespace {

// Channel c of output 0 at point i of a derivative pass [C·n, 1].
template <class T>
struct StackedJet {
  nn::Matrix<T> y;
  std::size_t n, i;
  KOKKOS_INLINE_FUNCTION T operator()(int c) const { return y(c * n + i, 0); }
};

// A jet in the time-dependent layout of point_residual (inputs x_0 .. x_space−1, t): channels
// 0 value, 1 + k ∂x_k, 1 + space ∂t (zero), 2 + space + k ∂²x_k, 2 + 2·space ∂²t (zero).
template <class T>
struct TimeJet {
  T v[max_channels];
  KOKKOS_INLINE_FUNCTION T operator()(int c, int) const { return v[c]; }
};

// u's jet from the network's N (channels 0, 1 + k, 1 + space + k of a space-only derivative
// pass) and, for the vanishing ansatz u = φN:
//   u = φN,  u_k = φ_k N + φ N_k,  u_kk = φ_kk N + 2 φ_k N_k + φ N_kk.
template <class T>
KOKKOS_INLINE_FUNCTION TimeJet<T> time_jet(int space, const StackedJet<T>& net,
                                           const StackedJet<T>& phi, bool vanishing) {
  TimeJet<T> u;
  for (int c = 0; c < max_channels; ++c) u.v[c] = T(0);
  const T n0 = net(0), phi0 = vanishing ? phi(0) : T(1);
  u.v[0] = phi0 * n0;
  for (int k = 0; k < space; ++k) {
    const int first = 1 + k, second = 1 + space + k;  // the network's channels
    const T phi_k = vanishing ? phi(first) : T(0), phi_kk = vanishing ? phi(second) : T(0);
    u.v[1 + k] = phi_k * n0 + phi0 * net(first);
    u.v[2 + space + k] = phi_kk * n0 + T(2) * phi_k * net(first) + phi0 * net(second);
  }
  return u;
}

// φ = Π_k ψ_k(x_k), ψ = 4(x − a)(b − x)/(b − a)², with its first and pure second derivatives,
// channel-stacked [C·n] as a derivative pass's output.
std::vector<double> vanishing_factor(const std::vector<double>& points,
                                     const mesh::GridShape& box) {
  const int space = box.dim;
  const std::size_t n = points.size() / static_cast<std::size_t>(space);
  std::vector<double> phi((1 + 2 * static_cast<std::size_t>(space)) * n);
  for (std::size_t i = 0; i < n; ++i) {
    double psi[3], dpsi[3], ddpsi[3];
    for (int k = 0; k < space; ++k) {
      const double a = box.lower[k], b = box.upper[k], x = points[i * space + k];
      const double s = 4.0 / ((b - a) * (b - a));
      psi[k] = s * (x - a) * (b - x);
      dpsi[k] = s * (a + b - 2 * x);
      ddpsi[k] = -2 * s;
    }
    auto product_but = [&](int skip) {
      double p = 1;
      for (int k = 0; k < space; ++k)
        if (k != skip) p *= psi[k];
      return p;
    };
    phi[i] = product_but(-1);
    for (int k = 0; k < space; ++k) {
      phi[(1 + k) * n + i] = dpsi[k] * product_but(k);
      phi[(1 + space + k) * n + i] = ddpsi[k] * product_but(k);
    }
  }
  return phi;
}

template <class T>
std::vector<double> to_host(const nn::Matrix<T>& m) {
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
  std::vector<double> out(h.extent(0));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(h(i, 0));
  return out;
}

// f(x, t) at points [n, space], or zeros.
std::vector<double> source_at(const Expression* source, const std::vector<double>& points,
                              int space, double t) {
  std::vector<double> f(points.size() / static_cast<std::size_t>(space), 0.0);
  if (!source) return f;
  for (std::size_t i = 0; i < f.size(); ++i) {
    double p[3] = {0, 0, 0};
    for (int d = 0; d < space; ++d) p[d] = points[i * space + d];
    f[i] = (*source)(p[0], p[1], p[2], t);
  }
  return f;
}

// out = a + c·(b + d) elementwise ([n, 1]); d may be empty.
template <class T>
void combine(const nn::Matrix<T>& out, const nn::Matrix<T>& a, double c, const nn::Matrix<T>& b,
             const nn::Matrix<T>& d) {
  const T scale = static_cast<T>(c);
  const bool with_d = d.extent(0) > 0;
  Kokkos::parallel_for(
      "karman::pinn::teng::combine", Kokkos::RangePolicy<nn::ExecutionSpace>(0, out.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) {
        out(i, 0) = a(i, 0) + scale * (b(i, 0) + (with_d ? d(i, 0) : T(0)));
      });
}

}  // namespace

PointPdeParameters teng_pde(const config::PdeSpec& pde, int space) {
  PointPdeParameters p;
  p.pde = pde.type;
  p.dims = space + 1;
  p.space = space;
  p.outputs = 1;
  p.kappa = pde.kappa;
  p.nu = pde.nu;
  p.epsilon = pde.epsilon;
  p.reaction = pde.reaction;
  return p;
}

bool teng_vanishing_boundary(const config::PdeSpec& pde) {
  return config::traits(pde.type).boundary == config::BoundaryKind::dirichlet;
}

TengSpec read_teng(const config::Node& root, const config::ProblemSpec& problem) {
  const config::Node training = root.child("training");
  const auto& pde = problem.pde;
  const config::PdeTraits& traits = config::traits(pde.type);
  if (!pde.time_dependent() || traits.second_order_in_time)
    training.fail("method", fmt::format("stages: teng steps u_t = F[u] in time, and pde '{}' is {}",
                                        traits.name,
                                        pde.time_dependent() ? "second order in time" : "steady"));
  if (teng_vanishing_boundary(pde)) {
    // The ansatz φN vanishes on the box boundary: the Dirichlet data must be zero there.
    const mesh::GridShape& box = problem.grid;
    const auto points = boundary_points(box, 0, 256, 17);
    for (double t : {0.0, 0.5 * problem.time->t_end, problem.time->t_end})
      for (std::size_t i = 0; i < points.size() / box.dim; ++i) {
        double p[3] = {0, 0, 0};
        for (int d = 0; d < box.dim; ++d) p[d] = points[i * box.dim + d];
        if (std::abs((*pde.boundary)(p[0], p[1], p[2], t)) > 1e-12)
          root.child("pde").fail("boundary",
                                 "zero Dirichlet data for training.method teng (its ansatz u = φ·N "
                                 "vanishes on the box boundary)");
      }
  }
  TengSpec spec;
  const double t_end = problem.time->t_end;
  if (training.has("steps") && !training.has("dt")) {
    spec.steps = training.required_integer("steps", 1);
    spec.dt = t_end / static_cast<double>(spec.steps);
  } else {
    spec.dt = training.number("dt", problem.time->dt, config::Bounds::positive());
    spec.steps = std::lround(t_end / spec.dt);
    if (spec.steps < 1 ||
        std::abs(static_cast<double>(spec.steps) * spec.dt - t_end) > 1e-9 * t_end)
      training.fail("dt",
                    fmt::format("a step that divides time.t_end = {} into whole steps", t_end));
    if (training.has("steps") && training.required_integer("steps", 1) != spec.steps)
      training.fail(
          "steps",
          fmt::format("time.t_end / training.dt = {} (or leave one of the two out)", spec.steps));
  }
  const long snapshots = std::max<long>(problem.time->snapshots, 1);
  if (spec.steps % snapshots != 0)
    training.fail(
        training.has("dt") ? "dt" : "steps",
        fmt::format("{} steps, a multiple of time.snapshots = {} (the network is compared "
                    "with the PETSc reference at its snapshot times)",
                    spec.steps, snapshots));
  spec.stage = training.choice("stage", {"euler", "heun"}, "heun");
  spec.iterations = training.integer("iterations", 5, 1);
  spec.initial_iterations = training.integer("initial_iterations", 500, 1);
  spec.points = training.integer("points", 1024, 1);
  spec.seed = static_cast<std::uint64_t>(training.integer("seed", 1, 0));
  spec.chunks = training.integer("chunks", 16, 1);
  spec.solver.linear_solver = training.choice("linear_solver", {"svd", "cg"}, "svd");
  spec.solver.svd_rcond = training.number("svd_rcond", 1e-12, config::Bounds::at_least(0));
  spec.solver.damping = training.number("damping", 0.0, config::Bounds::at_least(0));
  spec.log_every = training.integer("log_every", 100, 1);
  return spec;
}

template <class T>
TengStepper<T>::TengStepper(MPI_Comm comm, nn::Network<T>& net, const PointPdeParameters& pde,
                            const mesh::GridShape& space, bool vanishing_boundary,
                            const Expression* source, long points, long chunks, std::uint64_t seed)
    : m_comm(comm),
      m_net(net),
      m_pde(pde),
      m_space(space.dim),
      m_box(space),
      m_vanishing(vanishing_boundary),
      m_source(source),
      m_points(points),
      m_chunks(chunks) {
  KARMAN_VERIFY(pde.dims == space.dim + 1 && pde.components() == 1,
                "TengStepper: a scalar PDE in the space-time layout of the box");
  const InputMap map = InputMap::for_box(space);
  const auto [first, count] = my_share(comm, chunks);
  for (long c = first; c < first + count; ++c) {
    const auto [pfirst, pcount] = share(points, c, chunks);
    Block b;
    b.physical = interior_points(space, pfirst, pcount, seed);
    b.x = network_input<T>(map, b.physical);
    nn::taylor_input(b.x, b.taylor, map.scale);
    if (m_vanishing)
      b.phi = device_column<T>(vanishing_factor(b.physical, space), "karman::pinn::teng::phi");
    const std::size_t n = static_cast<std::size_t>(pcount);
    b.target = nn::Matrix<T>("karman::pinn::teng::target", n, 1);
    b.start = nn::Matrix<T>("karman::pinn::teng::start", n, 1);
    b.f_start = nn::Matrix<T>("karman::pinn::teng::f_start", n, 1);
    m_blocks.push_back(std::move(b));
  }
}

template <class T>
nn::Matrix<T> TengStepper<T>::forward_values(Block& b) {
  m_workspace.reset();
  m_context = &m_net.forward(b.x, nn::Pass::values(), m_workspace);
  const nn::Matrix<T> y = m_context->y, phi = b.phi;
  const bool vanishing = m_vanishing;
  nn::Matrix<T> u("karman::pinn::teng::u", y.extent(0), 1);
  Kokkos::parallel_for(
      "karman::pinn::teng::values", Kokkos::RangePolicy<nn::ExecutionSpace>(0, y.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i) { u(i, 0) = (vanishing ? phi(i, 0) : T(1)) * y(i, 0); });
  return u;
}

template <class T>
nn::Matrix<T> TengStepper<T>::forward_rhs(Block& b, double t) {
  m_workspace.reset();
  const nn::Matrix<T> y =
      m_net.forward(b.taylor, nn::Pass::derivatives(static_cast<std::size_t>(m_space)), m_workspace)
          .y;
  const std::size_t n = b.x.extent(0);
  const nn::Matrix<T> f =
      device_column<T>(source_at(m_source, b.physical, m_space, t), "karman::pinn::f");
  const nn::Matrix<T> phi = b.phi;
  const bool vanishing = m_vanishing;
  const PointPdeParameters p = m_pde;
  const int space = m_space;
  nn::Matrix<T> out("karman::pinn::teng::rhs", n, 1);
  // u_t = F[u] where r(u, u_t) = u_t − F[u]: F = −r with u_t = 0.
  Kokkos::parallel_for(
      "karman::pinn::teng::rhs", Kokkos::RangePolicy<nn::ExecutionSpace>(0, n),
      KOKKOS_LAMBDA(const std::size_t i) {
        const TimeJet<T> u =
            time_jet(space, StackedJet<T>{y, n, i}, StackedJet<T>{phi, n, i}, vanishing);
        PointLinearisation<T> lin;
        point_residual(p, u, f(i, 0), lin);
        out(i, 0) = -lin.r[0];
      });
  return out;
}

template <class T>
std::vector<double> TengStepper<T>::values(std::size_t k) {
  return to_host(forward_values(m_blocks[k]));
}

template <class T>
std::vector<double> TengStepper<T>::rhs(std::size_t k, double t) {
  return to_host(forward_rhs(m_blocks[k], t));
}

template <class T>
std::vector<double> TengStepper<T>::euler_target(std::size_t k, double t, double dt) {
  Block& b = m_blocks[k];
  Kokkos::deep_copy(b.start, forward_values(b));
  Kokkos::deep_copy(b.f_start, forward_rhs(b, t));
  combine(b.target, b.start, dt, b.f_start, nn::Matrix<T>());
  return to_host(b.target);
}

template <class T>
std::vector<double> TengStepper<T>::evaluate(const std::vector<double>& points) {
  Block b;
  b.physical = points;
  b.x = network_input<T>(InputMap::for_box(m_box), points);
  if (m_vanishing)
    b.phi = device_column<T>(vanishing_factor(points, m_box), "karman::pinn::teng::phi");
  return to_host(forward_values(b));
}

// r_i = (u_θ(x_i) − target_i)/√N and its Jacobian rows φ_i ∂N(x_i)/∂θ /√N, block by block.
template <class T>
nn::LeastSquares<T> TengStepper<T>::least_squares() {
  nn::LeastSquares<T> problem;
  problem.chunks = m_chunks;
  for (const Block& b : m_blocks) problem.rows.push_back(b.x.extent(0));
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(m_points)));
  problem.evaluate = [this, scale](std::size_t k, const nn::Vector<T>& r,
                                   const nn::Matrix<T>& jacobian) {
    Block& b = m_blocks[k];
    const nn::Matrix<T> u = forward_values(b), target = b.target, phi = b.phi;
    const std::size_t n = u.extent(0);
    double squares = 0;
    Kokkos::parallel_reduce(
        "karman::pinn::teng::residuals", Kokkos::RangePolicy<nn::ExecutionSpace>(0, n),
        KOKKOS_LAMBDA(const std::size_t i, double& sum) {
          r(i) = scale * (u(i, 0) - target(i, 0));
          sum += static_cast<double>(r(i)) * static_cast<double>(r(i));
        },
        squares);
    if (jacobian.extent(0) > 0) {
      nn::Matrix<T> seed("karman::pinn::teng::seed", n, 1);
      const bool vanishing = m_vanishing;
      Kokkos::parallel_for(
          "karman::pinn::teng::seed", Kokkos::RangePolicy<nn::ExecutionSpace>(0, n),
          KOKKOS_LAMBDA(const std::size_t i) {
            seed(i, 0) = scale * (vanishing ? phi(i, 0) : T(1));
          });
      m_net.backward(*m_context, seed, nn::Gradient<T>::per_point(jacobian));
    }
    return std::vector<nn::LossTerm>{{"fit", 1.0, squares}};
  };
  return problem;
}

template <class T>
nn::GaussNewtonResult TengStepper<T>::fit(const nn::GaussNewtonOptions& options) {
  return nn::gauss_newton_minimize(m_comm, m_net.parameters(), least_squares(), options);
}

template <class T>
nn::GaussNewtonResult TengStepper<T>::fit_initial(const Expression& u0,
                                                  const nn::GaussNewtonOptions& options) {
  for (Block& b : m_blocks) {
    std::vector<double> values(b.x.extent(0));
    for (std::size_t i = 0; i < values.size(); ++i) {
      double p[3] = {0, 0, 0};
      for (int d = 0; d < m_space; ++d) p[d] = b.physical[i * m_space + d];
      values[i] = u0(p[0], p[1], p[2], 0.0);
    }
    Kokkos::deep_copy(b.target, device_column<T>(values, "karman::pinn::teng::u0"));
  }
  return fit(options);
}

template <class T>
TengStepResult TengStepper<T>::step(double t, double dt, const std::string& stage,
                                    const nn::GaussNewtonOptions& options) {
  for (std::size_t k = 0; k < m_blocks.size(); ++k) euler_target(k, t, dt);
  nn::GaussNewtonResult last = fit(options);
  if (stage == "heun") {
    // u_target = u_n + dt/2·(F[u_n](t) + F[u*](t + dt)), from the Euler stage's fit u*.
    for (Block& b : m_blocks) {
      const nn::Matrix<T> f_star = forward_rhs(b, t + dt);
      combine(b.target, b.start, 0.5 * dt, b.f_start, f_star);
    }
    last = fit(options);
  }
  return {last.loss, last.iterations};
}

namespace {

// The grid's owned nodes as points [n, dim].
std::vector<double> node_points(const mesh::StructuredGrid& grid) {
  std::vector<double> points;
  grid.sample([&](double x, double y, double z) {
    const double p[3] = {x, y, z};
    for (int d = 0; d < grid.shape().dim; ++d) points.push_back(p[d]);
    return 0.0;
  });
  return points;
}

struct HistoryRow {
  long step;
  double time, loss;
  long iterations;
  double wall_s, rel_l2;  // rel_l2: NaN between snapshots
};

void write_teng_history(run::RunContext& ctx, const std::vector<HistoryRow>& rows) {
  const std::string path = ctx.dir->staged("history.csv");
  if (ctx.rank != 0) return;
  std::ofstream out(path);
  out << "step,time,loss,iterations,wall_s,rel_l2\n";
  for (const HistoryRow& r : rows)
    out << fmt::format("{},{:.10g},{:.16e},{},{:.4f},{}\n", r.step, r.time, r.loss, r.iterations,
                       r.wall_s, std::isnan(r.rel_l2) ? "" : fmt::format("{:.6e}", r.rel_l2));
}

}  // namespace

template <class T>
nlohmann::json march(run::RunContext& ctx, nn::Network<T>& net, const TengSpec& spec,
                     const config::ProblemSpec& problem, const mesh::StructuredGrid& grid,
                     std::vector<TengSnapshot>& snapshots) {
  const ScopedStage timed_stage(Stage::training);
  const auto start = std::chrono::steady_clock::now();
  auto wall = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const auto& pde = problem.pde;
  TengStepper<T> stepper(ctx.comm, net, teng_pde(pde, problem.grid.dim), problem.grid,
                         teng_vanishing_boundary(pde), pde.source ? &*pde.source : nullptr,
                         spec.points, spec.chunks, spec.seed);
  const std::vector<double> nodes = node_points(grid);
  std::size_t next = 0;  // the next snapshot to compare
  auto compare = [&](double t) {
    double error = std::nan("");
    while (next < snapshots.size() && std::abs(snapshots[next].time - t) <= 1e-9 * (1 + t)) {
      TengSnapshot& s = snapshots[next++];
      s.prediction = stepper.evaluate(nodes);
      s.rel_l2 = error_norms(ctx.comm, s.prediction, s.reference).rel_l2;
      error = s.rel_l2;
    }
    return error;
  };

  nn::GaussNewtonOptions initial = spec.solver;
  initial.max_iterations = spec.initial_iterations;
  const nn::GaussNewtonResult fitted = stepper.fit_initial(*pde.initial->expression, initial);
  std::vector<HistoryRow> rows{{0, 0.0, fitted.loss, fitted.iterations, wall(), compare(0.0)}};
  log().info("TENG: initial state fitted in {} Gauss–Newton iterations, loss {:.3e} ({})",
             fitted.iterations, fitted.loss, fitted.stop_reason);
  nn::GaussNewtonOptions per_step = spec.solver;
  per_step.max_iterations = spec.iterations;
  TengStepResult last{fitted.loss, 0};
  for (long n = 0; n < spec.steps; ++n) {
    const double t = static_cast<double>(n) * spec.dt;
    last = stepper.step(t, spec.dt, spec.stage, per_step);
    const double now = static_cast<double>(n + 1) * spec.dt;
    rows.push_back({n + 1, now, last.loss, last.iterations, wall(), compare(now)});
    if ((n + 1) % spec.log_every == 0 || n + 1 == spec.steps)
      log().info(
          "TENG step {}/{}: t = {:.6g}, fit loss {:.3e}{}", n + 1, spec.steps, now, last.loss,
          std::isnan(rows.back().rel_l2)
              ? std::string()
              : fmt::format(", rel_l2 {:.3e} against the PETSc reference", rows.back().rel_l2));
  }
  write_teng_history(ctx, rows);
  nlohmann::json along_time = nlohmann::json::array();
  for (const TengSnapshot& s : snapshots)
    along_time.push_back({{"time", s.time}, {"rel_l2", s.rel_l2}});
  return {{"teng_steps", spec.steps},
          {"steps", spec.steps},
          {"dt", spec.dt},
          {"stage", spec.stage},
          {"initial_fit_loss", fitted.loss},
          {"initial_fit_iterations", fitted.iterations},
          {"final_loss", last.loss},
          {"rel_l2_along_time", along_time},
          {"train_wall_s", wall()},
          {"stop_reason", "steps"},
          {"params", net.parameters().size()}};
}

template class TengStepper<float>;
template class TengStepper<double>;
template nlohmann::json march<float>(run::RunContext&, nn::Network<float>&, const TengSpec&,
                                     const config::ProblemSpec&, const mesh::StructuredGrid&,
                                     std::vector<TengSnapshot>&);
template nlohmann::json march<double>(run::RunContext&, nn::Network<double>&, const TengSpec&,
                                      const config::ProblemSpec&, const mesh::StructuredGrid&,
                                      std::vector<TengSnapshot>&);

}  // namespace karman::pinn
