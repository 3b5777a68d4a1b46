#include "operators/mppde/rollout.hpp"

#include "karman/core/error.hpp"
#include "karman/core/random.hpp"
#include "karman/core/timer.hpp"

namespace karman::mppde {
namespace {

using Range = Kokkos::RangePolicy<nn::ExecutionSpace>;

// Squared error Σ (p − y)² over the counted rows and, when d is not empty, d = scale·2(p − y)
// there (0 on the others).  [rows, K]; the rows are samples of `per_sample` rows of which the
// first `counted` count (a partitioned graph's owned nodes).
template <class T>
double squared_error(const Matrix<T>& p, const Matrix<T>& y, const Matrix<T>& d, double scale,
                     std::size_t per_sample, std::size_t counted) {
  const std::size_t cols = p.extent(1);
  const bool gradient = d.data() != nullptr;
  const T factor = static_cast<T>(2.0 * scale);
  double sum = 0.0;
  Kokkos::parallel_reduce(
      "karman::mppde::squared_error", Range(0, p.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r, double& acc) {
        const bool counts = r % per_sample < counted;
        for (std::size_t c = 0; c < cols; ++c) {
          const T diff = counts ? p(r, c) - y(r, c) : T(0);
          acc += static_cast<double>(diff) * static_cast<double>(diff);
          if (gradient) d(r, c) = factor * diff;
        }
      },
      sum);
  return sum;
}

}  // namespace

template <class T>
Rollout<T>::Rollout(MpPdeModel<T>& model, const SampleGraph& sample, const Trajectories& data)
    : m_model(model), m_sample(sample), m_data(data) {
  KARMAN_VERIFY(sample.nodes == data.nodes, "Rollout: the graph and the trajectories differ in n");
  KARMAN_VERIFY(sample.positions.empty() ||
                    static_cast<long>(sample.positions.size()) == sample.nodes * sample.dims,
                "Rollout: positions must be [nodes, dims]");
  KARMAN_VERIFY(
      !sample.halo || (sample.halo->copies() == 1 && sample.halo->local() == sample.nodes &&
                       sample.halo->owned() == sample.owned),
      "Rollout: the sample's halo is not that of its nodes");
  KARMAN_VERIFY(static_cast<long>(model.node_in_features()) ==
                    model.window() + sample.dims + 1 + data.parameters + data.node_parameters,
                "Rollout: the model's inputs are not [window, positions, time, parameters, node "
                "parameters]");
  KARMAN_VERIFY(static_cast<long>(data.node_conditions.size()) ==
                    data.count * data.nodes * data.node_parameters,
                "Rollout: node conditions must be [count, nodes, node_parameters]");
  m_model.set_instance_nodes(sample.nodes);
  m_model.set_time_step(data.dt);
}

template <class T>
void Rollout<T>::load(const std::vector<long>& trajectories, const std::vector<long>& starts) {
  KARMAN_VERIFY(trajectories.size() == starts.size() && !trajectories.empty(),
                "Rollout::load: one start per trajectory");
  const long window = m_model.window(), n = m_sample.nodes;
  for (std::size_t b = 0; b < starts.size(); ++b)
    KARMAN_VERIFY(starts[b] >= window && starts[b] + window <= m_data.steps &&
                      trajectories[b] >= 0 && trajectories[b] < m_data.count,
                  "Rollout::load: window outside the trajectories");
  m_trajectories = trajectories;
  m_starts = starts;
  const long batch = this->batch();
  if (m_graph.copies != batch) {
    m_graph = batched<T>(m_sample, batch);
    if (m_sample.halo) m_halo = m_sample.halo->batched(batch);
  }
  nn::ensure_shape(m_inputs, "karman::mppde::inputs", batch * n, m_model.node_in_features());
  if (m_host.extent(0) != m_inputs.extent(0)) m_host = Kokkos::create_mirror_view(m_inputs);
  for (long b = 0; b < batch; ++b)
    for (long i = 0; i < n; ++i) {
      for (long l = 0; l < window; ++l)
        m_host(b * n + i, l) =
            static_cast<T>(m_data.value(trajectories[b], starts[b] - window + l, i));
      for (int d = 0; d < m_sample.dims; ++d)  // x / L: given, or the line's cell centres
        m_host(b * n + i, window + d) = static_cast<T>(
            m_sample.positions.empty() ? (i + 0.5) / n : m_sample.positions[i * m_sample.dims + d]);
    }
  write_conditions();
}

template <class T>
void Rollout<T>::write_conditions() {
  const long window = m_model.window(), n = m_sample.nodes, batch = this->batch();
  const long first = window + m_sample.dims;
  for (long b = 0; b < batch; ++b) {
    const double t = static_cast<double>(m_starts[b]) * m_data.dt / m_data.t_max;
    for (long i = 0; i < n; ++i) {
      m_host(b * n + i, first) = static_cast<T>(t);
      for (long p = 0; p < m_data.parameters; ++p)
        m_host(b * n + i, first + 1 + p) =
            static_cast<T>(m_data.conditions[m_trajectories[b] * m_data.parameters + p]);
      const long fields = m_data.node_parameters, field_column = first + 1 + m_data.parameters;
      for (long p = 0; p < fields; ++p)
        m_host(b * n + i, field_column + p) =
            static_cast<T>(m_data.node_conditions[(m_trajectories[b] * n + i) * fields + p]);
    }
  }
  Kokkos::deep_copy(m_inputs, m_host);
}

template <class T>
nn::GraphContext<T>& Rollout<T>::predict(nn::Workspace<T>& workspace) {
  if (m_sample.halo) m_model.set_partition(m_halo);  // the model may serve another rollout too
  return m_model.forward(m_graph.graph, m_inputs, m_graph.geometry, nn::Pass::values(), workspace);
}

template <class T>
void Rollout<T>::feed_back(const Matrix<T>& prediction) {
  const long window = m_model.window();
  Kokkos::deep_copy(Kokkos::subview(m_inputs, Kokkos::ALL, std::make_pair(0L, window)), prediction);
  Kokkos::deep_copy(m_host, m_inputs);
  for (long& s : m_starts) s += window;
  write_conditions();
}

template <class T>
const Matrix<T>& Rollout<T>::targets() {
  const long window = m_model.window(), n = m_sample.nodes, batch = this->batch();
  nn::ensure_shape(m_targets, "karman::mppde::targets", batch * n, window);
  auto host = Kokkos::create_mirror_view(m_targets);
  for (long b = 0; b < batch; ++b)
    for (long i = 0; i < n; ++i)
      for (long l = 0; l < window; ++l)
        host(b * n + i, l) = static_cast<T>(m_data.value(m_trajectories[b], m_starts[b] + l, i));
  Kokkos::deep_copy(m_targets, host);
  return m_targets;
}

template <class T>
double Rollout<T>::pushforward_loss(nn::Workspace<T>& workspace,
                                    const std::vector<long>& trajectories,
                                    const std::vector<long>& starts, long unroll, double normaliser,
                                    const nn::Gradient<T>& gradient) {
  load(trajectories, starts);
  for (long r = 0; r < unroll; ++r) {  // no gradient: the next step reuses the contexts
    workspace.reset();
    feed_back(predict(workspace).h_out);
  }
  workspace.reset();
  nn::GraphContext<T>& step = predict(workspace);
  nn::ensure_shape(m_dprediction, "karman::mppde::dprediction", step.h_out.extent(0),
                   step.h_out.extent(1));
  const double loss = squared_error(step.h_out, targets(), m_dprediction, 1.0 / normaliser,
                                    m_sample.nodes, m_sample.owned_nodes());
  m_model.backward(step, m_dprediction, step.e_out, gradient);
  return loss / normaliser;
}

template <class T>
typename Rollout<T>::AccumulatedError Rollout<T>::accumulated_error(nn::Workspace<T>& workspace,
                                                                    long first, long count,
                                                                    long ground_truth_windows,
                                                                    long batch) {
  const long window = m_model.window(), n = m_sample.nodes;
  const long start = window * ground_truth_windows;
  KARMAN_VERIFY(start >= window && start + window <= m_data.steps,
                "accumulated_error: the first predicted window does not fit the trajectories");
  AccumulatedError out;
  out.per_trajectory.assign(count, 0.0);
  out.windows = (m_data.steps - start) / window;
  const Matrix<T> none;
  for (long first_in_batch = 0; first_in_batch < count; first_in_batch += batch) {
    const long size = std::min(batch, count - first_in_batch);
    std::vector<long> trajectories(size);
    for (long b = 0; b < size; ++b) trajectories[b] = first + first_in_batch + b;
    load(trajectories, std::vector<long>(size, start));
    for (long w = 0; w < out.windows; ++w) {
      const Timer clock;
      workspace.reset();
      const Matrix<T> prediction = predict(workspace).h_out;
      Kokkos::fence();
      out.rollout_s += clock.seconds();
      // Per trajectory of the batch: its rows [b·n, (b + 1)·n).
      const Matrix<T>& y = targets();
      for (long b = 0; b < size; ++b) {
        const auto rows = std::make_pair(b * n, (b + 1) * n);
        out.per_trajectory[first_in_batch + b] +=
            squared_error(Matrix<T>(Kokkos::subview(prediction, rows, Kokkos::ALL)),
                          Matrix<T>(Kokkos::subview(y, rows, Kokkos::ALL)), none, 1.0, n,
                          m_sample.owned_nodes()) /
            static_cast<double>(m_sample.all_nodes());
      }
      if (w + 1 < out.windows) {
        const Timer feed;
        feed_back(prediction);
        out.rollout_s += feed.seconds();
      }
    }
  }
  return out;
}

PushforwardBatch pushforward_batch(const PushforwardSchedule& schedule, long step) {
  const long per_epoch = schedule.steps_per_epoch(), per_pass = schedule.batches_per_pass();
  const long epoch = step / per_epoch, within = step % per_epoch;
  const long pass = within / per_pass, index = within % per_pass;
  const std::uint64_t seed = schedule.seed;
  const std::vector<long> order = epoch_permutation(
      schedule.trajectories,
      mix64(seed ^ static_cast<std::uint64_t>(epoch * schedule.passes + pass + 1)));
  const long first = index * schedule.batch;
  const long size = std::min(schedule.batch, schedule.trajectories - first);
  PushforwardBatch out;
  const long max_unroll = std::min(epoch, schedule.unrolling);
  out.unroll =
      std::min(max_unroll, static_cast<long>(uniform01(mix64(seed + 7), step) * (max_unroll + 1)));
  const long window = schedule.window;
  const long lowest = window, highest = schedule.steps - window - window * out.unroll;
  for (long b = 0; b < size; ++b) {
    out.trajectories.push_back(order[first + b]);
    const double r =
        uniform01(mix64(seed + 11), static_cast<std::uint64_t>(step * schedule.batch + b));
    out.starts.push_back(lowest +
                         std::min(highest - lowest, static_cast<long>(r * (highest - lowest + 1))));
  }
  return out;
}

std::vector<double> accumulated_error(const Trajectories& data, const std::vector<double>& pred,
                                      long first_trajectory, long count, long first_step,
                                      long end_step) {
  KARMAN_VERIFY(static_cast<long>(pred.size()) == count * data.steps * data.nodes,
                "accumulated_error: predictions must be [count, steps, nodes]");
  std::vector<double> out(count, 0.0);
  for (long k = 0; k < count; ++k)
    for (long s = first_step; s < end_step; ++s)
      for (long i = 0; i < data.nodes; ++i) {
        const double d =
            pred[(k * data.steps + s) * data.nodes + i] - data.value(first_trajectory + k, s, i);
        out[k] += d * d / static_cast<double>(data.nodes);
      }
  return out;
}

template class Rollout<float>;
template class Rollout<double>;

}  // namespace karman::mppde
