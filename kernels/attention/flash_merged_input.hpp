#pragma once
/// @file flash_merged_input.hpp
/// An input hook that merges flash-decoding's partial states into the input
/// vector of the GEMV that follows attention (the output projection Wo), so
/// the merge needs no dispatch of its own (`attention_combine_f32`).
///
/// Flash-decoding (flash_decode.hpp) writes, per query head h and split s,
/// the online-softmax state (m, l, acc[head_dim]) to `partials`
/// [n_heads, splits, head_dim + 2]. The attention output is their merge,
///   x[h·head_dim + d] = Σ_s acc_s[d]·e^(m_s − M) / Σ_s l_s·e^(m_s − M),
///   M = max_s m_s
/// (Dao et al., 2023, "Flash-Decoding for long-context inference"). With
/// this hook every threadgroup of the GEMV computes that vector itself, into
/// threadgroup memory, before its rows: it reads the whole of `partials`
/// (k·(1 + 2/head_dim)·splits floats; 19 KB for SmolLM2 at 8 splits, served
/// from cache after the first threadgroups) in place of one kernel launch.
/// The merge is the combine kernel's arithmetic (the same helpers,
/// flash_merge.metal).
///
/// It has not paid where measured: in SmolLM2's decode on an H100 the
/// merged Wo GEMV decoded 0.929× as fast as the GEMV after the combine
/// kernel at 256 tokens (9 splits), 0.842× at 1024 (33 splits)
/// (bench/results/2026-12-07-h100-merge-one-pass.md): every one of its 144
/// threadgroups merges all the heads, 3.3–3.7 µs more per layer than the
/// plain GEMV, where the combine kernel costs 3.7 µs with its launch.

#include <cstdint>
#include <string_view>

#include "foundry/core/ct_text.hpp"
#include "foundry/dsl/arguments.hpp"
#include "foundry/dsl/dispatch.hpp"
#include "foundry/dsl/epilogues.hpp"
#include "foundry/dsl/policy.hpp"
#include "foundry/dsl/port.hpp"
#include "kernels/attention/flash_decode.hpp"
#include "kernels/gemv/gemv_multi_row.hpp"
#include "kernels/policies/policies.hpp"

namespace foundry::kernels {

namespace detail {
/// Elements of `partials` for the merged input of a GEMV with k columns:
/// (k / head_dim) heads · splits · (head_dim + 2) (0 when head_dim is 0).
struct flash_merged_partial_elements {
  template <class Args>
  static std::uint64_t get(const Args& a) {
    const std::uint64_t k = size_arg<"k">::get(a), d = size_arg<"head_dim">::get(a);
    return d == 0 ? 0 : (k / d) * size_arg<"splits">::get(a) * (d + 2);
  }
};
}  // namespace detail

/// Hook: weights in policy `P`; the input vector x [k] is the merge of
/// flash-decoding's partial states (see the file comment), computed by each
/// threadgroup into threadgroup memory (`x_merged`, `MaxK` floats) and read
/// from there, four elements at a time where the main stage reads runs
/// (`load_input4`, `gemv_multi_row`).
///
/// Arguments: `partials` (float [k / head_dim, splits, head_dim + 2], the
/// flash-decoding scratch after pass 1), `head_dim`, `splits` (uint32). The
/// main stage's input vector `x` is not read: `gemv_multi_row` leaves it out
/// of its arguments for hooks that declare `reads_own_input`. The
/// preamble's barrier makes every thread of the threadgroup run it (the
/// multi-row stage never returns before its rows), and rules out the CPU's
/// lane loops: on the CPU the kernel runs one fiber per thread.
///
/// Shapes it cannot merge (head_dim or splits 0, k not a multiple of
/// head_dim, k > MaxK) give NaN inputs and so NaN outputs, never a
/// plausible wrong vector. Not batched.
template <weight_policy P, std::uint32_t MaxK = 4096>
struct flash_merged_input {
  static_assert(MaxK > 0 && MaxK % 4 == 0, "flash_merged_input: MaxK must be a positive multiple of 4");
  using policy = P;
  using policies = type_list<P>;
  /// The hook supplies the input itself: the main stage drops its `x`.
  static constexpr bool reads_own_input = true;
  static constexpr bool batched_input = false;
  static constexpr std::uint32_t max_k = MaxK;
  using arguments =
      type_list<arg<"partials", input<float, min_elements<detail::flash_merged_partial_elements>>>,
                arg<"head_dim", scalar<std::uint32_t>>, arg<"splits", scalar<std::uint32_t>>>;
  using threadgroup = type_list<tg_array<"x_merged", float, MaxK>>;
  using helpers = type_list<flash_merge_piece>;

  static constexpr ct_string preamble() {
    return "foundry_flash_merge_into($partials, $k, $head_dim, $splits, $x_merged, " + to_text(MaxK) +
           "u, $thread_index_in_threadgroup,\n"
           "                         $threads_per_threadgroup.x);\n"
           "threadgroup_barrier(mem_flags::mem_threadgroup);\n";
  }
  /// Merged input element `k` (`x` unused: the hook reads its own input).
  /// The index is clamped to the array: with k > MaxK every element is NaN
  /// and the loads past MaxK must still stay inside it.
  static constexpr ct_string load_input(std::string_view, std::string_view k) {
    return "$x_merged[min(uint(" + ct_string(k) + "), " + to_text(MaxK - 1) + "u)]";
  }
  /// Merged input elements k..k+3 in one 16-byte load of threadgroup memory
  /// (`k` a multiple of 4; threadgroup arrays sit in 16-byte aligned slots),
  /// clamped to the array as `load_input`.
  static constexpr ct_string load_input4(std::string_view, std::string_view k) {
    return "(*(const threadgroup float4*)($x_merged + min(uint(" + ct_string(k) + "), " + to_text(MaxK - 4) +
           "u)))";
  }
};

/// The output projection after flash-decoding with the merge folded in:
/// y = W·merge(partials) + residual, W [n, k] row-major in policy `P` (a
/// policy with vector loads: F16, F32, Q8_0, Q4_0, Q4_1), `gemv_multi_row`
/// with `R` rows per SIMD-group and `S` SIMD-groups per threadgroup (by
/// default one row and four SIMD-groups, the decoder's residual GEMV:
/// bench/results/2026-12-06-h100-cuda.md). Arguments, in buffer order:
/// `w`, `w_scales` (scaled policies), `n`, `k`, `partials`, `head_dim`,
/// `splits`, `residual`, `y` (float [n]; y may alias residual). k ≤ `MaxK`.
template <fixed_string Name, weight_policy P, unsigned R = 1, unsigned S = 4, std::uint32_t MaxK = 4096>
using gemv_residual_flash_merged =
    fused_kernel<Name, typename gemv_multi_row<flash_merged_input<P, MaxK>, R, S>::template dispatch_for<>,
                 gemv_multi_row<flash_merged_input<P, MaxK>, R, S>,
                 epi::add_residual<"residual", "value", "row", size_arg<"n">>, epi::store<"y", "value", size_arg<"n">>>;

/// `gemv_residual_flash_merged` with Q4_1 weights.
using gemv_q4_1_residual_flash_merged =
    gemv_residual_flash_merged<"gemv_q4_1_residual_flash_merged", policies::q4_1>;

/// The merged-input aliases (kernels/library.hpp).
using flash_merged_library = type_list<gemv_q4_1_residual_flash_merged>;

}  // namespace foundry::kernels
