#include "operators/mppde/conservation.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "karman/core/error.hpp"
#include "karman/core/log.hpp"
#include "karman/core/timer.hpp"
#include "karman/nn/conservation.hpp"

namespace karman::mppde {
namespace {

using Range = Kokkos::RangePolicy<nn::ExecutionSpace>;

// A rollout's node rows [B·n, K] (column k: the k-th state of the window) as one state per row
// [B·K, n], the layout of nn::conserve_integral; and back.
template <class T>
void states_by_row(const Matrix<T>& nodes, long n, const Matrix<T>& states) {
  const long window = static_cast<long>(nodes.extent(1));
  Kokkos::parallel_for(
      "karman::mppde::states_by_row", Range(0, states.extent(0)),
      KOKKOS_LAMBDA(const std::size_t row) {
        const long b = static_cast<long>(row) / window, k = static_cast<long>(row) % window;
        for (long i = 0; i < n; ++i) states(row, i) = nodes(b * n + i, k);
      });
}

template <class T>
void states_by_node(const Matrix<T>& states, long n, const Matrix<T>& nodes) {
  const long window = static_cast<long>(nodes.extent(1));
  Kokkos::parallel_for(
      "karman::mppde::states_by_node", Range(0, nodes.extent(0)),
      KOKKOS_LAMBDA(const std::size_t row) {
        const long b = static_cast<long>(row) / n, i = static_cast<long>(row) % n;
        for (long k = 0; k < window; ++k) nodes(row, k) = states(b * window + k, i);
      });
}

// dx Σ_i u_i at step `step` of trajectory k.
double integral(const Trajectories& data, long k, long step, double dx) {
  double sum = 0.0;
  for (long i = 0; i < data.nodes; ++i) sum += data.value(k, step, i);
  return dx * sum;
}

// Per trajectory of the batch, (1/n) Σ_{x,k} (û − u)² added to `error` [first_in_batch, …).
template <class T>
void add_squared_error(const Matrix<T>& prediction, const Matrix<T>& target, long n,
                       long first_in_batch, std::vector<double>& error) {
  const auto p = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), prediction);
  const auto y = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), target);
  const long batch = static_cast<long>(p.extent(0)) / n, window = static_cast<long>(p.extent(1));
  for (long b = 0; b < batch; ++b) {
    double sum = 0.0;
    for (long i = 0; i < n; ++i)
      for (long k = 0; k < window; ++k) {
        const double d =
            static_cast<double>(p(b * n + i, k)) - static_cast<double>(y(b * n + i, k));
        sum += d * d;
      }
    error[first_in_batch + b] += sum / static_cast<double>(n);
  }
}

}  // namespace

ConservationSpec read_conservation(const config::Node& evaluation) {
  ConservationSpec spec;
  if (!evaluation.has("conservation")) return spec;
  spec.ensemble = evaluation.child("conservation").integer("ensemble", 3, 1, 64);
  return spec;
}

template <class T>
EnsembleMember<T> make_member(const MpPdeSpec& spec, long conditions, std::uint64_t seed,
                              const SampleGraph& sample, const Trajectories& train,
                              const Trajectories& test) {
  EnsembleMember<T> member;
  member.model = std::make_unique<MpPdeModel<T>>(spec, 1, conditions);
  member.parameters = std::make_unique<nn::Parameters<T>>();
  member.model->declare(*member.parameters, "");
  member.parameters->allocate();
  member.model->initialize(seed);
  member.train_rollout = std::make_unique<Rollout<T>>(*member.model, sample, train);
  member.test_rollout = std::make_unique<Rollout<T>>(*member.model, sample, test);
  return member;
}

template <class T>
ConservedRollout ensemble_rollout(const std::vector<Rollout<T>*>& members, const Trajectories& data,
                                  nn::Workspace<T>& workspace, long first, long count,
                                  long ground_truth_windows, long batch, double dx,
                                  Correction correction) {
  KARMAN_VERIFY(!members.empty(), "ensemble_rollout: no members");
  const long window = members[0]->window(), n = data.nodes;
  const long start = window * ground_truth_windows;
  KARMAN_VERIFY(start >= window && start + window <= data.steps,
                "ensemble_rollout: the first predicted window does not fit the trajectories");
  const long windows = (data.steps - start) / window;
  ConservedRollout out;
  out.accumulated.assign(count, 0.0);
  out.conservation.assign(count, 0.0);
  std::vector<Matrix<T>> predictions(members.size());
  Matrix<T> mean, variance, states, state_variance;
  for (long first_in_batch = 0; first_in_batch < count; first_in_batch += batch) {
    const long size = std::min(batch, count - first_in_batch);
    std::vector<long> trajectories(size);
    for (long b = 0; b < size; ++b) trajectories[b] = first + first_in_batch + b;
    for (Rollout<T>* member : members) member->load(trajectories, std::vector<long>(size, start));
    // The constraint's right side per state (b, k): the trajectory's integral at t = 0.
    nn::Vector<double> target("karman::mppde::conserved_integral", size * window);
    auto target_host = Kokkos::create_mirror_view(target);
    for (long b = 0; b < size; ++b)
      for (long k = 0; k < window; ++k)
        target_host(b * window + k) = integral(data, trajectories[b], 0, dx);
    Kokkos::deep_copy(target, target_host);
    nn::ensure_shape(states, "karman::mppde::states", size * window, n);
    nn::ensure_shape(state_variance, "karman::mppde::state_variance", size * window, n);
    for (long w = 0; w < windows; ++w) {
      const Timer clock;
      workspace.reset();
      for (std::size_t m = 0; m < members.size(); ++m)
        predictions[m] = members[m]->predict(workspace).h_out;
      nn::ensemble_statistics(predictions, mean, variance);
      states_by_row(mean, n, states);
      if (correction != Correction::none) {
        if (correction == Correction::ensemble_variance)
          states_by_row(variance, n, state_variance);
        else
          Kokkos::deep_copy(state_variance, T(1));
        nn::conserve_integral(states, state_variance, target, dx);
        states_by_node(states, n, mean);
      }
      Kokkos::fence();
      out.rollout_s += clock.seconds();

      const auto integrals =
          Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), nn::row_integrals(states, dx));
      for (long b = 0; b < size; ++b)
        for (long k = 0; k < window; ++k)
          out.conservation[first_in_batch + b] =
              std::max(out.conservation[first_in_batch + b],
                       std::abs(integrals(b * window + k) - target_host(b * window + k)));
      add_squared_error(mean, members[0]->targets(), n, first_in_batch, out.accumulated);
      if (w + 1 < windows) {
        const Timer feed;
        for (Rollout<T>* member : members) member->feed_back(mean);
        out.rollout_s += feed.seconds();
      }
    }
  }
  return out;
}

double data_conservation_error(const Trajectories& data, double dx) {
  double worst = 0.0;
  for (long k = 0; k < data.count; ++k) {
    const double initial = integral(data, k, 0, dx);
    for (long s = 1; s < data.steps; ++s)
      worst = std::max(worst, std::abs(integral(data, k, s, dx) - initial));
  }
  return worst;
}

template <class T>
nlohmann::json conservation_metrics(MPI_Comm comm, const std::vector<Rollout<T>*>& members,
                                    const Trajectories& test, nn::Workspace<T>& workspace,
                                    long total, long ground_truth_windows, long batch, double dx) {
  // Sums (accumulated errors, rollout seconds) and maxima (conservation errors) over ranks.
  auto reduce = [&](const ConservedRollout& r) {
    double sums[2] = {0.0, r.rollout_s}, worst = 0.0;
    for (double e : r.accumulated) sums[0] += e;
    for (double e : r.conservation) worst = std::max(worst, e);
    MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, comm);
    MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_DOUBLE, MPI_MAX, comm);
    const double count = static_cast<double>(total);
    return std::array<double, 3>{sums[0] / count, worst, sums[1] / count};
  };
  auto roll = [&](const std::vector<Rollout<T>*>& who, Correction correction) {
    return reduce(ensemble_rollout(who, test, workspace, 0, test.count, ground_truth_windows, batch,
                                   dx, correction));
  };
  const auto single = roll({members[0]}, Correction::none);
  const auto without = roll(members, Correction::none);
  const auto with = roll(members, Correction::ensemble_variance);
  const auto equal = roll(members, Correction::equal_variance);
  double data_error = data_conservation_error(test, dx);
  MPI_Allreduce(MPI_IN_PLACE, &data_error, 1, MPI_DOUBLE, MPI_MAX, comm);
  const long m = static_cast<long>(members.size());
  log().info(
      "conservation (ProbConserv, variance of an ensemble of {}): max |dx Σu(t) − dx Σu(0)| "
      "{:.3e} without, {:.3e} with (one model {:.3e}; the data {:.1e}); accumulated error {:.3f} "
      "without, {:.3f} with (one model {:.3f}; equal variances {:.3f})",
      m, without[1], with[1], single[1], data_error, without[0], with[0], single[0], equal[0]);
  return {{"ensemble", m},
          {"variance", "ensemble: biased variance across the members' predictions"},
          {"error_without", without[1]},
          {"error_with", with[1]},
          {"accumulated_error_without", without[0]},
          {"accumulated_error_with", with[0]},
          {"single_model", {{"error", single[1]}, {"accumulated_error", single[0]}}},
          {"equal_variance", {{"error", equal[1]}, {"accumulated_error", equal[0]}}},
          {"data_error", data_error},
          {"rollout_s_per_trajectory_without", without[2]},
          {"rollout_s_per_trajectory_with", with[2]},
          {"rollout_s_per_trajectory_single", single[2]}};
}

#define KARMAN_MPPDE_CONSERVATION(T)                                                            \
  template EnsembleMember<T> make_member<T>(const MpPdeSpec&, long, std::uint64_t,              \
                                            const SampleGraph&, const Trajectories&,            \
                                            const Trajectories&);                               \
  template ConservedRollout ensemble_rollout<T>(const std::vector<Rollout<T>*>&,                \
                                                const Trajectories&, nn::Workspace<T>&, long,   \
                                                long, long, long, double, Correction);          \
  template nlohmann::json conservation_metrics<T>(MPI_Comm, const std::vector<Rollout<T>*>&,    \
                                                  const Trajectories&, nn::Workspace<T>&, long, \
                                                  long, long, double);
KARMAN_MPPDE_CONSERVATION(float)
KARMAN_MPPDE_CONSERVATION(double)
#undef KARMAN_MPPDE_CONSERVATION

}  // namespace karman::mppde
