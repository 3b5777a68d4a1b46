#pragma once
// How an FNO treats the time records of a Navier–Stokes sample (kind fno, `model.time`).
//
// A file sample holds K given states and T states to predict, channels-first on the periodic
// grid of P = ny·nx points (karman/data/operator_dataset.hpp):
//   inputs [K, P] = w(t = 1 … K),   outputs [T, P] = w(t = K+1 … K+T).
// The three treatments of Li et al. (2021) map them to what the FNO sees:
//   direct          a 2D FNO, K channels in, T channels out, all at once (the file's own layout);
//   autoregressive  fourier_2d_time.py: a 2D FNO from the last K states to the next one, rolled out
//                   T times feeding its predictions back; trained one step at a time on every
//                   window of K + 1 consecutive states of a trajectory (states t … t+K−1 ↦
//                   state t+K, t = 0 … T−1, taken from trajectories());
//   space_time      fourier_3d.py: a 3D FNO on the grid [ny, nx, T] (time the last, fastest
//                   dimension), its K input channels the given states each repeated along time,
//                   one output channel w(x, y, t).
// Model samples are channels-first as well ([C, P_model], P_model the model grid's points), so
// one Predictor serves every treatment; the FNO application turns them channels-last.
// Plain std::vector<double> code: the conversions copy every value once and are not on any hot
// path (the network forward is), which keeps them testable without a model.

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace karman::fno {

enum class TimeMode { direct, autoregressive, space_time };

TimeMode time_mode_from_name(const std::string& name);  // "direct" | "autoregressive" | ...
std::string to_string(TimeMode mode);

// One network evaluation: model inputs [count, C_in, P_model] on the model grid `grid` (raw units)
// -> model outputs [count, C_out, P_model].
using Predictor = std::function<std::vector<double>(const std::vector<double>& inputs, long count,
                                                    const std::vector<long>& grid)>;

class TimeTreatment {
 public:
  TimeTreatment(long input_steps, long output_steps) : m_k(input_steps), m_t(output_steps) {}
  virtual ~TimeTreatment() = default;

  long input_steps() const { return m_k; }
  long output_steps() const { return m_t; }

  virtual TimeMode mode() const = 0;
  // Channels of the network (before its grid features).
  virtual long model_in() const { return m_k; }
  virtual long model_out() const = 0;
  // The model grid for the spatial grid `space` (slowest first).
  virtual std::vector<long> model_grid(const std::vector<long>& space) const { return space; }

  // File samples -> model samples, for the treatments trained on whole samples (all but
  // autoregressive, which trains on windows): inputs [count, K, P] -> [count, C_in, P_model],
  // outputs [count, T, P] -> [count, C_out, P_model].
  virtual std::vector<double> model_inputs(const std::vector<double>& inputs, long count,
                                           long points) const = 0;
  virtual std::vector<double> model_outputs(const std::vector<double>& outputs, long count,
                                            long points) const = 0;

  // The prediction of the outputs [count, T, P] (file layout) from the inputs [count, K, P] on
  // the spatial grid `space`, `network` evaluating the model.
  virtual std::vector<double> predict(const std::vector<double>& inputs, long count,
                                      const std::vector<long>& space,
                                      const Predictor& network) const = 0;

 protected:
  long m_k, m_t;  // K given states, T predicted states
};

// `direct` for the problems without time records (K = T = 1 then: in and out channels).
std::unique_ptr<TimeTreatment> make_time_treatment(TimeMode mode, long input_steps,
                                                   long output_steps);

// --- the layout conversions, exposed for tests -------------------------------------------------

// [count, C, P] -> [count, C, P·steps]: value (c, p) at every (c, p·steps + t).
std::vector<double> repeat_in_time(const std::vector<double>& data, long count, long channels,
                                   long points, long steps);
// [count, T, P] -> [count, 1, P·T] (time the fastest index) and back.
std::vector<double> time_last(const std::vector<double>& data, long count, long steps, long points);
std::vector<double> time_first(const std::vector<double>& data, long count, long steps,
                               long points);
// Whole trajectories [count, K + T, P]: the inputs then the outputs of each sample.
std::vector<double> trajectories(const std::vector<double>& inputs,
                                 const std::vector<double>& outputs, long count, long input_steps,
                                 long output_steps, long points);

}  // namespace karman::fno
