#pragma once
/// @file aliases.hpp
/// Library kernels: fused RMSNorm + gate/up projection + SwiGLU of one
/// token (decode), the first half of a Llama feed-forward block:
///
///   x̂ = x / sqrt(mean(x²) + eps) · gamma             (RMSNorm, Zhang & Sennrich 2019)
///   y_i = SiLU(W_gate[i]·x̂) · (W_up[i]·x̂),  i < ffn  (SwiGLU, Shazeer 2020)
///   SiLU(z) = z / (1 + e^(−z))
///
/// (the down projection, y → hidden, is a GEMV with a residual add). One
/// SIMD-group per output row computes both dot products, 4 rows (128
/// threads) per threadgroup; each threadgroup computes the RMS of x itself
/// (kernels/ffn/gate_up.hpp).
///
/// Arguments (set by name; buffer indices follow this order):
///   w_gate, w_gate_scales   W_gate [ffn, hidden] data / scale plane (bytes)
///   w_up, w_up_scales       W_up [ffn, hidden]
///                           (`_scales` only for policies with a scale;
///                           planes as `policies::repack<P>(..., layout::row_major)` makes them)
///   x                       float[hidden], the residual stream (not normalised)
///   hidden, ffn             uint; hidden a multiple of the policy's weights_per_block
///   gamma                   float[hidden], the RMSNorm weight (GGUF `blk.N.ffn_norm.weight`)
///   eps                     float
///   y                       float[ffn] output

#include <type_traits>

#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/epilogues.hpp"
#include "kernels/ffn/gate_up.hpp"
#include "kernels/policies/policies.hpp"

namespace foundry::kernels {

/// Dispatch of the fused gate/up kernels: one SIMD-group per row of y.
using gate_up_dispatch = simdgroup_per_row<size_arg<"ffn">, 4>;
static_assert(std::is_same_v<gate_up_dispatch, gate_up_projection<policies::f16>::dispatch>);

/// Fused RMSNorm + gate/up projection + SwiGLU, W_gate and W_up in policy
/// `P` (see the file comment for arguments). Kernel name
/// `rmsnorm_gate_up_swiglu_<p>`.
template <weight_policy P>
using rmsnorm_gate_up_swiglu =
    fused_kernel<fixed_string("rmsnorm_gate_up_swiglu_") + P::name, gate_up_dispatch, gate_up_projection<P>,
                 epi::swiglu<"gate", "up", "value">, epi::store<"y", "value", size_arg<"ffn">>>;

/// `rmsnorm_gate_up_swiglu` whose CPU form reads x̂ in 8-bit blocks with
/// integer dot products for Q8_0/Q4_0/Q4_1 (`cpu_q8_activations`,
/// kernels/common/row_dot.hpp: llama.cpp's CPU rule, an error of
/// ~1e-3 of Σ|w·x̂| per dot product from the rounding of x̂); Metal and CUDA text as without it.
/// Kernel name `rmsnorm_gate_up_swiglu_<p>_cpu_q8`.
template <weight_policy P>
using rmsnorm_gate_up_swiglu_cpu_q8 =
    fused_kernel<fixed_string("rmsnorm_gate_up_swiglu_") + P::name + fixed_string("_cpu_q8"), gate_up_dispatch,
                 gate_up_projection<P, P, cpu_q8_activations<rmsnorm_hidden_input<P>>>,
                 epi::swiglu<"gate", "up", "value">, epi::store<"y", "value", size_arg<"ffn">>>;

/// Fused RMSNorm + gate/up + SwiGLU, Q4_1 weights (SmolLM2-135M's GGUF).
using rmsnorm_gate_up_swiglu_q4_1 = rmsnorm_gate_up_swiglu<policies::q4_1>;
/// Fused RMSNorm + gate/up + SwiGLU, Q8_0 weights.
using rmsnorm_gate_up_swiglu_q8_0 = rmsnorm_gate_up_swiglu<policies::q8_0>;
/// Fused RMSNorm + gate/up + SwiGLU, F16 weights.
using rmsnorm_gate_up_swiglu_f16 = rmsnorm_gate_up_swiglu<policies::f16>;

/// Q4_1 gate/up with 8-bit CPU activations.
using rmsnorm_gate_up_swiglu_q4_1_cpu_q8 = rmsnorm_gate_up_swiglu_cpu_q8<policies::q4_1>;

/// The library's fused RMSNorm + gate/up + SwiGLU kernels: every alias of this header, one per
/// line. kernels/library.hpp concatenates these lists; add a new alias here.
using ffn_library = type_list<
    rmsnorm_gate_up_swiglu_f16,
    rmsnorm_gate_up_swiglu_q8_0,
    rmsnorm_gate_up_swiglu_q4_1,
    rmsnorm_gate_up_swiglu_q4_1_cpu_q8>;

}  // namespace foundry::kernels
