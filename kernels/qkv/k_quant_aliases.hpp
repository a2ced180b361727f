#pragma once
/// @file k_quant_aliases.hpp
/// Fused RMSNorm + QKV kernels with K-quant weights (arguments as in
/// kernels/qkv/aliases.hpp; `hidden` a multiple of 256), including the mix
/// of Q4_K_M files: Q and K in Q4_K, V in Q6_K.

#include "kernels/policies/q4_k.hpp"
#include "kernels/policies/q5_k.hpp"
#include "kernels/policies/q6_k.hpp"
#include "kernels/qkv/aliases.hpp"

namespace foundry::kernels {

/// Fused RMSNorm + QKV, all three matrices Q4_K.
using rmsnorm_qkv_q4_k = rmsnorm_qkv<policies::q4_k>;
/// Fused RMSNorm + QKV, all three matrices Q5_K.
using rmsnorm_qkv_q5_k = rmsnorm_qkv<policies::q5_k>;
/// Fused RMSNorm + QKV, all three matrices Q6_K.
using rmsnorm_qkv_q6_k = rmsnorm_qkv<policies::q6_k>;
/// Fused RMSNorm + QKV, Wq and Wk in Q4_K, Wv in Q6_K (Q4_K_M layers).
using rmsnorm_qkv_q4_k_q4_k_q6_k = rmsnorm_qkv<policies::q4_k, policies::q4_k, policies::q6_k>;

/// Every K-quant QKV alias of this file (listed in kernels/library.hpp).
using k_quant_qkv_library = type_list<rmsnorm_qkv_q4_k, rmsnorm_qkv_q5_k, rmsnorm_qkv_q6_k, rmsnorm_qkv_q4_k_q4_k_q6_k>;

}  // namespace foundry::kernels
