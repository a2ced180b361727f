#pragma once
/// @file repack.hpp
/// Host side of the weight policies: GGUF tensor data → data and scale
/// planes in a chosen layout, and the float reference dequantization of the
/// planes.
///
/// GGUF stores an [N rows, K] weight (ne = [K, N]) as N rows of K/wpb blocks
/// of the tensor type (foundry/quant/ggml_blocks.hpp); F16/F32 rows are plain
/// arrays (one-element blocks). `repack<P>` splits every block into its
/// data-plane and scale-plane bytes (`P::split_block`: Q4 codes repacked so
/// adjacent weights share a byte, see q4_nibbles.hpp) and orders the blocks
/// as `layout` says (policies.hpp). `dequantize` reads the planes back with
/// the policy's host reference (`P::dequantize`), which computes each weight
/// with the same float operations as ggml's `dequantize_row_*`, so
///   dequantize(repack<P>(blocks, N, K, any layout))
///     == quant::dequantize_row(ggml_type_of<P>, blocks, ·, N·K)   (bit for bit).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "foundry/dsl/policy.hpp"
#include "foundry/quant/ggml_blocks.hpp"
#include "kernels/policies/policies.hpp"

namespace foundry::policies {

/// The planes of an [rows, k] weight matrix in policy `P` (host memory),
/// ready to upload as a GEMV's `w` and `w_scales` (empty for policies
/// without a scale).
template <weight_policy P>
struct weight_planes {
  std::vector<std::uint8_t> data;    ///< data plane, rows·(k/wpb)·block_bytes bytes
  std::vector<std::uint8_t> scales;  ///< scale plane, rows·(k/wpb)·scale_bytes bytes
  std::size_t rows = 0;              ///< N
  std::size_t k = 0;                 ///< K, a multiple of P::weights_per_block
  layout lay = layout::row_major;

  /// Blocks per row, K / weights_per_block.
  std::size_t blocks_per_row() const noexcept { return k / P::weights_per_block; }
  /// Index of block (r, kb) in both planes (`layout`, policies.hpp).
  std::size_t block_index(std::size_t r, std::size_t kb) const noexcept {
    return lay == layout::row_major ? r * blocks_per_row() + kb : kb * rows + r;
  }
};

/// Bytes of GGUF data for an [rows, k] tensor of `P`'s GGUF type.
template <weight_policy P>
constexpr std::uint64_t gguf_bytes(std::uint64_t rows, std::uint64_t k) noexcept {
  return rows * (k / quant::block_size(ggml_type_of<P>)) * quant::type_size(ggml_type_of<P>);
}

/// Policy blocks per GGUF block of `P`: 1, or for two-level formats whose
/// policy block is a sub-block of the GGUF block (K-quants), `P::sub_blocks`.
template <weight_policy P>
inline constexpr std::size_t sub_blocks_of = 1;
template <weight_policy P>
  requires requires { P::sub_blocks; }
inline constexpr std::size_t sub_blocks_of<P> = P::sub_blocks;

/// Splits GGUF tensor data (`gguf_rows`: `gguf_bytes<P>(rows, k)` bytes, row
/// after row, any alignment) into `P`'s planes in layout `lay`. A GGUF block
/// of a two-level format (`P::sub_blocks` > 1) gives `P::sub_blocks`
/// consecutive policy blocks, sub-block s from `P::split_block(block, s,
/// data, scales)`. Throws `quant_error` when k is not a multiple of the GGUF
/// block size.
template <weight_policy P>
weight_planes<P> repack(const void* gguf_rows, std::size_t rows, std::size_t k, layout lay) {
  constexpr std::size_t wpb = P::weights_per_block;
  constexpr std::size_t sub = sub_blocks_of<P>;
  constexpr std::size_t gguf_wpb = quant::block_size(ggml_type_of<P>);
  constexpr std::size_t gguf_block = quant::type_size(ggml_type_of<P>);
  static_assert(gguf_wpb == wpb * sub, "policy and GGUF type disagree on the block size");
  if (k % gguf_wpb != 0)
    throw quant_error(std::string(P::name.view()) + ": rows of " + std::to_string(k) +
                      " weights are not a whole number of " + std::to_string(gguf_wpb) + "-weight blocks");
  weight_planes<P> out;
  out.rows = rows;
  out.k = k;
  out.lay = lay;
  out.data.resize(data_plane_bytes<P>(rows, k));
  out.scales.resize(scale_plane_bytes<P>(rows, k));
  const auto* src = static_cast<const std::uint8_t*>(gguf_rows);
  const std::size_t nb = k / gguf_wpb;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t kb = 0; kb < nb; ++kb) {
      const std::uint8_t* block = src + (r * nb + kb) * gguf_block;
      for (std::size_t s = 0; s < sub; ++s) {
        const std::size_t i = out.block_index(r, kb * sub + s);
        std::uint8_t* data = out.data.data() + i * P::block_bytes;
        std::uint8_t* scales = out.scales.data() + i * P::scale_bytes;
        if constexpr (sub > 1) {
          P::split_block(block, s, data, scales);
        } else if constexpr (requires(const void* b, std::uint8_t* p) { P::split_block(b, p, p); }) {
          P::split_block(block, data, scales);
        } else {
          // Plain formats (F16, F32): the GGUF element is the data-plane block.
          static_assert(P::scale_bytes == 0 && gguf_block == P::block_bytes,
                        "a policy with scales or a different block size needs split_block");
          std::memcpy(data, block, P::block_bytes);
        }
      }
    }
  return out;
}

/// The weights of `planes` as a row-major [rows, k] float matrix, computed on
/// the host with the policy's reference dequantization (the reference the
/// GEMV tests compare with).
template <weight_policy P>
std::vector<float> dequantize(const weight_planes<P>& planes) {
  constexpr std::size_t wpb = P::weights_per_block;
  std::vector<float> out(planes.rows * planes.k);
  const std::size_t nb = planes.blocks_per_row();
  for (std::size_t r = 0; r < planes.rows; ++r)
    for (std::size_t kb = 0; kb < nb; ++kb) {
      const std::size_t i = planes.block_index(r, kb);
      const std::uint8_t* data = planes.data.data() + i * P::block_bytes;
      const std::uint8_t* scales = planes.scales.data() + i * P::scale_bytes;
      for (std::size_t j = 0; j < wpb; ++j) out[r * planes.k + kb * wpb + j] = P::dequantize(data, scales, j);
    }
  return out;
}

}  // namespace foundry::policies
