#pragma once
/// @file attention.hpp
/// Decode attention: one query token over a layer's KV cache.
///
///   y[h] = Σ_{p=0..pos} softmax_p(q[h]·K[g,p] / sqrt(head_dim)) · V[g,p],
///   g = h / (n_heads / n_kv)
/// — scaled dot-product attention (Vaswani et al., 2017, eq. 1), causal (the
/// token at `pos` sees positions 0..pos inclusive), grouped-query (Ainslie et
/// al., 2023: n_heads query heads share n_kv KV heads, n_heads a multiple of
/// n_kv), softmax computed in one streaming pass (online softmax, Milakov &
/// Gimelshein, 2018) — see attention.metal for the recurrences.
///
/// Layouts: `q`, `y` float32 [n_heads, head_dim]; `k_cache`, `v_cache` T
/// [n_kv, max_seq, head_dim] (kv_cache.hpp; bind layer l with a buffer
/// offset). `head_dim` ≤ `MaxHeadDim` (default 256: 64 and 128 are the
/// common cases), `pos` < `max_seq`; otherwise nothing is written.
///
/// One threadgroup of `Threads` threads per query head. On GPUs its
/// SIMD-groups take positions round-robin and merge their partial (max, sum,
/// accumulator) through threadgroup memory (Threads/32 · (MaxHeadDim + 2)
/// floats). On the CPU thread 0 computes the head alone, in tiles of 32
/// positions, with no cross-lane operation, so the kernel runs as lane loops
/// (attention.metal says why).

#include <cstdint>
#include <string>
#include <type_traits>

#include "foundry/core/ct_text.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/sizes.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/dsl/stage.hpp"
#include "foundry/embedded/attention/attention.metal.hpp"
#include "foundry/metal/half.hpp"
#include "foundry/metal/type_name.hpp"
#include "kernels/attention/kv_cache.hpp"

namespace foundry::kernels {

/// Metal helper `foundry_attention_decode<T, MAX_D>`.
using attention_piece = source_piece<"attention_decode", embedded::attention::attention_metal>;

/// Decode attention main stage (see the file comment). Arguments: `q`
/// (float [n_heads, head_dim]), `k_cache`, `v_cache` (T [n_kv, max_seq,
/// head_dim]), `y` (float [n_heads, head_dim]), `n_heads`, `n_kv`,
/// `head_dim`, `max_seq`, and `pos` (uint) or `position` (uint buffer,
/// element 0) per `Pos`. Dispatch: one threadgroup of `Threads` per head
/// (`attention_dispatch`).
template <class T, unsigned Threads = 256, unsigned MaxHeadDim = 256, position_source Pos = position_source::scalar_arg>
struct attention_decode_stage {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, half>, "foundry: KV caches hold float or half");
  static_assert(Threads % 32 == 0 && Threads >= 32 && Threads <= 1024,
                "foundry: attention_decode needs whole SIMD-groups (32..1024 threads)");
  static_assert(MaxHeadDim % 32 == 0 && MaxHeadDim > 0, "foundry: MaxHeadDim must be a multiple of 32");
  static constexpr unsigned simdgroups = Threads / 32;
  static constexpr fixed_string name = "attention_decode";
  static constexpr stage_role role = stage_role::main;
  using arguments = concat_t<
      type_list<arg<"q", input<float, min_elements<attention_query_elements>>>,
                arg<"k_cache", input<T, min_elements<kv_cache_elements>>>,
                arg<"v_cache", input<T, min_elements<kv_cache_elements>>>,
                arg<"y", output<float, min_elements<attention_query_elements>>>,
                arg<"n_heads", scalar<std::uint32_t>>, arg<"n_kv", scalar<std::uint32_t>>,
                arg<"head_dim", scalar<std::uint32_t>>, arg<"max_seq", scalar<std::uint32_t>>>,
      detail::position_args<Pos>>;
  using threadgroup = type_list<tg_array<"att_m", float, simdgroups>, tg_array<"att_l", float, simdgroups>,
                                tg_array<"att_acc", float, simdgroups * MaxHeadDim>>;
  using helpers = type_list<attention_piece>;
  static constexpr ct_string emit() {
    return "foundry_attention_decode<" + ct_string(metal::type_name<T>()) + ", " + to_text(MaxHeadDim) +
           ">($q, $k_cache, $v_cache, $y, $n_heads, $n_kv, $head_dim, $max_seq, " +
           detail::position_expr<Pos>() + ", $att_m, $att_l, $att_acc,\n"
           "    $threadgroup_position_in_grid.x, $thread_index_in_threadgroup, $threads_per_threadgroup.x,\n"
           "    $thread_index_in_simdgroup, $simdgroup_index_in_threadgroup, $simdgroups_per_threadgroup);";
  }
};

/// One threadgroup of `Threads` threads per query head.
template <unsigned Threads = 256>
using attention_dispatch = per_row<size_arg<"n_heads">, Threads>;

/// Decode attention over float32 caches (see the file comment): 256 threads
/// (8 SIMD-groups) per head, head_dim ≤ 256. Arguments, in buffer order:
/// `q`, `k_cache`, `v_cache`, `y`, `n_heads`, `n_kv`, `head_dim`, `max_seq`,
/// `pos`.
using attention_decode_f32 =
    fused_kernel<"attention_decode_f32", attention_dispatch<256>, attention_decode_stage<float, 256>>;
/// As `attention_decode_f32` with the position read from `position[0]` (a
/// uint buffer argument in place of the scalar `pos`; see `position_source`).
using attention_decode_f32_position_buffer =
    fused_kernel<"attention_decode_f32_position_buffer", attention_dispatch<256>,
                 attention_decode_stage<float, 256, 256, position_source::buffer>>;
/// As `attention_decode_f32` over half caches (`kv_append_f16`).
using attention_decode_f16 =
    fused_kernel<"attention_decode_f16", attention_dispatch<256>, attention_decode_stage<half, 256>>;

/// The library's decode attention kernels: every alias of this header, one per
/// line. kernels/library.hpp concatenates these lists; add a new alias here.
using attention_library = type_list<
    attention_decode_f32,
    attention_decode_f16,
    attention_decode_f32_position_buffer>;

}  // namespace foundry::kernels
