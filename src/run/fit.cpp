// kind: fit — an MLP fitted to samples of an expression (regression). The smallest complete use
// of the NN core: data split over ranks, mini-batches, stages of optimizers, checkpoints and
// resume, the NaN guard, and a test error measured on held-out samples and on a grid.

#include "karman/run/fit.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>

#include "karman/config/case.hpp"
#include "karman/core/log.hpp"
#include "karman/core/partition.hpp"
#include "karman/core/random.hpp"
#include "karman/core/stage_timer.hpp"
#include "karman/io/hdf5.hpp"
#include "karman/io/xdmf.hpp"
#include "karman/nn/case_sections.hpp"
#include "karman/nn/network.hpp"
#include "karman/nn/sequential.hpp"
#include "karman/run/method.hpp"
#include "karman/run/outputs.hpp"

namespace karman::run {
namespace {

struct FitSpec {
  std::optional<Expression> target;
  mesh::GridShape box;  // dim, lower, upper; n is the evaluation grid
  long train = 4096, test = 4096;
  std::uint64_t sample_seed = 1;
  nn::MlpSpec model;
  nn::TrainingSpec training;
};

FitSpec read_fit(const config::Node& root) {
  FitSpec spec;
  spec.target = root.expression("target");
  config::Node domain = root.child("domain");
  spec.box.dim = static_cast<int>(domain.integer("dim", 2, 1, 3));
  auto lower = domain.has("lower") ? domain.numbers("lower", spec.box.dim)
                                   : std::vector<double>(spec.box.dim, 0.0);
  auto upper = domain.has("upper") ? domain.numbers("upper", spec.box.dim)
                                   : std::vector<double>(spec.box.dim, 1.0);
  for (int d = 0; d < spec.box.dim; ++d) {
    spec.box.lower[d] = lower[d];
    spec.box.upper[d] = upper[d];
    if (!(upper[d] > lower[d])) domain.fail("upper", "expected upper > lower in every dimension");
  }
  config::Node samples = root.child("samples");
  spec.train = samples.integer("train", 4096, 1);
  spec.test = samples.integer("test", 4096, 1);
  spec.sample_seed = static_cast<std::uint64_t>(samples.integer("seed", 1, 0));
  spec.model = nn::read_mlp(root.child_or_empty("model"));
  spec.training = nn::read_training(root.child("training"));
  const long n = root.child_or_empty("evaluation").integer("n", spec.box.dim == 3 ? 33 : 65, 2);
  for (int d = 0; d < spec.box.dim; ++d) spec.box.n[d] = n;
  return spec;
}

// The network sees coordinates mapped to [-1, 1] (centred inputs suit tanh-like activations).
double spec_unit(const mesh::GridShape& box, int d, double p) {
  return 2.0 * (p - box.lower[d]) / (box.upper[d] - box.lower[d]) - 1.0;
}

// Samples x_i uniform in the box (coordinate d of sample i is draw i·dim + d of the stream), and
// targets f(x_i): rank-independent, whichever rank holds a row.
template <class T>
void make_samples(const FitSpec& spec, std::uint64_t stream, long first, long count,
                  nn::Matrix<T>& x, nn::Matrix<T>& y) {
  const int dim = spec.box.dim;
  x = nn::Matrix<T>("karman::fit::x", count, dim);
  y = nn::Matrix<T>("karman::fit::y", count, 1);
  auto hx = Kokkos::create_mirror_view(x);
  auto hy = Kokkos::create_mirror_view(y);
  for (long i = 0; i < count; ++i) {
    double p[3] = {0, 0, 0};
    for (int d = 0; d < dim; ++d) {
      const double u = uniform01(stream, static_cast<std::uint64_t>((first + i) * dim + d));
      p[d] = spec.box.lower[d] + u * (spec.box.upper[d] - spec.box.lower[d]);
      hx(i, d) = static_cast<T>(spec_unit(spec.box, d, p[d]));
    }
    hy(i, 0) = static_cast<T>((*spec.target)(p[0], p[1], p[2]));
  }
  Kokkos::deep_copy(x, hx);
  Kokkos::deep_copy(y, hy);
}

// Relative L2 and max-abs error of the network on distributed samples (x, y).
template <class T>
std::pair<double, double> test_error(MPI_Comm comm, nn::Network<T>& net, const nn::Matrix<T>& x,
                                     const nn::Matrix<T>& y) {
  auto prediction = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), net.forward(x).y);
  auto target = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y);
  double local[2] = {0, 0}, local_max = 0, sums[2], max_abs;
  for (std::size_t i = 0; i < target.extent(0); ++i) {
    const double r = double(prediction(i, 0)) - double(target(i, 0));
    local[0] += r * r;
    local[1] += double(target(i, 0)) * double(target(i, 0));
    local_max = std::max(local_max, std::abs(r));
  }
  MPI_Allreduce(local, sums, 2, MPI_DOUBLE, MPI_SUM, comm);
  MPI_Allreduce(&local_max, &max_abs, 1, MPI_DOUBLE, MPI_MAX, comm);
  return {std::sqrt(sums[0] / sums[1]), max_abs};
}

template <class T>
class FitRun {
 public:
  FitRun(const FitSpec& spec, RunContext& ctx) : m_spec(spec), m_ctx(ctx) {
    const ScopedStage setup_stage(Stage::setup);
    m_net = std::make_unique<nn::Network<T>>(
        nn::make_network<T>(spec.model, static_cast<std::size_t>(spec.box.dim), 1),
        spec.model.seed);
    const ScopedStage data_stage(Stage::data);
    auto [first, count] = my_rows(spec.train);
    make_samples<T>(spec, spec.sample_seed, first, count, m_x, m_y);
    auto [test_first, test_count] = my_share(ctx.comm, spec.test);
    make_samples<T>(spec, mix64(spec.sample_seed + 1), test_first, test_count, m_x_test, m_y_test);
    m_batch = spec.training.batch_size > 0 && spec.training.batch_size < spec.train
                  ? spec.training.batch_size
                  : spec.train;
  }

  std::string run() {
    log().info("MLP {} parameters, {} training samples ({} per step), {} test samples",
               m_net->parameters().size(), m_spec.train, m_batch, m_spec.test);
    auto validate = [this] { return test_error(m_ctx.comm, *m_net, m_x_test, m_y_test).first; };
    nn::TrainingResult result =
        chunked() ? train<T>(m_ctx, m_net->parameters(), chunked_loss(), m_spec.training.trainer,
                             validate)
                  : train<T>(
                        m_ctx, m_net->parameters(), [this](long step) { return loss(step); },
                        m_spec.training.trainer, validate);

    std::optional<ScopedStage> evaluation(std::in_place, Stage::evaluation);
    auto [rel_l2, max_abs] = test_error(m_ctx.comm, *m_net, m_x_test, m_y_test);
    log().info("test set: rel_l2 {:.3e}, max_abs {:.3e} after {} steps ({})", rel_l2, max_abs,
               result.steps, result.stop_reason);
    write_fields();
    evaluation.reset();
    write_history(m_ctx, result, "test_rel_l2");
    nlohmann::json metrics = {{"final_loss", result.final_loss},
                              {"rel_l2", rel_l2},
                              {"max_abs", max_abs},
                              {"train_wall_s", result.wall_s},
                              {"steps", result.steps},
                              {"stop_reason", result.stop_reason},
                              {"stages", stages_json(result)},
                              {"params", m_net->parameters().size()}};
    (*m_ctx.report)["metrics"] = metrics;
    if (result.stop_reason == "non_finite") {
      m_ctx.message = result.message;
      return "diverged";
    }
    return "ok";
  }

 private:
  // The loss on rows [first, first + count) of this rank's rows at `step` (count < 0: all of
  // them). The rows are this rank's part of step `step`'s mini-batch (rows of a seeded
  // permutation of the global training set, reshuffled every epoch); full-batch training uses the
  // rank's own rows as they are.
  std::vector<nn::LossTerm> loss(long step, long first = 0, long count = -1) {
    const nn::Matrix<T>* x = &m_x;
    const nn::Matrix<T>* y = &m_y;
    if (m_batch < m_spec.train) {
      if (step != m_batch_step) gather_batch(step);  // chunks of one step share the gather
      m_batch_step = step;
      x = &m_x_batch;
      y = &m_y_batch;
    }
    nn::ensure_shape(m_dy, "karman::fit::dy", x->extent(0), 1);
    if (count < 0) count = static_cast<long>(x->extent(0));
    const auto rows = std::make_pair(first, first + count);
    const nn::Matrix<T> xs = Kokkos::subview(*x, rows, Kokkos::ALL);
    const nn::Matrix<T> ys = Kokkos::subview(*y, rows, Kokkos::ALL);
    const nn::Matrix<T> dy = Kokkos::subview(m_dy, rows, Kokkos::ALL);
    nn::Context<T>& forward = m_net->forward(xs);
    const T value = nn::mse_loss(forward.y, ys, dy, static_cast<double>(m_batch));
    m_net->backward(forward, dy);
    return {{"data", 1.0, static_cast<double>(value)}};
  }

  // training.reproducible (on by default in float64): the training set, or each mini-batch, in
  // training.chunks fixed chunks summed in a fixed order; each rank holds whole chunks.
  bool chunked() const { return nn::reproducible_sums<T>(m_spec.training); }

  nn::ChunkedLoss chunked_loss() {
    const long chunks = m_spec.training.chunks;
    return {chunks,
            [this, chunks, mine = my_rows(m_batch).first](long step, long chunk) {
              const auto [first, count] = share(m_batch, chunk, chunks);
              return loss(step, first - mine, count);
            },
            {}};
  }

  // This rank's rows [first, first + count) of `total` (the training set or a mini-batch): its
  // whole chunks when chunked, else its even share.
  std::pair<long, long> my_rows(long total) const {
    if (!chunked()) return my_share(m_ctx.comm, total);
    const long chunks = m_spec.training.chunks;
    const auto [first, count] = my_share(m_ctx.comm, chunks);
    const long begin = share(total, first, chunks).first;
    return {begin, share(total, first + count, chunks).first - begin};
  }

  void gather_batch(long step);

  void write_fields() {
    mesh::StructuredGrid grid(m_ctx.comm, m_spec.box);
    const long n = grid.local_size();
    nn::Matrix<T> points("karman::fit::grid_points", n, m_spec.box.dim);
    auto host = Kokkos::create_mirror_view(points);
    std::vector<double> exact;
    long row = 0;
    grid.sample([&](double x, double y, double z) {
      const double p[3] = {x, y, z};
      for (int d = 0; d < m_spec.box.dim; ++d)
        host(row, d) = static_cast<T>(spec_unit(m_spec.box, d, p[d]));
      exact.push_back((*m_spec.target)(x, y, z));
      ++row;
      return 0.0;
    });
    Kokkos::deep_copy(points, host);
    auto predicted =
        Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_net->forward(points).y);
    std::vector<double> prediction(n), error(n);
    for (long i = 0; i < n; ++i) {
      prediction[i] = predicted(i, 0);
      error[i] = prediction[i] - exact[i];
    }
    io::FieldWriter writer(m_ctx.dir->staged("fields.h5"), grid);
    writer.attribute("case", m_ctx.case_name);
    writer.attribute("kind", std::string("fit"));
    writer.attribute("config", m_ctx.resolved_yaml);
    writer.write_field("prediction", prediction);
    writer.write_field("exact", exact);
    writer.write_field("error", error);
    writer.close();
    const std::string xdmf = m_ctx.dir->staged("fields.xdmf");
    if (m_ctx.rank == 0) io::write_xdmf(xdmf, "fields.h5", grid, {"prediction", "exact", "error"});
  }

  const FitSpec& m_spec;
  RunContext& m_ctx;
  std::unique_ptr<nn::Network<T>> m_net;
  long m_batch;
  nn::Matrix<T> m_x, m_y, m_x_test, m_y_test, m_dy;  // [rows, dim], [rows, 1]
  nn::Matrix<T> m_x_batch, m_y_batch;                // this rank's share of a mini-batch
  std::unique_ptr<EpochBatches> m_batches;
  long m_batch_step = -1;  // the step whose mini-batch m_x_batch holds
};

template <class T>
void FitRun<T>::gather_batch(long step) {
  // The last partial batch of an epoch is dropped so every step has m_batch.
  if (!m_batches)
    m_batches = std::make_unique<EpochBatches>(m_spec.train, m_batch, m_spec.training.shuffle_seed);
  const std::vector<long> batch = m_batches->batch(step);
  // This rank's rows of the batch, regenerated from the counter-based sampler (rank-independent).
  auto [first, count] = my_rows(m_batch);
  nn::ensure_shape(m_x_batch, "karman::fit::x_batch", count, m_spec.box.dim);
  nn::ensure_shape(m_y_batch, "karman::fit::y_batch", count, 1);
  auto hx = Kokkos::create_mirror_view(m_x_batch);
  auto hy = Kokkos::create_mirror_view(m_y_batch);
  const int dim = m_spec.box.dim;
  for (long i = 0; i < count; ++i) {
    const long sample = batch[first + i];
    double p[3] = {0, 0, 0};
    for (int d = 0; d < dim; ++d) {
      const double u = uniform01(m_spec.sample_seed, static_cast<std::uint64_t>(sample * dim + d));
      p[d] = m_spec.box.lower[d] + u * (m_spec.box.upper[d] - m_spec.box.lower[d]);
      hx(i, d) = static_cast<T>(spec_unit(m_spec.box, d, p[d]));
    }
    hy(i, 0) = static_cast<T>((*m_spec.target)(p[0], p[1], p[2]));
  }
  Kokkos::deep_copy(m_x_batch, hx);
  Kokkos::deep_copy(m_y_batch, hy);
}

class FitMethod : public Method {
 public:
  void read(const config::Node& root, const std::string& precision) override {
    m_spec = read_fit(root);
    m_precision = precision;
  }
  std::string summary() const override {
    std::string widths = std::to_string(m_spec.box.dim);
    for (auto w : m_spec.model.hidden) widths += "-" + std::to_string(w);
    return fmt::format("kind fit, MLP {}-1 {}, {} train samples, {} stage(s), {}", widths,
                       nn::to_string(m_spec.model.activation), m_spec.train,
                       m_spec.training.trainer.stages.size(), m_precision);
  }
  std::string run(RunContext& ctx) override {
    if (m_precision == "float32") return FitRun<float>(m_spec, ctx).run();
    return FitRun<double>(m_spec, ctx).run();
  }

 private:
  FitSpec m_spec;
  std::string m_precision;
};

}  // namespace

std::unique_ptr<Method> make_fit_method() { return std::make_unique<FitMethod>(); }

}  // namespace karman::run
