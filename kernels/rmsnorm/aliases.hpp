#pragma once
/// @file aliases.hpp
/// Library RMSNorm kernels (Zhang & Sennrich, 2019, "Root Mean Square Layer
/// Normalization", eq. 4):  y = x / sqrt(mean(x²) + eps) · gamma.
///
/// - `rmsnorm_f32`: standalone, a batch of rows, one threadgroup of 256
///   threads per row (`per_row` dispatch, threadgroup reduction).
/// - `rmsnorm_gemv<P>`: RMSNorm fused into a GEMV's input (the
///   `rmsnorm_input` hook of kernels/common/rmsnorm_input.hpp), weights in
///   any policy `P`; `rmsnorm_gemv_f16`, `_q8_0`, `_q4_1` are the library's.
/// The fused decode projections are `rmsnorm_qkv<PQ, PK, PV>`
/// (kernels/qkv/aliases.hpp) and `rmsnorm_gate_up_swiglu<P>`
/// (kernels/ffn/aliases.hpp).

#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/epilogues.hpp"
#include "kernels/common/rmsnorm_input.hpp"
#include "kernels/gemv/gemv.hpp"
#include "kernels/policies/policies.hpp"
#include "kernels/rmsnorm/rmsnorm.hpp"

namespace foundry::kernels {

/// Dispatch of `rmsnorm_f32`: one threadgroup of 256 threads per row.
using rmsnorm_dispatch = per_row<size_arg<"rows">, 256>;

/// RMSNorm of a batch of float32 rows: y[r, i] = x[r, i] · inv_rms_r ·
/// gamma[i], inv_rms_r = 1 / sqrt(mean_i(x[r, i]²) + eps).
/// Arguments (buffer order): `x` (float[rows·n], row-major [rows, n]), `n`
/// (uint, elements per row), `eps` (float), `gamma` (float[n]), `y`
/// (float[rows·n] output; may be x itself: each
/// element is read and then written by one thread, after the whole row was
/// read for the RMS), `rows` (uint).
using rmsnorm_f32 = fused_kernel<"rmsnorm_f32", rmsnorm_dispatch,
                                 rmsnorm_prologue<"x", "n", true, rmsnorm_apply::x_handle>, rmsnorm_apply>;

/// y = W·RMSNorm(x): W [n, k] row-major in policy `P` (data plane `w`,
/// scale plane `w_scales` for policies with a scale), x float[k], `gamma`
/// float[k], `eps` float, y float[n]; RMSNorm computed inside each
/// threadgroup. Kernel name `rmsnorm_gemv_<p>`.
template <weight_policy P>
using rmsnorm_gemv = fused_kernel<fixed_string("rmsnorm_gemv_") + P::name, simdgroup_per_row<size_arg<"n">, 4>,
                                  gemv_row_major<rmsnorm_input<P>>, epi::store<"y", "value", size_arg<"n">>>;

/// y = W·RMSNorm(x), W in F16.
using rmsnorm_gemv_f16 = rmsnorm_gemv<policies::f16>;
/// y = W·RMSNorm(x), W in Q4_1.
using rmsnorm_gemv_q4_1 = rmsnorm_gemv<policies::q4_1>;
/// y = W·RMSNorm(x), W in Q8_0.
using rmsnorm_gemv_q8_0 = rmsnorm_gemv<policies::q8_0>;

/// The library's RMSNorm kernels: every alias of this header, one per
/// line. kernels/library.hpp concatenates these lists; add a new alias here.
using rmsnorm_library = type_list<
    rmsnorm_f32,
    rmsnorm_gemv_f16,
    rmsnorm_gemv_q8_0,
    rmsnorm_gemv_q4_1>;

}  // namespace foundry::kernels
