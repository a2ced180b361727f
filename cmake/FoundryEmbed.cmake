# FoundryEmbed.cmake - embed Metal Shading Language sources as C++ headers.
#
#   foundry_embed_metal(TARGET <target>
#                       BASE_DIR <dir>
#                       FILES <dir>/<family>/<name>.metal ...
#                       [OUTPUT_DIR <include-dir>]
#                       [OUTPUT_VARIABLE <var>])
#
# At build time each <BASE_DIR>/<family>/<name>.metal becomes
#   <OUTPUT_DIR>/foundry/embedded/<family>/<name>.metal.hpp
# defining
#   namespace foundry::embedded::<family> {
#   inline constexpr std::string_view <name>_metal = R"foundry_src(...)foundry_src";
#   inline constexpr std::string_view <name>_metal_file = "kernels/<family>/<name>.metal";
#   }
# so that code can `#include <foundry/embedded/<family>/<name>.metal.hpp>`.
# Nested folders map to nested namespaces (a/b/x.metal -> foundry::embedded::a::b).
# Characters that cannot appear in an identifier become '_'.
#
# OUTPUT_DIR defaults to ${PROJECT_BINARY_DIR}/generated/include. The headers
# are outputs of a custom target `<target>_embed_metal` that is part of the
# default (`all`) build, so a plain `cmake --build` generates them even when
# nothing in the build compiles against <target> (an install-only
# configuration with tests, examples and benchmarks off: `cmake --install`
# copies what the build generated). <target> also depends on it
# (add_dependencies works on INTERFACE libraries since CMake 3.19), and
# OUTPUT_DIR is added to <target>'s include directories (build interface only;
# installing the folder is up to the caller). OUTPUT_VARIABLE receives the list
# of generated headers.

include_guard(GLOBAL)

set(_FOUNDRY_EMBED_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/embed_file.cmake"
  CACHE INTERNAL "Script used by foundry_embed_metal")

# Turns one path component into a C++ identifier.
function(_foundry_embed_identifier out text)
  string(MAKE_C_IDENTIFIER "${text}" _id)
  set(${out} "${_id}" PARENT_SCOPE)
endfunction()

function(foundry_embed_metal)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "" "TARGET;BASE_DIR;OUTPUT_DIR;OUTPUT_VARIABLE" "FILES")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "foundry_embed_metal: unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_TARGET OR NOT TARGET "${ARG_TARGET}")
    message(FATAL_ERROR "foundry_embed_metal: TARGET must name an existing target")
  endif()
  if(NOT ARG_BASE_DIR)
    message(FATAL_ERROR "foundry_embed_metal: BASE_DIR is required")
  endif()
  get_filename_component(_base "${ARG_BASE_DIR}" ABSOLUTE)
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR "${PROJECT_BINARY_DIR}/generated/include")
  endif()

  set(_outputs "")
  foreach(_file IN LISTS ARG_FILES)
    get_filename_component(_abs "${_file}" ABSOLUTE BASE_DIR "${_base}")
    file(RELATIVE_PATH _rel "${_base}" "${_abs}")
    if(_rel MATCHES "^\\.\\./")
      message(FATAL_ERROR "foundry_embed_metal: ${_abs} is not under BASE_DIR ${_base}")
    endif()
    get_filename_component(_rel_dir "${_rel}" DIRECTORY)
    get_filename_component(_file_name "${_rel}" NAME)
    string(REGEX REPLACE "\\.metal$" "" _stem "${_file_name}")

    # Namespace: foundry::embedded plus one component per folder.
    set(_namespace "foundry::embedded")
    if(NOT _rel_dir STREQUAL "")
      string(REPLACE "/" ";" _components "${_rel_dir}")
      foreach(_component IN LISTS _components)
        _foundry_embed_identifier(_id "${_component}")
        string(APPEND _namespace "::${_id}")
      endforeach()
    endif()
    _foundry_embed_identifier(_name "${_stem}_metal")

    # Label for the header comment: project-relative when possible.
    file(RELATIVE_PATH _label "${PROJECT_SOURCE_DIR}" "${_abs}")
    if(_label MATCHES "^\\.\\./")
      set(_label "${_rel}")
    endif()

    set(_out "${ARG_OUTPUT_DIR}/foundry/embedded/${_rel}.hpp")
    add_custom_command(
      OUTPUT "${_out}"
      COMMAND "${CMAKE_COMMAND}"
              "-DINPUT=${_abs}"
              "-DOUTPUT=${_out}"
              "-DNAMESPACE=${_namespace}"
              "-DNAME=${_name}"
              "-DSOURCE_LABEL=${_label}"
              -P "${_FOUNDRY_EMBED_SCRIPT}"
      DEPENDS "${_abs}" "${_FOUNDRY_EMBED_SCRIPT}"
      COMMENT "Embedding ${_label}"
      VERBATIM)
    list(APPEND _outputs "${_out}")
  endforeach()

  # One custom target per call; later calls for the same target get a suffix.
  set(_custom "${ARG_TARGET}_embed_metal")
  set(_n 1)
  while(TARGET "${_custom}")
    math(EXPR _n "${_n} + 1")
    set(_custom "${ARG_TARGET}_embed_metal_${_n}")
  endwhile()
  add_custom_target(${_custom} ALL DEPENDS ${_outputs})
  set_target_properties(${_custom} PROPERTIES FOLDER "generated")
  add_dependencies(${ARG_TARGET} ${_custom})

  file(MAKE_DIRECTORY "${ARG_OUTPUT_DIR}")
  get_target_property(_type ${ARG_TARGET} TYPE)
  if(_type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${ARG_TARGET} INTERFACE "$<BUILD_INTERFACE:${ARG_OUTPUT_DIR}>")
  else()
    target_include_directories(${ARG_TARGET} PUBLIC "$<BUILD_INTERFACE:${ARG_OUTPUT_DIR}>")
  endif()

  if(ARG_OUTPUT_VARIABLE)
    set(${ARG_OUTPUT_VARIABLE} "${_outputs}" PARENT_SCOPE)
  endif()
endfunction()
