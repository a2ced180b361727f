#pragma once
/// @file k_quant_planes.hpp
/// Host helpers shared by the K-quant policies (q4_k.hpp, q5_k.hpp,
/// q6_k.hpp): how one GGUF super-block becomes the data and scale planes of
/// its sub-blocks.
///
/// A K-quant super-block (256 weights, foundry/quant/k_quants.hpp) holds
/// several sub-blocks, each with its own scale. The policies use the
/// sub-block as the loading contract's block (policy.hpp): one GGUF block
/// splits into `P::sub_blocks` policy blocks (`P::split_block(gguf_block, s,
/// data, scales)` for sub-block s), and the two-level scale (a half
/// super-block scale times a 6- or 8-bit sub-block scale) is resolved on the
/// host into one float per sub-block, computed with the same float product
/// as ggml's dequantizer, so the kernels stay single-level and exact.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace foundry::policies::detail {

/// Stores `v` as 4 little-endian bytes at `p` (any alignment).
inline void store_float(std::uint8_t* p, float v) noexcept { std::memcpy(p, &v, 4); }

/// Reads a float stored by store_float.
inline float load_float(const std::uint8_t* p) noexcept {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace foundry::policies::detail
