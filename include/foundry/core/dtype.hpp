#pragma once
/// @file dtype.hpp
/// Element types of device buffers, as a run-time tag.
///
/// Buffers are type-erased at run time (a backend allocates bytes); the tag
/// lets the executor check, when an argument is bound, that a buffer holds
/// the element type the kernel declared, and name both in the error.

#include <cstdint>
#include <string_view>
#include <type_traits>

namespace foundry {

/// Scalar element type of a buffer. `bytes` is for opaque storage such as
/// quantized GGUF blocks, whose Metal type is a struct or `uchar`.
enum class dtype : std::uint8_t { f32, f16, bf16, i8, u8, i16, u16, i32, u32, i64, u64, bytes };

/// Name of a dtype as printed in error messages (`"f32"`, `"u8"`, ...).
constexpr std::string_view to_string(dtype t) noexcept {
  constexpr std::string_view names[] = {"f32", "f16", "bf16", "i8",  "u8",  "i16",
                                        "u16", "i32", "u32",  "i64", "u64", "bytes"};
  return names[static_cast<int>(t)];
}

/// Size of one element in bytes (1 for `bytes`).
constexpr std::uint32_t size_of(dtype t) noexcept {
  constexpr std::uint32_t sizes[] = {4, 2, 2, 1, 1, 2, 2, 4, 4, 8, 8, 1};
  return sizes[static_cast<int>(t)];
}

}  // namespace foundry
