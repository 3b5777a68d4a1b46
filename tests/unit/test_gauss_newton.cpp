// Gauss–Newton (natural gradient) on small least-squares problems with known minimisers:
// - Rosenbrock as residuals r = (10(y − x²), 1 − x) from (−1.2, 1): both linear solvers (dense SVD
//   pseudo-inverse, matrix-free CG) reach (1, 1) to 1e-10 in a handful of iterations;
// - a linear least-squares fit converges in one full step (η = 1);
// - the iteration cap is honoured exactly and the stop reason is reported.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>

#include "karman/nn/gauss_newton.hpp"
#include "support/kokkos_env.hpp"

using namespace karman::nn;

namespace {

// Parameters θ [2] and residuals written from host code (the problems are tiny).
struct Rosenbrock {
  Parameters<double> parameters;
  Rosenbrock(double x, double y) {
    parameters.declare("theta", 1, 2);
    parameters.allocate();
    auto v = Kokkos::create_mirror_view(parameters.values());
    v(0) = x, v(1) = y;
    Kokkos::deep_copy(parameters.values(), v);
  }
  LeastSquares<double> problem() {
    return {1, {2}, [this](std::size_t, const Vector<double>& r, const Matrix<double>& jacobian) {
              auto v =
                  Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.values());
              auto hr = Kokkos::create_mirror_view(r);
              hr(0) = 10 * (v(1) - v(0) * v(0));
              hr(1) = 1 - v(0);
              Kokkos::deep_copy(r, hr);
              if (jacobian.extent(0) > 0) {
                auto j = Kokkos::create_mirror_view(jacobian);
                j(0, 0) = -20 * v(0), j(0, 1) = 10, j(1, 0) = -1, j(1, 1) = 0;
                Kokkos::deep_copy(jacobian, j);
              }
              return std::vector<LossTerm>{{"rosenbrock", 1.0, hr(0) * hr(0) + hr(1) * hr(1)}};
            }};
  }
  std::pair<double, double> theta() const {
    auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.values());
    return {v(0), v(1)};
  }
};

}  // namespace

class GaussNewtonSolvers : public ::testing::TestWithParam<std::string> {};

TEST_P(GaussNewtonSolvers, RosenbrockResidualsConverge) {
  Rosenbrock rosenbrock(-1.2, 1.0);
  GaussNewtonOptions options;
  options.linear_solver = GetParam();
  options.max_iterations = 50;
  long reported = 0;
  const GaussNewtonResult r =
      gauss_newton_minimize(MPI_COMM_SELF, rosenbrock.parameters, rosenbrock.problem(), options,
                            [&](long k, double, const std::vector<LossTerm>& terms, double eta) {
                              reported = k;
                              EXPECT_EQ(terms.size(), 1u);
                              EXPECT_GT(eta, 0.0);
                            });
  const auto [x, y] = rosenbrock.theta();
  std::printf("    %s: %ld iterations, %ld evaluations, loss %.2e, stopped by %s\n",
              GetParam().c_str(), r.iterations, r.evaluations, r.loss, r.stop_reason.c_str());
  EXPECT_NEAR(x, 1.0, 1e-10);
  EXPECT_NEAR(y, 1.0, 1e-10);
  EXPECT_LT(r.iterations, 20);
  EXPECT_EQ(reported, r.iterations);
  EXPECT_EQ(r.stop_reason, "no_decrease");  // at the minimum, no step lowers a zero loss
}

INSTANTIATE_TEST_SUITE_P(LinearSolvers, GaussNewtonSolvers, ::testing::Values("svd", "cg"));

TEST(GaussNewton, HonoursTheIterationCapAndSaysSo) {
  Rosenbrock rosenbrock(-1.2, 1.0);
  GaussNewtonOptions options;
  options.max_iterations = 2;
  const GaussNewtonResult r =
      gauss_newton_minimize(MPI_COMM_SELF, rosenbrock.parameters, rosenbrock.problem(), options);
  EXPECT_EQ(r.iterations, 2);
  EXPECT_EQ(r.stop_reason, "max_iterations");
  EXPECT_EQ(r.evaluations, 1 + 2 * (options.line_search_points + 1));
}

TEST(GaussNewton, LinearLeastSquaresInOneFullStep) {
  // r_i = a·t_i + b − y_i on 5 points: linear in θ, so the Gauss–Newton step is exact.
  Parameters<double> parameters;
  parameters.declare("theta", 1, 2);
  parameters.allocate();
  const double t[5] = {0, 1, 2, 3, 4}, y[5] = {1.1, 2.9, 5.2, 7.1, 8.8};
  LeastSquares<double> fit{
      1, {5}, [&](std::size_t, const Vector<double>& r, const Matrix<double>& jacobian) {
        auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.values());
        auto hr = Kokkos::create_mirror_view(r);
        auto j = Kokkos::create_mirror_view(jacobian);
        for (int i = 0; i < 5; ++i) {
          hr(i) = v(0) * t[i] + v(1) - y[i];
          if (jacobian.extent(0) > 0) j(i, 0) = t[i], j(i, 1) = 1;
        }
        Kokkos::deep_copy(r, hr);
        if (jacobian.extent(0) > 0) Kokkos::deep_copy(jacobian, j);
        return std::vector<LossTerm>{};
      }};
  double first_eta = 0;
  GaussNewtonOptions options;
  gauss_newton_minimize(MPI_COMM_SELF, parameters, fit, options,
                        [&](long k, double, const std::vector<LossTerm>&, double eta) {
                          if (k == 1) first_eta = eta;
                        });
  auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.values());
  // Normal equations of the 5-point fit: a = Sty/Stt = 19.6/10, b = ȳ − a·t̄ = 5.02 − 3.92.
  EXPECT_NEAR(v(0), 1.96, 1e-12);
  EXPECT_NEAR(v(1), 1.10, 1e-12);
  EXPECT_EQ(first_eta, 1.0);
}
