# Install and package-config check (ctest: install_package), run as `cmake -P`:
#   1. cmake --install the current build tree into <work>/prefix,
#   2. configure and build this folder (a find_package(Karman) consumer) against that prefix,
#   3. run the consumer, and the installed <prefix>/bin/karman info without LD_LIBRARY_PATH
#      (so it finds libkarman through its RPATH).
# Inputs (-D): KARMAN_BUILD_DIR, KARMAN_CONSUMER_SOURCE_DIR, KARMAN_WORK_DIR, KARMAN_VERSION,
# KARMAN_CONFIG (build type), KARMAN_GENERATOR, KARMAN_CXX_COMPILER.
cmake_minimum_required(VERSION 3.18)

foreach(var KARMAN_BUILD_DIR KARMAN_CONSUMER_SOURCE_DIR KARMAN_WORK_DIR KARMAN_VERSION)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_install.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT KARMAN_CONFIG)
  set(KARMAN_CONFIG Release)
endif()

set(prefix "${KARMAN_WORK_DIR}/prefix")
set(consumer_build "${KARMAN_WORK_DIR}/consumer-build")
# Fresh every time: a stale header or cache entry must not hide a broken install.
file(REMOVE_RECURSE "${prefix}" "${consumer_build}")
# The installed files alone must be enough: nothing from the build tree on the library path.
unset(ENV{LD_LIBRARY_PATH})

function(step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "install check: ${name} failed (${status}):\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
  message(STATUS "install check: ${name}: ok")
endfunction()

step("cmake --install" "${CMAKE_COMMAND}" --install "${KARMAN_BUILD_DIR}" --prefix "${prefix}"
     --config "${KARMAN_CONFIG}")

set(configure_args -S "${KARMAN_CONSUMER_SOURCE_DIR}" -B "${consumer_build}"
    "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_BUILD_TYPE=${KARMAN_CONFIG}")
if(KARMAN_GENERATOR)
  list(APPEND configure_args -G "${KARMAN_GENERATOR}")
endif()
if(KARMAN_CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${KARMAN_CXX_COMPILER}")
endif()
step("configure the consumer" "${CMAKE_COMMAND}" ${configure_args})
# find_package(Karman) must have used the installed package, not the build tree's.
file(STRINGS "${consumer_build}/CMakeCache.txt" karman_dir REGEX "^Karman_DIR:")
string(REGEX REPLACE "^Karman_DIR:[A-Z]+=" "" karman_dir "${karman_dir}")
file(REAL_PATH "${prefix}" real_prefix)
file(REAL_PATH "${karman_dir}" real_karman_dir)
string(FIND "${real_karman_dir}" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "install check: the consumer found Karman in '${karman_dir}', not under '${prefix}'")
endif()

step("build the consumer" "${CMAKE_COMMAND}" --build "${consumer_build}" --config "${KARMAN_CONFIG}"
     --parallel 2)

set(consumer "${consumer_build}/consumer")
if(NOT EXISTS "${consumer}")  # multi-config generators
  set(consumer "${consumer_build}/${KARMAN_CONFIG}/consumer")
endif()
step("run the consumer" "${consumer}")
message(STATUS "${step_output}")

set(karman "${prefix}/bin/karman")
if(NOT EXISTS "${karman}")
  message(FATAL_ERROR "install check: '${karman}' was not installed")
endif()
step("${karman} info" "${karman}" info)
if(NOT step_output MATCHES "karman ${KARMAN_VERSION}")
  message(FATAL_ERROR "install check: 'karman info' printed no 'karman ${KARMAN_VERSION}':\n${step_output}")
endif()
message(STATUS "${step_output}")

# `karman post` finds its figure script beside the installed executable's prefix.
set(post_script "${prefix}/share/karman/post/karman_post.py")
if(NOT EXISTS "${post_script}")
  message(FATAL_ERROR "install check: '${post_script}' (karman post's figures) was not installed")
endif()
