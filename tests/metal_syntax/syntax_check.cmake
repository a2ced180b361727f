# syntax_check.cmake - body of a metal_syntax.* syntax-check test (script mode).
#
#   cmake -DCOMPILER=<clang++> -DMETAL_CPP=<metal-cpp folder> -DSTUBS=<stubs folder>
#         -DINCLUDES=<dir>|<dir>... -DSOURCE=<file.cpp> -P syntax_check.cmake
#
# Runs COMPILER -std=c++20 -stdlib=libc++ -fblocks -fsyntax-only with the
# project's warnings as errors on SOURCE, metal-cpp and the stand-in Apple
# headers on the system include path (their own warnings are not ours), and
# the definitions that select the real Metal backend off Apple. Fails with the
# compiler's output when the compilation fails.

cmake_minimum_required(VERSION 3.21)

foreach(_required IN ITEMS COMPILER METAL_CPP STUBS SOURCE)
  if(NOT DEFINED ${_required} OR "${${_required}}" STREQUAL "")
    message(FATAL_ERROR "syntax_check.cmake: -D${_required}=... is required")
  endif()
endforeach()
if(NOT EXISTS "${METAL_CPP}/Metal/Metal.hpp")
  # Checked at configure time too; the folder may have gone since.
  message(FATAL_ERROR "metal-cpp headers not found in ${METAL_CPP}; run scripts/setup.sh and configure again")
endif()

set(_args
  -std=c++20 -stdlib=libc++ -fblocks -fsyntax-only
  -Wall -Wextra -Wpedantic -Werror
  -fconstexpr-steps=33554432
  -fdiagnostics-color=never
  -DFOUNDRY_HAVE_METAL=1 -DFOUNDRY_METAL_SYNTAX_CHECK=1
  -isystem "${STUBS}" -isystem "${METAL_CPP}")
string(REPLACE "|" ";" _includes "${INCLUDES}")
list(REMOVE_DUPLICATES _includes)
foreach(_dir IN LISTS _includes)
  # The compiler's own directories must not be repeated with -I (that breaks #include_next).
  if(NOT _dir STREQUAL "" AND NOT _dir MATCHES "^/usr(/local)?/include/?$")
    list(APPEND _args "-I${_dir}")
  endif()
endforeach()

set(ENV{LC_ALL} C)
string(REPLACE ";" " " _shown "${_args}")
message(STATUS "${COMPILER} ${_shown} ${SOURCE}")
execute_process(
  COMMAND "${COMPILER}" ${_args} "${SOURCE}"
  RESULT_VARIABLE _result
  OUTPUT_VARIABLE _out
  ERROR_VARIABLE _out)
if(NOT _result EQUAL 0)
  message(FATAL_ERROR "Metal syntax check failed: ${SOURCE}\n${_out}")
endif()
message(STATUS "passed: ${SOURCE}")
