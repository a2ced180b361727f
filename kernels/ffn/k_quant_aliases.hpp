#pragma once
/// @file k_quant_aliases.hpp
/// Fused RMSNorm + gate/up + SwiGLU kernels with K-quant weights
/// (arguments as in kernels/ffn/aliases.hpp; `hidden` a multiple of 256).

#include "kernels/ffn/aliases.hpp"
#include "kernels/policies/q4_k.hpp"
#include "kernels/policies/q5_k.hpp"
#include "kernels/policies/q6_k.hpp"

namespace foundry::kernels {

/// Fused RMSNorm + gate/up + SwiGLU, Q4_K weights.
using rmsnorm_gate_up_swiglu_q4_k = rmsnorm_gate_up_swiglu<policies::q4_k>;
/// Fused RMSNorm + gate/up + SwiGLU, Q5_K weights.
using rmsnorm_gate_up_swiglu_q5_k = rmsnorm_gate_up_swiglu<policies::q5_k>;
/// Fused RMSNorm + gate/up + SwiGLU, Q6_K weights.
using rmsnorm_gate_up_swiglu_q6_k = rmsnorm_gate_up_swiglu<policies::q6_k>;

/// Every K-quant gate/up alias of this file (listed in kernels/library.hpp).
using k_quant_ffn_library =
    type_list<rmsnorm_gate_up_swiglu_q4_k, rmsnorm_gate_up_swiglu_q5_k, rmsnorm_gate_up_swiglu_q6_k>;

}  // namespace foundry::kernels
