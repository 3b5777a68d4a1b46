#include "operators/fno/conservation.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "karman/core/error.hpp"
#include "karman/core/log.hpp"
#include "karman/core/norms.hpp"
#include "karman/core/timer.hpp"
#include "karman/nn/conservation.hpp"

namespace karman::fno {
namespace {

// [count, points] host values as a device matrix, and back.
nn::Matrix<double> to_matrix(const std::vector<double>& values, long count, long points) {
  nn::Matrix<double> m("karman::fno::conservation::states", count, points);
  auto host = Kokkos::create_mirror_view(m);
  for (long s = 0; s < count; ++s)
    for (long p = 0; p < points; ++p) host(s, p) = values[s * points + p];
  Kokkos::deep_copy(m, host);
  return m;
}

std::vector<double> to_values(const nn::Matrix<double>& m) {
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
  return std::vector<double>(host.data(), host.data() + host.size());
}

// dx Σ_p u(s, p) of every instance s.  [count]
std::vector<double> grid_integrals(const std::vector<double>& u, long count, long points) {
  std::vector<double> out(count, 0.0);
  for (long s = 0; s < count; ++s) {
    for (long p = 0; p < points; ++p) out[s] += u[s * points + p];
    out[s] /= static_cast<double>(points);
  }
  return out;
}

// This rank's (Σ_s rel_l2, max_s |dx Σ û − dx Σ u0|) of predictions `u` [count, points].
std::array<double, 2> accuracy_and_conservation(const std::vector<double>& u,
                                                const std::vector<double>& outputs,
                                                const std::vector<double>& mass, long count,
                                                long points) {
  std::array<double, 2> out = {0.0, 0.0};
  const std::vector<double> predicted = grid_integrals(u, count, points);
  for (long s = 0; s < count; ++s) {
    out[0] += relative_l2(u, outputs, s * points, points);
    out[1] = std::max(out[1], std::abs(predicted[s] - mass[s]));
  }
  return out;
}

}  // namespace

ConservationSpec read_conservation(const config::Node& evaluation) {
  ConservationSpec spec;
  if (!evaluation.has("conservation")) return spec;
  spec.ensemble = evaluation.child("conservation").integer("ensemble", 3, 1, 64);
  return spec;
}

nlohmann::json conservation_metrics(MPI_Comm comm, const std::vector<double>& inputs,
                                    const std::vector<double>& outputs,
                                    const std::vector<double>& integrals,
                                    const std::vector<std::vector<double>>& members,
                                    const std::vector<double>& member_seconds, long count,
                                    long points, long total) {
  KARMAN_VERIFY(!members.empty() && members.size() == member_seconds.size(),
                "conservation_metrics: one prediction and one time per member");
  const double dx = 1.0 / static_cast<double>(points);
  const std::vector<double>& mass = integrals;
  KARMAN_VERIFY(static_cast<long>(mass.size()) == count,
                "conservation_metrics: one conserved integral per instance");
  std::vector<double> corrected;
  double correct_s = 0.0;
  std::vector<double> mean_values;
  if (count > 0) {
    std::vector<nn::Matrix<double>> predictions;
    for (const std::vector<double>& m : members) predictions.push_back(to_matrix(m, count, points));
    Timer timer;
    nn::Matrix<double> mean, variance;
    nn::ensemble_statistics(predictions, mean, variance);
    mean_values = to_values(mean);
    nn::Vector<double> target("karman::fno::conservation::mass", count);
    auto target_host = Kokkos::create_mirror_view(target);
    for (long s = 0; s < count; ++s) target_host(s) = mass[s];
    Kokkos::deep_copy(target, target_host);
    nn::conserve_integral(mean, variance, target, dx);
    Kokkos::fence();
    correct_s = timer.seconds();
    corrected = to_values(mean);
  }
  // Sums of rel_l2 and maxima of the conservation errors over ranks: single, without, with, data.
  const auto single = accuracy_and_conservation(members[0], outputs, mass, count, points);
  const auto without = accuracy_and_conservation(mean_values, outputs, mass, count, points);
  const auto with = accuracy_and_conservation(corrected, outputs, mass, count, points);
  const auto data = accuracy_and_conservation(outputs, outputs, mass, count, points);
  const auto input = accuracy_and_conservation(inputs, inputs, mass, count, points);
  double sums[3] = {single[0], without[0], with[0]};
  double worst[5] = {single[1], without[1], with[1], data[1], input[1]};
  // Inference with the correction, per instance: M inferences, the statistics and the update.
  double seconds =
      count > 0 ? (correct_s + std::accumulate(member_seconds.begin(), member_seconds.end(), 0.0)) /
                      static_cast<double>(count)
                : 0.0;
  MPI_Allreduce(MPI_IN_PLACE, sums, 3, MPI_DOUBLE, MPI_SUM, comm);
  MPI_Allreduce(MPI_IN_PLACE, worst, 5, MPI_DOUBLE, MPI_MAX, comm);
  MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, comm);
  const double n = static_cast<double>(total);
  const long m = static_cast<long>(members.size());
  log().info(
      "conservation (ProbConserv, variance of an ensemble of {}): max |dx Σu(1) − ∫u0| {:.3e} "
      "without, {:.3e} with (one model {:.3e}; the data {:.1e}); rel_l2 {:.3e} without, {:.3e} "
      "with (one model {:.3e}); the inputs' own grid sums {:.1e}",
      m, worst[1], worst[2], worst[0], worst[3], sums[1] / n, sums[2] / n, sums[0] / n, worst[4]);
  return {{"ensemble", m},
          {"variance", "ensemble: biased variance across the members' predictions"},
          {"error_without", worst[1]},
          {"error_with", worst[2]},
          {"rel_l2_without", sums[1] / n},
          {"rel_l2_with", sums[2] / n},
          {"single_model", {{"error", worst[0]}, {"rel_l2", sums[0] / n}}},
          {"data_error", worst[3]},
          {"input_integral", worst[4]},
          {"infer_s_per_sample_with", seconds}};
}

}  // namespace karman::fno
