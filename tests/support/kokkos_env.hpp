#pragma once
// Kokkos for a test executable: initialised once, before the first test, finalised at exit.
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>

#include "karman/core/threads.hpp"

namespace karman::testing {

class KokkosEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!Kokkos::is_initialized()) karman::initialize_kokkos(/*threads=*/0);
  }
  void TearDown() override {
    if (Kokkos::is_initialized()) Kokkos::finalize();
  }
};

inline const bool kKokkosRegistered =
    (::testing::AddGlobalTestEnvironment(new KokkosEnvironment), true);

}  // namespace karman::testing
