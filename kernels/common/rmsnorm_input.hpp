#pragma once
/// @file rmsnorm_input.hpp
/// RMSNorm-fused inputs (hooks) for main stages: each threadgroup normalises
/// the input vector itself, so no separate RMSNorm kernel (and no grid-wide
/// barrier) runs before the GEMV, QKV or gate/up projection. Shared by the
/// families gemv, rmsnorm, qkv and ffn, so it lives in kernels/common.
///
/// RMSNorm (Zhang & Sennrich, 2019, "Root Mean Square Layer Normalization"):
///   inv_rms = 1 / sqrt(mean_k(x_k²) + eps),   x̂_k = x_k · inv_rms · gamma_k.
/// The main stage reads input element k as `x[k] * inv_rms * gamma[k]`.
///
/// The preamble sums x² over the k elements with all threads of the
/// threadgroup (`foundry_rms_inv` of rmsnorm_piece.hpp: SIMD-group sums, then
/// one slot per SIMD-group in threadgroup memory), so every thread of the
/// threadgroup must execute it: main stages guard their rows after the
/// hook's preamble, never return before it.
///
/// The hook is policy-generic: it only changes how the main stage reads its
/// input (`load_input`), so any weight policy's loader, scale and affine
/// terms apply to the normalised input unchanged.

#include <cstdint>
#include <string>
#include <string_view>

#include "foundry/core/fixed_string.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/simd_reduce.hpp"
#include "kernels/common/rmsnorm_piece.hpp"

namespace foundry::kernels {

namespace detail {
/// What every RMSNorm hook declares: weights in policy `P`, arguments
/// `gamma` (float[K], the RMSNorm weight) and `eps` (float), port `inv_rms`.
template <weight_policy P, fixed_string K>
struct rmsnorm_hook_base {
  using policy = P;
  using policies = type_list<P>;
  using arguments = type_list<arg<"gamma", input<float, min_elements<size_arg<K>>>>, arg<"eps", scalar<float>>>;
  using produces = type_list<port<"inv_rms", float>>;
};
/// ... plus the input as the main stage reads it, normalised, for the hooks
/// that know inv_rms before the main stage runs.
template <weight_policy P, fixed_string K>
struct rmsnorm_normalised_input : rmsnorm_hook_base<P, K> {
  /// Input element `k` of vector `x`, normalised.
  static constexpr ct_string load_input(std::string_view x, std::string_view k) {
    return "(" + ct_string(x) + "[" + ct_string(k) + "] * $inv_rms * $gamma[" + ct_string(k) + "])";
  }
};
}  // namespace detail

/// Hook: weights in policy `P`, input RMS-normalised inside each threadgroup.
/// Adds arguments `gamma` (float[K], the RMSNorm weight) and `eps` (float),
/// port `inv_rms` and 32 floats of threadgroup memory (`rms_partial`). Uses
/// the main stage's input vector argument `X` (float[K]) and its length,
/// the scalar argument `K` (defaults: `x` and `k`, the GEMV's names).
template <weight_policy P, fixed_string X = "x", fixed_string K = "k">
struct rmsnorm_input : detail::rmsnorm_normalised_input<P, K> {
  using threadgroup = type_list<tg_array<"rms_partial", float, 32>>;
  using helpers = type_list<rmsnorm_piece>;

  static constexpr ct_string preamble() {
    return "$inv_rms = foundry_rms_inv($" + ct_string(X.view()) + ", $" + ct_string(K.view()) +
           ", $eps, $rms_partial, $thread_index_in_threadgroup, $threads_per_threadgroup.x,\n"
           "                           $thread_index_in_simdgroup, $simdgroup_index_in_threadgroup, "
           "$simdgroups_per_threadgroup);\n";
  }
};

/// Hook: weights in policy `P`, RMSNorm folded into the main stage's row
/// dot products. Since inv_rms is one scalar,
///   W[r, :]·x̂ = inv_rms · Σ_k W[r, k]·(x_k·gamma_k),
/// and the lanes of a SIMD-group that computes one row read every x_k
/// between them; so each lane also sums its x_k², one SIMD-group sum gives
/// Σ_k x_k², and the main stage scales its dot product by
/// inv_rms = 1 / sqrt(Σ_k x_k² / K + eps) afterwards. No threadgroup memory,
/// no barrier, no second pass over x: the RMSNorm costs one multiply-add per
/// element and rides on the row's own `simd_sum`.
///
/// Only main stages written for it can use it (they emit the squares and
/// the final scaling; `row_dot` in kernels/common/row_dot.hpp does): it has no
/// `load_input`, so a stage that only knows `load_input` (such as
/// `gemv_row_major`) does not compile with it instead of silently skipping
/// the normalisation. Adds arguments `gamma` (float[K]) and `eps` (float)
/// and port `inv_rms` (float, set by the main stage after its reduction).
/// `X`, `K`: the main stage's input vector argument and length (scalar).
template <weight_policy P, fixed_string X = "x", fixed_string K = "k">
struct rmsnorm_folded_input : detail::rmsnorm_hook_base<P, K> {
  /// Marks the folded form for the main stages that support it.
  static constexpr bool folds_rms = true;
  /// The raw input element `k` of vector `x` (squared into the lane's sum).
  static constexpr ct_string load_raw(std::string_view x, std::string_view k) {
    return ct_string(x) + "[" + ct_string(k) + "]";
  }
  /// The input element scaled by gamma, from its raw value `raw`: what the
  /// dot product multiplies before the final scaling by inv_rms.
  static constexpr ct_string scale_raw(std::string_view raw, std::string_view k) {
    return ct_string(raw) + " * $gamma[" + ct_string(k) + "]";
  }
  /// Statement setting port `inv_rms` from the SIMD-group's total of x².
  static constexpr ct_string set_inv_rms(std::string_view sum_of_squares) {
    return "$inv_rms = rsqrt(" + ct_string(sum_of_squares) + " / float($" + ct_string(K.view()) +
           ") + $eps);\n";
  }
};

/// Hook: weights in policy `P`, input RMS-normalised by each SIMD-group for
/// itself. Every lane sums x_k² over k = lane, lane + 32, … and one
/// reduction point (`simd_reduction`, dsl/simd_reduce.hpp) gives the
/// SIMD-group Σ_k x_k²: no threadgroup memory and no barrier, so a main
/// stage that computes one row per SIMD-group (`gemv_row_major`) keeps the
/// CPU's lane-loop path (dsl/lane_loop.hpp), which `rmsnorm_input`'s
/// threadgroup barrier rules out. The price is that every SIMD-group reads
/// x once more (K floats; the row's weights are far larger). Same arguments,
/// port and `load_input` as `rmsnorm_input`: `gamma` (float[K]), `eps`
/// (float), port `inv_rms`; `X`, `K` the main stage's input vector and its
/// length (scalar).
template <weight_policy P, fixed_string X = "x", fixed_string K = "k">
struct rmsnorm_simdgroup_input : detail::rmsnorm_normalised_input<P, K> {
  static constexpr ct_string preamble() {
    const ct_string x = "$" + ct_string(X.view()), k = "$" + ct_string(K.view());
    return "float rms_lane = 0.0f;\n"
           "for (uint i = $thread_index_in_simdgroup; i < " + k + "; i += 32u) rms_lane += " + x + "[i] * " + x +
           "[i];\n" + simd_reduction(reduce_op::add, "float", "rms_sum", "rms_lane") +
           "$inv_rms = rsqrt(rms_sum / float(" + k + ") + $eps);\n";
  }
  /// Normalised input elements k..k+3 of vector `x` as a float4: one
  /// 16-byte load of x and one of gamma (`k` a multiple of 4; x and gamma
  /// 16-byte aligned), for main stages that read runs of x
  /// (`gemv_multi_row`).
  static constexpr ct_string load_input4(std::string_view x, std::string_view k) {
    return "((*(const device float4*)(" + ct_string(x) + " + " + ct_string(k) +
           ")) * $inv_rms * (*(const device float4*)($gamma + " + ct_string(k) + ")))";
  }
};

/// True for hooks that fold the RMSNorm into the main stage's reduction
/// (`rmsnorm_folded_input`).
template <class H>
concept folded_rms_hook = requires {
  requires bool(H::folds_rms);
};

/// The default input of `qkv_projection` and `gate_up_projection`: x
/// RMS-normalised with the normalisation folded into each row's reduction
/// (`rmsnorm_folded_input`; arguments `gamma`, `eps`, port `inv_rms`; the
/// input vector `x` of `hidden` elements).
template <weight_policy P>
using rmsnorm_hidden_input = rmsnorm_folded_input<P, "x", "hidden">;
/// The alternative input: x RMS-normalised by a threadgroup reduction before
/// the rows (`rmsnorm_input`: 32 floats of threadgroup memory, a barrier).
template <weight_policy P>
using rmsnorm_hidden_input_threadgroup = rmsnorm_input<P, "x", "hidden">;

}  // namespace foundry::kernels
