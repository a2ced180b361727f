# FoundryMetal.cmake - build support of the Metal backend.
#
# Include after the `foundry` target exists. Defines, on every platform:
#
#   foundry::metal   INTERFACE target. On Apple (FOUNDRY_ENABLE_METAL ON) it
#                    brings in metal-cpp's headers, the one translation unit
#                    that defines metal-cpp's selector tables (a small static
#                    library), the Metal, Foundation and QuartzCore frameworks,
#                    and the definition FOUNDRY_HAVE_METAL=1, which makes
#                    <foundry/backends/metal/metal.hpp> build the backend.
#                    Elsewhere it is empty, and metal.hpp's make_backend()
#                    throws backend_unavailable, so programs can link it and
#                    offer `--backend metal` unconditionally.
#   FOUNDRY_HAVE_METAL  ON when the backend is built.
#
#   foundry_metal_precompile(TARGET <target> ALIASES <name>...
#                            [OUTPUT_NAME <name>]          # default <target>_kernels
#                            [FLAGS <metal compiler flag>...])
#     With FOUNDRY_METAL_PRECOMPILE ON, on Apple: at build time writes the
#     Metal source of the named library aliases with foundry-emit, compiles
#     each with `xcrun -sdk macosx metal -c` and links them with `xcrun -sdk
#     macosx metallib` into <binary dir>/<OUTPUT_NAME>.metallib, built before
#     <target>. <target> gets the compile definitions
#       FOUNDRY_METALLIB_PATH="<...>.metallib"
#       FOUNDRY_METALLIB_SOURCES="<folder of the .metal files>"
#     and the target properties FOUNDRY_METALLIB / FOUNDRY_METALLIB_SOURCES,
#     for backend_options::precompiled (metal/options.hpp): the backend takes
#     a kernel from the library only while its source there is the one the
#     executor would compile. FLAGS default to FOUNDRY_METAL_PRECOMPILE_FLAGS
#     (-fno-fast-math, matching the backend's default math mode).
#     Elsewhere, or with the option OFF, it does nothing.
#
# metal-cpp: FOUNDRY_METAL_CPP_DIR names an existing copy (a folder holding
# Foundation/ and Metal/). Otherwise Apple's archive FOUNDRY_METAL_CPP_URL is
# downloaded with FetchContent, checked against FOUNDRY_METAL_CPP_SHA256,
# which must then be set: Foundry does not record a digest it has not
# verified itself (see docs/metal-backend.md).

include_guard(GLOBAL)

if(NOT TARGET foundry)
  message(FATAL_ERROR "FoundryMetal.cmake: include it after the foundry target is defined")
endif()

set(_foundry_metal_default OFF)
if(APPLE)
  set(_foundry_metal_default ON)
endif()
option(FOUNDRY_ENABLE_METAL "Build the Metal backend (Apple platforms only)" ${_foundry_metal_default})
option(FOUNDRY_METAL_PRECOMPILE "foundry_metal_precompile(): build .metallib files of chosen kernels at build time" OFF)

set(FOUNDRY_METAL_CPP_DIR "" CACHE PATH
  "An existing metal-cpp folder (with Foundation/ and Metal/); empty: download FOUNDRY_METAL_CPP_URL")
set(FOUNDRY_METAL_CPP_URL "https://developer.apple.com/metal/cpp/files/metal-cpp_macOS15_iOS18.zip" CACHE STRING
  "Apple's metal-cpp archive, downloaded when FOUNDRY_METAL_CPP_DIR is empty")
set(FOUNDRY_METAL_CPP_SHA256 "" CACHE STRING
  "SHA-256 of FOUNDRY_METAL_CPP_URL; must be set when metal-cpp is downloaded")
set(FOUNDRY_METAL_PRECOMPILE_FLAGS "-fno-fast-math" CACHE STRING
  "Flags of `xcrun metal -c` in foundry_metal_precompile (a ;-list)")

add_library(foundry_metal INTERFACE)
add_library(foundry::metal ALIAS foundry_metal)
set_target_properties(foundry_metal PROPERTIES EXPORT_NAME metal)
target_link_libraries(foundry_metal INTERFACE foundry)
set(FOUNDRY_HAVE_METAL OFF)

if(APPLE AND FOUNDRY_ENABLE_METAL)
  if(FOUNDRY_METAL_CPP_DIR)
    set(_foundry_metal_cpp "${FOUNDRY_METAL_CPP_DIR}")
  else()
    if(NOT FOUNDRY_METAL_CPP_SHA256 MATCHES "^[0-9A-Fa-f]+$")
      message(FATAL_ERROR
        "The Metal backend downloads metal-cpp from\n  ${FOUNDRY_METAL_CPP_URL}\n"
        "and needs its SHA-256: verify the archive and pass -DFOUNDRY_METAL_CPP_SHA256=<64 hex digits> "
        "(docs/metal-backend.md), or point -DFOUNDRY_METAL_CPP_DIR=<folder> at a metal-cpp copy, "
        "or configure with -DFOUNDRY_ENABLE_METAL=OFF.")
    endif()
    string(LENGTH "${FOUNDRY_METAL_CPP_SHA256}" _len)
    if(NOT _len EQUAL 64)
      message(FATAL_ERROR "FOUNDRY_METAL_CPP_SHA256 must be 64 hexadecimal digits")
    endif()
    include(FetchContent)
    set(_foundry_fc_args URL "${FOUNDRY_METAL_CPP_URL}" URL_HASH "SHA256=${FOUNDRY_METAL_CPP_SHA256}")
    if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.24)
      list(APPEND _foundry_fc_args DOWNLOAD_EXTRACT_TIMESTAMP TRUE)
    endif()
    FetchContent_Declare(foundry_metal_cpp ${_foundry_fc_args})
    # The archive has no CMakeLists.txt: this only downloads and extracts
    # (its single top-level folder metal-cpp/ is stripped).
    FetchContent_MakeAvailable(foundry_metal_cpp)
    set(_foundry_metal_cpp "${foundry_metal_cpp_SOURCE_DIR}")
  endif()
  if(NOT EXISTS "${_foundry_metal_cpp}/Metal/Metal.hpp" OR NOT EXISTS "${_foundry_metal_cpp}/Foundation/Foundation.hpp")
    message(FATAL_ERROR "metal-cpp not found in ${_foundry_metal_cpp} (expected Metal/Metal.hpp and Foundation/Foundation.hpp)")
  endif()

  find_library(FOUNDRY_METAL_FRAMEWORK Metal REQUIRED)
  find_library(FOUNDRY_FOUNDATION_FRAMEWORK Foundation REQUIRED)
  find_library(FOUNDRY_QUARTZCORE_FRAMEWORK QuartzCore REQUIRED)

  # metal-cpp's definitions, compiled once.
  set(_foundry_metal_impl "${PROJECT_BINARY_DIR}/generated/foundry_metal_cpp.cpp")
  file(CONFIGURE OUTPUT "${_foundry_metal_impl}"
    CONTENT "// Generated by cmake/FoundryMetal.cmake: metal-cpp's one definition unit.\n#include <foundry/backends/metal/implementation.hpp>\n")
  add_library(foundry_metal_cpp STATIC "${_foundry_metal_impl}")
  target_compile_features(foundry_metal_cpp PUBLIC cxx_std_20)
  target_include_directories(foundry_metal_cpp SYSTEM PUBLIC "$<BUILD_INTERFACE:${_foundry_metal_cpp}>")
  target_include_directories(foundry_metal_cpp PRIVATE "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>")
  target_link_libraries(foundry_metal_cpp PUBLIC
    "${FOUNDRY_METAL_FRAMEWORK}" "${FOUNDRY_FOUNDATION_FRAMEWORK}" "${FOUNDRY_QUARTZCORE_FRAMEWORK}")

  target_link_libraries(foundry_metal INTERFACE foundry_metal_cpp)
  target_compile_definitions(foundry_metal INTERFACE FOUNDRY_HAVE_METAL=1)
  set(FOUNDRY_HAVE_METAL ON)
  message(STATUS "Foundry: Metal backend on (metal-cpp: ${_foundry_metal_cpp})")
endif()

function(foundry_metal_precompile)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "" "TARGET;OUTPUT_NAME" "ALIASES;FLAGS")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "foundry_metal_precompile: unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_TARGET OR NOT TARGET "${ARG_TARGET}")
    message(FATAL_ERROR "foundry_metal_precompile: TARGET must name an existing target")
  endif()
  if(NOT ARG_ALIASES)
    message(FATAL_ERROR "foundry_metal_precompile: ALIASES is required (see `foundry-emit --list`)")
  endif()
  if(NOT FOUNDRY_METAL_PRECOMPILE OR NOT APPLE)
    return()
  endif()
  if(NOT ARG_OUTPUT_NAME)
    set(ARG_OUTPUT_NAME "${ARG_TARGET}_kernels")
  endif()
  if(NOT DEFINED ARG_FLAGS)
    set(ARG_FLAGS ${FOUNDRY_METAL_PRECOMPILE_FLAGS})
  endif()

  # foundry-emit is built with the tools (FOUNDRY_BUILD_EXAMPLES); otherwise
  # build a private copy of it.
  if(TARGET foundry-emit)
    set(_emit foundry-emit)
  else()
    set(_emit foundry_metal_emit)
    if(NOT TARGET ${_emit})
      add_executable(${_emit} "${_FOUNDRY_METAL_SOURCE_DIR}/tools/foundry-emit/main.cpp")
      target_link_libraries(${_emit} PRIVATE foundry::foundry)
    endif()
  endif()

  string(REPLACE ";" " " _names "${ARG_ALIASES}")
  set(_dir "${CMAKE_CURRENT_BINARY_DIR}/${ARG_OUTPUT_NAME}")
  set(_src_dir "${_dir}/metal")
  set(_metallib "${_dir}/${ARG_OUTPUT_NAME}.metallib")
  set(_sources "")
  set(_airs "")
  foreach(_alias IN LISTS ARG_ALIASES)
    list(APPEND _sources "${_src_dir}/${_alias}.metal")
    list(APPEND _airs "${_dir}/air/${_alias}.air")
  endforeach()

  add_custom_command(
    OUTPUT ${_sources}
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${_src_dir}"
    COMMAND ${_emit} --out "${_src_dir}" ${ARG_ALIASES}
    DEPENDS ${_emit}
    COMMENT "foundry-emit: Metal source of ${_names}"
    VERBATIM)
  foreach(_alias IN LISTS ARG_ALIASES)
    add_custom_command(
      OUTPUT "${_dir}/air/${_alias}.air"
      COMMAND "${CMAKE_COMMAND}" -E make_directory "${_dir}/air"
      COMMAND xcrun -sdk macosx metal ${ARG_FLAGS} -c "${_src_dir}/${_alias}.metal" -o "${_dir}/air/${_alias}.air"
      DEPENDS "${_src_dir}/${_alias}.metal"
      COMMENT "metal -c ${_alias}.metal"
      VERBATIM)
  endforeach()
  add_custom_command(
    OUTPUT "${_metallib}"
    COMMAND xcrun -sdk macosx metallib ${_airs} -o "${_metallib}"
    DEPENDS ${_airs}
    COMMENT "metallib ${ARG_OUTPUT_NAME}.metallib"
    VERBATIM)
  add_custom_target(${ARG_OUTPUT_NAME}_metallib DEPENDS "${_metallib}")
  add_dependencies(${ARG_TARGET} ${ARG_OUTPUT_NAME}_metallib)
  target_compile_definitions(${ARG_TARGET} PRIVATE
    "FOUNDRY_METALLIB_PATH=\"${_metallib}\""
    "FOUNDRY_METALLIB_SOURCES=\"${_src_dir}\"")
  set_target_properties(${ARG_TARGET} PROPERTIES
    FOUNDRY_METALLIB "${_metallib}"
    FOUNDRY_METALLIB_SOURCES "${_src_dir}")
endfunction()

# Where this module lives, for foundry_metal_precompile's private foundry-emit.
get_filename_component(_FOUNDRY_METAL_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(_FOUNDRY_METAL_SOURCE_DIR "${_FOUNDRY_METAL_SOURCE_DIR}" CACHE INTERNAL "Foundry's source folder")
