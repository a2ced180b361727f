#pragma once
/// @file rope_kv_append_batched.hpp
/// RoPE fused with the KV append for a chunk of `batch` tokens at positions
/// pos..pos+batch-1 (prefill): the batched form of `rope_kv_append_stage`
/// (kv_cache.hpp), one grid row per token.
///
/// Token m: rotates q[m] [n_heads, head_dim] in place at position pos + m,
/// writes the rotated k[m] [n_kv, head_dim] into `k_cache` and v[m] into
/// `v_cache` at position pos + m (k and v themselves are unchanged). Layouts:
/// `q` float [batch, n_heads, head_dim], `k`, `v` float [batch, n_kv,
/// head_dim] (token m at element m·n_kv·head_dim), caches float [n_kv,
/// max_seq, head_dim]. RoPE (Su et al., 2021) with adjacent pairs
/// (LLAMA_ROPE_TYPE_NORM) or NeoX pairs, angles as in rope.hpp. Positions at
/// or past `max_seq` are not written.

#include <cstdint>
#include <string>

#include "foundry/core/ct_string.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/stage.hpp"
#include "kernels/attention/kv_cache.hpp"
#include "foundry/dsl/sizes.hpp"
#include "kernels/rope/rope.hpp"

namespace foundry::kernels {

/// Threadgroups (ceil(pairs / 64), batch) of 64 threads: one thread per
/// rotated pair of one token.
struct rope_kv_append_batched_dispatch {
  static constexpr std::uint32_t threads_per_threadgroup = 64;
  template <class Args>
  static dispatch_size compute(const Args& a) {
    return {{foundry::detail::ceil_div_checked(rope_pairs::get(a), 64),
             foundry::detail::ceil_div_checked(size_arg<"batch">::get(a), 1), 1},
            {64, 1, 1}};
  }
};

/// The batched RoPE + KV append main stage (see the file comment).
template <rope_pairing Pairing>
struct rope_kv_append_batched_stage {
  static constexpr fixed_string name = "rope_kv_append_batched";
  static constexpr stage_role role = stage_role::main;
  using q_elements = sizes::product<size_arg<"batch">, size_arg<"n_heads">, size_arg<"head_dim">>;
  using kv_elements = sizes::product<size_arg<"batch">, kv_token_elements>;
  using arguments = type_list<
      arg<"q", inout<float, min_elements<q_elements>>>, arg<"k", input<float, min_elements<kv_elements>>>,
      arg<"v", input<float, min_elements<kv_elements>>>,
      arg<"k_cache", output<float, min_elements<kv_cache_elements>>>,
      arg<"v_cache", output<float, min_elements<kv_cache_elements>>>, arg<"n_heads", scalar<std::uint32_t>>,
      arg<"n_kv", scalar<std::uint32_t>>, arg<"head_dim", scalar<std::uint32_t>>,
      arg<"max_seq", scalar<std::uint32_t>>, arg<"pos", scalar<std::uint32_t>>, arg<"freq_base", scalar<float>>,
      arg<"batch", scalar<std::uint32_t>>>;
  using helpers = type_list<rope_piece>;
  static constexpr ct_string emit() {
    const ct_string neox(rope_neox_flag(Pairing));
    return "const uint pairs = $head_dim / 2u;\n"
           "const uint i = $thread_position_in_grid.x;\n"
           "const uint m = $threadgroup_position_in_grid.y;\n"
           "const uint at = $pos + m;\n"
           "const uint q_pairs = $n_heads * pairs;\n"
           "if (m < $batch && i < q_pairs) {\n"
           "  const RopePair p = foundry_rope_pair(i % pairs, $head_dim, at, $freq_base, " + neox + ");\n"
           "  foundry_rope_rotate($q + ((ulong)m * $n_heads + i / pairs) * $head_dim, p);\n"
           "} else if (m < $batch && i < q_pairs + $n_kv * pairs && at < $max_seq) {\n"
           "  const uint u = i - q_pairs;\n"
           "  const uint h = u / pairs;\n"
           "  const RopePair p = foundry_rope_pair(u % pairs, $head_dim, at, $freq_base, " + neox + ");\n"
           "  const ulong src = ((ulong)m * $n_kv + h) * $head_dim;\n"
           "  const ulong dst = ((ulong)h * $max_seq + at) * $head_dim;\n"
           "  const float x0 = $k[src + p.e0], x1 = $k[src + p.e1];\n"
           "  $k_cache[dst + p.e0] = x0 * p.c - x1 * p.s;\n"
           "  $k_cache[dst + p.e1] = x0 * p.s + x1 * p.c;\n"
           "  $v_cache[dst + p.e0] = $v[src + p.e0];\n"
           "  $v_cache[dst + p.e1] = $v[src + p.e1];\n"
           "}";
  }
};

/// Batched RoPE (adjacent pairs) + KV append into float32 caches.
/// Arguments, in buffer order: `q`, `k`, `v`, `k_cache`, `v_cache`,
/// `n_heads`, `n_kv`, `head_dim`, `max_seq`, `pos` (first token's
/// position), `freq_base`, `batch` (tokens).
using rope_norm_kv_append_batched_f32 = fused_kernel<"rope_norm_kv_append_batched_f32", rope_kv_append_batched_dispatch,
                                                     rope_kv_append_batched_stage<rope_pairing::normal>>;
/// As `rope_norm_kv_append_batched_f32` with the NeoX pairing.
using rope_neox_kv_append_batched_f32 = fused_kernel<"rope_neox_kv_append_batched_f32", rope_kv_append_batched_dispatch,
                                                     rope_kv_append_batched_stage<rope_pairing::neox>>;

/// The batched RoPE + KV append aliases (kernels/library.hpp), one per line.
using rope_kv_append_batched_library = type_list<rope_norm_kv_append_batched_f32,
                                                 rope_neox_kv_append_batched_f32>;

}  // namespace foundry::kernels
