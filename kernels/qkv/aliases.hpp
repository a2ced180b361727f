#pragma once
/// @file aliases.hpp
/// Library kernels: fused RMSNorm + Q/K/V projection of one token (decode).
///
///   x̂ = x / sqrt(mean(x²) + eps) · gamma          (RMSNorm, Zhang & Sennrich 2019)
///   q = Wq·x̂ + bq,  k = Wk·x̂ + bk,  v = Wv·x̂ + bv  (biases optional)
///
/// One dispatch, one SIMD-group per output row over the (n_heads + 2·n_kv)
/// · head_dim rows of q, k and v, 4 rows (128 threads) per threadgroup; each
/// threadgroup computes the RMS of x itself (kernels/qkv/qkv.hpp).
///
/// Arguments (set by name; buffer indices follow this order):
///   wq, wq_scales   Wq [n_heads·head_dim, hidden] data / scale plane (bytes)
///   wk, wk_scales   Wk [n_kv·head_dim, hidden]
///   wv, wv_scales   Wv [n_kv·head_dim, hidden]
///                   (`_scales` only for policies with a scale: Q8_0, Q4_0, Q4_1;
///                   planes as `policies::repack<P>(..., layout::row_major)` makes them)
///   x               float[hidden], the residual stream (not normalised)
///   hidden          uint, a multiple of each policy's weights_per_block
///   n_heads, n_kv, head_dim   uint (GQA: n_kv ≤ n_heads)
///   gamma           float[hidden], the RMSNorm weight (GGUF `blk.N.attn_norm.weight`)
///   eps             float (GGUF `<arch>.attention.layer_norm_rms_epsilon`)
///   bq, bk, bv      optional float[n_heads·head_dim], [n_kv·head_dim], [n_kv·head_dim]
///   q, k, v         float outputs [n_heads·head_dim], [n_kv·head_dim], [n_kv·head_dim]

#include <type_traits>

#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "kernels/policies/policies.hpp"
#include "kernels/qkv/qkv.hpp"
#include "kernels/qkv/qkv_rope.hpp"

namespace foundry::kernels {

/// Dispatch of the fused QKV kernels: one SIMD-group per row of q, k and v.
using qkv_dispatch = simdgroup_per_row<qkv_rows, 4>;
static_assert(std::is_same_v<qkv_dispatch, qkv_projection<policies::f16, policies::f16, policies::f16>::dispatch>);

namespace detail {
/// `<p>` when the three policies agree, else `<pq>_<pk>_<pv>`; the kernel
/// name `rmsnorm_qkv_` and that.
template <weight_policy PQ, weight_policy PK, weight_policy PV>
constexpr auto qkv_policies_name() {
  if constexpr (std::is_same_v<PQ, PK> && std::is_same_v<PK, PV>)
    return PQ::name;
  else
    return PQ::name + fixed_string("_") + PK::name + fixed_string("_") + PV::name;
}
template <weight_policy PQ, weight_policy PK, weight_policy PV>
constexpr auto rmsnorm_qkv_name() {
  return fixed_string("rmsnorm_qkv_") + qkv_policies_name<PQ, PK, PV>();
}
}  // namespace detail

/// Fused RMSNorm + Q/K/V projection with Wq in policy `PQ`, Wk in `PK`, Wv
/// in `PV` (see the file comment for arguments). Kernel name
/// `rmsnorm_qkv_<pq>` when the three agree, else `rmsnorm_qkv_<pq>_<pk>_<pv>`.
template <weight_policy PQ, weight_policy PK = PQ, weight_policy PV = PK>
using rmsnorm_qkv = fused_kernel<detail::rmsnorm_qkv_name<PQ, PK, PV>(), qkv_dispatch,
                                 qkv_projection<PQ, PK, PV>, qkv_bias_add, qkv_store>;

/// `rmsnorm_qkv` whose CPU form reads x̂ in 8-bit blocks with integer dot
/// products for Q8_0/Q4_0/Q4_1 matrices (`cpu_q8_activations`,
/// kernels/common/row_dot.hpp: llama.cpp's CPU rule, an error of
/// ~1e-3 of Σ|w·x̂| per dot product from the rounding of x̂); the Metal and CUDA text is `rmsnorm_qkv`'s.
/// Kernel name: `rmsnorm_qkv`'s with `_cpu_q8` appended.
template <weight_policy PQ, weight_policy PK = PQ, weight_policy PV = PK>
using rmsnorm_qkv_cpu_q8 =
    fused_kernel<detail::rmsnorm_qkv_name<PQ, PK, PV>() + fixed_string("_cpu_q8"), qkv_dispatch,
                 qkv_projection<PQ, PK, PV, cpu_q8_activations<rmsnorm_hidden_input<PQ>>>, qkv_bias_add, qkv_store>;

/// Fused RMSNorm + QKV, all three matrices Q4_1 (SmolLM2-135M's GGUF).
using rmsnorm_qkv_q4_1 = rmsnorm_qkv<policies::q4_1>;
/// Fused RMSNorm + QKV, all three matrices Q8_0.
using rmsnorm_qkv_q8_0 = rmsnorm_qkv<policies::q8_0>;
/// Fused RMSNorm + QKV, all three matrices F16.
using rmsnorm_qkv_f16 = rmsnorm_qkv<policies::f16>;

/// Q4_1 QKV with 8-bit CPU activations (`rmsnorm_qkv_cpu_q8`).
using rmsnorm_qkv_q4_1_cpu_q8 = rmsnorm_qkv_cpu_q8<policies::q4_1>;

/// Dispatch of the QKV kernels with RoPE and the KV append: one SIMD-group
/// per RoPE pair of rows of q, k and v (qkv_rope.hpp).
using qkv_pair_dispatch = simdgroup_per_row<qkv_pairs, 4>;

namespace detail {
/// `rmsnorm_qkv_rope_<norm|neox>_kv_append_<policies>[_position_buffer][_cpu_q8]`.
template <rope_pairing Pairing, position_source Pos, bool CpuQ8, weight_policy PQ, weight_policy PK, weight_policy PV>
constexpr auto rmsnorm_qkv_rope_name() {
  constexpr auto pairing = [] {
    if constexpr (Pairing == rope_pairing::neox)
      return fixed_string("rmsnorm_qkv_rope_neox_kv_append_");
    else
      return fixed_string("rmsnorm_qkv_rope_norm_kv_append_");
  }();
  constexpr auto base = pairing + qkv_policies_name<PQ, PK, PV>();
  constexpr auto pos = [&] {
    if constexpr (Pos == position_source::buffer)
      return base + fixed_string("_position_buffer");
    else
      return base;
  }();
  if constexpr (CpuQ8)
    return pos + fixed_string("_cpu_q8");
  else
    return pos;
}
}  // namespace detail

/// Fused RMSNorm + Q/K/V projection + RoPE + KV-cache append of one decode
/// token (qkv_rope.hpp): `rmsnorm_qkv<PQ, PK, PV>` followed by
/// `rope_<pairing>_kv_append_f32` in one dispatch. `Pos`: the position from
/// the scalar `pos` or from `position[0]` (a replayed decode step);
/// `CpuQ8`: as `rmsnorm_qkv_cpu_q8` (8-bit x̂ in the CPU form only).
/// Arguments, in buffer order: `wq`, `wq_scales`, `wk`, `wk_scales`, `wv`,
/// `wv_scales`, `x`, `hidden`, `n_heads`, `n_kv`, `head_dim`, `gamma`,
/// `eps`, the optional `bq`, `bk`, `bv`, then `q` (float [n_heads·head_dim],
/// rotated), `k_cache`, `v_cache` (float [n_kv, max_seq, head_dim]),
/// `max_seq`, `pos` or `position`, `freq_base` (float, GGUF
/// `<arch>.rope.freq_base`). `head_dim` must be even.
template <rope_pairing Pairing, position_source Pos, weight_policy PQ, weight_policy PK = PQ,
          weight_policy PV = PK, bool CpuQ8 = false>
using rmsnorm_qkv_rope_kv_append = fused_kernel<
    detail::rmsnorm_qkv_rope_name<Pairing, Pos, CpuQ8, PQ, PK, PV>(), qkv_pair_dispatch,
    qkv_pair_projection<PQ, PK, PV, Pairing,
                        std::conditional_t<CpuQ8, cpu_q8_activations<rmsnorm_hidden_input<PQ>>,
                                           rmsnorm_hidden_input<PQ>>>,
    qkv_pair_bias_add, qkv_rope_kv_append<Pairing, float, Pos>>;

/// Q4_1 QKV + RoPE (adjacent pairs, Llama GGUFs such as SmolLM2) + KV append.
using rmsnorm_qkv_rope_norm_kv_append_q4_1 =
    rmsnorm_qkv_rope_kv_append<rope_pairing::normal, position_source::scalar_arg, policies::q4_1>;
/// As `rmsnorm_qkv_rope_norm_kv_append_q4_1`, the position from `position[0]`.
using rmsnorm_qkv_rope_norm_kv_append_q4_1_position_buffer =
    rmsnorm_qkv_rope_kv_append<rope_pairing::normal, position_source::buffer, policies::q4_1>;
/// As the previous one with 8-bit CPU activations.
using rmsnorm_qkv_rope_norm_kv_append_q4_1_position_buffer_cpu_q8 =
    rmsnorm_qkv_rope_kv_append<rope_pairing::normal, position_source::buffer, policies::q4_1, policies::q4_1,
                               policies::q4_1, true>;
/// Q8_0 QKV + RoPE (NeoX pairs, e.g. Qwen2) + KV append, position from `position[0]`.
using rmsnorm_qkv_rope_neox_kv_append_q8_0_position_buffer =
    rmsnorm_qkv_rope_kv_append<rope_pairing::neox, position_source::buffer, policies::q8_0>;
/// F16 QKV + RoPE (adjacent pairs) + KV append.
using rmsnorm_qkv_rope_norm_kv_append_f16 =
    rmsnorm_qkv_rope_kv_append<rope_pairing::normal, position_source::scalar_arg, policies::f16>;

/// The library's fused RMSNorm + QKV kernels: every alias of this header, one per
/// line. kernels/library.hpp concatenates these lists; add a new alias here.
using qkv_library = type_list<
    rmsnorm_qkv_f16,
    rmsnorm_qkv_q8_0,
    rmsnorm_qkv_q4_1,
    rmsnorm_qkv_q4_1_cpu_q8,
    rmsnorm_qkv_rope_norm_kv_append_q4_1,
    rmsnorm_qkv_rope_norm_kv_append_q4_1_position_buffer,
    rmsnorm_qkv_rope_norm_kv_append_q4_1_position_buffer_cpu_q8,
    rmsnorm_qkv_rope_neox_kv_append_q8_0_position_buffer,
    rmsnorm_qkv_rope_norm_kv_append_f16>;

}  // namespace foundry::kernels
