#pragma once
/// @file q4_k.hpp
/// The Q4_K weight policy (GGUF tensor type `GGML_TYPE_Q4_K`).
///
/// GGUF block (ggml-common.h `block_q4_K`, 144 bytes per 256 weights):
/// `half d; half dmin; uint8 scales[12]; uint8 qs[128];`, 8 sub-blocks of 32
/// weights with 6-bit scales sc and mins m packed in `scales`; weight j of
/// sub-block s is `(d·sc_s)·q_j − dmin·m_s` (ggml-quants.c
/// `dequantize_row_q4_K`; see foundry/quant/k_quants.hpp).

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/embedded/policies/q4_k.metal.hpp"
#include "foundry/quant/ggml_blocks.hpp"
#include "kernels/policies/k_quant_planes.hpp"
#include "kernels/policies/q4_nibbles.hpp"

namespace foundry::policies {

/// Q4_K weights, split into planes on load; the contract's block is the
/// 32-weight sub-block (k_quant_planes.hpp).
///   Data plane: per sub-block its 32 codes repacked two per byte in element
///   order (16 bytes), as for Q4_0: element k of a row is nibble `k % 2` of
///   data byte `k / 2`.
///   Scale plane: per sub-block the float `d·sc` then the float `−dmin·m`
///   (8 bytes).
/// w = load_scale·q + load_affine (`has_scale`, `has_affine`). The planes
/// take 24 bytes per 32 weights against the file's 18: the price of
/// single-level float scales that every kernel already reads.
/// Metal struct `PolicyQ4_K` (kernels/policies/q4_k.metal, with Q4Nibbles).
struct q4_k {
  static constexpr fixed_string name = "q4_k";
  static constexpr std::string_view metal_name = "PolicyQ4_K";
  using source = source_piece<"policy_q4_k", embedded::policies::q4_k_metal, q4_nibbles_piece>;
  using element_type = std::byte;
  static constexpr bool has_scale = true;
  static constexpr bool has_affine = true;
  static constexpr std::uint32_t weights_per_block = 32;
  static constexpr std::uint32_t block_bytes = 16;
  static constexpr std::uint32_t scale_bytes = 8;

  /// The GGUF tensor type this policy loads, its block codec, and the
  /// policy blocks per GGUF block.
  static constexpr quant::ggml_type ggml_type = quant::ggml_type::q4_k;
  using gguf_format = quant::q4_k;
  static constexpr std::uint32_t sub_blocks = 8;

  /// Splits sub-block `s` (0..7) of one GGUF block (144 bytes at
  /// `gguf_block`, any alignment) into its data-plane bytes (16 at `data`)
  /// and scale-plane bytes (8 at `scales`).
  static void split_block(const void* gguf_block, std::size_t s, std::uint8_t* data, std::uint8_t* scales) noexcept {
    quant::block_q4_k b;
    std::memcpy(&b, gguf_block, sizeof b);
    for (std::size_t i = 0; i < 16; ++i)
      data[i] = static_cast<std::uint8_t>(gguf_format::code(b, 32 * s + 2 * i) |
                                          (gguf_format::code(b, 32 * s + 2 * i + 1) << 4));
    detail::store_float(scales, gguf_format::sub_scale(b, s));
    detail::store_float(scales + 4, -gguf_format::sub_min(b, s));
  }

  /// Reference dequantization of weight `i` of planes holding consecutive
  /// blocks (host side): `d1·q + (−m1)`, equal to ggml's `d1·q − m1`.
  static float dequantize(const std::uint8_t* data, const std::uint8_t* scales, std::size_t i) noexcept {
    const std::uint8_t* s = scales + (i / weights_per_block) * scale_bytes;
    return detail::load_float(s) * static_cast<float>(packed_nibble(data, i)) + detail::load_float(s + 4);
  }
};
static_assert(weight_policy<q4_k>);
static_assert(q4_k::weights_per_block * q4_k::sub_blocks == quant::q4_k::block_size);

}  // namespace foundry::policies
