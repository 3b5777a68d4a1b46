# Locate Karman's dependencies. Used by the build and, installed, by KarmanConfig.cmake, so a
# consumer's `find_package(Karman)` sees the same targets. Every dependency is a Debian package
# installed by tools/setup; nothing is downloaded.
include_guard(GLOBAL)
include(CMakeFindDependencyMacro)
find_package(PkgConfig REQUIRED)

# Karman links MPI::MPI_CXX; the C component is looked for only where C is enabled (a consumer
# project may enable CXX alone, and FindMPI cannot find a component of a disabled language).
get_property(_karman_languages GLOBAL PROPERTY ENABLED_LANGUAGES)
set(_karman_mpi_components CXX)
if("C" IN_LIST _karman_languages)
  list(APPEND _karman_mpi_components C)
endif()
find_dependency(MPI COMPONENTS ${_karman_mpi_components})

# Kokkos. Debian's Trilinos-built Kokkos 3.4 exports targets whose include path is wrong, so we
# build our own interface target from the variables its config file sets. A standalone Kokkos
# (any backend, pointed at by Kokkos_ROOT) exports a usable Kokkos::kokkos, which we prefer.
find_dependency(Kokkos)
if(NOT TARGET karman_kokkos)
  add_library(karman_kokkos INTERFACE IMPORTED GLOBAL)
  set(_karman_kokkos_target_usable FALSE)
  if(TARGET Kokkos::kokkos)
    get_target_property(_karman_kokkos_inc Kokkos::kokkos INTERFACE_INCLUDE_DIRECTORIES)
    set(_karman_kokkos_target_usable TRUE)
    foreach(_dir IN LISTS _karman_kokkos_inc)
      if(NOT _dir MATCHES "^\\$<" AND NOT EXISTS "${_dir}")
        set(_karman_kokkos_target_usable FALSE)
      endif()
    endforeach()
  endif()
  if(_karman_kokkos_target_usable)
    target_link_libraries(karman_kokkos INTERFACE Kokkos::kokkos)
  else()
    set(_karman_kokkos_libs)
    foreach(_lib IN LISTS Kokkos_LIBRARIES)
      find_library(_karman_kokkos_${_lib} NAMES ${_lib} HINTS ${Kokkos_LIBRARY_DIRS} REQUIRED)
      list(APPEND _karman_kokkos_libs "${_karman_kokkos_${_lib}}")
    endforeach()
    # Kokkos_INCLUDE_DIRS is relative to the config file and may not resolve: look for the header.
    find_path(KARMAN_KOKKOS_INCLUDE_DIR Kokkos_Core.hpp
      HINTS ${Kokkos_INCLUDE_DIRS} PATH_SUFFIXES trilinos kokkos REQUIRED)
    target_include_directories(karman_kokkos SYSTEM INTERFACE "${KARMAN_KOKKOS_INCLUDE_DIR}")
    target_link_libraries(karman_kokkos INTERFACE ${_karman_kokkos_libs} ${Kokkos_TPL_LIBRARIES})
  endif()
endif()

pkg_check_modules(PETSC REQUIRED IMPORTED_TARGET GLOBAL petsc)
pkg_check_modules(HDF5 REQUIRED IMPORTED_TARGET GLOBAL hdf5-openmpi)
pkg_check_modules(FFTW3 REQUIRED IMPORTED_TARGET GLOBAL fftw3)
# Single precision FFTW (libfftw3-dev ships both): the float32 spectral layers.
pkg_check_modules(FFTW3F REQUIRED IMPORTED_TARGET GLOBAL fftw3f)
pkg_check_modules(MUPARSER REQUIRED IMPORTED_TARGET GLOBAL muparser)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET GLOBAL openblas)
pkg_check_modules(LIBXSMM REQUIRED IMPORTED_TARGET GLOBAL libxsmm)
find_dependency(yaml-cpp)
find_dependency(spdlog)
find_dependency(fmt)
find_dependency(nlohmann_json)
# Only the karman executable uses CLI11: a consumer of the installed library does not need it.
if(NOT _karman_find_for_consumer)
  find_dependency(CLI11)
endif()
