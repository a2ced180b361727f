# FoundryWarnings.cmake - warning flags for targets built by this project.
#
#   foundry_project_warnings(<target>)
#
# Adds -Wall -Wextra -Wpedantic (plus -Werror when FOUNDRY_WERROR is ON) to a
# target that this project compiles: tests, examples, benchmarks. It is never
# applied to the foundry INTERFACE library, so consumers keep control of their
# own warning flags.

include_guard(GLOBAL)

function(foundry_project_warnings target)
  if(NOT TARGET "${target}")
    message(FATAL_ERROR "foundry_project_warnings: ${target} is not a target")
  endif()
  get_target_property(_type "${target}" TYPE)
  if(_type STREQUAL "INTERFACE_LIBRARY")
    message(FATAL_ERROR
      "foundry_project_warnings: ${target} is an INTERFACE library; warning flags "
      "belong to the targets that compile code")
  endif()
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options("${target}" PRIVATE -Wall -Wextra -Wpedantic)
    if(FOUNDRY_WERROR)
      target_compile_options("${target}" PRIVATE -Werror)
    endif()
  elseif(MSVC)
    target_compile_options("${target}" PRIVATE /W4 /permissive-)
    if(FOUNDRY_WERROR)
      target_compile_options("${target}" PRIVATE /WX)
    endif()
  endif()
endfunction()
