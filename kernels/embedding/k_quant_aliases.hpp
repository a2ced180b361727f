#pragma once
/// @file k_quant_aliases.hpp
/// Embedding lookups with K-quant tables (arguments as in
/// kernels/embedding/embedding.hpp; `hidden` a multiple of 256).

#include "kernels/embedding/embedding.hpp"
#include "kernels/policies/q4_k.hpp"
#include "kernels/policies/q5_k.hpp"
#include "kernels/policies/q6_k.hpp"

namespace foundry::kernels {

/// Embedding lookup, Q4_K table, row-major blocks.
using embedding_q4_k = embedding_kernel<"embedding_q4_k", policies::q4_k>;
/// Embedding lookup, Q5_K table, row-major blocks.
using embedding_q5_k = embedding_kernel<"embedding_q5_k", policies::q5_k>;
/// Embedding lookup, Q6_K table, row-major blocks.
using embedding_q6_k = embedding_kernel<"embedding_q6_k", policies::q6_k>;
/// As `embedding_q6_k` with the table's blocks in the canonical layout.
using embedding_q6_k_canonical =
    embedding_kernel<"embedding_q6_k_canonical", policies::q6_k, token_source::scalar_arg, policies::layout::canonical>;

/// Every K-quant embedding alias of this file (listed in kernels/library.hpp).
using k_quant_embedding_library = type_list<embedding_q4_k, embedding_q5_k, embedding_q6_k, embedding_q6_k_canonical>;

}  // namespace foundry::kernels
