#pragma once
/// @file library.hpp
/// Every kernel alias of the library, as one type list: used by
/// `foundry-emit`, by the test that compiles every alias, and by the
/// compile-time benchmark.

#include "foundry/core/type_list.hpp"
#include "kernels/gemv/aliases.hpp"
#include "kernels/attention/attention.hpp"
#include "kernels/attention/kv_cache.hpp"
#include "kernels/elementwise/argmax.hpp"
#include "kernels/elementwise/residual.hpp"
#include "kernels/elementwise/softmax.hpp"
#include "kernels/embedding/embedding.hpp"
#include "kernels/rope/rope.hpp"
#include "kernels/rmsnorm/aliases.hpp"
#include "kernels/qkv/aliases.hpp"
#include "kernels/ffn/aliases.hpp"
#include "kernels/k_quants.hpp"

namespace foundry::kernels {

/// All library aliases, in a stable order.
using library = concat_t<type_list<gemv_f16, gemv_f32, gemv_f16_bias_silu, rmsnorm_gemv_f16,
                          rope_norm, rope_neox, kv_append_f32, kv_append_f16, rope_norm_kv_append_f32,
                          rope_neox_kv_append_f32, rope_norm_kv_append_f16, attention_decode_f32,
                          attention_decode_f16, embedding_f32, embedding_f16, embedding_q8_0,
                          embedding_q8_0_token_buffer, embedding_q8_0_canonical, embedding_q4_0, embedding_q4_1,
                          residual_add_f32, softmax_f32, argmax_f32,
                          gemv_q8_0, gemv_q4_0, gemv_q4_1,
                          gemv_f16_canonical, gemv_q8_0_canonical, gemv_q4_0_canonical, gemv_q4_1_canonical,
                          gemv_f16_batched, gemv_q8_0_batched, gemv_q4_0_batched, gemv_q4_1_batched,
                          gemv_f16_canonical_batched, gemv_q8_0_canonical_batched, gemv_q4_0_canonical_batched,
                          gemv_q4_1_canonical_batched,
                          gemv_f16_residual, gemv_q8_0_residual, gemv_q4_0_residual, gemv_q4_1_residual,
                          gemv_f16_residual_batched, gemv_q8_0_residual_batched, gemv_q4_0_residual_batched,
                          gemv_q4_1_residual_batched,
                          rmsnorm_f32, rmsnorm_gemv_q8_0, rmsnorm_gemv_q4_1,
                          rmsnorm_qkv_f16, rmsnorm_qkv_q8_0, rmsnorm_qkv_q4_1,
                          rmsnorm_gate_up_swiglu_f16, rmsnorm_gate_up_swiglu_q8_0, rmsnorm_gate_up_swiglu_q4_1>, k_quant_library>;

}  // namespace foundry::kernels
