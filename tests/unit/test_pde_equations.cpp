// The table of PDE traits (karman/config/pde_traits.hpp): one row per PdeType, names that
// round-trip through to_string, and properties that agree with the readers built on them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "karman/config/case.hpp"

using namespace karman;

TEST(PdeTraits, OneRowPerTypeWithRoundTrippingNames) {
  ASSERT_EQ(config::kPdeCount, 8u);
  for (const config::PdeTraits& t : config::kPdeTraits) {
    EXPECT_EQ(&config::traits(t.type), &t);
    EXPECT_STREQ(config::to_string(t.type), t.name);
    EXPECT_LE(t.min_dim, t.max_dim) << t.name;
    EXPECT_EQ(t.time_dependent, t.reference == config::ReferenceSolver::transient) << t.name;
    EXPECT_TRUE(!t.second_order_in_time || t.time_dependent) << t.name;
    EXPECT_TRUE(!t.pinn_geometry || t.pinn) << t.name;
    EXPECT_TRUE(!t.pinn_inverse || t.pinn) << t.name;
  }
}

TEST(PdeTraits, DescribeTheEquationsAsTheReadersDid) {
  using config::PdeType;
  // The properties that used to be spelled out as type lists in the readers.
  const std::vector<PdeType> time_dependent{PdeType::heat, PdeType::burgers, PdeType::allen_cahn,
                                            PdeType::wave};
  const std::vector<PdeType> one_dimensional{PdeType::burgers, PdeType::allen_cahn, PdeType::wave};
  const std::vector<PdeType> periodic{PdeType::burgers, PdeType::allen_cahn};
  auto in = [](const std::vector<PdeType>& list, PdeType type) {
    for (PdeType t : list)
      if (t == type) return true;
    return false;
  };
  for (const config::PdeTraits& t : config::kPdeTraits) {
    config::PdeSpec spec;
    spec.type = t.type;
    EXPECT_EQ(spec.time_dependent(), in(time_dependent, t.type)) << t.name;
    EXPECT_EQ(config::PdeSpec::one_dimensional(t.type), in(one_dimensional, t.type)) << t.name;
    EXPECT_EQ(config::PdeSpec::periodic(t.type), in(periodic, t.type)) << t.name;
    EXPECT_EQ(t.pinn, t.type != PdeType::darcy) << t.name;
    EXPECT_EQ(t.unknowns, t.type == PdeType::navier_stokes ? 3 : 1) << t.name;
    EXPECT_EQ(t.linear, t.type != PdeType::burgers && t.type != PdeType::allen_cahn &&
                            t.type != PdeType::navier_stokes)
        << t.name;
  }
  EXPECT_EQ(config::traits(PdeType::navier_stokes).min_dim, 2);
  EXPECT_EQ(config::traits(PdeType::navier_stokes).max_dim, 2);
  EXPECT_STREQ(config::traits(PdeType::helmholtz).default_pc, "lu");
  EXPECT_STREQ(config::traits(PdeType::darcy).default_source, "1");
  EXPECT_EQ(config::traits(PdeType::burgers).default_source, nullptr);
}
