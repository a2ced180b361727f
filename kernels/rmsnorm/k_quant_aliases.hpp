#pragma once
/// @file k_quant_aliases.hpp
/// Fused RMSNorm + GEMV aliases with K-quant weights (the RMSNorm family's
/// share of kernels/k_quants.hpp): y = W·RMSNorm(x), RMSNorm as in
/// kernels/rmsnorm/aliases.hpp, W in a K-quant policy (kernels/policies).

#include "foundry/core/type_list.hpp"
#include "kernels/policies/q4_k.hpp"
#include "kernels/policies/q6_k.hpp"
#include "kernels/rmsnorm/aliases.hpp"

namespace foundry::kernels {

/// y = W·RMSNorm(x), W in Q4_K.
using rmsnorm_gemv_q4_k = rmsnorm_gemv<policies::q4_k>;
/// y = W·RMSNorm(x), W in Q6_K (the output head of Q4_K_M files).
using rmsnorm_gemv_q6_k = rmsnorm_gemv<policies::q6_k>;

/// The K-quant RMSNorm + GEMV aliases (listed in kernels/library.hpp).
using k_quant_rmsnorm_library = type_list<rmsnorm_gemv_q4_k, rmsnorm_gemv_q6_k>;

}  // namespace foundry::kernels
