# compile_fail_driver.cmake - body of a negative compile test (script mode).
#
#   cmake -DCOMPILER=<c++> [-DCOMPILER_ID=<GNU|Clang|...>] [-DFLAGS="<flags>"]
#         [-DINCLUDES=<dir>|<dir>...] [-DDEFINES=<def>|<def>...]
#         [-DIMPLICIT_INCLUDES=<dir>|<dir>...]   # left out of -I
#         -DSOURCE=<file.cpp> -DREGEX=<regex> [-DMAX_LINES=<n>]
#         -P compile_fail_driver.cmake
#
# Succeeds only when compiling SOURCE fails, the FIRST error line of the
# diagnostics matches REGEX and (with MAX_LINES) the compiler printed at most
# MAX_LINES lines. On clang a compile-time message arrives in pieces of at most
# 36 characters (`foundry::error_piece{"..."}`, see core/ct_error.hpp); the
# pieces are joined (runs of spaces collapsed) before matching.

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
# The first line holding an error (not a note, not "In instantiation of").
string(REGEX MATCH "[^\n]*error: [^\n]*" _first "${_out}")
string(REGEX REPLACE " *\"}, foundry::error_piece{\"" " " _first "${_first}")
string(REGEX REPLACE "  +" " " _first "${_first}")
if(NOT _first MATCHES "${REGEX}")
  message(FATAL_ERROR
    "compile-fail test: ${SOURCE} failed to compile as expected, but the first error line does "
    "not match the expected regex\n  ${REGEX}\nFirst error line (pieces joined):\n  ${_first}\n"
    "Command: ${COMPILER} ${_shown_args} ${SOURCE}\nOutput:\n${_out}")
endif()
if(MAX_LINES)
  # The include chain above the first message ("In file included from ...",
  # g++'s "                 from ...") depends on which header the source
  # includes first, not on the diagnostic: it is not counted.
  string(REGEX REPLACE "(In file included from|                 from) [^\n]*\n" "" _counted "${_out}")
  string(REGEX MATCHALL "\n" _newlines "${_counted}")
  list(LENGTH _newlines _lines)
  if(_lines GREATER MAX_LINES)
    message(FATAL_ERROR
      "compile-fail test: ${SOURCE} failed with the expected first error line, but the compiler "
      "printed ${_lines} lines (at most ${MAX_LINES} expected)\n"
      "Command: ${COMPILER} ${_shown_args} ${SOURCE}\nOutput:\n${_out}")
  endif()
endif()
message(STATUS "compile-fail test passed: ${SOURCE} was rejected with the expected diagnostic")
