#pragma once
/// @file q5_k.hpp
/// The Q5_K weight policy (GGUF tensor type `GGML_TYPE_Q5_K`).
///
/// GGUF block (ggml-common.h `block_q5_K`, 176 bytes per 256 weights):
/// `half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128];`,
/// as Q4_K with a fifth code bit per weight in `qh`; weight j of sub-block s
/// is `(d·sc_s)·q_j − dmin·m_s`, q_j in 0..31 (ggml-quants.c
/// `dequantize_row_q5_K`; see foundry/quant/k_quants.hpp).

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/embedded/policies/q5_k.metal.hpp"
#include "foundry/quant/ggml_blocks.hpp"
#include "kernels/policies/k_quant_planes.hpp"

namespace foundry::policies {

/// Q5_K weights, split into planes on load; the contract's block is the
/// 32-weight sub-block (k_quant_planes.hpp).
///   Data plane: one byte per code (0..31), element order (32 bytes per
///   sub-block): element k of a row is data byte k.
///   Scale plane: per sub-block the float `d·sc` then the float `−dmin·m`
///   (8 bytes).
/// w = load_scale·q + load_affine. Metal struct `PolicyQ5_K`
/// (kernels/policies/q5_k.metal).
struct q5_k {
  static constexpr fixed_string name = "q5_k";
  static constexpr std::string_view metal_name = "PolicyQ5_K";
  using source = source_piece<"policy_q5_k", embedded::policies::q5_k_metal>;
  using element_type = std::uint8_t;
  static constexpr bool has_scale = true;
  static constexpr bool has_affine = true;
  static constexpr std::uint32_t weights_per_block = 32;
  static constexpr std::uint32_t block_bytes = 32;
  static constexpr std::uint32_t scale_bytes = 8;

  static constexpr quant::ggml_type ggml_type = quant::ggml_type::q5_k;
  using gguf_format = quant::q5_k;
  static constexpr std::uint32_t sub_blocks = 8;

  /// Splits sub-block `s` (0..7) of one GGUF block (176 bytes, any
  /// alignment) into its codes (32 bytes at `data`) and scales (8 at `scales`).
  static void split_block(const void* gguf_block, std::size_t s, std::uint8_t* data, std::uint8_t* scales) noexcept {
    quant::block_q5_k b;
    std::memcpy(&b, gguf_block, sizeof b);
    for (std::size_t i = 0; i < 32; ++i) data[i] = static_cast<std::uint8_t>(gguf_format::code(b, 32 * s + i));
    detail::store_float(scales, gguf_format::sub_scale(b, s));
    detail::store_float(scales + 4, -gguf_format::sub_min(b, s));
  }

  /// Reference dequantization of weight `i` (host side): `d1·q + (−m1)`.
  static float dequantize(const std::uint8_t* data, const std::uint8_t* scales, std::size_t i) noexcept {
    const std::uint8_t* s = scales + (i / weights_per_block) * scale_bytes;
    return detail::load_float(s) * static_cast<float>(data[i]) + detail::load_float(s + 4);
  }
};
static_assert(weight_policy<q5_k>);
static_assert(q5_k::weights_per_block * q5_k::sub_blocks == quant::q5_k::block_size);

}  // namespace foundry::policies
