#pragma once
/// @file flash_decode.hpp
/// Flash-decoding: decode attention (one query token over a layer's KV
/// cache, as `attention_decode`, attention.hpp) with the KV length split
/// across SIMD-groups of several threadgroups, for batch-1 decode where one
/// threadgroup per head leaves most of a GPU idle on long contexts.
///
///   y[h] = Σ_{p=0..pos} softmax_p(q[h]·K[g,p] / sqrt(head_dim)) · V[g,p],
///   g = h / (n_heads / n_kv)
/// in two kernels (Dao et al., 2023, "Flash-Decoding for long-context
/// inference"; flash_decode.metal has the recurrences):
///   1. `attention_split_f32`: split s ∈ [0, splits) of KV head g takes
///      positions [s·c, min(pos+1, (s+1)·c)), c = ceil((pos+1) / splits),
///      and writes, for each query head of the group (GQA: the group's
///      heads share each K/V row load), its partial online-softmax state
///      (m, l, acc[head_dim]) to `partials`;
///   2. `attention_combine_f32`: one threadgroup per query head merges the
///      splits' states into y.
/// `attention_flash_decode` issues both; `flash_decode_splits` picks a split
/// count from the context length. Variants: `_position_buffer` kernels read
/// the position from device memory (a recorded decode step replays
/// unchanged); `attention_split_rope_*` fold RoPE and the KV-cache append into
/// pass 1 (`attention_flash_decode_rope`).
///
/// Layouts: `q`, `y` float32 [n_heads, head_dim]; `k_cache`, `v_cache` T
/// [n_kv, max_seq, head_dim] (kv_cache.hpp; bind layer l with a buffer
/// offset); `partials` float32 [n_heads, splits, head_dim + 2] (scratch:
/// m, l, acc[0..head_dim) per head and split). Supported: n_heads a multiple
/// of n_kv with n_heads / n_kv ≤ `MaxGroup`, 0 < head_dim ≤ `MaxHeadDim`,
/// pos < max_seq, splits ≥ 1; both kernels write nothing otherwise
/// (`attention_flash_decode` throws instead).

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>

#include "foundry/core/ct_text.hpp"
#include "foundry/core/errors.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/buffer_ref.hpp"
#include "foundry/dsl/compose.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/port.hpp"
#include "foundry/dsl/sizes.hpp"
#include "foundry/dsl/source_piece.hpp"
#include "foundry/dsl/stage.hpp"
#include "foundry/embedded/attention/flash_decode.metal.hpp"
#include "foundry/embedded/attention/flash_merge.metal.hpp"
#include "foundry/embedded/attention/flash_split_merge.metal.hpp"
#include "foundry/metal/half.hpp"
#include "foundry/metal/type_name.hpp"
#include "kernels/attention/attention.hpp"
#include "kernels/attention/kv_cache.hpp"
#include "kernels/rope/rope.hpp"

namespace foundry::kernels {

/// Metal helpers of the merge of the splits' states (pass 2):
/// `foundry_flash_merge_of`, `foundry_flash_merge_element` and
/// `foundry_flash_merge_into` (flash_merge.metal), for the combine kernel
/// and for `flash_merged_input` (flash_merged_input.hpp).
using flash_merge_piece = source_piece<"flash_merge", embedded::attention::flash_merge_metal>;

/// Metal helpers `foundry_attention_split`, `foundry_attention_combine`; the
/// CPU form of the split uses attention.metal's `foundry_attention_range_cpu`.
using flash_decode_piece = source_piece<"flash_decode", embedded::attention::flash_decode_metal, attention_piece,
                                        rope_piece, flash_merge_piece>;

/// Metal helper `foundry_attention_merge_last` (flash_split_merge.metal):
/// pass 2 done by the last threadgroup of pass 1 per KV head. A piece of
/// its own: its atomics and barriers would keep every split kernel off the
/// CPU's lane loops, not only the merging ones.
using flash_split_merge_piece =
    source_piece<"flash_split_merge", embedded::attention::flash_split_merge_metal, flash_decode_piece>;

/// Elements of `partials`: n_heads · splits · (head_dim + 2).
using flash_decode_partial_elements =
    sizes::product<size_arg<"n_heads">, size_arg<"splits">, sizes::sum<size_arg<"head_dim">, size_const<2>>>;
/// The largest head_dim and query heads per KV head the library's
/// flash-decoding kernels take (`attention_split_f32`, `attention_flash_decode`).
inline constexpr std::uint32_t flash_decode_max_head_dim = 128;
inline constexpr std::uint32_t flash_decode_max_group = 8;

/// Threadgroups (n_kv, ceil(splits / SimdGroups)) of 32·SimdGroups threads:
/// one SIMD-group per (KV head, split).
template <unsigned SimdGroups>
struct attention_split_dispatch {
  static constexpr std::uint32_t threads_per_threadgroup = 32 * SimdGroups;
  template <class Args>
  static dispatch_size compute(const Args& a) {
    return {{foundry::detail::ceil_div_checked(size_arg<"n_kv">::get(a), 1),
             foundry::detail::ceil_div_checked(size_arg<"splits">::get(a), SimdGroups), 1},
            {threads_per_threadgroup, 1, 1}};
  }
};

/// How a SIMD-group of pass 1 lays its split out over its lanes on GPUs
/// (flash_decode.metal; the CPU form is the same for both):
enum class split_lanes {
  elements,   ///< lane i owns head elements i, i + 32, ...: one SIMD-group sum per head and position, the
              ///< positions walked one after another
  positions,  ///< 32 positions at a time, lane i scores position p + i against the group's heads (q in
              ///< threadgroup memory), one SIMD-group max per head and step; the weights reach the V pass
              ///< by shuffles. Fewer cross-lane operations and memory round trips per position.
};

/// How pass 1 gets the token at `pos`: from the caches (`none`: RoPE and
/// the KV append ran before), or with RoPE and the append folded in, in
/// one of the two pairings (rope.hpp).
enum class split_rope { none, normal, neox };

namespace detail {
/// The arguments of pass 1 (see `attention_split_stage`).
template <class T, position_source Pos, split_rope Rope>
using attention_split_base_args = std::conditional_t<
    Rope == split_rope::none,
    concat_t<type_list<arg<"q", input<float, min_elements<attention_query_elements>>>,
                       arg<"k_cache", input<T, min_elements<kv_cache_elements>>>,
                       arg<"v_cache", input<T, min_elements<kv_cache_elements>>>,
                       arg<"partials", output<float, min_elements<flash_decode_partial_elements>>>,
                       arg<"n_heads", scalar<std::uint32_t>>, arg<"n_kv", scalar<std::uint32_t>>,
                       arg<"head_dim", scalar<std::uint32_t>>, arg<"max_seq", scalar<std::uint32_t>>>,
             position_args<Pos>, type_list<arg<"splits", scalar<std::uint32_t>>>>,
    concat_t<type_list<arg<"q", input<float, min_elements<attention_query_elements>>>,
                       arg<"k", input<float, min_elements<kv_token_elements>>>,
                       arg<"v", input<float, min_elements<kv_token_elements>>>,
                       arg<"k_cache", inout<T, min_elements<kv_cache_elements>>>,
                       arg<"v_cache", inout<T, min_elements<kv_cache_elements>>>,
                       arg<"partials", output<float, min_elements<flash_decode_partial_elements>>>,
                       arg<"n_heads", scalar<std::uint32_t>>, arg<"n_kv", scalar<std::uint32_t>>,
                       arg<"head_dim", scalar<std::uint32_t>>, arg<"max_seq", scalar<std::uint32_t>>>,
             position_args<Pos>,
             type_list<arg<"splits", scalar<std::uint32_t>>, arg<"freq_base", scalar<float>>>>>;
/// Elements of `counters`: one per KV head.
using flash_merge_counter_elements = size_arg<"n_kv">;
/// Pass 1's arguments, with `MergeLast` followed by `y` and `counters`.
template <class T, position_source Pos, split_rope Rope, bool MergeLast>
using attention_split_args = std::conditional_t<
    MergeLast,
    concat_t<attention_split_base_args<T, Pos, Rope>,
             type_list<arg<"y", output<float, min_elements<attention_query_elements>>>,
                       arg<"counters", inout<std::uint32_t, min_elements<flash_merge_counter_elements>>>>>,
    attention_split_base_args<T, Pos, Rope>>;
}  // namespace detail

/// Pass 1 main stage (see the file comment). Arguments: `q` (float [n_heads,
/// head_dim]), `k_cache`, `v_cache` (T [n_kv, max_seq, head_dim]),
/// `partials` (float [n_heads, splits, head_dim + 2]), `n_heads`, `n_kv`,
/// `head_dim`, `max_seq`, `pos` (uint) or `position` (uint buffer, element
/// 0) per `Pos`, `splits` (uint). With `Rope` other than `none`, RoPE and
/// the KV-cache append are folded in: `q` is this token's unrotated queries
/// (left as they are), `k`, `v` (float [n_kv, head_dim], after `q`) its
/// unrotated keys and its values, which the split holding `pos` writes
/// (k rotated) to the caches at `pos`; `freq_base` (float) comes last.
/// `MergeLast`: pass 2 folded in (flash_split_merge.metal): the last
/// threadgroup of each KV head to finish merges its query heads' states
/// into `y` (float [n_heads, head_dim]), counted in `counters` (uint
/// [n_kv], zero before the first dispatch and left zero after each), both
/// after pass 1's arguments; no combine kernel.
/// `Lanes`: the layout on GPUs (`split_lanes`). Registers per lane on GPUs:
/// with element lanes 2·MaxGroup·MaxHeadDim/32 floats (q and acc of the
/// group's heads); with position lanes MaxGroup·MaxHeadDim/32 (acc) plus up
/// to 64 floats of K or V in flight, and threadgroup memory for the group's
/// q (`q_group`, MaxGroup·MaxHeadDim floats, declared by both layouts).
template <class T, unsigned SimdGroups = 4, unsigned MaxHeadDim = flash_decode_max_head_dim,
          unsigned MaxGroup = flash_decode_max_group, position_source Pos = position_source::scalar_arg,
          split_rope Rope = split_rope::none, split_lanes Lanes = split_lanes::positions, bool MergeLast = false>
struct attention_split_stage {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, half>, "foundry: KV caches hold float or half");
  static_assert(SimdGroups >= 1 && SimdGroups <= 32, "foundry: attention_split needs 1..32 SIMD-groups");
  static_assert(MaxHeadDim % 32 == 0 && MaxHeadDim > 0, "foundry: MaxHeadDim must be a multiple of 32");
  static_assert(MaxGroup >= 1, "foundry: MaxGroup must be at least 1");
  static constexpr fixed_string name = "attention_split";
  static constexpr stage_role role = stage_role::main;
  using arguments = detail::attention_split_args<T, Pos, Rope, MergeLast>;
  using threadgroup =
      std::conditional_t<MergeLast,
                         type_list<tg_array<"q_group", float, MaxGroup * MaxHeadDim>,
                                   tg_array<"merge_last", std::uint32_t, 1>>,
                         type_list<tg_array<"q_group", float, MaxGroup * MaxHeadDim>>>;
  using helpers = std::conditional_t<MergeLast, type_list<flash_split_merge_piece>, type_list<flash_decode_piece>>;
  /// Prefetch (dsl/stage.hpp): lane 0 of each SIMD-group asks for its
  /// split's K and V rows, which earlier steps wrote. Read before the wait,
  /// `position` may still be the one a kernel just before is changing: a
  /// stale range is only a weaker hint, never a wrong result.
  static constexpr ct_string prefetch() {
    ct_string s = "const uint split = $threadgroup_position_in_grid.y * $simdgroups_per_threadgroup + "
                  "$simdgroup_index_in_threadgroup;\n"
                  "const uint kv_head = $threadgroup_position_in_grid.x;\n"
                  "const uint at = ";
    s += detail::position_expr<Pos>();
    s += ";\n"
         "if ($thread_index_in_simdgroup == 0u && kv_head < $n_kv && split < $splits && at < $max_seq) {\n"
         "  uint p0, p1;\n"
         "  foundry_split_range(at + 1u, $splits, split, p0, p1);\n"
         "  const uint row = kv_head * $max_seq + p0;  // the split's first row of the [n_kv, max_seq] rows\n"
         "  const ulong row_bytes = (ulong)$head_dim * ";
    s += to_text(unsigned(sizeof(T)));
    s += "u;\n"
         "  const ulong rows_read = (ulong)$n_kv * (at + 1u);  // of every KV head: the plane's bytes to read\n"
         "  foundry_prefetch_rows($k_cache, row_bytes, row, p1 - p0, rows_read);\n"
         "  foundry_prefetch_rows($v_cache, row_bytes, row, p1 - p0, rows_read);\n"
         "}\n";
    return s;
  }

  static constexpr ct_string emit() {
    const ct_string params = ct_string(metal::type_name<T>()) + ", " + to_text(MaxHeadDim) + ", " +
                             to_text(MaxGroup) + ", " + to_text(static_cast<unsigned>(Rope)) + ", " +
                             to_text(static_cast<unsigned>(Lanes)) + ">(";
    const ct_string lanes =
        ",\n"
        "    $threadgroup_position_in_grid.x,\n"
        "    $threadgroup_position_in_grid.y * $simdgroups_per_threadgroup + $simdgroup_index_in_threadgroup,\n"
        "    $thread_index_in_simdgroup, $q_group, $thread_index_in_threadgroup, $threads_per_threadgroup.x);";
    ct_string split;
    if constexpr (Rope == split_rope::none)
      split = "foundry_attention_split<" + params + "$q, $k_cache, $v_cache, $partials, $n_heads, $n_kv, $head_dim, " +
              "$max_seq, " + detail::position_expr<Pos>() + ", $splits, 0.0f" + lanes;
    else
      split = "foundry_attention_split_append<" + params +
              "$q, $k, $v, $k_cache, $v_cache, $partials, $n_heads, $n_kv, $head_dim, $max_seq, " +
              detail::position_expr<Pos>() + ", $splits, $freq_base" + lanes;
    if constexpr (!MergeLast) return split;
    return split + "\nfoundry_attention_merge_last<" + to_text(MaxHeadDim) + ", " + to_text(MaxGroup) +
           ">($partials, $y, (device atomic_uint*)$counters, $n_heads, $n_kv, $head_dim, $max_seq, " +
           detail::position_expr<Pos>() + ", $splits,\n"
           "    $threadgroup_position_in_grid.x, $threadgroups_per_grid.y, $thread_index_in_threadgroup,\n"
           "    $threads_per_threadgroup.x, $merge_last);";
  }
};

/// Pass 2 main stage (see the file comment). Arguments: `partials`, `y`
/// (float [n_heads, head_dim]) and the scalars of pass 1 (`n_kv`,
/// `max_seq`, `pos` only decide whether the shapes are supported).
template <unsigned MaxHeadDim = flash_decode_max_head_dim, unsigned MaxGroup = flash_decode_max_group,
          position_source Pos = position_source::scalar_arg>
struct attention_combine_stage {
  static constexpr fixed_string name = "attention_combine";
  static constexpr stage_role role = stage_role::main;
  using arguments = concat_t<type_list<arg<"partials", input<float, min_elements<flash_decode_partial_elements>>>,
                                       arg<"y", output<float, min_elements<attention_query_elements>>>,
                                       arg<"n_heads", scalar<std::uint32_t>>, arg<"n_kv", scalar<std::uint32_t>>,
                                       arg<"head_dim", scalar<std::uint32_t>>, arg<"max_seq", scalar<std::uint32_t>>>,
                             detail::position_args<Pos>, type_list<arg<"splits", scalar<std::uint32_t>>>>;
  using helpers = type_list<flash_decode_piece>;
  static constexpr ct_string emit() {
    return "foundry_attention_combine<" + to_text(MaxHeadDim) + ", " + to_text(MaxGroup) +
           ">($partials, $y, $n_heads, $n_kv, $head_dim, $max_seq, " + detail::position_expr<Pos>() + ", $splits,\n"
           "    $threadgroup_position_in_grid.x, $thread_index_in_threadgroup, $threads_per_threadgroup.x);";
  }
};

/// Flash-decoding pass 1 over float32 caches: 4 SIMD-groups (4 splits) per
/// threadgroup, head_dim ≤ 128, up to 8 query heads per KV head. Arguments,
/// in buffer order: `q`, `k_cache`, `v_cache`, `partials`, `n_heads`,
/// `n_kv`, `head_dim`, `max_seq`, `pos`, `splits`.
using attention_split_f32 =
    fused_kernel<"attention_split_f32", attention_split_dispatch<4>, attention_split_stage<float>>;
/// As `attention_split_f32` for at most 4 query heads per KV head (SmolLM2's
/// 3, Llama 3's 4): half the registers of the 8-head form (whose q and acc
/// arrays are sized for 8 heads), so twice the SIMD-groups fit on an SM.
using attention_split_f32_g4 =
    fused_kernel<"attention_split_f32_g4", attention_split_dispatch<4>, attention_split_stage<float, 4, flash_decode_max_head_dim, 4>>;
/// Flash-decoding pass 2: one threadgroup of 64 threads per query head.
/// Arguments, in buffer order: `partials`, `y`, `n_heads`, `n_kv`,
/// `head_dim`, `max_seq`, `pos`, `splits`.
using attention_combine_f32 =
    fused_kernel<"attention_combine_f32", per_row<size_arg<"n_heads">, 64>, attention_combine_stage<>>;

/// `attention_split_f32_g4`, `attention_split_f32` and `attention_combine_f32`
/// with the position read from `position[0]` (a uint buffer argument in
/// place of the scalar `pos`, same buffer order; see `position_source`), so
/// a recorded decode step replays unchanged. With the position unknown to
/// the host, `splits` is fixed for the whole context (e.g.
/// `flash_decode_splits(max_seq)`): each split then takes ceil((pos + 1) /
/// splits) positions.
using attention_split_f32_g4_position_buffer =
    fused_kernel<"attention_split_f32_g4_position_buffer", attention_split_dispatch<4>,
                 attention_split_stage<float, 4, flash_decode_max_head_dim, 4, position_source::buffer>>;
using attention_split_f32_position_buffer =
    fused_kernel<"attention_split_f32_position_buffer", attention_split_dispatch<4>,
                 attention_split_stage<float, 4, flash_decode_max_head_dim, flash_decode_max_group,
                                       position_source::buffer>>;
using attention_combine_f32_position_buffer =
    fused_kernel<"attention_combine_f32_position_buffer", per_row<size_arg<"n_heads">, 64>,
                 attention_combine_stage<flash_decode_max_head_dim, flash_decode_max_group, position_source::buffer>>;

/// Pass 1 with RoPE and the KV-cache append folded in (`split_rope`), the
/// position read from `position[0]`: replaces `rope_{norm,neox}_kv_append_f32_position_buffer`
/// + `attention_split_f32{_g4}_position_buffer` in a decode step, one
/// dispatch fewer per layer. `_g4`: at most 4 query heads per KV head.
/// Arguments, in buffer order: `q`, `k`, `v`, `k_cache`, `v_cache`,
/// `partials`, `n_heads`, `n_kv`, `head_dim`, `max_seq`, `position`,
/// `splits`, `freq_base`. Pass 2 is `attention_combine_f32_position_buffer`.
using attention_split_rope_norm_f32_g4_position_buffer =
    fused_kernel<"attention_split_rope_norm_f32_g4_position_buffer", attention_split_dispatch<4>,
                 attention_split_stage<float, 4, flash_decode_max_head_dim, 4, position_source::buffer,
                                       split_rope::normal>>;
using attention_split_rope_neox_f32_g4_position_buffer =
    fused_kernel<"attention_split_rope_neox_f32_g4_position_buffer", attention_split_dispatch<4>,
                 attention_split_stage<float, 4, flash_decode_max_head_dim, 4, position_source::buffer,
                                       split_rope::neox>>;
using attention_split_rope_norm_f32_position_buffer =
    fused_kernel<"attention_split_rope_norm_f32_position_buffer", attention_split_dispatch<4>,
                 attention_split_stage<float, 4, flash_decode_max_head_dim, flash_decode_max_group,
                                       position_source::buffer, split_rope::normal>>;
using attention_split_rope_neox_f32_position_buffer =
    fused_kernel<"attention_split_rope_neox_f32_position_buffer", attention_split_dispatch<4>,
                 attention_split_stage<float, 4, flash_decode_max_head_dim, flash_decode_max_group,
                                       position_source::buffer, split_rope::neox>>;

/// `attention_split_f32_g4_position_buffer` and
/// `attention_split_f32_position_buffer` with element lanes
/// (`split_lanes::elements`), the layout before position lanes: kept so a
/// benchmark compares both in one run (`attention_flash_decode`'s `lanes`).
/// Same arguments.
using attention_split_f32_g4_position_buffer_element_lanes =
    fused_kernel<"attention_split_f32_g4_position_buffer_element_lanes", attention_split_dispatch<4>,
                 attention_split_stage<float, 4, flash_decode_max_head_dim, 4, position_source::buffer,
                                       split_rope::none, split_lanes::elements>>;
using attention_split_f32_position_buffer_element_lanes =
    fused_kernel<"attention_split_f32_position_buffer_element_lanes", attention_split_dispatch<4>,
                 attention_split_stage<float, 4, flash_decode_max_head_dim, flash_decode_max_group,
                                       position_source::buffer, split_rope::none, split_lanes::elements>>;

/// Pass 1 with pass 2 folded in (`MergeLast`, flash_split_merge.metal),
/// position lanes, the position read from `position[0]`: the last
/// threadgroup of each KV head merges the states into `y`, so a decode step
/// dispatches no combine kernel. Slower than split + combine on an H100
/// (SmolLM2 decodes at 0.961× at 256 tokens, 0.953× at 1024: the last
/// threadgroup merges alone after the others;
/// bench/results/2026-12-07-h100-merge-one-pass.md), so not the decoder's
/// default. `_g4`: at most 4 query heads per KV head.
/// Arguments, in buffer order: those of `attention_split_f32_position_buffer`,
/// then `y` (float [n_heads, head_dim]) and `counters` (uint [n_kv], zero
/// before the first dispatch, left zero).
using attention_split_merge_f32_g4_position_buffer =
    fused_kernel<"attention_split_merge_f32_g4_position_buffer", attention_split_dispatch<4>,
                 attention_split_stage<float, 4, flash_decode_max_head_dim, 4, position_source::buffer,
                                       split_rope::none, split_lanes::positions, true>>;
using attention_split_merge_f32_position_buffer =
    fused_kernel<"attention_split_merge_f32_position_buffer", attention_split_dispatch<4>,
                 attention_split_stage<float, 4, flash_decode_max_head_dim, flash_decode_max_group,
                                       position_source::buffer, split_rope::none, split_lanes::positions, true>>;

/// The split count for a context of `n_pos` positions: one split per
/// `positions_per_split` positions (rounded up), at most `max_splits`. A
/// split is one SIMD-group; with position lanes it scores 32 positions at
/// a time, so a split of 32 fills its lanes, and each further split adds a
/// partial state (head_dim + 2 floats per head) to write and merge. On an
/// H100, SmolLM2 decoded fastest at 32 of the rules measured (8 and 4 were
/// 8 % and 22 % slower at 256 tokens;
/// bench/results/2026-12-07-h100-split-lanes.md).
inline std::uint32_t flash_decode_splits(std::uint32_t n_pos, std::uint32_t positions_per_split = 32,
                                         std::uint32_t max_splits = 64) {
  if (positions_per_split == 0 || max_splits == 0)
    throw dispatch_error("flash_decode_splits: positions_per_split and max_splits must be positive");
  return std::clamp<std::uint32_t>((n_pos + positions_per_split - 1) / positions_per_split, 1, max_splits);
}

/// Whether the flash-decoding kernels take heads of this shape: n_heads a
/// multiple of n_kv, at most `flash_decode_max_group` query heads per KV
/// head, 0 < head_dim ≤ `flash_decode_max_head_dim`.
constexpr bool flash_decode_supports(std::uint32_t n_heads, std::uint32_t n_kv, std::uint32_t head_dim) {
  return n_kv != 0 && n_heads % n_kv == 0 && n_heads / n_kv <= flash_decode_max_group && head_dim != 0 &&
         head_dim <= flash_decode_max_head_dim;
}

/// Where flash-decoding's pass 2, the merge of the splits' states, runs.
enum class flash_merge {
  combine_kernel,  ///< its own dispatch (`attention_combine_f32*`), which writes y
  consumer,        ///< no dispatch: the kernel that reads the attention output merges `partials` itself
                   ///< (`flash_merged_input`, flash_merged_input.hpp); y is not written
};

namespace detail {
/// Throws `dispatch_error` for shapes the flash-decoding kernels do not take
/// (`pos_text`: the position, or a note that it lives on the device).
inline void check_flash_decode_shape(std::uint32_t n_heads, std::uint32_t n_kv, std::uint32_t head_dim,
                                     std::uint32_t max_seq, bool pos_in_range, const std::string& pos_text,
                                     std::uint32_t splits) {
  if (!flash_decode_supports(n_heads, n_kv, head_dim) || !pos_in_range || splits == 0)
    throw dispatch_error("attention_flash_decode: unsupported shape (n_heads " + std::to_string(n_heads) +
                         ", n_kv " + std::to_string(n_kv) + ", head_dim " + std::to_string(head_dim) + ", pos " +
                         pos_text + ", max_seq " + std::to_string(max_seq) + ", splits " + std::to_string(splits) +
                         "): needs n_heads a multiple of n_kv, at most " + std::to_string(flash_decode_max_group) +
                         " query heads per KV head, 0 < head_dim <= " + std::to_string(flash_decode_max_head_dim) +
                         ", pos < max_seq, splits >= 1");
}

/// Dispatches split kernel `SplitG4` (at most 4 heads per KV head) or
/// `Split`, then `Combine` (unless `merge` is `flash_merge::consumer`, or
/// `Combine` is void: a split kernel that merges itself);
/// `set_split(args)` and `set_combine(args)` set the arguments only some
/// forms have (`pos` or `position`; the folded RoPE's `k`, `v`,
/// `freq_base`).
/// Throws `dispatch_error` if `k_cache` is bound at a byte offset that is
/// not a multiple of 16 while head_dim is a multiple of 4: the position
/// lanes' K loads are 16 bytes wide, which a misaligned row would fault on
/// (a GPU) or read past (the vector type's alignment). Buffers themselves
/// start at least 16-byte aligned on every backend.
template <class SplitG4, class Split, class Combine, class Executor, class SetSplit, class SetCombine>
void flash_decode_dispatch(Executor& ex, buffer_ref q, buffer_ref k_cache, buffer_ref v_cache, buffer_ref partials,
                           buffer_ref y, std::uint32_t n_heads, std::uint32_t n_kv, std::uint32_t head_dim,
                           std::uint32_t max_seq, std::uint32_t splits, SetSplit set_split, SetCombine set_combine,
                           flash_merge merge) {
  if (head_dim % 4 == 0 && k_cache.offset() % 16 != 0)
    throw dispatch_error("attention_flash_decode: k_cache is bound at byte offset " +
                         std::to_string(k_cache.offset()) +
                         ", not a multiple of 16; the split kernel reads K rows of head_dim " +
                         std::to_string(head_dim) + " in 16-byte loads");
  auto split = [&]<class K>(K*) {
    typename K::arguments a;
    a.template set<"q">(q).template set<"k_cache">(k_cache).template set<"v_cache">(v_cache);
    a.template set<"partials">(partials).template set<"n_heads">(n_heads).template set<"n_kv">(n_kv);
    a.template set<"head_dim">(head_dim).template set<"max_seq">(max_seq).template set<"splits">(splits);
    set_split(a);
    ex.template dispatch<K>(a);
  };
  if (n_heads / n_kv <= 4)
    split(static_cast<SplitG4*>(nullptr));
  else
    split(static_cast<Split*>(nullptr));
  if constexpr (!std::is_void_v<Combine>) {
    if (merge == flash_merge::consumer) return;
    typename Combine::arguments b;
    b.template set<"partials">(partials).template set<"y">(y).template set<"n_heads">(n_heads);
    b.template set<"n_kv">(n_kv).template set<"head_dim">(head_dim).template set<"max_seq">(max_seq);
    b.template set<"splits">(splits);
    set_combine(b);
    ex.template dispatch<Combine>(b);
  }
}
}  // namespace detail

/// Decode attention by flash-decoding: `attention_split_f32_g4` (at most 4
/// query heads per KV head) or `attention_split_f32`, then
/// `attention_combine_f32` on `ex` (both submitted, not waited for). `q`,
/// `y` float [n_heads, head_dim]; caches float [n_kv, max_seq, head_dim];
/// `partials` float scratch of at least n_heads·splits·(head_dim + 2)
/// elements. Throws `dispatch_error` for shapes the kernels do not support
/// (n_heads not a multiple of n_kv, more than 8 query heads per KV head,
/// head_dim 0 or above 128, pos ≥ max_seq, splits 0), and the executor's
/// binding errors for buffers that are too small; `dispatch_error` for a
/// `k_cache` bound at a byte offset that is not a multiple of 16 when
/// head_dim is a multiple of 4 (16-byte K loads). `merge`:
/// `flash_merge::consumer` dispatches pass 1 only and leaves y unwritten,
/// for a next kernel that merges `partials` as it reads them
/// (`flash_merged_input`).
template <class Executor>
void attention_flash_decode(Executor& ex, buffer_ref q, buffer_ref k_cache, buffer_ref v_cache, buffer_ref partials,
                            buffer_ref y, std::uint32_t n_heads, std::uint32_t n_kv, std::uint32_t head_dim,
                            std::uint32_t max_seq, std::uint32_t pos, std::uint32_t splits,
                            flash_merge merge = flash_merge::combine_kernel) {
  detail::check_flash_decode_shape(n_heads, n_kv, head_dim, max_seq, pos < max_seq, std::to_string(pos), splits);
  auto set_pos = [&](auto& a) { a.template set<"pos">(pos); };
  detail::flash_decode_dispatch<attention_split_f32_g4, attention_split_f32, attention_combine_f32>(
      ex, q, k_cache, v_cache, partials, y, n_heads, n_kv, head_dim, max_seq, splits, set_pos, set_pos, merge);
}

/// As above with the position read from `position[0]` (uint32, device
/// memory) by the `_position_buffer` kernels: a recorded step replays
/// unchanged. `splits` is fixed by the caller (the position is not known
/// on the host; `flash_decode_splits(max_seq)` fits every position).
/// Throws as above for the shapes the host knows; a position ≥ max_seq on
/// the device makes both kernels write nothing. `merge` as above. `lanes`:
/// pass 1's layout on GPUs (`split_lanes`; `elements` runs the
/// `_element_lanes` kernels).
template <class Executor>
void attention_flash_decode(Executor& ex, buffer_ref q, buffer_ref k_cache, buffer_ref v_cache, buffer_ref partials,
                            buffer_ref y, std::uint32_t n_heads, std::uint32_t n_kv, std::uint32_t head_dim,
                            std::uint32_t max_seq, buffer_ref position, std::uint32_t splits,
                            flash_merge merge = flash_merge::combine_kernel,
                            split_lanes lanes = split_lanes::positions) {
  detail::check_flash_decode_shape(n_heads, n_kv, head_dim, max_seq, max_seq > 0, "in device memory", splits);
  auto set_position = [&](auto& a) { a.template set<"position">(position); };
  auto run = [&]<class SplitG4, class Split>(SplitG4*, Split*) {
    detail::flash_decode_dispatch<SplitG4, Split, attention_combine_f32_position_buffer>(
        ex, q, k_cache, v_cache, partials, y, n_heads, n_kv, head_dim, max_seq, splits, set_position, set_position,
        merge);
  };
  if (lanes == split_lanes::elements)
    run(static_cast<attention_split_f32_g4_position_buffer_element_lanes*>(nullptr),
        static_cast<attention_split_f32_position_buffer_element_lanes*>(nullptr));
  else
    run(static_cast<attention_split_f32_g4_position_buffer*>(nullptr),
        static_cast<attention_split_f32_position_buffer*>(nullptr));
}

/// As the position-buffer `attention_flash_decode` with pass 2 folded into
/// pass 1 (`attention_split_merge_f32{_g4}_position_buffer`: one dispatch,
/// no combine kernel; position lanes). `counters`: uint32 [n_kv] scratch,
/// zero before the first call (the kernel leaves it zero; one per stream
/// of dispatches, as `partials`). Throws as that function; the executor's
/// binding errors for buffers that are too small.
template <class Executor>
void attention_flash_decode_merged(Executor& ex, buffer_ref q, buffer_ref k_cache, buffer_ref v_cache,
                                   buffer_ref partials, buffer_ref counters, buffer_ref y, std::uint32_t n_heads,
                                   std::uint32_t n_kv, std::uint32_t head_dim, std::uint32_t max_seq,
                                   buffer_ref position, std::uint32_t splits) {
  detail::check_flash_decode_shape(n_heads, n_kv, head_dim, max_seq, max_seq > 0, "in device memory", splits);
  auto set_split = [&](auto& a) {
    a.template set<"position">(position).template set<"y">(y).template set<"counters">(counters);
  };
  // No combine kernel: the merging split kernel writes y itself.
  detail::flash_decode_dispatch<attention_split_merge_f32_g4_position_buffer, attention_split_merge_f32_position_buffer,
                                void>(ex, q, k_cache, v_cache, partials, y, n_heads, n_kv, head_dim, max_seq, splits,
                                      set_split, [](auto&) {}, flash_merge::consumer);
}

/// Decode attention by flash-decoding with RoPE and the KV-cache append
/// folded into pass 1 (`attention_split_rope_*_position_buffer`, then
/// `attention_combine_f32_position_buffer`): `q` [n_heads, head_dim] and
/// `k` [n_kv, head_dim] are this token's unrotated projections (neither is
/// modified), `v` [n_kv, head_dim] its values; the rotated k and v are
/// written to the caches at `position[0]` and the attention output to `y`.
/// RoPE of `pairing` with base `freq_base` (rope.hpp). Other arguments
/// (`merge` included) and errors as the position-buffer
/// `attention_flash_decode`.
template <class Executor>
void attention_flash_decode_rope(Executor& ex, buffer_ref q, buffer_ref k, buffer_ref v, buffer_ref k_cache,
                                 buffer_ref v_cache, buffer_ref partials, buffer_ref y, std::uint32_t n_heads,
                                 std::uint32_t n_kv, std::uint32_t head_dim, std::uint32_t max_seq,
                                 buffer_ref position, std::uint32_t splits, float freq_base, rope_pairing pairing,
                                 flash_merge merge = flash_merge::combine_kernel) {
  detail::check_flash_decode_shape(n_heads, n_kv, head_dim, max_seq, max_seq > 0, "in device memory", splits);
  auto set_split = [&](auto& a) {
    a.template set<"position">(position).template set<"k">(k).template set<"v">(v);
    a.template set<"freq_base">(freq_base);
  };
  auto set_combine = [&](auto& a) { a.template set<"position">(position); };
  if (pairing == rope_pairing::neox)
    detail::flash_decode_dispatch<attention_split_rope_neox_f32_g4_position_buffer,
                                  attention_split_rope_neox_f32_position_buffer,
                                  attention_combine_f32_position_buffer>(
        ex, q, k_cache, v_cache, partials, y, n_heads, n_kv, head_dim, max_seq, splits, set_split, set_combine, merge);
  else
    detail::flash_decode_dispatch<attention_split_rope_norm_f32_g4_position_buffer,
                                  attention_split_rope_norm_f32_position_buffer,
                                  attention_combine_f32_position_buffer>(
        ex, q, k_cache, v_cache, partials, y, n_heads, n_kv, head_dim, max_seq, splits, set_split, set_combine, merge);
}

/// The flash-decoding aliases (kernels/library.hpp), one per line.
using flash_decode_library = type_list<attention_split_f32,
                                       attention_split_f32_g4,
                                       attention_combine_f32,
                                       attention_split_f32_position_buffer,
                                       attention_split_f32_g4_position_buffer,
                                       attention_combine_f32_position_buffer,
                                       attention_split_rope_norm_f32_g4_position_buffer,
                                       attention_split_rope_neox_f32_g4_position_buffer,
                                       attention_split_rope_norm_f32_position_buffer,
                                       attention_split_rope_neox_f32_position_buffer,
                                       attention_split_f32_g4_position_buffer_element_lanes,
                                       attention_split_f32_position_buffer_element_lanes,
                                       attention_split_merge_f32_g4_position_buffer,
                                       attention_split_merge_f32_position_buffer>;

}  // namespace foundry::kernels
