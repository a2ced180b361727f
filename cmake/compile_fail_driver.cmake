# compile_fail_driver.cmake - body of a negative compile test (script mode).
#
#   cmake -DCOMPILER=<c++> [-DCOMPILER_ID=<GNU|Clang|...>] [-DFLAGS="<flags>"]
#         [-DINCLUDES=<dir>|<dir>...] [-DDEFINES=<def>|<def>...]
#         [-DIMPLICIT_INCLUDES=<dir>|<dir>...]   # left out of -I
#         -DSOURCE=<file.cpp> -DREGEX=<regex> -P compile_fail_driver.cmake
#
# Succeeds only when compiling SOURCE fails and the diagnostics match REGEX.

cmake_minimum_required(VERSION 3.21)

foreach(_required IN ITEMS COMPILER SOURCE REGEX)
  if(NOT DEFINED ${_required} OR "${${_required}}" STREQUAL "")
    message(FATAL_ERROR "compile_fail_driver.cmake: -D${_required}=... is required")
  endif()
endforeach()

separate_arguments(_flags UNIX_COMMAND "${FLAGS}")

set(_args ${_flags} -std=c++20 -fsyntax-only)
if(COMPILER_ID MATCHES "GNU|Clang")
  list(APPEND _args -fdiagnostics-color=never)
endif()

string(REPLACE "|" ";" _includes "${INCLUDES}")
string(REPLACE "|" ";" _implicit "${IMPLICIT_INCLUDES}")
list(REMOVE_DUPLICATES _includes)
foreach(_dir IN LISTS _includes)
  if(NOT _dir STREQUAL "" AND NOT _dir IN_LIST _implicit)
    list(APPEND _args "-I${_dir}")
  endif()
endforeach()
string(REPLACE "|" ";" _defines "${DEFINES}")
foreach(_def IN LISTS _defines)
  if(NOT _def STREQUAL "")
    list(APPEND _args "-D${_def}")
  endif()
endforeach()

# Keep diagnostics in plain ASCII quotes where the compiler honours the locale.
set(ENV{LC_ALL} C)

execute_process(
  COMMAND "${COMPILER}" ${_args} "${SOURCE}"
  RESULT_VARIABLE _result
  OUTPUT_VARIABLE _out
  ERROR_VARIABLE _out)

string(REPLACE ";" " " _shown_args "${_args}")
if(_result EQUAL 0)
  message(FATAL_ERROR
    "compile-fail test: ${SOURCE} compiled successfully but was expected to fail.\n"
    "Command: ${COMPILER} ${_shown_args} ${SOURCE}\n${_out}")
endif()
if(NOT _out MATCHES "${REGEX}")
  message(FATAL_ERROR
    "compile-fail test: ${SOURCE} failed to compile as expected, but the diagnostics do "
    "not match the expected regex\n  ${REGEX}\n"
    "Command: ${COMPILER} ${_shown_args} ${SOURCE}\nOutput:\n${_out}")
endif()
message(STATUS "compile-fail test passed: ${SOURCE} was rejected with the expected diagnostic")
