#pragma once
/// @file q4_0.hpp
/// The Q4_0 weight policy: 4-bit codes with one half scale per 32 weights and
/// a fixed offset of 8 (GGUF tensor type `GGML_TYPE_Q4_0`).
///
/// GGUF block (ggml-common.h `block_q4_0`, 18 bytes per 32 weights):
/// `half d; uint8 qs[16];`, code q_j is the low nibble of qs[j] for j < 16
/// and the high nibble of qs[j − 16] for j ≥ 16; weight j is
/// `w_j = d · (q_j − 8)` (ggml-quants.c `dequantize_row_q4_0`; see
/// foundry/quant/ggml_blocks.hpp).

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/embedded/policies/q4_0.metal.hpp"
#include "foundry/metal/half.hpp"
#include "foundry/quant/ggml_blocks.hpp"
#include "kernels/policies/q4_nibbles.hpp"

namespace foundry::policies {

/// Q4_0 weights, split into planes on load.
///   Data plane: per block the 32 codes repacked two per byte in element
///   order (16 bytes): byte i of a block holds element 2i in its low nibble
///   and element 2i+1 in its high nibble, so element k of a row-major row is
///   nibble `k % 2` of data byte `k / 2`.
///   Scale plane: per block `d` as a half (2 bytes).
/// The −8 offset is part of the loader, not an affine term: the Metal
/// `load_weights` returns q − 8 and `dot` returns Σ (q − 8)·x, so
/// w = load_scale · load_weights = d·(q − 8) (`has_scale`, `has_affine` false).
/// Metal struct `PolicyQ4_0` (kernels/policies/q4_0.metal, with Q4Nibbles).
struct q4_0 {
  static constexpr fixed_string name = "q4_0";
  static constexpr std::string_view metal_name = "PolicyQ4_0";
  using source = source_piece<"policy_q4_0", embedded::policies::q4_0_metal, q4_nibbles_piece>;
  using element_type = std::byte;
  static constexpr bool has_scale = true;
  static constexpr bool has_affine = false;
  static constexpr std::uint32_t weights_per_block = 32;
  static constexpr std::uint32_t block_bytes = 16;
  static constexpr std::uint32_t scale_bytes = 2;
  /// Weights in one 16-byte load of the data plane (32 codes, one block): the Metal
  /// struct's `dot_vector(uint4, x)` sums that many products (vector loads,
  /// dsl/policy.hpp; `gemv_multi_row`).
  static constexpr std::uint32_t vector_load_weights = 32;
  /// Integer dot products with 8-bit activations (dsl/policy.hpp, Metal
  /// `dot_vector_i8`); the activation codes in pair-split order.
  static constexpr bool vector_i8_pair_split = true;
  /// The policy has the CPU's integer row dot product with 8-bit activations
  /// (`row_dot_q8` in its source; kernels/common/row_dot.hpp,
  /// `cpu_q8_activations`), which wants x̂'s codes in nibble order (foundry_q8_vector).
  static constexpr bool host_q8_nibble_order = true;

  /// The GGUF tensor type this policy loads, and its block codec.
  static constexpr quant::ggml_type ggml_type = quant::ggml_type::q4_0;
  using gguf_format = quant::q4_0;

  /// Splits one GGUF block (18 bytes at `gguf_block`, any alignment) into
  /// its repacked data-plane bytes (16 at `data`) and its scale (2 at `scales`).
  static void split_block(const void* gguf_block, std::uint8_t* data, std::uint8_t* scales) noexcept {
    quant::block_q4_0 b;
    std::memcpy(&b, gguf_block, sizeof b);
    repack_nibbles(b.qs.data(), data);
    std::memcpy(scales, &b.d, 2);
  }

  /// Reference dequantization of weight `i` of planes holding consecutive
  /// blocks (host side): `d · (q − 8)` as `dequantize_row_q4_0` computes it.
  static float dequantize(const std::uint8_t* data, const std::uint8_t* scales, std::size_t i) noexcept {
    half d;
    std::memcpy(&d, scales + (i / weights_per_block) * scale_bytes, 2);
    return static_cast<float>(packed_nibble(data, i) - 8) * static_cast<float>(d);
  }
};
static_assert(weight_policy<q4_0>);
static_assert(q4_0::weights_per_block == quant::q4_0::block_size &&
              q4_0::block_bytes + q4_0::scale_bytes == quant::q4_0::type_size);

}  // namespace foundry::policies
