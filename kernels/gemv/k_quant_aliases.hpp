#pragma once
/// @file k_quant_aliases.hpp
/// Library GEMV kernels with K-quant weights (Q4_K, Q5_K, Q6_K; policies in
/// kernels/policies/q4_k.hpp, q5_k.hpp, q6_k.hpp), in the forms and with
/// the arguments of kernels/gemv/aliases.hpp: row-major, canonical, batched,
/// with the residual add, and y = W·RMSNorm(x). `k` must be a multiple of
/// 256 (the GGUF super-block; the planes' blocks are its sub-blocks).

#include "kernels/gemv/aliases.hpp"
#include "kernels/policies/q4_k.hpp"
#include "kernels/policies/q5_k.hpp"
#include "kernels/policies/q6_k.hpp"

namespace foundry::kernels {

/// y = W·x, W row-major in Q4_K.
using gemv_q4_k = gemv_kernel<"gemv_q4_k", policies::q4_k>;
/// y = W·x, W row-major in Q5_K.
using gemv_q5_k = gemv_kernel<"gemv_q5_k", policies::q5_k>;
/// y = W·x, W row-major in Q6_K.
using gemv_q6_k = gemv_kernel<"gemv_q6_k", policies::q6_k>;

/// y = W·x, W canonical, Q4_K.
using gemv_q4_k_canonical = gemv_kernel<"gemv_q4_k_canonical", policies::q4_k, layout::canonical>;
/// y = W·x, W canonical, Q5_K.
using gemv_q5_k_canonical = gemv_kernel<"gemv_q5_k_canonical", policies::q5_k, layout::canonical>;
/// y = W·x, W canonical, Q6_K.
using gemv_q6_k_canonical = gemv_kernel<"gemv_q6_k_canonical", policies::q6_k, layout::canonical>;

/// Batched, W row-major, Q4_K.
using gemv_q4_k_batched = gemv_kernel<"gemv_q4_k_batched", policies::q4_k, layout::row_major, true>;
/// Batched, W row-major, Q5_K.
using gemv_q5_k_batched = gemv_kernel<"gemv_q5_k_batched", policies::q5_k, layout::row_major, true>;
/// Batched, W row-major, Q6_K.
using gemv_q6_k_batched = gemv_kernel<"gemv_q6_k_batched", policies::q6_k, layout::row_major, true>;

/// Batched, W canonical, Q4_K.
using gemv_q4_k_canonical_batched =
    gemv_kernel<"gemv_q4_k_canonical_batched", policies::q4_k, layout::canonical, true>;
/// Batched, W canonical, Q5_K.
using gemv_q5_k_canonical_batched =
    gemv_kernel<"gemv_q5_k_canonical_batched", policies::q5_k, layout::canonical, true>;
/// Batched, W canonical, Q6_K.
using gemv_q6_k_canonical_batched =
    gemv_kernel<"gemv_q6_k_canonical_batched", policies::q6_k, layout::canonical, true>;

/// y = W·x + residual, W row-major, Q4_K.
using gemv_q4_k_residual = gemv_kernel<"gemv_q4_k_residual", policies::q4_k, layout::row_major, false, true>;
/// y = W·x + residual, W row-major, Q5_K.
using gemv_q5_k_residual = gemv_kernel<"gemv_q5_k_residual", policies::q5_k, layout::row_major, false, true>;
/// y = W·x + residual, W row-major, Q6_K.
using gemv_q6_k_residual = gemv_kernel<"gemv_q6_k_residual", policies::q6_k, layout::row_major, false, true>;

/// Batched with residual, W row-major, Q4_K.
using gemv_q4_k_residual_batched =
    gemv_kernel<"gemv_q4_k_residual_batched", policies::q4_k, layout::row_major, true, true>;
/// Batched with residual, W row-major, Q5_K.
using gemv_q5_k_residual_batched =
    gemv_kernel<"gemv_q5_k_residual_batched", policies::q5_k, layout::row_major, true, true>;
/// Batched with residual, W row-major, Q6_K.
using gemv_q6_k_residual_batched =
    gemv_kernel<"gemv_q6_k_residual_batched", policies::q6_k, layout::row_major, true, true>;

/// Every K-quant GEMV alias of this file (listed in kernels/library.hpp).
using k_quant_gemv_library =
    type_list<gemv_q4_k, gemv_q5_k, gemv_q6_k, gemv_q4_k_canonical, gemv_q5_k_canonical, gemv_q6_k_canonical,
              gemv_q4_k_batched, gemv_q5_k_batched, gemv_q6_k_batched, gemv_q4_k_canonical_batched,
              gemv_q5_k_canonical_batched, gemv_q6_k_canonical_batched, gemv_q4_k_residual, gemv_q5_k_residual,
              gemv_q6_k_residual, gemv_q4_k_residual_batched, gemv_q5_k_residual_batched,
              gemv_q6_k_residual_batched>;

}  // namespace foundry::kernels
