# FoundryCompileTests.cmake - negative compile tests.
#
#   foundry_add_compile_fail_test(NAME <test-name>
#                                 SOURCE <file.cpp>
#                                 REGEX <regular-expression>
#                                 [TARGET <target>]     # default foundry::foundry
#                                 [INCLUDE_DIRECTORIES <dir>...]
#                                 [MAX_LINES <n>]       # most lines of output
#                                 [LABELS <label>...])  # default unit
#
# Adds a CTest test that runs the C++ compiler of this build
# (${CMAKE_CXX_COMPILER} with CMAKE_CXX_FLAGS, so the same -stdlib, plus
# -std=c++20 -fsyntax-only and the include directories and compile definitions
# of TARGET, plus INCLUDE_DIRECTORIES) on SOURCE. The test passes only if the compilation FAILS, the
# FIRST error line of the compiler output matches REGEX (CMake regular-expression
# syntax; see compile_fail_driver.cmake for how clang's message pieces are
# joined) and, with MAX_LINES, the output has at most that many lines.

include_guard(GLOBAL)

set(_FOUNDRY_COMPILE_FAIL_DRIVER "${CMAKE_CURRENT_LIST_DIR}/compile_fail_driver.cmake"
  CACHE INTERNAL "Driver script of foundry_add_compile_fail_test")

function(foundry_add_compile_fail_test)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "" "NAME;SOURCE;REGEX;TARGET;MAX_LINES" "LABELS;INCLUDE_DIRECTORIES")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "foundry_add_compile_fail_test: unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  foreach(_required IN ITEMS NAME SOURCE REGEX)
    if(NOT ARG_${_required})
      message(FATAL_ERROR "foundry_add_compile_fail_test: ${_required} is required")
    endif()
  endforeach()
  if(NOT ARG_TARGET)
    set(ARG_TARGET foundry::foundry)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  get_filename_component(_source "${ARG_SOURCE}" ABSOLUTE)

  # Flags of the current configuration (single-config generators).
  set(_flags "${CMAKE_CXX_FLAGS}")
  if(CMAKE_BUILD_TYPE)
    string(TOUPPER "${CMAKE_BUILD_TYPE}" _config)
    string(APPEND _flags " ${CMAKE_CXX_FLAGS_${_config}}")
  endif()
  # The compile options foundry::foundry gives clang (its constexpr step
  # budget, set in the top-level CMakeLists.txt): a generator expression on
  # the compile language cannot be evaluated in a test command.
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang" AND FOUNDRY_CLANG_CONSTEXPR_STEPS_FLAG)
    string(APPEND _flags " ${FOUNDRY_CLANG_CONSTEXPR_STEPS_FLAG}")
  endif()

  # Lists travel to the driver joined with '|' because add_test would split
  # them at ';'.
  set(_includes "$<TARGET_PROPERTY:${ARG_TARGET},INTERFACE_INCLUDE_DIRECTORIES>")
  if(ARG_INCLUDE_DIRECTORIES)
    string(REPLACE ";" "|" _extra "${ARG_INCLUDE_DIRECTORIES}")
    set(_includes "${_extra}|$<JOIN:${_includes},|>")
  else()
    set(_includes "$<JOIN:${_includes},|>")
  endif()
  set(_defines "$<TARGET_PROPERTY:${ARG_TARGET},INTERFACE_COMPILE_DEFINITIONS>")

  # The compiler's own include directories (e.g. /usr/include) must not be
  # repeated with -I: that reorders them and breaks #include_next.
  string(REPLACE ";" "|" _implicit "${CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES}")

  add_test(NAME ${ARG_NAME}
    COMMAND "${CMAKE_COMMAND}"
            "-DCOMPILER=${CMAKE_CXX_COMPILER}"
            "-DCOMPILER_ID=${CMAKE_CXX_COMPILER_ID}"
            "-DFLAGS=${_flags}"
            "-DINCLUDES=${_includes}"
            "-DDEFINES=$<JOIN:${_defines},|>"
            "-DIMPLICIT_INCLUDES=${_implicit}"
            "-DSOURCE=${_source}"
            "-DREGEX=${ARG_REGEX}"
            "-DMAX_LINES=${ARG_MAX_LINES}"
            -P "${_FOUNDRY_COMPILE_FAIL_DRIVER}")
  set_tests_properties(${ARG_NAME} PROPERTIES
    LABELS "${ARG_LABELS}"
    TIMEOUT 300)
endfunction()

# Adds one compile-fail test per *.cpp file in DIRECTORY. Each file must start
# with a line `// expect: <regex>` (matched against the first error line); a
# line `// max-lines: <n>` among the first five bounds the length of the
# compiler output. The test is named <PREFIX><file stem>.
#
#   foundry_add_compile_fail_tests_from_dir(<dir> [PREFIX <prefix>]
#                                           [INCLUDE_DIRECTORIES <dir>...])
function(foundry_add_compile_fail_tests_from_dir dir)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "PREFIX" "INCLUDE_DIRECTORIES")
  if(NOT DEFINED ARG_PREFIX)
    set(ARG_PREFIX "compile_fail.")
  endif()
  file(GLOB _sources CONFIGURE_DEPENDS "${dir}/*.cpp")
  list(SORT _sources)
  foreach(_source IN LISTS _sources)
    file(STRINGS "${_source}" _first LIMIT_COUNT 1)
    if(NOT _first MATCHES "^//[ \t]*expect:[ \t]*(.+)$")
      message(FATAL_ERROR
        "${_source}: the first line must be `// expect: <regex>` naming the expected diagnostic")
    endif()
    string(STRIP "${CMAKE_MATCH_1}" _regex)
    file(STRINGS "${_source}" _head LIMIT_COUNT 5)
    set(_max_lines "")
    foreach(_line IN LISTS _head)
      if(_line MATCHES "^//[ \t]*max-lines:[ \t]*([0-9]+)")
        set(_max_lines "${CMAKE_MATCH_1}")
      endif()
    endforeach()
    get_filename_component(_stem "${_source}" NAME_WE)
    foundry_add_compile_fail_test(NAME "${ARG_PREFIX}${_stem}" SOURCE "${_source}" REGEX "${_regex}"
      MAX_LINES "${_max_lines}" INCLUDE_DIRECTORIES ${ARG_INCLUDE_DIRECTORIES})
  endforeach()
endfunction()
