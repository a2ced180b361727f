#pragma once
/// @file rope.hpp
/// Rotary position embedding (RoPE; Su et al., 2021, "RoFormer", eqs. 13-15
/// and 34) of one token's query and key heads, in place.
///
/// Layouts (float32, row-major): `q` [n_heads, head_dim], `k` [n_kv, head_dim].
/// Pair i (0 <= i < head_dim/2) of every head is rotated by the angle
/// `pos · θ_i`, `θ_i = freq_base^(−2i/head_dim)` (`freq_base` is the GGUF key
/// `<arch>.rope.freq_base`; 10000 in RoFormer, 100000 in SmolLM2):
///   x'_e0 = x_e0·cos − x_e1·sin,   x'_e1 = x_e0·sin + x_e1·cos.
/// Pairings (`rope_pairing`):
///   - `normal`: (e0, e1) = (2i, 2i+1), adjacent elements — RoFormer and
///     GPT-J, llama.cpp's LLAMA_ROPE_TYPE_NORM, which Llama-architecture GGUFs
///     use (the converter permutes the Q/K weight rows so that this pairing
///     matches the Hugging Face rotate-half model);
///   - `neox`: (e0, e1) = (i, i + head_dim/2), GPT-NeoX's rotate-half,
///     llama.cpp's LLAMA_ROPE_TYPE_NEOX.
/// Angles are computed in float as llama.cpp does (see rope.metal); no
/// context-extension scaling (YaRN, linear frequency scaling) and the whole
/// head is rotated (n_rot = head_dim). `head_dim` must be even.
///
/// One thread per rotated pair: threads [0, n_heads·head_dim/2) rotate q,
/// the next n_kv·head_dim/2 rotate k; 64 threads per threadgroup.

#include <cstdint>
#include <string>

#include "foundry/core/ct_text.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/sizes.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/dsl/stage.hpp"
#include "foundry/embedded/rope/rope.metal.hpp"

namespace foundry::kernels {

/// Which elements of a head RoPE rotates together (see the file comment).
enum class rope_pairing {
  normal,  ///< adjacent pairs (2i, 2i+1): GPT-J / RoFormer, LLAMA_ROPE_TYPE_NORM
  neox,    ///< split halves (i, i + head_dim/2): GPT-NeoX, LLAMA_ROPE_TYPE_NEOX
};

/// Metal helpers `RopePair`, `foundry_rope_pair`, `foundry_rope_rotate`.
using rope_piece = source_piece<"rope", embedded::rope::rope_metal>;

/// Rotated pairs of one token, `(n_heads + n_kv) · head_dim / 2`: the thread
/// count of the RoPE kernels.
using rope_pairs = sizes::product<sizes::sum<size_arg<"n_heads">, size_arg<"n_kv">>, sizes::quotient<size_arg<"head_dim">, 2>>;

/// Literal `true`/`false` for the NeoX pairing flag in emitted code.
constexpr std::string_view rope_neox_flag(rope_pairing p) { return p == rope_pairing::neox ? "true" : "false"; }

/// RoPE main stage: rotates `q` [n_heads, head_dim] and `k` [n_kv, head_dim]
/// in place at position `pos` (see the file comment). Arguments: `q`, `k`
/// (inout float), `n_heads`, `n_kv`, `head_dim`, `pos` (uint), `freq_base`
/// (float). Dispatch with one thread per pair (`rope_pairs`).
template <rope_pairing Pairing>
struct rope_qk {
  static constexpr fixed_string name = "rope_qk";
  static constexpr stage_role role = stage_role::main;
  using arguments = type_list<
      arg<"q", inout<float, min_elements<sizes::product<size_arg<"n_heads">, size_arg<"head_dim">>>>>,
      arg<"k", inout<float, min_elements<sizes::product<size_arg<"n_kv">, size_arg<"head_dim">>>>>,
      arg<"n_heads", scalar<std::uint32_t>>, arg<"n_kv", scalar<std::uint32_t>>,
      arg<"head_dim", scalar<std::uint32_t>>, arg<"pos", scalar<std::uint32_t>>, arg<"freq_base", scalar<float>>>;
  using helpers = type_list<rope_piece>;
  static constexpr ct_string emit() {
    return "const uint pairs = $head_dim / 2u;\n"
           "const uint t = $thread_position_in_grid.x;\n"
           "const uint q_pairs = $n_heads * pairs;\n"
           "if (t < q_pairs + $n_kv * pairs) {\n"
           "  const bool is_q = t < q_pairs;\n"
           "  const uint u = is_q ? t : t - q_pairs;\n"
           "  const RopePair p = foundry_rope_pair(u % pairs, $head_dim, $pos, $freq_base, " +
           ct_string(rope_neox_flag(Pairing)) +
           ");\n"
           "  foundry_rope_rotate((is_q ? $q : $k) + (ulong)(u / pairs) * $head_dim, p);\n"
           "}";
  }
};

/// Dispatch of the RoPE kernels: one thread per rotated pair, 64 per threadgroup.
using rope_dispatch = per_element<rope_pairs, 64>;

/// RoPE of q [n_heads, head_dim] and k [n_kv, head_dim] in place, adjacent
/// pairs (LLAMA_ROPE_TYPE_NORM; Llama GGUFs such as SmolLM2). Arguments, in
/// buffer order: `q`, `k` (float, inout), `n_heads`, `n_kv`, `head_dim`,
/// `pos` (uint), `freq_base` (float).
using rope_norm = fused_kernel<"rope_norm", rope_dispatch, rope_qk<rope_pairing::normal>>;
/// As `rope_norm` with the NeoX pairing (i, i + head_dim/2).
using rope_neox = fused_kernel<"rope_neox", rope_dispatch, rope_qk<rope_pairing::neox>>;

/// The library's RoPE kernels: every alias of this header, one per
/// line. kernels/library.hpp concatenates these lists; add a new alias here.
using rope_library = type_list<
    rope_norm,
    rope_neox>;

}  // namespace foundry::kernels
