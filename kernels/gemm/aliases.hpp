#pragma once
/// @file aliases.hpp
/// Library GEMM kernels (prefill: M tokens at once), the batched twins of
/// the GEMV family's aliases. C[M, N] = A[M, K] · W[N, K]ᵀ on SIMD-group
/// matrices (kernels/gemm/gemm.hpp), tile `gemm_tile_default` (32×32
/// outputs, K slices of 64, one SIMD-group of 32 threads).
///
/// Arguments (set by name; buffer indices follow this order):
///   weights   data planes (bytes) and, for policies with a scale, their
///             `_scales` planes, row-major as `policies::repack<P>(...,
///             layout::row_major)` makes them: `w` [n, k]; `wq` [n_heads·head_dim, k],
///             `wk`, `wv` [n_kv·head_dim, k]; `w_gate`, `w_up` [ffn, k]
///   n / n_heads, n_kv, head_dim / ffn   uint, output features
///   x         float [batch, k] (token m at element m·k)
///   k         uint, a multiple of the policies' weights_per_block
///   batch     uint, M (tokens; > 0)
///   gamma, eps    RMSNorm weight float[k] and epsilon (rmsnorm aliases)
///   bias      float [n] (bias aliases), residual float [batch, n] (may be y)
///   bq, bk, bv    optional Q/K/V biases float [n_heads·head_dim], [n_kv·head_dim] (QKV)
///   y         float [batch, n] (or [batch, ffn]); q, k_out, v_out for QKV
///
/// Batch 1 is a GEMV: callers use the GEMV aliases there.

#include "foundry/core/ct_string.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/epilogues.hpp"
#include "foundry/dsl/sizes.hpp"
#include "kernels/gemm/gemm.hpp"
#include "kernels/gemm/qkv_store.hpp"
#include "kernels/gemv/gemv.hpp"
#include "kernels/policies/f16.hpp"
#include "kernels/policies/f32.hpp"
#include "kernels/policies/policies.hpp"
#include "kernels/qkv/qkv.hpp"

namespace foundry::kernels {

/// The one-matrix weight set: W [n, k] in `P`, arguments `w`, `n`.
template <weight_policy P>
using gemm_set_w = gemm_weight_set<"value", type_list<arg<"n", scalar<std::uint32_t>>>,
                                   gemm_weight<P, "w", "$n", size_arg<"n">>>;
/// Wq, Wk, Wv concatenated (one accumulator over q, k and v features).
template <weight_policy PQ, weight_policy PK, weight_policy PV>
using gemm_set_qkv =
    gemm_weight_set<"value",
                    type_list<arg<"n_heads", scalar<std::uint32_t>>, arg<"n_kv", scalar<std::uint32_t>>,
                              arg<"head_dim", scalar<std::uint32_t>>>,
                    gemm_weight<PQ, "wq", "$n_heads * $head_dim", qkv_q_rows>,
                    gemm_weight<PK, "wk", "$n_kv * $head_dim", qkv_kv_rows>,
                    gemm_weight<PV, "wv", "$n_kv * $head_dim", qkv_kv_rows>>;
/// W_gate or W_up [ffn, k] (port `gate` or `up`).
template <weight_policy P, fixed_string Port, fixed_string Name>
using gemm_set_ffn = gemm_weight_set<Port, type_list<arg<"ffn", scalar<std::uint32_t>>>,
                                     gemm_weight<P, Name, "$ffn", size_arg<"ffn">>>;

namespace detail {
/// `rmsnorm_qkv_gemm_<p>` when the three policies agree, else
/// `rmsnorm_qkv_gemm_<pq>_<pk>_<pv>`.
template <weight_policy PQ, weight_policy PK, weight_policy PV>
constexpr auto rmsnorm_qkv_gemm_name() {
  if constexpr (std::is_same_v<PQ, PK> && std::is_same_v<PK, PV>)
    return fixed_string("rmsnorm_qkv_gemm_") + PQ::name;
  else
    return fixed_string("rmsnorm_qkv_gemm_") + PQ::name + fixed_string("_") + PK::name + fixed_string("_") + PV::name;
}
/// [batch, n] outputs.
using gemm_rows_bn = sizes::product<size_arg<"batch">, size_arg<"n">>;
}  // namespace detail

/// Y = X·Wᵀ, W in `P` (kernel `gemm_<p>`).
template <weight_policy P, class Tile = gemm_tile_default>
using gemm = fused_kernel<fixed_string("gemm_") + P::name + Tile::name_suffix,
                          typename gemm_simdgroup_mma<gemm_input_plain, Tile, gemm_set_w<P>>::dispatch,
                          gemm_simdgroup_mma<gemm_input_plain, Tile, gemm_set_w<P>>,
                          epi::store_indexed<"y", "value", "out_index", detail::gemm_rows_bn>>;

/// Y = X·Wᵀ + R (residual [batch, n], may be y): the attention output and
/// FFN down projections with their skip connection (kernel `gemm_<p>_residual`).
template <weight_policy P, class Tile = gemm_tile_default>
using gemm_residual = fused_kernel<fixed_string("gemm_") + P::name + fixed_string("_residual") + Tile::name_suffix,
                                   typename gemm_simdgroup_mma<gemm_input_plain, Tile, gemm_set_w<P>>::dispatch,
                                   gemm_simdgroup_mma<gemm_input_plain, Tile, gemm_set_w<P>>,
                                   epi::add_residual<"residual", "value", "out_index", detail::gemm_rows_bn>,
                                   epi::store_indexed<"y", "value", "out_index", detail::gemm_rows_bn>>;

/// Y = SiLU(X·Wᵀ + bias), bias float[n] (kernel `gemm_<p>_bias_silu`).
template <weight_policy P, class Tile = gemm_tile_default>
using gemm_bias_silu = fused_kernel<fixed_string("gemm_") + P::name + fixed_string("_bias_silu") + Tile::name_suffix,
                                    typename gemm_simdgroup_mma<gemm_input_plain, Tile, gemm_set_w<P>>::dispatch,
                                    gemm_simdgroup_mma<gemm_input_plain, Tile, gemm_set_w<P>>,
                                    epi::bias_add<"bias">, epi::activation<act::silu>,
                                    epi::store_indexed<"y", "value", "out_index", detail::gemm_rows_bn>>;

/// Fused RMSNorm + Q/K/V projection of `batch` tokens: q = RMSNorm(X)·Wqᵀ
/// (+ bq), k_out = RMSNorm(X)·Wkᵀ (+ bk), v_out = RMSNorm(X)·Wvᵀ (+ bv), the
/// biases optional (Qwen2) (kernel `rmsnorm_qkv_gemm_<pq>[_<pk>_<pv>]`).
template <weight_policy PQ, weight_policy PK = PQ, weight_policy PV = PK, class Tile = gemm_tile_default>
using rmsnorm_qkv_gemm =
    fused_kernel<detail::rmsnorm_qkv_gemm_name<PQ, PK, PV>() + Tile::name_suffix,
                 typename gemm_simdgroup_mma<gemm_input_rmsnorm, Tile, gemm_set_qkv<PQ, PK, PV>>::dispatch,
                 gemm_simdgroup_mma<gemm_input_rmsnorm, Tile, gemm_set_qkv<PQ, PK, PV>>, gemm_qkv_bias_add,
                 gemm_qkv_store>;

/// Fused RMSNorm + gate/up projection + SwiGLU of `batch` tokens:
/// Y = SiLU(RMSNorm(X)·W_gateᵀ) ⊙ (RMSNorm(X)·W_upᵀ), Y [batch, ffn]
/// (kernel `rmsnorm_gate_up_swiglu_gemm_<p>`).
template <weight_policy P, class Tile = gemm_tile_default>
using rmsnorm_gate_up_swiglu_gemm = fused_kernel<
    fixed_string("rmsnorm_gate_up_swiglu_gemm_") + P::name + Tile::name_suffix,
    typename gemm_simdgroup_mma<gemm_input_rmsnorm, Tile, gemm_set_ffn<P, "gate", "w_gate">,
                                gemm_set_ffn<P, "up", "w_up">>::dispatch,
    gemm_simdgroup_mma<gemm_input_rmsnorm, Tile, gemm_set_ffn<P, "gate", "w_gate">, gemm_set_ffn<P, "up", "w_up">>,
    epi::swiglu<"gate", "up", "value">,
    epi::store_indexed<"y", "value", "out_index", sizes::product<size_arg<"batch">, size_arg<"ffn">>>>;

// --- concrete aliases (the library list) -----------------------------------

/// Y = X·Wᵀ, W in F16.
using gemm_f16 = gemm<policies::f16>;
/// Y = X·Wᵀ, W in F32.
using gemm_f32 = gemm<policies::f32>;
/// Y = X·Wᵀ, W in Q8_0.
using gemm_q8_0 = gemm<policies::q8_0>;
/// Y = X·Wᵀ, W in Q4_0.
using gemm_q4_0 = gemm<policies::q4_0>;
/// Y = X·Wᵀ, W in Q4_1.
using gemm_q4_1 = gemm<policies::q4_1>;
/// Y = X·Wᵀ + R, W in F16.
using gemm_f16_residual = gemm_residual<policies::f16>;
/// Y = X·Wᵀ + R, W in F32.
using gemm_f32_residual = gemm_residual<policies::f32>;
/// Y = X·Wᵀ + R, W in Q8_0.
using gemm_q8_0_residual = gemm_residual<policies::q8_0>;
/// Y = X·Wᵀ + R, W in Q4_0.
using gemm_q4_0_residual = gemm_residual<policies::q4_0>;
/// Y = X·Wᵀ + R, W in Q4_1.
using gemm_q4_1_residual = gemm_residual<policies::q4_1>;
/// Y = SiLU(X·Wᵀ + bias), W in F16.
using gemm_f16_bias_silu = gemm_bias_silu<policies::f16>;
/// Fused RMSNorm + QKV GEMM, F16.
using rmsnorm_qkv_gemm_f16 = rmsnorm_qkv_gemm<policies::f16>;
/// Fused RMSNorm + QKV GEMM, Q8_0.
using rmsnorm_qkv_gemm_q8_0 = rmsnorm_qkv_gemm<policies::q8_0>;
/// Fused RMSNorm + QKV GEMM, Q4_1 (SmolLM2-135M's GGUF).
using rmsnorm_qkv_gemm_q4_1 = rmsnorm_qkv_gemm<policies::q4_1>;
/// Fused RMSNorm + gate/up + SwiGLU GEMM, F16.
using rmsnorm_gate_up_swiglu_gemm_f16 = rmsnorm_gate_up_swiglu_gemm<policies::f16>;
/// Fused RMSNorm + gate/up + SwiGLU GEMM, Q8_0.
using rmsnorm_gate_up_swiglu_gemm_q8_0 = rmsnorm_gate_up_swiglu_gemm<policies::q8_0>;
/// Fused RMSNorm + gate/up + SwiGLU GEMM, Q4_1.
using rmsnorm_gate_up_swiglu_gemm_q4_1 = rmsnorm_gate_up_swiglu_gemm<policies::q4_1>;

/// The GEMM family's aliases, in a stable order (appended to the library list).
using gemm_library =
    type_list<gemm_f16, gemm_f32, gemm_q8_0, gemm_q4_0, gemm_q4_1, gemm_f16_residual, gemm_f32_residual,
              gemm_q8_0_residual, gemm_q4_0_residual, gemm_q4_1_residual, gemm_f16_bias_silu, rmsnorm_qkv_gemm_f16,
              rmsnorm_qkv_gemm_q8_0, rmsnorm_qkv_gemm_q4_1, rmsnorm_gate_up_swiglu_gemm_f16,
              rmsnorm_gate_up_swiglu_gemm_q8_0, rmsnorm_gate_up_swiglu_gemm_q4_1>;

}  // namespace foundry::kernels
