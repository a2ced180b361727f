#pragma once
/// @file version.hpp
/// Version of the Foundry library.
///
/// The numbers must match `project(foundry VERSION ...)` in the top-level
/// CMakeLists.txt; CMake checks this when the project is configured.

#include <string_view>

#define FOUNDRY_VERSION_MAJOR 0
#define FOUNDRY_VERSION_MINOR 1
#define FOUNDRY_VERSION_PATCH 0
#define FOUNDRY_VERSION_STRING "0.1.0"
/// Single number for preprocessor comparisons: major * 10000 + minor * 100 + patch.
#define FOUNDRY_VERSION \
  (FOUNDRY_VERSION_MAJOR * 10000 + FOUNDRY_VERSION_MINOR * 100 + FOUNDRY_VERSION_PATCH)

namespace foundry {

inline constexpr int version_major = FOUNDRY_VERSION_MAJOR;
inline constexpr int version_minor = FOUNDRY_VERSION_MINOR;
inline constexpr int version_patch = FOUNDRY_VERSION_PATCH;
inline constexpr std::string_view version_string = FOUNDRY_VERSION_STRING;

}  // namespace foundry
