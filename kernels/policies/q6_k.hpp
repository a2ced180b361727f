#pragma once
/// @file q6_k.hpp
/// The Q6_K weight policy (GGUF tensor type `GGML_TYPE_Q6_K`).
///
/// GGUF block (ggml-common.h `block_q6_K`, 210 bytes per 256 weights):
/// `uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d;`, 16 sub-blocks of
/// 16 weights; weight j of sub-block s is `(d·scales[s])·(q_j − 32)`, q_j in
/// 0..63 (ggml-quants.c `dequantize_row_q6_K`; see foundry/quant/k_quants.hpp).

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/embedded/policies/q6_k.metal.hpp"
#include "foundry/quant/ggml_blocks.hpp"
#include "kernels/policies/k_quant_planes.hpp"
#include "kernels/policies/q8_0.hpp"

namespace foundry::policies {

/// Q6_K weights, split into planes on load; the contract's block is the
/// 16-weight sub-block (k_quant_planes.hpp).
///   Data plane: the signed codes q − 32 as int8, element order (16 bytes
///   per sub-block): element k of a row is data byte k.
///   Scale plane: per sub-block the float `d·scales[s]` (4 bytes).
/// w = load_scale·(q − 32) (`has_scale`, no affine term). Metal struct
/// `PolicyQ6_K` (kernels/policies/q6_k.metal), which reads the codes with
/// `PolicyQ8_0`'s int8 loaders.
struct q6_k {
  static constexpr fixed_string name = "q6_k";
  static constexpr std::string_view metal_name = "PolicyQ6_K";
  using source = source_piece<"policy_q6_k", embedded::policies::q6_k_metal, q8_0::source>;
  using element_type = std::int8_t;
  static constexpr bool has_scale = true;
  static constexpr bool has_affine = false;
  static constexpr std::uint32_t weights_per_block = 16;
  static constexpr std::uint32_t block_bytes = 16;
  static constexpr std::uint32_t scale_bytes = 4;

  static constexpr quant::ggml_type ggml_type = quant::ggml_type::q6_k;
  using gguf_format = quant::q6_k;
  static constexpr std::uint32_t sub_blocks = 16;

  /// Splits sub-block `s` (0..15) of one GGUF block (210 bytes, any
  /// alignment) into its codes (16 bytes at `data`) and scale (4 at `scales`).
  static void split_block(const void* gguf_block, std::size_t s, std::uint8_t* data, std::uint8_t* scales) noexcept {
    quant::block_q6_k b;
    std::memcpy(&b, gguf_block, sizeof b);
    for (std::size_t i = 0; i < 16; ++i)
      data[i] = static_cast<std::uint8_t>(static_cast<std::int8_t>(gguf_format::code(b, 16 * s + i)));
    detail::store_float(scales, gguf_format::sub_scale(b, s));
  }

  /// Reference dequantization of weight `i` (host side): `(d·sc)·(q − 32)`.
  static float dequantize(const std::uint8_t* data, const std::uint8_t* scales, std::size_t i) noexcept {
    return detail::load_float(scales + (i / weights_per_block) * scale_bytes) *
           static_cast<float>(static_cast<std::int8_t>(data[i]));
  }
};
static_assert(weight_policy<q6_k>);
static_assert(q6_k::weights_per_block * q6_k::sub_blocks == quant::q6_k::block_size);

}  // namespace foundry::policies
