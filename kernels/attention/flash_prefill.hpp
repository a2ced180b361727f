#pragma once
/// @file flash_prefill.hpp
/// FlashAttention prefill: causal attention of a chunk of `batch` query
/// tokens at positions pos..pos+batch-1 over a layer's KV cache (which
/// already holds the chunk's keys and values, appended at those positions).
///
///   y[i, h] = Σ_{p=0..pos+i} softmax_p(q[i, h]·K[g, p] / sqrt(head_dim)) · V[g, p],
///   g = h / (n_heads / n_kv)
/// — scaled dot-product attention (Vaswani et al., 2017, eq. 1), causal,
/// grouped-query (Ainslie et al., 2023), computed as in FlashAttention (Dao
/// et al., 2022): keys and values stream through threadgroup memory in tiles
/// of `KeyTile` positions and each query keeps a running maximum m, sum l
/// and accumulator (online softmax, Milakov & Gimelshein, 2018); per tile,
/// with the tile's scores s_j and m' = max(m, max_j s_j):
///   acc ← acc·e^(m−m') + Σ_j e^(s_j−m')·v_j,   l ← l·e^(m−m') + Σ_j e^(s_j−m'),
/// and y = acc / l at the end.
///
/// Layouts: `q`, `y` float32 [batch, n_heads, head_dim] (token i at element
/// i·n_heads·head_dim); `k_cache`, `v_cache` float32 [n_kv, max_seq,
/// head_dim] (kv_cache.hpp; bind layer l with a buffer offset).
/// `head_dim` must equal `HeadDim` (64 or 128) and pos + batch ≤ max_seq;
/// otherwise nothing is written (poisoned outputs show it).
///
/// Dispatch: threadgroups (ceil(batch / 32), n_heads) of 32 threads, one
/// query token each; the threadgroup loads each K/V tile once for its 32
/// queries (2·KeyTile·HeadDim floats: 16 KiB at head_dim 64, 32 KiB at 128).

#include <cstdint>
#include <string>

#include "foundry/core/ct_string.hpp"
#include "foundry/core/ct_text.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/stage.hpp"
#include "kernels/attention/kv_cache.hpp"
#include "foundry/dsl/sizes.hpp"

namespace foundry::kernels {

/// Threadgroups (ceil(batch / Queries), n_heads) of `Queries` threads.
template <unsigned Queries>
struct attention_prefill_dispatch {
  static constexpr std::uint32_t threads_per_threadgroup = Queries;
  template <class Args>
  static dispatch_size compute(const Args& a) {
    return {{foundry::detail::ceil_div_checked(size_arg<"batch">::get(a), Queries),
             foundry::detail::ceil_div_checked(size_arg<"n_heads">::get(a), 1), 1},
            {Queries, 1, 1}};
  }
};

/// The FlashAttention prefill main stage (see the file comment).
template <unsigned HeadDim, unsigned KeyTile = 32, unsigned Queries = 32>
struct attention_prefill_stage {
  static_assert(HeadDim == 64 || HeadDim == 128, "attention_prefill: head_dim 64 or 128");
  static_assert(2ull * KeyTile * HeadDim * 4 <= 32768, "attention_prefill: K/V tiles exceed 32 KiB");
  static constexpr fixed_string name = "attention_prefill";
  static constexpr stage_role role = stage_role::main;
  using q_elements = sizes::product<size_arg<"batch">, size_arg<"n_heads">, size_arg<"head_dim">>;
  using arguments =
      type_list<arg<"q", input<float, min_elements<q_elements>>>,
                arg<"k_cache", input<float, min_elements<kv_cache_elements>>>,
                arg<"v_cache", input<float, min_elements<kv_cache_elements>>>,
                arg<"y", output<float, min_elements<q_elements>>>, arg<"n_heads", scalar<std::uint32_t>>,
                arg<"n_kv", scalar<std::uint32_t>>, arg<"head_dim", scalar<std::uint32_t>>,
                arg<"max_seq", scalar<std::uint32_t>>, arg<"pos", scalar<std::uint32_t>>,
                arg<"batch", scalar<std::uint32_t>>>;
  using threadgroup = type_list<tg_array<"fa_k", float, KeyTile * HeadDim>, tg_array<"fa_v", float, KeyTile * HeadDim>>;

  static constexpr ct_string emit() {
    const ct_string D = to_text(HeadDim), BK = to_text(KeyTile), BQ = to_text(Queries);
    return "const uint tid_ = $thread_index_in_threadgroup;\n"
           "const uint h_ = $threadgroup_position_in_grid.y;\n"
           "const uint i_ = $threadgroup_position_in_grid.x * " + BQ + "u + tid_;\n"
           "const bool ok_ = $head_dim == " + D + "u && $pos + $batch <= $max_seq && $n_kv > 0u && $n_heads % $n_kv == 0u;\n"
           "const bool active_ = ok_ && i_ < $batch;\n"
           "const uint g_ = ok_ ? h_ / ($n_heads / $n_kv) : 0u;\n"
           // Keys the threadgroup needs: up to its last query's position.
           "const uint last_q_ = min(($threadgroup_position_in_grid.x + 1u) * " + BQ + "u, $batch) - 1u;\n"
           "const uint n_keys_ = ok_ ? $pos + last_q_ + 1u : 0u;\n"
           "const uint my_keys_ = $pos + i_ + 1u;\n"
           "const float scale_ = rsqrt(float(" + D + "));\n"
           "float q_[" + D + "], acc_[" + D + "], s_[" + BK + "];\n"
           "float m_ = -INFINITY, l_ = 0.0f;\n"
           "for (uint d_ = 0; d_ < " + D + "u; ++d_) {\n"
           "  q_[d_] = active_ ? $q[((ulong)i_ * $n_heads + h_) * " + D + "u + d_] * scale_ : 0.0f;\n"
           "  acc_[d_] = 0.0f;\n"
           "}\n"
           "const device float* kc_ = $k_cache + (ulong)g_ * $max_seq * " + D + "u;\n"
           "const device float* vc_ = $v_cache + (ulong)g_ * $max_seq * " + D + "u;\n"
           "for (uint j0_ = 0; j0_ < n_keys_; j0_ += " + BK + "u) {\n"
           "  threadgroup_barrier(mem_flags::mem_threadgroup);\n"
           "  for (uint e_ = tid_; e_ < " + to_text(KeyTile * HeadDim) + "u; e_ += " + BQ + "u) {\n"
           "    const uint j_ = j0_ + e_ / " + D + "u;\n"
           "    $fa_k[e_] = j_ < n_keys_ ? kc_[(ulong)j0_ * " + D + "u + e_] : 0.0f;\n"
           "    $fa_v[e_] = j_ < n_keys_ ? vc_[(ulong)j0_ * " + D + "u + e_] : 0.0f;\n"
           "  }\n"
           "  threadgroup_barrier(mem_flags::mem_threadgroup);\n"
           "  if (active_ && j0_ < my_keys_) {\n"
           "    const uint nj_ = min(" + BK + "u, my_keys_ - j0_);\n"
           "    float mt_ = m_;\n"
           "    for (uint j_ = 0; j_ < nj_; ++j_) {\n"
           "      float s = 0.0f;\n"
           "      for (uint d_ = 0; d_ < " + D + "u; ++d_) s += q_[d_] * $fa_k[j_ * " + D + "u + d_];\n"
           "      s_[j_] = s;\n"
           "      mt_ = max(mt_, s);\n"
           "    }\n"
           "    const float corr_ = exp(m_ - mt_);\n"
           "    l_ *= corr_;\n"
           "    for (uint d_ = 0; d_ < " + D + "u; ++d_) acc_[d_] *= corr_;\n"
           "    for (uint j_ = 0; j_ < nj_; ++j_) {\n"
           "      const float p_ = exp(s_[j_] - mt_);\n"
           "      l_ += p_;\n"
           "      for (uint d_ = 0; d_ < " + D + "u; ++d_) acc_[d_] += p_ * $fa_v[j_ * " + D + "u + d_];\n"
           "    }\n"
           "    m_ = mt_;\n"
           "  }\n"
           "}\n"
           "if (active_)\n"
           "  for (uint d_ = 0; d_ < " + D + "u; ++d_) $y[((ulong)i_ * $n_heads + h_) * " + D + "u + d_] = acc_[d_] / l_;\n";
  }
};

/// FlashAttention prefill, head_dim 64, float32 caches. Arguments, in
/// buffer order: `q`, `k_cache`, `v_cache`, `y`, `n_heads`, `n_kv`,
/// `head_dim`, `max_seq`, `pos` (first query's position), `batch` (queries).
using attention_prefill_f32_d64 =
    fused_kernel<"attention_prefill_f32_d64", attention_prefill_dispatch<32>, attention_prefill_stage<64>>;
/// FlashAttention prefill, head_dim 128, float32 caches.
using attention_prefill_f32_d128 =
    fused_kernel<"attention_prefill_f32_d128", attention_prefill_dispatch<32>, attention_prefill_stage<128>>;

/// The FlashAttention prefill aliases (kernels/library.hpp), one per line.
using attention_prefill_library = type_list<attention_prefill_f32_d64,
                                            attention_prefill_f32_d128>;

}  // namespace foundry::kernels
