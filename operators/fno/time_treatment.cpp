#include "operators/fno/time_treatment.hpp"

#include <algorithm>

#include "karman/core/error.hpp"
#include "karman/core/extents.hpp"

namespace karman::fno {

TimeMode time_mode_from_name(const std::string& name) {
  if (name == "autoregressive") return TimeMode::autoregressive;
  if (name == "space_time") return TimeMode::space_time;
  KARMAN_VERIFY(name == "direct", "unknown FNO time treatment '" + name + "'");
  return TimeMode::direct;
}

std::string to_string(TimeMode mode) {
  switch (mode) {
    case TimeMode::autoregressive:
      return "autoregressive";
    case TimeMode::space_time:
      return "space_time";
    default:
      return "direct";
  }
}

std::vector<double> repeat_in_time(const std::vector<double>& data, long count, long channels,
                                   long points, long steps) {
  std::vector<double> out(static_cast<std::size_t>(count * channels * points * steps));
  for (long sc = 0; sc < count * channels; ++sc)  // sample and channel
    for (long p = 0; p < points; ++p)
      std::fill_n(out.begin() + (sc * points + p) * steps, steps, data[sc * points + p]);
  return out;
}

std::vector<double> time_last(const std::vector<double>& data, long count, long steps,
                              long points) {
  std::vector<double> out(data.size());
  for (long s = 0; s < count; ++s)
    for (long t = 0; t < steps; ++t)
      for (long p = 0; p < points; ++p)
        out[(s * points + p) * steps + t] = data[(s * steps + t) * points + p];
  return out;
}

std::vector<double> time_first(const std::vector<double>& data, long count, long steps,
                               long points) {
  std::vector<double> out(data.size());
  for (long s = 0; s < count; ++s)
    for (long t = 0; t < steps; ++t)
      for (long p = 0; p < points; ++p)
        out[(s * steps + t) * points + p] = data[(s * points + p) * steps + t];
  return out;
}

std::vector<double> trajectories(const std::vector<double>& inputs,
                                 const std::vector<double>& outputs, long count, long input_steps,
                                 long output_steps, long points) {
  const long in = input_steps * points, out = output_steps * points;
  std::vector<double> all;
  all.reserve(static_cast<std::size_t>(count * (in + out)));
  for (long s = 0; s < count; ++s) {
    all.insert(all.end(), inputs.begin() + s * in, inputs.begin() + (s + 1) * in);
    all.insert(all.end(), outputs.begin() + s * out, outputs.begin() + (s + 1) * out);
  }
  return all;
}

namespace {

// The file's layout: K channels in, T out, one evaluation.
class Direct final : public TimeTreatment {
 public:
  using TimeTreatment::TimeTreatment;
  TimeMode mode() const override { return TimeMode::direct; }
  long model_out() const override { return m_t; }
  std::vector<double> model_inputs(const std::vector<double>& inputs, long, long) const override {
    return inputs;
  }
  std::vector<double> model_outputs(const std::vector<double>& outputs, long, long) const override {
    return outputs;
  }
  std::vector<double> predict(const std::vector<double>& inputs, long count,
                              const std::vector<long>& space,
                              const Predictor& network) const override {
    return network(inputs, count, space);
  }
};

// The last K states -> the next one, rolled out T times.
class Autoregressive final : public TimeTreatment {
 public:
  using TimeTreatment::TimeTreatment;
  TimeMode mode() const override { return TimeMode::autoregressive; }
  long model_out() const override { return 1; }
  std::vector<double> model_inputs(const std::vector<double>&, long, long) const override {
    KARMAN_VERIFY(false, "the autoregressive FNO trains on windows of trajectories");
    return {};
  }
  std::vector<double> model_outputs(const std::vector<double>&, long, long) const override {
    KARMAN_VERIFY(false, "the autoregressive FNO trains on windows of trajectories");
    return {};
  }
  // No teacher forcing: step t sees the given states it still has and its own predictions.
  std::vector<double> predict(const std::vector<double>& inputs, long count,
                              const std::vector<long>& space,
                              const Predictor& network) const override {
    const long points = product(space);
    std::vector<double> window = inputs;  // [count, K, P], the last K states
    std::vector<double> rollout(static_cast<std::size_t>(count * m_t * points));  // [count, T, P]
    for (long t = 0; t < m_t; ++t) {
      const std::vector<double> next = network(window, count, space);  // [count, 1, P]
      for (long s = 0; s < count; ++s) {
        const auto state = next.begin() + s * points;
        std::copy(state, state + points, rollout.begin() + (s * m_t + t) * points);
        // Shift the window by one state: drop the oldest, append the prediction.
        const auto w = window.begin() + s * m_k * points;
        std::copy(w + points, w + m_k * points, w);
        std::copy(state, state + points, w + (m_k - 1) * points);
      }
    }
    return rollout;
  }
};

// A 3D FNO on [space…, T]: the given states repeated along time in, w(x, y, t) out.
class SpaceTime final : public TimeTreatment {
 public:
  using TimeTreatment::TimeTreatment;
  TimeMode mode() const override { return TimeMode::space_time; }
  long model_out() const override { return 1; }
  std::vector<long> model_grid(const std::vector<long>& space) const override {
    std::vector<long> grid = space;
    grid.push_back(m_t);
    return grid;
  }
  std::vector<double> model_inputs(const std::vector<double>& inputs, long count,
                                   long points) const override {
    return repeat_in_time(inputs, count, m_k, points, m_t);
  }
  std::vector<double> model_outputs(const std::vector<double>& outputs, long count,
                                    long points) const override {
    return time_last(outputs, count, m_t, points);
  }
  std::vector<double> predict(const std::vector<double>& inputs, long count,
                              const std::vector<long>& space,
                              const Predictor& network) const override {
    const long points = product(space);
    return time_first(network(model_inputs(inputs, count, points), count, model_grid(space)), count,
                      m_t, points);
  }
};

}  // namespace

std::unique_ptr<TimeTreatment> make_time_treatment(TimeMode mode, long input_steps,
                                                   long output_steps) {
  switch (mode) {
    case TimeMode::autoregressive:
      return std::make_unique<Autoregressive>(input_steps, output_steps);
    case TimeMode::space_time:
      return std::make_unique<SpaceTime>(input_steps, output_steps);
    default:
      return std::make_unique<Direct>(input_steps, output_steps);
  }
}

}  // namespace karman::fno
