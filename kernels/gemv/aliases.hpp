#pragma once
/// @file aliases.hpp
/// Library GEMV kernels: y = act(W·x + bias), W row-major [n, k] in a
/// weight policy, x float[k], y float[n]; one SIMD-group per output row,
/// 4 rows per threadgroup (128 threads).
///
/// Arguments (buffer indices in this order): `w` (data plane, bytes),
/// `w_scales` (scale plane, bytes; only for policies with a scale), `x`,
/// `n` (rows, uint), `k` (columns, uint, a multiple of the policy's
/// weights_per_block), then the epilogue's (`bias`, `bias_present`), `y`.

#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/epilogues.hpp"
#include "kernels/gemv/gemv.hpp"
#include "kernels/policies/f16.hpp"
#include "kernels/policies/f32.hpp"
#include "kernels/rmsnorm/hook.hpp"

namespace foundry::kernels {

/// Dispatch of the row-major GEMV family: `simdgroup_per_row` over `n`.
using gemv_dispatch = simdgroup_per_row<size_arg<"n">, 4>;

/// y = W·x, W in F16.
using gemv_f16 = fused_kernel<"gemv_f16", gemv_dispatch,
                              gemv_row_major<plain_input<policies::f16>>, epi::store<"y", "value", size_arg<"n">>>;
/// y = W·x, W in F32.
using gemv_f32 = fused_kernel<"gemv_f32", gemv_dispatch,
                              gemv_row_major<plain_input<policies::f32>>, epi::store<"y", "value", size_arg<"n">>>;
/// y = SiLU(W·x + bias), W in F16, bias optional (float[n]).
using gemv_f16_bias_silu =
    fused_kernel<"gemv_f16_bias_silu", gemv_dispatch, gemv_row_major<plain_input<policies::f16>>,
                 epi::bias_add<"bias", "value", true>, epi::activation<act::silu>, epi::store<"y", "value", size_arg<"n">>>;

/// y = W·RMSNorm(x), W in F16: RMSNorm computed inside each threadgroup
/// (arguments `gamma` float[k] and `eps` added).
using rmsnorm_gemv_f16 = fused_kernel<"rmsnorm_gemv_f16", gemv_dispatch,
                                      gemv_row_major<rmsnorm_input<policies::f16>>, epi::store<"y", "value", size_arg<"n">>>;

}  // namespace foundry::kernels
