#pragma once
/// @file kv_cache.hpp
/// KV-cache append for one decode token, alone or fused with RoPE.
///
/// Cache layout (one layer; float32 or half elements `T`):
///   k_cache, v_cache: [n_kv, max_seq, head_dim], row-major, so element
///   (h, p, d) is at `(h·max_seq + p)·head_dim + d`: the positions of one KV
///   head are contiguous, which is what `attention_decode` streams over.
/// Layers: the caller allocates one buffer for all layers and binds layer
/// `l`'s cache with a buffer offset, `cache.at(l · n_kv·max_seq·head_dim ·
/// sizeof(T))` (the kernels never see the layer index).
/// Inputs: k, v of the current token, float32 [n_kv, head_dim] (the K and V
/// projections' outputs). Position `pos` (0-based) must be < `max_seq`; the
/// kernels write nothing when it is not (the host is expected to check).

#include <cstdint>
#include <string>
#include <type_traits>

#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/sizes.hpp"
#include "foundry/dsl/stage.hpp"
#include "foundry/metal/half.hpp"
#include "foundry/metal/type_name.hpp"
#include "kernels/rope/rope.hpp"

namespace foundry::kernels {

/// Where a decode kernel takes the token's position from.
enum class position_source {
  scalar_arg,  ///< scalar argument `pos` (uint), set by the host for each dispatch
  buffer,      ///< `position[0]`, a uint buffer argument: the position lives in device
               ///< memory, so a recorded step (a CUDA graph) replays unchanged while
               ///< `advance_position` moves it on
};

namespace detail {
/// The `pos` (or `position`) argument of a stage reading the position from `S`.
template <position_source S>
using position_args = std::conditional_t<S == position_source::scalar_arg, type_list<arg<"pos", scalar<std::uint32_t>>>,
                                         type_list<arg<"position", input<std::uint32_t>>>>;
/// The MSL expression of the position in a stage's text.
template <position_source S>
constexpr ct_string position_expr() {
  if constexpr (S == position_source::scalar_arg)
    return ct_string("$pos");
  else
    return ct_string("$position[0]");
}
}  // namespace detail

/// Elements of one layer's K (or V) cache, `n_kv · max_seq · head_dim`.
using kv_cache_elements = sizes::product<size_arg<"n_kv">, size_arg<"max_seq">, size_arg<"head_dim">>;
/// Elements of one token's queries (and of the attention output), `n_heads · head_dim`.
using attention_query_elements = sizes::product<size_arg<"n_heads">, size_arg<"head_dim">>;
/// Elements of one token's K (or V), `n_kv · head_dim`.
using kv_token_elements = sizes::product<size_arg<"n_kv">, size_arg<"head_dim">>;

/// KV append main stage: `k_cache[h, pos, d] = k[h, d]`, `v_cache[h, pos, d]
/// = v[h, d]` (converted to `T`), one thread per element of `k`. Arguments:
/// `k`, `v` (float [n_kv, head_dim]), `k_cache`, `v_cache` (T [n_kv,
/// max_seq, head_dim]), `n_kv`, `head_dim`, `max_seq`, and `pos` (uint) or
/// `position` (uint buffer, element 0) per `Pos`.
template <class T, position_source Pos = position_source::scalar_arg>
struct kv_append_stage {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, half>, "foundry: KV caches hold float or half");
  static constexpr fixed_string name = "kv_append";
  static constexpr stage_role role = stage_role::main;
  using arguments = concat_t<type_list<arg<"k", input<float, min_elements<kv_token_elements>>>,
                                       arg<"v", input<float, min_elements<kv_token_elements>>>,
                                       arg<"k_cache", output<T, min_elements<kv_cache_elements>>>,
                                       arg<"v_cache", output<T, min_elements<kv_cache_elements>>>,
                                       arg<"n_kv", scalar<std::uint32_t>>, arg<"head_dim", scalar<std::uint32_t>>,
                                       arg<"max_seq", scalar<std::uint32_t>>>,
                             detail::position_args<Pos>>;
  static constexpr ct_string emit() {
    const ct_string t(metal::type_name<T>());
    return "const uint e = $thread_position_in_grid.x;\n"
           "const uint at = " + detail::position_expr<Pos>() + ";\n"
           "if (e < $n_kv * $head_dim && at < $max_seq) {\n"
           "  const ulong dst = ((ulong)(e / $head_dim) * $max_seq + at) * $head_dim + e % $head_dim;\n"
           "  $k_cache[dst] = " + t + "($k[e]);\n"
           "  $v_cache[dst] = " + t + "($v[e]);\n"
           "}";
  }
};

/// RoPE fused with the KV append: rotates `q` [n_heads, head_dim] in place,
/// writes the rotated `k` [n_kv, head_dim] to `k_cache` at `pos` (k itself is
/// left unchanged) and copies `v` to `v_cache` at `pos`. One thread per
/// rotated pair (`rope_pairs`); a thread of the k range also copies the two v
/// elements of its pair. Arguments: `q` (inout float), `k`, `v` (float),
/// `k_cache`, `v_cache` (T), `n_heads`, `n_kv`, `head_dim`, `max_seq`, `pos`
/// (uint) or `position` (uint buffer, element 0) per `Pos`, `freq_base`
/// (float). RoPE as in rope.hpp; layouts as in this file.
template <rope_pairing Pairing, class T, position_source Pos = position_source::scalar_arg>
struct rope_kv_append_stage {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, half>, "foundry: KV caches hold float or half");
  static constexpr fixed_string name = "rope_kv_append";
  static constexpr stage_role role = stage_role::main;
  using arguments = concat_t<
      type_list<arg<"q", inout<float, min_elements<attention_query_elements>>>,
                arg<"k", input<float, min_elements<kv_token_elements>>>,
                arg<"v", input<float, min_elements<kv_token_elements>>>,
                arg<"k_cache", output<T, min_elements<kv_cache_elements>>>,
                arg<"v_cache", output<T, min_elements<kv_cache_elements>>>, arg<"n_heads", scalar<std::uint32_t>>,
                arg<"n_kv", scalar<std::uint32_t>>, arg<"head_dim", scalar<std::uint32_t>>,
                arg<"max_seq", scalar<std::uint32_t>>>,
      detail::position_args<Pos>, type_list<arg<"freq_base", scalar<float>>>>;
  using helpers = type_list<rope_piece>;
  static constexpr ct_string emit() {
    const ct_string t(metal::type_name<T>());
    return "const uint pairs = $head_dim / 2u;\n"
           "const uint i = $thread_position_in_grid.x;\n"
           "const uint q_pairs = $n_heads * pairs;\n"
           "const uint at = " + detail::position_expr<Pos>() + ";\n"
           "if (i < q_pairs) {\n"
           "  const RopePair p = foundry_rope_pair(i % pairs, $head_dim, at, $freq_base, " +
           ct_string(rope_neox_flag(Pairing)) +
           ");\n"
           "  foundry_rope_rotate($q + (ulong)(i / pairs) * $head_dim, p);\n"
           "} else if (i < q_pairs + $n_kv * pairs && at < $max_seq) {\n"
           "  const uint u = i - q_pairs;\n"
           "  const uint h = u / pairs;\n"
           "  const RopePair p = foundry_rope_pair(u % pairs, $head_dim, at, $freq_base, " +
           ct_string(rope_neox_flag(Pairing)) +
           ");\n"
           "  const ulong src = (ulong)h * $head_dim;\n"
           "  const ulong dst = ((ulong)h * $max_seq + at) * $head_dim;\n"
           "  const float x0 = $k[src + p.e0], x1 = $k[src + p.e1];\n"
           "  $k_cache[dst + p.e0] = " + t + "(x0 * p.c - x1 * p.s);\n"
           "  $k_cache[dst + p.e1] = " + t + "(x0 * p.s + x1 * p.c);\n"
           "  $v_cache[dst + p.e0] = " + t + "($v[src + p.e0]);\n"
           "  $v_cache[dst + p.e1] = " + t + "($v[src + p.e1]);\n"
           "}";
  }
};

/// Dispatch of `kv_append_*`: one thread per element of k, 64 per threadgroup.
using kv_append_dispatch = per_element<kv_token_elements, 64>;

/// Appends one token's k, v (float [n_kv, head_dim]) to float32 caches
/// [n_kv, max_seq, head_dim] at `pos`. Arguments, in buffer order: `k`, `v`,
/// `k_cache`, `v_cache`, `n_kv`, `head_dim`, `max_seq`, `pos` (uint).
using kv_append_f32 = fused_kernel<"kv_append_f32", kv_append_dispatch, kv_append_stage<float>>;
/// As `kv_append_f32` with half caches (values rounded to nearest half).
using kv_append_f16 = fused_kernel<"kv_append_f16", kv_append_dispatch, kv_append_stage<half>>;

/// RoPE (adjacent pairs, LLAMA_ROPE_TYPE_NORM) of q in place and of k into
/// the float32 k_cache, v into v_cache, at `pos`: replaces `rope_norm` +
/// `kv_append_f32` for one layer. Arguments, in buffer order: `q`, `k`, `v`,
/// `k_cache`, `v_cache`, `n_heads`, `n_kv`, `head_dim`, `max_seq`, `pos`,
/// `freq_base`.
using rope_norm_kv_append_f32 =
    fused_kernel<"rope_norm_kv_append_f32", rope_dispatch, rope_kv_append_stage<rope_pairing::normal, float>>;
/// As `rope_norm_kv_append_f32` with the NeoX pairing.
using rope_neox_kv_append_f32 =
    fused_kernel<"rope_neox_kv_append_f32", rope_dispatch, rope_kv_append_stage<rope_pairing::neox, float>>;
/// As `rope_norm_kv_append_f32` with half caches.
using rope_norm_kv_append_f16 =
    fused_kernel<"rope_norm_kv_append_f16", rope_dispatch, rope_kv_append_stage<rope_pairing::normal, half>>;
/// As `kv_append_f32`, `rope_norm_kv_append_f32` and `rope_neox_kv_append_f32`
/// with the position read from `position[0]` (a uint buffer argument in place
/// of the scalar `pos`): the kernels of a decode step recorded once and
/// replayed (`advance_position` moves the position on). Arguments, in buffer
/// order, as those kernels' with `position` in place of `pos`.
using kv_append_f32_position_buffer =
    fused_kernel<"kv_append_f32_position_buffer", kv_append_dispatch, kv_append_stage<float, position_source::buffer>>;
/// `rope_norm_kv_append_f32` with the position read from `position[0]`.
using rope_norm_kv_append_f32_position_buffer =
    fused_kernel<"rope_norm_kv_append_f32_position_buffer", rope_dispatch,
                 rope_kv_append_stage<rope_pairing::normal, float, position_source::buffer>>;
/// `rope_neox_kv_append_f32` with the position read from `position[0]`.
using rope_neox_kv_append_f32_position_buffer =
    fused_kernel<"rope_neox_kv_append_f32_position_buffer", rope_dispatch,
                 rope_kv_append_stage<rope_pairing::neox, float, position_source::buffer>>;

/// Position advance main stage: `position[0] += 1` (one thread). The last
/// kernel of a replayed decode step, so the next replay sees the next
/// position without a write from the host.
struct position_advance_stage {
  static constexpr fixed_string name = "position_advance";
  static constexpr stage_role role = stage_role::main;
  using arguments = type_list<arg<"position", inout<std::uint32_t>>>;
  static constexpr ct_string emit() { return "if ($thread_position_in_grid.x == 0u) $position[0] += 1u;"; }
};
/// `position[0] += 1` for a uint buffer `position` (one threadgroup of 32
/// threads, one of which writes). Arguments: `position`.
using advance_position = fused_kernel<"advance_position", per_element<size_const<1>, 32>, position_advance_stage>;

/// The library's KV cache append (with RoPE) kernels: every alias of this header, one per
/// line. kernels/library.hpp concatenates these lists; add a new alias here.
using kv_cache_library = type_list<
    kv_append_f32,
    kv_append_f16,
    rope_norm_kv_append_f32,
    rope_neox_kv_append_f32,
    rope_norm_kv_append_f16,
    kv_append_f32_position_buffer,
    rope_norm_kv_append_f32_position_buffer,
    rope_neox_kv_append_f32_position_buffer,
    advance_position>;

}  // namespace foundry::kernels
