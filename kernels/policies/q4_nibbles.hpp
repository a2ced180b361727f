#pragma once
/// @file q4_nibbles.hpp
/// The packed 4-bit data plane shared by the Q4_0 and Q4_1 policies.
///
/// GGUF stores a 32-weight block's codes as `qs[16]` with element j in the
/// low nibble of qs[j] (j < 16) and element j in the high nibble of
/// qs[j − 16] (j ≥ 16). Foundry's data plane repacks them so that adjacent
/// weights share a byte: byte i of a block holds element 2i in its low nibble
/// and element 2i+1 in its high nibble. A run of N adjacent elements at an
/// N-aligned index is then N/2 consecutive bytes, read as one word by the
/// Metal helper `Q4Nibbles` (kernels/policies/q4_nibbles.metal).

#include <cstddef>
#include <cstdint>

#include "foundry/dsl/source_piece.hpp"
#include "foundry/embedded/policies/q4_nibbles.metal.hpp"

namespace foundry::policies {

/// The Metal helper `Q4Nibbles` (a dependency of the Q4 policies' sources).
using q4_nibbles_piece = source_piece<"q4_nibbles", embedded::policies::q4_nibbles_metal>;

/// Repacks one block's GGUF nibbles `qs[16]` into the data-plane order
/// (`out[i] = q_{2i} | q_{2i+1} << 4`).
inline void repack_nibbles(const std::uint8_t* qs, std::uint8_t* out) noexcept {
  auto code = [qs](unsigned j) -> unsigned { return j < 16 ? (qs[j] & 0x0fu) : (qs[j - 16] >> 4); };
  for (unsigned i = 0; i < 16; ++i) out[i] = static_cast<std::uint8_t>(code(2 * i) | (code(2 * i + 1) << 4));
}

/// Code `i` (0..15) of a repacked data plane: nibble `i % 2` of byte `i / 2`.
inline int packed_nibble(const std::uint8_t* data, std::size_t i) noexcept {
  return (data[i / 2] >> (4 * (i % 2))) & 0x0f;
}

}  // namespace foundry::policies
