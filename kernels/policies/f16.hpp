#pragma once
/// @file f16.hpp
/// The F16 weight policy: IEEE 754 binary16 weights, no scale
/// (GGUF tensor type `GGML_TYPE_F16`, one 2-byte value per weight).

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/embedded/policies/f16.metal.hpp"
#include "foundry/metal/half.hpp"
#include "foundry/quant/ggml_blocks.hpp"

namespace foundry::policies {

/// F16 weights. Data plane: `half` per weight, row-major [rows, K] at
/// `2·(r·K + k)` bytes; scale plane unused (`scale_bytes` = 0).
struct f16 {
  static constexpr fixed_string name = "f16";
  static constexpr std::string_view metal_name = "PolicyF16";
  using source = source_piece<"policy_f16", embedded::policies::f16_metal>;
  using element_type = half;
  static constexpr bool has_scale = false;
  static constexpr bool has_affine = false;
  static constexpr std::uint32_t weights_per_block = 1;
  static constexpr std::uint32_t block_bytes = 2;
  static constexpr std::uint32_t scale_bytes = 0;
  /// Weights in one 16-byte load of the data plane (8 halves): the Metal
  /// struct's `dot_vector(uint4, x)` sums that many products (vector loads,
  /// dsl/policy.hpp; `gemv_multi_row`).
  static constexpr std::uint32_t vector_load_weights = 8;

  /// The GGUF tensor type this policy loads.
  static constexpr quant::ggml_type ggml_type = quant::ggml_type::f16;

  /// Reference dequantization of weight `i` of a data plane (host side).
  static float dequantize(const std::uint8_t* data, const std::uint8_t* /*scales*/, std::size_t i) {
    half h;
    std::memcpy(&h, data + 2 * i, 2);
    return static_cast<float>(h);
  }
};
static_assert(weight_policy<f16>);

}  // namespace foundry::policies
