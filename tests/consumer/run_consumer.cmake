# run_consumer.cmake - build and run the downstream consumer project (script mode).
#
#   cmake -DMODE=<package|subdirectory|fetchcontent>
#         -DFOUNDRY_SOURCE_DIR=<repo> -DFOUNDRY_BUILD_DIR=<build tree>
#         -DCONSUMER_DIR=<tests/consumer> -DWORK_DIR=<scratch dir>
#         [-DGENERATOR=<gen>] [-DMAKE_PROGRAM=<path>] [-DCXX_COMPILER=<c++>]
#         [-DCXX_FLAGS=<flags>] [-DBUILD_TYPE=<cfg>] [-DCXX_FLAGS_CONFIG=<flags>]
#         [-DEXE_LINKER_FLAGS=<flags>] [-DWERROR=ON|OFF] -DEXPECTED_VERSION=<x.y.z>
#         -P run_consumer.cmake
#
# package:      follows the README's install commands: configures Foundry
#               from FOUNDRY_SOURCE_DIR into WORK_DIR/foundry-build with tests,
#               examples and benchmarks off, `cmake --build`, `cmake --install
#               --prefix WORK_DIR/prefix`, then configures the consumer with
#               CMAKE_PREFIX_PATH=WORK_DIR/prefix. (FOUNDRY_BUILD_DIR, the
#               test suite's own full build, is deliberately not installed: a
#               full build hides steps that only it triggers.)
# subdirectory: the consumer calls add_subdirectory(FOUNDRY_SOURCE_DIR).
# fetchcontent: the consumer uses FetchContent_Declare(foundry SOURCE_DIR ...).
# In every mode the consumer is built with the same compiler and flags, run,
# and its output checked.

cmake_minimum_required(VERSION 3.21)

foreach(_required IN ITEMS MODE FOUNDRY_SOURCE_DIR FOUNDRY_BUILD_DIR CONSUMER_DIR WORK_DIR
                           EXPECTED_VERSION)
  if(NOT DEFINED ${_required} OR "${${_required}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${_required}=... is required")
  endif()
endforeach()

# Runs a command; stops with its output when it fails. Output goes to <out_var>.
function(_run out_var what)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE _rc
    OUTPUT_VARIABLE _out
    ERROR_VARIABLE _out)
  if(NOT _rc EQUAL 0)
    string(REPLACE ";" " " _cmd "${ARGN}")
    message(FATAL_ERROR "consumer (${MODE}): ${what} failed (${_rc})\n$ ${_cmd}\n${_out}")
  endif()
  set(${out_var} "${_out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(_prefix "${WORK_DIR}/prefix")
set(_build "${WORK_DIR}/build")

set(_configure_args
  -S "${CONSUMER_DIR}" -B "${_build}"
  "-DFOUNDRY_CONSUMER_MODE=${MODE}"
  "-DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON")
if(GENERATOR)
  list(APPEND _configure_args -G "${GENERATOR}")
endif()
if(MAKE_PROGRAM)
  list(APPEND _configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND _configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
list(APPEND _configure_args "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
list(APPEND _configure_args "-DCMAKE_EXE_LINKER_FLAGS=${EXE_LINKER_FLAGS}")
if(BUILD_TYPE)
  string(TOUPPER "${BUILD_TYPE}" _cfg)
  list(APPEND _configure_args
    "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}"
    "-DCMAKE_CXX_FLAGS_${_cfg}=${CXX_FLAGS_CONFIG}")
endif()
if(WERROR)
  list(APPEND _configure_args "-DFOUNDRY_CONSUMER_WERROR=ON")
endif()

if(MODE STREQUAL "package")
  # The README's commands, with this build's generator and compiler.
  set(_foundry_build "${WORK_DIR}/foundry-build")
  set(_foundry_args -S "${FOUNDRY_SOURCE_DIR}" -B "${_foundry_build}"
    -DFOUNDRY_BUILD_TESTS=OFF -DFOUNDRY_BUILD_EXAMPLES=OFF -DFOUNDRY_BUILD_BENCH=OFF
    "-DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON")
  if(GENERATOR)
    list(APPEND _foundry_args -G "${GENERATOR}")
  endif()
  if(MAKE_PROGRAM)
    list(APPEND _foundry_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
  if(CXX_COMPILER)
    list(APPEND _foundry_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
  endif()
  list(APPEND _foundry_args "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
  _run(_out "foundry configure" "${CMAKE_COMMAND}" ${_foundry_args})
  _run(_out "foundry build" "${CMAKE_COMMAND}" --build "${_foundry_build}")
  _run(_out "install" "${CMAKE_COMMAND}" --install "${_foundry_build}" --prefix "${_prefix}")
  # Find the installed package directory (lib or lib64, depending on the platform).
  file(GLOB _config "${_prefix}/lib*/cmake/foundry/foundryConfig.cmake")
  if(NOT _config)
    message(FATAL_ERROR "consumer (package): no lib*/cmake/foundry/foundryConfig.cmake under ${_prefix}")
  endif()
  get_filename_component(_config_dir "${_config}" DIRECTORY)
  foreach(_f IN ITEMS
      "${_config_dir}/foundryConfigVersion.cmake"
      "${_config_dir}/foundryTargets.cmake"
      "${_config_dir}/Findxxhash.cmake"
      "${_prefix}/include/foundry/foundry.hpp"
      "${_prefix}/include/foundry/version.hpp")
    if(NOT EXISTS "${_f}")
      message(FATAL_ERROR "consumer (package): ${_f} was not installed")
    endif()
  endforeach()
  # Every Metal source under kernels/ must be installed, and its embedded header too.
  file(GLOB_RECURSE _metal RELATIVE "${FOUNDRY_SOURCE_DIR}/kernels" "${FOUNDRY_SOURCE_DIR}/kernels/*.metal")
  if(NOT _metal)
    message(FATAL_ERROR "consumer (package): no kernels/**/*.metal under ${FOUNDRY_SOURCE_DIR}")
  endif()
  foreach(_m IN LISTS _metal)
    foreach(_f IN ITEMS
        "${_prefix}/include/foundry/embedded/${_m}.hpp"
        "${_prefix}/include/foundry-kernels/kernels/${_m}")
      if(NOT EXISTS "${_f}")
        message(FATAL_ERROR "consumer (package): ${_f} was not installed")
      endif()
    endforeach()
  endforeach()
  list(APPEND _configure_args "-DCMAKE_PREFIX_PATH=${_prefix}")
else()
  list(APPEND _configure_args "-DFOUNDRY_SOURCE_DIR=${FOUNDRY_SOURCE_DIR}")
endif()

_run(_out "configure" "${CMAKE_COMMAND}" ${_configure_args})
message(STATUS "consumer (${MODE}) configured:\n${_out}")

if(MODE STREQUAL "package")
  # The package must come from the fresh install, not from anywhere else.
  file(STRINGS "${_build}/CMakeCache.txt" _dir_line REGEX "^foundry_DIR:")
  string(REGEX REPLACE "^foundry_DIR:[A-Z]+=" "" _found_dir "${_dir_line}")
  file(REAL_PATH "${_found_dir}" _found_dir)
  file(REAL_PATH "${_config_dir}" _expected_dir)
  if(NOT _found_dir STREQUAL _expected_dir)
    message(FATAL_ERROR "consumer (package): foundry was found in '${_found_dir}', expected '${_expected_dir}'")
  endif()
endif()

_run(_out "build" "${CMAKE_COMMAND}" --build "${_build}")
message(STATUS "consumer (${MODE}) built")

# Kernels compiled by the CPU backend at run time go to a fresh cache.
set(ENV{FOUNDRY_CACHE_DIR} "${WORK_DIR}/kernel-cache")
_run(_out "run" "${_build}/foundry_consumer")
message(STATUS "consumer (${MODE}) output:\n${_out}")

set(_expect
  "foundry ${EXPECTED_VERSION} \\(${MODE}\\)"
  "library kernel gemv_f16: 5 arguments, source has PolicyF16: yes"
  "own kernel consumer_gemv: epilogue emitted: yes"
  "ran consumer_gemv on the CPU backend: 37 rows, relative error below 1e-5")
foreach(_re IN LISTS _expect)
  if(NOT _out MATCHES "${_re}")
    message(FATAL_ERROR "consumer (${MODE}): output does not match '${_re}':\n${_out}")
  endif()
endforeach()
message(STATUS "consumer (${MODE}): OK")
