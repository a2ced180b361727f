#pragma once
/// @file q8_0.hpp
/// The Q8_0 weight policy: 8-bit codes with one half scale per 32 weights
/// (GGUF tensor type `GGML_TYPE_Q8_0`).
///
/// GGUF block (ggml-common.h `block_q8_0`, 34 bytes per 32 weights):
/// `half d; int8 qs[32];`, weight j is `w_j = d · qs[j]` (ggml-quants.c
/// `dequantize_row_q8_0`; see foundry/quant/ggml_blocks.hpp).

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/embedded/policies/q8_0.metal.hpp"
#include "foundry/metal/half.hpp"
#include "foundry/quant/ggml_blocks.hpp"

namespace foundry::policies {

/// Q8_0 weights, split into planes on load.
///   Data plane: per block the 32 codes `qs` as int8 in element order
///   (32 bytes); element k of a row-major row is data byte
///   `(k / 32)·32 + k % 32`, i.e. byte k.
///   Scale plane: per block `d` as a half (2 bytes).
/// w = d·q (`has_scale`, no affine term). Metal struct `PolicyQ8_0`
/// (kernels/policies/q8_0.metal) reads uint words of 4 codes.
struct q8_0 {
  static constexpr fixed_string name = "q8_0";
  static constexpr std::string_view metal_name = "PolicyQ8_0";
  using source = source_piece<"policy_q8_0", embedded::policies::q8_0_metal>;
  using element_type = std::int8_t;
  static constexpr bool has_scale = true;
  static constexpr bool has_affine = false;
  static constexpr std::uint32_t weights_per_block = 32;
  static constexpr std::uint32_t block_bytes = 32;
  static constexpr std::uint32_t scale_bytes = 2;
  /// Weights in one 16-byte load of the data plane (16 codes, half a block): the Metal
  /// struct's `dot_vector(uint4, x)` sums that many products (vector loads,
  /// dsl/policy.hpp; `gemv_multi_row`).
  static constexpr std::uint32_t vector_load_weights = 16;
  /// Integer dot products with 8-bit activations (dsl/policy.hpp, Metal
  /// `dot_vector_i8`); the activation codes in element order.
  static constexpr bool vector_i8_pair_split = false;
  /// The CPU keeps the per-run dot product (kernels/common/row_dot.hpp,
  /// `host_run_loop`): measured on the SmolLM2 output head (49152 x 576, one
  /// thread, bench/gemv_cpu_bench.cpp), 15 ms per GEMV with it against 19.5
  /// ms with element-wise accumulators, where the int8 codes reach the
  /// vectoriser through memory.
  static constexpr bool host_elementwise_runs = false;
  /// The policy has the CPU's integer row dot product with 8-bit activations
  /// (`row_dot_q8` in its source; kernels/common/row_dot.hpp,
  /// `cpu_q8_activations`), which wants x̂'s codes in element order.
  static constexpr bool host_q8_nibble_order = false;

  /// The GGUF tensor type this policy loads, and its block codec.
  static constexpr quant::ggml_type ggml_type = quant::ggml_type::q8_0;
  using gguf_format = quant::q8_0;

  /// Splits one GGUF block (34 bytes at `gguf_block`, any alignment) into
  /// its data-plane bytes (`block_bytes` at `data`) and scale-plane bytes
  /// (`scale_bytes` at `scales`).
  static void split_block(const void* gguf_block, std::uint8_t* data, std::uint8_t* scales) noexcept {
    quant::block_q8_0 b;
    std::memcpy(&b, gguf_block, sizeof b);
    std::memcpy(data, b.qs.data(), 32);
    std::memcpy(scales, &b.d, 2);
  }

  /// Reference dequantization of weight `i` of planes holding consecutive
  /// blocks (host side): block `i / 32`, element `i % 32`; `d · q` as
  /// `dequantize_row_q8_0` computes it.
  static float dequantize(const std::uint8_t* data, const std::uint8_t* scales, std::size_t i) noexcept {
    half d;
    std::memcpy(&d, scales + (i / weights_per_block) * scale_bytes, 2);
    const auto q = static_cast<std::int8_t>(data[i]);
    return static_cast<float>(q) * static_cast<float>(d);
  }
};
static_assert(weight_policy<q8_0>);
static_assert(q8_0::weights_per_block == quant::q8_0::block_size &&
              q8_0::block_bytes + q8_0::scale_bytes == quant::q8_0::type_size);

}  // namespace foundry::policies
