#pragma once
// Device-callable math functions under one name for every supported Kokkos: 3.4 (Debian's) has
// them in Kokkos::Experimental, 4.x in Kokkos:: (and no longer in Experimental). Kernels call
// karman::kmath::sqrt(x) and compile against either.

#include <Kokkos_Core.hpp>

namespace karman::kmath {
#if KOKKOS_VERSION >= 40000
using Kokkos::exp;
using Kokkos::sqrt;
using Kokkos::tanh;
#else
using Kokkos::Experimental::exp;
using Kokkos::Experimental::sqrt;
using Kokkos::Experimental::tanh;
#endif
}  // namespace karman::kmath
