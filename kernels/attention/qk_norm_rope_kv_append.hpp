#pragma once
/// @file qk_norm_rope_kv_append.hpp
/// The step between the Q/K/V projections and attention for the
/// architectures that differ from Llama there (examples/generate/model.hpp):
///
///  - `qk_norm_rope_neox_kv_append_f32` (Qwen3, "QK-norm"): every q and k
///    head is RMS-normalised with its own weight vector, then rotated (RoPE,
///    NeoX pairs), q in place, k into the cache; v is copied to the cache.
///    Qwen3's definition (llama.cpp src/models/qwen3.cpp, Hugging Face
///    `Qwen3Attention`): q_h ← RoPE(q_h / sqrt(mean(q_h²) + eps) ⊙ q_norm),
///    the same for k_h with k_norm, per head h of head_dim values.
///  - `kv_append_batched_f32` (layers without RoPE, SmolLM3's "NoPE"
///    layers, in prefill): the batched KV append, q untouched.
///
/// Both work on a chunk of `batch` tokens at positions pos..pos+batch-1
/// (decode is batch = 1). Layouts as rope_kv_append_batched.hpp: `q` float
/// [batch, n_heads, head_dim], `k`, `v` float [batch, n_kv, head_dim],
/// caches float [n_kv, max_seq, head_dim]; positions at or past `max_seq`
/// are not written.

#include <cstdint>
#include <string>

#include "foundry/core/ct_string.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/sizes.hpp"
#include "foundry/dsl/stage.hpp"
#include "kernels/attention/kv_cache.hpp"
#include "kernels/rope/rope.hpp"

namespace foundry::kernels {

/// Size source: the heads of one token, n_heads + n_kv.
using qk_heads = sizes::sum<size_arg<"n_heads">, size_arg<"n_kv">>;

/// One SIMD-group per head (q heads first, then k heads) and token: the
/// head's RMS is one `simd_sum`; 4 heads per threadgroup, tokens along y.
using qk_norm_dispatch = simdgroup_per_row<qk_heads, 4, size_arg<"batch">>;

/// Main stage of `qk_norm_rope_neox_kv_append_f32` (see the file comment).
/// Each lane normalises and rotates the pairs i = lane, lane + 32, ... of
/// its head; it reads all its head's values for the sum of squares before
/// the `simd_sum`, and after it writes only its own pairs, so q is updated
/// in place without a race. Arguments, in order: `q` (inout), `k`, `v`,
/// `k_cache`, `v_cache`, `q_norm`, `k_norm` (float [head_dim]), `eps`,
/// `n_heads`, `n_kv`, `head_dim`, `max_seq`, `pos`, `freq_base`, `batch`.
template <rope_pairing Pairing>
struct qk_norm_rope_kv_append_stage {
  static constexpr fixed_string name = "qk_norm_rope_kv_append";
  static constexpr stage_role role = stage_role::main;
  using dispatch = qk_norm_dispatch;
  using q_elements = sizes::product<size_arg<"batch">, size_arg<"n_heads">, size_arg<"head_dim">>;
  using kv_elements = sizes::product<size_arg<"batch">, kv_token_elements>;
  using arguments = type_list<
      arg<"q", inout<float, min_elements<q_elements>>>, arg<"k", input<float, min_elements<kv_elements>>>,
      arg<"v", input<float, min_elements<kv_elements>>>,
      arg<"k_cache", output<float, min_elements<kv_cache_elements>>>,
      arg<"v_cache", output<float, min_elements<kv_cache_elements>>>,
      arg<"q_norm", input<float, min_elements<size_arg<"head_dim">>>>,
      arg<"k_norm", input<float, min_elements<size_arg<"head_dim">>>>, arg<"eps", scalar<float>>,
      arg<"n_heads", scalar<std::uint32_t>>, arg<"n_kv", scalar<std::uint32_t>>,
      arg<"head_dim", scalar<std::uint32_t>>, arg<"max_seq", scalar<std::uint32_t>>,
      arg<"pos", scalar<std::uint32_t>>, arg<"freq_base", scalar<float>>, arg<"batch", scalar<std::uint32_t>>>;
  using helpers = type_list<rope_piece>;
  static constexpr ct_string emit() {
    const ct_string neox(rope_neox_flag(Pairing));
    return "const uint h = $threadgroup_position_in_grid.x * 4u + $simdgroup_index_in_threadgroup;\n"
           "const uint m = $threadgroup_position_in_grid.y;\n"
           "const uint lane = $thread_index_in_simdgroup;\n"
           "const uint at = $pos + m;\n"
           "const bool is_q = h < $n_heads;\n"
           "// Rows past the heads (the last threadgroup's spare SIMD-groups) and\n"
           "// k heads past the cache do nothing; the whole SIMD-group agrees.\n"
           "if (m < $batch && h < $n_heads + $n_kv && (is_q || at < $max_seq)) {\n"
           "  const uint kh = is_q ? 0u : h - $n_heads;\n"
           "  const device float* src = is_q ? $q + ((ulong)m * $n_heads + h) * $head_dim\n"
           "                                 : $k + ((ulong)m * $n_kv + kh) * $head_dim;\n"
           "  const device float* w = is_q ? $q_norm : $k_norm;\n"
           "  float ss = 0.0f;\n"
           "  for (uint e = lane; e < $head_dim; e += 32u) ss += src[e] * src[e];\n"
           "  ss = simd_sum(ss);\n"
           "  const float inv_rms = rsqrt(ss / float($head_dim) + $eps);\n"
           "  const ulong cache = ((ulong)kh * $max_seq + at) * $head_dim;\n"
           "  device float* dst = is_q ? $q + ((ulong)m * $n_heads + h) * $head_dim : $k_cache + cache;\n"
           "  for (uint i = lane; i < $head_dim / 2u; i += 32u) {\n"
           "    const RopePair p = foundry_rope_pair(i, $head_dim, at, $freq_base, " + neox + ");\n"
           "    const float x0 = src[p.e0] * inv_rms * w[p.e0], x1 = src[p.e1] * inv_rms * w[p.e1];\n"
           "    dst[p.e0] = x0 * p.c - x1 * p.s;\n"
           "    dst[p.e1] = x0 * p.s + x1 * p.c;\n"
           "  }\n"
           "  if (!is_q) {\n"
           "    const device float* vs = $v + ((ulong)m * $n_kv + kh) * $head_dim;\n"
           "    for (uint e = lane; e < $head_dim; e += 32u) $v_cache[cache + e] = vs[e];\n"
           "  }\n"
           "}";
  }
};

/// Main stage of `kv_append_batched_f32`: `k_cache[h, pos + m, d] = k[m, h,
/// d]`, the same for v, one thread per element of k (batch · n_kv ·
/// head_dim). Arguments: `k`, `v`, `k_cache`, `v_cache`, `n_kv`, `head_dim`,
/// `max_seq`, `pos`, `batch`.
struct kv_append_batched_stage {
  static constexpr fixed_string name = "kv_append_batched";
  static constexpr stage_role role = stage_role::main;
  using kv_elements = sizes::product<size_arg<"batch">, kv_token_elements>;
  using arguments = type_list<arg<"k", input<float, min_elements<kv_elements>>>,
                              arg<"v", input<float, min_elements<kv_elements>>>,
                              arg<"k_cache", output<float, min_elements<kv_cache_elements>>>,
                              arg<"v_cache", output<float, min_elements<kv_cache_elements>>>,
                              arg<"n_kv", scalar<std::uint32_t>>, arg<"head_dim", scalar<std::uint32_t>>,
                              arg<"max_seq", scalar<std::uint32_t>>, arg<"pos", scalar<std::uint32_t>>,
                              arg<"batch", scalar<std::uint32_t>>>;
  static constexpr std::string_view body =
      "const ulong e = $thread_position_in_grid.x;\n"
      "const uint token_elements = $n_kv * $head_dim;\n"
      "if (e < (ulong)$batch * token_elements) {\n"
      "  const uint m = uint(e / token_elements), j = uint(e % token_elements);\n"
      "  const uint at = $pos + m;\n"
      "  if (at < $max_seq) {\n"
      "    const ulong dst = ((ulong)(j / $head_dim) * $max_seq + at) * $head_dim + j % $head_dim;\n"
      "    $k_cache[dst] = $k[e];\n"
      "    $v_cache[dst] = $v[e];\n"
      "  }\n"
      "}";
};

/// Qwen3's QK-norm + RoPE (NeoX pairs) + KV append into float32 caches, for
/// `batch` tokens at positions pos.. (see the file comment).
using qk_norm_rope_neox_kv_append_f32 =
    fused_kernel<"qk_norm_rope_neox_kv_append_f32", qk_norm_dispatch,
                 qk_norm_rope_kv_append_stage<rope_pairing::neox>>;

/// The KV append of `batch` tokens (no RoPE) into float32 caches.
using kv_append_batched_f32 =
    fused_kernel<"kv_append_batched_f32",
                 per_element<sizes::product<size_arg<"batch">, kv_token_elements>, 64>, kv_append_batched_stage>;

/// The aliases of this header (kernels/library.hpp), one per line.
using qk_norm_library = type_list<
    qk_norm_rope_neox_kv_append_f32,
    kv_append_batched_f32>;

}  // namespace foundry::kernels
