#pragma once
/// @file builtins.hpp
/// Metal thread-position builtins (MSL specification, "Attributes for kernel
/// function input arguments"), each with its one unambiguous name and type.
///
/// Stage code refers to a builtin as `$<name>` (for example
/// `$thread_index_in_simdgroup`); the composer emits a parameter only for the
/// builtins some stage uses. Position builtins are always declared as
/// `uint3` (the widest form Metal accepts), so code reads `.x`/`.y`/`.z`.

#include <array>
#include <cstdint>
#include <string_view>

namespace foundry {

/// One thread-position builtin: the name used in stage code and as the
/// parameter name (equal to the Metal attribute) and its Metal type.
struct builtin_info {
  std::string_view name;   ///< `$name` in stage code, `[[name]]` in the signature
  std::string_view type;   ///< `uint` or `uint3`
  std::string_view meaning;
};

/// Every builtin Foundry knows, in the order parameters are emitted.
/// Grid units are threads unless the name says threadgroups.
inline constexpr std::array<builtin_info, 11> builtins = {{
    {"thread_position_in_grid", "uint3", "this thread's position in the grid, in threads"},
    {"threadgroup_position_in_grid", "uint3", "this threadgroup's position in the grid, in threadgroups"},
    {"thread_position_in_threadgroup", "uint3", "this thread's position in its threadgroup, in threads"},
    {"threads_per_threadgroup", "uint3", "threadgroup size, in threads"},
    {"threadgroups_per_grid", "uint3", "grid size, in threadgroups"},
    {"threads_per_grid", "uint3", "grid size, in threads"},
    {"thread_index_in_threadgroup", "uint", "linear index of this thread in its threadgroup"},
    {"thread_index_in_simdgroup", "uint", "lane of this thread in its SIMD-group, 0..31"},
    {"simdgroup_index_in_threadgroup", "uint", "index of this thread's SIMD-group in its threadgroup"},
    {"simdgroups_per_threadgroup", "uint", "SIMD-groups per threadgroup"},
    {"threads_per_simdgroup", "uint", "SIMD-group width, in threads (32 on every target)"},
}};

/// Position of builtin `name` in `builtins`, or -1.
constexpr int builtin_position(std::string_view name) noexcept {
  for (std::size_t i = 0; i < builtins.size(); ++i)
    if (builtins[i].name == name) return static_cast<int>(i);
  return -1;
}

/// SIMD-group width assumed by every Foundry target (as on Apple GPUs;
/// every backend provides it).
inline constexpr unsigned simdgroup_width = 32;

}  // namespace foundry
