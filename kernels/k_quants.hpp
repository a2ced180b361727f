#pragma once
/// @file k_quants.hpp
/// Every library kernel alias with K-quant weights (Q4_K, Q5_K, Q6_K): the
/// GEMV family, fused RMSNorm+QKV and gate/up+SwiGLU, and the embedding
/// lookups, as one type list that kernels/library.hpp appends to the library.

#include "foundry/core/type_list.hpp"
#include "kernels/embedding/k_quant_aliases.hpp"
#include "kernels/ffn/k_quant_aliases.hpp"
#include "kernels/gemv/k_quant_aliases.hpp"
#include "kernels/qkv/k_quant_aliases.hpp"
#include "kernels/rmsnorm/k_quant_aliases.hpp"

namespace foundry::kernels {

/// All K-quant aliases, in a stable order.
using k_quant_library =
    concat_t<k_quant_gemv_library, k_quant_rmsnorm_library, k_quant_qkv_library, k_quant_ffn_library, k_quant_embedding_library>;

}  // namespace foundry::kernels
