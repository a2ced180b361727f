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

namespace foundry::kernels {

/// Dispatch of the fused QKV kernels: one SIMD-group per row of q, k and v.
using qkv_dispatch = simdgroup_per_row<qkv_rows, 4>;
static_assert(std::is_same_v<qkv_dispatch, qkv_projection<policies::f16, policies::f16, policies::f16>::dispatch>);

namespace detail {
/// `rmsnorm_qkv_<p>` when the three policies agree, else
/// `rmsnorm_qkv_<pq>_<pk>_<pv>`.
template <weight_policy PQ, weight_policy PK, weight_policy PV>
constexpr auto rmsnorm_qkv_name() {
  if constexpr (std::is_same_v<PQ, PK> && std::is_same_v<PK, PV>)
    return fixed_string("rmsnorm_qkv_") + PQ::name;
  else
    return fixed_string("rmsnorm_qkv_") + PQ::name + fixed_string("_") + PK::name + fixed_string("_") + PV::name;
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

/// The library's fused RMSNorm + QKV kernels: every alias of this header, one per
/// line. kernels/library.hpp concatenates these lists; add a new alias here.
/// Q4_1 QKV with 8-bit CPU activations (`rmsnorm_qkv_cpu_q8`).
using rmsnorm_qkv_q4_1_cpu_q8 = rmsnorm_qkv_cpu_q8<policies::q4_1>;

using qkv_library = type_list<
    rmsnorm_qkv_f16,
    rmsnorm_qkv_q8_0,
    rmsnorm_qkv_q4_1,
    rmsnorm_qkv_q4_1_cpu_q8>;

}  // namespace foundry::kernels
