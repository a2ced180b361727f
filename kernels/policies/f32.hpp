#pragma once
/// @file f32.hpp
/// The F32 weight policy: IEEE 754 binary32 weights, no scale
/// (GGUF tensor type `GGML_TYPE_F32`, one 4-byte value per weight).

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/embedded/policies/f32.metal.hpp"
#include "foundry/quant/ggml_blocks.hpp"

namespace foundry::policies {

/// F32 weights. Data plane: `float` per weight, row-major [rows, K] at
/// `4·(r·K + k)` bytes; scale plane unused (`scale_bytes` = 0).
struct f32 {
  static constexpr fixed_string name = "f32";
  static constexpr std::string_view metal_name = "PolicyF32";
  using source = source_piece<"policy_f32", embedded::policies::f32_metal>;
  using element_type = float;
  static constexpr bool has_scale = false;
  static constexpr bool has_affine = false;
  static constexpr std::uint32_t weights_per_block = 1;
  static constexpr std::uint32_t block_bytes = 4;
  static constexpr std::uint32_t scale_bytes = 0;
  /// Weights in one 16-byte load of the data plane (4 floats): the Metal
  /// struct's `dot_vector(uint4, x)` sums that many products (vector loads,
  /// dsl/policy.hpp; `gemv_multi_row`).
  static constexpr std::uint32_t vector_load_weights = 4;

  /// The GGUF tensor type this policy loads.
  static constexpr quant::ggml_type ggml_type = quant::ggml_type::f32;

  /// Reference dequantization of weight `i` of a data plane (host side).
  static float dequantize(const std::uint8_t* data, const std::uint8_t* /*scales*/, std::size_t i) {
    float v;
    std::memcpy(&v, data + 4 * i, 4);
    return v;
  }
};
static_assert(weight_policy<f32>);

}  // namespace foundry::policies
